// Assent Authenticator service worker: caches the app shell so passcodes
// work offline, shows Web Push notifications and opens the app on a tap.
"use strict";

const CACHE = "assent-app-v1";
const SHELL = ["/app/", "/app/app.js", "/app/app.css", "/app/manifest.webmanifest", "/app/icon-192.png", "/app/icon-512.png"];

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// The shell: network first (so updates arrive), the cache when offline. The
// device API is never cached.
self.addEventListener("fetch", (ev) => {
  const url = new URL(ev.request.url);
  if (ev.request.method !== "GET" || url.origin !== location.origin || !url.pathname.startsWith("/app/")) return;
  ev.respondWith(fetch(ev.request).then((resp) => {
    if (resp.ok && SHELL.includes(url.pathname)) {
      const copy = resp.clone();
      caches.open(CACHE).then((c) => c.put(ev.request, copy));
    }
    return resp;
  }).catch(() => caches.match(ev.request, { ignoreSearch: true })));
});

self.addEventListener("push", (ev) => {
  let data = {};
  try { data = ev.data ? ev.data.json() : {}; } catch (e) { data = {}; }
  const title = data.summary || "Assent: a request waits for you";
  ev.waitUntil((async () => {
    await self.registration.showNotification(title, {
      body: "Tap to approve or deny.",
      tag: data.txid || "assent",
      icon: "/app/icon-192.png",
      data: { txid: data.txid || "" },
      requireInteraction: true,
    });
    for (const c of await self.clients.matchAll({ type: "window" })) c.postMessage({ type: "push", txid: data.txid || "", title });
  })());
});

self.addEventListener("notificationclick", (ev) => {
  ev.notification.close();
  ev.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const w of wins) {
      if (new URL(w.url).pathname.startsWith("/app/")) return w.focus();
    }
    return self.clients.openWindow("/app/");
  })());
});
