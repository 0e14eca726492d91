#!/usr/bin/env bash
# version.sh - end-to-end: --version, --help, unknown commands and their exit codes.
set -u
bin=$1
fail=0
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >/tmp/cli_version.$$ 2>&1; local got=$?
  if [ "$got" != "$want" ]; then echo "not ok - $what: exit $got, expected $want"; cat /tmp/cli_version.$$; fail=1
  else echo "ok - $what"; fi
}
check "--version" 0 "$bin" --version
grep -q '^evoapproxnas 0\.' /tmp/cli_version.$$ || { echo "not ok - version line"; fail=1; }
check "--help" 0 "$bin" --help
check "no command" 2 "$bin"
check "unknown command" 2 "$bin" frobnicate
grep -q "unknown command 'frobnicate'" /tmp/cli_version.$$ || { echo "not ok - message names the command"; fail=1; }
check "version --help" 0 "$bin" version --help
check "version extra arg" 2 "$bin" version extra
EVOAPPROXNAS_KERNELS=avx9000 "$bin" version >/tmp/cli_version.$$ 2>&1 && \
  grep -q "warning: EVOAPPROXNAS_KERNELS=avx9000 is unknown" /tmp/cli_version.$$ &&
  echo "ok - unknown kernel set named in a warning" ||
  { echo "not ok - unknown kernel set named in a warning"; fail=1; }
EVOAPPROXNAS_KERNELS=scalar "$bin" version >/tmp/cli_version.$$ 2>&1 &&
  grep -q "^kernels: scalar" /tmp/cli_version.$$ && ! grep -q warning /tmp/cli_version.$$ &&
  echo "ok - EVOAPPROXNAS_KERNELS=scalar forces the scalar set" ||
  { echo "not ok - EVOAPPROXNAS_KERNELS=scalar"; fail=1; }
rm -f /tmp/cli_version.$$
exit $fail
