// onnx_run.js - runs an ONNX model with onnxruntime-node on the inputs of a reference file
// written by `evoapproxnas export --reference` and prints the largest absolute difference
// from the engine's logits. Usage: NODE_PATH=DIR/node_modules node onnx_run.js MODEL REF
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, refPath] = process.argv.slice(2);
  const ref = JSON.parse(fs.readFileSync(refPath, 'utf8'));
  const session = await ort.InferenceSession.create(model);
  const input = new ort.Tensor('float32', Float32Array.from(ref.input), ref.input_shape);
  const out = (await session.run({input})).logits;
  const classes = out.dims[1];
  let diff = 0;
  ref.logits.forEach((row, i) => row.forEach((v, k) => {
    diff = Math.max(diff, Math.abs(out.data[i * classes + k] - v));
  }));
  console.log(`max_abs_diff ${diff.toExponential(3)} over ${ref.logits.length} images`);
}
main().catch((e) => { console.error(e.message); process.exit(1); });
