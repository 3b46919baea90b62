// The bench's static server on 127.0.0.1: several folders mounted at URL prefixes.
//
//   /          -> dist/ (the ResNet Lab release build, as Trunk wrote it)
//   /bench/    -> bench/browser/ (tfjs.html, tfjs-bench.mjs, node_modules/@tensorflow/...)
//   /photos/   -> tests/fixtures/photos/
//
// Every response is `cache-control: no-store` (like tests/browser/server.mjs): a warm start is
// what the page keeps itself (ResNet Lab: Cache Storage; the TF.js page: IndexedDB), never the
// HTTP cache. A request whose URL has `coi=1` in its query gets the cross-origin isolation
// headers (COOP same-origin, COEP require-corp), which TF.js needs for its threaded WASM build
// (SharedArrayBuffer). Nothing else gets them, so ResNet Lab is served as it is by default.
//
//   node server.mjs [PORT]     serve by hand (default 8080)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TYPES } from '../../tests/browser/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..');

export function defaultMounts() {
  return [
    ['/bench/', here],
    ['/photos/', path.join(REPO, 'tests', 'fixtures', 'photos')],
    ['/', process.env.RESNET_LAB_DIST ?? path.join(REPO, 'dist')],
  ];
}

/** Starts the server. Returns { url, counts: Map<path, number>, bytes(prefix), close() }. */
export async function serve({ port = 0, mounts = defaultMounts() } = {}) {
  const roots = mounts.map(([prefix, dir]) => [prefix, path.resolve(dir)]);
  const counts = new Map();
  const sent = new Map();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const pathname = decodeURIComponent(url.pathname);
    counts.set(pathname, (counts.get(pathname) ?? 0) + 1);
    const [prefix, root] = roots.find(([p]) => pathname.startsWith(p)) ?? [];
    if (!root) return res.writeHead(404).end();
    let file = path.join(root, pathname.slice(prefix.length));
    if (file !== root && !file.startsWith(root + path.sep)) return res.writeHead(403).end();
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    fs.stat(file, (err, stat) => {
      if (err || !stat.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      const headers = {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'content-length': stat.size,
        'cache-control': 'no-store',
      };
      if (url.searchParams.get('coi') === '1') {
        headers['cross-origin-opener-policy'] = 'same-origin';
        headers['cross-origin-embedder-policy'] = 'require-corp';
      }
      res.writeHead(200, headers);
      if (req.method === 'HEAD') return res.end();
      sent.set(pathname, (sent.get(pathname) ?? 0) + stat.size);
      fs.createReadStream(file).pipe(res);
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: actual } = server.address();
  return {
    url: `http://127.0.0.1:${actual}/`,
    counts,
    /** Bytes sent so far for paths starting with `prefix`. */
    bytes: (prefix = '/') => [...sent].filter(([p]) => p.startsWith(prefix)).reduce((a, [, b]) => a + b, 0),
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await serve({ port: Number(process.argv[2] ?? 8080) });
  console.log(`ResNet Lab at ${s.url}, TF.js bench at ${s.url}bench/tfjs.html?backend=wasm`);
}
