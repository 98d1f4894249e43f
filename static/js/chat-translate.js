/* "Translate" on messages: a message rendered in the reader's language, the original one
 * tap away.
 *
 * A chat plugin (docs/frontend.md). The message payload's `translation` is null when the
 * server has no translation engine (or the message has no text): no action then. Else
 * `translation.source_language` (null: unsure) hides the action on messages already in
 * the reader's language. The translation comes from POST /api/v1/messages/{id}/translation/
 * (cached on the server per message and language) and is set with textContent only; an
 * edit or a deletion puts the original back.
 */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };
  var readerLanguage = (document.documentElement.lang || "en").toLowerCase();
  // message id -> {text, body (the text it translates), showing}
  var translations = new Map();

  function base(code) { return String(code || "").split("-")[0].toLowerCase(); }

  function translationUrl(chat, id) {
    return chat.config.messageUrlTemplate.replace(/\/0\/$/, "/" + id + "/") + "translation/";
  }

  function current(message) {
    var kept = translations.get(message.id);
    // Edited or deleted since: the translation no longer says what the message says.
    if (kept && (message.deleted || kept.body !== message.body)) {
      translations.delete(message.id);
      return null;
    }
    return kept || null;
  }

  function draw(node, message) {
    var kept = current(message);
    var note = node.querySelector(".chat-translated");
    if (!kept || !kept.showing) {
      if (note) note.remove();
      return;
    }
    var body = node.querySelector(".chat-body");
    if (!body) return;
    body.textContent = kept.text;
    if (!note) {
      note = document.createElement("div");
      note.className = "chat-translated";
      body.after(note);
    }
    note.textContent = t("Translated");
  }

  function translate(message, chat) {
    var kept = current(message);
    if (kept) {
      kept.showing = true;
      chat.upsert(message);
      return;
    }
    var body = message.body;
    chat.api("POST", translationUrl(chat, message.id), { target: readerLanguage })
      .then(function (answer) {
        translations.set(message.id, { text: answer.text, body: body, showing: true });
        var latest = chat.message(message.id);
        if (latest) chat.upsert(latest);
      })
      .catch(function (error) { chat.showError(error); });
  }

  function showOriginal(message, chat) {
    var kept = current(message);
    if (kept) kept.showing = false;
    chat.upsert(message);
  }

  (window.MoimChatPlugins = window.MoimChatPlugins || []).push({
    render: function (node, message) { draw(node, message); },
    actions: function (message) {
      if (!message.translation || message.deleted) return [];
      var kept = current(message);
      if (kept && kept.showing) {
        return [{ label: t("Show original"), run: showOriginal }];
      }
      var source = message.translation.source_language;
      if (source && base(source) === base(readerLanguage)) return [];
      return [{ label: t("Translate"), ariaLabel: t("Translate this message"), run: translate }];
    },
  });
})();
