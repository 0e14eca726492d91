#!/usr/bin/env bash
# scaling.sh - end-to-end: `evoapproxnas scaling` on the archive of a tiny search and on its
# config calibrated by that archive: the table and JSON, efficiencies in (0, 1], asynchronous
# never below generational, one rank at efficiency 1; bad archives, configs and options exit 2.
set -u
. "$(dirname "$0")/common.sh"

python3 "$src/tests/cli/tiny_idx.py" "$tmp/data" 400 100
tiny_config >"$tmp/tiny.yaml"
cd "$tmp" || exit 1

# Checks a --json answer: every efficiency in (0, 1], asynchronous >= generational, and the
# candidate count ($2, when given).
valid() { # description, [candidates]
  if python3 - "$out" "${2:-}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if sys.argv[2]: assert r["candidates"] == int(sys.argv[2]), r["candidates"]
assert r["table"]
for row in r["table"]:
    g, a = row["generational"], row["asynchronous"]
    for m in (g, a):
        assert 0 < m["efficiency"] <= 1 + 1e-12, row
        assert abs(m["efficiency"] + m["idle_share"] + m["overhead_share"] - 1) < 1e-9, row
    assert a["efficiency"] >= g["efficiency"] - 1e-12, row
    assert a["makespan_s"] <= g["makespan_s"] + 1e-9, row
PY
  then ok "$1"; else bad "$1"; fi
}

check "--help" 0 "$bin" scaling --help
has "help explains the two modes" "asynchronous +the same candidates"
has "help states the calibration's assumptions" "proportional to MACs x images x epochs"
check "the tiny search" 0 "$bin" search tiny.yaml --threads 2 --name a --quiet
trained=$(sqlite3 -readonly results/a.db 'SELECT count(*) FROM evaluations')

check "scaling of an archive" 0 "$bin" scaling results/a.db
has "header counts the trained candidates" "^scaling model of results/a.db: $trained trained candidates in 4 generations \(population 4\)"
has "says what a rank is" "^costs recorded with 2 threads, one candidate per thread"
has "table header" "^ranks +makespan +efficiency +idle +makespan +efficiency +idle"
has "default ranks end at 256" "^ +256 "
has "the population is marked" "^ +4\* "
check "scaling --json" 0 "$bin" scaling results/a.db --json
valid "archive: efficiencies in (0, 1], async >= generational" "$trained"
check "one rank, no overhead" 0 "$bin" scaling results/a.db --ranks 1,3,100 --overhead 0 --json
python3 -c "
import json; r = json.load(open('$out'))
assert [x['ranks'] for x in r['table']] == [1, 3, 100]
one = r['table'][0]
for m in ('generational', 'asynchronous'):
    assert abs(one[m]['efficiency'] - 1) < 1e-12 and abs(one[m]['makespan_s'] - r['work_s']) < 1e-9
" && ok "one rank: efficiency 1, makespan = sum of train_s" || bad "one rank"

check "calibrated config" 0 "$bin" scaling --config tiny.yaml --calibrate results/a.db --json
valid "config: efficiencies in (0, 1], async >= generational" 16
cp "$out" cal1.json
check "calibrated config again" 0 "$bin" scaling --config tiny.yaml --calibrate results/a.db --json
cmp -s "$out" cal1.json && ok "same seed, same prediction" || bad "same seed, same prediction"
check "another --seed" 0 "$bin" scaling --config tiny.yaml --calibrate results/a.db --json --seed 9
cmp -s "$out" cal1.json && bad "--seed draws other genomes" || ok "--seed draws other genomes"
check "calibrated table" 0 "$bin" scaling --config tiny.yaml --calibrate results/a.db
has "states the fit" "^fit: .* s per training MAC = total train_s / total MACs x 200 images x 1 epochs of the $trained trained candidates of results/a.db"

# --- bad input ------------------------------------------------------------------------------
check "missing archive" 2 "$bin" scaling nosuch.db
has "names the file" "nosuch.db"
echo "not an archive" >text.db
check "not an archive" 2 "$bin" scaling text.db
has "names the file" "text.db"
for r in 0 x 2,x 2,,4 ,2 2, "" -3 1000001; do
  check "--ranks '$r'" 2 "$bin" scaling results/a.db --ranks "$r"
done
has "names the option" "--ranks"
check "negative overhead" 2 "$bin" scaling results/a.db --overhead -1
check "--config without --calibrate" 2 "$bin" scaling --config tiny.yaml
check "--calibrate without --config" 2 "$bin" scaling --calibrate results/a.db
check "archive and config" 2 "$bin" scaling results/a.db --config tiny.yaml --calibrate results/a.db
check "--seed without --config" 2 "$bin" scaling results/a.db --seed 3
check "missing config" 2 "$bin" scaling --config nosuch.yaml --calibrate results/a.db
has "names the config" "nosuch.yaml"
check "missing calibration archive" 2 "$bin" scaling --config tiny.yaml --calibrate nosuch.db
cp results/a.db empty.db
sqlite3 empty.db "DELETE FROM population; DELETE FROM generations; DELETE FROM individuals;
  DELETE FROM evaluations;"
check "an archive without trained candidates" 2 "$bin" scaling empty.db
has "says so" "empty.db: no trained candidates"
check "unknown option" 2 "$bin" scaling results/a.db --frobnicate
check "no arguments" 2 "$bin" scaling
exit $fail
