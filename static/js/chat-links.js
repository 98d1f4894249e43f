/* Links in chat messages (a chat plugin, docs/frontend.md): web addresses in a message's
 * text become links, and a message with a link preview (payload `link_preview`, fetched
 * by the server: docs/links.md) gets its card under the text. Everything is built with
 * createElement/textContent; the card's image is the server's own stored copy. */
(function () {
  "use strict";

  // The same rule as the server's (community/links/selectors.py: first_url).
  var URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  var TRAILING = ".,;:!?'\"。、，．！？」』）】〉》";
  var PAIRS = { ")": "(", "]": "[", "}": "{" };

  function count(text, ch) { return text.split(ch).length - 1; }

  function trimUrl(url) {
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

  (window.MoimChatPlugins = window.MoimChatPlugins || []).push({ render: render });
  // For other scripts that show user text with addresses.
  window.MoimLinks = { linkify: linkify, card: card };
})();
