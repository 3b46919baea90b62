// Photos dropped together against the same photos one by one, in headless Chromium on the CPU
// path (issue 10, goal 5): N copies of the test photos under new names, classified (a) one at
// a time, each waited for before the next is given, and (b) all in one drop (the engine
// batches the photos already queued), timed on the page from the file input to the last card.
// Alternated, `--rounds R` times; also the engine's own time summed over the cards (what the
// page's harness adds per photo, e.g. Playwright's round trips, left out); the released dist/ and the served model (Keras ResNet-50).
// Needs dist/ built by trunk and tests/browser's node_modules:
//   node bench/browser/batch_speed.mjs [--photos 8] [--rounds 3] [--single-thread]
// (`--single-thread`: the service worker blocked, so the page is not isolated and the
// single-threaded engine runs.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch, openPage, photo, startServer, waitForModel } from '../../tests/browser/test/helpers.mjs';

const option = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const total = option('--photos', 8);
const rounds = option('--rounds', 3);
const single = process.argv.includes('--single-thread');
const sources = ['chelsea.png', 'coffee.png', 'dog.jpg', 'eagle.jpg', 'rocket.jpg'].map(photo).filter((f) => fs.existsSync(f));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batch-speed-'));
let copies = 0;
/** `total` fresh copies (new names, so each gets its own card). */
function freshPhotos() {
  return Array.from({ length: total }, (_, k) => {
    const source = sources[k % sources.length];
    const copy = path.join(dir, `p${copies++}-${path.basename(source)}`);
    fs.copyFileSync(source, copy);
    return copy;
  });
}

const server = await startServer();
const browser = await launch({ webgpu: false });
try {
  const context = await browser.newContext({ serviceWorkers: single ? 'block' : 'allow' });
  const page = await openPage(context, `${server.url}?backend=cpu`);
  await waitForModel(page);
  const input = page.locator('[data-testid=image-input]');
  const done = (file) => page.locator(`[data-testid=result][data-image="${path.basename(file)}"]`)
    .and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 600_000 });
  const threads = await page.locator('[data-testid=backend]').innerText();
  // Warm-up: the first photo arranges the channel-last weights.
  const [warm] = freshPhotos();
  await input.setInputFiles([warm]);
  await done(warm);
  const runs = [];
  for (let r = 0; r < rounds; r++) {
    let files = freshPhotos();
    let t0 = Date.now();
    for (const f of files) {
      await input.setInputFiles([f]);
      await done(f);
    }
    const oneByOne = Date.now() - t0;
    files = freshPhotos();
    t0 = Date.now();
    await input.setInputFiles(files);
    for (const f of files) await done(f);
    const together = Date.now() - t0;
    // The engine's own time per card (decode, preprocess, inference or its share of the
    // batch's, read-back), newest cards first: the last `total` are one by one, the first together.
    const cards = await page.locator('[data-testid=result] [data-testid=timings]').evaluateAll((els, n) =>
      els.slice(0, 2 * n).map((e) => ({
        batch: Number(e.dataset.batch),
        ms: ['decodeMs', 'preprocessMs', 'inferenceMs', 'readbackMs'].reduce((t, k) => t + Number(e.dataset[k]), 0),
      })), total);
    const sum = (list) => list.reduce((t, c) => t + c.ms, 0);
    const engineTogether = sum(cards.slice(0, total));
    const engineOneByOne = sum(cards.slice(total));
    runs.push({
      one_by_one_ms: oneByOne, together_ms: together, speedup: +(oneByOne / together).toFixed(3),
      engine_one_by_one_ms: Math.round(engineOneByOne), engine_together_ms: Math.round(engineTogether),
      engine_speedup: +(engineOneByOne / engineTogether).toFixed(3),
      batches: cards.slice(0, total).map((c) => c.batch),
    });
  }
  console.log(JSON.stringify({ photos: total, backend: threads.trim().replace(/\s+/g, ' '), runs }, null, 1));
} finally {
  await browser.close();
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
