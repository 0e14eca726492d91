#!/usr/bin/env bash
# luts.sh - end-to-end: luts list/show/import/export, round trips, and bad input that must exit 2
# with a message naming the culprit and leave the user library untouched.
set -u
bin=$1
src=$2
luts=$src/luts
tmp=$(mktemp -d "${TMPDIR:-/tmp}/evoapproxnas-cli-luts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export EVOAPPROXNAS_USER_LUTS=$tmp/user
export EVOAPPROXNAS_LUTS=$luts
out=$tmp/out
fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; sed 's/^/#   /' "$out" | head -20; fail=1; }
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" != "$want" ]; then bad "$what: exit $got, expected $want"; else ok "$what"; fi
}
says() { # description, text the last output must contain
  if grep -qF -- "$2" "$out"; then ok "$1"; else bad "$1: no '$2' in the output"; fi
}
snapshot() { (cd "$tmp/user" 2>/dev/null && find . -type f | sort | xargs -r md5sum) ; }
same_library() { # description: the user library is what it was at the last `snap=$(snapshot)`
  if [ "$(snapshot)" == "$snap" ]; then ok "$1: user library untouched"
  else bad "$1: user library changed"; fi
}

check "luts --help" 0 "$bin" luts --help
for c in list show import export; do check "luts $c --help" 0 "$bin" luts $c --help; done
check "luts without command" 2 "$bin" luts
check "luts unknown command" 2 "$bin" luts frob
says "unknown command named" "frob"

check "list" 0 "$bin" luts list
n=$(tail -n +2 "$out" | wc -l)
[ "$n" = 225 ] && ok "list shows all 225" || bad "list shows $n lines, expected 225"
says "list has the exact unsigned multiplier" "mul8u_1JFF"
grep -E '^mul8u_1JFF +8x8_unsigned +8x8 +u +0\.3910 +1\.000 +0\.0000 +0\.000 +0\.000 +0\.00$' "$out" \
  >/dev/null && ok "exact multiplier line" || bad "exact multiplier line"
check "list --json" 0 "$bin" luts list --json
n=$(grep -c '"name": ' "$out")
[ "$n" = 225 ] && ok "json lists 225" || bad "json lists $n"
if command -v python3 >/dev/null; then
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==225' "$out" \
    && ok "json parses" || bad "json parses"
fi
check "list --family 8x4_unsigned" 0 "$bin" luts list --family 8x4_unsigned
n=$(tail -n +2 "$out" | wc -l)
[ "$n" = 29 ] && ok "29 8x4 multipliers" || bad "$n 8x4 multipliers, expected 29"
check "list --family unknown" 2 "$bin" luts list --family 9x9
says "unknown family named" "9x9"
check "list --family user (empty)" 0 "$bin" luts list --family user
n=$(tail -n +2 "$out" | wc -l)
[ "$n" = 0 ] && ok "no user multipliers yet" || bad "$n user multipliers, expected 0"
check "list --sort power" 0 "$bin" luts list --sort power
tail -n +2 "$out" | awk '{print $5}' | sort -g -c && ok "sorted by power" || bad "sorted by power"
check "list --sort mae" 0 "$bin" luts list --sort mae
tail -n +2 "$out" | awk '{print $7}' | sort -g -c && ok "sorted by MAE%" || bad "sorted by MAE%"
check "list --sort bogus" 2 "$bin" luts list --sort bogus
check "list --bogus" 2 "$bin" luts list --bogus
says "unknown option named" "--bogus"
check "list extra argument" 2 "$bin" luts list extra

check "show" 0 "$bin" luts show mul8s_1KR6
says "show: published MAE" "MAE                      33         33.28125"
says "show: relative power" "0.854 x the exact 8x8 signed"
says "show: heat-map" "mean |error| per block"
says "show: class path" "emulation: the activation codes give 128 different rows of products (the lowest activation bit is ignored): class path, 128-entry table columns"
check "show 2HH" 0 "$bin" luts show mul8u_2HH
says "show 2HH: residual path" "emulation: 256 of 256 weight codes are linear in the activation plus a one-byte residual (0 exactly linear), 0 need two bytes: fast int8 + residual path"
check "show --json" 0 "$bin" luts show mul8x4u_0S7 --json
says "show --json: error map" '"error_map": {"rows": 16, "cols": 16'
says "show --json: emulation" '"emulation": {"codes": 16, "narrow": 16, "flat": 1, "wide": 0, "unusable": 0, "classes": 64, "class_shift": 2}'
check "show DM1" 0 "$bin" luts show mul8u_DM1
says "show DM1: class path" "the lowest activation bit is ignored): class path, 128-entry"
check "show QKX" 0 "$bin" luts show mul8u_QKX
says "show QKX: general path" "247 need two bytes: general 16-bit table path for most layers"
check "show unknown" 2 "$bin" luts show mul8u_NOPE
says "show unknown: named" "mul8u_NOPE"
check "show a file" 0 "$bin" luts show "$luts/8xN_unsigned/8x3/mul8x3u_0KE.bin"
says "show a file: 8x3" "8x3 unsigned"
check "show without name" 2 "$bin" luts show

# export: byte-identical to the shipped tables
check "export 8x8" 0 "$bin" luts export mul8u_DM1 "$tmp/dm1.bin"
cmp -s "$tmp/dm1.bin" "$luts/8x8_unsigned/mul8u_DM1.bin" && ok "8x8 export identical" || bad "8x8 export identical"
check "export 8x4" 0 "$bin" luts export mul8x4u_0S7 "$tmp/x4.bin"
cmp -s "$tmp/x4.bin" "$luts/8xN_unsigned/8x4/mul8x4u_0S7.bin" && ok "8x4 export identical" || bad "8x4 export identical"
check "export signed" 0 "$bin" luts export mul8s_1KR6 "$tmp/s.bin"
cmp -s "$tmp/s.bin" "$luts/8x8_signed/mul8s_1KR6.bin" && ok "signed export identical" || bad "signed export identical"
echo keep > "$tmp/keep.bin"
check "export onto an existing file" 2 "$bin" luts export mul8u_DM1 "$tmp/keep.bin"
says "existing file named" "$tmp/keep.bin"
[ "$(cat "$tmp/keep.bin")" = keep ] && ok "existing file kept" || bad "existing file kept"
check "export --force" 0 "$bin" luts export mul8u_DM1 "$tmp/keep.bin" --force
cmp -s "$tmp/keep.bin" "$tmp/dm1.bin" && ok "--force replaced" || bad "--force replaced"
check "export unknown" 2 "$bin" luts export mul8u_NOPE "$tmp/nope.bin"
[ ! -e "$tmp/nope.bin" ] && ok "nothing written for unknown" || bad "nothing written for unknown"
check "export missing file argument" 2 "$bin" luts export mul8u_DM1

# import, then the round trip through the user library
check "import 8x8" 0 "$bin" luts import "$tmp/dm1.bin" --name dm1copy --power-mw 0.2
check "import of an 8x4-sized file without --w-bits is refused" 2 "$bin" luts import \
  "$tmp/x4.bin" --name x4copy
says "  ... it could be a truncated 8x8 table" "8192 bytes is an 8x4 table or a truncated 8x8 one: give --w-bits 4"
check "import 8x4" 0 "$bin" luts import "$tmp/x4.bin" --name x4copy --w-bits 4
check "import signed" 0 "$bin" luts import "$tmp/s.bin" --name scopy --signed --w-bits 8
check "list with user multipliers" 0 "$bin" luts list
n=$(tail -n +2 "$out" | wc -l)
[ "$n" = 228 ] && ok "list shows 228" || bad "list shows $n, expected 228"
grep -E '^dm1copy +user +8x8 +u +0\.2000 +0\.512 ' "$out" >/dev/null && ok "user line" || bad "user line"
check "show user multiplier" 0 "$bin" luts show scopy
says "user multiplier signed" "8x8 signed, user library"
for pair in dm1copy:dm1 x4copy:x4 scopy:s; do
  name=${pair%%:*}; file=${pair##*:}
  check "export $name" 0 "$bin" luts export "$name" "$tmp/back_$file.bin"
  cmp -s "$tmp/back_$file.bin" "$tmp/$file.bin" && ok "$name round trip identical" || bad "$name round trip identical"
done

# a full disk (a file size limit, SIGXFSZ ignored) is an I/O error: exit 1, nothing half-written
snap=$(snapshot)
check "import onto a full disk" 1 bash -c 'trap "" XFSZ; ulimit -f 16; exec "$@"' _ "$bin" luts import "$tmp/dm1.bin" --name fullcopy
says "full disk message names the table" "fullcopy.bin"
same_library "full-disk import"
check "export onto a full disk" 1 bash -c 'trap "" XFSZ; ulimit -f 16; exec "$@"' _ "$bin" luts export mul8u_DM1 "$tmp/full.bin"
[ -e "$tmp/full.bin" ] && { echo "not ok - full-disk export left $tmp/full.bin"; fail=1; }

# bad imports: exit 2, message names the culprit, user library unchanged
snap=$(snapshot)
head -c 1000 /dev/zero > "$tmp/short.bin"
check "import wrong size" 2 "$bin" luts import "$tmp/short.bin" --name other
says "wrong size: file named" "$tmp/short.bin"; same_library "wrong size"
check "import missing file" 2 "$bin" luts import "$tmp/missing.bin" --name other
says "missing file named" "$tmp/missing.bin"; same_library "missing file"
check "import existing name" 2 "$bin" luts import "$tmp/dm1.bin" --name dm1copy
says "existing name named" "dm1copy"; same_library "existing name"
check "import shipped name" 2 "$bin" luts import "$tmp/dm1.bin" --name mul8u_1JFF --force
says "shipped name named" "mul8u_1JFF"; same_library "shipped name"
check "import --w-bits 9" 2 "$bin" luts import "$tmp/dm1.bin" --name other --w-bits 9
same_library "--w-bits 9"
check "import --w-bits 1" 2 "$bin" luts import "$tmp/dm1.bin" --name other --w-bits 1
check "import width mismatch" 2 "$bin" luts import "$tmp/dm1.bin" --name other --w-bits 4
says "width mismatch explained" "expected 8192"; same_library "width mismatch"
check "import signed 8x4" 2 "$bin" luts import "$tmp/x4.bin" --name other --signed --w-bits 4
same_library "signed 8x4"
check "import bad name" 2 "$bin" luts import "$tmp/dm1.bin" --name a/b
says "bad name named" "a/b"; same_library "bad name"
check "import without --name" 2 "$bin" luts import "$tmp/dm1.bin"
check "import without file" 2 "$bin" luts import --name other
check "import bad power" 2 "$bin" luts import "$tmp/dm1.bin" --name other --power-mw -1
same_library "bad power"
check "import --force replaces" 0 "$bin" luts import "$tmp/x4.bin" --name dm1copy --force \
  --w-bits 4
check "replaced entry" 0 "$bin" luts show dm1copy
says "replaced entry is 8x4" "8x4 unsigned"

# a malformed user manifest: named with its line, nothing written
printf 'name\tfamily\nbroken\n' > "$tmp/user/manifest.tsv"
snap=$(snapshot)
check "list with a malformed user manifest" 2 "$bin" luts list
says "malformed manifest named" "$tmp/user/manifest.tsv: line 1"
check "import into a malformed user library" 2 "$bin" luts import "$tmp/dm1.bin" --name other
same_library "malformed manifest"
EVOAPPROXNAS_LUTS=$tmp/nowhere check "missing shipped library" 2 "$bin" luts list
says "missing shipped library named" "$tmp/nowhere/manifest.tsv"
exit $fail
