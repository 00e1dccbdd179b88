#!/usr/bin/env bash
# make fuzz: runs the libFuzzer targets of the core (tests/fuzz/*.c, built by
# `make fuzz-build` into .build/fuzz/ with ASan and UBSan) one after the
# other, each for SECONDS.
#
#   tests/tools/fuzz.sh [SECONDS] [TARGET...]     (default: $FUZZ_SECONDS or 60, every target)
#   tests/tools/fuzz.sh --coverage                line coverage of src/ by the corpora
#
# Each target starts from its seed corpus (tests/fuzz/corpus/NAME, never
# written to) and the inputs earlier runs found (.build/fuzz/corpus/NAME, kept
# between runs, so long runs build on each other). A crash, a sanitizer
# report, a broken invariant (abort), a leak or an input slower than 10 s
# fails the run: the input is kept as .build/fuzz/artifacts/NAME-crash-...
# and the exit status is non-zero. To keep it as a regression seed, copy it
# into tests/fuzz/corpus/NAME/.
#
# The figures (executions, executions per second, libFuzzer's cov and ft
# counters, corpus size) go to stdout and to .build/fuzz/summary.txt.
set -euo pipefail

UB_PROG=fuzz.sh
# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib.sh"
cd "$UB_ROOT"

OUT=$UB_ROOT/.build/fuzz
ALL_TARGETS=(fuzz_put_batch fuzz_account_request fuzz_headers fuzz_jdoc fuzz_scim_filter)

if [[ ${1:-} == --coverage ]]; then
    # A build with clang's source-based coverage runs every corpus input once.
    cov=$OUT/coverage
    mkdir -p "$cov"
    rm -f "$cov"/*.profraw
    objs=()
    for t in "${ALL_TARGETS[@]}"; do
        [[ -x $OUT/$t-cov ]] || ub_die "$OUT/$t-cov is missing: make fuzz-coverage builds it"
        LLVM_PROFILE_FILE="$cov/$t-%p.profraw" "$OUT/$t-cov" -runs=0 \
            "tests/fuzz/corpus/${t#fuzz_}" "$OUT/corpus/${t#fuzz_}" >/dev/null 2>&1 || true
        objs+=(-object "$OUT/$t-cov")
    done
    llvm-profdata-14 merge -sparse "$cov"/*.profraw -o "$cov/all.profdata"
    llvm-cov-14 report "${objs[@]:1}" -instr-profile="$cov/all.profdata" src/*.c |
        tee "$cov/report.txt"
    exit 0
fi

seconds=${1:-${FUZZ_SECONDS:-60}}
[[ $seconds =~ ^[0-9]+$ ]] || ub_die "usage: fuzz.sh [SECONDS] [TARGET...]"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${ALL_TARGETS[@]}")

mkdir -p "$OUT/artifacts"
summary=$OUT/summary.txt
: >"$summary"
failed=0
for t in "${targets[@]}"; do
    name=${t#fuzz_}
    bin=$OUT/$t
    [[ -x $bin ]] || ub_die "$bin is missing: make fuzz-build builds it"
    work=$OUT/corpus/$name
    mkdir -p "$work"
    log=$OUT/$t.log
    echo "=== $t: ${seconds} s (seeds tests/fuzz/corpus/$name, corpus $work, log $log)"
    rc=0
    # -timeout: an input taking 10 s is a hang; -rss_limit_mb: a runaway
    # allocation is a failure too; -max_len: 10,000-deep nesting fits.
    "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -max_len=32768 -dict="tests/fuzz/$name.dict" -artifact_prefix="$OUT/artifacts/$t-" \
        "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1 || true)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
    line="$t: ${execs:-?} executions (${seconds} s allowed, ${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?} inputs${art:+, FAILED on $art}, exit status $rc"
    echo "$line" | tee -a "$summary"
    if [[ $rc != 0 ]]; then
        failed=$((failed + 1))
        echo "$t FAILED: the end of $log:"
        grep -E 'ERROR|SUMMARY|invariant broken|runtime error|Test unit written to|artifact' "$log" | head -n 20 || true
        tail -n 30 "$log"
    fi
done
echo "fuzz: ${#targets[@]} targets, $failed failed" | tee -a "$summary"
[[ $failed == 0 ]]
