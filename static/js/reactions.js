/* Moim reactions: a bar of emoji counts under messages, status posts and room cards.
 *
 * window.MoimReactions = {
 *   renderBar(element, message)   // chat: append/refresh the bar of a message element
 *   onEvent(event)                // chat socket: apply a "reaction.updated" event
 *   mount(root)                   // pages: enhance [data-reactions-target] bars
 *                                 // (templates/community/includes/reaction_bar.html)
 *   setViewer({membershipId})     // chat: who "me" is in the room's events
 * }
 *
 * Everything is built with createElement/textContent; no user text goes through HTML.
 * Toggling calls /api/v1/{messages,posts,rooms}/{id}/reactions/ with the CSRF token and
 * redraws from the server's answer; live events then carry the committed counts.
 */
(function () {
  "use strict";

  var API_PATHS = { message: "messages", status_post: "posts", room: "rooms" };
  // The quick row first, then a few more; the server accepts any single Unicode emoji.
  var PICKER = [
    "👍", "❤️", "😂", "😮", "😢", "🙏", "🔥", "🎉",
    "😍", "🥰", "😆", "🤣", "😭", "😱", "🤔", "🙄",
    "👏", "🙌", "💪", "🤝", "👀", "💯", "✨", "🥳",
  ];
  var t = function (text) { return window.gettext ? window.gettext(text) : text; };
  var viewer = { membershipId: null };
  // "message:12" -> {type, id, reactions: [{emoji, count, me}], bars: [element]}
  var targets = {};

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function keyOf(type, id) { return type + ":" + id; }

  function targetFor(type, id, reactions) {
    var key = keyOf(type, id);
    if (!targets[key]) targets[key] = { type: type, id: id, reactions: [], bars: [] };
    if (reactions) targets[key].reactions = reactions.map(function (r) {
      return { emoji: r.emoji, count: r.count, me: !!r.me };
    });
    return targets[key];
  }

  function reactionUrl(target, emoji) {
    var url = "/api/v1/" + API_PATHS[target.type] + "/" + encodeURIComponent(target.id) + "/reactions/";
    return emoji ? url + "?emoji=" + encodeURIComponent(emoji) : url;
  }

  function showError(bar, message) {
    var status = bar.querySelector(".reaction-status");
    if (status) status.textContent = message || "";
  }

  function toggle(target, emoji, bar) {
    var mine = target.reactions.some(function (r) { return r.emoji === emoji && r.me; });
    var options = {
      method: mine ? "DELETE" : "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    };
    if (!mine) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify({ emoji: emoji });
    }
    showError(bar, "");
    return fetch(reactionUrl(target, mine ? emoji : null), options)
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) {
            var error = body && body.error;
            if (error && error.code === "not_authenticated" && window.MoimLoginSheet) {
              window.MoimLoginSheet.open(t("Log in to react. Reactions show who liked what."));
              return null;
            }
            throw new Error((error && error.message) || t("Could not update the reaction."));
          }
          return body;
        });
      })
      .then(function (body) {
        if (!body) return;  // signed out: the log-in sheet is open
        targetFor(target.type, target.id, body.reactions);
        redraw(target);
      })
      .catch(function (error) { showError(bar, error.message); });
  }

  function chip(target, reaction, bar) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "reaction-chip" + (reaction.me ? " is-mine" : "");
    button.setAttribute("aria-pressed", reaction.me ? "true" : "false");
    button.dataset.emoji = reaction.emoji;
    var emoji = document.createElement("span");
    emoji.className = "reaction-emoji";
    emoji.textContent = reaction.emoji;
    var count = document.createElement("span");
    count.className = "reaction-count";
    count.textContent = String(reaction.count);
    button.append(emoji, count);
    button.title = reaction.me ? t("Remove your reaction") : t("React with this");
    button.addEventListener("click", function () { toggle(target, reaction.emoji, bar); });
    // Who reacted: the first names, fetched once when the chip is first hovered or focused.
    var asked = false;
    function showWho() {
      if (asked || bar.dataset.readonly === "true") return;
      asked = true;
      fetch(reactionUrl(target, reaction.emoji) + "&limit=10", {
        credentials: "same-origin", headers: { "Accept": "application/json" },
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (page) {
          if (!page || !page.results) return;
          var names = page.results.map(function (row) { return row.nickname || row.display_name || row.handle; });
          if (page.next) names.push("…");
          button.title = names.join(", ");
        })
        .catch(function () {});
    }
    button.addEventListener("mouseenter", showWho);
    button.addEventListener("focus", showWho);
    return button;
  }

  function picker(target, bar) {
    var wrapper = document.createElement("span");
    wrapper.className = "reaction-picker-wrapper";
    var open = document.createElement("button");
    open.type = "button";
    open.className = "reaction-add";
    open.textContent = "☺+";
    open.setAttribute("aria-label", t("Add a reaction"));
    open.setAttribute("aria-expanded", "false");
    var panel = document.createElement("div");
    panel.className = "reaction-picker";
    panel.setAttribute("role", "menu");
    panel.hidden = true;
    PICKER.forEach(function (emoji) {
      var option = document.createElement("button");
      option.type = "button";
      option.setAttribute("role", "menuitem");
      option.textContent = emoji;
      option.addEventListener("click", function () {
        close();
        var already = target.reactions.some(function (r) { return r.emoji === emoji && r.me; });
        if (!already) toggle(target, emoji, bar);
      });
      panel.appendChild(option);
    });
    function close() {
      panel.hidden = true;
      open.setAttribute("aria-expanded", "false");
    }
    // The panel opens above its button; near the top of a scrolling list (the first
    // message of a chat log) it would slide under the list's sticky header, so it
    // opens below instead.
    function place() {
      panel.classList.remove("reaction-picker-below");
      var limit = 0;
      for (var node = wrapper.parentElement; node; node = node.parentElement) {
        var overflow = getComputedStyle(node).overflowY;
        if (overflow === "auto" || overflow === "scroll") {
          limit = node.getBoundingClientRect().top;
          break;
        }
      }
      var header = document.querySelector(".site-header");
      if (header) limit = Math.max(limit, header.getBoundingClientRect().bottom);
      if (panel.getBoundingClientRect().top < limit + 48) {
        panel.classList.add("reaction-picker-below");
      }
    }
    open.addEventListener("click", function () {
      panel.hidden = !panel.hidden;
      open.setAttribute("aria-expanded", panel.hidden ? "false" : "true");
      if (!panel.hidden) place();
      if (!panel.hidden && panel.firstChild) panel.firstChild.focus();
    });
    // A menu: arrow keys move between the emoji (a grid of 8), Home and End jump.
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); close(); open.focus(); return; }
      var options = Array.prototype.slice.call(panel.querySelectorAll("[role=menuitem]"));
      var at = options.indexOf(document.activeElement);
      var step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 }[event.key];
      var next = null;
      if (step) next = options[(at + step + options.length) % options.length];
      else if (event.key === "Home") next = options[0];
      else if (event.key === "End") next = options[options.length - 1];
      if (next) { event.preventDefault(); next.focus(); }
    });
    wrapper.append(open, panel);
    return wrapper;
  }

  function fillBar(bar, target) {
    bar.replaceChildren();
    target.reactions.forEach(function (reaction) {
      if (reaction.count > 0) bar.appendChild(chip(target, reaction, bar));
    });
    if (bar.dataset.readonly !== "true") bar.appendChild(picker(target, bar));
    var status = document.createElement("span");
    status.className = "reaction-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    bar.appendChild(status);
  }

  function redraw(target) {
    target.bars = target.bars.filter(function (bar) { return bar.isConnected; });
    target.bars.forEach(function (bar) { fillBar(bar, target); });
  }

  function attach(bar, target) {
    bar.classList.add("reaction-bar");
    bar.setAttribute("role", "group");  // a name needs a role (an unnamed div may not have one)
    bar.setAttribute("aria-label", t("Reactions"));
    if (target.bars.indexOf(bar) === -1) target.bars.push(bar);
    fillBar(bar, target);
    return bar;
  }

  function renderBar(messageElement, message) {
    if (!messageElement || !message) return null;
    var bar = messageElement.querySelector(":scope > .reaction-bar");
    if (message.deleted) {
      if (bar) bar.remove();
      return null;
    }
    if (!bar) {
      bar = document.createElement("div");
      messageElement.appendChild(bar);
    }
    var known = targets[keyOf("message", message.id)];
    var reactions = message.reactions || [];
    if (known) {
      // Broadcast payloads (an edit) are shared by the room and say me: false for all;
      // keep what this viewer already knows about their own reactions.
      var mine = {};
      known.reactions.forEach(function (r) { mine[r.emoji] = r.me; });
      reactions = reactions.map(function (r) {
        return { emoji: r.emoji, count: r.count, me: r.me || !!mine[r.emoji] };
      });
    }
    return attach(bar, targetFor("message", message.id, reactions));
  }

  function onEvent(event) {
    if (!event || event.type !== "reaction.updated") return;
    var target = targets[keyOf(event.target_type, event.target_id)];
    if (!target) return;  // not on screen
    var mine = {};
    target.reactions.forEach(function (r) { mine[r.emoji] = r.me; });
    if (viewer.membershipId !== null && event.membership_id === viewer.membershipId) {
      mine[event.emoji] = event.action === "added";
    }
    target.reactions = (event.reactions || []).map(function (r) {
      return { emoji: r.emoji, count: r.count, me: !!mine[r.emoji] };
    });
    redraw(target);
  }

  function mount(root) {
    (root || document).querySelectorAll("[data-reactions-target]").forEach(function (bar) {
      // The server renders the counts as chips (readable without JavaScript).
      var reactions = Array.prototype.map.call(bar.querySelectorAll("[data-emoji]"), function (node) {
        return { emoji: node.dataset.emoji, count: Number(node.dataset.count), me: node.dataset.me === "true" };
      });
      var id = Number(bar.dataset.reactionsId);
      attach(bar, targetFor(bar.dataset.reactionsTarget, id, reactions));
    });
    // The chat section (templates/community/includes/chat.html) names the viewer's membership.
    var chat = document.querySelector(".chat[data-membership-id]");
    if (chat && viewer.membershipId === null) viewer.membershipId = Number(chat.dataset.membershipId);
  }

  // The chat's quick reaction bar: add (or take back) one emoji on a message on screen.
  function toggleMessageReaction(messageId, emoji) {
    var target = targets[keyOf("message", messageId)];
    if (!target) return Promise.resolve();
    target.bars = target.bars.filter(function (bar) { return bar.isConnected; });
    return toggle(target, emoji, target.bars[0] || document.createElement("div"));
  }

  function setViewer(options) {
    viewer.membershipId = options && options.membershipId != null ? Number(options.membershipId) : null;
  }

  // A page (or a test) that already set the hooks keeps them.
  window.MoimReactions = window.MoimReactions ||
    { renderBar: renderBar, onEvent: onEvent, mount: mount, setViewer: setViewer,
      toggleMessageReaction: toggleMessageReaction };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { mount(document); });
  } else {
    mount(document);
  }
})();
