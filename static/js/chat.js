/* Moim room chat: a plain-JS client for the protocol in docs/realtime.md.
 *
 * User text is only ever set with textContent, never parsed as HTML. Messages are kept in
 * seq order and de-duplicated by id; a dropped socket reconnects with backoff and
 * resyncs with ?after=<highest contiguous seq> (every message up to it is on screen: a
 * message that came early, e.g. my own send's REST response, does not move it), and
 * pending sends are retried with the same client_id (the server stores each one once).
 */
(function () {
  "use strict";
  // Times in the account's time zone (<html data-time-zone>, the one the server renders
  // with), not the browser's: the wallet, notifications and chat agree.
  function clockTime(iso) {
    var options = { hour: "2-digit", minute: "2-digit" };
    var zone = document.documentElement.getAttribute("data-time-zone");
    var lang = document.documentElement.lang || [];
    if (zone) {
      try { return new Date(iso).toLocaleTimeString(lang, Object.assign({ timeZone: zone }, options)); } catch (e) { /* unknown zone: the browser's */ }
    }
    return new Date(iso).toLocaleTimeString(lang, options);
  }


  var root = document.getElementById("chat");
  if (!root) return;

  var t = window.gettext || function (s) { return s; };
  var fmt = window.interpolate || function (s, args) {
    return s.replace(/%\((\w+)\)s/g, function (_m, key) { return args[key]; });
  };

  // Close codes (docs/realtime.md): these stop the chat until the cause changes.
  var STOP_CODES = { 4401: t("Please log in again."), 4403: t("You are not a member of this room."),
    4404: t("This room no longer exists."), 4410: t("You were banned from this room."),
    4411: t("You were removed from this room."), 4412: t("You left this room."),
    4413: t("Your account is suspended.") };
  var PAGE_SIZE = 50;
  var PING_MS = 25000;
  // A ping not answered within this long means a dead connection: drop it and reconnect.
  var PONG_WAIT_MS = 10000;
  // The server closes a socket that fell behind with 4000: reconnect at once and resync.
  var RESYNC_CODE = 4000;
  // 1013: the realtime backend is down; reconnect with backoff (as after a network drop).
  var TRY_AGAIN_CODE = 1013;
  var TYPING_SHOW_MS = 5000;
  var TYPING_SEND_MS = 3000;

  var config = {
    roomId: Number(root.dataset.roomId),
    me: Number(root.dataset.membershipId),
    // What I may do here, as the server decides it (community/access.py): the page's
    // flags, then the socket's `ready` frame; never worked out from role strings.
    permissions: {
      can_post: root.dataset.canPost === "1",
      can_moderate: root.dataset.canModerate === "1",
      can_delete_any_message: root.dataset.canDeleteAnyMessage === "1",
    },
    roomApiUrl: root.dataset.roomApiUrl,
    lastReadSeq: Number(root.dataset.lastReadSeq || 0),
    socketPath: root.dataset.socketPath,
    historyUrl: root.dataset.historyUrl,
    readUrl: root.dataset.readUrl,
    messageUrlTemplate: root.dataset.messageUrlTemplate,
  };
  var el = {
    log: root.querySelector("[data-chat-log]"),
    list: root.querySelector("[data-chat-messages]"),
    loader: root.querySelector("[data-chat-loader]"),
    connection: root.querySelector("[data-chat-connection]"),
    presence: root.querySelector("[data-chat-presence]"),
    typing: root.querySelector("[data-chat-typing]"),
    error: root.querySelector("[data-chat-error]"),
    form: root.querySelector("[data-chat-form]"),
    input: root.querySelector("[data-chat-input]"),
    reply: root.querySelector("[data-chat-reply]"),
    replyText: root.querySelector("[data-chat-reply-text]"),
    replyCancel: root.querySelector("[data-chat-reply-cancel]"),
    template: root.querySelector("[data-chat-message-template]"),
  };
  var csrfInput = el.form.querySelector("input[name=csrfmiddlewaretoken]");

  var state = {
    socket: null,
    attempts: 0,
    stopped: false,
    highestSeq: 0,
    // Every message from the first history page up to this seq is on screen.
    contiguousSeq: 0,
    seqs: new Set(),
    lowestSeq: null,
    hasMoreBefore: true,
    loadingBefore: false,
    nodes: new Map(), // message id -> <li>
    messages: new Map(), // message id -> payload
    pending: new Map(), // client_id -> {body, replyTo, node}
    revealed: new Set(), // ids of collapsed messages the reader chose to show
    replyTo: null,
    typists: new Map(), // membership id -> {nickname, timer}
    lastTypingSent: 0,
    readSent: config.lastReadSeq,
    readTimer: null,
    pingTimer: null,
    pongTimer: null,
    dividerPlaced: false,
    historyLoaded: false,
  };

  // --- helpers ----------------------------------------------------------------------

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function messageUrl(id) {
    return config.messageUrlTemplate.replace(/\/0\/$/, "/" + id + "/");
  }

  function blockUrl(membershipId) {
    return root.dataset.blockUrlTemplate.replace(/\/0\/block\/$/, "/" + membershipId + "/block/");
  }

  // The owner's and co-hosts' badge next to their nickname, so a look-alike is told apart.
  function badgeText(role) {
    if (role === "owner") return t("Owner");
    if (role === "cohost") return t("Co-host");
    return "";
  }

  function api(method, url, body, extraHeaders) {
    var headers = Object.assign({ "Accept": "application/json" }, extraHeaders || {});
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (csrfInput) headers["X-CSRFToken"] = csrfInput.value;
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 204) return null;
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = (data && data.error) || { message: t("Something went wrong.") };
          error.retry_after = Number(response.headers.get("Retry-After")) || undefined;
          throw error;
        }
        return data;
      });
    });
  }

  function showError(error) {
    if (!error) { el.error.hidden = true; el.error.textContent = ""; return; }
    var text = error.message || t("Something went wrong.");
    if (error.retry_after) {
      text += " " + fmt(t("Try again in %(seconds)s s."), { seconds: error.retry_after }, true);
    }
    el.error.textContent = text;
    el.error.hidden = false;
    clearTimeout(showError.timer);
    showError.timer = setTimeout(function () { showError(null); }, 8000);
  }

  function setConnection(kind, text) {
    el.connection.dataset.state = kind;
    el.connection.textContent = text;
  }

  function nearBottom() {
    return el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 80;
  }

  function scrollToBottom() { el.log.scrollTop = el.log.scrollHeight; }

  function send(frame) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  // --- rendering ----------------------------------------------------------------------

  function render(message) {
    var node = el.template.content.firstElementChild.cloneNode(true);
    node.dataset.id = message.id;
    node.dataset.seq = message.seq;
    var mine = message.author && message.author.membership_id === config.me;
    node.classList.toggle("is-mine", !!mine);
    node.classList.toggle("is-system", message.kind === "system");
    node.classList.toggle("is-deleted", !!message.deleted);
    // A message by someone I blocked stays folded until I ask to see it; folded, its
    // text, media and reactions are not put in the page at all.
    var folded = !!message.collapsed && !message.deleted && !state.revealed.has(message.id);
    node.classList.toggle("is-collapsed", folded);
    node.querySelector(".chat-collapsed").hidden = !folded;
    if (folded) return node;
    node.querySelector(".chat-author").textContent = message.author ? message.author.nickname : "";
    var badge = node.querySelector(".chat-badge");
    badge.textContent = message.author ? badgeText(message.author.role) : "";
    badge.hidden = !badge.textContent;
    var time = node.querySelector(".chat-time");
    time.dateTime = message.created_at;
    time.textContent = clockTime(message.created_at);
    node.querySelector(".chat-edited").hidden = !message.edited_at || message.deleted;
    node.querySelector(".chat-body").textContent = message.deleted ? t("This message was deleted.") : message.body;
    var quote = node.querySelector(".chat-quote");
    if (message.reply_to) {
      quote.hidden = false;
      quote.dataset.target = message.reply_to.id;
      var quoteFolded = message.reply_to.collapsed && !state.revealed.has(message.reply_to.id);
      quote.querySelector(".chat-quote-author").textContent = message.reply_to.author && !quoteFolded ? message.reply_to.author.nickname : "";
      quote.querySelector(".chat-quote-body").textContent = message.reply_to.deleted ? t("This message was deleted.")
        : quoteFolded ? t("Message from someone you blocked.") : message.reply_to.body;
    }
    node.querySelector("[data-action=reply]").hidden = !!message.deleted;
    node.querySelector("[data-action=edit]").hidden = !mine || message.deleted || message.kind !== "text";
    node.querySelector("[data-action=delete]").hidden = message.deleted || !(mine || config.permissions.can_delete_any_message);
    // Tip the author of someone else's message (the wallet's tip page names them by
    // their room nickname only).
    var tip = node.querySelector("[data-action=tip]");
    tip.hidden = mine || message.deleted || !message.author || !root.dataset.tipUrl;
    if (!tip.hidden) tip.href = root.dataset.tipUrl + "?message=" + encodeURIComponent(message.id);
    // Block this member in this room (for me only): the server's blocks.changed refolds.
    node.querySelector("[data-action=block]").hidden = mine || !message.author || !root.dataset.blockUrlTemplate;
    // The reactions feature draws its bar into each message (and fills message.reactions).
    window.MoimReactions && window.MoimReactions.renderBar(node, message);
    // Image and video messages draw their media (static/js/media.js).
    window.MoimMedia && window.MoimMedia.renderMedia(node, message);
    // The mentions feature highlights mentions of me and replies to me.
    window.MoimMentions && window.MoimMentions.decorate(node, message, config.me);
    plugins.forEach(function (plugin) {
      if (plugin.render) plugin.render(node, message, chat);
      if (plugin.actions && !message.deleted) renderPluginActions(node, plugin.actions(message, chat) || [], message);
    });
    return node;
  }

  function insertInOrder(node, seq) {
    var child = el.list.lastElementChild;
    while (child && (child.dataset.seq === undefined || Number(child.dataset.seq) > seq)) {
      child = child.previousElementSibling;
    }
    if (child) child.after(node); else el.list.prepend(node);
  }

  function placeUnreadDivider(scrollTo) {
    if (state.dividerPlaced) return;
    // Only once the first unread message is on screen (scrolling back loads it).
    if (state.hasMoreBefore && state.lowestSeq !== null && config.lastReadSeq < state.lowestSeq - 1) return;
    var first = null;
    el.list.querySelectorAll(".chat-message").forEach(function (node) {
      if (!first && Number(node.dataset.seq) > config.lastReadSeq && !node.classList.contains("is-mine")) first = node;
    });
    if (!first) return;
    var divider = document.createElement("li");
    divider.className = "chat-unread-divider";
    divider.setAttribute("role", "separator");
    divider.textContent = t("New messages");
    first.before(divider);
    state.dividerPlaced = true;
    if (scrollTo) divider.scrollIntoView({ block: "center" });
  }

  /* Add or replace a message; returns true when it is new. */
  function upsert(message) {
    var existing = state.nodes.get(message.id);
    var node = render(message);
    var pending = message.client_id && state.pending.get(message.client_id);
    if (pending && message.author && message.author.membership_id === config.me) {
      pending.node.remove();
      state.pending.delete(message.client_id);
    }
    state.messages.set(message.id, message);
    state.nodes.set(message.id, node);
    if (existing) { existing.replaceWith(node); return false; }
    insertInOrder(node, message.seq);
    state.seqs.add(message.seq);
    advanceContiguous();
    state.highestSeq = Math.max(state.highestSeq, message.seq);
    state.lowestSeq = state.lowestSeq === null ? message.seq : Math.min(state.lowestSeq, message.seq);
    return true;
  }

  function advanceContiguous() {
    if (!state.historyLoaded) return;
    while (state.seqs.has(state.contiguousSeq + 1)) state.contiguousSeq += 1;
  }

  /* Live events from different server processes can overtake each other, and a lost
   * one would leave a hole: after a moment, fetch whatever is still missing. */
  function fillGap(after, before) {
    setTimeout(function () {
      var missing = false;
      for (var seq = after + 1; seq < before && !missing; seq++) {
        missing = !el.list.querySelector('.chat-message[data-seq="' + seq + '"]');
      }
      if (!missing) return;
      // The missing messages are committed (a later one arrived): read them from the
      // primary, not from a replica that may not have them yet (docs/scaling.md).
      api("GET", config.historyUrl + "?limit=100&after=" + after + "&before=" + before,
          undefined, { "X-Moim-Read-Primary": "1" })
        .then(function (page) { page.results.forEach(upsert); })
        .catch(function () {});
    }, 1500);
  }

  function onCreated(message) {
    var stick = nearBottom() || (message.author && message.author.membership_id === config.me);
    if (state.historyLoaded && message.seq > state.contiguousSeq + 1) {
      fillGap(state.contiguousSeq, message.seq);
    }
    upsert(message);
    clearTypist(message.author && message.author.membership_id);
    if (stick) { scrollToBottom(); scheduleRead(); }
  }

  function onDeleted(event) {
    var message = state.messages.get(event.id);
    if (!message) return;
    upsert(Object.assign({}, message, { deleted: true, body: "", deleted_at: event.deleted_at }));
  }

  // --- history and infinite scroll ------------------------------------------------------

  function loadLatest() {
    return api("GET", config.historyUrl + "?limit=" + PAGE_SIZE).then(function (page) {
      page.results.forEach(upsert);
      state.hasMoreBefore = page.has_more;
      state.historyLoaded = true;
      // The latest page has no gaps: count from just below it.
      state.contiguousSeq = page.results.length ? page.results[0].seq - 1 : (page.last_seq || 0);
      advanceContiguous();
      if (page.last_read_seq !== null && page.last_read_seq !== undefined) config.lastReadSeq = page.last_read_seq;
      scrollToBottom();
      placeUnreadDivider(true);
    });
  }

  function loadEarlier() {
    if (state.loadingBefore || !state.hasMoreBefore || state.lowestSeq === null) return;
    state.loadingBefore = true;
    el.loader.hidden = false;
    var before = el.log.scrollHeight;
    api("GET", config.historyUrl + "?limit=" + PAGE_SIZE + "&before=" + state.lowestSeq).then(function (page) {
      page.results.forEach(upsert);
      state.hasMoreBefore = page.has_more;
      placeUnreadDivider(false);
      el.log.scrollTop += el.log.scrollHeight - before; // keep the reader's place
    }).catch(showError).finally(function () {
      state.loadingBefore = false;
      el.loader.hidden = true;
    });
  }

  el.log.addEventListener("scroll", function () {
    if (el.log.scrollTop < 80) loadEarlier();
    if (nearBottom()) scheduleRead();
  });

  // --- read markers -----------------------------------------------------------------------

  function scheduleRead() {
    clearTimeout(state.readTimer);
    state.readTimer = setTimeout(function () {
      if (document.visibilityState !== "visible" || state.highestSeq <= state.readSent) return;
      var seq = state.highestSeq;
      state.readSent = seq;
      if (!send({ type: "read", seq: seq })) api("POST", config.readUrl, { seq: seq }).catch(function () {});
    }, 1000);
  }
  document.addEventListener("visibilitychange", function () { if (nearBottom()) scheduleRead(); });

  // --- typing and presence ---------------------------------------------------------------

  function renderTyping() {
    var names = Array.from(state.typists.values()).map(function (item) { return item.nickname; });
    el.typing.textContent = names.length === 0 ? "" : names.length === 1
      ? fmt(t("%(name)s is typing…"), { name: names[0] }, true)
      : fmt(t("%(count)s people are typing…"), { count: names.length }, true);
  }

  function clearTypist(membershipId) {
    var item = state.typists.get(membershipId);
    if (!item) return;
    clearTimeout(item.timer);
    state.typists.delete(membershipId);
    renderTyping();
  }

  function onTyping(event) {
    clearTypist(event.membership_id);
    state.typists.set(event.membership_id, {
      nickname: event.nickname,
      timer: setTimeout(function () { clearTypist(event.membership_id); }, TYPING_SHOW_MS),
    });
    renderTyping();
  }

  // --- sending, editing, deleting --------------------------------------------------------

  function sendPending(clientId) {
    var item = state.pending.get(clientId);
    if (!item) return;
    var frame = { type: "message.send", body: item.body, client_id: clientId, ref: clientId };
    if (item.replyTo) frame.reply_to = item.replyTo;
    if (send(frame)) return;
    // No socket (e.g. the realtime backend is down): the REST twin stores it all the same.
    api("POST", config.historyUrl, { body: item.body, client_id: clientId, reply_to: item.replyTo || null })
      .then(onCreated)
      .catch(function (error) { failPending(clientId, error); });
  }

  function failPending(clientId, error) {
    var item = state.pending.get(clientId);
    if (!item) return;
    item.node.remove();
    state.pending.delete(clientId);
    if (!el.input.value) el.input.value = item.body;
    showError(error);
  }

  function submit() {
    var body = el.input.value.trim();
    if (!body) return;
    var clientId = newClientId();
    var node = document.createElement("li");
    node.className = "chat-message is-mine is-pending";
    var text = document.createElement("div");
    text.className = "chat-body";
    text.dir = "auto";
    text.textContent = body;
    node.appendChild(text);
    el.list.appendChild(node);
    state.pending.set(clientId, { body: body, replyTo: state.replyTo && state.replyTo.id, node: node });
    el.input.value = "";
    setReply(null);
    scrollToBottom();
    sendPending(clientId);
  }

  el.form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
  window.MoimMedia && window.MoimMedia.attach({
    form: el.form, input: el.input, historyUrl: config.historyUrl, upsert: upsert, showError: showError,
    newClientId: newClientId, csrfToken: function () { return csrfInput ? csrfInput.value : ""; },
  });
  el.input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
  });
  el.input.addEventListener("input", function () {
    var now = Date.now();
    if (el.input.value && now - state.lastTypingSent > TYPING_SEND_MS) {
      state.lastTypingSent = now;
      send({ type: "typing" });
    }
  });

  function setReply(message) {
    state.replyTo = message;
    el.reply.hidden = !message;
    el.replyText.textContent = message ? (message.author ? message.author.nickname + ": " : "") + message.body : "";
    if (message) el.input.focus();
  }
  el.replyCancel.addEventListener("click", function () { setReply(null); });

  function startEdit(node, message) {
    var body = node.querySelector(".chat-body");
    if (node.querySelector(".chat-edit-box")) return;
    var box = document.createElement("div");
    box.className = "chat-edit-box";
    var area = document.createElement("textarea");
    area.value = message.body;
    area.maxLength = Number(root.dataset.maxLength) || 4000;
    var save = document.createElement("button");
    save.type = "button"; save.className = "button button-small"; save.textContent = t("Save");
    var cancel = document.createElement("button");
    cancel.type = "button"; cancel.className = "link-button"; cancel.textContent = t("Cancel");
    box.append(area, save, cancel);
    body.hidden = true;
    body.after(box);
    area.focus();
    cancel.addEventListener("click", function () { box.remove(); body.hidden = false; });
    save.addEventListener("click", function () {
      var text = area.value.trim();
      if (!text || text === message.body) { cancel.click(); return; }
      if (!send({ type: "message.edit", id: message.id, body: text, ref: "edit-" + message.id })) {
        api("PATCH", messageUrl(message.id), { body: text }).then(upsert).catch(showError);
      }
      cancel.click();
    });
  }

  el.list.addEventListener("click", function (event) {
    var quote = event.target.closest(".chat-quote");
    if (quote) {
      var target = state.nodes.get(Number(quote.dataset.target));
      if (target) {
        target.scrollIntoView({ block: "center", behavior: "smooth" });
        target.classList.add("is-highlighted");
        setTimeout(function () { target.classList.remove("is-highlighted"); }, 1500);
      }
      return;
    }
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    var node = button.closest(".chat-message");
    var message = state.messages.get(Number(node.dataset.id));
    if (!message) return;
    if (button.dataset.action === "show") {
      state.revealed.add(message.id);
      upsert(message);
      var shown = state.nodes.get(message.id);
      if (shown) shown.focus();
      return;
    }
    if (button.dataset.action === "block" && message.author
        && window.confirm(t("Block this member? Their messages in this room are folded for you; they are not told."))) {
      api("POST", blockUrl(message.author.membership_id)).catch(showError);
      return;
    }
    if (button.dataset.action === "reply") setReply(message);
    if (button.dataset.action === "edit") startEdit(node, message);
    if (button.dataset.action === "delete" && window.confirm(t("Delete this message?"))) {
      if (!send({ type: "message.delete", id: message.id, ref: "delete-" + message.id })) {
        api("DELETE", messageUrl(message.id)).then(function () {
          onDeleted({ id: message.id, deleted_at: new Date().toISOString() });
        }).catch(showError);
      }
    }
  });

  // --- the socket ---------------------------------------------------------------------------

  var handlers = {
    "ready": function (event) {
      if (event.permissions) config.permissions = event.permissions;
      state.attempts = 0;
      setConnection("open", t("Live"));
      if (!state.historyLoaded) loadLatest().catch(showError);
    },
    // Pending sends that may not have reached the server are retried with their
    // client_id once the catch-up is done: the server stores each one only once.
    "resync.done": function () { resendPending(); },
    "pong": function () { clearTimeout(state.pongTimer); },
    // The server's marker (never past the room's last message) is the one to build on.
    "read.ok": function (event) { state.readSent = Math.max(state.readSent, event.seq); },
    "message.created": function (event) { onCreated(event.message); },
    "message.updated": function (event) { upsert(event.message); },
    "message.deleted": onDeleted,
    // I blocked or unblocked someone (maybe in another tab): refold what is on screen.
    "blocks.changed": function (event) {
      var folded = new Set(event.collapsed_membership_ids || []);
      state.messages.forEach(function (message) {
        var collapsed = !!message.author && folded.has(message.author.membership_id);
        var reply = message.reply_to;
        var replyCollapsed = !!(reply && reply.author && folded.has(reply.author.membership_id));
        if (collapsed === !!message.collapsed && (!reply || replyCollapsed === !!reply.collapsed)) return;
        upsert(Object.assign({}, message, {
          collapsed: collapsed,
          reply_to: reply ? Object.assign({}, reply, { collapsed: replyCollapsed }) : reply,
        }));
      });
    },
    "reaction.updated": function (event) { window.MoimReactions && window.MoimReactions.onEvent(event); },
    "typing": onTyping,
    "presence": function (event) { el.presence.textContent = fmt(t("%(count)s online"), { count: event.online }, true); },
    // Left, kicked, banned or suspended; my own socket is closed right after (STOP_CODES).
    "member.removed": function (event) { clearTypist(event.membership_id); },
    "member.updated": function (event) {
      // A host may promote or demote me: ask the server what I may do now (the delete
      // buttons follow its flags).
      if (event.member && event.member.id === config.me && config.roomApiUrl) {
        api("GET", config.roomApiUrl).then(function (room) {
          if (room && room.viewer_permissions) config.permissions = room.viewer_permissions;
        }).catch(function () {});
      }
    },
    "room.updated": function (event) {
      showNotice(event.slow_mode_seconds
        ? fmt(t("Slow mode is on: one message every %(seconds)s seconds."), { seconds: event.slow_mode_seconds }, true)
        : t("Slow mode is off."));
    },
    "room.announcement": function (event) {
      showAnnouncement(event.announcement);
      if (event.announcement) showNotice(t("Pinned:") + " " + event.announcement.body);
    },
    "room.suspended": function (event) {
      setReadOnly(event.is_suspended);
      showNotice(event.is_suspended ? t("This room is suspended by the moderators.")
        : t("This room is open again."));
    },
    "room.archived": function () {
      setReadOnly(true);
      showNotice(t("This room is archived: it is read-only."));
    },
    "error": function (event) {
      if (event.ref && state.pending.has(event.ref)) failPending(event.ref, event);
      else showError(event);
    },
  };

  function showNotice(text) { showError({ message: text }); }

  function setReadOnly(readOnly) {
    el.form.hidden = readOnly;
    el.input.disabled = readOnly;
  }

  // The pinned announcement in the room's header (templates/community/room_detail.html).
  function showAnnouncement(announcement) {
    var node = document.querySelector(".room-announcement");
    if (!announcement) { if (node) node.remove(); return; }
    if (!node) {
      var heading = document.querySelector(".room-header h1");
      if (!heading) return;
      node = document.createElement("p");
      node.className = "notice room-announcement";
      node.dir = "auto";
      heading.after(node);
    }
    var label = document.createElement("strong");
    label.textContent = t("Pinned:");
    node.replaceChildren(label, document.createTextNode(" " + announcement.body));
  }

  /* Feature scripts (polls, meetups, read counts, translation, link previews…) plug in
   * without editing this file: each pushes onto window.MoimChatPlugins an object with any
   * of attach(chat) (once), render(node, message, chat) (after each message is drawn) and
   * events: {type: fn(event, chat)} (after the built-in handler of each socket event).
   * `chat` is the small public surface below; docs/frontend.md describes it. */
  function jumpTo(messageId) {
    var target = state.nodes.get(Number(messageId));
    if (!target) return false;
    target.scrollIntoView({ block: "center", behavior: "smooth" });
    target.classList.add("is-highlighted");
    setTimeout(function () { target.classList.remove("is-highlighted"); }, 1500);
    return true;
  }
  // A plugin's per-message actions ({label, run(message, chat), destructive?}) join the
  // message's own action buttons.
  function renderPluginActions(node, actions, message) {
    var row = node.querySelector(".chat-actions");
    if (!row) return;
    actions.forEach(function (action) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link-button" + (action.destructive ? " is-destructive" : "");
      button.textContent = action.label;
      if (action.ariaLabel) button.setAttribute("aria-label", action.ariaLabel);
      button.addEventListener("click", function () { action.run(message, chat); });
      row.append(button);
    });
  }

  // A plugin's composer entry ({label, run(chat)}) sits next to the photo button.
  function addComposerEntry(entry) {
    var attach = el.form.querySelector(".chat-attach");
    if (!attach) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button-small";
    button.textContent = entry.label;
    button.addEventListener("click", function () { entry.run(chat); });
    attach.append(button);
  }

  var chat = {
    root: root, config: config, api: api, send: send, upsert: upsert, showError: showError,
    showNotice: showNotice, jumpTo: jumpTo,
    message: function (id) { return state.messages.get(Number(id)); },
    node: function (id) { return state.nodes.get(Number(id)); },
    messages: function () { return Array.from(state.messages.values()); },
  };
  var plugins = [];
  function addPlugin(plugin) {
    plugins.push(plugin);
    (plugin.composer || []).forEach(addComposerEntry);
    if (plugin.attach) plugin.attach(chat);
  }
  (window.MoimChatPlugins || []).forEach(addPlugin);
  // Scripts loaded after this one register straight away.
  window.MoimChatPlugins = { push: addPlugin };

  function resendPending() {
    state.pending.forEach(function (_item, clientId) { sendPending(clientId); });
  }

  function connect() {
    if (state.stopped || state.socket) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + window.location.host + config.socketPath;
    // Resync from the highest contiguous seq; before the first history page, just go live.
    if (state.historyLoaded) url += "?after=" + state.contiguousSeq;
    setConnection("connecting", state.attempts ? t("Reconnecting…") : t("Connecting…"));
    var socket = new WebSocket(url);
    state.socket = socket;
    socket.addEventListener("message", function (raw) {
      var event;
      try { event = JSON.parse(raw.data); } catch (_e) { return; }
      var handler = handlers[event.type];
      if (handler) handler(event);
      plugins.forEach(function (plugin) {
        var pluginHandler = plugin.events && plugin.events[event.type];
        if (pluginHandler) pluginHandler(event, chat);
      });
    });
    socket.addEventListener("close", function (event) {
      clearInterval(state.pingTimer);
      clearTimeout(state.pongTimer);
      if (state.socket === socket) state.socket = null;
      if (STOP_CODES[event.code]) {
        state.stopped = true;
        setConnection("closed", STOP_CODES[event.code]);
        el.input.disabled = true;
        return;
      }
      // Exponential backoff with jitter, capped at 30 s; a resync close reconnects at once.
      var delay = event.code === RESYNC_CODE ? 0
        : Math.min(30000, 1000 * Math.pow(2, state.attempts)) * (0.5 + Math.random() / 2);
      state.attempts += event.code === RESYNC_CODE ? 0 : 1;
      var waiting = event.code === TRY_AGAIN_CODE
        ? t("Live updates are paused. Reconnecting in %(seconds)s s…")
        : t("Offline. Reconnecting in %(seconds)s s…");
      setConnection("closed", fmt(waiting, { seconds: Math.round(delay / 1000) }, true));
      setTimeout(connect, delay);
    });
    socket.addEventListener("open", function () {
      clearInterval(state.pingTimer);
      state.pingTimer = setInterval(function () {
        if (!send({ type: "ping" })) return;
        clearTimeout(state.pongTimer);
        state.pongTimer = setTimeout(function () { socket.close(); }, PONG_WAIT_MS);
      }, PING_MS);
    });
  }

  window.addEventListener("online", function () {
    if (!state.socket && !state.stopped) { state.attempts = 0; connect(); }
  });

  loadLatest().catch(showError).finally(connect);
})();
