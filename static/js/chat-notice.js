/* The room's notice in the chat (a chat plugin, docs/frontend.md): who set it and when,
 * kept live from the socket (`ready` and `room.announcement`, docs/realtime.md); hosts
 * pin a message as the notice from its actions, and unpin it; a pinned message's notice
 * jumps to that message (loaded in context by chat-search.js when it is not on screen).
 * User text only ever goes in with textContent. */
(function () {
  "use strict";
  var script = document.currentScript;
  var announcementUrl = script && script.dataset.announcementUrl;
  var t = window.gettext || function (s) { return s; };
  var fmt = window.interpolate || function (s, args) {
    return s.replace(/%\((\w+)\)s/g, function (_m, key) { return args[key]; });
  };
  if (!announcementUrl) return;

  // In the account's time zone (<html data-time-zone>), as the rest of the chat.
  function dateTime(iso) {
    var options = { dateStyle: "medium", timeStyle: "short" };
    var zone = document.documentElement.getAttribute("data-time-zone");
    var lang = document.documentElement.lang || [];
    if (zone) {
      try { return new Date(iso).toLocaleString(lang, Object.assign({ timeZone: zone }, options)); } catch (e) { /* the browser's zone */ }
    }
    return new Date(iso).toLocaleString(lang, options);
  }

  function button(label, onClick) {
    var node = document.createElement("button");
    node.type = "button";
    node.className = "link-button";
    node.textContent = label;
    node.addEventListener("click", onClick);
    return node;
  }

  function jump(chat, message) {
    if (chat.node(message.id)) { chat.jumpTo(message.id); return; }
    if (window.MoimChatSearch) window.MoimChatSearch.showContext(chat, message);
  }

  function unpin(chat) {
    chat.api("DELETE", announcementUrl).then(function () { show(null, chat); }).catch(chat.showError);
  }

  // Who set the notice and when, and its buttons, under the notice's text in the chat's
  // pinned bar ([data-chat-notice], whose text chat.js draws from the same events).
  function show(announcement, chat) {
    var bar = chat.root.querySelector("[data-chat-notice]");
    if (!bar) return;
    var node = bar.querySelector(".chat-notice-meta");
    if (!announcement) { if (node) node.remove(); return; }
    if (!node) {
      node = document.createElement("p");
      node.className = "chat-notice-meta muted";
      bar.append(node);
    }
    var meta = document.createElement("small");
    meta.textContent = (announcement.pinned_by
      ? fmt(t("Set by %(nickname)s"), { nickname: announcement.pinned_by.nickname }, true)
      : t("Set by the moderators")) + " · ";
    var time = document.createElement("time");
    time.dateTime = announcement.pinned_at;
    time.textContent = dateTime(announcement.pinned_at);
    meta.append(time);
    var parts = [meta];
    if (announcement.message) {
      parts.push(" ", button(t("Go to message"), function () { jump(chat, announcement.message); }));
    }
    if (chat.config.permissions.can_moderate) {
      parts.push(" ", button(t("Unpin"), function () { unpin(chat); }));
    }
    node.replaceChildren.apply(node, parts);
  }

  function pin(message, chat) {
    chat.api("POST", announcementUrl, { message_id: message.id }).then(function (answer) {
      show(answer.announcement, chat);
      chat.showNotice(t("Pinned as the room's notice."));
    }).catch(chat.showError);
  }

  (window.MoimChatPlugins = window.MoimChatPlugins || []).push({
    events: {
      "ready": function (event, chat) { show(event.announcement, chat); },
      "room.announcement": function (event, chat) { show(event.announcement, chat); },
    },
    actions: function (message, chat) {
      if (!chat.config.permissions.can_moderate || message.kind === "system" || !message.body) return [];
      return [{ label: t("Pin"), ariaLabel: t("Pin as the room's notice"), run: pin }];
    },
  });
})();
