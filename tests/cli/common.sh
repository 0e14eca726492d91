# common.sh - what the CLI tests share, sourced first by each (. "$(dirname "$0")/common.sh"):
# the binary and source root from the arguments ($bin, $src), a temporary folder removed on
# exit with the background jobs stopped ($tmp; the last checked command's output in $out), the
# failure flag ($fail) and the TAP-style checks ok, bad, check and has.
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
