#!/usr/bin/env bash
# energy.sh - end-to-end: `evoapproxnas energy` tables, JSON, multipliers, layer files,
# Timeloop export, and bad usage / bad input with exit code 2 and file:line messages.
set -u
bin=$1
src=$2
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
check() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" != "$want" ]; then echo "not ok - $what: exit $got, expected $want"; cat "$out"; fail=1
  else echo "ok - $what"; fi
}
expect() { # description, pattern (grep -E) that $out must contain
  if grep -Eq -- "$2" "$out"; then echo "ok - $1"; else echo "not ok - $1: no '$2' in:"; cat "$out"; fail=1; fi
}

check "energy --help" 0 "$bin" energy --help
expect "help lists --multipliers" "--multipliers"
check "alexnet-conv1 table" 0 "$bin" energy --model alexnet-conv1
expect "conv1 row with its MACs" "^conv1 +exact +105415200 +34944"
expect "levels as columns" "DRAM +shared_glb +ifmap_spad +weights_spad +psum_spad"
check "alexnet JSON" 0 "$bin" energy --model alexnet --json
python3 -c "
import json,sys
d=json.load(open('$out'))
assert d['accelerator']=='eyeriss_like_16b', d['accelerator']
assert len(d['layers'])==11
t=d['total']
assert t['macs']==724406816 and t['params']==60965224
parts=t['energy_pj']
s=sum(v for k,v in parts.items() if k!='total')
assert abs(s-parts['total'])<=1e-5*parts['total'], (s, parts['total'])
" && echo "ok - JSON parses, totals add up" || { echo "not ok - JSON"; fail=1; }

# one approximate multiplier everywhere: arithmetic shrinks by the power ratio, memory unchanged
check "JSON exact" 0 "$bin" energy --model alexnet-conv1 --json
cp "$out" "$tmp/exact.json"
check "JSON mul8u_12N4" 0 "$bin" energy --model alexnet-conv1 --json --multipliers mul8u_12N4
python3 -c "
import json
a=json.load(open('$tmp/exact.json'))['total']['energy_pj']
b=json.load(open('$out'))['total']['energy_pj']
assert abs(b['multiplier']/a['multiplier'] - 0.142/0.391) < 1e-4, (a['multiplier'], b['multiplier'])
assert b['mac_rest']==a['mac_rest'] and b['DRAM']==a['DRAM'] and b['psum_spad']==a['psum_spad']
" && echo "ok - multiplier substitution by the power ratio" || { echo "not ok - substitution"; fail=1; }
check "per-layer multipliers" 0 "$bin" energy --model alexnet --multipliers exact,mul8u_12N4,exact,exact,exact,exact,exact,mul8x4u_2UU
expect "the 8x4 multiplier on fc8" "^fc8 +mul8x4u_2UU"
check "8-bit accelerator by name" 0 "$bin" energy --model alexnet --accelerator eyeriss_like_8b
expect "8-bit design named" "on eyeriss_like_8b"
check "accelerator by path" 0 "$bin" energy --model alexnet-conv1 --accelerator "$src/configs/accelerators/eyeriss_like_16b.yaml"
check "layer file" 0 "$bin" energy --layers "$src/tests/data/energy/resnet20.yaml"
expect "ResNet-20 MACs and parameters" "^TOTAL +40551040 +269722"
check "timeloop export" 0 "$bin" energy --layers "$src/tests/data/energy/resnet20.yaml" --export-timeloop "$tmp/tl"
n=$(ls "$tmp/tl" | wc -l)
[ "$n" = 20 ] && echo "ok - 20 problem files (19 convs + fc)" || { echo "not ok - $n problem files"; fail=1; }
grep -q "Hstride: 2" "$tmp/tl/10_s2b1_conv_a.yaml" && echo "ok - stride exported" || { echo "not ok - stride"; fail=1; }

check "no model" 2 "$bin" energy
check "both model and layers" 2 "$bin" energy --model alexnet --layers x.yaml
check "unknown model" 2 "$bin" energy --model vgg99
expect "names the model" "unknown model 'vgg99'"
check "unknown option" 2 "$bin" energy --model alexnet --frobnicate
check "unknown multiplier" 2 "$bin" energy --model alexnet --multipliers mul8u_NOPE
check "wrong multiplier count" 2 "$bin" energy --model alexnet --multipliers exact,exact
expect "says how many" "2 names for 8 layers"
check "unknown accelerator" 2 "$bin" energy --model alexnet --accelerator tpu_v9
printf 'name: x\nword_bits: 16\nfoo: 1\n' > "$tmp/bad.yaml"
check "bad accelerator file" 2 "$bin" energy --model alexnet --accelerator "$tmp/bad.yaml"
expect "file:line of the unknown key" "bad.yaml:3: accelerator: unknown key 'foo'"
printf 'name: n\nlayers:\n  - {name: a, kind: conv, input: [3, 8, 8], out_channels: 4}\n' > "$tmp/net.yaml"
check "bad layer file" 2 "$bin" energy --layers "$tmp/net.yaml"
expect "file:line of the layer" "net.yaml:3: missing key 'kernel'"
exit $fail
