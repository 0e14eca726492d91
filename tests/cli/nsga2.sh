#!/usr/bin/env bash
# nsga2.sh - end-to-end: `evoapproxnas nsga2` options, errors, text and JSON output, determinism.
set -u
bin=$1
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_nsga2.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" != "$want" ]; then echo "not ok - $what: exit $got, expected $want"; cat "$out"; fail=1
  else echo "ok - $what"; fi
}
expect() { # description, grep pattern (in the last output)
  if grep -q -- "$2" "$out"; then echo "ok - $1"; else echo "not ok - $1"; cat "$out"; fail=1; fi
}

check "--help" 0 "$bin" nsga2 --help
expect "help lists the problems" "zdt1|zdt2|zdt3|zdt4|zdt6|dtlz1"
check "no --problem" 2 "$bin" nsga2
expect "message asks for --problem" "--problem is required"
check "unknown problem" 2 "$bin" nsga2 --problem zdt5
expect "message names the problem" "unknown test problem 'zdt5'"
check "ZDT with 3 objectives" 2 "$bin" nsga2 --problem zdt1 --objectives 3
check "population 1" 2 "$bin" nsga2 --problem zdt1 --pop 1
expect "message names the option" "--pop"
check "non-numeric generations" 2 "$bin" nsga2 --problem zdt1 --gens 10x
check "unknown option" 2 "$bin" nsga2 --problem zdt1 --frobnicate
check "missing value" 2 "$bin" nsga2 --problem zdt1 --seed
check "extra argument" 2 "$bin" nsga2 --problem zdt1 extra

# ZDT1 at the settings: a near-optimal front of 100 points
check "zdt1 run" 0 "$bin" nsga2 --problem zdt1 --seed 3
cp "$out" "$tmp/zdt1.txt"
points=$(grep -vc '^#' "$tmp/zdt1.txt")
if [ "$points" = 100 ]; then echo "ok - 100 front points"; else echo "not ok - $points front points"; fail=1; fi
hv=$(sed -n 's/^# hypervolume \([0-9.]*\).*/\1/p' "$tmp/zdt1.txt")
if awk -v v="$hv" 'BEGIN { exit !(v >= 0.865 && v <= 0.871409) }'; then echo "ok - hypervolume $hv"
else echo "not ok - hypervolume '$hv'"; fail=1; fi
# every point lies near f2 = 1 - sqrt(f1)
if grep -v '^#' "$tmp/zdt1.txt" | awk '{ d = $2 - (1 - sqrt($1)); if (d < 0 || d > 0.02) bad = 1 } END { exit bad }'
then echo "ok - points on the ZDT1 front"; else echo "not ok - points off the ZDT1 front"; fail=1; fi
check "same seed, same output" 0 "$bin" nsga2 --problem zdt1 --seed 3
if cmp -s "$out" "$tmp/zdt1.txt"; then echo "ok - deterministic"; else echo "not ok - output differs"; fail=1; fi
check "other seed" 0 "$bin" nsga2 --problem zdt1 --seed 4
if cmp -s "$out" "$tmp/zdt1.txt"; then echo "not ok - seed ignored"; fail=1; else echo "ok - seed matters"; fi

# JSON with decision vectors, DTLZ2 with 4 objectives
check "dtlz2 json" 0 "$bin" nsga2 --problem dtlz2 --objectives 4 --pop 40 --gens 30 --json
expect "json names the problem" '"problem":"dtlz2","objectives":4,"variables":13'
expect "json reports normalization" '"normalized":true'
if command -v python3 >/dev/null; then
  if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["front"] and all(len(p["f"]) == 4 and len(p["x"]) == 13 for p in d["front"])
assert d["reference_point"] == [1.1] * 4 and d["evaluations"] == 40 * 31
assert 0 < d["hypervolume"] and 0 < d["igd"]
' "$out"; then echo "ok - json parses and is complete"; else echo "not ok - bad json"; cat "$out"; fail=1; fi
fi
check "dtlz7 short run" 0 "$bin" nsga2 --problem dtlz7 --pop 20 --gens 5
expect "igd line" "^# igd "
exit $fail
