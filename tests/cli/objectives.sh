#!/usr/bin/env bash
# objectives.sh - what the archive shows matches what was optimised: a mul_energy search
# reports that objective by name in its log, generations table, pareto and report; the live
# minimum agrees with the generation's; a multiplier without a power figure is refused where
# energy counts it (search with an energy objective, energy --multipliers, also as a .bin).
set -u
. "$(dirname "$0")/common.sh"
export EVOAPPROXNAS_USER_LUTS=$tmp/user

python3 "$src/tests/cli/tiny_idx.py" "$tmp/data" 400 100
config() { # objectives, multipliers
  tiny_config name=obj seed=5 objectives="$1" multipliers="$2"
}
cd "$tmp" || exit 1
muls="mul8u_1JFF, mul8u_2AC, mul8u_DM1, mul8u_17KS"

# --- a mul_energy search: the objective by name everywhere --------------------------------
config "error, mul_energy" "$muls" >mul.yaml
check "mul_energy search" 0 "$bin" search mul.yaml --threads 2 --name m
cp "$out" log.txt
has "candidate lines give the objective's energy" "^gen 1 candidate 1/4 [0-9a-f]{16} error [0-9.]+ mul_energy [0-9.e+-]+ uJ"
has "generation lines name it" "^generation 3 done: .* min mul_energy [0-9.e+-]+ uJ"
python3 - log.txt <<'EOP' >"$out" 2>&1
import re, sys
live, bad = float("inf"), []
for line in open(sys.argv[1]):
    m = re.match(r"gen \d+ candidate \d+/\d+ \S+ error \S+ mul_energy (\S+) uJ", line)
    if m:
        live = min(live, float(m.group(1)))
    m = re.match(r"generation (\d+) done: .* min mul_energy (\S+) uJ", line)
    if m and "%.4g" % live != m.group(2):
        bad.append((m.group(1), "%.4g" % live, m.group(2)))
print("agree" if not bad else bad)
EOP
has "the live minimum agrees with each generation's" "^agree$"
n=$(sqlite3 -readonly results/m.db "SELECT count(*) FROM generations g WHERE
  abs(g.min_energy_pj - (SELECT min(mul_energy_pj) FROM members m WHERE
  m.generation = g.generation AND m.violation = 0)) < 1e-6")
[ "$n" = 4 ] && ok "generations.min_energy_pj is the population's least mul_energy" ||
  bad "generations.min_energy_pj: $n of 4 agree"
check "pareto" 0 "$bin" pareto results/m.db
has "pareto names mul_energy" "^hash +error +mul_energy_uJ "
check "pareto --csv" 0 "$bin" pareto results/m.db --csv
has "csv names mul_energy" "^hash,error,mul_energy_pj,"
sorted=$(tail -n +2 "$out" | cut -d, -f2 | sort -c -g 2>&1 && echo yes)
[ "$sorted" = yes ] && ok "pareto sorted by the first objective" || bad "pareto order"
check "report" 0 "$bin" report results/m.db -o m.svg
grep -q "multiplier energy per inference" m.svg && ok "report plots mul_energy" ||
  bad "report axis"

# --- multipliers without a power figure ---------------------------------------------------
"$bin" luts export mul8u_DM1 dm1.bin >/dev/null
"$bin" luts export mul8u_1JFF exact.bin >/dev/null
check "import without --power-mw" 0 "$bin" luts import dm1.bin --name nopower
config "error, energy" "mul8u_1JFF, nopower" >nopower.yaml
check "search with an energy objective refuses it" 2 "$bin" search nopower.yaml --name np
has "  ... naming the config line" "nopower.yaml:[0-9]+: search_space.multipliers: 'nopower' has no power figure"
[ ! -e results/np.db ] && ok "no archive left behind" || bad "results/np.db exists"
config "error, mul_energy" "mul8u_1JFF, nopower" >nopower2.yaml
check "so does a mul_energy objective" 2 "$bin" search nopower2.yaml --name np2
config "error, params" "mul8u_1JFF, nopower" >params.yaml
check "without an energy objective it is fine" 0 "$bin" search params.yaml --name p --quiet
check "energy --multipliers refuses it" 2 "$bin" energy --model lenet --multipliers nopower
has "  ... saying how to give one" "nopower has no power figure \(import it with"
check "energy --multipliers FILE.bin (as eval takes it)" 2 "$bin" energy --model lenet \
  --multipliers dm1.bin
has "  ... refused for want of power" "dm1.bin has no power figure"
check "energy --multipliers with an exact table file" 0 "$bin" energy --model lenet \
  --multipliers exact.bin
t1=$(grep '^total:' "$out")
check "energy --multipliers exact" 0 "$bin" energy --model lenet --multipliers exact
[ "$t1" = "$(grep '^total:' "$out")" ] && ok "an exact table file costs the exact energy" ||
  bad "exact.bin: $t1"

exit $fail
