// The offline shell: the app's files come from the cache when the server cannot be reached, so
// the installed app opens and says so instead of showing the browser's error page.
// The build fills in VERSION and SHELL.

const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const CACHE = `statsserver-shell-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name.startsWith("statsserver-shell-") && name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

const offline = () => new Response(JSON.stringify({ error: "the server cannot be reached" }), {
  status: 503,
  headers: { "Content-Type": "application/json", "X-Offline": "1" },
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  // The live feed is a stream for the browser itself: never through here.
  if (url.pathname === "/api/live") return;
  if (url.pathname.startsWith("/api/") || url.pathname === "/add_data_point") {
    event.respondWith(fetch(request).catch(offline));
    return;
  }
  if (request.mode === "navigate") {
    // The newest shell when the server answers; the cached one when it does not.
    event.respondWith(fetch(request).catch(async () => (await caches.match("/", { cacheName: CACHE })) || offline()));
    return;
  }
  event.respondWith((async () => {
    const cached = await caches.match(request, { cacheName: CACHE, ignoreSearch: true });
    if (cached) return cached;
    try {
      return await fetch(request);
    } catch {
      return offline();
    }
  })());
});
