// The ResNet Lab page in headless Chromium with the real ResNet-50 (dist/ built by trunk,
// weights from scripts/setup.sh). Run with `npm test` in tests/browser.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ARTIFACTS, DIST, ESPRESSO, assertFinitePositive, assertPhotos, blockNames, classify, isCat, isDog, launch, log, openPage, photo,
  pngHeader, readGradientPanel, servedModel, startServer, waitForModel,
} from './helpers.mjs';
import { serve } from '../server.mjs';

let server;
const model = servedModel();

before(async () => {
  server = await startServer();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});
after(async () => server?.close());

const weightRequests = () => server.counts.get(model.url) ?? 0;


// Ten-crop and full-image testing: the 16-class ResNet-18 of the core's tests, with
// torchvision's probabilities (tests/fixtures/crops/reference.json, make_crops_reference.py).
const tinyWeights = () => new URL('/test/tiny_resnet18.safetensors', server.url).href;
const CROPS_REFERENCE = JSON.parse(fs.readFileSync(path.join(path.dirname(photo('chelsea.png')), '..', 'crops', 'reference.json'), 'utf8'));
// PNGs (the browser decodes them to PIL's pixels; its JPEG decoder differs).
const CROPS_PHOTOS = { chelsea: photo('chelsea.png'), panorama: path.join(path.dirname(photo('chelsea.png')), '..', 'formats', 'panorama.png') };
const CROPS_SHOWN = { ten: ['ten_mean', 'mean of 10 crops'], full: ['full', 'whole image'] };

/** Classifies the photos under names of their own with the page's `crops` setting and checks
 * each card against torchvision: top-5 in order, each probability within 1e-3 (the core
 * test's tolerance), and the card saying which views it used. */
async function checkCrops(page, crops) {
  const [key, shown] = CROPS_SHOWN[crops];
  const files = Object.entries(CROPS_PHOTOS).map(([stem, file]) => {
    const to = path.join(os.tmpdir(), `${crops}-${stem}.png`);
    fs.copyFileSync(file, to);
    return to;
  });
  const results = await classify(page, files, { timeout: 300_000 });
  for (const stem of Object.keys(CROPS_PHOTOS)) {
    const got = results[`${crops}-${stem}.png`];
    assert.equal(got.state, 'done', `${stem}: ${got.error}`);
    const want = CROPS_REFERENCE[stem][key];
    const order = want.map((p, i) => [i, p]).sort((a, b) => b[1] - a[1]).slice(0, 5);
    assert.deepEqual(got.rows.map((r) => r.index), order.map(([i]) => i), `${stem} (${crops}): torchvision's top-5`);
    for (const row of got.rows) {
      assert.ok(Math.abs(row.prob - want[row.index]) <= 1e-3, `${stem} (${crops}) class ${row.index}: ${row.prob}, torchvision ${want[row.index]}`);
    }
    const card = page.locator(`[data-testid=result][data-image="${crops}-${stem}.png"]`);
    assert.equal(await card.getAttribute('data-crops'), crops);
    assert.equal(await card.locator('[data-testid=crops-used]').innerText(), shown);
    log(`${stem}, ${shown}: top-1 ${got.rows[0].prob.toFixed(4)} (torchvision ${order[0][1].toFixed(4)}), inference ${got.timings.inference} ms`);
  }
  for (const f of files) fs.rmSync(f, { force: true });
}

describe('without WebGPU (CPU fallback)', () => {
  let browser, context, page;
  before(async () => {
    browser = await launch({ webgpu: false });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => browser?.close());

  test('falls back to the CPU with a visible notice and loads ResNet-50', async () => {
    const t0 = Date.now();
    page = await openPage(context, server.url);
    const backend = page.locator('[data-testid=backend]');
    await backend.and(page.locator('[data-backend=cpu], [data-backend=webgpu]')).waitFor({ timeout: 60_000 });
    assert.equal(await backend.getAttribute('data-backend'), 'cpu');
    const notice = page.locator('[data-testid=backend-notice]');
    assert.match(await notice.innerText(), /WebGPU/);
    assert.match(await notice.innerText(), /CPU/);
    const status = await waitForModel(page);
    assert.equal(await status.getAttribute('data-model'), model.name);
    // The published trainable-parameter count, as `resnet-lab inspect` prints it (not the
    // BatchNorm-folded network's): Keras' model.summary() for its ResNet50 (25,636,712 total
    // less 53,120 BatchNorm statistics), torchvision's sum of numel over parameters().
    const published = { 'resnet50-keras-f16.safetensors': '25,583,592', 'resnet50-torchvision-f16.safetensors': '25,557,032' };
    const count = published[model.file];
    assert.ok(count, `no published count for ${model.file}`);
    assert.equal(await status.getAttribute('data-parameters'), count.replaceAll(',', ''));
    assert.match(await status.innerText(), new RegExp(`${count} parameters`));
    log(`cold start (empty cache) to model ready: ${Date.now() - t0} ms — ${await status.innerText()}`);
    assert.equal(weightRequests(), 1, 'the weights were downloaded once');
  });

  test('classifies real photos with the expected classes', async () => {
    const results = await classify(page, [photo('chelsea.png'), photo('coffee.png'), photo('dog.jpg')]);
    assertPhotos(results);
    for (const r of Object.values(results)) {
      assert.ok(r.timings.inference > 0, 'inference time is reported');
    }
    const backends = await page.locator('[data-testid=result] .timings .badge').allInnerTexts();
    assert.ok(backends.every((b) => b.trim() === 'cpu'), `backend on the cards: ${backends}`);
  });

  test('photos dropped together share forward passes, each with its own result (TF.js\'s classes); a bad file among them is refused alone', async () => {
    const reference = JSON.parse(fs.readFileSync(path.join(path.dirname(photo('chelsea.png')), '..', 'keras_resnet50_reference.json'), 'utf8'));
    const notes = path.join(os.tmpdir(), 'batch-notes.txt');
    fs.writeFileSync(notes, 'not a photo\n');
    const files = reference.results.map((r) => photo(r.image));
    // Each photo alone first (one forward pass each): what a batch must give each of them.
    const alone = {};
    for (const f of files) Object.assign(alone, await classify(page, [f]));
    // The drop: copies under new names (one card each), with the text file among them.
    const copy = (f) => {
      const to = path.join(os.tmpdir(), `batch-${path.basename(f)}`);
      fs.copyFileSync(f, to);
      return to;
    };
    const dropped = files.map(copy);
    dropped.splice(2, 0, notes);
    const t0 = Date.now();
    const results = await classify(page, dropped);
    const wall = Date.now() - t0;
    assert.equal(results['batch-notes.txt'].state, 'error');
    const batches = {};
    for (const want of reference.results) {
      const got = results[`batch-${want.image}`];
      assert.equal(got.state, 'done', `${want.image}: ${got.error}`);
      // Each card carries its own photo's classes: TF.js's top-1, and the top-5 the photo got
      // alone (the browser's JPEG decoder differs from PIL's, so probabilities are compared
      // with the photo's own single pass: rocket.jpg is 0.39 here, 0.52 in TF.js on PIL's pixels).
      assert.equal(got.rows[0].index, want.top5[0].index, `${want.image}: ${got.rows[0].label}, TF.js ${want.top5[0].label}`);
      const single = alone[want.image].rows;
      assert.deepEqual(got.rows.map((r) => r.index), single.map((r) => r.index), `${want.image}: the same top-5 as alone`);
      for (const [i, r] of got.rows.entries()) {
        assert.ok(Math.abs(r.prob - single[i].prob) < 1e-5, `${want.image} #${i}: ${r.prob} batched, ${single[i].prob} alone`);
      }
      const card = page.locator(`[data-testid=result][data-image="batch-${want.image}"]`);
      batches[want.image] = Number(await card.locator('[data-testid=timings]').getAttribute('data-batch'));
    }
    log(`5 photos and a text file dropped together: ${wall} ms to the last card; batches ${JSON.stringify(batches)}`);
    // The first photo starts alone (nothing waits for company); the ones queued behind it share passes of at most 4.
    assert.ok(Object.values(batches).every((b) => b >= 1 && b <= 4), JSON.stringify(batches));
    assert.ok(Object.values(batches).some((b) => b >= 2), `no photo was batched: ${JSON.stringify(batches)}`);
    for (const f of [notes, ...dropped]) fs.rmSync(f, { force: true });
  });

  test('the gradient panel explains the first photo: every block, plain ≪ residual at the first', async () => {
    const t0 = Date.now();
    const panel = await readGradientPanel(page);
    log(`gradient panel ready ${Date.now() - t0} ms after the photos (photo ${panel.photo}, class ${panel.class}) — ` +
      await page.locator('.headline').first().innerText());
    // ResNet-50: 3, 4, 6 and 3 bottlenecks, in forward order.
    assert.deepEqual(panel.blocks.map((b) => b.block), blockNames([3, 4, 6, 3]));
    assertFinitePositive(assert, panel.blocks);
    const first = panel.blocks[0];
    log(`layer1.0: residual ${first.grad.toExponential(3)}, plain ${first.plain.toExponential(3)}`);
    assert.ok(first.plain < first.grad / 1000, `plain ${first.plain} vs residual ${first.grad} at layer1.0`);
    // The default class is the explained photo's top-1.
    const card = page.locator(`[data-testid=result][data-image="${panel.photo}"]`);
    const top1 = Number(await card.locator('[data-testid=prediction]').first().getAttribute('data-index'));
    assert.equal(panel.class, top1);
    assert.equal(await page.locator('[data-testid=grad-download]').count(), 1);
  });

  test('clicking another class explains it and records it in the URL; a non-image dropped meanwhile is refused at once', async () => {
    const chip = page.locator('[data-testid=grad-class]').nth(1);
    const wanted = Number(await chip.getAttribute('data-index'));
    await chip.click();
    const panel0 = page.locator('[data-testid=gradient-panel]');
    await panel0.and(page.locator('[data-state=computing]')).waitFor({ timeout: 30_000 });
    // The analysis (several classifications' work) must not hold up a file that is no image.
    const notes = path.join(os.tmpdir(), 'during-analysis.txt');
    fs.writeFileSync(notes, 'still not pixels\n');
    await page.locator('[data-testid=image-input]').setInputFiles([notes]);
    const card = page.locator('[data-testid=result][data-image="during-analysis.txt"]');
    await card.and(page.locator('[data-state=error]')).waitFor({ timeout: 30_000 });
    assert.match(await card.locator('[data-testid=result-error]').innerText(), /not an image/i);
    assert.equal(await panel0.getAttribute('data-state'), 'computing', 'the error came before the analysis ended');
    const panelLocator = page.locator(`[data-testid=gradient-panel][data-class="${wanted}"]`);
    await panelLocator.and(page.locator('[data-state=done]')).waitFor({ timeout: 180_000 });
    const panel = await readGradientPanel(page);
    assert.equal(panel.class, wanted);
    assertFinitePositive(assert, panel.blocks);
    assert.match(page.url(), new RegExp(`[?&]class=${wanted}(&|$)`));
  });

  test('the Lab\'s lesion study: 16 blocks in order, most non-downsampling deletions keep the top-1, the plain network falls below', async () => {
    // Its own page, so that it also runs alone (--test-name-pattern="falls back|lesion").
    // Without the random deletions: lesion.test.mjs checks those.
    const lab = await openPage(context, `${server.url}?backend=cpu&random_k=0`);
    await waitForModel(lab);
    // Reached from the header; the tab goes into the URL; with no photo it asks for some.
    await lab.locator('[data-testid=lab-open]').click();
    const section = lab.locator('[data-testid=lab-lesion]');
    await section.waitFor({ timeout: 10_000 });
    assert.match(lab.url(), /[?&]lab=lesion(&|$)/);
    assert.match(await section.locator('[data-testid=lab-hint]').innerText(), /add photos/i);
    assert.ok(await section.locator('[data-testid=lesion-run]').isDisabled());

    const results = await classify(lab, [photo('chelsea.png'), photo('coffee.png'), photo('dog.jpg')]);
    assertPhotos(results);
    // Let the gradient panel's own analysis of the first photo finish first: the timing below is the study's.
    await readGradientPanel(lab);
    const t0 = Date.now();
    await section.locator('[data-testid=lesion-run]').click();
    await section.and(lab.locator('[data-state=running]')).waitFor({ timeout: 10_000 });
    await section.and(lab.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 300_000 });
    const wall = Date.now() - t0;
    assert.equal(await section.getAttribute('data-state'), 'done', await section.innerText());
    const read = (testid) => section.locator(`[data-testid=${testid}]`).evaluateAll((els) =>
      els.map((e) => ({ block: e.dataset.block, kept: Number(e.dataset.top1Unchanged), downsample: e.dataset.downsample === 'true' })));
    const residual = await read('lesion-block');
    const plain = await read('lesion-block-plain');
    // ResNet-50: 3, 4, 6 and 3 bottlenecks, one row each, in forward order.
    assert.deepEqual(residual.map((b) => b.block), blockNames([3, 4, 6, 3]));
    assert.deepEqual(plain.map((b) => b.block), blockNames([3, 4, 6, 3]));
    for (const b of [...residual, ...plain]) assert.ok(b.kept >= 0 && b.kept <= 1, `${b.block}: ${b.kept}`);
    // The first block of every stage has torchvision's projection shortcut.
    assert.deepEqual(residual.filter((b) => b.downsample).map((b) => b.block), ['layer1.0', 'layer2.0', 'layer3.0', 'layer4.0']);
    const mean = (rows) => rows.reduce((sum, b) => sum + b.kept, 0) / rows.length;
    const shallow = mean(residual.filter((b) => !b.downsample));
    // Veit et al. 2016: on average one deleted non-downsampling block keeps most top-1
    // predictions; without skips the network collapses.
    assert.ok(shallow > 0.5, `mean over non-downsampling blocks ${shallow}`);
    assert.ok(mean(plain) < mean(residual), `plain ${mean(plain)} vs residual ${mean(residual)}`);
    log(`lesion study, ResNet-50 on 3 photos (CPU): ${wall} ms click to chart — ${await section.locator('[data-testid=lesion-summary]').innerText()}`);
    assert.equal(await section.locator('[data-testid=lesion-download]').count(), 1);
    assert.deepEqual(lab.problems, []);
    await lab.close();
  });

  test('the Lab\'s shattered gradients: plain-110 decorrelates, ResNet-110 keeps its structure, photos are not held up', async () => {
    // A lesson link: the tab and its settings come from the URL.
    const url = `${server.url}?backend=cpu&lab=shatter&nets=plain-20,resnet-20,plain-110,resnet-110&points=64&lab_seed=0`;
    const lab = await openPage(context, url);
    await waitForModel(lab);
    const tab = lab.locator('[data-testid=lab-shatter]');
    await tab.waitFor({ timeout: 10_000 });
    assert.equal(await lab.locator('[data-testid=lab]').getAttribute('data-tab'), 'shatter');
    assert.equal(await tab.locator('[data-testid=shatter-points]').inputValue(), '64');
    const t0 = Date.now();
    await tab.locator('[data-testid=shatter-run]').click();
    await tab.and(lab.locator('[data-state=running]')).waitFor({ timeout: 10_000 });
    // The run goes in steps queued behind classifications: a photo sent now is answered
    // while the run is still going.
    const during = await classify(lab, [photo('coffee.png')]);
    assertPhotos(during);
    assert.equal(await tab.getAttribute('data-state'), 'running', 'the photo was classified before the run ended');
    await tab.and(lab.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 300_000 });
    const wall = Date.now() - t0;
    assert.equal(await tab.getAttribute('data-state'), 'done', await tab.innerText());
    const curves = await tab.locator('[data-testid=shatter-curve]').evaluateAll((els) =>
      els.map((e) => ({ arch: e.dataset.arch, plain: e.dataset.plain === 'true', lag1: Number(e.dataset.lag1), points: Number(e.dataset.points) })));
    assert.equal(curves.length, 4);
    const lag1 = (arch, plain) => {
      const c = curves.find((c) => c.arch === arch && c.plain === plain);
      assert.ok(c, `${arch} plain=${plain} missing`);
      assert.ok(Number.isFinite(c.lag1) && c.lag1 >= -1 && c.lag1 <= 1, `${arch}: lag-1 ${c.lag1}`);
      assert.equal(c.points, 64);
      return c.lag1;
    };
    // Balduzzi et al. 2017: a plain network's gradients decorrelate with depth (white noise),
    // a residual network's keep their structure.
    assert.ok(lag1('cifar110', true) < lag1('cifar110', false), 'plain-110 below ResNet-110');
    assert.ok(lag1('cifar110', true) < lag1('cifar20', true), 'plain-110 below plain-20');
    assert.ok(lag1('cifar110', false) > 0.5, `ResNet-110 keeps structure: ${lag1('cifar110', false)}`);
    log(`shattered gradients, 4 networks × 64 points (CPU): ${wall} ms click to done — ${await tab.locator('[data-testid=shatter-summary]').innerText()}`);
    assert.equal(await tab.locator('[data-testid=shatter-download]').count(), 1);
    // Stop ends a run early.
    await tab.locator('[data-testid=shatter-run]').click();
    await tab.and(lab.locator('[data-state=running]')).waitFor({ timeout: 10_000 });
    await tab.locator('[data-testid=shatter-stop]').click();
    await tab.and(lab.locator('[data-state=stopped]')).waitFor({ timeout: 60_000 });
    assert.ok(await tab.locator('[data-testid=shatter-curve]').count() < 4);
    assert.deepEqual(lab.problems, []);
    await lab.close();
  });

  test('the Lab\'s live training: plain and residual networks step side by side, Stop and Resume', async () => {
    const url = `${server.url}?backend=cpu&lab=train&nets=plain-20,resnet-20&steps=12&batch=8&width=8&lab_seed=0`;
    const lab = await openPage(context, url);
    // The first visit reloads once through the service worker (cross-origin isolation) before
    // the engine starts: a click before that would be lost with the page.
    await waitForModel(lab);
    const tab = lab.locator('[data-testid=lab-train]');
    await tab.waitFor({ timeout: 60_000 });
    assert.equal(await tab.locator('[data-testid=train-width]').inputValue(), '8', 'the width comes from the URL');
    assert.equal(await tab.locator('[data-testid=train-zero-gamma]').isChecked(), true, 'zero-γ by default');
    const t0 = Date.now();
    await tab.locator('[data-testid=train-run]').click();
    await tab.and(lab.locator('[data-state=running]')).waitFor({ timeout: 10_000 });
    // Stop after the first step, then resume to the end. A step of both networks takes a few
    // hundred ms, so the wait is for "at least one step" (not exactly one), or an error.
    await lab.waitForFunction(() => {
      const tab = document.querySelector('[data-testid=lab-train]');
      return tab?.dataset.state === 'error' ||
        [...tab.querySelectorAll('[data-testid=train-curve]')].some((row) => Number(row.dataset.steps) >= 1);
    }, null, { timeout: 120_000 }).catch(async (e) => {
      throw new Error(`no first step: ${e.message}\nLab tab: ${await tab.innerText()}\nproblems: ${lab.problems}`);
    });
    assert.notEqual(await tab.getAttribute('data-state'), 'error', await tab.innerText());
    await tab.locator('[data-testid=train-stop]').click();
    await tab.and(lab.locator('[data-state=stopped]')).waitFor({ timeout: 60_000 });
    const stoppedAt = await tab.locator('[data-testid=train-curve]').evaluateAll((els) => els.map((e) => Number(e.dataset.steps)));
    assert.ok(stoppedAt.every((n) => n < 12), `stopped early: ${stoppedAt}`);
    await tab.locator('[data-testid=train-resume]').click();
    await tab.and(lab.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 300_000 });
    assert.equal(await tab.getAttribute('data-state'), 'done', await tab.innerText());
    const curves = await tab.locator('[data-testid=train-curve]').evaluateAll((els) =>
      els.map((e) => ({ arch: e.dataset.arch, plain: e.dataset.plain, steps: Number(e.dataset.steps), loss: Number(e.dataset.lastLoss), ms: Number(e.dataset.stepMs) })));
    assert.deepEqual(curves.map((c) => [c.arch, c.plain, c.steps]), [['cifar20', 'true', 12], ['cifar20', 'false', 12]]);
    for (const c of curves) {
      // A freshly initialised 10-class classifier is near chance: cross-entropy near ln 10.
      assert.ok(Number.isFinite(c.loss) && Math.abs(c.loss - Math.log(10)) < 1, `${c.arch} plain=${c.plain}: loss ${c.loss}`);
    }
    log(`live training, plain-20 + ResNet-20, 12 steps of batch 8 (CPU): ${Date.now() - t0} ms with a stop; per step ${curves.map((c) => c.ms.toFixed(0)).join(' / ')} ms`);
    assert.equal(await tab.locator('[data-testid=train-download]').count(), 1);
    assert.match(lab.url(), /[?&]lab=train(&|$)/);
    assert.deepEqual(lab.problems, []);
    await lab.close();
  });

  test('a network trained by `resnet-lab train --out` loads in the page: its 10 classes and the gradient panel', async () => {
    const reference = JSON.parse(fs.readFileSync(path.join(path.dirname(photo('chelsea.png')), '..', 'lab', 'trained_cifar20_w4.json'), 'utf8'));
    const weights = new URL('/test/trained-cifar20.safetensors', server.url).href;
    // A context of its own: the file goes into that context's Cache Storage, not this suite's.
    const own = await browser.newContext();
    const trained = await openPage(own, `${server.url}?backend=cpu&weights=${encodeURIComponent(weights)}`);
    const status = await waitForModel(trained);
    // PyTorch's count of the file's trainable parameters (make_trained_reference.py).
    assert.equal(Number(await status.getAttribute('data-parameters')), reference.parameters);
    const results = await classify(trained, [photo('chelsea.png')]);
    const r = results['chelsea.png'];
    assert.equal(r.state, 'done', r.error);
    assert.equal(r.rows.length, 5);
    assert.ok(r.rows.every((row) => row.index >= 0 && row.index < 10), JSON.stringify(r.rows));
    const panel = await readGradientPanel(trained);
    // ResNet-20: three stages of three basic blocks.
    assert.deepEqual(panel.blocks.map((b) => b.block), blockNames([3, 3, 3]));
    assertFinitePositive(assert, panel.blocks);
    assert.deepEqual(trained.problems, []);
    await own.close();
  });

  test('ten crops and the whole image (?crops=ten|full) give torchvision\'s probabilities, and each card says which', async () => {
    const own = await browser.newContext();
    const tiny = await openPage(own, `${server.url}?backend=cpu&crops=ten&weights=${encodeURIComponent(tinyWeights())}`);
    await waitForModel(tiny);
    const choice = tiny.locator('[data-testid=crops]');
    assert.equal(await choice.inputValue(), 'ten', 'the setting comes from the URL');
    await checkCrops(tiny, 'ten');
    // Another choice applies to the photos added after it, and goes into the URL.
    await choice.selectOption('full');
    assert.match(tiny.url(), /[?&]crops=full(&|$)/);
    await checkCrops(tiny, 'full');
    assert.equal(await tiny.locator('[data-testid=result][data-crops=ten]').count(), 2, 'the earlier cards keep theirs');
    // The gradient panel explains a card's centre crop, whatever its views.
    const explained = tiny.locator('[data-testid=result][data-image="full-chelsea.png"]');
    await explained.locator('[data-testid=explain]').click();
    await explained.locator('.explained').waitFor({ timeout: 120_000 });
    const panel = await readGradientPanel(tiny);
    assert.equal(panel.blocks.length, 8);
    assert.deepEqual(tiny.problems, []);
    await own.close();
  });

  test('a He-initialised network needs no photo and comes from the URL (?grad=init)', async () => {
    const lesson = await openPage(context, `${server.url}?backend=cpu&grad=init&arch=cifar56&seed=3`);
    const panel = await readGradientPanel(lesson);
    assert.equal(panel.network, 'cifar56@3');
    assert.equal(panel.photo, null);
    // CIFAR ResNet-56: three stages of nine basic blocks.
    assert.deepEqual(panel.blocks.map((b) => b.block), blockNames([9, 9, 9]));
    assertFinitePositive(assert, panel.blocks);
    log(`cifar56 at init, layer1.0: residual ${panel.blocks[0].grad.toExponential(3)}, plain ${panel.blocks[0].plain.toExponential(3)}`);
    assert.ok(panel.blocks[0].plain < panel.blocks[0].grad, 'the plain network passes less gradient back');
    assert.equal(await lesson.locator('[data-testid=grad-network]').inputValue(), 'cifar56');
    await lesson.close();
  });

  test('a non-image file gets its error and the next photo still works', async () => {
    const notes = path.join(os.tmpdir(), 'notes.txt');
    fs.writeFileSync(notes, 'these are not pixels\n');
    const bad = await classify(page, [notes]);
    assert.equal(bad['notes.txt'].state, 'error');
    assert.match(bad['notes.txt'].error, /not an image/i);
    log(`notes.txt: ${bad['notes.txt'].error}`);
    const next = await classify(page, [photo('eagle.jpg')]);
    assert.equal(next['eagle.jpg'].state, 'done');
    assert.equal(next['eagle.jpg'].rows[0].index, 22, `eagle.jpg is a bald eagle, got ${next['eagle.jpg'].rows[0].label}`);
    assert.equal(await page.locator('[data-testid=model-status]').getAttribute('data-state'), 'ready');
    await page.screenshot({ path: path.join(ARTIFACTS, 'results.png'), fullPage: true });
  });

  test('an image announcing 400 megapixels is refused before decoding and the next photo still works', async () => {
    const bomb = path.join(os.tmpdir(), 'bomb.png');
    fs.writeFileSync(bomb, pngHeader(20_000, 20_000));
    const bad = await classify(page, [bomb]);
    assert.equal(bad['bomb.png'].state, 'error');
    assert.match(bad['bomb.png'].error, /20000×20000.*over 100 megapixels/);
    log(`bomb.png: ${bad['bomb.png'].error}`);
    const next = await classify(page, [photo('coffee.png')]);
    assertPhotos(next);
    assert.equal(await page.locator('[data-testid=model-status]').getAttribute('data-state'), 'ready');
  });

  test('a reload loads the weights from the cache (no second download)', async () => {
    assert.equal(weightRequests(), 1);
    const t0 = Date.now();
    await page.reload();
    const status = await waitForModel(page);
    log(`warm start (cached weights) to model ready: ${Date.now() - t0} ms — ${await status.innerText()}`);
    assert.match(await status.innerText(), /from cache/);
    assert.equal(weightRequests(), 1, 'exactly one download across two page loads');
    const results = await classify(page, [photo('coffee.png')]);
    assertPhotos(results);
  });

  test('clear cache forces a new download', async () => {
    await page.locator('[data-testid=clear-cache]').click();
    await page.locator('[data-testid=info]').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('[data-testid=info]').innerText(), /Cleared 1 cached/);
    await page.reload();
    await waitForModel(page);
    assert.equal(weightRequests(), 2);
  });

  test('the int8 ResNet-50 from the picker\'s list (?model=resnet50-int8) gives the same classes', async () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(DIST, 'weights', 'manifest.json'), 'utf8'));
    const int8 = manifest.models.find((m) => m.name === 'resnet50-int8');
    assert.ok(int8, 'scripts/setup.sh lists the int8 bundle in weights/manifest.json');
    const quantised = await openPage(context, `${server.url}?backend=cpu&model=resnet50-int8`);
    const status = await waitForModel(quantised);
    assert.equal(await status.getAttribute('data-model'), 'resnet50');
    assert.match(await status.innerText(), /int8/);
    assert.equal(server.counts.get(`/weights/${int8.file}`), 1, 'the int8 file was downloaded');
    assert.ok(int8.bytes < model.bytes / 1.9, `int8 ${int8.bytes} B vs ${model.file} ${model.bytes} B`);
    // The same classes as TF.js's float32 model on these photos (tests/fixtures/keras_probs).
    assertPhotos(await classify(quantised, [photo('chelsea.png'), photo('coffee.png'), photo('dog.jpg')]));
    await quantised.close();
  });

  test('no uncaught errors on the page', () => {
    assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/.test(p)), []);
  });
});

describe('bad weights', () => {
  let browser, context;
  before(async () => {
    browser = await launch({ webgpu: false });
    context = await browser.newContext();
  });
  after(async () => browser?.close());

  for (const [what, url, pattern] of [
    ['a truncated file', 'test/truncated.safetensors', /corrupt|truncated/i],
    ['a missing file (404)', 'test/missing.safetensors', /404/],
    ['a file in no weights format', 'test/not-weights.safetensors', /unrecognised/i],
    ['garbage claiming a terabyte header', 'test/huge-header.safetensors', /corrupt|unrecognised|header/i],
    ['a model.json whose shard climbs out of its directory', 'test/escape/model.json', /refusing the weight shard `\.\.\/secret\.bin`.*`\.\.`/],
    ['a model.json whose shard is on another host', 'test/elsewhere/model.json', /refusing the weight shard `https:\/\/evil\.example\/shard\.bin`.*another host/],
    ['a model.json listing one shard 25 times', 'test/repeated/model.json', /more than once/],
  ]) {
    test(`?weights= pointing at ${what} shows an error`, async () => {
      const page = await openPage(context, `${server.url}?backend=cpu&weights=${url}`);
      const status = page.locator('[data-testid=model-status]');
      await status.and(page.locator('[data-state=error]')).waitFor({ timeout: 60_000 });
      const error = page.locator('[data-testid=error]').first();
      await error.waitFor();
      const text = await error.innerText();
      log(`${what}: ${text}`);
      assert.match(text, pattern);
      // The page keeps working: a photo gets a clear error rather than hanging.
      const results = await classify(page, [photo('coffee.png')]);
      assert.equal(results['coffee.png'].state, 'error');
      await page.close();
    });
  }

  test('after hostile weights the served model still loads and classifies', async () => {
    const page = await openPage(context, `${server.url}?backend=cpu&weights=test/escape/model.json`);
    const status = page.locator('[data-testid=model-status]');
    await status.and(page.locator('[data-state=error]')).waitFor({ timeout: 60_000 });
    assert.equal(server.counts.get('/test/secret.bin') ?? 0, 0, 'the escaping shard was never requested');
    assert.match(await page.locator('[data-testid=error]').first().innerText(), /refusing the weight shard/);
    await page.locator('[data-testid=model-select]').selectOption(model.name);
    await waitForModel(page);
    assertPhotos(await classify(page, [photo('coffee.png')]));
    await page.close();
  });
});

describe('?weights= on another site', () => {
  let browser, context, other;
  before(async () => {
    browser = await launch({ webgpu: false });
    context = await browser.newContext();
    // Another origin: the same files on another port, readable cross-origin.
    other = await serve(DIST, { cors: true });
  });
  after(async () => {
    await browser?.close();
    await other?.close();
  });

  test('asks first, naming the host, and loads only after the click', async () => {
    const host = new URL(other.url).host;
    const weightsUrl = `${other.url}weights/${model.file}`;
    const page = await openPage(context, `${server.url}?backend=cpu&weights=${encodeURIComponent(weightsUrl)}`);
    const confirmation = page.locator('[data-testid=weights-confirmation]');
    await confirmation.waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('[data-testid=weights-host]').innerText(), host);
    assert.match(await confirmation.innerText(), new RegExp(host.replace(/\./g, '\\.')));
    // Nothing is downloaded while the question stands.
    await page.waitForTimeout(2_000);
    assert.equal(other.counts.get(model.url) ?? 0, 0, 'no request before the click');
    assert.equal(await page.locator('[data-testid=model-status]').getAttribute('data-state'), 'idle');
    await page.locator('[data-testid=confirm-weights]').click();
    await confirmation.waitFor({ state: 'detached', timeout: 10_000 });
    await waitForModel(page);
    assert.equal(other.counts.get(model.url), 1, 'downloaded once, after the click');
    assertPhotos(await classify(page, [photo('coffee.png')]));
    await page.close();
  });

  test('a same-origin absolute URL loads without asking', async () => {
    const page = await openPage(context, `${server.url}?backend=cpu&weights=${encodeURIComponent(`${server.url}test/missing.safetensors`)}`);
    const status = page.locator('[data-testid=model-status]');
    await status.and(page.locator('[data-state=error]')).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('[data-testid=weights-confirmation]').count(), 0);
    assert.match(await page.locator('[data-testid=error]').first().innerText(), /404/);
    await page.close();
  });
});

describe('offline after one visit (service worker)', () => {
  let browser, context, site;
  before(async () => {
    browser = await launch({ webgpu: false });
    context = await browser.newContext();
    // A site of its own, so that it can go away.
    site = await serve(DIST);
  });
  after(async () => {
    await browser?.close();
    await site?.close();
  });

  test('with the server gone, a reload still loads the model and classifies', async () => {
    const page = await openPage(context, `${site.url}?backend=cpu`);
    await waitForModel(page);
    // The service worker has installed (its shell copy made) and controls the page.
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
    const shell = await page.evaluate(async () => (await (await caches.open('resnet-lab-shell-v1')).keys()).map((r) => new URL(r.url).pathname));
    for (const file of ['/', '/engine_bg.wasm', '/engine.js', '/engine_loader.js']) {
      assert.ok(shell.includes(file), `${file} kept for offline use: ${shell}`);
    }
    await site.close();
    site = null;
    await page.reload();
    await waitForModel(page);
    assertPhotos(await classify(page, [photo('coffee.png')]));
    assert.deepEqual(page.problems.filter((p) => !/Failed to load resource|ERR_CONNECTION_REFUSED/.test(p)), []);
    await page.close();
  });
});

describe('with WebGPU (SwiftShader in headless Chromium)', () => {
  let browser, context, page;
  before(async () => {
    browser = await launch({ webgpu: true });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => browser?.close());

  test('a software-only adapter makes the automatic choice the CPU, and says so', async () => {
    const auto = await openPage(context, server.url);
    const backend = auto.locator('[data-testid=backend]');
    await backend.and(auto.locator('[data-backend=cpu], [data-backend=webgpu]')).waitFor({ timeout: 60_000 });
    assert.equal(await backend.getAttribute('data-backend'), 'cpu');
    assert.match(await auto.locator('[data-testid=backend-notice]').innerText(), /software/i);
    await auto.close();
  });

  test('?backend=webgpu runs ResNet-50 on WebGPU with the expected classes', async () => {
    const t0 = Date.now();
    page = await openPage(context, `${server.url}?backend=webgpu`);
    const backend = page.locator('[data-testid=backend]');
    await backend.and(page.locator('[data-backend=cpu], [data-backend=webgpu]')).waitFor({ timeout: 60_000 });
    assert.equal(await backend.getAttribute('data-backend'), 'webgpu', await backend.innerText());
    log(`adapter: ${await backend.innerText()}`);
    const status = await waitForModel(page, { timeout: 300_000 });
    log(`model ready on WebGPU in ${Date.now() - t0} ms — ${await status.innerText()}`);
    const results = await classify(page, [photo('chelsea.png'), photo('coffee.png')], { timeout: 180_000 });
    assertPhotos(results);
    const badges = await page.locator('[data-testid=result] .timings .badge').allInnerTexts();
    assert.ok(badges.every((b) => b.trim() === 'webgpu'), `backend on the cards: ${badges}`);
  });

  test('the gradient panel runs on WebGPU too (Burn autodiff on the GPU backend)', async () => {
    const t0 = Date.now();
    const panel = await readGradientPanel(page, { timeout: 480_000 });
    log(`gradient panel on WebGPU ready ${Date.now() - t0} ms after the photos — ${await page.locator('.headline').first().innerText()}`);
    assert.deepEqual(panel.blocks.map((b) => b.block), blockNames([3, 4, 6, 3]));
    assertFinitePositive(assert, panel.blocks);
    assert.ok(panel.blocks[0].plain < panel.blocks[0].grad / 1000);
  });

  test('Teach mode on WebGPU: the 9 photos train a head with the CPU test\'s reference accuracies', async () => {
    // The same photos and PyTorch reference as Teach mode's CPU test (teach.test.mjs): the
    // features come from the network on WebGPU, the head trains with Burn autodiff there too.
    const fixtures = path.join(path.dirname(photo('chelsea.png')), '..');
    const ref = JSON.parse(fs.readFileSync(path.join(fixtures, 'teach_reference', 'browser.json'), 'utf8'));
    const teach = page.locator('[data-testid=teach]');
    const t0 = Date.now();
    for (const cls of ref.classes) {
      await teach.locator('[data-testid=class-name-input]').fill(cls);
      await teach.locator('[data-testid=add-class]').click();
      const files = ref.train_files.filter((f) => f.includes(`/${cls}/`)).map((f) => path.join(fixtures, f));
      await teach.locator(`[data-testid=class][data-class="${cls}"] [data-testid=class-images]`).setInputFiles(files);
    }
    const train = teach.locator('[data-testid=train]');
    await train.and(page.locator(':enabled')).waitFor({ timeout: 600_000 });
    const featuresMs = Date.now() - t0;
    const t1 = Date.now();
    await train.click();
    const training = teach.locator('[data-testid=training]');
    await training.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 600_000 });
    log(`teach on WebGPU: ${ref.train_files.length} photos' features in ${featuresMs} ms, training ${Date.now() - t1} ms — ` +
      `${await training.locator('.small').first().innerText()}`);
    assert.equal(await training.getAttribute('data-state'), 'done', await training.innerText());
    assert.equal(Number(await training.getAttribute('data-train-accuracy')), ref.train_accuracy);
    const val = Number(await training.getAttribute('data-val-accuracy'));
    assert.ok(Math.abs(val - ref.loo_accuracy) <= 2 / 9 + 1e-9, `held-out accuracy ${val}, PyTorch ${ref.loo_accuracy}`);
  });

  test('ten crops on WebGPU: one batch of ten through the GPU, torchvision\'s probabilities', async () => {
    const own = await browser.newContext();
    const tiny = await openPage(own, `${server.url}?backend=webgpu&crops=ten&weights=${encodeURIComponent(tinyWeights())}`);
    await waitForModel(tiny);
    assert.equal(await tiny.locator('[data-testid=backend]').getAttribute('data-backend'), 'webgpu');
    await checkCrops(tiny, 'ten');
    assert.deepEqual(tiny.problems, []);
    await own.close();
  });

  test('a lost GPU device is recovered without a page reload', async () => {
    await page.evaluate(() => window.resnetLab.loseDevice());
    const status = page.locator('[data-testid=model-status]');
    await status.and(page.locator('[data-state=loading]')).waitFor({ timeout: 30_000 });
    await waitForModel(page, { timeout: 300_000 });
    assert.equal(await page.locator('[data-testid=backend]').getAttribute('data-backend'), 'webgpu');
    const results = await classify(page, [photo('dog.jpg')], { timeout: 180_000 });
    assertPhotos(results);
    assert.deepEqual(page.problems.filter((p) => !/Failed to load resource|lost/i.test(p)), []);
  });
});
