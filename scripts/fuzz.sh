#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer harnesses (tests/fuzz/, a clang + ASan + UBSan build in
# build-fuzz/) and run each one for SECONDS (default 60) on a copy of its seed corpus.
# Ends with one line per harness (executions, coverage) and exits 1 when any harness found a
# crash, leak, timeout or out-of-memory input (kept in build-fuzz/findings/<harness>/).
#
# Usage: scripts/fuzz.sh [SECONDS] [HARNESS...]     e.g. scripts/fuzz.sh 120 idx weights_crc
# Environment: FUZZ_MERGE=1 minimizes the seed corpus tests/fuzz/corpus/<harness>/ with what
#              the run found (libFuzzer -merge=1), to commit.
#              BUILD_DIR (default build-fuzz)
# Exit codes: 0 no findings, 1 findings or a failed build, 77 skipped (no clang/libFuzzer, or
# a CPU without the AVX-512 the engine's kernels are compiled with here).
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
build=${BUILD_DIR:-build-fuzz}
all=(config accel layers mul_import manifest idx cifar weights weights_crc archive genome tower)
harnesses=("${@:-${all[@]}}")

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang not found (Debian: clang libclang-rt-14-dev); skipped"
  exit 77
fi
# clang ignores '#pragma GCC target': the kernel files get their ISA from the command line,
# so the build needs a CPU with these extensions (the kernels are still chosen at run time).
isa=(avx2 fma avx512f avx512bw avx512vl avx512dq avx512vbmi avx512vnni)
for f in avx2 fma avx512f avx512bw avx512vl avx512dq avx512vbmi avx512_vnni; do  # as in cpuinfo
  if ! grep -qw "$f" /proc/cpuinfo 2>/dev/null; then
    echo "fuzz: this CPU lacks $f; skipped"
    exit 77
  fi
done

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" -Dfuzz=enabled -Dcuda=disabled -Dtests=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args="$(printf -- '-m%s ' "${isa[@]}")" >/dev/null || { echo "fuzz: setup failed"; exit 1; }
fi
ninja -C "$build" $(printf 'tests/fuzz/fuzz_%s ' "${harnesses[@]}") >/dev/null ||
  { echo "fuzz: build failed (ninja -C $build)"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
summary=()
for h in "${harnesses[@]}"; do
  exe=$build/tests/fuzz/fuzz_$h
  seeds=tests/fuzz/corpus/$h
  work=$build/corpus/$h
  findings=$build/findings/$h
  mkdir -p "$work" "$findings"
  log=$build/fuzz_$h.log
  # new inputs go to the work corpus; the seeds are read only
  "$exe" "$work" "$seeds" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$findings/" >"$log" 2>&1
  rc=$?
  line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  if [ $rc -ne 0 ]; then
    status=1
    summary+=("$h: FINDING (exit $rc), see $log and $findings/")
  else
    summary+=("$h: ${execs:-?} executions in ${seconds}s; $(echo "$line" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*')")
  fi
  if [ "${FUZZ_MERGE:-0}" = 1 ] && [ $rc -eq 0 ]; then
    merged=$build/merged/$h
    rm -rf "$merged" && mkdir -p "$merged"
    "$exe" -merge=1 -max_len=65536 "$merged" "$seeds" "$work" >>"$log" 2>&1 &&
      rm -rf "$seeds" && mv "$merged" "$seeds"
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
