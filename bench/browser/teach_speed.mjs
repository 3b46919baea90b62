// Teach mode's speed in headless Chromium on the CPU path: features per photo (the engine's
// own time per photo: decode, resize, one ResNet-50 forward without the classifier) and the
// 100-epoch training, for 20 photos (15 birds + 5 mammals of tests/fixtures/teach: 21
// leave-one-out heads, as the CLI's row in BENCHMARKS.md). Needs dist/ built by trunk and
// tests/browser's node_modules: node bench/browser/teach_speed.mjs
import fs from 'node:fs';
import path from 'node:path';
import { launch, openPage, startServer, waitForModel, REPO } from '../../tests/browser/test/helpers.mjs';

const TEACH = path.join(REPO, 'tests', 'fixtures', 'teach');
const sets = { bird: 15, mammal: 5 };
const server = await startServer();
const browser = await launch({ webgpu: false });
try {
  const page = await openPage(await browser.newContext(), `${server.url}?backend=cpu`);
  await waitForModel(page);
  const teach = page.locator('[data-testid=teach]');
  const t0 = Date.now();
  for (const [cls, n] of Object.entries(sets)) {
    await teach.locator('[data-testid=class-name-input]').fill(cls);
    await teach.locator('[data-testid=add-class]').click();
    const files = fs.readdirSync(path.join(TEACH, cls)).sort().slice(0, n).map((f) => path.join(TEACH, cls, f));
    await teach.locator(`[data-testid=class][data-class="${cls}"] [data-testid=class-images]`).setInputFiles(files);
  }
  const train = teach.locator('[data-testid=train]');
  await train.and(page.locator(':enabled')).waitFor({ timeout: 300_000 });
  const features = Date.now() - t0;
  const perPhoto = await teach.locator('[data-testid=feature-ms]').innerText();
  await train.click();
  const training = teach.locator('[data-testid=training]');
  await training.and(page.locator('[data-state=done]')).waitFor({ timeout: 300_000 });
  console.log(JSON.stringify({
    photos: 20, features_wall_ms: features, features_per_photo: perPhoto.trim(),
    training: await training.locator('.small').first().innerText(),
  }));
} finally {
  await browser.close();
  server.close();
}
