#!/usr/bin/env bash
# modelsearch.sh - end-to-end Model Search (strategy: model_search) on a tiny synthetic IDX
# data set: constrained descent archives no network over its largest budget as feasible and
# keeps each descent proposal within its budget; ensembles of the best towers under each
# budget are archived as networks of their own; the same archive with 1 or 2 threads and
# after a SIGKILL between batches or in the middle of one; status, pareto, report, show,
# export (weights, ONNX), eval and finalize on the archive; config errors.
set -u
. "$(dirname "$0")/common.sh"

python3 "$src/tests/cli/tiny_idx.py" "$tmp/data" 400 100
{ tiny_config name=ms seed=5 epochs=2 nsga2=none objectives="error, mul_energy" finalize=1
  cat <<EOF2
strategy: model_search
model_search:
  algorithm: constrained_descent
  trials: 16
  random_trials: 4
  exact_share: 0.5
  batch: 4
  top_k: 2
  max_blocks: 4
  budget: {kind: mul_energy, values: [2500, 5000, 10000]}
  ensemble: 2
EOF2
} >"$tmp/ms.yaml"
cd "$tmp" || exit 1

wait_sql() { # db, query, value
  for _ in $(seq 1 1500); do
    [ "$(sqlite3 -readonly "$1" "$2" 2>/dev/null)" = "$3" ] && return 0
    sleep 0.02
  done
  return 1
}

# --- an uninterrupted run ------------------------------------------------------------------
check "model search runs to the end" 0 "$bin" search ms.yaml --threads 2 --name a
has "one line per batch" "^batch 3 done \(4 of 4, trials 12-15\): "
has "the end" "search finished: 16 trials in 4 batches in results/a.db"
q() { sqlite3 -readonly results/a.db "$1"; }
[ "$(q 'SELECT strategy FROM run')" = model_search ] && ok "run.strategy" || bad "run.strategy"
[ "$(q 'SELECT count(*) FROM individuals WHERE generation < 4')" = 16 ] &&
  ok "16 proposals archived" || bad "individuals: $(q 'SELECT count(*) FROM individuals')"
[ "$(q 'SELECT count(*) FROM generations')" = 5 ] && ok "a generation per batch, one for the \
ensembles" || bad "generations"
# ensembles: generation 4, one per budget with two towers whose costs fit it
n=$(q "SELECT count(*) FROM individuals WHERE generation = 4 AND id >= 16
       AND genome LIKE 'ensemble stem@% | stem@%'")
[ "$n" -ge 1 ] && ok "ensembles archived ($n)" || bad "no ensemble"
n=$(q "SELECT count(*) FROM individuals i JOIN evaluations e ON e.hash = i.hash
       JOIN individuals p1 ON p1.id = i.parent1 JOIN evaluations e1 ON e1.hash = p1.hash
       JOIN individuals p2 ON p2.id = i.parent2 JOIN evaluations e2 ON e2.hash = p2.hash
       WHERE i.generation = 4 AND abs(e.mul_energy_pj - e1.mul_energy_pj - e2.mul_energy_pj)
         < 1e-6 * e.mul_energy_pj AND e.params = e1.params + e2.params AND e.violation = 0
         AND e.summary LIKE 'ensemble of 2: %'")
[ "$n" = "$(q 'SELECT count(*) FROM individuals WHERE generation = 4')" ] &&
  ok "an ensemble's multiplier energy and parameters are its members' sums" ||
  bad "ensemble sums: $n"
n=$(q "SELECT count(*) FROM evaluations WHERE mul_energy_pj > 10000 AND violation <= 0")
[ "$n" = 0 ] && ok "no network over the largest budget is feasible" || bad "over budget: $n"
n=$(q "SELECT count(*) FROM evaluations WHERE mul_energy_pj > 10000")
[ "$n" -ge 1 ] && ok "random towers over the budget are archived as infeasible" ||
  bad "no over-budget random tower to check ($n)"
n=$(q "SELECT count(*) FROM pareto_front WHERE mul_energy_pj > 10000")
[ "$n" = 0 ] && ok "the front keeps within the budget" || bad "front over budget: $n"
# descent trials 4..15 split over the budgets: 4..7 <= 2500, 8..11 <= 5000, 12..15 <= 10000
n=$(q "SELECT count(*) FROM individuals i JOIN evaluations e ON e.hash = i.hash WHERE
       (i.id BETWEEN 4 AND 7 AND e.mul_energy_pj > 2500) OR
       (i.id BETWEEN 8 AND 11 AND e.mul_energy_pj > 5000) OR
       (i.id >= 12 AND e.mul_energy_pj > 10000)")
[ "$n" = 0 ] && ok "every descent proposal within its budget" || bad "over their budget: $n"
n=$(q "SELECT count(*) FROM individuals WHERE id >= 4 AND parent1 >= id")
[ "$n" = 0 ] && ok "parents are earlier trials" || bad "parents: $n"
[ "$(q "SELECT count(*) FROM individuals WHERE generation < 4
       AND genome NOT LIKE 'stem@% fc@%'")" = 0 ] &&
  ok "towers archived as text" || bad "genome texts"
[ "$(q 'SELECT count(*) FROM evaluations WHERE exact = 1')" -ge 2 ] &&
  ok "exact_share seeds exact towers" || bad "exact towers"

# --- the read-only commands and the network's weights --------------------------------------
check "status" 0 "$bin" status results/a.db
has "status names the strategy" "strategy model_search"
has "status says what a generation is" "5 of 5 done .*each batch of proposals, and its ensembles"
check "pareto" 0 "$bin" pareto results/a.db --csv
check "pareto --generation 1" 0 "$bin" pareto results/a.db --generation 1
check "report" 0 "$bin" report results/a.db -o plot.svg
h=$(q "SELECT hash FROM pareto_front ORDER BY error LIMIT 1")
check "show" 0 "$bin" show results/a.db "$h"
has "show lists the tower's layers" "^ +0 conv "
check "export" 0 "$bin" export results/a.db "$h" --out n.w
check "eval of the exported tower" 0 "$bin" eval --weights n.w --archive results/a.db
acc=$(q "SELECT printf('%.6f', 1 - error) FROM evaluations WHERE hash = '$h'")
has "the exported tower reaches its archived accuracy" "as-trained accuracy: $acc"
check "export --format onnx" 0 "$bin" export results/a.db "$h" --format onnx --out n.onnx
e=$(q "SELECT hash FROM individuals WHERE generation = 4 ORDER BY id LIMIT 1")
check "show an ensemble" 0 "$bin" show results/a.db "$e"
has "its last layer sums the logits" "^ +[0-9]+ add +10x1x1 +10x1x1"
check "export an ensemble" 0 "$bin" export results/a.db "$e" --out e.w
check "eval of the exported ensemble" 0 "$bin" eval --weights e.w --archive results/a.db
acc=$(q "SELECT printf('%.6f', 1 - error) FROM evaluations WHERE hash = '$e'")
has "the exported ensemble reaches its archived accuracy" "as-trained accuracy: $acc"
ort=${XDG_CACHE_HOME:-$HOME/.cache}/evoapproxnas/onnxruntime
if NODE_PATH=$ort/node_modules node -e "require('onnxruntime-node')" 2>/dev/null; then
  for x in "$h" "$e"; do
    "$bin" export results/a.db "$x" --from search --format onnx --float --out f.onnx \
      --reference f.json >"$out" 2>&1 || bad "export $x as float ONNX"
    NODE_PATH=$ort/node_modules node "$src/tests/cli/onnx_run.js" f.onnx f.json >"$out" 2>&1
    d=$(sed -n 's/^max_abs_diff \([^ ]*\) .*/\1/p' "$out")
    [ -n "$d" ] && python3 -c "import sys; sys.exit(0 if float('$d') <= 1e-4 else 1)" &&
      ok "onnxruntime logits of $x match the engine's ($d)" || bad "onnxruntime on $x"
  done
else
  echo "ok - # SKIP onnxruntime-node not installed (tests/cli/export.sh installs it)"
fi
check "finalize --save" 0 "$bin" finalize results/a.db --save fw
[ -f "fw/$h.w" ] && ok "finalize keeps the tower's weights" || bad "no fw/$h.w"

# --- same archive with another thread count ------------------------------------------------
check "one thread" 0 "$bin" search ms.yaml --threads 1 --name t1
same "1 thread = 2 threads" results/t1.db results/a.db

# --- the same archive under MPI (its worker ranks train the towers) ------------------------
if command -v mpirun >/dev/null 2>&1 && "$bin" version | grep -q "MPI: yes"; then
  check "model search under mpirun -n 3" 0 env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    mpirun --oversubscribe --allow-run-as-root -n 3 "$bin" search ms.yaml --threads 1 --name mpi3
  has "worker ranks trained towers" "\(another rank\)"
  same "mpirun -n 3 gives the single-process archive" results/mpi3.db results/a.db
else
  echo "# mpirun or an MPI build missing: the MPI part is skipped"
fi

# --- SIGKILL between batches, and in the middle of one -------------------------------------
EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=2 "$bin" search ms.yaml --threads 2 --name k \
  >/dev/null 2>&1 &
pid=$!
wait_sql results/k.db "SELECT count(*) FROM generations" 2
kill -KILL $pid
wait $pid 2>/dev/null
[ "$(sqlite3 -readonly results/k.db 'SELECT count(*) FROM generations')" = 2 ] &&
  ok "SIGKILL after batch 1 leaves two batches" || bad "batches after SIGKILL"
check "resume after SIGKILL" 0 "$bin" resume results/k.db
has "resume says where" "resuming the model search after generation 1 of 4"
same "resumed after SIGKILL = uninterrupted" results/k.db results/a.db
# after the last batch, before the ensembles
EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=4 "$bin" search ms.yaml --threads 2 --name l \
  >/dev/null 2>&1 &
pid=$!
wait_sql results/l.db "SELECT count(*) FROM generations" 4
kill -KILL $pid
wait $pid 2>/dev/null
check "resume before the ensembles" 0 "$bin" resume results/l.db
same "resumed before the ensembles = uninterrupted" results/l.db results/a.db
# held in epoch 2 of the first batch's candidates: their checkpoints are kept
EVOAPPROXNAS_HOLD_AT_BATCH=2:5 "$bin" search ms.yaml --threads 2 --name m >m.log 2>&1 &
pid=$!
for _ in $(seq 1 1500); do
  [ "$(grep -c "held at epoch 2 batch 5" m.log)" = 2 ] && break
  sleep 0.02
done
[ "$(grep -c "held at epoch 2 batch 5" m.log)" = 2 ] && ok "two candidates held in epoch 2" ||
  { out=m.log; bad "hold in epoch 2"; }
kill -KILL $pid
wait $pid 2>/dev/null
[ "$(sqlite3 -readonly results/m.db 'SELECT count(*) FROM checkpoints')" = 2 ] &&
  ok "SIGKILL in a batch keeps the candidates' checkpoints" || bad "checkpoints after SIGKILL"
check "resume after SIGKILL in a batch" 0 "$bin" resume results/m.db
same "resumed mid-batch = uninterrupted" results/m.db results/a.db

# --- config errors -------------------------------------------------------------------------
sed 's/algorithm: constrained_descent/algorithm: constrained/' ms.yaml >bad.yaml
check "unknown algorithm" 2 "$bin" search bad.yaml
has "names the file, line and choices" "bad.yaml:17:.*'constrained' is not one of"
sed '/budget:/d' ms.yaml >bad2.yaml
check "constrained descent without a budget" 2 "$bin" search bad2.yaml
has "says a budget is needed" "bad2.yaml:[0-9]+:.*needs a 'budget'"
exit $fail
