#!/usr/bin/env node
// solc-compatible command line over solc-js (npm `solc`), because no native solc binary can be
// installed here (see shared TOOLCHAIN.md). Supported, as py-solc-x, brownie and slither call it:
//   --version
//   --standard-json            (input JSON on stdin, output JSON only on stdout)
//   --combined-json a,b,... FILE... [prefix=target ...]   (translated to a standard-json compile)
//   --allow-paths X (ignored), --base-path X, --include-path X (import lookup roots)
//   --optimize, --optimize-runs N, --evm-version V, --via-ir (combined-json mode only)
// Like native solc, compile errors in --standard-json mode are reported inside the JSON with exit 0
// (py-solc-x and brownie read them from there); wrapper failures exit 1 with one line on stderr.
'use strict';
const fs = require('fs');
const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');

function die(msg) {
  fs.writeSync(2, `solc-wrapper: ${String(msg).split('\n')[0]}\n`);
  process.exit(1);
}

// stdout must carry only JSON: anything the library logs goes to stderr.
console.log = console.info = console.warn = (...a) => fs.writeSync(2, a.join(' ') + '\n');

// Node cuts piped stdout at 64 KiB when exiting right after an async write, so write synchronously
// and loop over partial writes / EAGAIN (stdout may be a non-blocking pipe).
function writeAll(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

function readStdin() {
  const chunks = [];
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n;
    try {
      n = fs.readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); continue; }
      if (e.code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function loadSolc() {
  try {
    return require(path.join(REPO_ROOT, 'node_modules', 'solc'));
  } catch (e) {
    try { return require('solc'); } catch (e2) { die(`cannot load npm package solc (run npm ci in ${REPO_ROOT}): ${e.message}`); }
  }
}

// ---- argument parsing -------------------------------------------------------------------------
const opts = { mode: null, combined: null, files: [], remaps: [], roots: [], optimize: false, runs: 200, evm: null, viaIR: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => { if (i + 1 >= argv.length) die(`missing value for ${a}`); return argv[++i]; };
  const eq = a.indexOf('=');
  const key = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a; // --opt=value form
  const inl = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : null;
  const v = () => (inl !== null ? inl : val());
  switch (key) {
    case '--version': case '-v': opts.mode = opts.mode || 'version'; break;
    case '--standard-json': opts.mode = 'standard'; break;
    case '--combined-json': opts.mode = 'combined'; opts.combined = v().split(','); break;
    case '--allow-paths': v(); break;
    case '--base-path': case '--include-path': opts.roots.push(path.resolve(v())); break;
    case '--optimize': opts.optimize = true; break;
    case '--optimize-runs': opts.runs = parseInt(v(), 10); break;
    case '--evm-version': opts.evm = v(); break;
    case '--via-ir': case '--experimental-via-ir': opts.viaIR = true; break;
    case '--no-color': case '--pretty-json': break;
    default:
      if (a.startsWith('-')) die(`unsupported option ${a}`);
      if (a.includes('=')) opts.remaps.push(a); else opts.files.push(a);
  }
}

// ---- import resolution ------------------------------------------------------------------------
// solc applies settings.remappings itself before calling back, so the callback only sees
// remapped paths (e.g. node_modules/@openzeppelin/...). Look them up under the given base/include
// paths, the cwd and the repo root, each also with node_modules/ in front.
const roots = [...new Set([...opts.roots, process.cwd(), REPO_ROOT])];
function findImport(p) {
  const candidates = path.isAbsolute(p) ? [p] : roots.flatMap((r) => [path.join(r, p), path.join(r, 'node_modules', p)]);
  for (const c of candidates) {
    try {
      if (fs.statSync(c).isFile()) return { contents: fs.readFileSync(c, 'utf8') };
    } catch (e) { /* try next */ }
  }
  return { error: `File not found: ${p} (looked under ${roots.join(', ')} and their node_modules/)` };
}

function compile(solc, input) {
  return JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
}

// ---- modes ------------------------------------------------------------------------------------
const solc = loadSolc();
try {
  if (opts.mode === 'version') {
    writeAll(1, `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  } else if (opts.mode === 'standard') {
    let input;
    try { input = JSON.parse(readStdin()); } catch (e) { die(`invalid standard-json input: ${e.message}`); }
    writeAll(1, JSON.stringify(compile(solc, input)) + '\n');
  } else if (opts.mode === 'combined') {
    combinedJson(solc);
  } else {
    die('usage: solc-wrapper.js --version | --standard-json | --combined-json KINDS FILE...');
  }
} catch (e) {
  die(e && e.message ? e.message : e);
}

// slither / crytic-compile's default call. Output shaped like native solc 0.8.x (abi, devdoc and
// userdoc as objects, ASTs under sources[file].AST, contract keys "file:Name").
function combinedJson(solc) {
  if (!opts.files.length) die('--combined-json needs at least one source file');
  const sel = {
    abi: 'abi', bin: 'evm.bytecode.object', 'bin-runtime': 'evm.deployedBytecode.object',
    srcmap: 'evm.bytecode.sourceMap', 'srcmap-runtime': 'evm.deployedBytecode.sourceMap',
    userdoc: 'userdoc', devdoc: 'devdoc', hashes: 'evm.methodIdentifiers', metadata: 'metadata',
    'storage-layout': 'storageLayout', opcodes: 'evm.bytecode.opcodes', asm: 'evm.legacyAssembly',
  };
  const kinds = opts.combined.filter((k) => k !== 'compact-format' && k !== 'ast');
  for (const k of kinds) if (!sel[k]) die(`unsupported --combined-json kind ${k}`);
  const sources = {};
  for (const f of opts.files) {
    const name = path.normalize(f).replace(/^\.\//, '');
    try { sources[name] = { content: fs.readFileSync(f, 'utf8') }; } catch (e) { die(`cannot read ${f}: ${e.message}`); }
  }
  const settings = {
    optimizer: { enabled: opts.optimize, runs: opts.runs },
    remappings: opts.remaps,
    outputSelection: { '*': { '*': kinds.map((k) => sel[k]), '': ['ast'] } },
  };
  if (opts.evm) settings.evmVersion = opts.evm;
  if (opts.viaIR) settings.viaIR = true;
  const out = compile(solc, { language: 'Solidity', sources, settings });
  const errors = (out.errors || []).filter((e) => e.severity === 'error');
  for (const e of out.errors || []) fs.writeSync(2, (e.formattedMessage || e.message) + '\n');
  if (errors.length) process.exit(1);

  const get = (obj, dotted) => dotted.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
  const result = { contracts: {}, sourceList: [], sources: {}, version: solc.version() };
  for (const [file, contracts] of Object.entries(out.contracts || {})) {
    for (const [name, c] of Object.entries(contracts)) {
      const entry = {};
      for (const k of kinds) {
        let val = get(c, sel[k]);
        if (k === 'metadata' && typeof val !== 'string') val = JSON.stringify(val);
        entry[k] = val === undefined ? '' : val;
      }
      result.contracts[`${file}:${name}`] = entry;
    }
  }
  const ordered = Object.entries(out.sources || {}).sort((a, b) => a[1].id - b[1].id);
  for (const [file, s] of ordered) {
    result.sourceList.push(file);
    result.sources[file] = opts.combined.includes('ast') ? { AST: s.ast, id: s.id } : { id: s.id };
  }
  writeAll(1, JSON.stringify(result) + '\n');
}
