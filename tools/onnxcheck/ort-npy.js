#!/usr/bin/env node
// ort-npy: run an ONNX model with ONNX Runtime (npm onnxruntime-node, CPU EP) on
// NumPy .npy inputs and write every graph output as a .npy file, or time it.
// [tensorquant addition to the vendored onnxcheck tools]
//
//   node ort-npy.js [options] -o OUTDIR model.onnx NAME=FILE.npy [NAME2=FILE2.npy ...]
//   node ort-npy.js [options] --bench=N model.onnx NAME=FILE.npy [...]
//
// With one graph input, FILE.npy alone (without NAME=) is enough.
// Outputs are written as OUTDIR/<output name>.npy (version 1.0, little-endian,
// C order, the output's own dtype); an output name that is not a plain file
// name (contains "/", or is "." or "..") is an error.
//
// Options:
//   --opt=LEVEL     graph optimization level: disabled|basic|extended|all (default all)
//   --threads=N     intra-op threads (default 1); inter-op threads are always 1
//   --bench=N       run N timed runs after the warm-up and print one JSON line:
//                   {"model", "threads", "opt", "runs", "warmup", "median_ms", "min_ms",
//                    "max_ms", "batch", "items_per_s"} (batch = first dim of the first
//                   input; items_per_s = batch / median); writes no outputs unless -o is given
//   --warmup=W      untimed runs before --bench (default 5)
//   --profile       with --bench, ONNX Runtime's profile of the timed runs, after the
//                   bench line: one JSON line per node, the slowest first,
//                   {"node", "op", "ms_per_run", "share"} (kernel time; fused nodes
//                   are named by ORT, e.g. after their output)
//   -o DIR          write outputs to DIR (created if missing)
//
// .npy dtypes read and written: <f4 <f8 <f2 <i1..<i8 |u1 <u2 <u4 <u8 |b1 (little-endian,
// C order; Fortran-ordered or big-endian files are refused with a message).
// Exit codes: 0 ok, 1 error (message on stderr).
'use strict';

const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write(`ort-npy: ${msg}\n`);
  process.exit(1);
}

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  die(`cannot load onnxruntime-node (run "npm ci" in ${__dirname}): ${e.message}`);
}

// descr (without byte order) <-> ORT type and typed array.
const DTYPES = {
  f4: ['float32', Float32Array], f8: ['float64', Float64Array], f2: ['float16', Uint16Array],
  i1: ['int8', Int8Array], i2: ['int16', Int16Array], i4: ['int32', Int32Array], i8: ['int64', BigInt64Array],
  u1: ['uint8', Uint8Array], u2: ['uint16', Uint16Array], u4: ['uint32', Uint32Array], u8: ['uint64', BigUint64Array],
  b1: ['bool', Uint8Array],
};
const DESCR_OF = {};
for (const [k, [t]] of Object.entries(DTYPES)) DESCR_OF[t] = (k === 'i1' || k === 'u1' || k === 'b1' ? '|' : '<') + k;

function readNpy(file) {
  let b;
  try { b = fs.readFileSync(file); } catch (e) { die(`cannot read ${file}: ${e.message}`); }
  const bad = (why) => die(`${file}: not a supported .npy file: ${why}`);
  if (b.length < 10 || b.readUInt32BE(0) !== 0x934e554d || b.toString('latin1', 4, 6) !== 'PY') bad('bad magic');
  const major = b[6];
  let hlen, start;
  if (major === 1) { hlen = b.readUInt16LE(8); start = 10; } else if (major === 2 || major === 3) {
    if (b.length < 12) bad('truncated header');
    hlen = b.readUInt32LE(8); start = 12;
  } else bad(`version ${major}`);
  if (start + hlen > b.length) bad('truncated header');
  const h = b.toString('latin1', start, start + hlen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(h);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(h);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(h);
  if (!descr || !fortran || !shape) bad(`header ${JSON.stringify(h)}`);
  if (fortran[1] === 'True') bad('Fortran order');
  const d = descr[1];
  if (d[0] === '>' && d.slice(1) !== 'i1' && d.slice(1) !== 'u1') bad(`big-endian dtype ${d}`);
  const kind = DTYPES[d.replace(/^[<|=]/, '')];
  if (!kind) bad(`dtype ${d}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (dims.some((x) => !Number.isInteger(x) || x < 0)) bad(`shape (${shape[1]})`);
  const n = dims.reduce((a, x) => a * x, 1);
  const [type, Ctor] = kind;
  const body = start + hlen;
  if (b.length - body !== n * Ctor.BYTES_PER_ELEMENT) bad(`${b.length - body} data bytes for shape (${dims}) of ${d}`);
  const copy = new Uint8Array(b.subarray(body)); // aligned copy
  return new ort.Tensor(type, new Ctor(copy.buffer, 0, n), dims);
}

function writeNpy(file, t) {
  const descr = DESCR_OF[t.type];
  if (!descr) die(`output type ${t.type} cannot be written as .npy`);
  const dims = Array.from(t.dims);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + h.length + 1;
  h += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(h.length, 8);
  const data = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const tmp = `${file}.tmp${process.pid}`;
  fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(h, 'latin1'), data]));
  fs.renameSync(tmp, file);
}

const opts = { opt: 'all', threads: 1, bench: 0, warmup: 5, out: null, profile: false };
const positional = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  let m;
  if ((m = a.match(/^--opt=(disabled|basic|extended|all)$/))) opts.opt = m[1];
  else if ((m = a.match(/^--threads=([1-9]\d*)$/))) opts.threads = Number(m[1]);
  else if ((m = a.match(/^--bench=([1-9]\d*)$/))) opts.bench = Number(m[1]);
  else if ((m = a.match(/^--warmup=(\d+)$/))) opts.warmup = Number(m[1]);
  else if (a === '--profile') opts.profile = true;
  else if (a === '-o') { if (i + 1 >= argv.length) die('-o needs a directory'); opts.out = argv[++i]; } else if (a === '-h' || a === '--help') {
    process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 30).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    process.exit(0);
  } else if (a.startsWith('-')) die(`unknown option ${a}`);
  else positional.push(a);
}
if (positional.length < 2 || (!opts.out && !opts.bench)) {
  die('usage: node ort-npy.js [--opt=LEVEL] [--threads=N] [--bench=N [--warmup=W] [--profile]] [-o OUTDIR] model.onnx NAME=FILE.npy [...]');
}
if (opts.profile && !opts.bench) die('--profile needs --bench=N');
const profPrefix = path.join(require('os').tmpdir(), `ort-npy-profile-${process.pid}`);
const modelPath = positional[0];

async function main() {
  let session;
  try {
    session = await ort.InferenceSession.create(path.resolve(modelPath), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: opts.opt,
      intraOpNumThreads: opts.threads,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
      enableProfiling: opts.profile,
      profileFilePrefix: profPrefix,
    });
  } catch (e) {
    die(`ONNX Runtime failed to load ${modelPath}: ${e.message || e}`);
  }
  const feeds = {};
  for (const spec of positional.slice(1)) {
    const eq = spec.indexOf('=');
    let name, file;
    if (eq < 0) {
      if (session.inputNames.length !== 1) die(`${spec}: the model has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}): name each as NAME=FILE.npy`);
      [name, file] = [session.inputNames[0], spec];
    } else [name, file] = [spec.slice(0, eq), spec.slice(eq + 1)];
    if (!session.inputNames.includes(name)) die(`"${name}" is not a model input (inputs: ${session.inputNames.join(', ')})`);
    if (name in feeds) die(`input "${name}" given twice`);
    feeds[name] = readNpy(file);
  }
  for (const name of session.inputNames) if (!(name in feeds)) die(`no file for model input "${name}"`);

  let results;
  const run = async () => {
    try { results = await session.run(feeds); } catch (e) { die(`ONNX Runtime failed to run ${modelPath}: ${e.message || e}`); }
  };
  if (opts.bench) {
    for (let i = 0; i < opts.warmup; i++) await run();
    const ms = [];
    for (let i = 0; i < opts.bench; i++) {
      const t0 = process.hrtime.bigint();
      await run();
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ms.sort((a, b) => a - b);
    const median = ms.length % 2 ? ms[(ms.length - 1) / 2] : (ms[ms.length / 2 - 1] + ms[ms.length / 2]) / 2;
    const first = feeds[session.inputNames[0]];
    const batch = first.dims.length ? first.dims[0] : 1;
    process.stdout.write(JSON.stringify({
      model: modelPath, threads: opts.threads, opt: opts.opt, runs: opts.bench, warmup: opts.warmup,
      median_ms: median, min_ms: ms[0], max_ms: ms[ms.length - 1], batch, items_per_s: batch / (median / 1e3),
    }) + '\n');
    if (opts.profile) printProfile(session);
  } else await run();

  if (opts.out) {
    fs.mkdirSync(opts.out, { recursive: true });
    for (const name of session.outputNames) {
      if (name.includes('/') || name === '.' || name === '..' || name === '') die(`output name ${JSON.stringify(name)} is not a file name`);
      writeNpy(path.join(opts.out, `${name}.npy`), results[name]);
    }
  }
}

// printProfile ends ONNX Runtime's profiling, reads its file (then removes
// it) and prints each node's kernel time over the timed runs (the model
// runs after the warm-up ones), the slowest first.
function printProfile(session) {
  session.endProfiling();
  const dir = path.dirname(profPrefix);
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(profPrefix)) && f.endsWith('.json'));
  if (files.length !== 1) die(`found ${files.length} profile files ${profPrefix}*.json, want 1`);
  const file = path.join(dir, files[0]);
  let events;
  try { events = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { die(`cannot read ONNX Runtime's profile ${file}: ${e.message}`); }
  fs.unlinkSync(file);
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  if (runs.length < opts.warmup + opts.bench) die(`ONNX Runtime's profile has ${runs.length} runs, want ${opts.warmup + opts.bench}`);
  const from = runs[opts.warmup].ts;
  const total = new Map();
  const ops = new Map();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    total.set(name, (total.get(name) || 0) + e.dur);
    ops.set(name, (e.args && e.args.op_name) || '');
  }
  let sum = 0;
  for (const v of total.values()) sum += v;
  for (const [name, us] of [...total.entries()].sort((a, b) => b[1] - a[1])) {
    process.stdout.write(JSON.stringify({ node: name, op: ops.get(name), ms_per_run: us / opts.bench / 1e3, share: sum ? us / sum : 0 }) + '\n');
  }
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
