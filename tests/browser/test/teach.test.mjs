// Teach mode in headless Chromium on the CPU fallback (dist/ built by trunk, the real
// ResNet-50 from scripts/setup.sh): classes, training, the head file, and what the browser
// keeps across reloads and engine restarts. Run with `npm test` in tests/browser.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { classify, launch, log, openPage, photo, readGradientPanel, startServer, waitForModel } from './helpers.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => server?.close());

// Teach mode on the CPU fallback: 3 photos per class of tests/fixtures/teach train a head in
// the worker. Reference: tests/fixtures/teach_reference/browser.json, a PyTorch softmax
// regression (same objective) on TensorFlow.js features of the same photos.
describe('Teach mode (CPU fallback)', () => {
  const FIXTURES = path.join(path.dirname(photo('chelsea.png')), '..');
  const ref = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'teach_reference', 'browser.json'), 'utf8'));
  const fixture = (f) => path.join(FIXTURES, f);
  let browser, context, page;
  before(async () => {
    browser = await launch({ webgpu: false });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await openPage(context, `${server.url}?backend=cpu`);
    await waitForModel(page);
  });
  after(async () => browser?.close());

  /** The custom-prediction rows of the card of `name`, in page order. */
  async function customRows(name) {
    const card = page.locator(`[data-testid=result][data-image="${name}"]`).first();
    await card.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 120_000 });
    const rows = card.locator('[data-testid=custom-prediction]');
    await rows.first().waitFor({ timeout: 10_000 });
    return rows.evaluateAll((els) => els.map((e) => ({ cls: e.dataset.class, prob: Number(e.dataset.prob) })));
  }

  /** The first training's last loss (as shown, 4 decimals) and held-out accuracy. */
  let firstRun;
  const lossOf = (text) => text.match(/loss ([0-9.]+)/)[1];
  const classNames = () => page.locator('[data-testid=teach] [data-testid=class]').evaluateAll((els) => els.map((e) => e.dataset.class));

  /** What the page kept in IndexedDB: the classes record, the photos' ids, each features row's key and length. */
  function kept() {
    return page.evaluate(() => new Promise((resolve, reject) => {
      const open = indexedDB.open('resnet-lab-teach');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction(['classes', 'photos', 'features'], 'readonly');
        const out = {};
        const record = tx.objectStore('classes').get('classes');
        record.onsuccess = () => { out.record = record.result ? JSON.parse(record.result) : null; };
        const photos = tx.objectStore('photos').getAllKeys();
        photos.onsuccess = () => { out.photos = photos.result; };
        const features = tx.objectStore('features').openCursor();
        out.features = [];
        features.onsuccess = () => {
          const cursor = features.result;
          if (!cursor) return;
          out.features.push({ key: cursor.key, length: cursor.value.length });
          cursor.continue();
        };
        tx.oncomplete = () => { db.close(); resolve(out); };
        tx.onerror = () => reject(tx.error);
      };
    }));
  }

  /** Polls `kept()` until `check` holds (saving is asynchronous), or fails with the last copy. */
  async function keptWhen(check, what) {
    let last;
    for (let i = 0; i < 100; i++) {
      last = await kept();
      if (check(last)) return last;
      await page.waitForTimeout(100);
    }
    assert.fail(`the browser's copy never had ${what}: ${JSON.stringify(last).slice(0, 400)}`);
  }

  /** Waits until each class of `counts` ({name: n}) shows n photos, all with features. */
  async function waitReady(counts) {
    for (const [cls, n] of Object.entries(counts)) {
      await page.locator(`[data-testid=class][data-class="${cls}"] [data-count="${n}"][data-ready="${n}"]`).waitFor({ timeout: 120_000 });
    }
  }

  async function trainToEnd() {
    const teach = page.locator('[data-testid=teach]');
    await teach.locator('[data-testid=train]').and(page.locator(':enabled')).waitFor({ timeout: 120_000 });
    await teach.locator('[data-testid=train]').click();
    const training = teach.locator('[data-testid=training]');
    await training.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 120_000 });
    assert.equal(await training.getAttribute('data-state'), 'done', await training.innerText());
    assert.equal(await training.getAttribute('data-epochs'), '100');
    return training;
  }

  function assertCustom(rows, expected, name) {
    assert.equal(rows.length, ref.classes.length, `${name}: one row per class`);
    assert.equal(rows[0].cls, expected, `${name}: ${JSON.stringify(rows)}`);
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].prob >= rows[i].prob, `${name}: rank order`);
    const sum = rows.reduce((s, r) => s + r.prob, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `${name}: probabilities sum to ${sum}`);
  }

  test('classes from photos train a head: training accuracy 1, held-out near PyTorch, new photos ranked', async () => {
    const teach = page.locator('[data-testid=teach]');
    const t0 = Date.now();
    for (const cls of ref.classes) {
      await teach.locator('[data-testid=class-name-input]').fill(cls);
      await teach.locator('[data-testid=add-class]').click();
      const files = ref.train_files.filter((f) => f.includes(`/${cls}/`)).map(fixture);
      const card = teach.locator(`[data-testid=class][data-class="${cls}"]`);
      await card.locator('[data-testid=class-images]').setInputFiles(files);
      await card.locator(`[data-count="${files.length}"]`).waitFor({ timeout: 10_000 });
    }
    // Refused: a duplicate name.
    await teach.locator('[data-testid=class-name-input]').fill(ref.classes[0]);
    await teach.locator('[data-testid=add-class]').click();
    assert.match(await teach.locator('[data-testid=teach-message]').innerText(), /already/);
    assert.equal(await teach.locator('[data-testid=class]').count(), ref.classes.length);

    const train = teach.locator('[data-testid=train]');
    await train.and(page.locator(':enabled')).waitFor({ timeout: 120_000 });
    const featuresMs = Date.now() - t0;
    const perPhoto = await teach.locator('[data-testid=feature-ms]').innerText();
    const t1 = Date.now();
    await train.click();
    const training = teach.locator('[data-testid=training]');
    await training.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 120_000 });
    log(`teach: ${ref.train_files.length} photos' features ready ${featuresMs} ms after the first class (${perPhoto.trim()}); ` +
      `training ${Date.now() - t1} ms — ${await training.locator('.small').first().innerText()}`);
    assert.equal(await training.getAttribute('data-state'), 'done', await training.innerText());
    assert.equal(Number(await training.getAttribute('data-train-accuracy')), ref.train_accuracy);
    // Leave-one-out on 9 photos: PyTorch's optimum gets 8/9 (Adam after 100 steps in PyTorch: 7/9).
    const val = Number(await training.getAttribute('data-val-accuracy'));
    assert.ok(Math.abs(val - ref.loo_accuracy) <= 2 / 9 + 1e-9, `held-out accuracy ${val}, PyTorch ${ref.loo_accuracy}`);
    assert.equal(await training.getAttribute('data-epochs'), '100');
    firstRun = { loss: lossOf(await training.innerText()), val: await training.getAttribute('data-val-accuracy') };

    const results = await classify(page, ref.test_files.map(fixture));
    for (const [i, f] of ref.test_files.entries()) {
      const name = path.basename(f);
      assert.equal(results[name].state, 'done');
      assert.equal(results[name].rows.length, 5, 'the ImageNet top-5 stays');
      const expected = ref.classes[ref.test_probs[i].indexOf(Math.max(...ref.test_probs[i]))];
      const rows = await customRows(name);
      assertCustom(rows, expected, name);
      if (i === 0) firstRun.rows = rows;
    }
  });

  test('the gradient panel explains a taught class: its logit matches the card, Grad-CAM, plain ≪ residual', async () => {
    const panel = page.locator('[data-testid=gradient-panel]');
    await panel.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 180_000 });
    const shown = await panel.getAttribute('data-photo');
    const card = await customRows(shown);
    const prob = Object.fromEntries(card.map((r) => [r.cls, r.prob]));
    const chips = panel.locator('[data-testid=grad-class][data-taught=true]');
    assert.equal(await chips.count(), ref.classes.length, 'one chip per taught class');
    const logits = {};
    const t0 = Date.now();
    for (let i = 0; i < ref.classes.length; i++) {
      const chip = chips.nth(i);
      const label = (await chip.innerText()).replace(/\s+\d+%$/, '');
      await chip.click();
      await panel.and(page.locator(`[data-taught=true][data-class="${await chip.getAttribute('data-index')}"]`))
        .and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 180_000 });
      const report = await readGradientPanel(page);
      assert.equal(report.blocks.length, 16);
      // The shortcut carries the gradient to the first block; without skips it nearly vanishes.
      assert.ok(report.blocks[0].plain < report.blocks[0].grad, `${label}: plain below residual`);
      logits[label] = Number(await panel.getAttribute('data-logit'));
      assert.match(await panel.innerText(), new RegExp(`your class \\d+ “${label}”`));
      assert.match(page.url(), /[?&]taught=\d+(&|$)/);
      assert.equal(await panel.locator('[data-testid=grad-cam]').count(), 1, 'Grad-CAM shown');
    }
    log(`taught classes explained on ${shown}: ${JSON.stringify(logits)} in ${Date.now() - t0} ms`);
    // The analysis's logits and the card's probabilities come from two paths (autodiff
    // network vs the channel-last forward and the head in plain Rust): softmax ties them,
    // z_a − z_b = ln(p_a / p_b) for every pair (the card's float32 probabilities).
    for (const [a, b] of [[card[0].cls, card[1].cls], [card[0].cls, card[2].cls]]) {
      const want = Math.log(prob[a] / prob[b]);
      const diff = logits[a] - logits[b];
      assert.ok(prob[b] > 0 && Math.abs(diff - want) < 1e-3 * Math.max(1, Math.abs(want)),
        `z_${a} − z_${b} = ${diff}; the card's ln(p_a/p_b) = ${want}`);
    }
  });

  test('augmented training: 2 flipped random crops per training photo, 2 more rows each; Stop while the views are computed', async () => {
    const teach = page.locator('[data-testid=teach]');
    const augment = teach.locator('[data-testid=train-augment]');
    await augment.selectOption('2');
    // Views train the head alone: fine-tuning layer4 is not offered with them.
    assert.equal(await teach.locator('[data-testid=train-layer4]').isDisabled(), true);
    const t0 = Date.now();
    const training = await trainToEnd();
    log(`teach augmented: ${Date.now() - t0} ms — ${await training.locator('.small').first().innerText()}`);
    assert.equal(await training.getAttribute('data-augment'), '2');
    // Leave-one-out on 9 photos: every photo trains, each with its 2 views (rows counted by
    // hand: 9 centre crops + 9 × 2 views); a photo's own views never train the head judging it.
    assert.equal(await training.getAttribute('data-train-rows'), String(9 + 9 * 2));
    assert.equal(Number(await training.getAttribute('data-train-accuracy')), ref.train_accuracy);
    const val = Number(await training.getAttribute('data-val-accuracy'));
    assert.ok(Math.abs(val - ref.loo_accuracy) <= 2 / 9 + 1e-9, `held-out accuracy ${val}, PyTorch (centre crops) ${ref.loo_accuracy}`);
    const results = await classify(page, ref.test_files.slice(0, 1).map(fixture));
    const name = path.basename(ref.test_files[0]);
    assert.equal(results[name].state, 'done');
    const expected = ref.classes[ref.test_probs[0].indexOf(Math.max(...ref.test_probs[0]))];
    assertCustom(await customRows(name), expected, name);

    // 8 views per photo are not kept yet: Stop while they are computed ends the run, no head trained.
    await augment.selectOption('8');
    await teach.locator('[data-testid=train]').evaluate((train) => new Promise((resolve) => {
      const root = train.closest('[data-testid=teach]');
      const observer = new MutationObserver(() => {
        const stop = root.querySelector('[data-testid=stop-training]');
        if (!stop || !root.querySelector('[data-testid=augmenting]')) return;
        observer.disconnect();
        stop.click();
        resolve();
      });
      observer.observe(root, { childList: true, subtree: true });
      train.click();
    }));
    await training.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 120_000 });
    assert.equal(await training.getAttribute('data-state'), 'error');
    assert.match(await training.innerText(), /stopped while computing the augmented views/i);
    assert.equal(await training.getAttribute('data-epochs'), '0');
    await augment.selectOption('0');
    assert.equal(await teach.locator('[data-testid=train-layer4]').isDisabled(), false);
    assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/i.test(p)), []);
  });

  test('fine-tuning layer4 with the head: a 20 % split, the head file carries layer4, new photos ranked, the panel refuses it', async () => {
    const teach = page.locator('[data-testid=teach]');
    const layer4 = teach.locator('[data-testid=train-layer4]');
    await layer4.check();
    assert.equal(await teach.locator('[data-testid=train-augment]').isDisabled(), true);
    // Each epoch runs layer4 forward and backward for every photo (WebAssembly, 2 threads): 10
    // epochs keep the test short; the head's first steps already separate 6 photos.
    const epochs = teach.locator('[data-testid=train-epochs]');
    await epochs.selectOption('10');
    const t0 = Date.now();
    await teach.locator('[data-testid=train]').click();
    const training = teach.locator('[data-testid=training]');
    await training.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 600_000 });
    log(`teach layer4: ${Date.now() - t0} ms — ${await training.locator('.small').first().innerText()}`);
    assert.equal(await training.getAttribute('data-state'), 'done', await training.innerText());
    assert.equal(await training.getAttribute('data-epochs'), '10');
    // Leave-one-out would need one layer4 per photo, so a 20 % split: round(3 × 0.2) = 1 photo
    // of each class held out (worked out by hand), 6 training rows.
    assert.equal(await training.getAttribute('data-train-rows'), '6');
    assert.equal(Number(await training.getAttribute('data-train-accuracy')), 1);
    const val = Number(await training.getAttribute('data-val-accuracy'));
    assert.ok([0, 1 / 3, 2 / 3, 1].some((v) => Math.abs(v - val) < 1e-3), `held-out accuracy ${val} of 3 photos (4 decimals shown)`);
    // Layer4 moves at lr 1e-4: a new photo keeps PyTorch's (frozen-feature) top class (the
    // mammal test photo, 0.99 there).
    const again = ref.test_files[1];
    const results = await classify(page, [fixture(again)]);
    assert.equal(results[path.basename(again)].state, 'done');
    const expected = ref.classes[ref.test_probs[1].indexOf(Math.max(...ref.test_probs[1]))];
    assertCustom(await customRows(path.basename(again)), expected, again);

    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 120_000 }),
      teach.locator('[data-testid=export-head]').click(),
    ]);
    const size = fs.statSync(await download.path()).size;
    // torchvision ResNet-50's layer4 has 14,964,736 trainable parameters (float32 in the file).
    assert.ok(size > 4 * 14_964_736, `the head file holds layer4: ${size} bytes`);

    // The gradient panel runs the network's own layer4: a head that fine-tuned it is refused.
    const panel = page.locator('[data-testid=gradient-panel]');
    const chip = panel.locator('[data-testid=grad-class][data-taught=true]').first();
    await chip.waitFor({ timeout: 180_000 });
    await panel.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 180_000 });
    await chip.click();
    await panel.filter({ hasText: /fine-tuned layer4/ }).waitFor({ timeout: 60_000 });

    await layer4.uncheck();
    await epochs.selectOption('100');
    await trainToEnd();
    assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/i.test(p)), []);
  });

  test('export → import round trip; a head for another backbone is refused', async () => {
    const teach = page.locator('[data-testid=teach]');
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }),
      teach.locator('[data-testid=export-head]').click(),
    ]);
    const file = path.join(os.tmpdir(), `resnet-lab-head-${process.pid}.safetensors`);
    await download.saveAs(file);
    const bytes = fs.readFileSync(file);
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'));
    assert.equal(header.__metadata__.format, 'resnet-lab-head/1');
    assert.deepEqual(JSON.parse(header.__metadata__.classes), ref.classes);
    assert.equal(header.__metadata__.backbone_feature_width, '2048');
    assert.deepEqual(header.weight.shape, [ref.classes.length, 2048]);
    assert.equal(bytes.length, 8 + headerLen + 4 * (ref.classes.length * 2048 + ref.classes.length));

    const message = teach.locator('[data-testid=teach-message]');
    await teach.locator('[data-testid=import-head]').setInputFiles(file);
    await message.filter({ hasText: 'Imported' }).waitFor({ timeout: 120_000 });
    // The made-elsewhere head: `resnet-lab finetune` on the tiny ResNet-18 fixture.
    await teach.locator('[data-testid=import-head]').setInputFiles(path.join(FIXTURES, 'teach_reference', 'tiny_resnet18_head.safetensors'));
    await message.filter({ hasText: /trained on resnet18/ }).waitFor({ timeout: 60_000 });
    log(`refused import: ${await message.innerText()}`);
    // The imported head (the exported one) is still in use.
    const again = ref.test_files[1];
    const results = await classify(page, [fixture(again)]);
    assert.equal(results[path.basename(again)].state, 'done');
    assertCustom(await customRows(path.basename(again)), ref.classes[1], again);
    fs.rmSync(file, { force: true });
  });

  test('a photo dropped on a class joins it (and is not classified)', async () => {
    const card = page.locator(`[data-testid=class][data-class="${ref.classes[0]}"]`);
    const count = Number(await card.locator('[data-count]').getAttribute('data-count'));
    const extra = 'teach/bird/ab13.jpg';
    const b64 = fs.readFileSync(fixture(extra)).toString('base64');
    const dt = await page.evaluateHandle(([name, data]) => {
      const bytes = Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], name, { type: 'image/jpeg' }));
      return transfer;
    }, [path.basename(extra), b64]);
    await card.dispatchEvent('drop', { dataTransfer: dt });
    await card.locator(`[data-count="${count + 1}"][data-ready="${count + 1}"]`).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator(`[data-testid=result][data-image="${path.basename(extra)}"]`).count(), 0);
  });

  test('Stop ends a training early, and the page stays usable', async () => {
    const teach = page.locator('[data-testid=teach]');
    // Stop is pressed the moment it appears, in the page itself: on the multi-threaded engine
    // the 100 epochs can end before a click sent from here arrives.
    await teach.locator('[data-testid=train]').evaluate((train) => new Promise((resolve) => {
      const root = train.closest('[data-testid=teach]');
      const observer = new MutationObserver(() => {
        const stop = root.querySelector('[data-testid=stop-training]');
        if (!stop) return;
        observer.disconnect();
        stop.click();
        resolve();
      });
      observer.observe(root, { childList: true, subtree: true });
      train.click();
    }));
    const training = teach.locator('[data-testid=training]');
    await training.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 60_000 });
    assert.equal(await training.getAttribute('data-state'), 'done');
    const epochs = Number(await training.getAttribute('data-epochs'));
    assert.ok(epochs >= 1 && epochs < 100, `stopped after ${epochs} epochs`);
    assert.match(await training.innerText(), /stopped/);
    assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/i.test(p)), []);
  });

  test('the head in use comes back after a reload (Cache Storage), with the same probabilities', async () => {
    const probe = ref.test_files[2];
    const name = path.basename(probe);
    await classify(page, [fixture(probe)]);
    const before = await customRows(name);
    await page.reload();
    await waitForModel(page);
    const message = page.locator('[data-testid=teach-message]');
    await message.filter({ hasText: 'kept in this browser' }).waitFor({ timeout: 30_000 });
    assert.match(await message.innerText(), new RegExp(ref.classes.join(', ')));
    await classify(page, [fixture(probe)]);
    const after = await customRows(name);
    assert.deepEqual(after.map((r) => r.cls), before.map((r) => r.cls));
    for (const [i, r] of after.entries()) assert.ok(Math.abs(r.prob - before[i].prob) < 1e-6, `${r.cls}: ${r.prob} vs ${before[i].prob}`);
  });

  test('the classes, photos and features come back after a reload: no recomputation, the same training', async () => {
    const teach = page.locator('[data-testid=teach]');
    const counts = Object.fromEntries(ref.classes.map((c) => [c, ref.train_files.filter((f) => f.includes(`/${c}/`)).length]));
    counts[ref.classes[0]] += 1; // the photo dropped on it
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    // The browser's copy: names in order, each photo's file, its 2048 features for this model.
    const copy = await kept();
    assert.deepEqual(copy.record.classes.map((c) => c.name), ref.classes);
    assert.deepEqual(copy.record.classes.map((c) => c.photos.length), ref.classes.map((c) => counts[c]));
    assert.equal(copy.photos.length, total);
    assert.equal(copy.features.length, total);
    assert.ok(copy.features.every((f) => f.length === 2048), JSON.stringify(copy.features.slice(0, 2)));
    // The page after the reload (previous test): the same classes and counts, features from the copy.
    assert.deepEqual(await classNames(), ref.classes);
    assert.match(await teach.locator('[data-testid=teach-kept]').innerText(),
      new RegExp(`Restored 3 classes kept in this browser: ${ref.classes.join(', ')} \\(${total} photos\\)`));
    await waitReady(counts);
    assert.equal(await teach.getAttribute('data-features-computed'), '0', 'no photo was sent to be computed again');
    // Back to the first training's photos: the same features give the same training.
    await teach.locator(`[data-testid=class][data-class="${ref.classes[0]}"] figure[title="ab13.jpg"] [data-testid=remove-photo]`).click();
    const training = await trainToEnd();
    assert.equal(Number(await training.getAttribute('data-train-accuracy')), ref.train_accuracy);
    assert.equal(lossOf(await training.innerText()), firstRun.loss, 'the same final loss as before the reload');
    assert.equal(await training.getAttribute('data-val-accuracy'), firstRun.val);
    // The same head: a photo gets the probabilities it got from the first training's head.
    const probe = ref.test_files[0];
    await classify(page, [fixture(probe)]);
    const rows = await customRows(path.basename(probe));
    assert.deepEqual(rows.map((r) => r.cls), firstRun.rows.map((r) => r.cls));
    for (const [i, r] of rows.entries()) assert.ok(Math.abs(r.prob - firstRun.rows[i].prob) < 1e-6, `${r.cls}: ${r.prob} vs ${firstRun.rows[i].prob}`);
    await keptWhen((k) => k.photos.length === total - 1 && k.features.length === total - 1, 'the removed photo deleted');
  });

  test('after an engine restart the photos go back from their features, and training works at once', async () => {
    const teach = page.locator('[data-testid=teach]');
    const counts = Object.fromEntries(ref.classes.map((c) => [c, ref.train_files.filter((f) => f.includes(`/${c}/`)).length]));
    const t0 = Date.now();
    await page.evaluate(() => window.resnetLab.restartEngine());
    await page.locator('[data-testid=model-status][data-state=loading]').waitFor({ timeout: 30_000 });
    await waitForModel(page);
    await waitReady(counts);
    log(`engine restart to every class photo ready again: ${Date.now() - t0} ms`);
    assert.equal(await teach.getAttribute('data-features-computed'), '0');
    const training = await trainToEnd();
    assert.equal(lossOf(await training.innerText()), firstRun.loss);
    assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/i.test(p)), []);
  });

  test('rename and delete a class, paste a photo into the focused class; all kept across a reload', async () => {
    const teach = page.locator('[data-testid=teach]');
    const [first, second, third] = ref.classes;
    const rename = async (cls, to) => {
      const input = teach.locator(`[data-testid=class][data-class="${cls}"] [data-testid=class-rename]`);
      await input.fill(to);
      await input.press('Tab');
    };
    await rename(first, '  songbird ');
    const songbird = teach.locator('[data-testid=class][data-class="songbird"]');
    await songbird.waitFor({ timeout: 10_000 });
    assert.equal(await songbird.locator('[data-count]').getAttribute('data-count'), '3');
    // Refused like a new class's name: a clash; the name shown stays.
    await rename(second, 'songbird');
    assert.match(await teach.locator('[data-testid=teach-message]').innerText(), /already/);
    assert.equal(await teach.locator(`[data-testid=class][data-class="${second}"] [data-testid=class-rename]`).inputValue(), second);

    // Ctrl+V while the class has the focus: the clipboard's photo joins it, no card is classified.
    const pasted = 'teach/bird/ab15.jpg';
    const b64 = fs.readFileSync(fixture(pasted)).toString('base64');
    await songbird.focus();
    await page.evaluate(([name, data]) => {
      const bytes = Uint8Array.from(atob(data), (ch) => ch.charCodeAt(0));
      const clipboard = new DataTransfer();
      clipboard.items.add(new File([bytes], name, { type: 'image/jpeg' }));
      document.activeElement.dispatchEvent(new ClipboardEvent('paste', { clipboardData: clipboard, bubbles: true, cancelable: true }));
    }, [path.basename(pasted), b64]);
    await songbird.locator('[data-count="4"][data-ready="4"]').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator(`[data-testid=result][data-image="${path.basename(pasted)}"]`).count(), 0);
    assert.equal(await teach.getAttribute('data-features-computed'), '1');

    await teach.locator(`[data-testid=class][data-class="${third}"] [data-testid=delete-class]`).click();
    assert.deepEqual(await classNames(), ['songbird', second]);
    await keptWhen((k) => JSON.stringify(k.record.classes.map((c) => [c.name, c.photos.length])) === JSON.stringify([['songbird', 4], [second, 3]])
      && k.photos.length === 7 && k.features.length === 7, 'the renamed class, the pasted photo, the deleted class gone');
    await page.reload();
    await waitForModel(page);
    await waitReady({ songbird: 4, [second]: 3 });
    assert.deepEqual(await classNames(), ['songbird', second]);
    assert.equal(await teach.getAttribute('data-features-computed'), '0');
  });

  test('Forget empties the panel and the browser\'s copy; a damaged copy is ignored with a message', async () => {
    const teach = page.locator('[data-testid=teach]');
    await teach.locator('[data-testid=forget-classes]').click();
    assert.equal(await teach.locator('[data-testid=class]').count(), 0);
    await keptWhen((k) => k.record.classes.length === 0 && k.photos.length === 0 && k.features.length === 0, 'nothing');
    // What another version or a damaged disk might leave: ignored, said, no panic.
    await page.evaluate(() => new Promise((resolve, reject) => {
      const open = indexedDB.open('resnet-lab-teach');
      open.onsuccess = () => {
        const tx = open.result.transaction(['classes', 'features'], 'readwrite');
        tx.objectStore('classes').put('{"version":1,"classes":[{"name":', 'classes');
        tx.objectStore('features').put('not features', 'zz/7');
        tx.oncomplete = () => { open.result.close(); resolve(); };
        tx.onerror = () => reject(tx.error);
      };
      open.onerror = () => reject(open.error);
    }));
    await page.reload();
    await waitForModel(page);
    const message = teach.locator('[data-testid=teach-kept]');
    await message.filter({ hasText: 'damaged' }).waitFor({ timeout: 30_000 });
    log(`damaged copy: ${await message.innerText()}`);
    assert.equal(await teach.locator('[data-testid=class]').count(), 0);
    // The page works on, and its next save replaces the damaged copy.
    await teach.locator('[data-testid=class-name-input]').fill('after');
    await teach.locator('[data-testid=add-class]').click();
    await keptWhen((k) => k.record?.classes?.[0]?.name === 'after' && k.features.length === 0, 'the new class');
    assert.deepEqual(page.problems.filter((p) => !/Failed to load resource/i.test(p)), []);
  });
});
