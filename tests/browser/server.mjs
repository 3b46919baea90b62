// A tiny static server for dist/ on 127.0.0.1 that counts requests, plus test-only routes.
//
//   node server.mjs [DIST] [PORT]     serve by hand (default ../../dist, 8080)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Content types by file extension (also used by bench/browser/server.mjs). */
export const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

/** What Trunk.toml's `[serve.headers]` sends. */
export const ISOLATION_HEADERS = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

/**
 * Starts the server. `routes` maps a URL path to a function returning {status, type, body}.
 * `cors: true` lets pages of any origin read the files (a second site in the tests).
 * `isolated: true` sends the COOP/COEP headers `trunk serve` sends (a cross-origin isolated
 * page, so the engine may use threads); without them the service worker adds them.
 * Returns { url, counts: Map<path, number>, close() }.
 */
export async function serve(dist, { port = 0, routes = {}, cors = false, isolated = false } = {}) {
  const root = path.resolve(dist);
  const counts = new Map();
  const extra = {
    ...(cors ? { 'access-control-allow-origin': '*' } : {}),
    ...(isolated ? ISOLATION_HEADERS : {}),
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const pathname = decodeURIComponent(url.pathname);
    counts.set(pathname, (counts.get(pathname) ?? 0) + 1);
    if (routes[pathname]) {
      const { status = 200, type = 'application/octet-stream', body } = routes[pathname]();
      res.writeHead(status, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-store', ...extra });
      res.end(body);
      return;
    }
    let file = path.join(root, pathname);
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    fs.stat(file, (err, stat) => {
      if (err || !stat.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'content-length': stat.size,
        // No HTTP caching: the app's own Cache Storage is what the tests observe.
        'cache-control': 'no-store',
        ...extra,
      });
      if (req.method === 'HEAD') return res.end();
      fs.createReadStream(file).pipe(res);
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: actual } = server.address();
  return {
    url: `http://127.0.0.1:${actual}/`,
    counts,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dist = process.argv[2] ?? path.join(here, '..', '..', 'dist');
  const port = Number(process.argv[3] ?? 8080);
  const s = await serve(dist, { port });
  console.log(`serving ${dist} at ${s.url}`);
}
