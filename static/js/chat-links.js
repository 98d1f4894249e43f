/* Links in chat messages (a chat plugin, docs/frontend.md): web addresses in a message's
 * text become links, and a message with a link preview (payload `link_preview`, fetched
 * by the server: docs/links.md) gets its card under the text. While a message with an
 * address is being written, the composer shows the card it will get
 * (GET /api/v1/link-preview/). Everything is built with createElement/textContent; the
 * card's image is the server's own stored copy. */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };
  // The composer's look-up endpoint, from this script's own tag (chat_plugins.html).
  var script = document.currentScript;
  var lookupUrl = script && script.dataset.linkPreviewUrl;
  // Wait this long after typing stops before looking an address up.
  var LOOKUP_DELAY_MS = 400;
  // A preview still being fetched ("pending") is asked for again this often, this many times.
  var PENDING_RETRY_MS = 1500;
  var PENDING_RETRIES = 4;

  // The same rule as the server's (community/links/selectors.py: first_url).
  var URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  var TRAILING = ".,;:!?'\"。、，．！？」』）】〉》";
  var PAIRS = { ")": "(", "]": "[", "}": "{" };

  function count(text, ch) { return text.split(ch).length - 1; }

  // "https://naver.com에서": a host with an ASCII top-level domain ends at the first
  // letter of another script (Korean and Japanese attach particles to the address).
  var HOST_THEN_WORD = /^(https?:\/\/[A-Za-z0-9_.-]*?\.[a-z]{2,})(?=[^\x00-\x7f])/i;

  function trimUrl(url) {
    var attached = HOST_THEN_WORD.exec(url);
    if (attached) url = attached[1];
    while (url) {
      var last = url.charAt(url.length - 1);
      if (TRAILING.indexOf(last) !== -1 || (PAIRS[last] && count(url, last) > count(url, PAIRS[last]))) {
        url = url.slice(0, -1);
      } else {
        break;
      }
    }
    return url;
  }

  function safeHref(url) {
    try {
      var parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (_e) { return null; }
  }

  function anchor(url, text, className) {
    var link = document.createElement("a");
    link.href = url;
    link.target = "_blank";
    // No referrer, no window.opener, and no credit from search engines for user links.
    link.rel = "noopener noreferrer nofollow ugc";
    if (className) link.className = className;
    if (text !== undefined) link.textContent = text;
    return link;
  }

  /* Replace web addresses in the text nodes of `body` with links (text already inside a
   * link, e.g. a mention, is left alone). */
  function linkify(body) {
    var walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
    var nodes = [];
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement.closest("a") && /https?:\/\//i.test(node.nodeValue)) nodes.push(node);
    }
    nodes.forEach(function (textNode) {
      var text = textNode.nodeValue;
      var parts = document.createDocumentFragment();
      var last = 0;
      text.replace(URL_RE, function (match, offset) {
        var url = trimUrl(match);
        var href = safeHref(url);
        if (!href) return match;
        parts.append(document.createTextNode(text.slice(last, offset)));
        parts.append(anchor(href, url, "chat-link"));
        last = offset + url.length;
        return match;
      });
      if (last === 0) return;
      parts.append(document.createTextNode(text.slice(last)));
      textNode.replaceWith(parts);
    });
  }

  function card(preview) {
    var href = safeHref(preview.url);
    if (!href) return null;
    var link = anchor(href, undefined, "link-card");
    link.setAttribute("aria-label", (preview.title || preview.domain) + " (" + preview.domain + ")");
    if (preview.image && preview.image.url) {
      var img = document.createElement("img");
      img.className = "link-card-image";
      img.loading = "lazy";
      img.decoding = "async";
      img.alt = "";
      img.src = preview.image.url;
      if (preview.image.width) { img.width = preview.image.width; img.height = preview.image.height; }
      link.append(img);
    }
    var text = document.createElement("span");
    text.className = "link-card-text";
    var site = document.createElement("span");
    site.className = "link-card-site";
    site.textContent = preview.site_name || preview.domain;
    text.append(site);
    if (preview.title) {
      var title = document.createElement("span");
      title.className = "link-card-title";
      title.dir = "auto";
      title.textContent = preview.title;
      text.append(title);
    }
    if (preview.description) {
      var description = document.createElement("span");
      description.className = "link-card-description";
      description.dir = "auto";
      description.textContent = preview.description;
      text.append(description);
    }
    link.append(text);
    return link;
  }

  function render(node, message) {
    if (message.deleted) return;
    var body = node.querySelector(".chat-body");
    if (!body || body.hidden) return;
    linkify(body);
    if (!message.link_preview) return;
    var existing = node.querySelector(".link-card");
    if (existing) existing.remove();
    var built = card(message.link_preview);
    if (built) body.after(built);
  }

  /* The composer's card: the first complete address of the text being written (one
   * followed by a space, or pasted), looked up once per address. */
  function attachComposer(chat) {
    var form = chat.root.querySelector("[data-chat-form]");
    var input = chat.root.querySelector("[data-chat-input]");
    if (!lookupUrl || !form || !input) return;
    var box = document.createElement("div");
    box.className = "link-compose";
    box.setAttribute("aria-live", "polite");
    box.hidden = true;
    form.prepend(box);
    var found = new Map(); // address -> card payload, or null (no card)
    var shown = null;
    var timer = null;

    function wanted(pasted) {
      var text = input.value;
      URL_RE.lastIndex = 0;
      var match = URL_RE.exec(text);
      if (!match) return null;
      var url = trimUrl(match[0]);
      var end = match.index + match[0].length;
      var complete = pasted || end < text.length;
      return complete && safeHref(url) ? url : null;
    }

    function show(url) {
      var preview = url ? found.get(url) : null;
      if (!preview) { box.hidden = true; box.replaceChildren(); shown = null; return; }
      if (shown === url) return;
      shown = url;
      var built = card(preview);
      var label = document.createElement("span");
      label.className = "link-compose-label";
      label.textContent = t("Link preview");
      box.replaceChildren(label, built);
      box.hidden = !built;
    }

    function lookUp(url, attempt) {
      if (found.has(url)) { show(wanted(true) === url ? url : null); return; }
      chat.api("GET", lookupUrl + "?url=" + encodeURIComponent(url)).then(function (data) {
        if (data && data.status === "pending") {
          if (attempt < PENDING_RETRIES) setTimeout(function () { lookUp(url, attempt + 1); }, PENDING_RETRY_MS);
          return;
        }
        found.set(url, data && data.url ? data : null);
        show(wanted(true) === url ? url : null);
      }).catch(function (error) {
        // No card (404), a bad address (400): remembered; throttled: try again later.
        if (!error || error.code !== "throttled") found.set(url, null);
      });
    }

    function update(pasted) {
      clearTimeout(timer);
      var url = wanted(pasted);
      if (!url) { show(null); return; }
      if (found.has(url)) { show(url); return; }
      timer = setTimeout(function () { lookUp(url, 0); }, LOOKUP_DELAY_MS);
    }

    input.addEventListener("input", function (event) { update(event.inputType === "insertFromPaste"); });
    // Sending empties the box without an input event.
    form.addEventListener("submit", function () { setTimeout(function () { update(false); }, 0); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) setTimeout(function () { update(false); }, 0);
    });
  }

  (window.MoimChatPlugins = window.MoimChatPlugins || []).push({ render: render, attach: attachComposer });
  // For other scripts that show user text with addresses.
  window.MoimLinks = { linkify: linkify, card: card };
})();
