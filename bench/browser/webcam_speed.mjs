// The webcam's live classification in headless Chromium with the synthetic camera, CPU path:
// for 10 frames after the first, the engine's round trip per frame (from the page posting
// the frame to the worker to its answer) and the page's own time between an answer and the
// next frame, beside the rate the page shows. Needs dist/ built by trunk and
// tests/browser's node_modules: node bench/browser/webcam_speed.mjs
import { launch, openPage, startServer, waitForModel } from '../../tests/browser/test/helpers.mjs';

const FRAMES = 10;
const server = await startServer();
const browser = await launch({ webgpu: false, camera: 'allow' });
try {
  const context = await browser.newContext({ permissions: ['camera'] });
  // Timestamps of the frames posted to the engine worker and of their answers.
  await context.addInitScript(() => {
    window.frameEvents = [];
    const post = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (message, ...rest) {
      if (typeof message?.json === 'string' && message.json.startsWith('{"type":"classify_frame"')) {
        window.frameEvents.push(['post', performance.now()]);
        if (!this.frameWatch) {
          this.frameWatch = true;
          this.addEventListener('message', (e) => {
            if (typeof e.data === 'string' && e.data.startsWith('{"type":"frame')) window.frameEvents.push(['answer', performance.now()]);
          });
        }
      }
      return post.call(this, message, ...rest);
    };
  });
  const page = await openPage(context, `${server.url}?backend=cpu`);
  await waitForModel(page);
  await page.locator('[data-testid=webcam-start]').click();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid=webcam]')?.dataset.frames) >= n,
    FRAMES + 1, { timeout: 120_000 });
  const events = await page.evaluate(() => window.frameEvents);
  const posts = events.filter(([k]) => k === 'post').map(([, t]) => t);
  const answers = events.filter(([k]) => k === 'answer').map(([, t]) => t);
  const roundTrip = answers.slice(1, FRAMES + 1).map((t, i) => t - posts[i + 1]);
  const pageSide = posts.slice(2, FRAMES + 2).map((t, i) => t - answers[i + 1]).filter(Number.isFinite);
  const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
  const fps = FRAMES / ((answers[FRAMES] - answers[0]) / 1e3);
  console.log(JSON.stringify({
    frames: FRAMES,
    fps: Number(fps.toFixed(2)),
    engine_round_trip_ms: Number(mean(roundTrip).toFixed(0)),
    page_between_frames_ms: Number(mean(pageSide).toFixed(0)),
    shown: await page.locator('[data-testid=webcam-rate]').innerText(),
    threads: await page.evaluate(() => self.crossOriginIsolated),
  }));
} finally {
  await browser.close();
  await server.close();
}
