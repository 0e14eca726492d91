# common.sh - what the CLI tests share, sourced first by each (. "$(dirname "$0")/common.sh"):
# the binary and source root from the arguments ($bin, $src), a temporary folder removed on
# exit with the background jobs stopped ($tmp; the last checked command's output in $out), the
# failure flag ($fail), the TAP-style checks ok, bad, check and has, and for the search tests
# a config writer (tiny_config) and archive comparisons (dump, same).
bin=$1
src=$2
fail=0
tmp=$(mktemp -d)
cleanup() { kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"; }
# Note: a child that bash forks for `cmd &` runs this trap itself when SIGTERM/SIGHUP/SIGINT
# reaches it before it has exec'd cmd: a test that signals children in their first instants
# clears the trap around them (`trap - EXIT` ... `trap cleanup EXIT`, as claim.sh does).
trap cleanup EXIT
out=$tmp/out

ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; cat "$out"; fail=1; }
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" != "$want" ]; then bad "$what: exit $got, expected $want"; else ok "$what"; fi
}
has() { # description, pattern (grep -E) in the last output
  if grep -qE -- "$2" "$out"; then ok "$1"; else bad "$1: no /$2/"; fi
}

# tiny_config [KEY=VALUE...]: a small search config on stdout, for the images that tiny_idx.py
# writes to ./data (200 training, 100 validation, 100 test; 2 stages of 2-node cells, widths 4
# and 8). Keys and defaults: name=tiny seed=3 epochs=1 generations=3 population=4, offspring
# and mode (nsga2's, unset), exact_share=0.5 (empty: unset), nsga2=none (no nsga2 line, for
# another strategy's section appended by the caller), finalize (its epochs, unset),
# objectives="error, energy", multipliers (4 of 8x8), accelerator (eyeriss_like_8b.yaml).
tiny_config() {
  local name=tiny seed=3 epochs=1 generations=3 population=4 offspring= mode= exact_share=0.5
  local nsga2= finalize= objectives="error, energy" kv
  local multipliers="mul8u_1JFF, mul8u_2AC, mul8u_DM1, mul8u_17KS"
  local accelerator=$src/configs/accelerators/eyeriss_like_8b.yaml
  for kv in "$@"; do
    case ${kv%%=*} in
      name|seed|epochs|generations|population|offspring|mode|exact_share|nsga2|finalize|\
      objectives|multipliers|accelerator) printf -v "${kv%%=*}" '%s' "${kv#*=}" ;;
      *) echo "tiny_config: unknown key in '$kv'" >&2; return 1 ;;
    esac
  done
  cat <<EOF
name: $name
seed: $seed
dataset: {kind: idx, path: data, train: 200, validation: 100, test: 100}
search_space:
  stages: 2
  nodes: 2
  ops: [conv3x3, sep3x3, maxpool, identity]
  widths: [4, 8]
  stem_width: 4
  multipliers: [$multipliers]
EOF
  if [ "$nsga2" != none ]; then
    echo "nsga2: {population: $population${offspring:+, offspring: $offspring}, generations:" \
      "$generations${exact_share:+, exact_share: $exact_share}${mode:+, mode: $mode}}"
  fi
  cat <<EOF
training: {epochs: $epochs, batch_size: 20, learning_rate: 0.05}
energy: {accelerator: $accelerator}
objectives: [$objectives]
EOF
  [ -z "$finalize" ] || echo "finalize: {epochs: $finalize}"
}

# dump ARCHIVE [SQL]: the deterministic content of a search archive (every row of generations,
# individuals, evaluations and population, and the run's status, seed, plan and objectives;
# no times, no run name, no claim, not finalize's figures), then the rows of SQL, if given.
dump() {
  sqlite3 -readonly "$1" "
    SELECT generation, evaluated, reused, front_size, best_error, min_energy_pj, hypervolume,
           hex(state) FROM generations ORDER BY generation;
    SELECT id, generation, genome, hash, parent1, parent2, reused FROM individuals ORDER BY id;
    SELECT hash, generation, error, accuracy, energy_pj, mul_energy_pj, mul_energy_exact_pj,
           mac_energy_pj, memory_energy_pj, params, macs, mul_layers, exact, violation, obj0,
           obj1, obj2, obj3, multipliers, summary, seed
      FROM evaluations ORDER BY hash;
    SELECT generation, individual, rank, crowding FROM population
      ORDER BY generation, individual;
    SELECT status, seed, generations, objectives, strategy FROM run;
    ${2:-}"
}

# same DESCRIPTION ARCHIVE REFERENCE [SQL]: ok when both dumps (dump ... SQL) are equal and
# not empty, else not ok with the first lines that differ (cut to 160 columns).
same() {
  local got want
  got=$(dump "$2" "${4:-}" 2>&1)
  want=$(dump "$3" "${4:-}" 2>&1)
  if [ -n "$want" ] && [ "$got" = "$want" ]; then ok "$1"; else
    echo "not ok - $1: $2 differs from $3"; fail=1
    diff <(echo "$want") <(echo "$got") | head -10 | cut -c1-160
  fi
}
