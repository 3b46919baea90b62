// ResNet Lab's service worker: after one visit the app opens and classifies offline.
//
// It keeps the app shell (index.html, the page's and the engine's JavaScript and WebAssembly,
// the stylesheet, the weights manifest) in Cache Storage. Every request is still answered from
// the network first, so a new build is picked up at once; the copy is used only when the
// network fails. The weights themselves are not touched here: the engine keeps them in its own
// cache (`resnet-lab-weights-v1`) and streams their downloads with progress.
//
// It also makes the page cross-origin isolated on hosts that do not send the two headers
// (the engine's threads need shared memory): every answer it gives carries them, and
// the page reloads once, before mounting, when it is not isolated yet.
'use strict';

const SHELL = 'resnet-lab-shell-v1';
// Files whose names trunk does not hash (the engine worker) and what the page fetches at start.
const FIXED = ['./', 'engine_loader.js', 'engine.js', 'engine_bg.wasm', 'weights/manifest.json'];
// Weight files are large and cached by the engine; shell files are everything else.
const isWeights = (url) => /\/weights\/.+\.(safetensors|pth|bin|json)$/.test(url.pathname) &&
  !url.pathname.endsWith('/weights/manifest.json');

// On install, fetch index.html and the files it names (their names carry trunk's hashes).
async function precache() {
  const cache = await caches.open(SHELL);
  const index = await fetch('./', { cache: 'no-cache' });
  if (!index.ok) throw new Error(`index.html: HTTP ${index.status}`);
  const html = await index.clone().text();
  await cache.put('./', index);
  const named = [...html.matchAll(/['"]\.\/([\w.-]+\.(?:js|wasm|css|svg))['"]/g)]
    .map((m) => m[1]);
  const files = [...new Set([...FIXED.slice(1), ...named])];
  // A missing optional file (no weights manifest yet) must not stop the install.
  await Promise.all(files.map(async (file) => {
    const response = await fetch(file, { cache: 'no-cache' }).catch(() => null);
    if (response?.ok) await cache.put(file, response);
  }));
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('resnet-lab-shell-') && name !== SHELL) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// The headers that make the page cross-origin isolated. require-corp: everything the app
// loads is its own, and a `?weights=` download from another site is a CORS request.
const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// The same answer with the isolation headers (opaque and redirect answers cannot be copied).
function isolated(response) {
  if (response.status === 0 || response.type === 'opaqueredirect') return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

// Trunk's content hash in a file name (`resnet-lab-web-2c530b0528a3fda0.js`): such a file never
// changes, so a copy of it is never refreshed.
const HASHED = /-[0-9a-f]{12,16}(_bg)?\.[a-z]+$/;
// How long a refresh of a changeable copy waits: writing the engine's WebAssembly (7.6 MB or
// more) into the cache while the engine starts would slow the start (BENCHMARKS.md, "Reload").
const REFRESH_DELAY_MS = 5000;

// Whether two answers carry the same validators (ETag, Last-Modified): the same file.
function sameFile(a, b) {
  const same = (name) => a.headers.get(name) !== null && a.headers.get(name) === b.headers.get(name);
  return same('etag') || same('last-modified');
}

// Keeps `response` as the copy of `key`: at once when there is none, later when the copy may
// be out of date, not at all when it cannot be.
async function keep(cache, key, response) {
  const copy = await cache.match(key);
  if (copy) {
    if (HASHED.test(new URL(key.url ?? key, self.location.href).pathname) || sameFile(copy, response)) return;
    await new Promise((resolve) => setTimeout(resolve, REFRESH_DELAY_MS));
  }
  await cache.put(key, response);
}

// Network first; a successful answer is kept for offline use (see `keep`).
async function networkFirst(event) {
  const { request } = event;
  const cache = await caches.open(SHELL);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === 'basic') {
      const key = request.mode === 'navigate' ? './' : request;
      event.waitUntil(keep(cache, key, response.clone()));
    }
    return isolated(response);
  } catch (offline) {
    const copy = await cache.match(request.mode === 'navigate' ? './' : request, { ignoreSearch: request.mode === 'navigate' });
    if (copy) return isolated(copy);
    throw offline;
  }
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  // Only this site's GETs; ranges, uploads, other hosts and the weights go straight through.
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (event.request.headers.has('range') || isWeights(url)) return;
  event.respondWith(networkFirst(event));
});
