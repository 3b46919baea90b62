// The Lab's long runs in headless Chromium on the CPU path (Burn flex in WebAssembly):
// the shattered-gradients sweep (six He-initialised networks, plain and residual CIFAR-20/56/110,
// `--points` per line, default 64) and training steps of each CIFAR network (`--batch`, default
// 128; `--steps` each, default 3; the engine's own compute time per step, data generation
// excluded, as the CLI's `step_ms`). Needs dist/ built by trunk and tests/browser's
// node_modules: node bench/browser/lab_speed.mjs [--points N] [--batch B] [--steps N]
// [--backend cpu|webgpu] (webgpu: Chromium's SwiftShader here, skipping the 110-layer runs
// unless --deep 1).
import { launch, openPage, startServer } from '../../tests/browser/test/helpers.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const points = arg('points', 64);
const batch = arg('batch', 128);
const steps = arg('steps', 3);
const i = process.argv.indexOf('--backend');
const backend = i > 0 ? process.argv[i + 1] : 'cpu';
const deep = arg('deep', backend === 'cpu' ? 1 : 0) === 1;
const server = await startServer();
const browser = await launch({ webgpu: backend === 'webgpu' });
const out = { backend, points, batch, steps };
try {
  const context = await browser.newContext();
  // No model is needed: the networks are He-initialised in the engine.
  const shatter = await openPage(context, `${server.url}?backend=${backend}&lab=shatter&points=${points}${deep ? '' : '&nets=plain-20,resnet-20,plain-56,resnet-56'}`);
  const tab = shatter.locator('[data-testid=lab-shatter]');
  await tab.waitFor({ timeout: 60_000 });
  let t0 = Date.now();
  await tab.locator('[data-testid=shatter-run]').click();
  await tab.and(shatter.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 1_800_000 });
  out.shatter_wall_ms = Date.now() - t0;
  out.shatter = await tab.locator('[data-testid=shatter-summary]').innerText();
  await shatter.close();

  for (const nets of ['plain-20,resnet-20', 'plain-56,resnet-56', 'plain-110,resnet-110'].slice(0, deep ? 3 : 2)) {
    const page = await openPage(context, `${server.url}?backend=${backend}&lab=train&nets=${nets}&steps=${steps}&batch=${batch}`);
    const train = page.locator('[data-testid=lab-train]');
    await train.waitFor({ timeout: 60_000 });
    t0 = Date.now();
    await train.locator('[data-testid=train-run]').click();
    await train.and(page.locator('[data-state=done], [data-state=error]')).waitFor({ timeout: 1_800_000 });
    const rows = await train.locator('[data-testid=train-curve]').evaluateAll((els) =>
      els.map((e) => ({ arch: e.dataset.arch, plain: e.dataset.plain, step_ms: Number(e.dataset.stepMs), last_loss: Number(e.dataset.lastLoss) })));
    out[nets] = { wall_ms: Date.now() - t0, rows };
    await page.close();
  }
  console.log(JSON.stringify(out, null, 1));
} finally {
  await browser.close();
  server.close();
}
