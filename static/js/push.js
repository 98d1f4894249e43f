/* The installable web app and Web Push (docs/push.md).
   On every page: register the service worker (/sw.js). On Settings › Notifications:
   "Turn on notifications" asks the browser's permission, subscribes through the worker
   with the server's VAPID key and registers the subscription with the API; "Turn off"
   unsubscribes and removes it. */
(function () {
  "use strict";

  var script = document.currentScript;
  var workerUrl = script ? script.dataset.workerUrl : "/sw.js";
  var t = window.gettext || function (text) { return text; };
  var STORED_DEVICE = "moim-push-device";
  var supported = "serviceWorker" in navigator;
  var ready = supported
    ? navigator.serviceWorker.register(workerUrl, {scope: "/"}).catch(function () { return null; })
    : Promise.resolve(null);

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function csrfToken(root) {
    var input = root.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function browserName() {
    var agent = navigator.userAgent;
    if (/Edg\//.test(agent)) return "EDGE";
    if (/OPR\//.test(agent)) return "OPERA";
    if (/Firefox\//.test(agent)) return "FIREFOX";
    if (/Chrome\//.test(agent)) return "CHROME";
    if (/Safari\//.test(agent)) return "SAFARI";
    return "CHROME";
  }

  function settingsPage(root) {
    var status = root.querySelector("[data-push-status]");
    var enable = root.querySelector("[data-push-enable]");
    var disable = root.querySelector("[data-push-disable]");
    var vapidKey = root.dataset.vapidKey;

    function say(text) { status.textContent = text; }

    function show(subscribed) {
      enable.hidden = subscribed;
      disable.hidden = !subscribed;
    }

    if (!supported || !("PushManager" in window) || !("Notification" in window)) {
      say(t("This browser cannot show notifications from Moim."));
      return;
    }
    if (!vapidKey) {
      say(t("Notifications are not set up on this server yet."));
      return;
    }
    if (Notification.permission === "denied") {
      say(t("Notifications are blocked for Moim in this browser's site settings."));
    }

    function registration() {
      return ready.then(function () { return navigator.serviceWorker.ready; });
    }

    registration().then(function (reg) {
      return reg.pushManager.getSubscription();
    }).then(function (subscription) {
      show(Boolean(subscription));
      if (subscription) {
        say(t("Notifications are on for this browser."));
        // Registered again on each visit: a subscription the browser renewed, or one a
        // log-out removed, is known to the server again.
        register(subscription).catch(function () { /* shown on the next visit */ });
      }
    });

    function register(subscription) {
      var body = subscription.toJSON();
      return fetch(root.dataset.devicesUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(root)},
        body: JSON.stringify({
          platform: "web",
          subscription: {endpoint: body.endpoint, keys: body.keys},
          browser: browserName(),
          name: browserName().charAt(0) + browserName().slice(1).toLowerCase() + " · " +
            (navigator.platform || ""),
        }),
      }).then(function (response) {
        if (!response.ok) throw new Error("register " + response.status);
        return response.json();
      }).then(function (device) {
        // Remembered so "Turn off" can remove this browser's row.
        try { localStorage.setItem(STORED_DEVICE, String(device.id)); } catch (error) { /* private mode */ }
      });
    }

    enable.addEventListener("click", function () {
      enable.disabled = true;
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") {
          throw new Error("permission");
        }
        return registration();
      }).then(function (reg) {
        return reg.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(vapidKey),
        });
      }).then(register).then(function () {
        window.location.reload();
      }).catch(function (error) {
        enable.disabled = false;
        say(error && error.message === "permission"
          ? t("Notifications were not allowed. You can allow them in the browser's site settings.")
          : t("Notifications could not be turned on. Try again later."));
      });
    });

    disable.addEventListener("click", function () {
      registration().then(function (reg) {
        return reg.pushManager.getSubscription();
      }).then(function (subscription) {
        return subscription ? subscription.unsubscribe() : true;
      }).then(function () {
        var id = null;
        try { id = localStorage.getItem(STORED_DEVICE); } catch (error) { id = null; }
        if (!id) return null;
        return fetch(root.dataset.devicesUrl + "web/" + encodeURIComponent(id) + "/", {
          method: "DELETE",
          credentials: "same-origin",
          headers: {"X-CSRFToken": csrfToken(root)},
        });
      }).then(function () {
        try { localStorage.removeItem(STORED_DEVICE); } catch (error) { /* private mode */ }
        window.location.reload();
      }).catch(function () {
        show(false);
        say(t("Notifications are off for this browser."));
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-push-settings]");
    if (root) settingsPage(root);
  });
})();
