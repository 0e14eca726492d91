#!/usr/bin/env bash
# test.sh - set up and build (scripts/setup.sh), run the whole test suite, then the unit and
# CLI tests again in an AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan/, with
# LeakSanitizer), then every fuzz harness for a few seconds (scripts/fuzz.sh, build-fuzz/).
# Ends with the line "N passed, N failed" and exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

meson test -C build --print-errorlogs --num-processes 2
status=$?

if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dcuda=disabled \
    >/dev/null || status=1
fi
if ninja -C build-asan >/dev/null; then
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  EVOAPPROXNAS_SANITIZED=1 \
    meson test -C build-asan --suite unit --suite cli --print-errorlogs --num-processes 2 \
    --timeout-multiplier 3 || status=1
else
  echo "test: the sanitizer build failed"
  status=1
fi

# Parsers against regressions at landing: each harness for 5 s on its seed corpus (77 =
# skipped: no clang or no AVX-512 for the clang build of the kernels).
scripts/fuzz.sh 5
fuzz=$?
case $fuzz in
  0) fuzz_passed=1 fuzz_failed=0 ;;
  77) fuzz_passed=0 fuzz_failed=0 ;;
  *) fuzz_passed=0 fuzz_failed=1 status=1 ;;
esac

FUZZ_PASSED=$fuzz_passed FUZZ_FAILED=$fuzz_failed \
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, os, sys
passed = int(os.environ["FUZZ_PASSED"])
failed = int(os.environ["FUZZ_FAILED"])
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line)["result"]
        if r == "OK":
            passed += 1
        elif r in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"):
            failed += 1
print(f"{passed} passed, {failed} failed")
PY
exit $status
