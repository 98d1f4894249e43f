/* Highlights chat messages that mention me or reply to me (chat.js calls
 * window.MoimMentions.decorate for every message it renders). Text stays text:
 * the body is split into text nodes and <mark> elements, never parsed as HTML. */
(function () {
  "use strict";

  function markNicknames(body, text, nicknames) {
    var lower = text.toLowerCase();
    var hits = [];
    nicknames.forEach(function (nickname) {
      var needle = ("@" + nickname).toLowerCase();
      var at = lower.indexOf(needle);
      while (at !== -1) {
        hits.push([at, at + needle.length]);
        at = lower.indexOf(needle, at + needle.length);
      }
    });
    if (!hits.length) return;
    hits.sort(function (a, b) { return a[0] - b[0]; });
    body.textContent = "";
    var cursor = 0;
    hits.forEach(function (hit) {
      if (hit[0] < cursor) return;
      body.appendChild(document.createTextNode(text.slice(cursor, hit[0])));
      var mark = document.createElement("mark");
      mark.className = "chat-mention";
      mark.textContent = text.slice(hit[0], hit[1]);
      body.appendChild(mark);
      cursor = hit[1];
    });
    body.appendChild(document.createTextNode(text.slice(cursor)));
  }

  window.MoimMentions = {
    decorate: function (node, message, me) {
      if (message.deleted) return;
      var mentions = message.mentions || [];
      var mentionsMe = mentions.some(function (m) { return m.membership_id === me; });
      var repliesToMe = !!(message.reply_to && message.reply_to.author &&
        message.reply_to.author.membership_id === me);
      node.classList.toggle("mentions-me", mentionsMe || repliesToMe);
      var body = node.querySelector(".chat-body");
      if (body && mentions.length) {
        markNicknames(body, message.body, mentions.map(function (m) { return m.nickname; }));
      }
    },
  };
})();
