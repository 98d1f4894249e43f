/* Read counts (KakaoTalk's "1"): how many members have not read each message yet.
 *
 * A chat plugin (docs/frontend.md). The message payload carries `unread_count` (null:
 * none shown, as for system messages and rooms too large to count); `read.updated`
 * brings the latest messages' counts as members read (docs/realtime.md). A count only
 * ever goes down, so the lowest one seen wins over a late or repeated event.
 */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  var interpolate = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_m, key) { return String(values[key]); });
  };

  function draw(node, message) {
    // Next to the time, under the bubble (.chat-foot), shown on every message of a group.
    var meta = node.querySelector(".chat-foot") || node.querySelector(".chat-meta");
    if (!meta) return;
    var badge = meta.querySelector(".chat-unread-count");
    var count = message.deleted ? null : message.unread_count;
    if (typeof count !== "number" || count <= 0) {
      if (badge) badge.remove();
      return;
    }
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "chat-unread-count";
      var time = meta.querySelector(".chat-time");
      if (time) time.before(badge); else meta.append(badge);
    }
    badge.textContent = String(count);
    badge.title = interpolate(
      ngettext("%(count)s member has not read this yet", "%(count)s members have not read this yet", count),
      { count: count }, true
    );
    badge.setAttribute("aria-label", badge.title);
  }

  function countAt(steps, seq) {
    var count = null;
    for (var i = 0; i < steps.length && steps[i][0] <= seq; i++) count = steps[i][1];
    return count;
  }

  var handlers = {
    "read.updated": function (event, chat) {
      chat.messages().forEach(function (message) {
        if (message.seq < event.from_seq || message.seq > event.to_seq) return;
        if (message.deleted || message.kind === "system" || typeof message.unread_count !== "number") return;
        var count = countAt(event.unread, message.seq);
        if (count === null || count >= message.unread_count) return;
        message.unread_count = count;
        var node = chat.node(message.id);
        if (node) draw(node, message);
      });
    },
  };

  (window.MoimChatPlugins = window.MoimChatPlugins || []).push({
    render: function (node, message) { draw(node, message); },
    events: handlers,
  });
})();
