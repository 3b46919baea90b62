// The Lab's lesion study in headless Chromium on the CPU path (Burn flex in WebAssembly) with
// the Keras ResNet-50 on 8 photos (the 5 test photos and the first 3 again under other names):
// every block deleted alone from the residual and from the plain network (`--random-k K`:
// also k = 1…K random blocks, `--draws` each; default none, the work `bench/lesion_pytorch.py`
// and `resnet-lab lesion` without `--random-k` do). Prints click-to-done wall time, the
// engine's compute time (`study_ms`, photo decoding excluded) and the longest step (about the
// most a photo sent meanwhile waits). Needs dist/ built by trunk and tests/browser's
// node_modules: node bench/browser/lesion_speed.mjs [--random-k K] [--draws N]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { classify, launch, openPage, photo, startServer, waitForModel } from '../../tests/browser/test/helpers.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const randomK = arg('random-k', 0);
const draws = arg('draws', 3);
const names = ['chelsea.png', 'coffee.png', 'dog.jpg', 'eagle.jpg', 'rocket.jpg'];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lesion-speed-'));
const files = [...names, ...names.slice(0, 3)].map((name, i) => {
  const file = path.join(dir, `${i}-${name}`);
  fs.copyFileSync(photo(name), file);
  return file;
});
const server = await startServer();
const browser = await launch({ webgpu: false });
try {
  const context = await browser.newContext();
  const page = await openPage(context, `${server.url}?backend=cpu&lab=lesion&random_k=${randomK}&draws=${draws}`);
  await waitForModel(page);
  const tab = page.locator('[data-testid=lab-lesion]');
  await tab.waitFor({ timeout: 60_000 });
  await classify(page, files);
  const t0 = Date.now();
  await tab.locator('[data-testid=lesion-run]').click();
  await tab.and(page.locator('[data-state=running]')).waitFor({ timeout: 10_000 });
  await tab.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 3_600_000 });
  const wall = Date.now() - t0;
  const summary = tab.locator('[data-testid=lesion-summary]');
  console.log(JSON.stringify({
    photos: files.length,
    random_k: randomK,
    draws: randomK ? draws : 0,
    state: await tab.getAttribute('data-state'),
    wall_ms: wall,
    study_ms: Number(await summary.getAttribute('data-study-ms')),
    longest_step_ms: Number(await summary.getAttribute('data-longest-step-ms')),
    summary: await summary.innerText(),
  }, null, 1));
} finally {
  await browser.close();
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
