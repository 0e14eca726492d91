#!/usr/bin/env bash
# export.sh - networks out of an archive: export (weights), eval --archive reproduces the
# archived validation accuracy, energy --weights the archived energy, train --init fine-tunes,
# show (text and JSON), finalize --save and its baselines in pareto/report; bad hashes and
# options are refused.
set -u
. "$(dirname "$0")/common.sh"
equal() { # description, got, expected
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', expected '$3'"; fi
}

python3 "$src/tests/cli/tiny_idx.py" "$tmp/data" 400 100
tiny_config epochs=2 finalize=2 >"$tmp/tiny.yaml"
cd "$tmp" || exit 1
check "search runs" 0 "$bin" search tiny.yaml --threads 2 --name a
db=results/a.db
q() { sqlite3 -readonly "$db" "$1"; }

# --- export + eval: the archived validation accuracy, to the last digit ----------------------
# an approximate front network and its stored multipliers
h=$(q "SELECT hash FROM pareto_front WHERE exact = 0 ORDER BY obj0 LIMIT 1")
[ -n "$h" ] || h=$(q "SELECT hash FROM archived WHERE exact = 0 LIMIT 1")
acc=$(q "SELECT printf('%.6f', accuracy) FROM evaluations WHERE hash = '$h'")
check "export (search weights)" 0 "$bin" export $db "${h:0:6}" --out net.w --threads 2
has "export says the accuracy it reproduced" "validation accuracy $acc \(archived $acc\)"
check "eval --archive on the exported network" 0 "$bin" eval --weights net.w --archive $db
has "eval: the search's validation split" "validation split of $db: 100 images"
has "eval reproduces the archived validation accuracy" "^as-trained accuracy: $acc$"
check "eval --archive --split test" 0 "$bin" eval --weights net.w --archive $db --split test
has "eval: the test images" "test split of $db: 100 images"

# energy --weights counts the network's own multipliers: the archived energy
e=$(q "SELECT printf('%.0f', energy_pj) FROM evaluations WHERE hash = '$h'")
check "energy --weights on the exported network" 0 "$bin" energy --weights net.w \
  --accelerator "$src/configs/accelerators/eyeriss_like_8b.yaml"
has "energy --weights = archived energy" "^total: $e pJ"
m=$(q "SELECT json_extract(multipliers, '\$[0]') FROM evaluations WHERE hash = '$h'")
has "energy names the stored multipliers" "$m"

# train --init fine-tunes it (keeps its multipliers)
check "train --init" 0 "$bin" train --init net.w --dataset mnist --data data --epochs 1 \
  --batch 20 --out tuned.w
check "the fine-tuned network evaluates" 0 "$bin" eval --weights tuned.w --archive $db
check "train --init refuses --quant on a quantized file" 2 "$bin" train --init net.w \
  --dataset mnist --data data --quant sym --out x.w
has "  ... saying why" "keeps its quantization"

check "export: --from final without kept weights" 2 "$bin" export $db "$h" --from final --out x.w
has "  ... saying how to keep them" "finalize --save"

# --- show ----------------------------------------------------------------------------------
check "show" 0 "$bin" show $db "$h"
has "show: header" "^network $h: "
has "show: accuracy" "validation accuracy ${acc:0:6}, not finalized"
has "show: objectives by name" "^objectives: error [0-9.]+ energy [0-9.]+"
has "show: a conv row with its multiplier" "^ +0 conv +1x8x8 +4x8x8 +36 +2304 $m "
check "show --json" 0 "$bin" show $db "$h" --json
python3 - "$out" "$h" "$(q "SELECT energy_pj FROM evaluations WHERE hash = '$h'")" \
  "$(q "SELECT multipliers FROM evaluations WHERE hash = '$h'")" \
  "$(q "SELECT macs FROM evaluations WHERE hash = '$h'")" >"$tmp/py" 2>&1 <<'EOP'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["hash"] == sys.argv[2], j["hash"]
assert abs(sum(l["energy_pj"] for l in j["layers"]) - float(sys.argv[3])) < 1e-6 * float(sys.argv[3])
assert abs(sum(l["energy_share"] for l in j["layers"]) - 1) < 1e-9
muls = [l["multiplier"] for l in j["layers"] if l["multiplier"] is not None]
assert muls == json.loads(sys.argv[4]), muls
assert sum(l["macs"] for l in j["layers"]) == int(sys.argv[5])
assert set(j["objectives"]) == {"error", "energy"}
assert j["test_accuracy"] is None and j["weights"] is None
print("json ok")
EOP
if grep -q "json ok" "$tmp/py"; then ok "show --json: layers add up to the archive"; else
  cp "$tmp/py" "$out"; bad "show --json: layers add up to the archive"; fi

# --- finalize --save and the exact baselines ---------------------------------------------------
check "pareto before finalize: no baselines" 0 "$bin" pareto $db
has "pareto names the objectives" "^hash +error +energy_uJ "
has "  ... and the baseline columns, empty" "dacc_allex +esav_allex +dacc_best +esav_best"
check "finalize --save" 0 "$bin" finalize $db --threads 2 --save kept
nf=$(q "SELECT count(*) FROM pareto_front")
nx=$(q "SELECT count(*) FROM finalized f JOIN pareto_front p USING (hash) WHERE f.variant = 'exact'")
equal "finalize trains every front network's all-exact variant" "$nx" "$nf"
best=$(q "SELECT hash FROM archived WHERE exact = 1 AND violation = 0
          ORDER BY error, energy_pj, hash LIMIT 1")
equal "finalize trains the best exact network" \
  "$(q "SELECT count(*) FROM finalized WHERE hash = '$best' AND variant = 'searched'")" 1
nw=$(q "SELECT count(*) FROM finalized WHERE weights IS NOT NULL")
nk=$(ls kept/*.w | wc -l)
equal "finalize --save keeps one weights file per retrained network" "$nk" "$nw"
[ -f "kept/$h.w" ] && [ -f "kept/$h-exact.w" ] && ok "kept: HASH.w and HASH-exact.w" ||
  bad "kept files of $h"
tacc=$(q "SELECT printf('%.6f', test_accuracy) FROM evaluations WHERE hash = '$h'")
check "eval of a kept file reproduces its test accuracy" 0 "$bin" eval --weights "kept/$h.w" \
  --archive $db --split test
has "  ... to the last digit" "^as-trained accuracy: $tacc$"
check "export --from final (the default once kept)" 0 "$bin" export $db "$h" --out final.w
has "  ... says which weights" "final weights of $h"
cmp -s final.w "kept/$h.w" && ok "the exported file is the kept one" || bad "final.w differs"
check "finalize again: nothing left" 0 "$bin" finalize $db --save kept
has "  ... skips done networks" "finalized 0 networks"
check "pareto after finalize" 0 "$bin" pareto $db --json
python3 - "$out" "$h" "$(q "SELECT test_accuracy FROM finalized WHERE hash = '$h' AND variant = 'exact'")" \
  "$(q "SELECT test_accuracy FROM finalized WHERE hash = '$best' AND variant = 'searched'")" \
  "$(q "SELECT energy_pj FROM finalized WHERE hash = '$best' AND variant = 'searched'")" \
  "$(q "SELECT test_accuracy, energy_pj FROM evaluations WHERE hash = '$h'")" >"$tmp/py" 2>&1 <<'EOP'
import json, sys
rows = {r["hash"]: r for r in json.load(open(sys.argv[1]))}
r = rows[sys.argv[2]]
acc, energy = map(float, sys.argv[6].split("|"))
assert abs(r["test_accuracy_change_vs_all_exact_pp"] - 100 * (acc - float(sys.argv[3]))) < 1e-9
assert abs(r["test_accuracy_change_vs_best_exact_pp"] - 100 * (acc - float(sys.argv[4]))) < 1e-9
assert abs(r["energy_saving_vs_best_exact_pct"] - 100 * (1 - energy / float(sys.argv[5]))) < 1e-9
assert r["energy_saving_vs_all_exact_pct"] > 0, r
assert all(x["test_accuracy_change_vs_all_exact_pp"] is not None for x in rows.values())
print("json ok")
EOP
if grep -q "json ok" "$tmp/py"; then ok "pareto --json: baselines against the finalized rows"; else
  cp "$tmp/py" "$out"; bad "pareto --json: baselines against the finalized rows"; fi
check "pareto --csv after finalize" 0 "$bin" pareto $db --csv
has "csv: objective and baseline columns" "^hash,error,energy_pj,.*,test_accuracy_change_vs_all_exact_pp,energy_saving_vs_all_exact_pct,test_accuracy_change_vs_best_exact_pp,energy_saving_vs_best_exact_pct,"
check "report after finalize" 0 "$bin" report $db -o plot.svg
has "report: the front against both baselines" "^  $h test accuracy [0-9.]+: [-+][0-9.]+ points, [-0-9.]+% less energy than its all-exact variant; [-+][0-9.]+ points"
check "show after finalize: test accuracy and kept weights" 0 "$bin" show $db "$h"
has "  ... the test accuracy" "test accuracy ${tacc:0:6} \(finalize, 2 epochs\)"
check "finalize --save into a file" 2 "$bin" finalize $db --save tiny.yaml

# --- ONNX: the checker, and logits from an independent runtime --------------------------------
hx=$(q "SELECT hash FROM archived WHERE exact = 1 ORDER BY hash LIMIT 1")
check "export --format onnx (exact network)" 0 "$bin" export $db "$hx" --from search \
  --format onnx --out exact.onnx --reference exact.json
check "export --format onnx --float" 0 "$bin" export $db "$h" --from search --format onnx \
  --float --out float.onnx --reference float.json
check "export --format onnx (approximate network)" 0 "$bin" export $db "$h" --from search \
  --format onnx --out approx.onnx
if /usr/bin/python3 -c "import onnx" 2>/dev/null; then
  for f in exact float approx; do
    check "ONNX checker accepts $f.onnx" 0 /usr/bin/python3 -c "
import onnx, sys
m = onnx.load('$f.onnx')
onnx.checker.check_model(m, full_check=True)
meta = {p.key: p.value for p in m.metadata_props}
print(len(m.graph.node), 'nodes;', sorted(v for k, v in meta.items() if k.endswith('.multiplier')))"
  done
  has "  ... with the layers' multipliers as metadata" "'$m'"
  /usr/bin/python3 -c "
import onnx
m = onnx.load('approx.onnx')
q = [n for n in m.graph.node if n.op_type in ('Conv', 'Gemm') and n.doc_string]
assert q and all('multiplier: ' in n.doc_string and '.bin' in n.doc_string for n in q), q
assert any(n.op_type == 'QuantizeLinear' for n in m.graph.node)
f = onnx.load('float.onnx')
assert not any(n.op_type == 'QuantizeLinear' for n in f.graph.node)
print('onnx structure ok')" >"$out" 2>&1
  has "ONNX: QDQ nodes, multiplier and table on each quantized layer; none in --float" \
    "onnx structure ok"
else
  echo "ok - # SKIP ONNX checker: /usr/bin/python3 has no onnx module (apt-get install python3-onnx)"
fi
ort=${XDG_CACHE_HOME:-$HOME/.cache}/evoapproxnas/onnxruntime
if [ ! -d "$ort/node_modules/onnxruntime-node" ] && command -v npm >/dev/null; then
  mkdir -p "$ort" && timeout 300 npm install --prefix "$ort" --no-audit --no-fund \
    --ignore-scripts onnxruntime-node >"$tmp/npm.log" 2>&1
fi
# a second search: symmetric per-channel quantization, every kind of cell operation
sed -e 's/name: tiny/name: sym/' -e 's/seed: 3/seed: 4/' \
  -e 's/ops: \[.*\]/ops: [conv3x3, sep3x3, mbconv3, resblock, maxpool, avgpool, identity]/' \
  -e 's/^objectives:/quantization: {mode: sym, per_channel: true}\nobjectives:/' \
  tiny.yaml >sym.yaml
check "search (symmetric, all ops)" 0 "$bin" search sym.yaml --threads 2 --name s
sdb=results/s.db
runtime() { # model, reference: the runtime's logits against the engine's
  NODE_PATH=$ort/node_modules node "$src/tests/cli/onnx_run.js" "$1" "$2" >"$out" 2>&1
  local d
  d=$(sed -n 's/^max_abs_diff \([^ ]*\) .*/\1/p' "$out")
  [ -n "$d" ] && python3 -c "import sys; sys.exit(0 if float('$d') <= 1e-4 else 1)" &&
    echo "$d"
}
if NODE_PATH=$ort/node_modules node -e "require('onnxruntime-node')" 2>/dev/null; then
  for f in exact float; do
    d=$(runtime $f.onnx $f.json) && ok "onnxruntime $f logits match the engine's (max |diff| $d)" ||
      bad "onnxruntime $f logits match the engine's"
  done
  # every network of the symmetric search as float, the exact ones also quantized (QDQ)
  worst=0 n=0 ops=""
  for hs in $(sqlite3 -readonly $sdb "SELECT hash || ':' || exact FROM archived"); do
    modes=--float
    [ "${hs#*:}" = 1 ] && modes="--float --quant"
    hs=${hs%:*}
    for mode in $modes; do
      [ "$mode" = --quant ] && mode=""
      "$bin" export $sdb $hs --from search --format onnx $mode --out s.onnx \
        --reference s.json >"$out" 2>&1 || bad "export $hs $mode"
      d=$(runtime s.onnx s.json) || { bad "onnxruntime on $hs $mode"; continue; }
      worst=$(python3 -c "print(max($worst, $d))") n=$((n + 1))
    done
    ops="$ops $(/usr/bin/python3 -c "import onnx; print(' '.join(n.op_type for n in
      onnx.load('s.onnx').graph.node))" 2>/dev/null)"
  done
  [ $n -gt 0 ] && ok "onnxruntime: $n exports of the symmetric search match (max |diff| $worst)" ||
    bad "no network in $sdb"
  for op in Sum Concat Clip AveragePool MaxPool BatchNormalization; do
    case " $ops " in *" $op "*) ;; *) echo "ok - # note: no $op in these networks" ;; esac
  done
else
  echo "ok - # SKIP onnxruntime: onnxruntime-node could not be installed into $ort (npm)"
fi

# --- refusals ---------------------------------------------------------------------------------
check "export: unknown hash" 2 "$bin" export $db 0000000000000000 --out x.w
has "  ... names the archive" "a.db: no archived network 0000000000000000"
check "export: too short a prefix" 2 "$bin" export $db "${h:0:2}" --out x.w
check "export: no --out" 2 "$bin" export $db "$h"
check "export: bad --format" 2 "$bin" export $db "$h" --format pb --out x.w
check "show: not an archive" 2 "$bin" show tiny.yaml "$h"
check "eval: --archive with --dataset" 2 "$bin" eval --weights net.w --archive $db --dataset mnist
check "eval: bad --split" 2 "$bin" eval --weights net.w --archive $db --split train
[ ! -e x.w ] && ok "nothing written by refused commands" || bad "x.w exists"

exit $fail
