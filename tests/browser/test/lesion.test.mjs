// The Lab's lesion study in steps, in headless Chromium on the CPU path with the real Keras
// ResNet-50: Stop keeps the rows computed and adds none after, an engine restart never leaves
// the study "running", and the random-deletion curve of Veit et al. (2016, Figure 5a).
// Two photos each (about 0.45 s per photo and forward pass on this path).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assertPhotos, blockNames, classify, launch, log, openPage, photo, startServer, waitForModel } from './helpers.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => server?.close());

/** `[data-testid=testid]` rows of the lesion tab: their block and share of top-1 kept. */
const rows = (section, testid) => section.locator(`[data-testid=${testid}]`).evaluateAll((els) =>
  els.map((e) => ({ block: e.dataset.block, kept: Number(e.dataset.top1Unchanged) })));

/** Opens the lesion tab from a lesson link and classifies `names`. */
async function lesionPage(context, query, names) {
  const page = await openPage(context, `${server.url}?backend=cpu&lab=lesion&${query}`);
  await waitForModel(page);
  const section = page.locator('[data-testid=lab-lesion]');
  await section.waitFor({ timeout: 10_000 });
  assertPhotos(await classify(page, names.map(photo)));
  return { page, section };
}

describe('the lesion study in steps (CPU)', () => {
  let browser, context;
  before(async () => {
    browser = await launch({ webgpu: false });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  });
  after(async () => browser?.close());

  test('lesion Stop: a running study halts, keeps its rows and adds none; an engine restart stops it too', async () => {
    const { page, section } = await lesionPage(context, 'random_k=0', ['chelsea.png', 'coffee.png']);
    await section.locator('[data-testid=lesion-run]').click();
    await section.and(page.locator('[data-state=running]')).waitFor({ timeout: 10_000 });
    // Two blocks in (of 16 + 1 + 16 networks), stop.
    await section.locator('[data-testid=lesion-block]').nth(1).waitFor({ state: 'attached', timeout: 60_000 });
    await section.locator('[data-testid=lesion-stop]').click();
    await section.and(page.locator('[data-state=stopped]')).waitFor({ timeout: 30_000 });
    const count = async () => (await rows(section, 'lesion-block')).length + (await rows(section, 'lesion-block-plain')).length;
    const atStop = await count();
    assert.ok(atStop >= 2 && atStop < 32, `${atStop} rows when stopped`);
    // One network takes about half a second here: a study still going would add rows.
    await page.waitForTimeout(4_000);
    assert.equal(await count(), atStop, 'no rows after Stop');
    assert.equal(await section.getAttribute('data-state'), 'stopped');
    const residual = await rows(section, 'lesion-block');
    assert.deepEqual(residual.map((b) => b.block), blockNames([3, 4, 6, 3]).slice(0, residual.length));
    for (const b of residual) assert.ok(b.kept >= 0 && b.kept <= 1, `${b.block}: ${b.kept}`);
    assert.equal(await section.locator('[data-testid=lesion-download]').count(), 1, 'the partial table can be saved');
    log(`lesion study stopped after ${atStop} networks`);

    // The engine restarts (as after a lost GPU device) during a study: it reads as stopped
    // with the reason, never as running forever.
    await section.locator('[data-testid=lesion-run]').click();
    await section.and(page.locator('[data-state=running]')).waitFor({ timeout: 10_000 });
    await section.locator('[data-testid=lesion-block]').first().waitFor({ state: 'attached', timeout: 60_000 });
    await page.evaluate(() => window.resnetLab.restartEngine());
    await section.and(page.locator('[data-state=stopped]')).waitFor({ timeout: 10_000 });
    assert.match(await section.locator('[data-testid=lesion-stopped]').innerText(), /restarted/);
    assert.ok(await section.locator('[data-testid=lesion-block]').count() >= 1, 'its rows stay');
    await waitForModel(page);
    assert.ok(await section.locator('[data-testid=lesion-run]').isEnabled());
    assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/i.test(p)), []);
    await page.close();
  });

  test('lesion random-k curve: k = 1…8 in order, degrading with k (Veit et al. 2016, Fig. 5a); k = 1 is its drawn blocks\' rows', async () => {
    const { page, section } = await lesionPage(context, 'random_k=8&draws=2&lab_seed=0', ['chelsea.png', 'coffee.png']);
    assert.equal(await section.locator('[data-testid=lesion-random-k]').inputValue(), '8', 'the settings come from the URL');
    assert.equal(await section.locator('[data-testid=lesion-draws]').inputValue(), '2');
    const t0 = Date.now();
    await section.locator('[data-testid=lesion-run]').click();
    await section.and(page.locator('[data-state=running]')).waitFor({ timeout: 10_000 });
    await section.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 300_000 });
    const wall = Date.now() - t0;
    assert.equal(await section.getAttribute('data-state'), 'done', await section.innerText());

    const curve = await section.locator('[data-testid=lesion-random]').evaluateAll((els) => els.map((e) => ({
      k: Number(e.dataset.k), kept: Number(e.dataset.top1Unchanged), p: Number(e.dataset.meanProb), draws: Number(e.dataset.draws),
    })));
    assert.deepEqual(curve.map((c) => c.k), [1, 2, 3, 4, 5, 6, 7, 8]);
    for (const c of curve) {
      assert.ok(c.kept >= 0 && c.kept <= 1 && c.p >= 0 && c.p <= 1, `k = ${c.k}: ${c.kept}, ${c.p}`);
      assert.equal(c.draws, 2, `k = ${c.k}`);
    }
    // Veit et al.: deleting more blocks degrades the network, smoothly; half of ResNet-50's
    // blocks gone keeps fewer photos than one.
    assert.ok(curve[0].kept > curve[7].kept, `k = 1 keeps ${curve[0].kept}, k = 8 ${curve[7].kept}`);

    // k = 1 deletes single blocks: each draw is that block's row of the table, and the point
    // is their mean (by hand).
    const single = Object.fromEntries((await rows(section, 'lesion-block')).map((b) => [b.block, b.kept]));
    assert.equal(Object.keys(single).length, 16);
    const drawn = await section.locator('[data-testid=lesion-random-draw][data-k="1"]').evaluateAll((els) =>
      els.map((e) => ({ blocks: e.dataset.blocks.split(','), kept: Number(e.dataset.top1Unchanged) })));
    assert.equal(drawn.length, 2);
    for (const d of drawn) {
      assert.equal(d.blocks.length, 1);
      assert.equal(d.kept, single[d.blocks[0]], `the draw deleting ${d.blocks[0]}`);
    }
    assert.ok(Math.abs(curve[0].kept - (single[drawn[0].blocks[0]] + single[drawn[1].blocks[0]]) / 2) < 1e-12);
    for (const k of [2, 8]) {
      const sets = await section.locator(`[data-testid=lesion-random-draw][data-k="${k}"]`).evaluateAll((els) => els.map((e) => e.dataset.blocks.split(',')));
      for (const set of sets) {
        assert.equal(new Set(set).size, k, `k = ${k}: ${set}`);
        for (const b of set) assert.ok(b in single, b);
      }
    }
    log(`lesion study + random k = 1…8 × 2 draws, ResNet-50 on 2 photos (CPU): ${wall} ms — ` +
      curve.map((c) => `k${c.k} ${(c.kept * 100).toFixed(0)}%`).join(' '));

    // "Download JSON" is the CLI's document: `resnet-lab lesion --random-k 8 --draws 2 --seed 0 --json`.
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 30_000 }),
      section.locator('[data-testid=lesion-download]').click(),
    ]);
    const file = path.join(os.tmpdir(), `resnet-lab-lesion-${process.pid}.json`);
    await download.saveAs(file);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.rmSync(file, { force: true });
    assert.deepEqual([...doc.images].sort(), ['chelsea.png', 'coffee.png']);
    assert.equal(doc.blocks.length, 16);
    assert.equal(doc.plain.blocks.length, 16);
    assert.equal(typeof doc.plain.intact.top1_unchanged, 'number');
    assert.equal(doc.random_k.seed, 0);
    assert.equal(doc.random_k.draws, 2);
    assert.deepEqual(doc.random_k.curve.map((c) => [c.k, c.top1_unchanged, c.draws.length]), curve.map((c) => [c.k, c.kept, 2]));
    assert.deepEqual(page.problems, []);
    await page.close();
  });
});
