// The webcam in headless Chromium on the CPU fallback, with Chromium's synthetic camera
// (--use-fake-device-for-media-stream): snapshots classified like picked photos, snapshots
// given to a Teach class, Close stopping the camera, and a refused camera.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { classify, launch, log, openPage, photo, startServer, waitForModel } from './helpers.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => server?.close());

/**
 * Counts the webcam frames the page sends to the engine worker and their answers
 * (`window.frameTraffic`), to check that at most one is in flight.
 */
function watchFrames() {
  const traffic = { sent: 0, answered: 0, maxInFlight: 0 };
  window.frameTraffic = traffic;
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (message, ...rest) {
    if (typeof message?.json === 'string' && message.json.startsWith('{"type":"classify_frame"')) {
      traffic.sent += 1;
      traffic.maxInFlight = Math.max(traffic.maxInFlight, traffic.sent - traffic.answered);
      if (!this.frameWatch) {
        this.frameWatch = true;
        this.addEventListener('message', (e) => {
          if (typeof e.data === 'string' && /^\{"type":"frame(_error)?"/.test(e.data)) traffic.answered += 1;
        });
      }
    }
    return post.call(this, message, ...rest);
  };
}

/** Opens a browser whose camera is `camera` ('allow' or 'deny') on the CPU backend, model ready. */
async function openWithCamera(camera, permissions) {
  const browser = await launch({ webgpu: false, camera });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, permissions });
  await context.addInitScript(watchFrames);
  const page = await openPage(context, `${server.url}?backend=cpu`);
  await waitForModel(page);
  return { browser, page };
}

describe('Webcam (synthetic camera)', () => {
  let browser, page;
  before(async () => ({ browser, page } = await openWithCamera('allow', ['camera'])));
  after(async () => browser?.close());

  test('a snapshot is classified: a card with its image and a top-5 of probabilities', async () => {
    await page.locator('[data-testid=webcam-start]').click();
    await page.locator('[data-testid=webcam][data-state=live]').waitFor({ timeout: 10_000 });
    // The fake camera's frames have arrived once the preview knows its size.
    await page.waitForFunction(() => document.querySelector('[data-testid=webcam] video')?.videoWidth > 0);
    await page.locator('[data-testid=webcam-snapshot]').click();
    const card = page.locator('[data-testid=result][data-image="webcam-1.jpg"]');
    await card.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 25_000 });
    assert.equal(await card.getAttribute('data-state'), 'done', await card.innerText());
    const probs = await card.locator('[data-testid=prediction]').evaluateAll((els) => els.map((e) => Number(e.dataset.prob)));
    assert.equal(probs.length, 5);
    for (const p of probs) assert.ok(Number.isFinite(p) && p >= 0 && p <= 1, `probability ${p}`);
    assert.ok(probs.reduce((a, b) => a + b, 0) <= 1 + 1e-5, `top-5 sums to ${probs}`);
    for (let i = 1; i < probs.length; i++) assert.ok(probs[i] <= probs[i - 1], `top-5 in order: ${probs}`);
    // The snapshot itself is shown: the fake camera's 640×480 frame, decoded by the browser.
    const size = await card.locator('img').first().evaluate(async (img) => {
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    });
    const videoSize = await page.locator('[data-testid=webcam] video').evaluate((v) => [v.videoWidth, v.videoHeight]);
    assert.deepEqual(size, videoSize);
    assert.deepEqual(page.problems, []);
  });

  test('the live preview is classified frame after frame: a top-5, the frame rate, one frame in flight, no cards', async () => {
    const webcam = page.locator('[data-testid=webcam][data-state=live]');
    const cards = await page.locator('[data-testid=result]').count();
    const t0 = Date.now();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=webcam]')?.dataset.frames) >= 4,
      null, { timeout: 60_000 });
    const rows = await webcam.locator('[data-testid=webcam-prediction]').evaluateAll((els) =>
      els.map((e) => ({ index: Number(e.dataset.index), label: e.dataset.label, prob: Number(e.dataset.prob) })));
    assert.equal(rows.length, 5, JSON.stringify(rows));
    for (const r of rows) {
      assert.ok(Number.isInteger(r.index) && r.index >= 0 && r.index < 1000 && r.label, JSON.stringify(r));
      assert.ok(Number.isFinite(r.prob) && r.prob >= 0 && r.prob <= 1, JSON.stringify(r));
    }
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i].prob <= rows[i - 1].prob, 'top-5 in order');
    const fps = Number(await webcam.getAttribute('data-fps'));
    assert.ok(fps > 0, `a frame rate is measured: ${fps}`);
    // The page waits for each answer before grabbing the next frame: never two in flight.
    const traffic = await page.evaluate(() => window.frameTraffic);
    assert.ok(traffic.sent >= 4, JSON.stringify(traffic));
    assert.equal(traffic.maxInFlight, 1, JSON.stringify(traffic));
    // Live frames make no photo cards (snapshots do).
    assert.equal(await page.locator('[data-testid=result]').count(), cards);
    log(`webcam live (CPU, ResNet-50): ${fps.toFixed(2)} frames/s, ${traffic.sent} frames in ${Date.now() - t0} ms — ` +
      `${await webcam.locator('[data-testid=webcam-rate]').innerText()}`);
    assert.deepEqual(page.problems, []);
  });

  test('hiding the tab stops the camera', async () => {
    await page.evaluate(() => {
      window.webcamTracks = document.querySelector('[data-testid=webcam] video').srcObject.getTracks();
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.locator('[data-testid=webcam-start]').waitFor({ timeout: 5_000 });
    assert.deepEqual(await page.evaluate(() => window.webcamTracks.map((t) => t.readyState)), ['ended']);
    await page.evaluate(() => {
      delete document.hidden;
      document.dispatchEvent(new Event('visibilitychange'));
    });
    // Open again for the next tests.
    await page.locator('[data-testid=webcam-start]').click();
    await page.locator('[data-testid=webcam][data-state=live]').waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid=webcam] video')?.videoWidth > 0);
  });

  test('in Teach mode a class snapshot adds the frame to that class', async () => {
    const teach = page.locator('[data-testid=teach]');
    for (const cls of ['camera', 'other']) {
      await teach.locator('[data-testid=class-name-input]').fill(cls);
      await teach.locator('[data-testid=add-class]').click();
    }
    const card = teach.locator('[data-testid=class][data-class="camera"]');
    await card.locator('[data-count="0"]').waitFor({ timeout: 5_000 });
    await card.locator('[data-testid=class-snapshot]').click();
    // Counted at once, and ready once the engine has its features.
    await card.locator('[data-count="1"][data-ready="1"]').waitFor({ timeout: 25_000 });
    await card.locator('[data-testid=class-snapshot]').click();
    await card.locator('[data-count="2"][data-ready="2"]').waitFor({ timeout: 25_000 });
    // The other class got none of them.
    assert.equal(await teach.locator('[data-testid=class][data-class="other"] [data-count]').getAttribute('data-count'), '0');
    assert.deepEqual(page.problems, []);
  });

  test('with a head trained, the live frames show the taught classes too', async () => {
    const teach = page.locator('[data-testid=teach]');
    const other = teach.locator('[data-testid=class][data-class="other"]');
    await other.locator('[data-testid=class-images]').setInputFiles([photo('coffee.png'), photo('chelsea.png')]);
    await other.locator('[data-count="2"][data-ready="2"]').waitFor({ timeout: 60_000 });
    const train = teach.locator('[data-testid=train]');
    await train.and(page.locator(':enabled')).waitFor({ timeout: 60_000 });
    await train.click();
    const training = teach.locator('[data-testid=training]');
    await training.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 120_000 });
    assert.equal(await training.getAttribute('data-state'), 'done', await training.innerText());
    const rows = page.locator('[data-testid=webcam][data-state=live] [data-testid=webcam-custom-prediction]');
    await rows.first().waitFor({ timeout: 30_000 });
    const custom = await rows.evaluateAll((els) => els.map((e) => ({ cls: e.dataset.class, prob: Number(e.dataset.prob) })));
    assert.deepEqual(custom.map((r) => r.cls).sort(), ['camera', 'other']);
    // The live frames are the synthetic camera's, as the two `camera` snapshots were; `other`
    // learned from a cup and a cat.
    assert.equal(custom[0].cls, 'camera', JSON.stringify(custom));
    assert.ok(Math.abs(custom[0].prob + custom[1].prob - 1) < 1e-4, JSON.stringify(custom));
    assert.deepEqual(page.problems, []);
  });

  test('Close stops the camera', async () => {
    await page.evaluate(() => {
      const video = document.querySelector('[data-testid=webcam] video');
      window.webcamTracks = video.srcObject.getTracks();
    });
    assert.deepEqual(await page.evaluate(() => window.webcamTracks.map((t) => t.readyState)), ['live']);
    await page.locator('[data-testid=webcam-close]').click();
    await page.locator('[data-testid=webcam-start]').waitFor({ timeout: 5_000 });
    assert.equal(await page.locator('[data-testid=webcam]').count(), 0);
    assert.deepEqual(await page.evaluate(() => window.webcamTracks.map((t) => t.readyState)), ['ended']);
    // With the camera closed the classes offer no snapshot.
    assert.equal(await page.locator('[data-testid=class-snapshot]').count(), 0);
    assert.deepEqual(page.problems, []);
  });

  test('leaving the page (pagehide) stops the camera too', async () => {
    await page.locator('[data-testid=webcam-start]').click();
    await page.locator('[data-testid=webcam][data-state=live]').waitFor({ timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid=webcam] video')?.srcObject);
    const states = await page.evaluate(() => {
      const tracks = document.querySelector('[data-testid=webcam] video').srcObject.getTracks();
      const before = tracks.map((t) => t.readyState);
      window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }));
      return { before, after: tracks.map((t) => t.readyState) };
    });
    assert.deepEqual(states, { before: ['live'], after: ['ended'] });
    await page.locator('[data-testid=webcam-start]').waitFor({ timeout: 5_000 });
    assert.deepEqual(page.problems, []);
  });
});

describe('Webcam refused', () => {
  let browser, page;
  before(async () => ({ browser, page } = await openWithCamera('deny', [])));
  after(async () => browser?.close());

  test('a refused camera says so, and photos are still classified', async () => {
    await page.locator('[data-testid=webcam-start]').click();
    const webcam = page.locator('[data-testid=webcam][data-state=denied]');
    await webcam.waitFor({ timeout: 10_000 });
    assert.match(await webcam.locator('[data-testid=webcam-error]').innerText(), /Camera access was refused/);
    assert.equal(await page.locator('[data-testid=class-snapshot]').count(), 0);
    const results = await classify(page, [photo('chelsea.png')], { timeout: 25_000 });
    assert.equal(results['chelsea.png'].state, 'done');
    assert.equal(results['chelsea.png'].rows.length, 5);
    assert.deepEqual(page.problems, []);
  });
});

describe('No camera', () => {
  let browser, page;
  // Headless Chromium without the synthetic device has no camera at all.
  // After the model is ready: the first visit reloads once through the service worker
  // (cross-origin isolation), which would swallow an earlier click.
  before(async () => ({ browser, page } = await openWithCamera(undefined, ['camera'])));
  after(async () => browser?.close());

  test('a missing camera says so, and can be asked for again', async () => {
    await page.locator('[data-testid=webcam-start]').click();
    const error = page.locator('[data-testid=webcam][data-state=error] [data-testid=webcam-error]');
    await error.waitFor({ timeout: 10_000 });
    assert.match(await error.innerText(), /No camera was found/);
    await page.locator('[data-testid=webcam-start]').click();
    await error.waitFor({ timeout: 10_000 });
    assert.deepEqual(page.problems, []);
  });
});
