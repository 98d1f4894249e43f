/* The nav's notification badge and the page title's unread count, kept live over the
 * per-user socket /ws/me/ (docs/realtime.md, "Per-user socket"). */
(function () {
  "use strict";
  var link = document.querySelector("[data-moim-badge]");
  if (!link || !window.WebSocket) return;
  var badge = link.querySelector("[data-badge-count]");
  var baseTitle = document.title.replace(/^\(\d+\+?\)\s*/, "");
  var t = window.gettext || function (s) { return s; };
  var delay = 1000;

  function show(counts) {
    var notifications = Number(counts.notifications || 0);
    var total = notifications + Number(counts.messages || 0);
    badge.textContent = notifications > 99 ? "99+" : String(notifications);
    badge.hidden = notifications === 0;
    link.setAttribute("aria-label", notifications
      ? t("Notifications") + " (" + notifications + ")" : t("Notifications"));
    document.title = total ? "(" + (total > 99 ? "99+" : total) + ") " + baseTitle : baseTitle;
    document.dispatchEvent(new CustomEvent("moim:unread", { detail: counts }));
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + link.dataset.socketPath);
    var pinger = null;
    socket.onopen = function () {
      delay = 1000;
      pinger = setInterval(function () { socket.send(JSON.stringify({ type: "ping" })); }, 25000);
    };
    socket.onmessage = function (frame) {
      var event;
      try { event = JSON.parse(frame.data); } catch (e) { return; }
      if (event.type === "ready") show(event.unread);
      else if (event.type === "unread.updated") show(event);
      else if (event.type === "notification.created" || event.type === "notification.updated" ||
               event.type === "notification.deleted") {
        document.dispatchEvent(new CustomEvent("moim:notification", { detail: event }));
      }
    };
    socket.onclose = function (close) {
      clearInterval(pinger);
      if (close.code === 4401) return; // logged out: nothing to show
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  fetch(link.dataset.unreadUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (counts) { if (counts) show(counts); })
    .catch(function () {});
  connect();
})();
