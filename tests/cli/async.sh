#!/usr/bin/env bash
# async.sh - end-to-end: nsga2.mode asynchronous with one worker thread is reproducible,
# commits one generation per arrival with the planned number of evaluations, and resumes after
# SIGKILL (held after a commit, or killed mid-training) to the uninterrupted archive; with two
# local threads and under `mpirun -n 3` it keeps several children out (consecutive arrivals
# bred from one population state), finishes with the planned evaluations and an archive that
# pareto, status and report read, and a resume after a SIGKILL (of rank 0) sends the children
# that were out again; a failed training ends the run without waiting for the others' (the MPI
# part is skipped where mpirun is missing or the build has no MPI).
set -u
. "$(dirname "$0")/common.sh"

python3 "$src/tests/cli/tiny_idx.py" "$tmp/data" 400 100
tiny_config name=tiny seed=5 offspring=2 mode=asynchronous >"$tmp/tiny.yaml"
tiny_config name=long seed=5 offspring=2 mode=asynchronous epochs=40 >"$tmp/long.yaml"
cd "$tmp" || exit 1

q() { sqlite3 -readonly "$1" "$2"; }

# --- one worker: planned evaluations, one generation per arrival, reproducible ------------
check "asynchronous search, one thread" 0 "$bin" search tiny.yaml --threads 1 --name a
has "one line per arrival" "^arrival 6 done: "
[ "$(q results/a.db 'SELECT count(*) FROM generations')" = 7 ] &&
  ok "generation 0, then one generation per arrival (3 x 2)" ||
  bad "$(q results/a.db 'SELECT count(*) FROM generations') generations, expected 7"
[ "$(q results/a.db 'SELECT count(*) FROM individuals')" = 10 ] &&
  ok "population + generations x offspring = 10 candidates" ||
  bad "$(q results/a.db 'SELECT count(*) FROM individuals') candidates, expected 10"
[ "$(q results/a.db 'SELECT count(*) FROM individuals WHERE generation > 0 AND
      (parent1 < 0 OR parent2 < 0)')" = 0 ] && ok "every arrival records its parents" ||
  bad "an arrival without parents"
[ "$(q results/a.db 'SELECT min(n) || max(n) FROM (SELECT count(*) n FROM population
      GROUP BY generation)')" = 44 ] && ok "each generation keeps the population of 4" ||
  bad "population sizes differ from 4"
[ "$(q results/a.db 'SELECT generations || status FROM run')" = 6finished ] &&
  ok "the run plans 6 generations after the initial one and is finished" ||
  bad "run row: $(q results/a.db 'SELECT generations, status FROM run')"
# consecutive arrivals whose children were both bred before either arrived (both out at
# once; after_generation: the arrivals committed when the child was bred)
overlap() {
  q "$1" 'SELECT count(*) FROM sent a JOIN sent b ON b.arrival = a.arrival + 1
          WHERE b.after_generation < a.arrival'
}
[ "$(overlap results/a.db)" = 0 ] && [ "$(q results/a.db 'SELECT count(*) FROM sent')" = 6 ] &&
  ok "one worker: each child bred after the arrival before it, all 6 recorded as sent" ||
  bad "one worker: $(overlap results/a.db) overlaps"
check "the same config again" 0 "$bin" search tiny.yaml --threads 1 --name b
same "one worker: the run is reproducible" results/b.db results/a.db
check "pareto reads it" 0 "$bin" pareto results/a.db
check "status reads it" 0 "$bin" status results/a.db
has "status counts the generations" "generations: +7 of 7 done"
check "report reads it" 0 "$bin" report results/a.db -o rep.svg

# --- SIGKILL, then resume ------------------------------------------------------------------
EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=3 "$bin" search tiny.yaml --threads 1 --name h \
  >h.log 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
  [ "$(q results/h.db 'SELECT count(*) FROM generations' 2>/dev/null)" = 3 ] && break
  sleep 0.02
done
sleep 0.2
kill -KILL $pid
wait $pid 2>/dev/null
[ "$(q results/h.db 'SELECT count(*) FROM generations')" = 3 ] &&
  ok "SIGKILLed after arrival 2" || bad "SIGKILL point: $(q results/h.db 'SELECT count(*) FROM generations')"
check "resume after SIGKILL" 0 "$bin" resume results/h.db --threads 1
has "resume continues after generation 2" "resuming 'h' after generation 2 of 6"
same "it reaches the uninterrupted archive" results/h.db results/a.db

check "reference with longer trainings" 0 "$bin" search long.yaml --threads 1 --name lref
"$bin" search long.yaml --threads 1 --name l >l.log 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
  [ "$(q results/l.db 'SELECT count(*) FROM generations' 2>/dev/null)" = 2 ] && break
  sleep 0.02
done
sleep 0.3
kill -KILL $pid
wait $pid 2>/dev/null
n=$(q results/l.db 'SELECT count(*) FROM generations')
[ "$n" -ge 2 ] && [ "$n" -lt 7 ] && ok "SIGKILLed mid-run (after $n generations)" ||
  bad "SIGKILL mid-run: $n generations"
check "resume after SIGKILL mid-training" 0 "$bin" resume results/l.db --threads 1
same "it reaches the uninterrupted archive" results/l.db results/lref.db

# Checks a finished run that kept several children out: overlapping children, the planned
# evaluations, every child sent arrived (with its ids in $2, those out at a SIGKILL).
several() { # what, db, ids out at the kill
  [ "$(overlap "$2")" -ge 1 ] && ok "$1: children out at once (consecutive arrivals both bred before either arrived)" ||
    bad "$1: no two consecutive arrivals both bred before either arrived"
  [ "$(q "$2" 'SELECT count(*) FROM individuals')" = 10 ] &&
    [ "$(q "$2" 'SELECT count(*) FROM generations')" = 7 ] &&
    [ "$(q "$2" 'SELECT status FROM run')" = finished ] &&
    ok "$1: finished with the planned 10 candidates in 7 generations" ||
    bad "$1: $(q "$2" 'SELECT count(*) FROM individuals') candidates"
  [ "$(q "$2" 'SELECT count(*) FROM sent')" = 6 ] &&
    [ "$(q "$2" 'SELECT count(*) FROM sent WHERE arrival IS NULL')" = 0 ] &&
    [ "$(q "$2" 'SELECT count(*) FROM sent s JOIN individuals i ON i.id = s.id
                 AND i.generation = s.arrival')" = 6 ] &&
    ok "$1: the 6 children sent all arrived and are committed" ||
    bad "$1: sent $(q "$2" 'SELECT count(*) FROM sent')"
  for id in $3; do
    [ "$(q "$2" "SELECT count(*) FROM individuals WHERE id = $id")" = 1 ] ||
      bad "$1: child $id, out at the SIGKILL, was not sent again"
  done
  [ -n "$3" ] && ok "$1: the children out at the SIGKILL ($3) were sent again and arrived"
  [ "$(q "$2" 'SELECT count(*) FROM individuals i LEFT JOIN evaluations e
        ON e.hash = i.hash WHERE e.hash IS NULL')" = 0 ] &&
    ok "$1: every candidate has its evaluation" || bad "$1: a candidate without an evaluation"
}
wait_gens() { # db, generations
  for _ in $(seq 1 3000); do
    [ "$(q "$1" 'SELECT count(*) FROM generations' 2>/dev/null || echo 0)" -ge "$2" ] && return
    sleep 0.02
  done
}
out_ids() { q "$1" 'SELECT group_concat(id, " ") FROM sent WHERE arrival IS NULL'; }

# --- two local worker threads --------------------------------------------------------------
check "asynchronous search, two threads" 0 "$bin" search tiny.yaml --threads 2 --name t
several "two threads" results/t.db ""
"$bin" search long.yaml --threads 2 --name tk >tk.log 2>&1 &
pid=$!
wait_gens results/tk.db 2
kill -KILL $pid
wait $pid 2>/dev/null
ids=$(out_ids results/tk.db)
[ -n "$ids" ] && ok "two threads, SIGKILL: children $ids were out" ||
  bad "two threads, SIGKILL: none out ($(q results/tk.db 'SELECT count(*) FROM generations') generations)"
check "resume with two threads" 0 "$bin" resume results/tk.db --threads 2
several "two threads, resumed" results/tk.db "$ids"

# a training that fails (a damaged checkpoint) ends the run at once: the other child out stops
# at its next batch, checkpointed, instead of training to its end first
"$bin" search long.yaml --threads 2 --name fk >fk.log 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
  [ "$(q results/fk.db 'SELECT count(*) FROM checkpoints WHERE generation > 0' 2>/dev/null)" \
    -ge 2 ] 2>/dev/null && break
  sleep 0.02
done
kill -KILL $pid
wait $pid 2>/dev/null
h=$(q results/fk.db 'SELECT hash FROM checkpoints WHERE generation > 0 ORDER BY hash LIMIT 1')
sqlite3 results/fk.db "UPDATE checkpoints SET state = substr(state, 1, 200) WHERE hash = '$h'"
check "resume with a damaged checkpoint fails" 2 "$bin" resume results/fk.db --threads 2
has "the message names the checkpoint" "results/fk.db: checkpoint of $h: training checkpoint"
has "the other child stopped, checkpointed" "^gen [0-9]+ candidate [0-9a-f]{16} stopped at epoch"
[ "$(q results/fk.db "SELECT count(*) FROM checkpoints WHERE hash != '$h' AND epoch < epochs")" \
  -ge 1 ] && ok "the other child's training did not run to its end" ||
  bad "no unfinished checkpoint left: $(q results/fk.db 'SELECT hash, epoch FROM checkpoints')"
[ "$(q results/fk.db 'SELECT status FROM run')" = failed ] && ok "the run is marked failed" ||
  bad "run status $(q results/fk.db 'SELECT status FROM run')"

# --- under mpirun -n 3 ---------------------------------------------------------------------
if ! command -v mpirun >/dev/null 2>&1; then
  ok "# SKIP the MPI part: mpirun not found (Debian: apt-get install openmpi-bin)"
elif ! "$bin" version | grep -q "MPI: yes"; then
  ok "# SKIP the MPI part: this build has no MPI"
else
  mpi=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
       mpirun --oversubscribe --allow-run-as-root --mca odls_base_sigkill_timeout 3)
  check "asynchronous search under mpirun -n 3" 0 "${mpi[@]}" -n 3 "$bin" search tiny.yaml \
    --threads 1 --name m
  [ "$(q results/m.db 'SELECT count(*) FROM individuals')" = 10 ] &&
    [ "$(q results/m.db 'SELECT count(*) FROM generations')" = 7 ] &&
    [ "$(q results/m.db 'SELECT status FROM run')" = finished ] &&
    ok "it is finished with the planned 10 candidates in 7 generations" ||
    bad "MPI run: $(q results/m.db 'SELECT count(*) FROM individuals') candidates"
  [ "$(q results/m.db 'SELECT count(*) FROM individuals i LEFT JOIN evaluations e
        ON e.hash = i.hash WHERE e.hash IS NULL')" = 0 ] &&
    ok "every candidate has its evaluation" || bad "a candidate without an evaluation"
  several "mpirun -n 3" results/m.db ""
  check "pareto reads it" 0 "$bin" pareto results/m.db
  check "status reads it" 0 "$bin" status results/m.db
  check "report reads it" 0 "$bin" report results/m.db -o m.svg
  # SIGKILL of rank 0 mid-run (mpirun then ends the others), resume under mpirun -n 3
  "${mpi[@]}" -n 3 "$bin" search long.yaml --threads 1 --name mk >mk.log 2>&1 &
  pid=$!
  wait_gens results/mk.db 2
  rank0=
  for c in $(pgrep -P $pid); do
    tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=0 && rank0=$c
  done
  [ -n "$rank0" ] && kill -KILL "$rank0"
  wait $pid 2>/dev/null
  ids=$(out_ids results/mk.db)
  [ -n "$rank0" ] && [ -n "$ids" ] && ok "mpirun, SIGKILL of rank 0: children $ids were out" ||
    bad "mpirun, SIGKILL of rank 0 ($rank0): none out"
  check "resume under mpirun -n 3" 0 "${mpi[@]}" -n 3 "$bin" resume results/mk.db --threads 1
  several "mpirun -n 3, resumed" results/mk.db "$ids"
fi

exit $fail
