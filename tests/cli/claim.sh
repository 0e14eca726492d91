#!/usr/bin/env bash
# claim.sh - one writer per archive (claims, stale take-over, status states), stop signals,
# kills at random moments (the resumed archive equals the uninterrupted one), resume/finalize/
# report from another directory and with moved files, damaged archives, small messages.
set -u
. "$(dirname "$0")/common.sh"
one_line() { # description: the last output is exactly one line
  if [ "$(grep -c . "$out")" = 1 ]; then ok "$1"; else bad "$1: $(grep -c . "$out") lines"; fi
}

python3 "$src/tests/cli/tiny_idx.py" "$tmp/run/data" 400 100
mkdir -p "$tmp/run/acc"
cp "$src/configs/accelerators/eyeriss_like_8b.yaml" "$tmp/run/acc/acc.yaml"
# candidates train for several epochs, so that kills land inside training as well
tiny_config seed=5 epochs=4 generations=2 accelerator=acc/acc.yaml finalize=1 >"$tmp/run/tiny.yaml"
cd "$tmp/run" || exit 1

# Every row of every table but timings and the claim: dump's, and these.
all='SELECT hash, test_accuracy, final_epochs FROM evaluations ORDER BY hash;
     SELECT config_text, config_path, threads, program_version, schema_version FROM run;'
gens_are() { [ "$(sqlite3 -readonly "$1" 'SELECT count(*) FROM generations' 2>/dev/null)" = "$2" ]; }
wait_for() { # command...: waits up to 20 s until it succeeds
  for _ in $(seq 1 1000); do "$@" && return 0; sleep 0.02; done
  return 1
}

check "uninterrupted search" 0 "$bin" search tiny.yaml --threads 1 --name ref --quiet
dump results/ref.db "$all" >ref.dump

# --- one writer: a second one is refused, naming the holder ---------------------------------
EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=1 "$bin" search tiny.yaml --threads 1 --name w \
  >w.log 2>&1 &
pid=$!
wait_for gens_are results/w.db 1
check "status of a running search" 0 "$bin" status results/w.db
has "status: running, pid, host, heartbeat" \
  "^run: +w \(running \(pid $pid on $(hostname), heartbeat [0-9]+ s ago\)\)"
has "status: who holds the claim" "^claim: +.search. since "
[ "$(sqlite3 -readonly results/w.db 'SELECT command || pid FROM claim')" = "search$pid" ] &&
  ok "the claim is recorded in the archive" || bad "claim row"
holder="in use by .search. \(pid $pid on $(hostname), heartbeat [0-9]+ s ago, since "
check "second writer: resume refused" 2 "$bin" resume results/w.db
has "resume names the holder" "results/w.db: $holder"
one_line "refusal in one line"
check "second writer: search refused" 2 "$bin" search tiny.yaml --threads 1 --name w
has "search names the holder" "$holder"
check "second writer: finalize refused" 2 "$bin" finalize results/w.db
has "finalize names the holder" "$holder"
sleep 2.2
check "status: the heartbeat moves" 0 "$bin" status results/w.db
has "heartbeat at most 2 s old" "heartbeat [0-2] s ago"
kill -KILL $pid
wait $pid 2>/dev/null
check "status after SIGKILL" 0 "$bin" status results/w.db
has "status: stale" "^run: +w \(stale \(pid $pid on $(hostname) is gone"
check "resume takes a stale claim over" 0 "$bin" resume results/w.db --quiet
has "take-over notice" "^evoapproxnas: results/w.db: taking over the stale claim of .search. \(pid $pid on $(hostname) is gone\)$"
check "status: finished" 0 "$bin" status results/w.db
has "status: finished" "^run: +w \(finished\)$"
[ ! -e results/w.db.lock ] && [ "$(sqlite3 -readonly results/w.db 'SELECT count(*) FROM claim')" = 0 ] &&
  ok "the claim is released" || bad "claim left behind"
same "taken over = uninterrupted" results/w.db results/ref.db "$all"

# another host's claim: stale only when its heartbeat is older than EVOAPPROXNAS_STALE_AFTER
cp results/w.db results/o.db
now=$(date +%s)
printf 'evoapproxnas claim\ncommand search\nhost elsewhere\npid 1\nproc_start 0\nstarted_at 2026-01-01T00:00:00Z\nheartbeat %017.3f\n' "$now" >results/o.db.lock
check "another host's live claim" 2 "$bin" finalize results/o.db
has "names the other host" "in use by .search. \(pid 1 on elsewhere, heartbeat [0-9]+ s ago"
check "status: another host's live claim" 0 "$bin" status results/o.db
has "status: running elsewhere" "running \(pid 1 on elsewhere"
printf 'evoapproxnas claim\ncommand search\nhost elsewhere\npid 1\nproc_start 0\nstarted_at 2026-01-01T00:00:00Z\nheartbeat %017.3f\n' "$((now - 100))" >results/o.db.lock
EVOAPPROXNAS_STALE_AFTER=60 "$bin" status results/o.db >"$out" 2>&1
has "status: stale after 100 s without heartbeat" "stale \(pid 1 on elsewhere, no heartbeat for 1[0-9][0-9] s"
EVOAPPROXNAS_STALE_AFTER=200 "$bin" status results/o.db >"$out" 2>&1
has "EVOAPPROXNAS_STALE_AFTER sets the limit" "running \(pid 1 on elsewhere"
check "finalize takes a stale claim over" 0 env EVOAPPROXNAS_STALE_AFTER=60 "$bin" finalize results/o.db --threads 1
has "finalize's take-over notice" "taking over the stale claim of .search. \(pid 1 on elsewhere, no heartbeat"

# failed and interrupted states
cp results/w.db results/f.db
sqlite3 results/f.db "UPDATE run SET status = 'failed'"
check "status: failed" 0 "$bin" status results/f.db
has "failed" "^run: +w \(failed\)$"
sqlite3 results/f.db "UPDATE run SET status = 'running'"
check "status: running without a claim (killed by an earlier version)" 0 "$bin" status results/f.db
has "interrupted" "^run: +w \(interrupted\)$"

# --- SIGTERM and SIGHUP stop cleanly, a second signal at once -------------------------------
for sig in TERM HUP INT; do
  EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=1 "$bin" search tiny.yaml --threads 1 --name s$sig \
    >s.log 2>&1 &
  pid=$!
  wait_for gens_are results/s$sig.db 1
  kill -$sig $pid
  wait $pid
  rc=$?
  [ $rc = 1 ] && ok "SIG$sig: exit 1" || { bad "SIG$sig: exit $rc"; cat s.log; }
  grep -q "interrupted by SIG$sig; continue with: evoapproxnas resume results/s$sig.db" s.log &&
    ok "SIG$sig: says so and how to resume" || { bad "SIG$sig message"; cat s.log; }
  check "SIG$sig: status" 0 "$bin" status results/s$sig.db
  has "SIG$sig: status interrupted" "^run: +s$sig \(interrupted\)$"
  [ ! -e results/s$sig.db.lock ] && ok "SIG$sig: claim released" || bad "SIG$sig: claim left"
done
# a second signal: the process ends at once (held, the first one only asks to stop; the
# hold loop keeps waiting for no one here: EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=9 never holds)
"$bin" search tiny.yaml --threads 1 --name twice >/dev/null 2>&1 &
pid=$!
wait_for test -e results/twice.db
kill -TERM $pid; kill -HUP $pid
wait $pid
rc=$?
[ $rc = 1 ] || [ $rc = 129 ] && ok "second signal: stopped (exit $rc)" || bad "second signal: exit $rc"
check "after two signals: resume" 0 "$bin" resume results/twice.db --quiet
same "after two signals: resumed = uninterrupted" results/twice.db results/ref.db "$all"

# --- kills at random moments ----------------------------------------------------------------
# 20 trials, SIGKILL after 0-5 ms (creation), or anywhere in the run; a trial's resume may be
# killed again. Then: resume (or search, where the kill left no archive) must finish, and the
# archive equal the uninterrupted run's. A third of the trials use SIGTERM or SIGHUP instead.
RANDOM=7
run_len=$(python3 -c "import time,subprocess,sys; t=time.time(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); print(int((time.time()-t)*1000))" "$bin" search tiny.yaml --threads 1 --name len --quiet)
killed_first=0; killed_creating=0; resumed=0; bad_trials=0
trap - EXIT # the signals below may reach a forked child before its exec (see common.sh)
for trial in $(seq 1 20); do
  name=r$trial
  cmd=(search tiny.yaml --threads 1 --name $name --quiet)
  kills=$(( 1 + RANDOM % 2 ))
  for k in $(seq 1 $kills); do
    case $(( (trial + k) % 6 )) in
      0) sig=TERM ;; 3) sig=HUP ;; *) sig=KILL ;;
    esac
    if [ $(( RANDOM % 4 )) = 0 ]; then ms=$(( RANDOM % 6 )); else ms=$(( RANDOM % run_len )); fi
    "$bin" "${cmd[@]}" >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' "$ms")"
    [ "$ms" -le 5 ] && killed_first=$((killed_first + 1))
    [ -e results/$name.db.creating ] && killed_creating=$((killed_creating + 1))
    kill -$sig $pid 2>/dev/null
    wait $pid
    rc=$?
    if [ $sig != KILL ] && [ $rc != 0 ] && [ $rc != 1 ]; then
      # only before the handlers exist (the first instants) may a signal end it otherwise
      [ -e results/$name.db ] && [ "$(sqlite3 -readonly results/$name.db 'SELECT count(*) FROM claim')" != 0 ] &&
        { echo "# trial $trial: SIG$sig after the claim gave exit $rc"; bad_trials=$((bad_trials + 1)); }
    fi
    if [ $sig != KILL ] && [ $rc = 1 ]; then
      st=$(sqlite3 -readonly results/$name.db 'SELECT status FROM run' 2>/dev/null)
      [ "$st" = interrupted ] ||
        { echo "# trial $trial: SIG$sig: exit 1 but status '$st'"; bad_trials=$((bad_trials + 1)); }
    fi
    [ -e results/$name.db ] && cmd=(resume results/$name.db --quiet)
  done
  if [ -e results/$name.db ]; then
    "$bin" resume results/$name.db --quiet >"$out" 2>&1 || { echo "# trial $trial: resume failed"; cat "$out"; bad_trials=$((bad_trials + 1)); }
    resumed=$((resumed + 1))
  else
    "$bin" search tiny.yaml --threads 1 --name $name --quiet >"$out" 2>&1 ||
      { echo "# trial $trial: search after the kill failed"; cat "$out"; bad_trials=$((bad_trials + 1)); }
  fi
  if ! diff ref.dump <(dump results/$name.db "$all") >/dev/null; then
    echo "# trial $trial: archive differs from the uninterrupted run"
    diff ref.dump <(dump results/$name.db "$all") | head -5
    bad_trials=$((bad_trials + 1))
  fi
  [ -e results/$name.db.lock ] && { echo "# trial $trial: lock left"; bad_trials=$((bad_trials + 1)); }
done
trap cleanup EXIT
echo "# random kills: run ${run_len} ms, $killed_first kills in the first 5 ms, $killed_creating while creating, $resumed resumed"
[ $bad_trials = 0 ] && ok "20 trials killed at random moments reach the uninterrupted archive" ||
  bad "random kills: $bad_trials bad trials"

# --- leftovers that search replaces or explains ----------------------------------------------
: >results/empty.db
check "search replaces an empty file" 0 "$bin" search tiny.yaml --threads 1 --name empty --quiet
echo junk >results/gone.db.creating
check "resume of an archive killed while created" 2 "$bin" resume results/gone.db
has "says to search again" "no such archive \(a search is creating it, or was stopped while creating it: then run the search again\)"
check "status of an archive being created" 2 "$bin" status results/gone.db
has "status explains it" "results/gone.db: no such archive \(a search is creating it"
check "search over the leftover" 0 "$bin" search tiny.yaml --threads 1 --name gone --quiet
[ ! -e results/gone.db.creating ] && ok "the leftover is gone" || bad "leftover .creating"
sqlite3 results/gone.db "DELETE FROM population; DELETE FROM generations; DELETE FROM individuals; UPDATE run SET status = 'interrupted'"
check "resume before the first generation" 0 "$bin" resume results/gone.db
has "says it starts from the beginning" "resuming 'gone' from the start \(no generation was committed\)"
! grep -q "generation -1" "$out" && ok "no 'generation -1'" || bad "generation -1"
check "search --output on an existing archive" 2 "$bin" search tiny.yaml --output results/gone.db
has "suggests another --output" "give another --output"

# --- any working directory; moved files -------------------------------------------------------
abs=$tmp/run/results
EVOAPPROXNAS_HOLD_AFTER_GENERATIONS=1 "$bin" search tiny.yaml --threads 1 --name p >/dev/null 2>&1 &
pid=$!
wait_for gens_are results/p.db 1
kill -KILL $pid; wait $pid 2>/dev/null
cd / || exit 1
check "resume from another directory" 0 "$bin" resume "$abs/p.db" --quiet
check "finalize from another directory" 0 "$bin" finalize "$abs/p.db" --threads 1
check "report from another directory" 0 "$bin" report "$abs/p.db" -o "$tmp/p.svg"
cd "$tmp/run" || exit 1
# an archive of the previous version: config_path relative to the search's directory
cp results/w.db results/old.db
sqlite3 results/old.db "UPDATE run SET config_path = 'tiny.yaml', status = 'interrupted'; DELETE FROM population WHERE generation = 2; DELETE FROM generations WHERE generation = 2; DELETE FROM individuals WHERE generation = 2"
cd / || exit 1
check "resume an earlier version's archive from another directory" 0 "$bin" resume "$abs/old.db" --quiet
cd "$tmp/run" || exit 1
cp results/w.db results/m.db
sqlite3 results/m.db "UPDATE run SET status = 'interrupted'"
mv data data.moved
check "resume with a moved data set" 2 "$bin" resume results/m.db
has "names the key, the path and the option" "results/m.db: the archived config no longer loads: .*dataset\.path: '$tmp/run/data' does not exist.*; point the archive at the data set with .evoapproxnas resume results/m.db --data DIR.$"
one_line "moved data set: one line"
cp results/m.db results/m2.db
sqlite3 results/m2.db "UPDATE run SET status = 'finished'"
check "finalize with a moved data set" 2 "$bin" finalize results/m2.db
has "finalize gives the same way out" "point the archive at the data set with .evoapproxnas resume results/m2.db --data DIR.$"
check "resume --data" 0 "$bin" resume results/m.db --data data.moved --quiet
same "resumed with --data = uninterrupted" results/m.db results/ref.db "$all"
check "finalize uses the recorded data set" 0 "$bin" finalize results/m.db --threads 1
check "resume --data of a finished search records it" 0 "$bin" resume results/m2.db --data data.moved
has "says the paths are recorded" "finished \(the new paths are recorded\)"
check "then finalize works" 0 "$bin" finalize results/m2.db --threads 1
check "resume --data with a wrong directory" 2 "$bin" resume results/m2.db --data nowhere
has "names the given path" "dataset\.path: 'nowhere' \(given instead of the config's\) does not exist"
sqlite3 results/m.db "UPDATE run SET status = 'interrupted'"
mv acc acc.moved
check "resume with a moved accelerator" 2 "$bin" resume results/m.db
has "names the accelerator option" "energy\.accelerator: .*--accelerator FILE.$"
check "resume --accelerator" 0 "$bin" resume results/m.db --accelerator acc.moved/acc.yaml --quiet
check "--data is for resume only" 2 "$bin" search tiny.yaml --data data

# --- damaged archives -------------------------------------------------------------------------
damage_check() { # description, archive, table pattern
  local what=$1 db=$2 table=$3 sum
  for cmd in pareto status; do
    check "$what: $cmd" 2 "$bin" $cmd "$db"
    has "$what: $cmd names archive and table" "^evoapproxnas: $cmd: $db: damaged archive: $table"
    one_line "$what: $cmd in one line"
  done
  sqlite3 "$db" "UPDATE run SET status = 'interrupted'" 2>/dev/null
  sum=$(cat "$db"* | md5sum)
  check "$what: resume" 2 "$bin" resume "$db"
  has "$what: resume names archive and table" "^evoapproxnas: resume: $db: damaged archive: $table"
  one_line "$what: resume in one line"
  [ "$(cat "$db"* | md5sum)" = "$sum" ] && ok "$what: resume wrote nothing" || bad "$what: resume wrote"
}
page=$(sqlite3 -readonly results/ref.db "PRAGMA page_size")
root=$(sqlite3 -readonly results/ref.db "SELECT rootpage FROM sqlite_master WHERE name = 'evaluations'")
cp results/ref.db zero.db
dd if=/dev/zero of=zero.db bs="$page" seek=$((root - 1)) count=1 conv=notrunc 2>/dev/null
damage_check "zeroed page" zero.db "table evaluations fails SQLite's integrity check"
cp results/ref.db flip.db
python3 - flip.db $(( (root - 1) * page )) <<'PY'
import sys
f = open(sys.argv[1], "r+b"); at = int(sys.argv[2])
f.seek(at); b = bytearray(f.read(12))
for i in (1, 3, 5, 8, 9): b[i] ^= 0xA5        # the b-tree page header: cell count, offsets
f.seek(at); f.write(b)
PY
damage_check "flipped bytes" flip.db "table evaluations fails SQLite's integrity check"
cp results/ref.db neg.db
sqlite3 neg.db "UPDATE evaluations SET macs = -macs WHERE rowid = 2"
damage_check "impossible value" neg.db "table evaluations: row 2 holds impossible values"
cp results/ref.db bin.db
sqlite3 bin.db "UPDATE evaluations SET multipliers = '[\"mul' || char(1) || '\"]' WHERE rowid = 3"
damage_check "binary bytes in a text" bin.db "table evaluations: row 3 holds impossible values"
cp results/ref.db drop.db
sqlite3 drop.db "DROP VIEW members; DROP VIEW pareto_front_generation; DROP TABLE population"
damage_check "dropped table" drop.db "table population is missing"
cp results/ref.db col.db
sqlite3 col.db "PRAGMA legacy_alter_table = ON; ALTER TABLE individuals RENAME COLUMN parent2 TO other"
damage_check "missing column" col.db "table individuals lacks column parent2"
cp results/ref.db view.db
sqlite3 view.db "DROP VIEW pareto_front"
damage_check "dropped view" view.db "view pareto_front is missing or broken"

exit $fail
