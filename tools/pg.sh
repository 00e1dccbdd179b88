#!/usr/bin/env bash
# A private PostgreSQL cluster for the sandbox and the tests.
#
#   pg.sh start DIR PORT [--ephemeral]   init (once) + start + role/db + migrate
#                                        (a standby made by pg_basebackup -R in
#                                        DIR/data is only started)
#   pg.sh stop DIR                       stop it (no error when it is not running)
#   pg.sh status DIR                     exit 0 when it runs
#   pg.sh demo DIR                       load src/sql/demo.sql
#   pg.sh seed DIR N                     src/sql/seed.sql with -v users=N
#   pg.sh psql DIR [psql args...]        psql as user userbulk into db userbulk
#                                        (the schema's owner)
#   pg.sh conninfo DIR                   print the libpq conninfo string
#   pg.sh socket DIR | port DIR          print the socket directory / the port
#
# Two roles: userbulk owns the database and the schema, userbulk_api (the
# one httpd connects as) may only call the API's functions (see
# src/sql/privileges.sql).
#
# DIR holds the cluster (DIR/data), its log (DIR/log/postgresql.log) and its
# port (DIR/port). The server listens on 127.0.0.1:PORT and on a unix socket in
# /tmp/ub-PORT (a short path: socket paths are limited to ~107 bytes; mode
# 0755 so that httpd children running as www-data or nobody can connect).
# Authentication is "trust", for local and 127.0.0.1 connections only.
# --ephemeral turns fsync off (tests only: a crash can corrupt the cluster)
# and records every statement, nested ones too, in pg_stat_statements (the
# extension is created in the database): tests/t/zz-citus.t reads what the
# suite ran.
#
# demo, seed and psql start a stopped cluster for the time they run.
# Run as root, the server runs as user postgres (initdb refuses root).
# UB_SQL_DIR overrides the directory of migrate.sh, demo.sql and seed.sql.
set -euo pipefail

UB_PROG=pg.sh
# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SQL_DIR=${UB_SQL_DIR:-$UB_ROOT/src/sql}
DB=userbulk
DB_USER=userbulk
API_ROLE=userbulk_api

pg_bindir() {
    local d
    d=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1)
    [[ -n $d && -x $d/initdb ]] || ub_die "PostgreSQL server binaries not found under /usr/lib/postgresql (make deps)"
    printf '%s\n' "$d"
}
BIN=$(pg_bindir)

# Runs a command as the cluster's owner.
as_pg() {
    if ub_is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

usage() { sed -n '2,/^set -e/p' "$0" | sed -e '/^set -e/d' -e 's/^# \{0,1\}//' >&2; exit 2; }

abs_dir() {
    [[ -n ${1:-} ]] || usage
    realpath -m -- "$1"
}

port_of() { cat "$1/port" 2>/dev/null || ub_die "$1 holds no cluster (run: pg.sh start $1 PORT)"; }
socket_of() { printf '/tmp/ub-%s\n' "$(port_of "$1")"; }
conninfo_of() {
    printf 'host=%s port=%s dbname=%s user=%s connect_timeout=3\n' \
        "$(socket_of "$1")" "$(port_of "$1")" "$DB" "$DB_USER"
}

# The postmaster's pid when the cluster in DIR is running, else nothing.
running_pid() {
    local dir=$1 pid
    [[ -f $dir/data/postmaster.pid ]] || return 1
    pid=$(head -n1 "$dir/data/postmaster.pid")
    ub_pid_is "$pid" postgres || return 1
    # The pid may have been reused by another cluster's postgres.
    [[ $(readlink -f "/proc/$pid/cwd" 2>/dev/null) == "$dir/data" ]] || return 1
    printf '%s\n' "$pid"
}

is_running() { running_pid "$1" >/dev/null; }

psql_admin() {
    local dir=$1
    shift
    "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(socket_of "$dir")" -p "$(port_of "$dir")" -U postgres "$@"
}

psql_app() {
    local dir=$1
    shift
    "$BIN/psql" -X -v ON_ERROR_STOP=1 "$(conninfo_of "$dir")" "$@"
}

init_cluster() {
    local dir=$1
    ub_say "pg: initdb $dir/data"
    ub_make_traversable "$dir"
    mkdir -p "$dir/data" "$dir/log"
    if ub_is_root; then
        chown postgres: "$dir/data" "$dir/log"
    fi
    chmod 700 "$dir/data"
    # Locale C: its lower() folds ASCII only, the case the module must not
    # depend on (emails are folded by userbulk.fold_email, with ICU).
    as_pg "$BIN/initdb" -D "$dir/data" -E UTF8 --locale=C -U postgres \
        --auth=trust >"$dir/log/initdb.log" 2>&1 ||
        { cat "$dir/log/initdb.log" >&2; ub_die "initdb failed"; }
    # trust, but only for the unix socket and IPv4 loopback.
    as_pg tee "$dir/data/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
# pg_basebackup and streaming standbys (tests/t/ha.t)
local   replication  all                 trust
host    replication  all   127.0.0.1/32  trust
EOF
    printf "\ninclude_if_exists 'userbulk.conf'\n" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
}

# The settings that may change from one start to the next.
write_settings() {
    local dir=$1 port=$2 ephemeral=$3
    {
        printf "# written by tools/pg.sh at each start\n"
        printf "port = %s\n" "$port"
        printf "listen_addresses = '127.0.0.1'\n"
        printf "unix_socket_directories = '/tmp/ub-%s'\n" "$port"
        printf "unix_socket_permissions = 0777\n"
        printf "max_connections = 100\n"
        printf "log_min_messages = warning\n"
        printf "log_line_prefix = '%%m [%%p] %%q%%u@%%d '\n"
        if [[ $ephemeral == 1 ]]; then
            printf "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            # Room for every distinct statement of a whole suite run (the
            # default 5000 could evict some; zz-citus.t checks none was).
            printf "shared_preload_libraries = 'pg_stat_statements'\n"
            printf "pg_stat_statements.track = all\npg_stat_statements.max = 20000\n"
        fi
    } | as_pg tee "$dir/data/userbulk.conf" >/dev/null
}

# The owner and the API role (a cluster that predates the API role gets it).
ensure_roles() {
    local dir=$1 role
    for role in "$DB_USER" "$API_ROLE"; do
        if [[ -z $(psql_admin "$dir" -At -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'") ]]; then
            psql_admin "$dir" -c "CREATE ROLE $role LOGIN"
        fi
    done
}

cmd_start() {
    local dir port=${2:-} ephemeral=0 pid i
    dir=$(abs_dir "${1:-}")
    [[ ${3:-} == --ephemeral ]] && ephemeral=1
    if pid=$(running_pid "$dir"); then
        ub_say "pg: already running in $dir (pid $pid, port $(port_of "$dir"))"
        ensure_roles "$dir"
        migrate "$dir"
        return 0
    fi
    mkdir -p "$dir"
    if [[ -z $port ]]; then
        port=$(cat "$dir/port" 2>/dev/null || true)
    fi
    [[ $port =~ ^[0-9]+$ ]] || ub_die "start needs a port: pg.sh start DIR PORT"
    ub_port_busy "$port" && ub_die "port $port is in use by another program"

    [[ -f $dir/data/PG_VERSION ]] || init_cluster "$dir"
    # A killed run leaves postmaster.pid behind; the pid may since have been
    # reused, which would make postgres refuse to start.
    if [[ -f $dir/data/postmaster.pid ]]; then
        ub_say "pg: removing stale $dir/data/postmaster.pid"
        rm -f "$dir/data/postmaster.pid"
    fi
    printf '%s\n' "$port" >"$dir/port"
    write_settings "$dir" "$port" "$ephemeral"

    # The socket directory: /tmp is cleaned at boot, so create it each time.
    local sock=/tmp/ub-$port
    mkdir -p "$sock"
    rm -f "$sock/.s.PGSQL.$port" "$sock/.s.PGSQL.$port.lock"
    if ub_is_root; then chown postgres: "$sock"; fi
    chmod 0755 "$sock"

    ub_say "pg: starting in $dir on port $port (socket $sock)"
    if ! as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log/postgresql.log" -w -t 60 start >/dev/null; then
        tail -n 20 "$dir/log/postgresql.log" >&2 || true
        ub_die "PostgreSQL did not start (log: $dir/log/postgresql.log)"
    fi
    for ((i = 0; i < 100; i++)); do
        "$BIN/pg_isready" -q -h "$sock" -p "$port" && break
        sleep 0.1
    done
    "$BIN/pg_isready" -q -h "$sock" -p "$port" || ub_die "PostgreSQL is not accepting connections"

    # A standby (pg_basebackup -R) has the roles and the schema of its
    # primary and takes no writes.
    if [[ $(psql_admin "$dir" -At -c 'SELECT pg_is_in_recovery()') == t ]]; then
        ub_say "pg: $dir is a standby: no role, database or migration of its own"
        return 0
    fi
    ensure_roles "$dir"
    if [[ -z $(psql_admin "$dir" -At -c "SELECT 1 FROM pg_database WHERE datname = '$DB'") ]]; then
        psql_admin "$dir" -c "CREATE DATABASE $DB OWNER $DB_USER ENCODING 'UTF8' TEMPLATE template0"
    fi
    if [[ $ephemeral == 1 ]]; then
        psql_admin "$dir" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
    fi
    migrate "$dir"
}

migrate() {
    local dir=$1
    [[ -x $SQL_DIR/migrate.sh ]] || ub_die "$SQL_DIR/migrate.sh is missing or not executable"
    "$SQL_DIR/migrate.sh" --api-role "$API_ROLE" "$(conninfo_of "$dir")" >"$dir/log/migrate.log" 2>&1 ||
        { cat "$dir/log/migrate.log" >&2; ub_die "migrate.sh failed"; }
}

cmd_stop() {
    local dir pid
    dir=$(abs_dir "${1:-}")
    [[ -d $dir/data ]] || return 0
    if pid=$(running_pid "$dir"); then
        ub_say "pg: stopping $dir (pid $pid)"
        as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null ||
            { kill -QUIT "$pid" 2>/dev/null || true; }
    fi
    rmdir "/tmp/ub-$(port_of "$dir")" 2>/dev/null || true
}

# Runs "$@" with the cluster in DIR up, starting and stopping it around the
# command when it was not running.
with_cluster() {
    local dir=$1 rc=0
    shift
    if is_running "$dir"; then
        "$@"
        return
    fi
    [[ -f $dir/port ]] || ub_die "$dir holds no cluster (run: pg.sh start $dir PORT)"
    cmd_start "$dir" "" >/dev/null
    "$@" || rc=$?
    cmd_stop "$dir"
    return "$rc"
}

load_sql() {
    local dir=$1 file=$2
    shift 2
    [[ -f $file ]] || ub_die "$file is missing"
    psql_app "$dir" -q "$@" -f "$file"
}

cmd=${1:-}
[[ -n $cmd ]] || usage
shift
case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status)
        dir=$(abs_dir "${1:-}")
        is_running "$dir" ;;
    demo)
        dir=$(abs_dir "${1:-}")
        with_cluster "$dir" load_sql "$dir" "$SQL_DIR/demo.sql" ;;
    seed)
        dir=$(abs_dir "${1:-}")
        n=${2:-}
        [[ $n =~ ^[0-9]+$ ]] || ub_die "usage: pg.sh seed DIR N"
        with_cluster "$dir" load_sql "$dir" "$SQL_DIR/seed.sql" -v users="$n" ;;
    psql)
        dir=$(abs_dir "${1:-}")
        shift
        with_cluster "$dir" psql_app "$dir" "$@" ;;
    conninfo) conninfo_of "$(abs_dir "${1:-}")" ;;
    socket) socket_of "$(abs_dir "${1:-}")" ;;
    port) port_of "$(abs_dir "${1:-}")" ;;
    *) usage ;;
esac
