/* Moim chat list (templates/community/includes/chat_list.html): the viewer's rooms,
 * latest activity first, kept live over /ws/me/. badge.js owns that socket and re-sends
 * its frames as DOM events: "moim:chat-activity" (messages came, changed or went in some
 * rooms) and "moim:unread" (totals changed: a room was read or muted). Either refetches
 * GET /api/v1/me/chats/, which decides what each preview may show (never a deleted,
 * hidden or blocked member's message). Rows are built with textContent only.
 */
(function () {
  "use strict";
  var list = document.querySelector("[data-chat-list]");
  if (!list) return;
  var t = window.gettext || function (s) { return s; };
  var fmt = window.interpolate || function (s, args) {
    return s.replace(/%\((\w+)\)s/g, function (_m, key) { return args[key]; });
  };
  var REFETCH_DELAY_MS = 300;
  var refetchTimer = null;
  var currentRoomId = Number(list.dataset.currentRoomId || 0);

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function zone() { return document.documentElement.getAttribute("data-time-zone") || undefined; }

  // Today: the clock time; this week: the weekday; before: the date (the account's zone).
  function shortTime(iso) {
    var date = new Date(iso);
    var lang = document.documentElement.lang || undefined;
    var options = { timeZone: zone() };
    var day = function (d) { return d.toLocaleDateString("en-CA", options); };
    var age = Date.now() - date.getTime();
    try {
      if (day(date) === day(new Date())) {
        return date.toLocaleTimeString(lang, Object.assign({ hour: "2-digit", minute: "2-digit" }, options));
      }
      if (age < 6 * 86400000) return date.toLocaleDateString(lang, Object.assign({ weekday: "short" }, options));
      return date.toLocaleDateString(lang, Object.assign({ month: "short", day: "numeric" }, options));
    } catch (e) {
      return date.toLocaleDateString();
    }
  }

  function roomUrl(roomId) { return list.dataset.roomUrlTemplate.replace("/0/", "/" + roomId + "/"); }
  function levelUrl(roomId) { return list.dataset.levelUrlTemplate.replace("/0/", "/" + roomId + "/"); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function hidden(text) { return el("span", "visually-hidden", text); }

  function muteLabel(chat) {
    return fmt(chat.muted ? t("Unmute %(title)s") : t("Mute %(title)s"), { title: chat.title }, true);
  }

  function row(chat) {
    var item = el("li", "chat-row");
    item.dataset.roomId = chat.room_id;
    item.classList.toggle("has-unread", chat.unread > 0);
    item.classList.toggle("is-muted", chat.muted);
    var link = el("a", "chat-row-link");
    link.href = roomUrl(chat.room_id);
    if (chat.room_id === currentRoomId) link.setAttribute("aria-current", "page");
    var avatar = el("span", "chat-row-avatar");
    avatar.setAttribute("aria-hidden", "true");
    if (chat.cover) {
      var img = document.createElement("img");
      img.src = chat.cover;
      img.alt = "";
      avatar.append(img);
    } else {
      avatar.append(el("span", "", Array.from(chat.title)[0] ? Array.from(chat.title)[0].toUpperCase() : ""));
    }
    var main = el("span", "chat-row-main");
    var top = el("span", "chat-row-top");
    var title = el("span", "chat-row-title", chat.title);
    title.dir = "auto";
    var muted = el("span", "chat-row-muted", "🔕");
    muted.title = t("Muted");
    muted.append(hidden(t("Muted")));
    muted.hidden = !chat.muted;
    top.append(title, muted);
    var last = chat.last_message;
    if (last) {
      var time = el("time", "chat-row-time", shortTime(last.created_at));
      time.dateTime = last.created_at;
      top.append(time);
    }
    var bottom = el("span", "chat-row-bottom");
    var preview = el("span", "chat-row-preview", last
      ? (last.author_nickname ? last.author_nickname + ": " : "") + last.preview
      : t("No messages yet."));
    preview.dir = "auto";
    bottom.append(preview);
    if (chat.mentions) {
      var mention = el("span", "chat-row-mentions", "@");
      mention.title = t("Unread mentions");
      bottom.append(mention);
    }
    if (chat.unread) {
      var unread = el("span", "chat-row-unread", chat.unread > 999 ? "999+" : String(chat.unread));
      unread.append(hidden(" " + t("Unread messages")));
      bottom.append(unread);
    }
    main.append(top, bottom);
    link.append(avatar, main);
    var mute = el("button", "chat-row-mute", "🔕");
    mute.type = "button";
    mute.dataset.chatRowMute = "";
    mute.dataset.level = chat.level;
    mute.setAttribute("aria-pressed", chat.muted ? "true" : "false");
    mute.setAttribute("aria-label", muteLabel(chat));
    item.append(link, mute);
    return item;
  }

  function draw(chats) {
    if (!chats.length) return; // the server's empty state stays
    var focused = document.activeElement && list.contains(document.activeElement)
      ? document.activeElement.closest(".chat-row") : null;
    var focusedRoom = focused && focused.dataset.roomId;
    var focusedMute = focused && document.activeElement.matches("[data-chat-row-mute]");
    list.replaceChildren.apply(list, chats.map(row));
    if (focusedRoom) {
      var again = list.querySelector('.chat-row[data-room-id="' + focusedRoom + '"] ' + (focusedMute ? "[data-chat-row-mute]" : "a"));
      if (again) again.focus();
    }
    document.dispatchEvent(new CustomEvent("moim:chats", { detail: { chats: chats } }));
  }

  function refetch() {
    return fetch(list.dataset.chatsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (page) { if (page) draw(page.results); })
      .catch(function () {});
  }

  function scheduleRefetch() {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(refetch, REFETCH_DELAY_MS);
  }

  // Mute or unmute from the list: the room's notification level (muted, or back to all).
  function setLevel(roomId, level) {
    return fetch(levelUrl(roomId), {
      method: "PUT", credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ level: level }),
    }).then(function (response) {
      if (!response.ok) throw new Error("level");
      document.dispatchEvent(new CustomEvent("moim:room-level", { detail: { room_id: roomId, level: level } }));
      return refetch();
    });
  }

  list.addEventListener("click", function (event) {
    var button = event.target.closest("[data-chat-row-mute]");
    if (!button) return;
    var roomId = Number(button.closest(".chat-row").dataset.roomId);
    setLevel(roomId, button.dataset.level === "muted" ? "all" : "muted").catch(function () {});
  });

  // Times in the reader's zone and words ("14:05", "Tue") instead of the server's dates.
  list.querySelectorAll("time.chat-row-time").forEach(function (time) {
    time.textContent = shortTime(time.dateTime);
  });

  document.addEventListener("moim:chat-activity", scheduleRefetch);
  document.addEventListener("moim:unread", scheduleRefetch);
  document.addEventListener("moim:room-level-changed", scheduleRefetch);
  window.MoimChats = { refetch: refetch, setLevel: setLevel };
})();
