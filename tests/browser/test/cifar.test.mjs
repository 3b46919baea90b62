// The Lab's training tab on CIFAR-10 in its binary form: picked files, a URL (another site only
// after a click naming it), checks on hostile files, the cached copy after a reload, Forget.
// The reference numbers come from tests/fixtures/make_cifar_sample.py: the image counts and
// label histograms read back from the files by Python, and PyTorch's spread of the losses of a
// full-batch training over 200 initialisations (see that script for why they are comparable).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, launch, log, openPage, startServer, waitForModel } from './helpers.mjs';
import { serve } from '../server.mjs';

const SAMPLE = path.join(REPO, 'tests', 'fixtures', 'cifar');
const reference = JSON.parse(fs.readFileSync(path.join(SAMPLE, 'reference.json'), 'utf8'));
const train = reference.files['data_batch_1.bin'];
const held = reference.files['test_batch.bin'];
const TRAINING = reference.training;

/** Reads the data status line's contract attributes. */
async function cifarStatus(page, state) {
  const status = page.locator('[data-testid=cifar-status]');
  await status.and(page.locator(`[data-state=${state}]`)).waitFor({ timeout: 60_000 });
  return {
    images: Number(await status.getAttribute('data-images')),
    testImages: Number(await status.getAttribute('data-test-images')),
    labels: await status.getAttribute('data-labels'),
    text: await status.innerText(),
  };
}

/** Trains to the end and reads each curve's first and last loss. */
async function trainToEnd(tab) {
  await tab.locator('[data-testid=train-run]').click();
  await tab.and(tab.page().locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 300_000 });
  assert.equal(await tab.getAttribute('data-state'), 'done', await tab.innerText());
  return tab.locator('[data-testid=train-curve]').evaluateAll((els) => els.map((e) => ({
    name: `${e.dataset.plain === 'true' ? 'plain' : 'resnet'}-${e.dataset.arch.replace('cifar', '')}`,
    steps: Number(e.dataset.steps),
    first: Number(e.dataset.firstLoss),
    last: Number(e.dataset.lastLoss),
    ms: Number(e.dataset.stepMs),
  })));
}

/** `value` within PyTorch's mean ± 4 sd over its seeds (or its observed range, where that is wider: skewed). */
function assertInSpread(value, spread, what) {
  const off = Math.abs(value - spread.mean) / spread.sd;
  const lo = Math.min(spread.mean - 4 * spread.sd, spread.min);
  const hi = Math.max(spread.mean + 4 * spread.sd, spread.max);
  assert.ok(Number.isFinite(value) && value >= lo && value <= hi,
    `${what}: ${value} is ${off.toFixed(1)} sd from PyTorch's ${spread.mean.toFixed(4)} ± ${spread.sd.toFixed(4)} (range ${spread.min.toFixed(4)}…${spread.max.toFixed(4)})`);
}

describe('CIFAR-10 in the Lab\'s training tab', () => {
  let browser, context, server, other;
  before(async () => {
    server = await startServer();
    // Another origin holding the same sample, readable cross-origin.
    other = await serve(SAMPLE, { cors: true });
    browser = await launch({ webgpu: false });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await other?.close();
  });

  test('files are checked, trained on as PyTorch predicts, kept across a reload, and forgotten', async () => {
    const url = `${server.url}?backend=cpu&lab=train&nets=plain-20,resnet-20&steps=3&batch=${TRAINING.batch}&width=${TRAINING.width}&lab_seed=0&data=cifar10&zero_gamma=0`;
    const page = await openPage(context, url);
    await waitForModel(page);
    const tab = page.locator('[data-testid=lab-train]');
    // data=cifar10 with nothing here: the tab says what to load, and cannot train yet.
    const empty = await cifarStatus(page, 'empty');
    assert.match(empty.text, /data_batch_1\.bin/);
    assert.equal(await tab.locator('[data-testid=train-run]').isDisabled(), true);

    // Hostile files are refused with a reason, and nothing is loaded.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cifar-'));
    const short = path.join(dir, 'data_batch_1.bin');
    fs.writeFileSync(short, Buffer.alloc(100));
    const label10 = path.join(dir, 'data_batch_2.bin');
    const bad = Buffer.alloc(2 * 3073, 7);
    bad[3073] = 10;
    fs.writeFileSync(label10, bad);
    const files = page.locator('[data-testid=cifar-files]');
    const refusal = (text) => page.locator('[data-testid=cifar-error]', { hasText: text }).waitFor({ timeout: 60_000 });
    await files.setInputFiles([short]);
    await refusal(/100 bytes is not a whole number of 3073-byte/);
    await files.setInputFiles([label10]);
    await refusal(/image 1 has label 10/);
    assert.equal((await cifarStatus(page, 'empty')).images, 0, 'nothing was loaded');

    // The sample: counts and label histogram as Python read them from the same files.
    await files.setInputFiles([path.join(SAMPLE, 'data_batch_1.bin'), path.join(SAMPLE, 'test_batch.bin')]);
    const loaded = await cifarStatus(page, 'ready');
    assert.equal(loaded.images, train.images);
    assert.equal(loaded.testImages, held.images);
    assert.equal(loaded.labels, train.label_counts.join(','));
    assert.equal(await page.locator('[data-testid=cifar-error]').count(), 0);

    // Full-batch training: each step's loss depends on the initial weights only, so it must
    // lie in PyTorch's spread over initialisations (ln 10 = 2.303 is chance).
    const t0 = Date.now();
    const curves = await trainToEnd(tab);
    const used = tab.locator('[data-testid=train-data-used]');
    assert.equal(await used.getAttribute('data-data'), 'cifar10');
    assert.equal(Number(await used.getAttribute('data-images')), train.images);
    for (const c of curves) {
      const ref = TRAINING.networks[c.name];
      assert.equal(c.steps, 3);
      assertInSpread(c.first, ref.steps[0], `${c.name} step 0`);
      assertInSpread(c.last, ref.steps[2], `${c.name} step 2`);
      assertInSpread(c.first - c.last, ref.drop, `${c.name} drop over 2 steps`);
      log(`${c.name} on the CIFAR-format sample (${train.images} images, batch ${TRAINING.batch}, width ${TRAINING.width}): loss ${c.first.toFixed(4)} → ${c.last.toFixed(4)}; ` +
        `PyTorch ${ref.steps[0].mean.toFixed(4)} ± ${ref.steps[0].sd.toFixed(4)} → ${ref.steps[2].mean.toFixed(4)} ± ${ref.steps[2].sd.toFixed(4)}; ${c.ms.toFixed(0)} ms/step`);
    }
    log(`3 steps of both networks: ${Date.now() - t0} ms from the click`);

    // A reload finds the kept copy, and the same seed trains to the same numbers on it.
    await page.reload();
    await waitForModel(page);
    const kept = await cifarStatus(page, 'ready');
    assert.deepEqual([kept.images, kept.testImages, kept.labels], [loaded.images, loaded.testImages, loaded.labels]);
    assert.match(kept.text, /Kept in this browser/);
    const again = await trainToEnd(tab);
    // (Equal up to the summation order of the CPU kernels' threads.)
    for (const [i, c] of again.entries()) {
      assert.ok(Math.abs(c.first - curves[i].first) < 1e-4, `${c.name}: ${c.first} on the kept data, ${curves[i].first} on the picked files`);
    }

    // Forget: gone here and after a reload.
    await page.locator('[data-testid=cifar-forget]').click();
    await cifarStatus(page, 'empty');
    await page.reload();
    await waitForModel(page);
    await cifarStatus(page, 'empty');

    // A URL on another site: asked first, naming the host; nothing is fetched before the click.
    const foreign = `${other.url}data_batch_1.bin`;
    await page.locator('[data-testid=cifar-url]').fill(foreign);
    await page.locator('[data-testid=cifar-url-load]').click();
    const host = new URL(other.url).host;
    assert.equal(await page.locator('[data-testid=cifar-host]').innerText(), host);
    assert.equal(other.counts.get('/data_batch_1.bin') ?? 0, 0, 'no request before the click');
    await page.locator('[data-testid=confirm-cifar]').click();
    const fetched = await cifarStatus(page, 'ready');
    assert.equal(other.counts.get('/data_batch_1.bin'), 1, 'downloaded once, after the click');
    assert.equal(fetched.images, train.images);
    assert.equal(fetched.testImages, 0, 'the URL held the training file only');
    assert.deepEqual(page.problems, []);
    await page.close();
  });
});
