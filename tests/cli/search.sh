#!/usr/bin/env bash
# search.sh - end-to-end: search, status, pareto, report, finalize on a tiny synthetic IDX data
# set; resume after SIGKILL and after Ctrl-C reaches the archive of an uninterrupted run;
# bad configs, existing and foreign archives, newer schemas and bad options are refused.
set -u
. "$(dirname "$0")/common.sh"

# A tiny IDX data set: 10 classes of 8x8 images, class k = a bright 2x2 block at one of 10
# places, plus noise; 400 training and 100 test images.
python3 "$src/tests/cli/tiny_idx.py" "$tmp/data" 400 100

tiny_config finalize=2 >"$tmp/tiny.yaml"
cd "$tmp" || exit 1

wait_generations() { # db, count: waits until that many generations are committed
  for _ in $(seq 1 600); do
    [ "$(sqlite3 -readonly "$1" 'SELECT count(*) FROM generations' 2>/dev/null)" = "$2" ] &&
      return 0
    sleep 0.02
  done
  return 1
}

# --- an uninterrupted run and the read-only commands -------------------------------------
check "search runs to the end" 0 "$bin" search tiny.yaml --threads 2 --name a
has "plain log lines when not on a terminal" "^generation 3 done: "
has "search reports the archive" "search finished: 4 generations in results/a.db"
[ "$(sqlite3 -readonly results/a.db 'PRAGMA journal_mode')" = wal ] && ok "archive in WAL mode" ||
  bad "archive in WAL mode"
n=$(sqlite3 -readonly results/a.db "SELECT count(*) FROM population GROUP BY generation" | sort -u)
[ "$n" = 4 ] && ok "every generation keeps 4 members" || bad "population sizes: $n"
dup=$(sqlite3 -readonly results/a.db "SELECT count(*) FROM (SELECT hash FROM evaluations
  GROUP BY hash HAVING count(*) > 1)")
[ "$dup" = 0 ] && ok "no network evaluated twice" || bad "duplicate evaluations: $dup"
ex=$(sqlite3 -readonly results/a.db "SELECT count(*) FROM evaluations
  WHERE exact = 1 AND generation = 0")
[ "$ex" -ge 2 ] && ok "exact_share seeds exact-multiplier networks" || bad "exact networks: $ex"
check "status" 0 "$bin" status results/a.db
has "status shows the state" "run: +a \(finished\)"
has "status counts generations" "generations: +4 of 4 done"
check "pareto table" 0 "$bin" pareto results/a.db
has "pareto table header" "^hash +error +energy_uJ"
check "pareto --json" 0 "$bin" pareto results/a.db --json
python3 -c "import json,sys; f=json.load(open('$out')); assert f and all('hash' in r for r in f)" &&
  ok "pareto --json is a JSON array" || bad "pareto --json is a JSON array"
check "pareto --csv --generation 2" 0 "$bin" pareto results/a.db --csv --generation 2
has "CSV header" "^hash,error,energy_pj,mul_energy_saving_pct"
check "pareto: unknown generation" 2 "$bin" pareto results/a.db --generation 9
check "pareto: --json with --csv" 2 "$bin" pareto results/a.db --json --csv
check "report" 0 "$bin" report results/a.db -o plot.svg
python3 - plot.svg "$(sqlite3 -readonly results/a.db 'SELECT count(*) FROM archived')" <<'PY' &&
import sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg"
gray = [c for c in root.iter(ns + "circle") if c.get("r") == "3.5"]
assert len(gray) == int(sys.argv[2]) + 1, (len(gray), sys.argv[2])   # + the legend's
PY
  ok "report writes a valid SVG with every network" || bad "report writes a valid SVG"
has "report compares with exact networks" "best exact-multiplier network"
check "report default file" 0 "$bin" report results/a.db
[ -f results/a.svg ] && ok "report writes DB.svg by default" || bad "report default name"
check "finalize" 0 "$bin" finalize results/a.db --threads 2
has "finalize reports" "finalized [1-9][0-9]* networks"
t=$(sqlite3 -readonly results/a.db "SELECT count(*) FROM pareto_front WHERE test_accuracy IS NULL
  OR final_epochs != 2")
[ "$t" = 0 ] && ok "finalize records test accuracy for the whole front" || bad "finalize: $t left"
check "finalize again skips done networks" 0 "$bin" finalize results/a.db
has "nothing left to finalize" "finalized 0 networks"
check "resume of a finished search" 0 "$bin" resume results/a.db
has "resume says it is finished" "is finished"

# --- a live progress line on a terminal (script(1) gives the search a pseudo-terminal) ------
if command -v script >/dev/null 2>&1; then
  script -qc "'$bin' search tiny.yaml --threads 2 --name tty" /dev/null >tty.out 2>&1
  if grep -aq $'\r\033\[Kgen 2/3  candidate 4/4  training 0  best error [0-9.]*  min energy .* ETA ' tty.out &&
     ! grep -aq "^gen 2 candidate" tty.out; then
    ok "live progress line on a terminal"
  else
    bad "live progress line on a terminal"; od -c tty.out | head -20
  fi
fi

# --- SIGKILL at any moment: resume reaches the same archive --------------------------------
EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=2 "$bin" search tiny.yaml --threads 2 --name k \
  >/dev/null 2>&1 &
pid=$!
wait_generations results/k.db 2
kill -KILL $pid
wait $pid 2>/dev/null
g=$(sqlite3 -readonly results/k.db "SELECT count(*) || ' ' || status FROM generations, run")
[ "$g" = "2 running" ] && ok "SIGKILL mid-run leaves the committed generations" ||
  bad "after SIGKILL: $g"
check "resume after SIGKILL" 0 "$bin" resume results/k.db
same "resumed after SIGKILL = uninterrupted" results/k.db results/a.db

# --- Ctrl-C stops cleanly at the next candidate --------------------------------------------
# (held after its first generation, as the tiny search could otherwise end before the signal)
EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=1 "$bin" search tiny.yaml --threads 1 --name c >c.log 2>&1 &
pid=$!
wait_generations results/c.db 1
kill -INT $pid
wait $pid
rc=$?
[ $rc = 1 ] && ok "Ctrl-C exits with 1" || { bad "Ctrl-C exit $rc"; cat c.log; }
grep -q "interrupted by SIGINT; continue with: evoapproxnas resume results/c.db" c.log &&
  ok "Ctrl-C says how to resume" || { bad "Ctrl-C message"; cat c.log; }
[ "$(sqlite3 -readonly results/c.db 'SELECT status FROM run')" = interrupted ] &&
  ok "run marked interrupted" || bad "run marked interrupted"
check "resume after Ctrl-C" 0 "$bin" resume results/c.db
same "resumed after Ctrl-C = uninterrupted" results/c.db results/a.db

# --- refusals -------------------------------------------------------------------------------
check "existing archive, same config" 2 "$bin" search tiny.yaml --name a
has "hint to resume" "continue it with .evoapproxnas resume results/a.db"
sed 's/seed: 3/seed: 4/' tiny.yaml >other.yaml
check "existing archive, other config" 2 "$bin" search other.yaml --name a
has "different config refused" "was not made by this config"
cp results/a.db newer.db
sqlite3 newer.db "PRAGMA user_version = 99"
check "newer schema refused" 2 "$bin" resume newer.db
has "newer schema explained" "newer evoapproxnas"
check "resume: no archive" 2 "$bin" resume nowhere.db
echo "not a database at all, just some text that is long enough ......................." >junk.db
check "status: not a database" 2 "$bin" status junk.db
sed 's/epochs: 1,/epochs: 0,/' tiny.yaml >range.yaml
check "config value out of range" 2 "$bin" search range.yaml
has "file:line of the value" "range.yaml:12:[0-9]+: training.epochs: 0 is out of range"
sed 's/^seed: 3/sede: 3/' tiny.yaml >typo.yaml
check "config unknown key" 2 "$bin" search typo.yaml
has "did you mean" "typo.yaml:2:1: unknown key 'sede' \(did you mean 'seed'\?\)"
sed 's/mul8u_DM1/mul8u_NOPE/' tiny.yaml >mul.yaml
check "unknown multiplier" 2 "$bin" search mul.yaml
has "multiplier named with its line" "mul.yaml:10: search_space.multipliers: unknown multiplier 'mul8u_NOPE'"
# the whole message, once (it was formatted into the buffer it was read from: garbled)
[ "$(grep -c . "$out")" = 1 ] && grep -qE "^evoapproxnas: search: mul.yaml:10: search_space\.multipliers: unknown multiplier 'mul8u_NOPE' \(see 'evoapproxnas luts list'\)$" "$out" &&
  ok "unknown multiplier: one clean line" || bad "unknown multiplier: one clean line"
sed 's|path: data|path: nodata|' tiny.yaml >nodata.yaml
check "missing data set" 2 "$bin" search nodata.yaml
has "missing directory named" "dataset.path: '.*nodata' does not exist"
check "missing config file" 2 "$bin" search nothere.yaml

# --- mixed 8xN multipliers: each layer's weights take its multiplier's width ---------------
sed -e 's/\[mul8u_1JFF, mul8u_2AC, mul8u_DM1, mul8u_17KS\]/[mul8u_1JFF, mul8u_DM1, mul8x6u_5HD, mul8x4u_2UU, mul8x4u_0S7]/' \
    -e 's/generations: 3/generations: 1/' tiny.yaml >mixed.yaml
check "a mixed 8x8/8x6/8x4 search" 0 "$bin" search mixed.yaml --threads 2 --name mixed
check "pareto --json of a mixed search" 0 "$bin" pareto results/mixed.db --json
has "per-layer weight widths in pareto" '"weight_bits": \[[4-8](,[4-8])*\]'
has "saving against exact 8x8 in pareto" '"mul_energy_saving_8x8_pct": '
w=$(sqlite3 -readonly results/mixed.db "SELECT count(*) FROM evaluations
  WHERE weight_bits LIKE '%4%' OR weight_bits LIKE '%6%'")
[ "$w" -gt 0 ] && ok "narrow layers evaluated" || bad "no 8x6/8x4 layer evaluated"
printf 'quantization: {weight_bits: 8}\n' >>mixed.yaml
check "weight_bits with a mixed list" 2 "$bin" search mixed.yaml --name mixed2
has "the hint to drop weight_bits" "takes 6-bit weights, but quantization.weight_bits is 8 \(remove"

# --- an archive of schema 1 is upgraded in place --------------------------------------------
cp results/a.db old.db
sqlite3 old.db "DROP VIEW members; CREATE VIEW members AS SELECT p.generation, p.individual,
  p.rank, p.crowding, i.genome, e.hash, e.error, e.accuracy, e.energy_pj, e.mul_energy_pj,
  e.mul_energy_exact_pj, e.params, e.macs, e.exact, e.violation, e.obj0, e.obj1, e.obj2, e.obj3,
  e.multipliers, e.summary, e.test_accuracy FROM population p JOIN individuals i
  ON i.id = p.individual JOIN evaluations e ON e.hash = i.hash;
  ALTER TABLE evaluations DROP COLUMN weight_bits;
  ALTER TABLE evaluations DROP COLUMN mul_energy_exact8_pj;
  ALTER TABLE evaluations DROP COLUMN energy_exact8_pj; ALTER TABLE run DROP COLUMN strategy;
  PRAGMA user_version = 1;"
[ "$(sqlite3 -readonly old.db 'PRAGMA user_version')" = 1 ] || bad "making a schema-1 archive"
check "pareto on a schema-1 archive" 0 "$bin" pareto old.db --csv --generation 1
[ "$(sqlite3 -readonly old.db 'PRAGMA user_version')" = 3 ] &&
  ok "schema 1 upgraded to 3" || bad "schema version after the upgrade"
[ "$(sqlite3 -readonly old.db 'SELECT strategy FROM run')" = nsga2 ] &&
  ok "an old run is an NSGA-II run" || bad "strategy after the upgrade"
[ "$(sqlite3 -readonly old.db "SELECT count(*) FROM evaluations WHERE weight_bits = '[]'")" = \
  "$(sqlite3 -readonly old.db 'SELECT count(*) FROM evaluations')" ] &&
  ok "old rows keep an empty width list" || bad "old rows after the upgrade"

# --- an archive of schema 2 is upgraded in place (the strategy column) -----------------------
cp results/a.db old2.db
sqlite3 old2.db "ALTER TABLE run DROP COLUMN strategy; PRAGMA user_version = 2;"
check "status on a schema-2 archive" 0 "$bin" status old2.db
[ "$(sqlite3 -readonly old2.db 'PRAGMA user_version')" = 3 ] &&
  ok "schema 2 upgraded to 3" || bad "schema version after the 2 -> 3 upgrade"
has "status names the strategy" "strategy nsga2"
sqlite3 old2.db "UPDATE run SET strategy = 'annealing'"
check "an unknown strategy" 2 "$bin" status old2.db
has "the damage named" "table run: an unknown strategy"

# --- options and help ----------------------------------------------------------------------
for cmd in search resume status pareto report finalize; do
  check "$cmd --help" 0 "$bin" $cmd --help
  check "$cmd: bad option" 2 "$bin" $cmd --frobnicate x
  check "$cmd: no argument" 2 "$bin" $cmd
done
check "search --threads 0" 2 "$bin" search tiny.yaml --threads 0
check "search --name with a slash" 2 "$bin" search tiny.yaml --name a/b
exit $fail
