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
  function inZone(iso, method, options) {
    var zone = document.documentElement.getAttribute("data-time-zone");
    var lang = document.documentElement.lang || [];
    if (zone) {
      try { return new Date(iso)[method](lang, Object.assign({ timeZone: zone }, options)); } catch (e) { /* unknown zone: the browser's */ }
    }
    return new Date(iso)[method](lang, options);
  }
  function clockTime(iso) { return inZone(iso, "toLocaleTimeString", { hour: "2-digit", minute: "2-digit" }); }
  // The calendar day in the viewer's zone, for date dividers and grouping.
  function dayKey(iso) {
    var zone = document.documentElement.getAttribute("data-time-zone");
    try { return new Date(iso).toLocaleDateString("en-CA", zone ? { timeZone: zone } : {}); } catch (e) { return new Date(iso).toDateString(); }
  }
  function dayLabel(iso) {
    return inZone(iso, "toLocaleDateString", { weekday: "long", year: "numeric", month: "long", day: "numeric" });
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
  var QUICK_REACTIONS = 6;
  var DEFAULT_QUICK_EMOJI = ["👍", "❤️", "😂", "😮", "😢", "🙏"];
  // Messages by one person within this long of each other share one name and avatar.
  var GROUP_GAP_MS = 5 * 60 * 1000;
  var LONG_PRESS_MS = 450;
  var MENTION_MIN_WAIT_MS = 150;

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
    mentionsUrl: root.dataset.mentionsUrl,
    levelUrl: root.dataset.levelUrl,
    level: root.dataset.level || "all",
    // The room's most used emoji lead the quick reaction bar; the defaults fill it up.
    quickEmoji: quickEmoji(readJson("chat-top-emoji") || []),
  };
  function readJson(id) {
    var node = document.getElementById(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }
  function quickEmoji(top) {
    var emoji = top.slice(0, QUICK_REACTIONS);
    DEFAULT_QUICK_EMOJI.forEach(function (each) {
      if (emoji.length < QUICK_REACTIONS && emoji.indexOf(each) === -1) emoji.push(each);
    });
    return emoji;
  }

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
    jump: root.querySelector("[data-chat-jump]"),
    jumpLabel: root.querySelector("[data-chat-jump-label]"),
    notice: root.querySelector("[data-chat-notice]"),
    noticeBody: root.querySelector("[data-chat-notice-body]"),
    noticeToggle: root.querySelector("[data-chat-notice-toggle]"),
    mentions: root.querySelector("[data-chat-mentions]"),
    mute: root.querySelector("[data-chat-mute]"),
    presenceBase: "",
  };
  el.presenceBase = el.presence ? el.presence.textContent : "";
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
    unseen: 0, // messages that arrived while the reader was scrolled up
    layoutQueued: false,
    menuNode: null, // the message whose action menu is open
    mention: null, // {start, query, options, active} while @-autocompleting
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

  function authorName(message) {
    return message.author ? message.author.nickname : t("Moim");
  }

  // A message's actions are named after it, so a screen reader hears "Reply to Minji",
  // not the same "Reply" for every message.
  function actionLabel(kind, message, mine) {
    var name = { name: authorName(message) };
    if (kind === "reply") return fmt(t("Reply to %(name)s"), name, true);
    if (kind === "copy") return mine ? t("Copy your message") : fmt(t("Copy the message from %(name)s"), name, true);
    if (kind === "edit") return t("Edit your message");
    if (kind === "delete") return mine ? t("Delete your message") : fmt(t("Delete the message from %(name)s"), name, true);
    if (kind === "block") return fmt(t("Block %(name)s in this room"), name, true);
    return "";
  }

  function fillAvatar(node, message) {
    var avatar = node.querySelector(".chat-avatar");
    if (!avatar) return;
    avatar.replaceChildren();
    if (message.author && message.author.avatar) {
      var img = document.createElement("img");
      img.src = message.author.avatar;
      img.alt = "";
      img.loading = "lazy";
      avatar.append(img);
    } else {
      avatar.textContent = Array.from(authorName(message))[0] || "";
    }
  }

  function quickReactionButtons(node, message) {
    var bar = node.querySelector(".chat-quick-reactions");
    if (!bar) return;
    bar.replaceChildren();
    bar.setAttribute("aria-label", t("Quick reactions"));
    var canReact = !message.deleted && window.MoimReactions && window.MoimReactions.toggleMessageReaction;
    bar.hidden = !canReact;
    if (!canReact) return;
    config.quickEmoji.forEach(function (emoji) {
      var button = document.createElement("button");
      button.type = "button";
      button.setAttribute("role", "menuitem");
      button.dataset.reaction = emoji;
      button.textContent = emoji;
      button.setAttribute("aria-label", fmt(t("React with %(emoji)s"), { emoji: emoji }, true));
      bar.append(button);
    });
    var more = document.createElement("button");
    more.type = "button";
    more.setAttribute("role", "menuitem");
    more.dataset.action = "more-reactions";
    more.className = "chat-more-reactions";
    more.textContent = "☺+";
    more.setAttribute("aria-label", t("More reactions"));
    bar.append(more);
  }

  function render(message) {
    var node = el.template.content.firstElementChild.cloneNode(true);
    node.dataset.dayLabel = dayLabel(message.created_at);
    node.dataset.id = message.id;
    node.dataset.seq = message.seq;
    node.dataset.day = dayKey(message.created_at);
    node.dataset.time = String(new Date(message.created_at).getTime());
    node.dataset.author = message.author ? String(message.author.membership_id) : "";
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
    fillAvatar(node, message);
    // A member on their main profile links to it (author.profile_url); an open profile
    // never does (the payload has no URL for it).
    var authorNode = node.querySelector(".chat-author");
    var profileUrl = message.author && message.author.profile_url;
    if (profileUrl && profileUrl.charAt(0) === "/" && profileUrl.charAt(1) !== "/") {
      var profileLink = document.createElement("a");
      profileLink.href = profileUrl;
      profileLink.className = "chat-author-link";
      profileLink.textContent = message.author.nickname;
      authorNode.replaceChildren(profileLink);
    } else {
      authorNode.textContent = message.author ? message.author.nickname : "";
    }
    var badge = node.querySelector(".chat-badge");
    badge.textContent = message.author ? badgeText(message.author.role) : "";
    badge.hidden = !badge.textContent;
    node.classList.toggle("is-host", !!badge.textContent);
    var time = node.querySelector(".chat-time");
    time.dateTime = message.created_at;
    time.textContent = clockTime(message.created_at);
    time.title = dayLabel(message.created_at) + " " + time.textContent;
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
    var actions = node.querySelector(".chat-actions");
    actions.setAttribute("aria-label", fmt(t("Actions for the message from %(name)s"), { name: authorName(message) }, true));
    var show = {
      reply: !message.deleted,
      copy: !message.deleted && !!message.body,
      edit: !!mine && !message.deleted && message.kind === "text",
      delete: !message.deleted && !!(mine || config.permissions.can_delete_any_message),
      // Block this member in this room (for me only): the server's blocks.changed refolds.
      block: !mine && !!message.author && !!root.dataset.blockUrlTemplate,
    };
    Object.keys(show).forEach(function (kind) {
      var button = actions.querySelector("[data-action=" + kind + "]");
      button.hidden = !show[kind];
      button.setAttribute("aria-label", actionLabel(kind, message, mine));
    });
    quickReactionButtons(node, message);
    // The reactions feature draws its bar into each message (and fills message.reactions).
    window.MoimReactions && window.MoimReactions.renderBar(node, message);
    // Image and video messages draw their media (static/js/media.js).
    window.MoimMedia && window.MoimMedia.renderMedia(node, message);
    // The mentions feature highlights mentions of me and replies to me.
    window.MoimMentions && window.MoimMentions.decorate(node, message, config.me);
    // Web addresses become links in static/js/chat-links.js (the server's own rule).
    plugins.forEach(function (plugin) {
      if (plugin.render) plugin.render(node, message, chat);
      if (plugin.actions && !message.deleted) renderPluginActions(node, plugin.actions(message, chat) || [], message);
    });
    actions.hidden = !actions.querySelector("button:not([hidden])");
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
    divider.textContent = t("New messages");
    first.before(divider);
    state.dividerPlaced = true;
    // Opening a room lands at the first unread message (the divider at the top).
    if (scrollTo) {
      layoutNow();
      el.log.scrollTop = Math.max(0, divider.offsetTop - el.log.offsetTop - 8);
      if (el.log.scrollTop <= 0 && state.hasMoreBefore) el.log.scrollTop = 1;
    }
  }

  // --- grouping, date dividers and the jump-to-latest button ---------------------------

  /* Consecutive messages by one person (within GROUP_GAP_MS, on one day) form a group:
   * name and avatar on the first, the time on the last. A date divider opens each day.
   * Recomputed once per frame after any change. */
  function scheduleLayout() {
    if (state.layoutQueued) return;
    state.layoutQueued = true;
    requestAnimationFrame(layoutNow);
  }

  function layoutNow() {
    state.layoutQueued = false;
    el.list.querySelectorAll(".chat-date-divider").forEach(function (node) { node.remove(); });
    var previous = null;
    var nodes = el.list.querySelectorAll(".chat-message");
    nodes.forEach(function (node, index) {
      var day = node.dataset.day;
      if (day && (!previous || previous.dataset.day !== day)) {
        var divider = document.createElement("li");
        divider.className = "chat-date-divider";
        divider.textContent = node.dataset.dayLabel || "";
        // The unread divider stays right above the first unread message.
        var before = node.previousElementSibling && node.previousElementSibling.classList.contains("chat-unread-divider")
          ? node.previousElementSibling : node;
        before.before(divider);
      }
      var joinsPrevious = !!previous && sameGroup(previous, node);
      var next = nodes[index + 1];
      node.classList.toggle("is-continued", joinsPrevious);
      node.classList.toggle("has-next", !!next && sameGroup(node, next));
      previous = node;
    });
  }

  function sameGroup(a, b) {
    if (!a.dataset.author || a.dataset.author !== b.dataset.author) return false;
    if (a.dataset.day !== b.dataset.day) return false;
    if (a.classList.contains("is-system") || b.classList.contains("is-system")) return false;
    if (a.classList.contains("is-collapsed") || b.classList.contains("is-collapsed")) return false;
    // A "new messages" divider between them starts a new group.
    if (b.previousElementSibling && b.previousElementSibling.classList.contains("chat-unread-divider")) return false;
    return Math.abs(Number(b.dataset.time) - Number(a.dataset.time)) < GROUP_GAP_MS;
  }

  function showJump() {
    el.jump.hidden = state.unseen === 0 && nearBottom();
    el.jumpLabel.textContent = state.unseen
      ? fmt(t("%(count)s new messages"), { count: state.unseen > 99 ? "99+" : state.unseen }, true)
      : t("Jump to latest");
  }

  function jumpToLatest() {
    state.unseen = 0;
    scrollToBottom();
    showJump();
    scheduleRead();
  }
  el.jump.addEventListener("click", function () {
    jumpToLatest();
    focusMessage(lastMessageNode());
  });

  /* Add or replace a message; returns true when it is new. */
  function upsert(message) {
    var emptyState = el.list.querySelector(".chat-empty");
    if (emptyState) emptyState.remove();
    var existing = state.nodes.get(message.id);
    var node = render(message);
    var pending = message.client_id && state.pending.get(message.client_id);
    if (pending && message.author && message.author.membership_id === config.me) {
      pending.node.remove();
      state.pending.delete(message.client_id);
    }
    state.messages.set(message.id, message);
    state.nodes.set(message.id, node);
    scheduleLayout();
    if (existing) {
      // Keep the reader's place in the list (focus, an open menu) across redraws.
      var hadFocus = existing.contains(document.activeElement);
      node.tabIndex = existing.tabIndex;
      node.classList.toggle("is-continued", existing.classList.contains("is-continued"));
      node.classList.toggle("has-next", existing.classList.contains("has-next"));
      existing.replaceWith(node);
      if (state.menuNode === existing) { state.menuNode = null; }
      if (hadFocus) node.focus({ preventScroll: true });
      return false;
    }
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
    var added = upsert(message);
    clearTypist(message.author && message.author.membership_id);
    if (stick) { layoutNow(); scrollToBottom(); scheduleRead(); }
    else if (added) { state.unseen += 1; showJump(); }
    if (added) ensureRovingStop();
  }

  function onDeleted(event) {
    var message = state.messages.get(event.id);
    if (!message) return;
    upsert(Object.assign({}, message, { deleted: true, body: "", deleted_at: event.deleted_at }));
  }

  // --- history and infinite scroll ------------------------------------------------------

  // The server renders the latest page with the screen (json_script): it shows before
  // the socket connects, with no request; later loads (a reconnect) ask the API.
  var firstPage = readJson("chat-first-page");

  function loadLatest() {
    var page = firstPage;
    firstPage = null;
    var request = page ? Promise.resolve(page) : api("GET", config.historyUrl + "?limit=" + PAGE_SIZE);
    return request.then(function (page) {
      page.results.forEach(upsert);
      state.hasMoreBefore = page.has_more;
      state.historyLoaded = true;
      // The latest page has no gaps: count from just below it.
      state.contiguousSeq = page.results.length ? page.results[0].seq - 1 : (page.last_seq || 0);
      advanceContiguous();
      if (page.last_read_seq !== null && page.last_read_seq !== undefined) config.lastReadSeq = page.last_read_seq;
      layoutNow();
      scrollToBottom();
      placeUnreadDivider(true);
      ensureRovingStop();
      showJump();
      // Everything fits, or the reader landed at the bottom: that is read.
      if (nearBottom()) scheduleRead();
      showEmptyState();
      // Opened at a message (a notification or a push: /rooms/<id>/#message-<id>).
      var wanted = /^#message-(\d+)$/.exec(window.location.hash);
      if (wanted) jumpTo(Number(wanted[1]));
    });
  }

  // A room with no messages yet says what to do, until the first one arrives.
  function showEmptyState() {
    var empty = el.list.querySelector(".chat-empty");
    if (state.nodes.size) { if (empty) empty.remove(); return; }
    if (empty) return;
    empty = document.createElement("li");
    empty.className = "chat-empty";
    var text = document.createElement("p");
    text.textContent = t("No messages yet. Say hello to start the conversation.");
    empty.append(text);
    var invite = root.querySelector('a[href$="/invite/"]');
    if (invite) {
      var link = document.createElement("a");
      link.href = invite.getAttribute("href");
      link.textContent = t("Invite people");
      empty.append(link);
    }
    el.list.append(empty);
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
      layoutNow();
      el.log.scrollTop += el.log.scrollHeight - before; // keep the reader's place
    }).catch(showError).finally(function () {
      state.loadingBefore = false;
      el.loader.hidden = true;
    });
  }

  el.log.addEventListener("scroll", function () {
    if (el.log.scrollTop < 80) loadEarlier();
    if (nearBottom()) { state.unseen = 0; scheduleRead(); }
    showJump();
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
    var bubble = document.createElement("div");
    bubble.className = "chat-bubble";
    var text = document.createElement("div");
    text.className = "chat-body";
    text.dir = "auto";
    text.textContent = body;
    bubble.appendChild(text);
    node.appendChild(bubble);
    var sending = document.createElement("div");
    sending.className = "chat-foot";
    sending.textContent = t("Sending…");
    node.appendChild(sending);
    el.list.appendChild(node);
    state.unseen = 0;
    closeMentions();
    state.pending.set(clientId, { body: body, replyTo: state.replyTo && state.replyTo.id, node: node });
    el.input.value = "";
    autosize();
    setReply(null);
    scrollToBottom();
    showJump();
    sendPending(clientId);
  }

  el.form.addEventListener("submit", function (event) { event.preventDefault(); submit(); });
  window.MoimMedia && window.MoimMedia.attach({
    form: el.form, input: el.input, historyUrl: config.historyUrl, upsert: upsert, showError: showError,
    newClientId: newClientId, csrfToken: function () { return csrfInput ? csrfInput.value : ""; },
  });
  el.input.addEventListener("keydown", function (event) {
    if (mentionKeydown(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
  });
  // The box grows with its text up to a few lines, then scrolls.
  function autosize() {
    el.input.style.height = "auto";
    el.input.style.height = Math.min(el.input.scrollHeight + 2, 160) + "px";
  }
  el.input.addEventListener("input", function () {
    autosize();
    updateMentions();
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

  function copyText(text) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(text).then(function () { showNotice(t("Copied.")); })
        .catch(function () { showError({ message: t("Could not copy.") }); });
    }
    showError({ message: t("Could not copy.") });
    return Promise.resolve();
  }

  function runAction(kind, node, message) {
    if (kind === "show") {
      state.revealed.add(message.id);
      upsert(message);
      var shown = state.nodes.get(message.id);
      if (shown) focusMessage(shown);
      return;
    }
    closeMenu(false);
    if (kind === "block" && message.author
        && window.confirm(t("Block this member? Their messages in this room are folded for you; they are not told."))) {
      api("POST", blockUrl(message.author.membership_id)).catch(showError);
      return;
    }
    if (kind === "reply") setReply(message);
    if (kind === "copy") copyText(message.body);
    if (kind === "edit") startEdit(node, message);
    if (kind === "more-reactions") {
      // The reactions feature's full picker (a menu with arrow keys), opened from here.
      var more = node.querySelector(".reaction-add");
      if (more) { node.classList.add("shows-picker"); more.click(); }
      return;
    }
    if (kind === "delete" && window.confirm(t("Delete this message?"))) {
      if (!send({ type: "message.delete", id: message.id, ref: "delete-" + message.id })) {
        api("DELETE", messageUrl(message.id)).then(function () {
          onDeleted({ id: message.id, deleted_at: new Date().toISOString() });
        }).catch(showError);
      }
    }
  }

  el.list.addEventListener("click", function (event) {
    // The click that ends a long-press is not a tap on what is under the finger.
    if (Date.now() < (state.suppressClickUntil || 0)) { event.preventDefault(); return; }
    var quote = event.target.closest(".chat-quote");
    if (quote) {
      jumpTo(quote.dataset.target);
      return;
    }
    var node = event.target.closest(".chat-message");
    if (!node) return;
    // An emoji picked in the full picker: it has closed, and so does its place.
    if (event.target.closest(".reaction-picker button")) { node.classList.remove("shows-picker"); return; }
    var message = state.messages.get(Number(node.dataset.id));
    if (!message) return;
    var reaction = event.target.closest("button[data-reaction]");
    if (reaction) {
      closeMenu(false);
      window.MoimReactions.toggleMessageReaction(message.id, reaction.dataset.reaction);
      return;
    }
    var button = event.target.closest("button[data-action]");
    if (button && button.closest(".chat-message") === node) runAction(button.dataset.action, node, message);
  });

  // --- the message list: one tab stop, arrow keys, the action menu ----------------------

  function messageNodes() {
    return Array.from(el.list.querySelectorAll(".chat-message[data-id]"));
  }
  function lastMessageNode() {
    var nodes = messageNodes();
    return nodes[nodes.length - 1] || null;
  }

  /* Roving tabindex: exactly one message is in the tab order (the latest, until the
   * reader moves); everything inside messages is reached through the message's menu. */
  function ensureRovingStop() {
    var current = el.list.querySelector('.chat-message[tabindex="0"]');
    // The reader is in the list: their place stays; otherwise the stop follows the latest.
    if (current && current.contains(document.activeElement)) return;
    var last = lastMessageNode();
    if (!last) return;
    if (current) current.tabIndex = -1;
    last.tabIndex = 0;
  }

  function focusMessage(node) {
    if (!node) return;
    el.list.querySelectorAll('.chat-message[tabindex="0"]').forEach(function (each) { each.tabIndex = -1; });
    node.tabIndex = 0;
    node.focus({ preventScroll: true });
    node.scrollIntoView({ block: "nearest" });
  }

  // Everything focusable inside a message leaves the tab order (the menu's arrow keys and
  // the message's Enter reach them), whoever drew it: chat.js, reactions, media, plugins.
  function untab(root) {
    var selector = "a[href], button, input, select, textarea, video, [tabindex]";
    var found = root.matches && root.matches(selector) ? [root] : [];
    if (root.querySelectorAll) found = found.concat(Array.from(root.querySelectorAll(selector)));
    found.forEach(function (each) {
      if (!each.classList.contains("chat-message") && !each.closest(".chat-edit-box")) each.tabIndex = -1;
    });
  }
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      record.addedNodes.forEach(function (added) { if (added.nodeType === 1) untab(added); });
    });
  }).observe(el.list, { childList: true, subtree: true });

  function menuItems(node) {
    var actions = node.querySelector(".chat-actions");
    if (!actions) return [];
    return Array.from(actions.querySelectorAll("button, a[href]")).filter(function (item) {
      return !item.hidden && !item.closest("[hidden]");
    });
  }

  function openMenu(node, focusFirst) {
    if (state.menuNode && state.menuNode !== node) closeMenu(false);
    var items = menuItems(node);
    if (!items.length) return;
    state.menuNode = node;
    node.classList.add("is-menu-open");
    if (focusFirst) items[0].focus();
  }

  function closeMenu(returnFocus) {
    var node = state.menuNode;
    if (!node) return;
    state.menuNode = null;
    node.classList.remove("is-menu-open", "shows-picker");
    if (returnFocus && node.isConnected) focusMessage(node);
  }

  el.list.addEventListener("keydown", function (event) {
    var item = event.target.closest(".chat-actions button, .chat-actions a");
    var node = event.target.closest(".chat-message");
    if (node && event.key === "Escape" && event.target.closest(".reaction-picker")) node.classList.remove("shows-picker");
    if (!node || event.target.closest(".chat-edit-box") || event.target.closest(".reaction-picker")) return;
    if (item) {
      var items = menuItems(node);
      var at = items.indexOf(item);
      var step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
      if (step) {
        event.preventDefault();
        items[(at + step + items.length) % items.length].focus();
      } else if (event.key === "Home" || event.key === "End") {
        event.preventDefault();
        items[event.key === "Home" ? 0 : items.length - 1].focus();
      } else if (event.key === "Escape" || event.key === "Tab") {
        if (event.key === "Escape") event.preventDefault();
        closeMenu(event.key === "Escape");
      }
      return;
    }
    if (event.target !== node) return;
    var nodes = messageNodes();
    var index = nodes.indexOf(node);
    var target = null;
    if (event.key === "ArrowUp") target = nodes[index - 1];
    else if (event.key === "ArrowDown") target = nodes[index + 1];
    else if (event.key === "Home") target = nodes[0];
    else if (event.key === "End") target = nodes[nodes.length - 1];
    else if (event.key === "Enter" || event.key === " " || event.key === "ContextMenu" || (event.key === "F10" && event.shiftKey)) {
      event.preventDefault();
      openMenu(node, true);
      return;
    } else if (event.key === "Escape") {
      closeMenu(false);
      return;
    }
    if (target) {
      event.preventDefault();
      focusMessage(target);
      if (index - 1 < 3 && event.key === "ArrowUp") loadEarlier();
    } else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      event.preventDefault();
    }
  });
  el.list.addEventListener("focusin", function (event) {
    var node = event.target.closest(".chat-message");
    if (node && event.target === node && node.tabIndex !== 0) focusMessage(node);
  });
  el.list.addEventListener("focusout", function (event) {
    if (state.menuNode && !state.menuNode.contains(event.relatedTarget)) closeMenu(false);
  });
  document.addEventListener("click", function (event) {
    if (state.menuNode && !state.menuNode.contains(event.target)) closeMenu(false);
  });

  // Long-press (touch) opens a message's menu, as in the phone messengers.
  (function longPress() {
    var timer = null;
    var start = null;
    var fired = false;
    el.list.addEventListener("pointerdown", function (event) {
      if (event.pointerType !== "touch") return;
      var node = event.target.closest(".chat-message[data-id]");
      if (!node || event.target.closest(".chat-actions, a, button, video")) return;
      start = { x: event.clientX, y: event.clientY };
      fired = false;
      clearTimeout(timer);
      timer = setTimeout(function () {
        timer = null;
        fired = true;
        openMenu(node, false);
        if (navigator.vibrate) navigator.vibrate(10);
      }, LONG_PRESS_MS);
    });
    function cancel() { clearTimeout(timer); timer = null; }
    el.list.addEventListener("pointermove", function (event) {
      if (timer && start && Math.hypot(event.clientX - start.x, event.clientY - start.y) > 10) cancel();
    });
    el.list.addEventListener("pointerup", function () {
      cancel();
      if (fired) { fired = false; state.suppressClickUntil = Date.now() + 400; }
    });
    el.list.addEventListener("pointercancel", cancel);
    el.list.addEventListener("contextmenu", function (event) {
      var node = event.target.closest(".chat-message[data-id]");
      if (node && (state.menuNode === node || event.pointerType === "touch")) event.preventDefault();
    });
  })();

  // --- @mentions: room nicknames as you type ------------------------------------------------

  function mentionQuery() {
    var caret = el.input.selectionStart;
    if (caret !== el.input.selectionEnd) return null;
    var before = el.input.value.slice(0, caret);
    var at = before.lastIndexOf("@");
    if (at === -1 || (at > 0 && !/\s/.test(before.charAt(at - 1)))) return null;
    var query = before.slice(at + 1);
    if (query.length > 40 || /\n/.test(query) || /\s\s/.test(query)) return null;
    return { start: at, end: caret, query: query };
  }

  function closeMentions() {
    state.mention = null;
    el.mentions.hidden = true;
    el.mentions.replaceChildren();
    el.input.removeAttribute("aria-activedescendant");
  }

  function drawMentions() {
    var mention = state.mention;
    el.mentions.replaceChildren();
    if (!mention || !mention.options.length) { closeMentions(); return; }
    mention.options.forEach(function (option, index) {
      var item = document.createElement("li");
      item.id = "chat-mention-" + index;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", index === mention.active ? "true" : "false");
      item.className = "chat-mention-option";
      var avatar = document.createElement("span");
      avatar.className = "chat-avatar";
      avatar.setAttribute("aria-hidden", "true");
      if (option.avatar) {
        var img = document.createElement("img");
        img.src = option.avatar;
        img.alt = "";
        avatar.append(img);
      } else {
        avatar.textContent = Array.from(option.nickname)[0] || "";
      }
      var name = document.createElement("span");
      name.dir = "auto";
      name.textContent = option.nickname;
      item.append(avatar, name);
      item.addEventListener("mousedown", function (event) { event.preventDefault(); pickMention(index); });
      el.mentions.append(item);
    });
    el.mentions.hidden = false;
    el.input.setAttribute("aria-activedescendant", "chat-mention-" + mention.active);
  }

  function updateMentions() {
    if (!config.mentionsUrl) return;
    var found = mentionQuery();
    if (!found) { closeMentions(); return; }
    clearTimeout(updateMentions.timer);
    updateMentions.timer = setTimeout(function () {
      var url = config.mentionsUrl + "?q=" + encodeURIComponent(found.query);
      api("GET", url).then(function (page) {
        var again = mentionQuery();
        if (!again || again.query !== found.query) return;
        state.mention = { start: found.start, end: found.end, options: page.results || [], active: 0 };
        drawMentions();
      }).catch(function () { closeMentions(); });
    }, MENTION_MIN_WAIT_MS);
  }

  function pickMention(index) {
    var mention = state.mention;
    if (!mention || !mention.options[index]) return;
    var text = "@" + mention.options[index].nickname + " ";
    var value = el.input.value;
    var caret = el.input.selectionStart;
    el.input.value = value.slice(0, mention.start) + text + value.slice(caret);
    var at = mention.start + text.length;
    el.input.setSelectionRange(at, at);
    closeMentions();
    el.input.focus();
    autosize();
  }

  function mentionKeydown(event) {
    var mention = state.mention;
    if (!mention || el.mentions.hidden) return false;
    var count = mention.options.length;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      mention.active = (mention.active + (event.key === "ArrowDown" ? 1 : -1) + count) % count;
      drawMentions();
      return true;
    }
    if ((event.key === "Enter" || event.key === "Tab") && !event.isComposing) {
      event.preventDefault();
      pickMention(mention.active);
      return true;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      closeMentions();
      return true;
    }
    return false;
  }
  el.input.addEventListener("blur", function () { setTimeout(closeMentions, 150); });

  // --- the room menu: mute, the pinned notice -------------------------------------------------

  function showLevel(level) {
    config.level = level;
    if (!el.mute) return;
    var muted = level === "muted";
    el.mute.setAttribute("aria-pressed", muted ? "true" : "false");
    el.mute.textContent = muted ? t("Unmute notifications") : t("Mute notifications");
  }
  if (el.mute) {
    showLevel(config.level);
    el.mute.addEventListener("click", function () {
      var level = config.level === "muted" ? "all" : "muted";
      api("PUT", config.levelUrl, { level: level }).then(function (answer) {
        showLevel(answer.level);
        showNotice(answer.level === "muted" ? t("Notifications are muted for this room.") : t("Notifications are on for this room."));
        document.dispatchEvent(new CustomEvent("moim:room-level-changed", { detail: { room_id: config.roomId, level: answer.level } }));
      }).catch(showError);
    });
  }
  // Muted or unmuted from the chat list beside the chat.
  document.addEventListener("moim:chats", function (event) {
    (event.detail.chats || []).forEach(function (each) { if (each.room_id === config.roomId) showLevel(each.level); });
  });
  var menu = root.querySelector("[data-chat-menu]");
  if (menu) {
    document.addEventListener("click", function (event) { if (!menu.contains(event.target)) menu.open = false; });
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) { menu.open = false; menu.querySelector("summary").focus(); }
    });
  }

  var noticeKey = "moim:notice-collapsed:" + config.roomId;
  function setNoticeCollapsed(collapsed) {
    if (!el.noticeToggle) return;
    el.noticeToggle.setAttribute("aria-expanded", collapsed ? "false" : "true");
    el.notice.classList.toggle("is-collapsed", collapsed);
    try {
      if (collapsed) sessionStorage.setItem(noticeKey, el.noticeBody.textContent);
      else sessionStorage.removeItem(noticeKey);
    } catch (e) { /* storage off: the notice just opens again next time */ }
  }
  if (el.noticeToggle) {
    el.noticeToggle.addEventListener("click", function () {
      setNoticeCollapsed(el.noticeToggle.getAttribute("aria-expanded") === "true");
    });
    try {
      // Collapsed stays collapsed until the notice changes.
      if (sessionStorage.getItem(noticeKey) === el.noticeBody.textContent) setNoticeCollapsed(true);
    } catch (e) { /* no storage */ }
  }

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
    "presence": function (event) {
      el.presence.textContent = (el.presenceBase ? el.presenceBase + " · " : "") + fmt(t("%(count)s online"), { count: event.online }, true);
    },
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

  // The pinned notice at the top of the chat (collapsible; a new notice opens again).
  function showAnnouncement(announcement) {
    if (!el.notice) return;
    el.notice.hidden = !announcement;
    el.noticeBody.textContent = announcement ? announcement.body : "";
    if (announcement) setNoticeCollapsed(false);
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
  // A plugin's per-message actions ({label, ariaLabel?, run(message, chat), destructive?})
  // join the message's menu, after its own actions.
  function renderPluginActions(node, actions, message) {
    var menu = node.querySelector(".chat-actions");
    if (!menu) return;
    actions.forEach(function (action) {
      var button = document.createElement("button");
      button.type = "button";
      button.setAttribute("role", "menuitem");
      button.className = "chat-plugin-action" + (action.destructive ? " is-destructive" : "");
      button.textContent = action.label;
      button.setAttribute("aria-label", action.ariaLabel
        || fmt(t("%(action)s: message from %(name)s"), { action: action.label, name: authorName(message) }, true));
      button.addEventListener("click", function () { closeMenu(false); action.run(message, chat); });
      menu.append(button);
    });
  }

  // A plugin's composer entry ({label, run(chat)}) joins the composer's attach menu (+).
  var attachMenu = el.form.querySelector("[data-chat-attach-menu]");
  function addComposerEntry(entry) {
    var attach = el.form.querySelector(".chat-attach");
    if (!attach) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button-small button-secondary";
    button.textContent = entry.label;
    button.addEventListener("click", function () {
      if (attachMenu) attachMenu.open = false;
      entry.run(chat);
    });
    attach.append(button);
  }
  if (attachMenu) {
    document.addEventListener("click", function (event) { if (!attachMenu.contains(event.target)) attachMenu.open = false; });
    attachMenu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && attachMenu.open) { attachMenu.open = false; attachMenu.querySelector("summary").focus(); }
    });
    // Choosing a photo closes the menu too.
    var mediaButton = attachMenu.querySelector("[data-media-button]");
    if (mediaButton) mediaButton.addEventListener("click", function () { attachMenu.open = false; });
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
    // A plugin that arrives after messages are drawn draws into them too.
    state.messages.forEach(function (message, id) {
      var node = state.nodes.get(id);
      if (!node || node.classList.contains("is-collapsed")) return;
      if (plugin.render) plugin.render(node, message, chat);
      if (plugin.actions && !message.deleted) renderPluginActions(node, plugin.actions(message, chat) || [], message);
    });
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

  // The composer is reachable at once: focused on open where that opens no keyboard.
  if (window.matchMedia && window.matchMedia("(pointer: fine)").matches && !el.input.disabled
      && !el.form.hidden && document.activeElement === document.body) {
    el.input.focus({ preventScroll: true });
  }
  // The first page is drawn once the page's deferred scripts (the plugins, loaded after
  // this one) have registered, so its messages get their polls, counts and menus.
  function start() { loadLatest().catch(showError).finally(connect); }
  if (document.readyState === "complete") start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
