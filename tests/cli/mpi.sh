#!/usr/bin/env bash
# mpi.sh - end-to-end: the tiny search under `mpirun -n 3` gives the single-process archive; a
# worker rank SIGKILLed mid-run ends the run marked interrupted, and resume (one process or
# MPI) reaches the same archive; a worker that cannot load a file names its host and the path
# (exit 2). Skipped (77) where mpirun is missing or the build has no MPI.
set -u
. "$(dirname "$0")/common.sh"

if ! command -v mpirun >/dev/null 2>&1; then
  echo "# SKIP: mpirun not found (Debian: apt-get install openmpi-bin libopenmpi-dev)"
  exit 77
fi
if ! "$bin" version | grep -q "MPI: yes"; then
  echo "# SKIP: this build has no MPI (install libopenmpi-dev, then meson setup -Dmpi=enabled)"
  exit 77
fi
# root-safe, more ranks than cores, and the SIGTERM -> SIGKILL delay of an aborting job long
# enough for rank 0 to mark the run on a loaded machine. Under AddressSanitizer the ranks do
# not check leaks: OpenMPI leaves allocations of its plugins (unloaded by then, so their
# stacks cannot be suppressed by name) at exit; the one-process runs here and test_mpi_msg
# keep the checks.
mpi=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
     mpirun --oversubscribe --allow-run-as-root --mca odls_base_sigkill_timeout 3)

python3 "$src/tests/cli/tiny_idx.py" "$tmp/data" 400 100
tiny_config name=tiny >"$tmp/tiny.yaml"
tiny_config name=long epochs=20 generations=4 >"$tmp/long.yaml"
cd "$tmp" || exit 1

# --- three ranks = one process -----------------------------------------------------------
check "single-process search" 0 "$bin" search tiny.yaml --threads 1 --name one
check "the search under mpirun -n 3" 0 "${mpi[@]}" -n 3 "$bin" search tiny.yaml --threads 1 \
  --name three
has "the generation lines report the ranks' idle share" "^generation 3 done: .*, 3 ranks idle [0-9]+%"
same "mpirun -n 3 gives the single-process archive" results/three.db results/one.db
[ "$(sqlite3 -readonly results/three.db 'SELECT status FROM run')" = finished ] &&
  ok "the MPI run is finished" || bad "the MPI run is finished"

# --- a worker SIGKILLed mid-run ----------------------------------------------------------
check "reference run" 0 "$bin" search long.yaml --threads 2 --name ref
"${mpi[@]}" -n 3 "$bin" search long.yaml --threads 1 --name k >"$tmp/k.log" 2>&1 &
mp=$!
for _ in $(seq 1 1500); do
  [ "$(sqlite3 -readonly results/k.db 'SELECT count(*) FROM generations' 2>/dev/null)" = 1 ] &&
    break
  sleep 0.02
done
killed=
for p in $(pgrep -P $mp); do
  if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1; then
    kill -9 "$p" && killed=$p
  fi
done
[ -n "$killed" ] && ok "worker rank 1 SIGKILLed after generation 0" || bad "no rank 1 to kill"
wait $mp
rc=$?
[ "$rc" != 0 ] && ok "mpirun ends (exit $rc)" || bad "mpirun exit 0 after a dead rank"
st=$(sqlite3 -readonly results/k.db 'SELECT status FROM run')
[ "$st" = interrupted ] && ok "rank 0 marks the run interrupted" ||
  { bad "run status '$st' after a dead rank"; cat "$tmp/k.log"; }
grep -q "continue with: evoapproxnas resume results/k.db" "$tmp/k.log" &&
  ok "rank 0 says how to continue" || bad "rank 0 says how to continue"
cp results/k.db results/k2.db
check "resume in one process" 0 "$bin" resume results/k.db --threads 2
same "resume after the dead rank reaches the uninterrupted archive" results/k.db results/ref.db
check "resume under mpirun -n 2" 0 "${mpi[@]}" -n 2 "$bin" resume results/k2.db --threads 1
same "an MPI resume reaches it too" results/k2.db results/ref.db

# --- rank 0 SIGKILLed = a kill of the search ----------------------------------------------
"${mpi[@]}" -n 2 "$bin" search long.yaml --threads 1 --name r0 >"$tmp/r0.log" 2>&1 &
mp=$!
for _ in $(seq 1 1500); do
  [ "$(sqlite3 -readonly results/r0.db 'SELECT count(*) FROM generations' 2>/dev/null)" = 1 ] &&
    break
  sleep 0.02
done
for p in $(pgrep -P $mp); do
  tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=0 &&
    kill -9 "$p"
done
wait $mp
check "resume after rank 0 was SIGKILLed" 0 "${mpi[@]}" -n 3 "$bin" resume results/r0.db \
  --threads 1
same "it reaches the uninterrupted archive" results/r0.db results/ref.db

# --- the multipliers come from rank 0; a worker that cannot read the data set ------------
check "a worker without the multiplier library trains with rank 0's tables" 0 "${mpi[@]}" \
  -n 1 "$bin" search tiny.yaml --threads 1 --name nolut : -n 1 env \
  EVOAPPROXNAS_LUTS="$tmp/nolut" "$bin" search tiny.yaml --threads 1 --name nolut
same "with the same archive" results/nolut.db results/one.db
# another node without the data set: rank 1 sees an empty folder in its place
if unshare -m true 2>/dev/null; then
  check "a worker that cannot read the data set: exit 2" 2 "${mpi[@]}" -n 1 "$bin" search \
    tiny.yaml --threads 1 --name nodata : -n 1 unshare -m sh -c \
    "mount -t tmpfs none '$tmp/data' && exec '$bin' search tiny.yaml --threads 1 --name nodata"
  has "the message names the rank, its host and the path" \
    "search: rank 1 on $(hostname): $tmp/tiny.yaml: dataset: $tmp/data/train-images"
  [ ! -s results/nodata.db ] && ok "no archive is written" || bad "an archive was written"
  check "--broadcast-data: rank 0 sends it the images" 0 "${mpi[@]}" -n 1 "$bin" search \
    tiny.yaml --threads 1 --name sent --broadcast-data : -n 1 unshare -m sh -c \
    "mount -t tmpfs none '$tmp/data' && exec '$bin' search tiny.yaml --threads 1 --name sent \
     --broadcast-data"
  same "with the same archive" results/sent.db results/one.db
else
  ok "# SKIP a worker without the data set (unshare -m is not allowed here)"
fi

exit $fail
