/* The nav's notification badge and the page title's unread count, kept live over the
 * per-user socket /ws/me/ (docs/realtime.md, "Per-user socket"); a moderator's warning
 * and, for hosts, a new join request are shown at the top of whatever page is open. */
(function () {
  "use strict";
  var link = document.querySelector("[data-moim-badge]");
  if (!link || !window.WebSocket) return;
  var badge = link.querySelector("[data-badge-count]");
  var baseTitle = document.title.replace(/^\(\d+\+?\)\s*/, "");
  var t = window.gettext || function (s) { return s; };
  var fmt = window.interpolate || function (s, args) {
    return s.replace(/%\((\w+)\)s/g, function (_m, key) { return args[key]; });
  };
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

  // A notice at the top of the page; user text only ever goes in with textContent.
  function notice(text, className, link) {
    var main = document.getElementById("main");
    if (!main) return;
    var node = document.createElement("p");
    node.className = "notice " + className;
    node.setAttribute("role", "alert");
    node.dir = "auto";
    node.textContent = text;
    if (link) {
      var anchor = document.createElement("a");
      anchor.href = link.href;
      anchor.textContent = link.text;
      node.append(" ", anchor);
    }
    main.prepend(node);
  }

  function onWarning(event) {
    notice(t("A moderator warned you:") + " " + event.message, "notice-danger moderation-warning");
  }

  function onJoinRequest(event) {
    var href = (link.dataset.requestsUrlTemplate || "").replace("/0/", "/" + Number(event.room_id) + "/");
    notice(fmt(t("%(nickname)s asked to join your room."), { nickname: event.nickname }, true),
      "join-request-notice", href ? { href: href, text: t("Review requests") } : null);
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + link.dataset.socketPath);
    var pinger = null;
    var pongWait = null;
    socket.onopen = function () {
      delay = 1000;
      pinger = setInterval(function () {
        socket.send(JSON.stringify({ type: "ping" }));
        // Unanswered within 10 s: the connection is dead; drop it and reconnect.
        clearTimeout(pongWait);
        pongWait = setTimeout(function () { socket.close(); }, 10000);
      }, 25000);
    };
    socket.onmessage = function (frame) {
      var event;
      try { event = JSON.parse(frame.data); } catch (e) { return; }
      if (event.type === "pong") clearTimeout(pongWait);
      else if (event.type === "ready") show(event.unread);
      else if (event.type === "unread.updated") show(event);
      else if (event.type === "notification.created" || event.type === "notification.updated" ||
               event.type === "notification.deleted") {
        document.dispatchEvent(new CustomEvent("moim:notification", { detail: event }));
      } else if (event.type === "chat.activity") {
        // The chat list (static/js/chats.js) refetches these rooms' rows.
        document.dispatchEvent(new CustomEvent("moim:chat-activity", { detail: event }));
      } else if (event.type === "moderation.warning") onWarning(event);
      else if (event.type === "join_request.created") onJoinRequest(event);
    };
    socket.onclose = function (close) {
      clearInterval(pinger);
      clearTimeout(pongWait);
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
