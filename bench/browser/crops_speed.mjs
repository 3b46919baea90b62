// What ten-crop and whole-image testing cost in headless Chromium on the CPU path: the five
// reference photos classified with each `?crops=` setting (each photo under a new name, one
// at a time), the engine's own time per photo from the cards (inference + read-back;
// decode and preprocess apart), the released dist/ and the served model (Keras ResNet-50).
// Needs dist/ built by trunk and tests/browser's node_modules:
//   node bench/browser/crops_speed.mjs [--rounds 2]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { classify, launch, openPage, photo, startServer, waitForModel } from '../../tests/browser/test/helpers.mjs';

const i = process.argv.indexOf('--rounds');
const rounds = i > 0 ? Number(process.argv[i + 1]) : 2;
const sources = ['chelsea.png', 'coffee.png', 'dog.jpg', 'eagle.jpg', 'rocket.jpg'].map(photo);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crops-speed-'));
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const server = await startServer();
const browser = await launch({ webgpu: false });
try {
  const page = await openPage(await browser.newContext(), `${server.url}?backend=cpu`);
  await waitForModel(page, { timeout: 600_000 });
  const times = { center: [], ten: [], full: [] };
  const preprocess = { center: [], ten: [], full: [] };
  let k = 0;
  for (let round = 0; round < rounds; round++) {
    for (const crops of Object.keys(times)) {
      await page.locator('[data-testid=crops]').selectOption(crops);
      for (const source of sources) {
        const copy = path.join(dir, `${crops}-${k++}-${path.basename(source)}`);
        fs.copyFileSync(source, copy);
        const result = Object.values(await classify(page, [copy], { timeout: 300_000 }))[0];
        if (result.state !== 'done') throw new Error(`${copy}: ${result.error}`);
        times[crops].push(result.timings.inference + result.timings.readback);
        preprocess[crops].push(result.timings.preprocess);
      }
    }
  }
  const threads = await page.locator('[data-testid=backend]').innerText();
  console.log(JSON.stringify({
    backend: threads.trim(), photos: sources.length, rounds,
    median_ms: Object.fromEntries(Object.entries(times).map(([c, v]) => [c, Math.round(median(v))])),
    preprocess_median_ms: Object.fromEntries(Object.entries(preprocess).map(([c, v]) => [c, Math.round(median(v))])),
  }));
} finally {
  await browser.close();
  server.close();
}
