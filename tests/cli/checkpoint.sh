#!/usr/bin/env bash
# checkpoint.sh - candidates in training survive Ctrl-C and SIGKILL: a search interrupted in
# epoch 3 of 4 resumes from its checkpoints (counted in the per-epoch log lines) and reaches
# the archive of an uninterrupted run; `status` lists the candidates in flight; checkpoints
# are gone once their generation is committed; the live line shows in-flight candidates.
set -u
. "$(dirname "$0")/common.sh"

python3 "$src/tests/cli/tiny_idx.py" "$tmp/data" 400 100
# 4 candidates per generation, 2 trained side by side, 4 epochs of 10 batches each
tiny_config name=ck seed=5 epochs=4 generations=1 exact_share= >"$tmp/ck.yaml"
cd "$tmp" || exit 1

wait_sql() { # db, query, expected value
  for _ in $(seq 1 1500); do
    [ "$(sqlite3 -readonly "$1" "$2" 2>/dev/null)" = "$3" ] && return 0
    sleep 0.02
  done
  return 1
}
# batches trained for generation 0 per epoch in a log: "EPOCH:BATCHES" words, sorted
epochs_of() {
  sed -nE 's/^gen 0 candidate [0-9a-f]{16} epoch ([0-9])\/4 loss [0-9.]+ ([0-9]+) batches.*/\1:\2/p' \
    "$1" | sort | tr '\n' ' '
}
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' '; }
full="1:10 2:10 3:10 4:10"   # a candidate trained from the start

# --- the uninterrupted run -----------------------------------------------------------------
check "search runs to the end" 0 "$bin" search ck.yaml --threads 2 --name a
cp "$out" a.log
[ "$(epochs_of a.log)" = "$(sorted $full $full $full $full)" ] &&
  ok "one log line per epoch per candidate" || bad "epoch lines: $(epochs_of a.log)"
n=$(grep -cE "^gen 1 candidate [0-9a-f]{16} epoch [1-4]/4 loss" a.log)
[ "$n" -ge 1 ] && ok "epoch lines in later generations" || bad "gen 1 epoch lines: $n"
[ "$(sqlite3 -readonly results/a.db 'SELECT count(*) FROM checkpoints')" = 0 ] &&
  ok "no checkpoint left after the search" || bad "checkpoints left after the search"

# --- checkpoints are dropped in the generation's commit ------------------------------------
EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=1 "$bin" search ck.yaml --threads 2 --name g >g.log 2>&1 &
pid=$!
wait_sql results/g.db "SELECT count(*) FROM generations" 1
c=$(sqlite3 -readonly results/g.db "SELECT count(*) FROM checkpoints")
kill -INT $pid
wait $pid
[ "$c" = 0 ] && ok "checkpoints of committed candidates are gone" || bad "checkpoints: $c"

# --- interrupted in epoch 3 of 4, resumed -------------------------------------------------
interrupt() { # name, signal, hold point E:B, expected generation-0 epochs of the resume
  local name=$1 sig=$2 hold=$3 want=$4
  EVOAPPROXNAS_HOLD_AT_BATCH=$hold "$bin" search ck.yaml --threads 2 --name "$name" \
    >"$name.log" 2>&1 &
  local pid=$! e=${hold%:*} b=${hold#*:} n=0
  for _ in $(seq 1 1500); do
    n=$(grep -c "^gen 0 candidate [0-9a-f]* held at epoch $e batch $b" "$name.log")
    [ "$n" = 2 ] && break
    sleep 0.02
  done
  [ "$n" = 2 ] && ok "$name: both candidates held at $hold" || bad "$name: $n held at $hold"
  if [ "$name" = int_end ]; then   # the process still runs: its lines are flushed already
    n=$(grep -cE "^gen 0 candidate [0-9a-f]{16} epoch [1-3]/4 loss" "$name.log")
    [ "$n" = 6 ] && ok "epoch lines are flushed as they happen" ||
      { out=$name.log; bad "epoch lines of the running search: $n"; }
  fi
  # SIGKILL: the last checkpoint is the last epoch end; Ctrl-C writes one where it stopped
  kill -"$sig" $pid
  wait $pid 2>/dev/null
  if [ "$sig" = INT ]; then
    n=$(grep -cE "^gen 0 candidate [0-9a-f]{16} stopped at epoch $e/4 batch $b/10 \(checkpointed\)$" \
        "$name.log")
    [ "$n" = 2 ] && ok "$name: Ctrl-C logs where each candidate stopped" ||
      { out=$name.log; bad "$name: $n stopped lines"; }
  fi
  check "$name: status after $sig" 0 "$bin" status "results/$name.db"
  has "$name: status lists the candidates in flight" "^in flight: +2 candidates checkpointed"
  # where the checkpoints are: the hold point, or after SIGKILL mid-epoch the epoch before
  [ "$sig" = KILL ] && [ "$b" != 10 ] && e=$((e - 1)) b=10
  has "$name: status shows epoch and batch" \
    "^  [0-9a-f]{16}  gen 0  epoch $e/4  batch $b/10  loss [0-9.]+  \("
  [ "$name" = int_end ] && cp "results/$name.db" damaged.db
  check "$name: resume" 0 "$bin" resume "results/$name.db"
  cp "$out" "$name.resume.log"
  [ "$(epochs_of "$name.resume.log")" = "$want" ] &&
    ok "$name: resume trains only what the checkpoint lacks ($want)" ||
    bad "$name: resumed epochs $(epochs_of "$name.resume.log"), expected $want"
  same "$name: resumed = uninterrupted" "results/$name.db" results/a.db
}
# the two candidates held are continued; the two not started yet train from the start
interrupt int_end INT 3:10 "$(sorted 4:10 4:10 $full $full)"
interrupt kill_end KILL 3:10 "$(sorted 4:10 4:10 $full $full)"
interrupt int_mid INT 3:4 "$(sorted 3:6 4:10 3:6 4:10 $full $full)"
interrupt kill_mid KILL 3:4 "$(sorted 3:10 4:10 3:10 4:10 $full $full)"
grep -qE "^gen 0 candidate [0-9a-f]{16} epoch 3/4 loss [0-9.]+ 6 batches \(resumed at batch 4\)" \
  int_mid.resume.log && ok "the log says where a resumed epoch started" ||
  { out=int_mid.resume.log; bad "resumed-at note"; }

# --- a damaged checkpoint stops resume with exit 2 and a message naming archive and network --
sqlite3 damaged.db "UPDATE checkpoints SET state = substr(state, 1, 200)"
check "damaged checkpoint refused" 2 "$bin" resume damaged.db
has "message names the archive and the network" \
  "damaged.db: checkpoint of [0-9a-f]{16}: training checkpoint: inconsistent header"

# --- a mid-epoch checkpoint every few milliseconds changes nothing -------------------------
sed 's/learning_rate: 0.05}/learning_rate: 0.05, checkpoint_minutes: 0.0001}/' ck.yaml >often.yaml
check "search with frequent checkpoints" 0 "$bin" search often.yaml --threads 2 --name often
same "frequent checkpoints = none" results/often.db results/a.db

# --- the live line on a terminal shows the candidates in flight and an early ETA -----------
if command -v script >/dev/null 2>&1; then
  script -qc "'$bin' search ck.yaml --threads 2 --name tty" /dev/null >tty.out 2>&1
  if grep -aqE $'\r\033\\[Kgen 0/1  candidate 0/4  training 2  [0-9a-f]{4} e[1-4]/4 b[0-9]+/10, [0-9a-f]{4} e[1-4]/4 b[0-9]+/10  best error -  min energy -  ETA [0-9]' tty.out; then
    ok "live line: candidates in flight, ETA before the first candidate finishes"
  else
    out=tty.out; bad "live line with candidates in flight"
  fi
fi
exit $fail
