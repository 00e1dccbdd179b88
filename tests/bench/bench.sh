#!/usr/bin/env bash
# make bench: latency and throughput of both endpoints against a private
# PostgreSQL and httpd, next to PostgreSQL's own floor measured in the same
# run. Prints a table, then one machine-readable line:
#
#   bench: put_ratio=R post_ratio=R put_4c_users_s=N overlap_errors=N unchanged_ratio=R rss_growth_pct=P worst_ratio=R peak_rss_mb=M scim_bulk_ratio=R scim_list_ms=T feed_ratio=R revert_ratio=R scim_bulk_same_ratio=R
#
# Everything lives in .run/bench/ (recreated at each run): pg/ a PostgreSQL
# cluster with real fsync, httpd/ the server's config and logs, bodies/ the
# generated requests (tests/bench/gen.pl), out/ per-request latencies and
# SQL profiles. Both servers listen on 127.0.0.1 only, on free ports, and
# are stopped at the end, on failure and on Ctrl-C.
#
# Knobs (environment):
#   UB_BENCH_USERS     generated users per account (100000; at least 51000)
#   UB_BENCH_N1        timed requests of each one-client scenario (10)
#   UB_BENCH_N4        timed requests per client of each 4-client scenario (5)
#   UB_BENCH_SMALL     requests of the memory run, counted from httpd's start (10000)
#   UB_BENCH_LOGLEVEL  httpd LogLevel ("warn"; "warn userbulk:info" adds the
#                      UB0100 line of each request)
#   UB_BENCH_PG_LOG_MS PostgreSQL log_min_duration_statement (-1: off)
#   UB_BENCH_KEEP=1    keep the PostgreSQL cluster's data after the run
#   UB_BENCH_SERVE=1   set up, print how to reach both servers, and keep them
#                      running until Ctrl-C (for profiling: perf, EXPLAIN)
#   UB_CLIENT          the load client (.build/bench-client)
#   UB_MODULE_SO       the module (.build/mod_userbulk.so)
set -euo pipefail

# shellcheck disable=SC2034 # read by ub_die in lib.sh
UB_PROG=bench.sh
# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib.sh"
cd "$UB_ROOT"

B=$UB_ROOT/.run/bench
PG_DIR=$B/pg
HD=$B/httpd
BODIES=$B/bodies
OUT=$B/out
PG=$UB_ROOT/tools/pg.sh
HTTPD=${APACHE_HTTPD:-/usr/sbin/apache2}
CLIENT=${UB_CLIENT:-$UB_ROOT/.build/bench-client}
MODULE_SO=${UB_MODULE_SO:-$UB_ROOT/.build/mod_userbulk.so}
USERS=${UB_BENCH_USERS:-100000}
N1=${UB_BENCH_N1:-10}
N4=${UB_BENCH_N4:-5}
NSMALL=${UB_BENCH_SMALL:-10000}
LOGLEVEL=${UB_BENCH_LOGLEVEL:-warn}
PG_LOG_MS=${UB_BENCH_PG_LOG_MS:--1}
ACME=00000000-0000-4000-8000-00000000000a
RECORDS=1000
J=application/json
PATCH=application/json-patch+json
SCIM_JSON=application/scim+json
# A page (the server's maximum, 200) of a filter that about 1,100 users match.
SCIM_LIST_PATH='/scim/v2/Users?filter=userName%20sw%20%22u10%22&count=200'

POST_PATH=/api/v1/account/users/update

for v in USERS N1 N4 NSMALL; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || ub_die "UB_BENCH_$v must be a positive number"
done
((USERS >= 51000)) || ub_die "UB_BENCH_USERS must be at least 51000 (the scenarios use users up to u50040)"
[[ $PG_LOG_MS =~ ^-?[0-9]+$ ]] || ub_die "UB_BENCH_PG_LOG_MS must be a number of milliseconds"
[[ -x $CLIENT ]] || ub_die "$CLIENT is missing: run make bench"
[[ -f $MODULE_SO ]] || ub_die "$MODULE_SO is missing: run make bench"

PG_BIN=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1)
[[ -x $PG_BIN/psql ]] || ub_die "psql not found under /usr/lib/postgresql (make deps)"

# --- servers ------------------------------------------------------------------

FLOOR_PID=
cleanup() {
    local rc=$?
    set +eu
    trap - EXIT INT TERM
    if [[ -n ${FLOOR_PID:-} ]]; then
        kill "$FLOOR_PID" 2>/dev/null
    fi
    if [[ -f $HD/httpd.pid || -f $PG_DIR/data/postmaster.pid ]]; then
        ub_say "bench: stopping httpd and PostgreSQL"
    fi
    ub_kill_httpd_pidfile "$HD/httpd.pid" 2>/dev/null
    "$PG" stop "$PG_DIR" >/dev/null 2>&1 || true
    # Ctrl-C reaches PostgreSQL too, which then shuts down by itself, maybe
    # still running when pg.sh stop looked: wait for it, then remove the
    # socket directory pg.sh could not.
    local i pid port
    pid=$(head -n1 "$PG_DIR/data/postmaster.pid" 2>/dev/null)
    port=$(cat "$PG_DIR/port" 2>/dev/null)
    for ((i = 0; i < 100; i++)); do
        ub_pid_is "$pid" postgres || break
        sleep 0.1
    done
    if [[ $port =~ ^[0-9]+$ ]]; then
        rmdir "/tmp/ub-$port" 2>/dev/null
    fi
    if [[ ${UB_BENCH_KEEP:-0} != 1 && -d $PG_DIR/data ]]; then
        rm -rf "$PG_DIR/data"
    fi
    if [[ $rc != 0 ]]; then
        ub_say "bench: failed (status $rc); logs: $HD/logs/error_log, $PG_DIR/log/postgresql.log"
    fi
    exit "$rc"
}

# psql as the application's user, as the module connects.
app_psql() { "$PG_BIN/psql" -X -v ON_ERROR_STOP=1 "$("$PG" conninfo "$PG_DIR")" "$@"; }
# psql as the superuser, for settings and statistics.
admin_psql() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$("$PG" socket "$PG_DIR")" \
        -p "$("$PG" port "$PG_DIR")" -U postgres -d userbulk "$@"
}

start_pg() {
    "$PG" start "$PG_DIR" "$(ub_free_port)"
    # pg_stat_statements times the SQL calls (top-level statements only, so
    # as not to slow the functions' inner statements down; the profile pass
    # at the end tracks those); it needs a restart. The statement log, when
    # asked for, leaves out the parameters (a body is 450 KB).
    admin_psql -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" \
        -c "ALTER SYSTEM SET log_parameter_max_length = 0" \
        -c "ALTER SYSTEM SET log_min_duration_statement = $PG_LOG_MS"
    "$PG" stop "$PG_DIR" >/dev/null
    "$PG" start "$PG_DIR" "" 2>/dev/null
    admin_psql -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
    "$PG" demo "$PG_DIR"
    say "generating $USERS users per account"
    "$PG" seed "$PG_DIR" "$USERS" >/dev/null
    admin_psql -c "VACUUM ANALYZE" -c "CHECKPOINT"
}

start_httpd() {
    local user=www-data group=www-data port i
    if ! ub_is_root; then
        user=$(id -un) group=$(id -gn)
    fi
    port=$(ub_free_port)
    mkdir -p "$HD/logs" "$HD/run" "$HD/htdocs"
    ub_make_traversable "$HD"
    DIR=$HD USERBULK_SO=$MODULE_SO PORT=$port USER=$user GROUP=$group LOGLEVEL=$LOGLEVEL \
    PG_SOCKET=$("$PG" socket "$PG_DIR") PG_PORT=$("$PG" port "$PG_DIR") \
    MODULES_DIR=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules) \
        ub_render "$UB_ROOT/tests/bench/httpd.conf.in" "$HD/httpd.conf" \
        DIR USERBULK_SO PORT USER GROUP LOGLEVEL PG_SOCKET PG_PORT MODULES_DIR
    DEMO_JWK=$(ub_demo_jwk) ub_render "$UB_ROOT/conf/demo-oauth2.conf.in" \
        "$HD/demo-oauth2.conf" DEMO_JWK
    "$HTTPD" -f "$HD/httpd.conf" -t >/dev/null 2>&1 ||
        { "$HTTPD" -f "$HD/httpd.conf" -t; ub_die "the httpd configuration does not load"; }
    "$HTTPD" -f "$HD/httpd.conf" -k start
    for ((i = 0; i < 100; i++)); do
        ub_port_busy "$port" && break
        sleep 0.1
    done
    ub_port_busy "$port" || ub_die "httpd does not answer on 127.0.0.1:$port"
    HTTP_PORT=$port
}

# --- the floor ------------------------------------------------------------------

# One psql session (as the module's user) kept open for the whole run, so
# that every floor run finds a warm session like the module's pooled ones.
# Each run is the bare set-based UPDATE of the put1 users from one JSON
# literal, timed by psql (\timing: parse, plan, execute and commit, as the
# module's requests include them).
FLOOR_N=0
floor_open() {
    coproc FLOOR { app_psql 2>&1; }
    printf '%s\n' "\\set b0 \`cat $BODIES/floor-0.json\`" "\\set b1 \`cat $BODIES/floor-1.json\`" \
        '\timing on' >&"${FLOOR[1]}"
}

floor_once() {
    local line rows=
    [[ -n ${FLOOR[1]:-} ]] || ub_die "floor: the psql session has ended"
    cat >&"${FLOOR[1]}" <<EOF
UPDATE userbulk.users u
   SET first_name = r.name ->> 'firstName', middle_name = r.name ->> 'middleName',
       last_name = r.name ->> 'lastName', email = r.email, phone1 = r."phoneNumber",
       department_code = r."departmentId", location_code = r."locationId",
       program_admin_role_code = r."programAdminRoleId", locked_out = coalesce(r."lockedOut", false)
  FROM jsonb_to_recordset(:'b$((FLOOR_N % 2))'::jsonb) AS r("userName" text, email text, name jsonb,
       "phoneNumber" text, "departmentId" text, "locationId" text, "programAdminRoleId" text,
       "lockedOut" boolean)
 WHERE u.account_id = '$ACME' AND u.user_name = r."userName";
EOF
    FLOOR_N=$((FLOOR_N + 1))
    while IFS= read -r -t 60 line <&"${FLOOR[0]}"; do
        case $line in
            "UPDATE "*) rows=${line#UPDATE } ;;
            "Time: "*)
                [[ $rows == "$RECORDS" ]] || ub_die "the floor UPDATE changed ${rows:-no} rows, not $RECORDS"
                line=${line#Time: }
                printf '%s\n' "${line%% *}" >>"$OUT/floor.ms"
                return 0
                ;;
            "Timing is on." | "") ;;
            *) ub_die "floor: psql says: $line" ;;
        esac
    done
    ub_die "floor: no answer from psql"
}

# UB_BENCH_SERVE=1: the stack stays up for profiling until Ctrl-C.
serve() {
    say "serving until Ctrl-C; for example:"
    printf '  curl -s -X PUT -H "Authorization: Bearer $(cat %s)" -H "Content-Type: %s" --data-binary @%s http://127.0.0.1:%s/users\n' \
        "$B/token-acme" "$J" "$BODIES/put1-0.json" "$HTTP_PORT"
    printf '  %s/psql "%s"\n' "$PG_BIN" "$("$PG" conninfo "$PG_DIR")"
    printf '  httpd children: %s\n' "$(pgrep -d ' ' -P "$(cat "$HD/httpd.pid")" || true)"
    while sleep 3600; do :; done
}

# --- measuring ------------------------------------------------------------------

# Requests sent to httpd so far, warm-ups included (the memory run counts
# from the first).
SENT=0
declare -A R    # R[phase.key]

access_lines() { if [[ -f $HD/logs/access_log ]]; then wc -l <"$HD/logs/access_log"; else echo 0; fi; }

# Median and p95 (nearest rank) of the numbers on stdin.
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
p95() { sort -n | awk '{ v[NR] = $1 } END { i = int((NR * 95 + 99) / 100); if (i < 1) i = 1; print v[i] + 0 }'; }
fmt() { awk -v x="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, x }'; }

sql_reset() { admin_psql -c "SELECT pg_stat_statements_reset()" >/dev/null; }

# After a phase: its SQL statements by total time in out/sql-PHASE.txt, and
# the mean time of the endpoint's SQL call in R[PHASE.sql_ms].
sql_profile() {
    local phase=$1 fn=$2 requests=${3:-1}
    admin_psql -c "
        SELECT calls, round((total_exec_time / $requests)::numeric, 2) AS exec_ms_per_request,
               round((total_plan_time / $requests)::numeric, 2) AS plan_ms_per_request,
               toplevel AS top, left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
          FROM pg_stat_statements
         WHERE query !~* 'pg_stat_statements|^(BEGIN|COMMIT|ROLLBACK|SET|SHOW|DEALLOCATE)'
         ORDER BY total_exec_time + total_plan_time DESC LIMIT 30" >"$OUT/sql-$phase.txt"
    R[$phase.sql_ms]=$(admin_psql -At -c "
        SELECT coalesce(round((sum(total_exec_time) / sum(calls))::numeric, 1)::text, '-')
          FROM pg_stat_statements WHERE toplevel AND query LIKE '%userbulk.$fn(%'")
}

# The figures of a phase from its latency file (conn seq status us bytes).
# $2: the wall time in seconds, or "sum" for the sum of the latencies (a
# single client whose requests alternate with floor runs).
summarize() {
    local phase=$1 wall=$2 lat=$OUT/$1.lat
    R[$phase.requests]=$(wc -l <"$lat")
    R[$phase.ok]=$(awk '$3 == 200' "$lat" | wc -l)
    R[$phase.non200]=$((R[$phase.requests] - R[$phase.ok]))
    R[$phase.med_ms]=$(awk '{ print $4 / 1000 }' "$lat" | median)
    R[$phase.p95_ms]=$(awk '{ print $4 / 1000 }' "$lat" | p95)
    if [[ $wall == sum ]]; then
        wall=$(awk '{ s += $4 } END { print s / 1e6 }' "$lat")
    fi
    R[$phase.wall_s]=$wall
    R[$phase.users_s]=$(awk -v ok="${R[$phase.ok]}" -v w="$wall" -v r="$RECORDS" 'BEGIN { printf "%d", (w > 0 ? ok * r / w : 0) }')
}

# httpd's own time (%D) of the access log lines after line $2.
httpd_ms() {
    tail -n +"$(($2 + 1))" "$HD/logs/access_log" | awk '{ t = $NF; sub(/us$/, "", t); print t / 1000 }' |
        median | awk '{ printf "%.1f", $1 }'
}

# client PHASE METHOD PATH CTYPE START N LIST...: N requests per list (one
# connection each) from line START; the latencies are appended to
# out/PHASE.lat, the client's summary line left in CLIENT_LINE.
CLIENT_LINE=
client() {
    local phase=$1 method=$2 path=$3 ctype=$4 start=$5 n=$6 l line
    shift 6
    local conns=()
    for l in "$@"; do conns+=("$B/token-acme:$BODIES/$l.list"); done
    line=$("$CLIENT" -p "$HTTP_PORT" -m "$method" -u "$path" -T "$ctype" -s "$start" -n "$n" \
        -o "$OUT/$phase.lat.tmp" -e "$OUT/$phase-error-" "${conns[@]}") ||
        ub_die "$phase: the client failed: $line"
    cat "$OUT/$phase.lat.tmp" >>"$OUT/$phase.lat"
    rm -f "$OUT/$phase.lat.tmp"
    SENT=$((SENT + n * $#))
    R[$phase.errors]=$((${R[$phase.errors]:-0} + $(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")))
    CLIENT_LINE=$line
}

# The one-client scenarios, interleaved: each round runs, for put1, unch
# and post1 in turn, one floor run and then one request, so that the floor
# and the three scenarios see the same box over the same minutes (a shared
# box is noisy). After each request the time of its SQL call and of the
# floor's UPDATE are read from pg_stat_statements, which is then reset.
declare -A SPEC=(
    [put1]="PUT /users $J 2 put1 put_users"
    [unch]="PUT /users $J 1 unch put_users"
    [post1]="POST $POST_PATH $PATCH 2 post1 account_update"
    [scim1]="POST /scim/v2/Bulk $SCIM_JSON 2 scim1 scim_write"
    [rev1]="POST /users/requests/{id}/revert?force=true $J 1 empty revert_request"
)
# rev1 undoes the PUT of its round (put1's: about 990
# users): its path names that request, so it is made for each request.
# ?force=true: the round's POST and /Bulk changed some of those users
# since, and a conflict would answer without doing the work.
spec_path() {
    local path=$1 id
    if [[ $path == *'{id}'* ]]; then
        # put1's request, by one of its users: the unchanged PUT's
        # warm-up is a PUT /users too, and reverting it would make every
        # later "unchanged" PUT a real change.
        id=$(admin_psql -At -c "SELECT max(r.id) FROM userbulk.audit_request r
                                  JOIN userbulk.audit_change c ON c.request_id = r.id
                                  JOIN userbulk.users u ON u.id = c.user_id
                                 WHERE r.endpoint = 'PUT /users' AND u.user_name = 'u1.acme'")
        [[ -n $id ]] || ub_die "rev1: no PUT /users request in the audit trail to revert"
        path=${path/\{id\}/$id}
    fi
    printf '%s' "$path"
}
run_1c_rounds() {
    local i s a method path ctype warm list fn sql
    for s in put1 unch post1 scim1 rev1; do
        read -r method path ctype warm list fn <<<"${SPEC[$s]}"
        path=$(spec_path "$path")
        : >"$OUT/$s.lat"
        : >"$OUT/$s.httpd"
        : >"$OUT/$s.sql"
        : >"$OUT/$s.pairs"
        client "$s-warmup" "$method" "$path" "$ctype" 0 "$warm" "$list"
    done
    : >"$OUT/floor.sql"
    : >"$OUT/floor-after-scim.ms"
    sql_reset
    for ((i = 0; i < N1; i++)); do
        for s in put1 unch post1 scim1 rev1; do
            read -r method path ctype warm list fn <<<"${SPEC[$s]}"
            path=$(spec_path "$path")
            floor_once
            # the floor run right after the /Bulk gives its 500 addresses
            # back: a floor making the same kind of change as the /Bulk
            [[ $s == rev1 ]] && tail -n1 "$OUT/floor.ms" >>"$OUT/floor-after-scim.ms"
            a=$(access_lines)
            client "$s" "$method" "$path" "$ctype" $((warm + i)) 1 "$list"
            tail -n +"$((a + 1))" "$HD/logs/access_log" |
                awk '{ t = $NF; sub(/us$/, "", t); print t / 1000 }' >>"$OUT/$s.httpd"
            sql=$(admin_psql -At -F ' ' -c "
                SELECT coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%userbulk.$fn(%'), 0),
                       coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%jsonb_to_recordset%'), 0)
                  FROM pg_stat_statements WHERE toplevel" -c "SELECT pg_stat_statements_reset()" | sed -n 1p)
            printf '%s\n' "${sql%% *}" >>"$OUT/$s.sql"
            printf '%s\n' "${sql#* }" >>"$OUT/floor.sql"
            # this request's latency over the floor run just before it
            printf '%s %s\n' "$(tail -n1 "$OUT/$s.lat" | awk '{ print $4 / 1000 }')" \
                "$(tail -n1 "$OUT/floor.ms")" >>"$OUT/$s.pairs"
        done
    done
    for s in put1 unch post1 scim1 rev1; do
        summarize "$s" sum
        R[$s.httpd_ms]=$(median <"$OUT/$s.httpd" | awk '{ printf "%.1f", $1 }')
        R[$s.sql_ms]=$(median <"$OUT/$s.sql" | awk '{ printf "%.1f", $1 }')
        R[$s.pair_ratio]=$(awk '{ print $1 / $2 }' "$OUT/$s.pairs" | median | awk '{ printf "%.2f", $1 }')
        report_non200 "$s"
    done
}

# Four clients at once, one list each; WARM requests each first.
run_4c() {
    local phase=$1 method=$2 path=$3 ctype=$4 warm=$5 n=$6 fn=$7 a0
    shift 7
    : >"$OUT/$phase.lat"
    if ((warm > 0)); then
        client "$phase-warmup" "$method" "$path" "$ctype" 0 "$warm" "$@"
    fi
    sql_reset
    a0=$(access_lines)
    client "$phase" "$method" "$path" "$ctype" "$warm" "$n" "$@"
    R[$phase.httpd_ms]=$(httpd_ms "$phase" "$a0")
    summarize "$phase" "$(sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' <<<"$CLIENT_LINE")"
    sql_profile "$phase" "$fn"
    report_non200 "$phase"
}

report_non200() {
    if [[ ${R[$1.non200]} != 0 || ${R[$1.errors]:-0} != 0 ]]; then
        ub_say "bench: $1: ${R[$1.non200]} answers were not 200, ${R[$1.errors]:-0} requests failed (bodies: $OUT/$1-error-*.txt)"
    fi
}

# The httpd children: "pid VmRSS VmHWM" in kB, one line each.
children_rss() {
    local parent pid
    parent=$(head -n1 "$HD/httpd.pid")
    for pid in $(pgrep -P "$parent" -x apache2 || true); do
        awk -v p="$pid" '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print p, r, h }' \
            "/proc/$pid/status" 2>/dev/null || true
    done
}

# The summed VmRSS of children_rss lines on stdin.
rss_total() { awk '{ s += $2 } END { print s + 0 }'; }

# The statements of a phase's SQL profile that took most of the time, for
# the "where the SQL time goes" lines.
top_statements() {
    awk -F'|' -v max="$2" 'NR > 2 && NF >= 5 && $4 ~ /f/ {
                   gsub(/^ +| +$/, "", $5)
                   printf "    %7.1f ms (plan %5.1f)  %s\n", $2 + $3, $3, substr($5, 1, 80); if (++n == max) exit }' "$OUT/sql-$1.txt"
}

# The worst requests the limits allow (tests/bench/gen.pl, worst-*), one
# client, N1 each after one warm-up, each compared with the typical request
# of its endpoint measured in the same run (put1, post1).
WORST_KINDS="chain:PUT ring:PUT roles-put:PUT tiny-put:PUT roles-post:POST tiny-post:POST"
run_worst() {
    local kw kind m path ctype
    for kw in $WORST_KINDS; do
        kind=${kw%%:*} m=${kw#*:}
        if [[ $m == PUT ]]; then path=/users ctype=$J; else path=$POST_PATH ctype=$PATCH; fi
        : >"$OUT/worst-$kind.lat"
        client "worst-$kind-warmup" "$m" "$path" "$ctype" 0 1 "worst-$kind"
        client "worst-$kind" "$m" "$path" "$ctype" 1 "$N1" "worst-$kind"
        R[worst-$kind.med_ms]=$(awk '{ print $4 / 1000 }' "$OUT/worst-$kind.lat" | median)
        R[worst-$kind.bytes]=$(wc -c <"$(head -n1 "$BODIES/worst-$kind.list")")
        R[worst-$kind.status]=$(awk '{ print $3 }' "$OUT/worst-$kind.lat" | sort -u | tr '\n' ' ')
    done
}

# The children's peak memory for the largest bodies: httpd restarted (new
# children, their high-water marks from zero), then the 8 MB bodies of tiny
# values, one client, three of each; the highest VmHWM of a child, in MB.
peak_rss_for_tiny_bodies() {
    local port=$HTTP_PORT i old
    old=$(pgrep -d ' ' -P "$(head -n1 "$HD/httpd.pid")" -x apache2 || true)
    "$HTTPD" -f "$HD/httpd.conf" -k restart
    for ((i = 0; i < 100; i++)); do
        sleep 0.1
        [[ -n $(comm -13 <(tr ' ' '\n' <<<"$old" | sort) \
                <(pgrep -P "$(head -n1 "$HD/httpd.pid")" -x apache2 | sort)) ]] && ub_port_busy "$port" && break
    done
    ub_port_busy "$port" || ub_die "httpd does not answer after its restart"
    : >"$OUT/peak.lat"
    client peak PUT /users "$J" 0 3 worst-tiny-put
    client peak POST "$POST_PATH" "$PATCH" 0 3 worst-tiny-post
    R[peak.rss_mb]=$(children_rss | awk '{ if ($3 > m) m = $3 } END { printf "%.1f", m / 1024 }')
}

# --- the run ----------------------------------------------------------------------

T0=$(date +%s)
say() { ub_say "bench: [$(($(date +%s) - T0)) s] $*"; }

main() {
    local t0=$T0 load0
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    # What a killed run left behind.
    ub_kill_httpd_pidfile "$HD/httpd.pid"
    "$PG" stop "$PG_DIR" >/dev/null 2>&1 || true
    rm -rf "$PG_DIR" "$HD" "$BODIES" "$OUT"
    mkdir -p "$B" "$OUT" "$BODIES"
    chmod 755 "$UB_ROOT/.run" "$B" 2>/dev/null || true

    start_pg
    perl "$UB_ROOT/tools/token.pl" --account acme --roles userbulk.admin --sub bench \
        --exp-in 3600 >"$B/token-acme"
    app_psql -At -F $'\t' -c "SELECT n, u.id FROM generate_series(1, 16000) AS n
                               JOIN userbulk.users u ON u.user_name = 'u' || n || '.acme'" >"$B/ids.tsv"
    UB_BENCH_MAX_ROLE_IDS=$(sed -n 's/^#define UB_MAX_ROLES \([0-9]*\).*/\1/p' "$UB_ROOT/src/userbulk.h") \
        perl "$UB_ROOT/tests/bench/gen.pl" "$BODIES" "$B/ids.tsv"
    start_httpd
    floor_open
    : >"$OUT/floor.ms"
    say "PostgreSQL on 127.0.0.1:$("$PG" port "$PG_DIR"), httpd on 127.0.0.1:$HTTP_PORT; setup took $(($(date +%s) - t0)) s"
    if [[ ${UB_BENCH_SERVE:-0} == 1 ]]; then
        serve
        return 0
    fi

    say "1 client, $N1 rounds of: floor, PUT /users, floor, PUT /users unchanged, floor, POST"
    run_1c_rounds
    say "worst requests within the limits, 1 client, $N1 of each"
    run_worst
    say "SCIM: a filtered page of users, 1 client, $N1"
    : >"$OUT/scimlist.lat"
    client scimlist-warmup GET "$SCIM_LIST_PATH" "$SCIM_JSON" 0 1 empty
    client scimlist GET "$SCIM_LIST_PATH" "$SCIM_JSON" 0 "$N1" empty
    summarize scimlist sum
    report_non200 scimlist
    # The change feed: a page of 1000 changes, the whole of one of the
    # 1000-user PUTs above (cursor: just before it), against the same floor.
    local feed_seq feed_tag
    feed_seq=$(admin_psql -At -c "
        SELECT f.seq FROM userbulk.audit_feed f JOIN userbulk.audit_request r ON r.id = f.request_id
         WHERE f.account_id = '$ACME' AND r.endpoint = 'PUT /users'
           AND (SELECT count(*) FROM userbulk.audit_change c WHERE c.request_id = r.id) = $RECORDS
         ORDER BY f.seq LIMIT 1")
    [[ -n $feed_seq ]] || ub_die "feed: no request of $RECORDS changes in the audit trail"
    # the cursor's account tag (src/changes.c): FNV-1a of the account code
    feed_tag=$(perl -e 'my $h = 2166136261; for (unpack "C*", "acme") { $h ^= $_; $h = ($h * 16777619) % 4294967296 } printf "%08x", $h')
    say "the change feed: a page of $RECORDS changes, 1 client, $N1"
    : >"$OUT/feed.lat"
    client feed-warmup GET "/users/changes?since=c1.$feed_tag.$((feed_seq - 1))&limit=$RECORDS" "$J" 0 1 empty
    client feed GET "/users/changes?since=c1.$feed_tag.$((feed_seq - 1))&limit=$RECORDS" "$J" 0 "$N1" empty
    summarize feed sum
    report_non200 feed
    say "PUT /users, 4 clients, disjoint users, 4 x $N4"
    run_4c put4d PUT /users "$J" 1 "$N4" put_users put4d-0 put4d-1 put4d-2 put4d-3
    say "PUT /users, 4 clients, the same users, 4 x $N4"
    run_4c put4o PUT /users "$J" 0 "$N4" put_users put4o-0 put4o-1 put4o-2 put4o-3
    say "POST, 4 clients, disjoint users, 4 x $N4"
    run_4c post4d POST "$POST_PATH" "$PATCH" 1 "$N4" account_update post4d-0 post4d-1 post4d-2 post4d-3
    say "POST, 4 clients, the same users, 4 x $N4"
    run_4c post4o POST "$POST_PATH" "$PATCH" 0 "$N4" account_update post4o-0 post4o-1 post4o-2 post4o-3

    # Memory: the children's RSS at the 1,000th request since httpd started
    # and then in three steps up to the NSMALL-th; 10-record PUTs, with a
    # 1000-record one in 200. Steady growth across the steps would be a
    # leak; growth that stops is caches (per-thread allocators) filling up.
    local per offset=0 rss1 rss2 a0 k target wall=0
    if ((SENT < 1000)); then
        per=$(((1000 - SENT + 3) / 4))
        say "memory run, 4 clients x $per requests, up to request $((SENT + 4 * per))"
        client small1 PUT /users "$J" 0 "$per" small-0 small-1 small-2 small-3
        offset=$per
    fi
    R[rss.at1]=$SENT
    rss1=$(children_rss)
    R[rss.steps]="$SENT:$(rss_total <<<"$rss1")"
    : >"$OUT/small.lat"
    sql_reset
    a0=$(access_lines)
    local first=$SENT
    for k in 1 2 3; do
        target=$((first + (NSMALL - first) * k / 3))
        per=$(((target - SENT + 3) / 4))
        ((per > 0)) || per=1
        say "memory run, 4 clients x $per requests, up to request $((SENT + 4 * per))"
        client small PUT /users "$J" "$offset" "$per" small-0 small-1 small-2 small-3
        offset=$((offset + per))
        wall=$(awk -v a="$wall" -v b="$(sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' <<<"$CLIENT_LINE")" 'BEGIN { print a + b }')
        rss2=$(children_rss)
        R[rss.steps]+=" $SENT:$(rss_total <<<"$rss2")"
    done
    R[small.httpd_ms]=$(httpd_ms small "$a0")
    summarize small "$wall"
    sql_profile small put_users
    report_non200 small
    R[rss.at2]=$SENT

    # Profile: a few more 1-client requests with the functions' inner
    # statements tracked too.
    say "SQL profile, 1 client, 3 PUT, 3 POST, 3 PUT of 10 records"
    admin_psql -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" \
        -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" -c "SELECT pg_reload_conf()" >/dev/null
    sql_reset
    client prof-put PUT /users "$J" 0 3 put1
    sql_profile prof-put put_users 3
    sql_reset
    client prof-post POST "$POST_PATH" "$PATCH" 0 3 post1
    sql_profile prof-post account_update 3
    sql_reset
    client prof-small PUT /users "$J" "$offset" 3 small-0
    sql_profile prof-small put_users 3

    say "children's peak memory for 8 MB bodies of tiny values"
    peak_rss_for_tiny_bodies

    # --- figures ----------------------------------------------------------------
    local floor floor_p95 floor_sql ratio_put ratio_post ratio_unch ratio_scim ratio_feed ratio_rev
    local floor_scim ratio_scim_same
    floor=$(median <"$OUT/floor.ms")
    floor_p95=$(p95 <"$OUT/floor.ms")
    floor_sql=$(median <"$OUT/floor.sql" | awk '{ printf "%.1f", $1 }')
    ratio_put=$(awk -v a="${R[put1.med_ms]}" -v f="$floor" 'BEGIN { printf "%.2f", a / f }')
    ratio_post=$(awk -v a="${R[post1.med_ms]}" -v f="$floor" 'BEGIN { printf "%.2f", a / f }')
    ratio_unch=$(awk -v a="${R[unch.med_ms]}" -v f="$floor" 'BEGIN { printf "%.2f", a / f }')
    # /Bulk of 1000 PUT and PATCH operations over the same floor (the
    # UPDATE of 1000 users)
    ratio_scim=$(awk -v a="${R[scim1.med_ms]}" -v f="$floor" 'BEGIN { printf "%.2f", a / f }')
    # and over the floor runs that change addresses as the /Bulk does
    floor_scim=$(median <"$OUT/floor-after-scim.ms")
    ratio_scim_same=$(awk -v a="${R[scim1.med_ms]}" -v f="$floor_scim" 'BEGIN { printf "%.2f", a / f }')
    ratio_feed=$(awk -v a="${R[feed.med_ms]}" -v f="$floor" 'BEGIN { printf "%.2f", a / f }')
    # the revert of the round's PUT (about 990 users) over the same floor
    ratio_rev=$(awk -v a="${R[rev1.med_ms]}" -v f="$floor" 'BEGIN { printf "%.2f", a / f }')

    # The worst request over a typical request of its endpoint and of its
    # size: the typical one's time, times how much larger the worst body is
    # (never less than the typical one's time). worst_ratio is the largest.
    local kw kind typical typical_bytes size worst_ratio=0 worst_lines=
    for kw in $WORST_KINDS; do
        kind=${kw%%:*}
        if [[ ${kw#*:} == PUT ]]; then
            typical=${R[put1.med_ms]} typical_bytes=$(wc -c <"$BODIES/put1-0.json")
        else
            typical=${R[post1.med_ms]} typical_bytes=$(wc -c <"$BODIES/post1-0.json")
        fi
        size=$(awk -v b="${R[worst-$kind.bytes]}" -v t="$typical_bytes" 'BEGIN { s = b / t; printf "%.2f", (s > 1 ? s : 1) }')
        R[worst-$kind.raw]=$(awk -v a="${R[worst-$kind.med_ms]}" -v t="$typical" 'BEGIN { printf "%.2f", a / t }')
        R[worst-$kind.ratio]=$(awk -v a="${R[worst-$kind.med_ms]}" -v t="$typical" -v s="$size" 'BEGIN { printf "%.2f", a / (t * s) }')
        worst_ratio=$(awk -v a="${R[worst-$kind.ratio]}" -v m="$worst_ratio" 'BEGIN { print (a > m ? a : m) }')
        worst_lines+=$(printf '  %-11s %8s ms  %6sx the typical %-4s %5sx its size: %5sx' "$kind" \
            "$(fmt "${R[worst-$kind.med_ms]}")" "${R[worst-$kind.raw]}" "${kw#*:}," "$size" \
            "${R[worst-$kind.ratio]}")"  (status ${R[worst-$kind.status]% })"$'\n'
    done

    # RSS of the children alive at both samples.
    local rss_sum1 rss_sum2 growth hwm nchild
    read -r rss_sum1 rss_sum2 nchild < <(join <(sort <<<"$rss1") <(sort <<<"$rss2") |
        awk '{ a += $2; b += $4; n++ } END { print a + 0, b + 0, n + 0 }')
    growth=$(awk -v a="$rss_sum1" -v b="$rss_sum2" 'BEGIN { if (a > 0) printf "%.1f", (b - a) * 100 / a; else print "0.0" }')
    hwm=$(awk '{ if ($3 > m) m = $3 } END { print m + 0 }' <<<"$rss2")

    # Overlap errors: what the overlapping runs did not get as 200, and any
    # deadlock or serialization failure httpd or PostgreSQL logged in the
    # whole run.
    local dead_httpd dead_pg overlap
    dead_httpd=$(grep -ciE 'deadlock|could not serialize' "$HD/logs/error_log" || true)
    dead_pg=$(grep -ciE 'deadlock|could not serialize' "$PG_DIR/log/postgresql.log" || true)
    overlap=$((${R[put4o.non200]} + ${R[post4o.non200]} + ${R[put4o.errors]} + ${R[post4o.errors]} + dead_httpd + dead_pg))

    local pgv row p label
    pgv=$(admin_psql -At -c "SHOW server_version" | awk '{ print $1 }')
    row='%-32s %5s %6s %8s %8s %8s %8s %8s\n'
    printf '\nmod_userbulk benchmark %s: %s cores, %s, PostgreSQL %s, %s users per account\n' \
        "$(date -u +%Y-%m-%d)" "$(nproc)" "$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release)" \
        "$pgv" "$USERS"
    printf 'load average at start %s, at end %s\n' "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '1000 records (PUT, 10 failing on purpose) or targets (POST) per request; times in ms\n\n'
    # shellcheck disable=SC2059 # the format is ours
    printf "$row" scenario reqs non200 median p95 users/s httpd sql
    # shellcheck disable=SC2059
    printf "$row" "floor: psql UPDATE" "$(wc -l <"$OUT/floor.ms")" - "$(fmt "$floor")" "$(fmt "$floor_p95")" \
        "$(awk -v f="$floor" 'BEGIN { printf "%d", 1000000 / f }')" - "$floor_sql"
    for p in put1 put4d put4o unch post1 post4d post4o small; do
        case $p in
            put1) label="PUT, 1 client" ;;
            put4d) label="PUT, 4 clients, disjoint" ;;
            put4o) label="PUT, 4 clients, same users" ;;
            unch) label="PUT unchanged, 1 client" ;;
            post1) label="POST, 1 client" ;;
            post4d) label="POST, 4 clients, disjoint" ;;
            post4o) label="POST, 4 clients, same users" ;;
            small) label="PUT 10 (+0.5% PUT 1000), 4 cl." ;;
        esac
        # shellcheck disable=SC2059
        printf "$row" "$label" "${R[$p.requests]}" "$((R[$p.non200] + ${R[$p.errors]:-0}))" \
            "$(fmt "${R[$p.med_ms]}")" "$(fmt "${R[$p.p95_ms]}")" \
            "$(if [[ $p == small ]]; then echo -; else echo "${R[$p.users_s]}"; fi)" \
            "${R[$p.httpd_ms]}" "${R[$p.sql_ms]}"
    done
    printf '\n'
    printf 'ratios of the medians to the floor: PUT %s, POST %s, PUT unchanged %s\n' "$ratio_put" "$ratio_post" "$ratio_unch"
    printf '  (medians of each request over the floor run just before it: PUT %s, POST %s, PUT unchanged %s)\n' \
        "${R[put1.pair_ratio]}" "${R[post1.pair_ratio]}" "${R[unch.pair_ratio]}"
    printf 'httpd children (%s): RSS %s kB at request %s, %s kB at request %s (%s%%); peak VmHWM %s kB\n' \
        "$nchild" "$rss_sum1" "${R[rss.at1]}" "$rss_sum2" "${R[rss.at2]}" "$growth" "$hwm"
    printf '  RSS kB by request: %s\n' "$(tr ' ' '\n' <<<"${R[rss.steps]}" | awk -F: '{ printf "%s%s: %s", (NR > 1 ? ", " : ""), $1, $2 }')"
    printf 'worst requests within the limits (median of %s, 1 client; the body x times the typical\n' "$N1"
    printf 'one of its endpoint; the last figure is over a typical request of its size, worst_ratio):\n%s' "$worst_lines"
    printf 'peak VmHWM of a child after a restart and six 8 MB bodies of tiny values: %s MB\n' "${R[peak.rss_mb]}"
    printf 'overlapping runs: %s non-200, %s failed; deadlock/serialization lines in the logs: httpd %s, PostgreSQL %s\n' \
        "$((${R[put4o.non200]} + ${R[post4o.non200]}))" "$((${R[put4o.errors]} + ${R[post4o.errors]}))" "$dead_httpd" "$dead_pg"
    printf 'where the SQL time goes (inner statements, ms per request, planning included; all in\n'
    printf 'out/sql-prof-*.txt; this pass tracks every statement, so its calls run a little slower):\n'
    printf '  PUT, 1 client, SQL call %s ms:\n' "${R[prof-put.sql_ms]}"
    top_statements prof-put 6
    printf '  POST, 1 client, SQL call %s ms:\n' "${R[prof-post.sql_ms]}"
    top_statements prof-post 6
    printf '  PUT of 10 records, 1 client, SQL call %s ms:\n' "${R[prof-small.sql_ms]}"
    top_statements prof-small 4
    printf 'median/p95: client latency; users/s: records of 200 answers per second (1 client: per\n'
    printf 'second of its own requests); httpd: median %%D; sql: execution time of the SQL call in\n'
    printf 'pg_stat_statements (1 client: median; 4 clients: mean; floor: of the UPDATE).\n'
    printf 'Took %s s; logs and latencies in %s/\n\n' \
        "$(($(date +%s) - t0))" "${B#"$UB_ROOT"/}"
    printf 'SCIM: /Bulk of 1000 PUT and PATCH operations: median %s ms (SQL %s ms), %s x the floor (pairs: %s); a filtered page of 200 users: median %s ms\n' \
        "$(fmt "${R[scim1.med_ms]}")" "${R[scim1.sql_ms]}" "$ratio_scim" "${R[scim1.pair_ratio]}" \
        "$(fmt "${R[scimlist.med_ms]}")"
    printf '  the /Bulk gives 500 users a new address, which the floor'"'"'s median run does not; the floor\n'
    printf '  runs right after it give them back: median %s ms, and the /Bulk is %s x that (scim_bulk_same_ratio)\n' \
        "$(fmt "$floor_scim")" "$ratio_scim_same"
    printf 'revert of a PUT of 1000 records (about 990 users changed, ?force=true): median %s ms (SQL %s ms), %s x the floor (pairs: %s)\n' \
        "$(fmt "${R[rev1.med_ms]}")" "${R[rev1.sql_ms]}" "$ratio_rev" "${R[rev1.pair_ratio]}"
    printf 'the change feed: a page of %s changes: median %s ms, %s x the floor\n' \
        "$RECORDS" "$(fmt "${R[feed.med_ms]}")" "$ratio_feed"
    printf 'bench: put_ratio=%s post_ratio=%s put_4c_users_s=%s overlap_errors=%s unchanged_ratio=%s rss_growth_pct=%s worst_ratio=%s peak_rss_mb=%s scim_bulk_ratio=%s scim_list_ms=%s feed_ratio=%s revert_ratio=%s scim_bulk_same_ratio=%s\n' \
        "$ratio_put" "$ratio_post" "${R[put4d.users_s]}" "$overlap" "$ratio_unch" "$growth" \
        "$(fmt "$worst_ratio" 2)" "${R[peak.rss_mb]}" "$ratio_scim" "$(fmt "${R[scimlist.med_ms]}")" "$ratio_feed" "$ratio_rev" \
        "$ratio_scim_same"
}

main "$@"
