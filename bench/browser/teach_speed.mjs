// Teach mode's speed in headless Chromium on the CPU path: features per photo (the engine's
// own time per photo: decode, resize, one ResNet-50 forward without the classifier) and the
// 100-epoch training. Default: 20 photos (15 birds + 5 mammals of tests/fixtures/teach: 21
// leave-one-out heads, as the CLI's row in BENCHMARKS.md). `--photos N` (N > 20): N copies of
// the fixtures' photos under new names, in classes of at most 50 (the page's limit), the
// fixtures' three classes first, then more, each photo in turn from its class's folder (as
// bench/finetune.sh builds its folders for the CLI). `--backend webgpu` runs on WebGPU
// (SwiftShader without a GPU); `--weights PATH` loads another weights file (e.g. a He-initialised
// torchvision ResNet-18 saved by `bench/finetune_pytorch.py --save-weights`; speed does not
// depend on the values); `--augment K` trains with K augmented views per photo; `--layer4`
// fine-tunes layer4 with the head; `--train-backend webgpu` computes the features on
// `--backend`, then reloads the page on WebGPU, where the features come back from IndexedDB
// (kept per photo and model, not per backend), and times the training there (SwiftShader's
// 7-17 s per photo would make 500 photos' features take hours; their per-photo cost is flat).
// Needs dist/ built by trunk and tests/browser's node_modules:
//   node bench/browser/teach_speed.mjs [--photos N] [--backend cpu|webgpu] [--weights PATH]
//        [--augment K | --layer4] [--train-backend webgpu]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch, openPage, startServer, waitForModel, REPO } from '../../tests/browser/test/helpers.mjs';

const TEACH = path.join(REPO, 'tests', 'fixtures', 'teach');
const FOLDERS = ['bird', 'mammal', 'vehicle'];
const MAX_PER_CLASS = 50;
const option = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const total = Number(option('--photos', 20));
const backend = option('--backend', 'cpu');
const weights = option('--weights', null);
const augment = option('--augment', '0');
const layer4 = process.argv.includes('--layer4');
const trainBackend = option('--train-backend', backend);

/** The classes and their photo files: {name: [paths]}. */
function photoSets() {
  const inFolder = (folder) => fs.readdirSync(path.join(TEACH, folder)).sort().map((f) => path.join(TEACH, folder, f));
  if (total === 20) return { bird: inFolder('bird').slice(0, 15), mammal: inFolder('mammal').slice(0, 5) };
  const classes = Math.max(2, Math.ceil(total / MAX_PER_CLASS));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'teach-speed-'));
  const sets = {};
  for (let k = 0; k < total; k++) {
    const c = k % classes;
    const name = c < FOLDERS.length ? FOLDERS[c] : `class${c + 1}`;
    const source = inFolder(FOLDERS[c % FOLDERS.length]);
    const file = source[Math.floor(k / classes) % source.length];
    const copy = path.join(dir, `${name}-${k}-${path.basename(file)}`);
    fs.copyFileSync(file, copy);
    (sets[name] ??= []).push(copy);
  }
  return sets;
}

// Other weights are served beside the app, same origin (no confirmation asked).
const served = weights && `/bench/${path.basename(weights)}`;
const server = await startServer(weights ? { [served]: () => ({ body: fs.readFileSync(weights) }) } : {});
const browser = await launch({ webgpu: backend === 'webgpu' || trainBackend === 'webgpu' });
try {
  const query = (b) => `?backend=${b}${weights ? `&weights=${encodeURIComponent(new URL(served, server.url).href)}` : ''}`;
  const context = await browser.newContext();
  let page = await openPage(context, `${server.url}${query(backend)}`);
  await waitForModel(page, { timeout: 600_000 });
  let teach = page.locator('[data-testid=teach]');
  const t0 = Date.now();
  for (const [cls, files] of Object.entries(photoSets())) {
    await teach.locator('[data-testid=class-name-input]').fill(cls);
    await teach.locator('[data-testid=add-class]').click();
    await teach.locator(`[data-testid=class][data-class="${cls}"] [data-testid=class-images]`).setInputFiles(files);
  }
  await teach.locator('[data-testid=train]').and(page.locator(':enabled')).waitFor({ timeout: 1_800_000 });
  const features = Date.now() - t0;
  const perPhoto = await teach.locator('[data-testid=feature-ms]').innerText();
  if (trainBackend !== backend) {
    // The same classes, photos and features, kept in IndexedDB, on the other backend.
    await page.close();
    page = await openPage(context, `${server.url}${query(trainBackend)}`);
    await waitForModel(page, { timeout: 600_000 });
    teach = page.locator('[data-testid=teach]');
    await teach.locator('[data-testid=train]').and(page.locator(':enabled')).waitFor({ timeout: 300_000 });
  }
  const train = teach.locator('[data-testid=train]');
  await teach.locator('[data-testid=train-augment]').selectOption(augment);
  if (layer4) await teach.locator('[data-testid=train-layer4]').check();
  const t1 = Date.now();
  await train.click();
  const training = teach.locator('[data-testid=training]');
  await training.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 3_600_000 });
  console.log(JSON.stringify({
    backend, train_backend: trainBackend, backend_used: await page.locator('[data-testid=backend]').getAttribute('data-backend'), weights, augment: Number(augment), layer4, model: await page.locator('[data-testid=model-status]').getAttribute('data-model'),
    photos: total, features_wall_ms: features, features_per_photo: perPhoto.trim(), training_wall_ms: Date.now() - t1,
    training: await training.locator('.small').first().innerText(),
  }));
} finally {
  await browser.close();
  server.close();
}
