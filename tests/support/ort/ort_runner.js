#!/usr/bin/env node
// ONNX Runtime (npm onnxruntime-node 1.30, pinned by package-lock.json) as a peer process for the
// engine's parity test and benchmark (tests/golden/engine_ort_parity_test.cpp,
// bench/engine_ort_bench.cpp). One session at a time, single-threaded (intraOpNumThreads=1,
// interOpNumThreads=1, graphOptimizationLevel 'all'), driven by a line protocol:
//   load <model.onnx>          -> ok <rss_before_bytes> <rss_after_bytes>   (VmRSS around session creation;
//                                 the peak (VmHWM) is reset to the current RSS first where Linux allows it,
//                                 so `rss` after runs reports this model's peak)
//   input <name> <file.npy>    -> ok                (float32, uint8, int8 or int64 .npy, C order)
//   run                        -> ok <latency_ns>   (session.run on the inputs given so far)
//   save <output> <file.npy>   -> ok                (an output of the last run)
//   rss                        -> ok <peak_bytes> <current_bytes>   (VmHWM, VmRSS)
//   quit                       -> exits 0
// Any failure answers `err <message>` and the runner keeps reading. Paths may not contain spaces.
// Commands are handled strictly one after another.
'use strict';
const fs = require('fs');
const readline = require('readline');
const ort = require('onnxruntime-node');

// ------------------------------------------------------------------ .npy (format versions 1-3)
const NPY_TYPES = {
  '<f4': {type: 'float32', array: Float32Array},
  '|u1': {type: 'uint8', array: Uint8Array},
  '<u1': {type: 'uint8', array: Uint8Array},
  '|i1': {type: 'int8', array: Int8Array},
  '<i1': {type: 'int8', array: Int8Array},
  '<i8': {type: 'int64', array: BigInt64Array},
};

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') {
    throw new Error(`${path}: not a .npy file (bad magic)`);
  }
  const major = buf.readUInt8(6);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${path}: header at byte ${start} is not a .npy dict: ${header}`);
  if (fortran[1] === 'True') throw new Error(`${path}: fortran_order arrays are not supported`);
  const t = NPY_TYPES[descr[1]];
  if (!t) throw new Error(`${path}: dtype '${descr[1]}' is not supported (float32, uint8, int8, int64)`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const bytes = count * t.array.BYTES_PER_ELEMENT;
  if (buf.length - offset !== bytes) {
    throw new Error(`${path}: ${buf.length - offset} data bytes after byte ${offset}, shape (${dims}) needs ${bytes}`);
  }
  const data = new t.array(count);
  new Uint8Array(data.buffer).set(buf.subarray(offset, offset + bytes));
  return new ort.Tensor(t.type, data, dims);
}

function writeNpy(path, tensor) {
  const descr = {float32: '<f4', uint8: '|u1', int8: '|i1', int64: '<i8'}[tensor.type];
  if (!descr) throw new Error(`${path}: output type ${tensor.type} cannot be saved`);
  const dims = tensor.dims.map(String);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.writeUInt8(0x93, 0);
  pre.write('NUMPY', 1, 'latin1');
  pre.writeUInt8(1, 6);
  pre.writeUInt8(0, 7);
  pre.writeUInt16LE(header.length, 8);
  const d = tensor.data;
  fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'),
    Buffer.from(d.buffer, d.byteOffset, d.byteLength)]));
}

// ------------------------------------------------------------------ memory
function memory() {
  const s = fs.readFileSync('/proc/self/status', 'latin1');
  const kb = (key) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return {peak: kb('VmHWM'), current: kb('VmRSS')};
}

// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0); without it the peak stays
// the process's lifetime peak and the caller must load models in ascending size.
function resetPeak() {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
  } catch (e) {
    // not allowed here: the peak is the process's lifetime peak
  }
}

// ------------------------------------------------------------------ protocol
let session = null;
let feeds = {};
let results = {};

async function handle(line) {
  const words = line.trim().split(/\s+/);
  const cmd = words[0];
  if (cmd === 'load') {
    if (words.length !== 2) throw new Error('usage: load <model.onnx>');
    if (session) await session.release();
    session = null;
    feeds = {};
    results = {};
    resetPeak();
    const before = memory().current;
    session = await ort.InferenceSession.create(words[1], {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    });
    return `ok ${before} ${memory().current}`;
  }
  if (cmd === 'input') {
    if (words.length !== 3) throw new Error('usage: input <name> <file.npy>');
    feeds[words[1]] = readNpy(words[2]);
    return 'ok';
  }
  if (cmd === 'run') {
    if (!session) throw new Error('run: no model loaded');
    const t0 = process.hrtime.bigint();
    results = await session.run(feeds);
    const t1 = process.hrtime.bigint();
    return `ok ${t1 - t0}`;
  }
  if (cmd === 'save') {
    if (words.length !== 3) throw new Error('usage: save <output> <file.npy>');
    const t = results[words[1]];
    if (!t) throw new Error(`save: no output '${words[1]}' (have: ${Object.keys(results).join(', ')})`);
    writeNpy(words[2], t);
    return 'ok';
  }
  if (cmd === 'rss') {
    const m = memory();
    return `ok ${m.peak} ${m.current}`;
  }
  if (cmd === 'quit') {
    if (session) await session.release();
    process.exit(0);
  }
  throw new Error(`unknown command '${cmd}'`);
}

async function main() {
  const rl = readline.createInterface({input: process.stdin, terminal: false});
  for await (const line of rl) {
    if (line.trim() === '') continue;
    let reply;
    try {
      reply = await handle(line);
    } catch (e) {
      reply = `err ${String(e && e.message ? e.message : e).replace(/\s+/g, ' ')}`;
    }
    process.stdout.write(reply + '\n');
  }
  process.exit(0);
}

main();
