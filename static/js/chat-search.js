/* Search inside the room (a chat plugin, docs/frontend.md): `GET messages/?q=` (newest
 * first, `before` paging, highlights as code point ranges, docs/api.md). A result jumps
 * to its message in the chat when it is on screen; otherwise its context is loaded with
 * `?around=<seq>` and shown in the panel. User text only ever goes in with textContent
 * (the highlights are <mark> elements around text nodes). */
(function () {
  "use strict";
  var t = window.gettext || function (s) { return s; };
  var PAGE = 20;
  var CONTEXT = 20;
  var panel = null;

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clockTime(iso) {
    var options = { dateStyle: "short", timeStyle: "short" };
    var zone = document.documentElement.getAttribute("data-time-zone");
    var lang = document.documentElement.lang || [];
    if (zone) {
      try { return new Date(iso).toLocaleString(lang, Object.assign({ timeZone: zone }, options)); } catch (e) { /* the browser's zone */ }
    }
    return new Date(iso).toLocaleString(lang, options);
  }

  // The body with its [start, end) code point ranges marked.
  function highlighted(body, ranges) {
    var chars = Array.from(body);
    var fragment = document.createDocumentFragment();
    var at = 0;
    (ranges || []).forEach(function (range) {
      if (range[0] > at) fragment.append(chars.slice(at, range[0]).join(""));
      fragment.append(element("mark", "", chars.slice(range[0], range[1]).join("")));
      at = range[1];
    });
    if (at < chars.length) fragment.append(chars.slice(at).join(""));
    return fragment;
  }

  function messageRow(message, ranges) {
    var row = element("li", "chat-search-item");
    row.dir = "auto";
    var meta = element("div", "chat-search-meta");
    meta.append(element("span", "chat-author", message.author ? message.author.nickname : t("Moim")), " ");
    var time = element("time", "chat-time", clockTime(message.created_at));
    time.dateTime = message.created_at;
    meta.append(time);
    var body = element("div", "chat-search-body");
    if (message.deleted) body.textContent = t("This message was deleted.");
    else body.append(highlighted(message.body, ranges));
    row.append(meta, body);
    return row;
  }

  function build(chat) {
    panel = element("section", "chat-search");
    panel.hidden = true;
    panel.setAttribute("aria-label", t("Search this room"));
    var form = element("form", "chat-search-form");
    form.setAttribute("role", "search");
    var label = element("label", "visually-hidden", t("Search this room"));
    label.htmlFor = "chat-search-input";
    var input = element("input", "chat-search-input");
    input.type = "search";
    input.id = "chat-search-input";
    input.maxLength = 100;
    input.dir = "auto";
    input.placeholder = t("Search messages");
    var submit = element("button", "button button-small", t("Search"));
    submit.type = "submit";
    var close = element("button", "link-button", t("Close"));
    close.type = "button";
    form.append(label, input, submit, close);
    var status = element("p", "chat-search-status muted");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var results = element("ol", "chat-search-results");
    var more = element("button", "button button-small button-secondary", t("More results"));
    more.type = "button";
    more.hidden = true;
    var context = element("div", "chat-search-context");
    context.hidden = true;
    var back = element("button", "link-button", t("Back to results"));
    back.type = "button";
    var contextList = element("ol", "chat-search-context-list");
    context.append(back, contextList);
    panel.append(form, status, results, more, context);
    var log = chat.root.querySelector("[data-chat-log]");
    (log || chat.root.firstElementChild).before(panel);

    var state = { q: "", before: null, hasMore: false };
    function load(reset) {
      var url = chat.root.dataset.historyUrl + "?limit=" + PAGE + "&q=" + encodeURIComponent(state.q);
      if (!reset && state.before !== null) url += "&before=" + state.before;
      status.textContent = t("Searching…");
      return chat.api("GET", url).then(function (page) {
        if (reset) results.replaceChildren();
        page.results.forEach(function (message) {
          var row = messageRow(message, message.highlights);
          row.tabIndex = 0;
          row.setAttribute("role", "button");
          row.addEventListener("click", function () { jump(chat, message); });
          row.addEventListener("keydown", function (event) {
            if (event.key === "Enter") jump(chat, message);
          });
          results.append(row);
          state.before = message.seq;
        });
        state.hasMore = page.has_more;
        more.hidden = !state.hasMore;
        status.textContent = results.children.length ? "" : t("No messages found.");
      }).catch(function (error) {
        status.textContent = error.message || t("Something went wrong.");
      });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      state.q = input.value.trim();
      state.before = null;
      state.hasMore = false;
      showResults();
      if (state.q) load(true);
    });
    more.addEventListener("click", function () { load(false); });
    close.addEventListener("click", function () { panel.hidden = true; });
    back.addEventListener("click", showResults);

    function showResults() {
      context.hidden = true;
      results.hidden = false;
      more.hidden = !state.hasMore;
    }
    panel.showContext = function (message) {
      panel.hidden = false;
      results.hidden = true;
      more.hidden = true;
      context.hidden = false;
      contextList.replaceChildren();
      status.textContent = t("Loading…");
      var url = chat.root.dataset.historyUrl + "?limit=" + CONTEXT + "&around=" + message.seq;
      chat.api("GET", url).then(function (page) {
        status.textContent = "";
        page.results.forEach(function (item) {
          var row = messageRow(item, []);
          if (item.id === message.id) {
            row.classList.add("is-hit");
            row.setAttribute("aria-current", "true");
          }
          contextList.append(row);
        });
        var hit = contextList.querySelector(".is-hit");
        if (hit) hit.scrollIntoView({ block: "center" });
      }).catch(function (error) { status.textContent = error.message || t("Something went wrong."); });
    };
    panel.focusInput = function () { input.focus(); };
  }

  // On screen: the chat scrolls to it; otherwise its context is shown in the panel.
  function jump(chat, message) {
    if (chat.node(message.id)) { chat.jumpTo(message.id); return; }
    if (!panel) build(chat);
    panel.showContext(message);
  }

  window.MoimChatSearch = {
    showContext: function (chat, message) {
      if (!panel) build(chat);
      panel.showContext(message);
    },
  };

  (window.MoimChatPlugins = window.MoimChatPlugins || []).push({
    composer: [{
      label: t("Search"),
      run: function (chat) {
        if (!panel) build(chat);
        panel.hidden = !panel.hidden;
        if (!panel.hidden) panel.focusInput();
      },
    }],
  });
})();
