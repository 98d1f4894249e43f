/* Moim's service worker (served at /sw.js by community.push.views.service_worker).
   Shows Web Push notifications, opens the room at the message on a click, caches the
   app shell's static files for a fast start and shows the offline page when a page
   cannot be reached. Pages themselves are never cached: they hold private data. */
"use strict";

var CONFIG = {{ config_json|safe }};
var CACHE = "moim-shell-" + CONFIG.version;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return cache.addAll(CONFIG.precache.concat([CONFIG.offline_url]));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (key) {
        return key.indexOf("moim-shell-") === 0 && key !== CACHE;
      }).map(function (key) { return caches.delete(key); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf(CONFIG.static_prefix) === 0) {
    // Static files have hashed names: a cached copy is always right.
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        return hit || fetch(request).then(function (response) {
          if (response.ok) cache.put(request, response.clone());
          return response;
        });
      });
    }));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(CONFIG.offline_url);
    }));
  }
});

self.addEventListener("push", function (event) {
  var data = {};
  if (event.data) {
    try { data = event.data.json(); } catch (error) { data = {body: event.data.text()}; }
  }
  var options = {
    body: data.body || "",
    icon: CONFIG.icon,
    badge: CONFIG.badge,
    data: {url: data.url || "/", info: data.data || {}},
  };
  if (data.tag) {
    // A newer push of the same room replaces the shown one, and alerts again.
    options.tag = data.tag;
    options.renotify = true;
  }
  event.waitUntil(self.registration.showNotification(data.title || "Moim", options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var wanted = (event.notification.data && event.notification.data.url) || "/";
  var target = new URL(wanted, self.location.origin);
  if (target.origin !== self.location.origin) target = new URL("/", self.location.origin);
  event.waitUntil(
    self.clients.matchAll({type: "window", includeUncontrolled: true}).then(function (windows) {
      for (var i = 0; i < windows.length; i += 1) {
        var client = windows[i];
        if (new URL(client.url).pathname === target.pathname && "focus" in client) {
          return client.focus().then(function (focused) {
            return focused && focused.navigate ? focused.navigate(target.href) : focused;
          });
        }
      }
      return self.clients.openWindow(target.href);
    })
  );
});
