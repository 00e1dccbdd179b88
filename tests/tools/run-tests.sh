#!/usr/bin/env bash
# make test: the C unit tests, then the Apache::Test suite against a real httpd
# and a private PostgreSQL, both on free ports, both stopped at the end (also
# when a test dies or the run is interrupted).
#
#   tests/tools/run-tests.sh                   everything
#   tests/tools/run-tests.sh t/auth.t          only these .t files (no unit tests)
#   tests/tools/run-tests.sh -verbose t/auth.t other tests/TEST options pass through
#   tests/tools/run-tests.sh --sql             only the pgTAP tests of the SQL
#   tests/tools/run-tests.sh --sql t/x.t       those, and these .t files
#
# The whole suite (no file named) and --sql run the pgTAP tests
# (tests/sql/*.sql: the functions of src/sql/functions/ called directly,
# without httpd) against the test cluster, as its superuser, each file in a
# transaction it rolls back (tests/sql/lib/setup.sql), before the Apache::Test
# suite; their logs go to .run/sql-tests/.
#
# The last line is "N passed, N failed": assertions of every part (check's
# summary, the pgTAP and the Apache::Test TAP totals). The exit status is
# non-zero when anything failed.
#
#   tests/tools/run-tests.sh --asan [t/x.t]   (make test-asan) the Apache::Test
#       suite only, against .build-asan/mod_userbulk.so (module and core built
#       with ASan+UBSan) in an httpd with libasan preloaded
#       (tests/tools/asan-httpd); any sanitizer report fails the run.
#
# The whole suite (no file named) also runs every libFuzzer target of the
# core for UB_FUZZ_SECONDS (20) each: make fuzz-build first.
#
# UB_NO_VALGRIND=1 runs the unit tests without valgrind.
# UB_KEEP_PG=1 leaves the test cluster (.run/test-pg) running for inspection.
set -euo pipefail

asan=0
if [[ ${1:-} == --asan ]]; then
    asan=1
    shift
fi
# --sql: the pgTAP tests, then the .t files named, if any (none: no
# Apache::Test run).
run_sql=0
sql_only=0
if [[ ${1:-} == --sql ]]; then
    run_sql=1
    shift
    (( $# > 0 )) || sql_only=1
fi

UB_PROG=run-tests.sh
# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib.sh"
cd "$UB_ROOT"

RUN_DIR=$UB_ROOT/.run
PG_DIR=$RUN_DIR/test-pg
PID_FILE=$UB_ROOT/tests/t/logs/httpd.pid
UNIT_BIN=${UB_UNIT_BIN:-$UB_ROOT/.build/unit_tests}
mkdir -p "$RUN_DIR"
chmod 755 "$RUN_DIR"

# One run at a time per tree: they would share tests/t/logs and .run/test-pg.
# (A pid file, not flock: the lock's descriptor would be inherited by httpd
# and PostgreSQL and outlive a killed run.)
LOCK=$RUN_DIR/test-run.pid
other=$(cat "$LOCK" 2>/dev/null || true)
if [[ -n $other && $other != "$$" ]] && kill -0 "$other" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$other/cmdline" 2>/dev/null | grep -q run-tests.sh; then
    ub_die "another test run (pid $other) is in progress in $UB_ROOT"
fi
echo "$$" >"$LOCK"

# Unit tests only when the whole suite runs (no test files named).
run_unit=1
for a in "$@"; do
    [[ $a == -* ]] || run_unit=0
done
[[ $asan == 0 ]] || run_unit=0
[[ $run_sql == 0 ]] || run_unit=0
[[ $run_unit == 0 ]] || run_sql=1

# Sanitizers: the instrumented module, an httpd that preloads libasan, and
# the reports written to files (children run as nobody: a world-writable
# directory). Leak detection stays off: httpd frees its pools at exit, not
# what a child holds when the parent kills it; child memory is measured by
# t/memory.t instead.
if [[ $asan == 1 ]]; then
    ASAN_DIR=$RUN_DIR/asan
    rm -rf "$ASAN_DIR"
    mkdir -p "$ASAN_DIR"
    chmod 1777 "$ASAN_DIR"
    export UB_MODULE_SO=${UB_ASAN_MODULE_SO:-$UB_ROOT/.build-asan/mod_userbulk.so}
    [[ -f $UB_MODULE_SO ]] || ub_die "$UB_MODULE_SO is missing: make asan-build"
    export APACHE_TEST_HTTPD=$UB_ROOT/tests/tools/asan-httpd
    export UB_ASAN_OPTIONS="log_path=$ASAN_DIR/asan:detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
    export UB_UBSAN_OPTIONS="log_path=$ASAN_DIR/ubsan:print_stacktrace=1:halt_on_error=1"
fi

cleaned=0
cleanup() {
    [[ $cleaned == 1 ]] && return 0
    cleaned=1
    rm -f "$LOCK"
    ub_kill_httpd_pidfile "$PID_FILE"
    if [[ ${UB_KEEP_PG:-0} == 1 ]]; then
        ub_say "UB_KEEP_PG=1: PostgreSQL left running: tools/pg.sh psql $PG_DIR; stop: tools/pg.sh stop $PG_DIR"
    else
        "$UB_ROOT/tools/pg.sh" stop "$PG_DIR" || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

passed=0
failed=0

# --- PostgreSQL: a fresh cluster each run -----------------------------------
ub_kill_httpd_pidfile "$PID_FILE"
"$UB_ROOT/tools/pg.sh" stop "$PG_DIR" || true
rm -rf "$PG_DIR"
pg_port=$(ub_free_port)
"$UB_ROOT/tools/pg.sh" start "$PG_DIR" "$pg_port" --ephemeral
"$UB_ROOT/tools/pg.sh" demo "$PG_DIR"
UB_PG_PORT=$pg_port
UB_PG_SOCKET=$("$UB_ROOT/tools/pg.sh" socket "$PG_DIR")
UB_HTTP_PORT=$(ub_free_port)
UB_PG_DIR=$PG_DIR
export UB_PG_PORT UB_PG_SOCKET UB_HTTP_PORT UB_PG_DIR

# --- C unit tests ------------------------------------------------------------
if [[ $run_unit == 1 ]]; then
    echo "=== unit tests: $UNIT_BIN"
    unit_log=$RUN_DIR/unit-tests.log
    unit_rc=0
    if [[ ! -x $UNIT_BIN ]]; then
        echo "$UNIT_BIN is missing: run make all" | tee "$unit_log"
        unit_rc=127
    elif [[ ${UB_NO_VALGRIND:-0} != 1 ]] && command -v valgrind >/dev/null; then
        # No fork per test, so that valgrind sees every test in one process.
        # (With pipefail, a failing pipeline's status is the test binary's.)
        CK_FORK=no valgrind --quiet --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
            --track-origins=yes "$UNIT_BIN" 2>&1 | tee "$unit_log" || unit_rc=$?
    else
        "$UNIT_BIN" 2>&1 | tee "$unit_log" || unit_rc=$?
    fi
    # check prints "NN%: Checks: C, Failures: F, Errors: E" per runner.
    read -r u_checks u_bad u_lines < <(perl -ne '
        if (/^\d+%: Checks: (\d+), Failures: (\d+), Errors: (\d+)/) {
            $c += $1; $b += $2 + $3; $n++;
        }
        END { printf "%d %d %d\n", $c, $b, $n }' "$unit_log")
    passed=$((passed + u_checks - u_bad))
    failed=$((failed + u_bad))
    if [[ $u_lines == 0 || ($unit_rc != 0 && $u_bad == 0) ]]; then
        # A crash, a valgrind error (exit 99) or no summary at all.
        echo "unit tests: exit status $unit_rc (99 = valgrind found errors; log: $unit_log)"
        failed=$((failed + 1))
    fi
    echo "unit tests: $((u_checks - u_bad)) passed, $u_bad failed, exit status $unit_rc"
fi

# --- fuzzing: a short run of every libFuzzer target of the core ---------------
# (make fuzz runs them longer). Each target is one check: it fails on a crash,
# a sanitizer report, a broken invariant or a hang.
if [[ $run_unit == 1 && $asan == 0 ]]; then
    fuzz_seconds=${UB_FUZZ_SECONDS:-20}
    echo "=== fuzz: ${fuzz_seconds} s per target"
    fuzz_log=$RUN_DIR/fuzz.log
    fuzz_rc=0
    "$UB_ROOT/tests/tools/fuzz.sh" "$fuzz_seconds" 2>&1 | tee "$fuzz_log" || fuzz_rc=$?
    f_ok=$(grep -cE '^fuzz_[a-z_]+: .*exit status 0$' "$fuzz_log" || true)
    f_bad=$(grep -cE '^fuzz_[a-z_]+: .*exit status [1-9]' "$fuzz_log" || true)
    if [[ $fuzz_rc != 0 && $f_bad == 0 ]]; then
        f_bad=1    # the runner itself failed (a target missing: make fuzz-build)
    fi
    passed=$((passed + f_ok))
    failed=$((failed + f_bad))
fi

# --- pgTAP: the SQL functions called directly -------------------------------------
# Each file prints its plan (1..N) and one ok/not ok line per assertion; a
# file fails as a whole too when psql stops (an SQL error) or fewer
# assertions ran than planned.
if [[ $run_sql == 1 ]]; then
    echo "=== pgTAP: tests/sql/*.sql"
    sql_log_dir=$RUN_DIR/sql-tests
    rm -rf "$sql_log_dir"
    mkdir -p "$sql_log_dir"
    sql_conninfo=$("$UB_ROOT/tools/pg.sh" conninfo "$PG_DIR")
    sql_conninfo=${sql_conninfo/user=userbulk/user=postgres}
    for f in "$UB_ROOT"/tests/sql/*.sql; do
        name=$(basename "$f" .sql)
        log=$sql_log_dir/$name.log
        sql_rc=0
        psql "$sql_conninfo" -X -f "$f" >"$log" 2>&1 || sql_rc=$?
        read -r s_plan s_ok s_bad < <(perl -ne '
            $p = $1 if /^1\.\.(\d+)/; $o++ if /^ok /; $b++ if /^not ok /;
            END { printf "%d %d %d\n", $p, $o, $b }' "$log")
        passed=$((passed + s_ok))
        failed=$((failed + s_bad))
        if [[ $sql_rc != 0 || $s_plan == 0 || $((s_ok + s_bad)) != "$s_plan" ]]; then
            failed=$((failed + 1))
            echo "tests/sql/$name.sql: psql exit status $sql_rc, $((s_ok + s_bad)) of $s_plan planned assertions ran"
        fi
        echo "tests/sql/$name.sql: $s_ok passed, $s_bad failed (log: .run/sql-tests/$name.log)"
        if [[ $s_bad != 0 || $sql_rc != 0 ]]; then
            grep -E '^(not ok|#|psql:|ERROR|DETAIL|CONTEXT)' "$log" | head -n 40
        fi
    done
fi

# --- Apache::Test --------------------------------------------------------------
if [[ $sql_only == 0 ]]; then
    # What the module runs, from here on (t/zz-citus.t reads it): not the
    # pgTAP files' own statements, nor migrate.sh's.
    sql_admin=$("$UB_ROOT/tools/pg.sh" conninfo "$PG_DIR")
    psql "${sql_admin/user=userbulk/user=postgres}" -X -q -At -v ON_ERROR_STOP=1 \
        -c 'SELECT pg_stat_statements_reset()' >/dev/null
    echo "=== Apache::Test suite: httpd on 127.0.0.1:$UB_HTTP_PORT, PostgreSQL on $UB_PG_SOCKET"
    result_file=$RUN_DIR/apache-test.result
    rm -f "$result_file"
    at_rc=0
    UB_RESULT_FILE=$result_file perl "$UB_ROOT/tests/TEST" "$@" || at_rc=$?
    if [[ -s $result_file ]]; then
        read -r at_passed at_failed < <(perl -ne 'print "$1 $2\n" if /passed=(\d+) failed=(\d+)/' "$result_file")
        passed=$((passed + at_passed))
        failed=$((failed + at_failed))
        if [[ $at_rc != 0 && $at_failed == 0 ]]; then
            failed=$((failed + 1))
        fi
    else
        echo "Apache::Test did not run the tests (exit status $at_rc): see tests/t/logs/error_log"
        failed=$((failed + 1))
    fi
    if [[ $asan == 1 ]]; then
        # Every report is a failure: sanitizer logs, or a report that reached
        # the error log (a child's stderr).
        reports=$(find "$ASAN_DIR" -type f | sort)
        log_hits=$(grep -cE 'AddressSanitizer|LeakSanitizer|runtime error:' "$UB_ROOT/tests/t/logs/error_log" 2>/dev/null || true)
        if [[ -n $reports || ${log_hits:-0} != 0 ]]; then
            echo "sanitizers: reports found"
            for f in $reports; do
                echo "--- $f"
                head -n 60 "$f"
            done
            [[ ${log_hits:-0} == 0 ]] || grep -E -A20 'AddressSanitizer|LeakSanitizer|runtime error:' \
                "$UB_ROOT/tests/t/logs/error_log" | head -n 80
            failed=$((failed + $(wc -w <<<"$reports") + ${log_hits:-0}))
        else
            echo "sanitizers: no ASan or UBSan report (httpd with $(basename "$UB_MODULE_SO") from .build-asan/)"
            passed=$((passed + 1))
        fi
    fi
fi
if [[ $failed != 0 && $sql_only == 0 && -f $UB_ROOT/tests/t/logs/error_log ]]; then
    echo "httpd error log: tests/t/logs/error_log"
fi

cleanup 2>&1
trap - EXIT INT TERM

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
