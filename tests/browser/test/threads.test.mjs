// The multi-threaded CPU engine (engine-mt/, WebAssembly threads) in headless Chromium: it
// runs when the page is cross-origin isolated, by the server's COOP/COEP headers or by the
// service worker that adds them, and gives the single-threaded engine's results.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DIST, REPO, assertPhotos, classify, launch, log, openPage, photo, waitForModel } from './helpers.mjs';
import { serve } from '../server.mjs';
import fs from 'node:fs';
import path from 'node:path';

const PHOTOS = ['chelsea.png', 'coffee.png', 'dog.jpg', 'eagle.jpg', 'rocket.jpg'].map(photo);

/** The backend line: threads, its text, and the page's isolation and core count. */
async function backendLine(page) {
  const backend = page.locator('[data-testid=backend]');
  await backend.and(page.locator('[data-backend=cpu], [data-backend=webgpu]')).waitFor({ timeout: 60_000 });
  return {
    kind: await backend.getAttribute('data-backend'),
    threads: Number(await backend.getAttribute('data-threads')),
    text: (await backend.innerText()).replace(/\s+/g, ' '),
    isolated: await page.evaluate(() => self.crossOriginIsolated),
    cores: await page.evaluate(() => navigator.hardwareConcurrency),
  };
}

/** Loads the served model on the CPU and classifies the photos; the backend line beside. */
async function classifyOn(context, url) {
  const page = await openPage(context, url);
  await waitForModel(page);
  const line = await backendLine(page);
  const t0 = Date.now();
  const results = await classify(page, PHOTOS);
  log(`${line.text}: ${PHOTOS.length} photos in ${Date.now() - t0} ms ` +
    `(inference ${Object.values(results).map((r) => r.timings.inference.toFixed(0)).join(', ')} ms)`);
  assert.deepEqual(page.problems, []);
  await page.close();
  return { line, results };
}

describe('every core: the multi-threaded engine', () => {
  let browser, isolatedSite, plainSite;
  before(async () => {
    browser = await launch({ webgpu: false });
    isolatedSite = await serve(DIST, { isolated: true });
    plainSite = await serve(DIST);
  });
  after(async () => {
    await browser?.close();
    await isolatedSite?.close();
    await plainSite?.close();
  });

  test('cross-origin isolated, it runs on every core with the single-threaded engine\'s top-5', async () => {
    // Not isolated (no headers, no service worker): one thread, and the line says why.
    const plain = await browser.newContext({ serviceWorkers: 'block' });
    const one = await classifyOn(plain, `${plainSite.url}?backend=cpu`);
    await plain.close();
    assert.equal(one.line.isolated, false);
    assert.equal(one.line.threads, 1);
    assert.match(one.line.text, /1 thread \(page not cross-origin isolated\)/);

    const isolated = await browser.newContext({ serviceWorkers: 'block' });
    const all = await classifyOn(isolated, isolatedSite.url);
    await isolated.close();
    assert.equal(all.line.isolated, true);
    assert.equal(all.line.kind, 'cpu');
    assert.equal(all.line.threads, all.line.cores, 'one thread per core (navigator.hardwareConcurrency)');
    assert.match(all.line.text, new RegExp(`${all.line.cores} threads`));

    assertPhotos(all.results);
    for (const [name, r] of Object.entries(all.results)) {
      const single = one.results[name].rows;
      assert.deepEqual(r.rows.map((x) => x.index), single.map((x) => x.index), `${name}: the same top-5 classes`);
      r.rows.forEach((x, i) => assert.ok(Math.abs(x.prob - single[i].prob) < 1e-4,
        `${name}: ${x.label} ${x.prob} vs ${single[i].prob} on one thread`));
    }
  });

  test('a reload starts the engine beside the page and reads the weights ahead, with the same results', async () => {
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await openPage(context, `${isolatedSite.url}?backend=cpu`);
    await waitForModel(page);
    const first = await classify(page, [photo('dog.jpg')]);
    await page.reload();
    await waitForModel(page);
    const status = page.locator('[data-testid=model-status]');
    assert.equal(await status.getAttribute('data-read-ahead'), 'true', 'the cached weights were read while the page started');
    assert.match(await status.innerText(), /from cache/);
    // index.html's engine was adopted: one engine (and its pool), none started by the page.
    const engines = page.workers().map((w) => w.url()).filter((u) => /engine/.test(u));
    assert.deepEqual(engines.map((u) => new URL(u).pathname), ['/engine-mt/worker.js']);
    assert.equal(await page.evaluate(() => typeof self.resnetLabPrestarted), 'undefined');
    const again = await classify(page, [photo('dog.jpg')]);
    assertPhotos(again);
    assert.deepEqual(again['dog.jpg'].rows, first['dog.jpg'].rows, 'the same top-5 and probabilities as before the reload');
    assert.deepEqual(page.problems, []);
    await context.close();
  });

  test('while setup still builds the threaded engine, the page runs on one thread and says so', async () => {
    // scripts/setup.sh serves first and builds engine-mt/ afterwards: trunk puts this stand-in there.
    const standIn = fs.readFileSync(path.join(REPO, 'static', 'engine-mt-pending.js'));
    const site = await serve(DIST, {
      isolated: true,
      routes: { '/engine-mt/worker.js': () => ({ type: 'text/javascript', body: standIn }) },
    });
    const context = await browser.newContext({ serviceWorkers: 'block' });
    const page = await openPage(context, `${site.url}?backend=cpu`);
    await waitForModel(page);
    const line = await backendLine(page);
    assert.equal(line.isolated, true);
    assert.equal(line.threads, 1);
    assert.match(await page.locator('[data-testid=info]').innerText(),
      /still being built by scripts\/setup\.sh .*running on one thread instead/);
    assertPhotos(await classify(page, [photo('coffee.png')]));
    assert.deepEqual(page.problems, []);
    await context.close();
    await site.close();
  });

  test('a server without the headers: the service worker makes the page isolated', async () => {
    const context = await browser.newContext();
    const page = await openPage(context, `${plainSite.url}?backend=cpu`);
    await waitForModel(page);
    const line = await backendLine(page);
    assert.equal(line.isolated, true, 'isolated after the service worker\'s reload');
    assert.equal(line.threads, line.cores);
    assertPhotos(await classify(page, [photo('coffee.png')]));
    assert.deepEqual(page.problems, []);
    await context.close();
  });
});
