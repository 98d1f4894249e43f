// Tips in the chat (a chat plugin, docs/frontend.md): "Tip <nickname>" on other members'
// messages opens a sheet naming them by their room nickname, with one-tap amounts in my
// currency, a custom amount, an optional note, then a confirm step with the platform fee
// and what they receive (GET /api/v1/tips/quote/) before POST /api/v1/tips/ (one
// Idempotency-Key per sheet: a double tap or a retry pays once). A tip then shows in the
// chat as a `tip` message: "Haruto tipped Minji ₩1,000", which anyone can react to.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var urls = {
    quote: script.dataset.quoteUrl,
    tip: script.dataset.tipUrl,
    topup: script.dataset.topupUrl,
  };
  var t = window.gettext || function (s) { return s; };
  var fmt = function (text, args) {
    return window.interpolate ? window.interpolate(text, args, true)
      : text.replace(/%\((\w+)\)s/g, function (_m, key) { return args[key]; });
  };
  var lang = document.documentElement.lang || undefined;

  // Minor units as people read them, in the page's language: ₩1,000, $4.99, ￥500.
  function money(amount, currency, exponent) {
    try {
      return new Intl.NumberFormat(lang, {
        style: "currency", currency: currency,
        minimumFractionDigits: exponent, maximumFractionDigits: exponent,
      }).format(amount / Math.pow(10, exponent));
    } catch (_e) {
      return (amount / Math.pow(10, exponent)).toFixed(exponent) + " " + currency;
    }
  }

  // What a person typed in major units ("1,000", "4.99", "₩5000") as minor units, or
  // null when it is not an amount this currency can hold.
  function parseAmount(text, exponent) {
    var raw = String(text || "").replace(/[\s,₩$¥￥€]/g, "").replace(/[A-Za-z]/g, "");
    if (!/^\d+(\.\d+)?$/.test(raw)) return null;
    var parts = raw.split(".");
    var decimals = parts[1] || "";
    if (decimals.length > exponent) return null;
    while (decimals.length < exponent) decimals += "0";
    var minor = Number(parts[0] + decimals);
    return minor > 0 && Number.isSafeInteger(minor) ? minor : null;
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function request(method, url, body, headers) {
    var all = Object.assign({ "Accept": "application/json", "X-CSRFToken": csrfToken() }, headers || {});
    if (body !== undefined) all["Content-Type"] = "application/json";
    return fetch(url, {
      method: method, headers: all, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw (data && data.error) || { message: t("Something went wrong.") };
        return data;
      });
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- the sheet ------------------------------------------------------------------------

  var sheet = null;

  function buildSheet() {
    var dialog = el("dialog", "tip-sheet");
    dialog.setAttribute("aria-labelledby", "tip-sheet-title");
    var form = el("form", "tip-sheet-form");
    form.method = "dialog";
    form.noValidate = true;
    var title = el("h2", "tip-sheet-title");
    title.id = "tip-sheet-title";
    title.dir = "auto";
    // Step 1: the amount and the note.
    var choose = el("div", "tip-sheet-step");
    var presets = el("div", "tip-presets");
    presets.setAttribute("role", "group");
    presets.setAttribute("aria-label", t("Amount"));
    var amountLabel = el("label", "tip-field");
    amountLabel.append(el("span", "", t("Other amount")));
    var amount = el("input", "tip-amount");
    amount.type = "text";
    amount.inputMode = "decimal";
    amount.autocomplete = "off";
    amount.name = "amount";
    amountLabel.append(amount);
    var noteLabel = el("label", "tip-field");
    noteLabel.append(el("span", "", t("Note (optional)")));
    var note = el("input", "tip-note");
    note.type = "text";
    note.maxLength = 140;
    note.dir = "auto";
    note.name = "note";
    noteLabel.append(note);
    var noteHelp = el("small", "help", t("Shown with your tip in the chat."));
    var balance = el("p", "tip-balance muted");
    var review = el("button", "button tip-review", t("Review tip"));
    review.type = "submit";
    choose.append(presets, amountLabel, noteLabel, noteHelp, balance);
    // Step 2: the confirm step.
    var confirm = el("div", "tip-sheet-step");
    confirm.hidden = true;
    var summary = el("dl", "tip-summary");
    var short = el("p", "notice tip-short");
    short.hidden = true;
    var topup = el("a", "button tip-topup", t("Top up"));
    topup.hidden = true;
    var send = el("button", "button tip-send");
    send.type = "submit";
    var back = el("button", "button button-secondary tip-back", t("Change"));
    back.type = "button";
    confirm.append(summary, short, topup, send, back);
    var error = el("p", "field-error tip-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    var close = el("button", "link-button tip-close", t("Close"));
    close.type = "button";
    var actions = el("div", "tip-sheet-actions");
    actions.append(review);
    choose.append(actions);
    form.append(title, choose, confirm, error, close);
    dialog.append(form);
    document.body.append(dialog);
    var parts = {
      dialog: dialog, form: form, title: title, choose: choose, presets: presets, amount: amount,
      note: note, balance: balance, review: review, confirm: confirm, summary: summary,
      short: short, topup: topup, send: send, back: back, error: error, close: close,
    };
    close.addEventListener("click", function () { dialog.close(); });
    back.addEventListener("click", function () { showStep(parts, "choose"); });
    amount.addEventListener("input", function () {
      parts.presets.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!parts.confirm.hidden) sendTip(parts); else reviewTip(parts);
    });
    return parts;
  }

  function showStep(parts, step) {
    parts.choose.hidden = step !== "choose";
    parts.confirm.hidden = step !== "confirm";
    parts.error.hidden = true;
    (step === "choose" ? parts.amount : parts.send).focus();
  }

  function showSheetError(parts, error) {
    parts.error.textContent = (error && error.message) || t("Something went wrong.");
    parts.error.hidden = false;
  }

  function summaryRow(list, label, value) {
    list.append(el("dt", "", label));
    var dd = el("dd", "", value);
    dd.dir = "auto";
    list.append(dd);
  }

  function openSheet(target, chat) {
    sheet = sheet || buildSheet();
    var parts = sheet;
    // One key per sheet: a retry or a double tap of "Send" pays once.
    parts.state = { target: target, key: newKey(), chat: chat, info: null, amount: null };
    parts.title.textContent = fmt(t("Tip %(name)s"), { name: target.nickname });
    parts.amount.value = "";
    parts.note.value = "";
    parts.presets.replaceChildren();
    parts.balance.textContent = "";
    showStep(parts, "choose");
    if (!parts.dialog.open) parts.dialog.showModal();
    var query = target.messageId ? "message=" + target.messageId : "membership=" + target.membershipId;
    // "Review" before this answers waits for it (a fast tap on a slow connection).
    var state = parts.state;
    state.ready = request("GET", urls.quote + "?" + query).then(function (info) {
      state.info = info;
      if (parts.state !== state) return;  // the sheet was opened again for someone else
      // The server names them as the room does (their nickname now).
      parts.title.textContent = fmt(t("Tip %(name)s"), { name: info.recipient.name });
      info.presets.forEach(function (preset) {
        var button = el("button", "button button-secondary tip-preset", preset.display);
        button.type = "button";
        button.setAttribute("aria-pressed", "false");
        button.addEventListener("click", function () {
          parts.presets.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
          button.setAttribute("aria-pressed", "true");
          parts.amount.value = preset.input;
        });
        parts.presets.append(button);
      });
      parts.balance.textContent = fmt(t("Your wallet: %(amount)s"), { amount: info.balance.display });
    });
    state.ready.catch(function (error) {
      if (parts.state === state) showSheetError(parts, error);
    });
  }

  function reviewTip(parts) {
    var state = parts.state;
    state.ready.then(function () {
      if (parts.state === state) reviewLoaded(parts);
    }, function () { /* shown when it failed */ });
  }

  function reviewLoaded(parts) {
    var info = parts.state.info;
    var amount = parseAmount(parts.amount.value, info.exponent);
    if (amount === null) {
      showSheetError(parts, { message: t("Choose an amount or type one.") });
      parts.amount.focus();
      return;
    }
    parts.state.amount = amount;
    var target = parts.state.target;
    var query = (target.messageId ? "message=" + target.messageId : "membership=" + target.membershipId)
      + "&amount=" + amount + "&currency=" + encodeURIComponent(info.currency);
    request("GET", urls.quote + "?" + query).then(function (fresh) {
      var quote = fresh.quote;
      parts.summary.replaceChildren();
      summaryRow(parts.summary, t("To"), fresh.recipient.name);
      summaryRow(parts.summary, t("You pay"), quote.amount.display);
      summaryRow(parts.summary, t("Platform fee"), quote.fee.display);
      summaryRow(parts.summary, t("They receive"), quote.net.display);
      if (parts.note.value.trim()) summaryRow(parts.summary, t("Note"), parts.note.value.trim());
      parts.short.hidden = quote.enough;
      parts.topup.hidden = quote.enough;
      parts.send.hidden = !quote.enough;
      parts.send.disabled = false;
      if (!quote.enough) {
        parts.short.textContent = fmt(t("Your wallet has %(balance)s: %(missing)s short."),
          { balance: fresh.balance.display, missing: quote.shortfall.display });
        var missing = quote.shortfall.amount / Math.pow(10, fresh.exponent);
        parts.topup.textContent = fmt(t("Top up %(amount)s"), { amount: quote.shortfall.display });
        parts.topup.href = urls.topup + "?" + new URLSearchParams({
          amount: missing.toFixed(fresh.exponent), currency: fresh.currency,
          next: window.location.pathname,
        }).toString();
      }
      parts.send.textContent = fmt(t("Send %(amount)s"), { amount: quote.amount.display });
      showStep(parts, "confirm");
    }).catch(function (error) { showSheetError(parts, error); });
  }

  function sendTip(parts) {
    var state = parts.state;
    var target = state.target;
    var body = { amount: state.amount, currency: state.info.currency, note: parts.note.value.trim() };
    if (target.messageId) body.message = target.messageId; else body.membership = target.membershipId;
    parts.send.disabled = true;
    request("POST", urls.tip, body, { "Idempotency-Key": state.key }).then(function (tip) {
      parts.dialog.close();
      state.chat && state.chat.showNotice(fmt(t("You tipped %(name)s %(amount)s."), {
        name: tip.recipient.name, amount: money(tip.amount, tip.currency, state.info.exponent),
      }));
    }).catch(function (error) {
      parts.send.disabled = false;
      // A refused tip is stored as refused under this key: the next try is a new request.
      state.key = newKey();
      showSheetError(parts, error);
    });
  }

  // --- the plugin -----------------------------------------------------------------------

  // "Haruto tipped Minji ₩1,000" above the note of a `tip` message.
  function renderTip(node, message) {
    var old = node.querySelector(".chat-tip-event");
    if (old) old.remove();
    if (message.kind !== "tip" || !message.tip || message.deleted) return;
    node.classList.add("is-tip");
    var tip = message.tip;
    var line = el("p", "chat-tip-event");
    line.dir = "auto";
    var text = tip.recipient
      ? fmt(t("%(tipper)s tipped %(recipient)s %(amount)s"), {
        tipper: message.author ? message.author.nickname : "",
        recipient: tip.recipient.nickname,
        amount: money(tip.amount, tip.currency, tip.exponent),
      })
      : fmt(t("%(tipper)s sent a tip of %(amount)s"), {
        tipper: message.author ? message.author.nickname : "",
        amount: money(tip.amount, tip.currency, tip.exponent),
      });
    line.textContent = text;
    if (tip.refunded) line.append(" ", el("span", "badge", t("Refunded")));
    var body = node.querySelector(".chat-body");
    if (body) body.before(line); else node.prepend(line);
  }

  (window.MoimChatPlugins = window.MoimChatPlugins || []).push({
    render: renderTip,
    actions: function (message, chat) {
      var author = message.author;
      if (!author || author.membership_id === chat.config.me || message.kind === "system" || message.collapsed) return [];
      return [{
        label: fmt(t("Tip %(name)s"), { name: author.nickname }),
        ariaLabel: fmt(t("Send %(name)s a tip"), { name: author.nickname }),
        run: function (msg, chatSurface) {
          openSheet({ messageId: msg.id, membershipId: author.membership_id, nickname: author.nickname }, chatSurface);
        },
      }];
    },
  });
})();
