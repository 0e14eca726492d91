#!/usr/bin/env bash
# devices.sh - end-to-end: `evoapproxnas devices` lists the CPU kernels and CUDA devices (or
# why CUDA is unavailable), as text and as JSON; bad usage exits 2.
set -u
bin=$1
fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" != "$want" ]; then echo "not ok - $what: exit $got, expected $want"; cat "$out"; fail=1
  else echo "ok - $what"; fi
}
check "devices" 0 "$bin" devices
grep -q '^cpu: kernels [a-z0-9]' "$out" || { echo "not ok - cpu line"; cat "$out"; fail=1; }
if grep -q '^cuda: unavailable: ' "$out"; then
  grep -Eq 'built without CUDA|no CUDA device' "$out" || { echo "not ok - reason"; fail=1; }
  echo "ok - no usable GPU, reason given"
else
  grep -Eq '^cuda: [1-9][0-9]* devices?$' "$out" || { echo "not ok - cuda line"; cat "$out"; fail=1; }
  grep -Eq '^  0: .*, compute [0-9]+\.[0-9]+, [0-9]+ SMs' "$out" || { echo "not ok - device 0"; fail=1; }
fi
check "devices --json" 0 "$bin" devices --json
python3 - "$out" <<'PY' || fail=1
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d["cpu"]["kernels"], str) and d["cpu"]["kernels"], d
c = d["cuda"]
assert isinstance(c["compiled"], bool) and isinstance(c["available"], bool), c
assert c["available"] == (len(c["devices"]) > 0), c
assert c["available"] or c["reason"], c
for dev in c["devices"]:
    assert dev["name"] and dev["sms"] > 0 and dev["memory_bytes"] > 0, dev
print("ok - JSON parses and is consistent")
PY
check "devices --help" 0 "$bin" devices --help
grep -q 'Usage: evoapproxnas devices' "$out" || { echo "not ok - help text"; fail=1; }
check "unknown option" 2 "$bin" devices --frobnicate
grep -q "unknown option '--frobnicate'" "$out" || { echo "not ok - message names the option"; cat "$out"; fail=1; }
check "extra argument" 2 "$bin" devices extra
exit $fail
