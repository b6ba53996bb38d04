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
    // The page's request starts while this worker boots, rather than after.
    if (self.registration.navigationPreload) await self.registration.navigationPreload.enable();
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // The API and the live feed go straight to the network: when it is down, the app's own fetch
  // fails and it says the server is unreachable. Only the shell is this worker's business.
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate") {
    // The newest shell when the server answers; the cached one when it does not.
    event.respondWith((async () => {
      try {
        return (await event.preloadResponse) || (await fetch(request));
      } catch {
        return (await caches.match("/", { cacheName: CACHE })) || Response.error();
      }
    })());
    return;
  }
  event.respondWith((async () => {
    const cached = await caches.match(request, { cacheName: CACHE, ignoreSearch: true });
    return cached || fetch(request);
  })());
});
