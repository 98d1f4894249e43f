/* Moim chat polls: draws a poll message's options and live tallies, votes and closes
 * through the polls API (docs/api.md, "Polls"), and adds "Poll" to the composer.
 *
 * A chat plugin (docs/frontend.md): render() draws into each poll message, the
 * poll.updated handler applies the room's live counts, composer opens the form.
 * Broadcast payloads carry "my_votes": null (the same for the whole room): the votes
 * this reader made are kept here from history and from the answers to their votes.
 * User text is only ever set with textContent.
 */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };
  var fmt = window.interpolate || function (s, args) {
    return s.replace(/%\((\w+)\)s/g, function (_m, key) { return args[key]; });
  };
  var ngettext = window.ngettext || function (one, many, count) { return count === 1 ? one : many; };
  var MAX_OPTIONS = 10;
  // poll id -> [option ids] this reader voted for
  var myVotes = {};

  function apiBase(chat) {
    // The history URL is /api/v1/rooms/<id>/messages/: the API's root is before "rooms/".
    return chat.config.historyUrl.replace(/rooms\/\d+\/messages\/?$/, "");
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clientId() {
    return "poll-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
  }

  function localTime(iso) {
    var zone = document.documentElement.getAttribute("data-time-zone");
    var options = { dateStyle: "medium", timeStyle: "short" };
    if (zone) options.timeZone = zone;
    try { return new Date(iso).toLocaleString(document.documentElement.lang || [], options); } catch (e) {
      return new Date(iso).toLocaleString();
    }
  }

  function isHostOrAuthor(message, chat) {
    var mine = message.author && message.author.membership_id === chat.config.me;
    return mine || !!chat.config.permissions.can_delete_any_message;
  }

  function remember(poll) {
    if (poll && poll.my_votes) myVotes[poll.id] = poll.my_votes.slice();
    return (poll && myVotes[poll.id]) || [];
  }

  function isClosed(poll) {
    return poll.closed || (poll.closes_at && new Date(poll.closes_at) <= new Date());
  }

  // Apply the server's answer (the poll part with my votes) to the message on screen.
  function applyPoll(chat, messageId, poll) {
    var message = chat.message(messageId);
    if (!message) return;
    remember(poll);
    chat.upsert(Object.assign({}, message, { poll: poll }));
  }

  function vote(chat, message, optionId) {
    var poll = message.poll;
    var chosen = remember(poll).slice();
    var at = chosen.indexOf(optionId);
    if (poll.multiple) {
      if (at >= 0) chosen.splice(at, 1); else chosen.push(optionId);
    } else {
      chosen = at >= 0 ? [] : [optionId];
    }
    chat.api("PUT", apiBase(chat) + "polls/" + poll.id + "/vote/", { options: chosen })
      .then(function (answer) { applyPoll(chat, message.id, answer); })
      .catch(chat.showError);
  }

  function closePoll(chat, message) {
    chat.api("POST", apiBase(chat) + "polls/" + message.poll.id + "/close/", {})
      .then(function (answer) { applyPoll(chat, message.id, answer); })
      .catch(chat.showError);
  }

  function showVoters(chat, message, box) {
    var list = box.querySelector(".poll-voters");
    if (list) { list.remove(); return; }
    chat.api("GET", apiBase(chat) + "polls/" + message.poll.id + "/voters/")
      .then(function (options) {
        var wrap = make("div", "poll-voters");
        options.forEach(function (option) {
          var row = make("p", "poll-voters-row");
          row.append(make("strong", "", option.text + ": "));
          var names = option.voters.map(function (voter) { return voter.nickname; });
          row.append(document.createTextNode(names.length ? names.join(", ") : t("No votes yet")));
          wrap.append(row);
        });
        box.append(wrap);
      })
      .catch(chat.showError);
  }

  function render(node, message, chat) {
    var old = node.querySelector(".poll");
    if (old) old.remove();
    if (message.kind !== "poll" || message.deleted || !message.poll) return;
    var poll = message.poll;
    var mine = remember(poll);
    var closed = isClosed(poll);
    var box = make("div", "poll" + (closed ? " is-closed" : ""));
    box.dataset.pollId = poll.id;
    var kinds = [poll.anonymous ? t("Anonymous poll") : t("Poll with names")];
    if (poll.multiple) kinds.push(t("Choose any"));
    if (closed) kinds.push(t("Closed"));
    box.append(make("p", "poll-kind", kinds.join(" · ")));
    var list = make("ul", "poll-options");
    poll.options.forEach(function (option) {
      var item = make("li", "poll-option");
      var button = make("button", "poll-choice");
      button.type = "button";
      button.dataset.optionId = option.id;
      var chosen = mine.indexOf(option.id) >= 0;
      button.setAttribute("aria-pressed", chosen ? "true" : "false");
      button.disabled = closed;
      button.append(make("span", "poll-choice-mark", chosen ? "✔" : ""));
      button.append(make("span", "poll-choice-text", option.text));
      button.append(make("span", "poll-choice-count", String(option.votes)));
      button.addEventListener("click", function () { vote(chat, chat.message(message.id) || message, option.id); });
      var bar = make("progress", "poll-bar");
      bar.max = Math.max(poll.total_voters, 1);
      bar.value = option.votes;
      bar.setAttribute("aria-hidden", "true");
      item.append(button, bar);
      list.append(item);
    });
    box.append(list);
    var foot = make("p", "poll-foot");
    foot.append(make("span", "poll-total", fmt(ngettext("%(count)s voter", "%(count)s voters", poll.total_voters),
      { count: poll.total_voters }, true)));
    if (poll.closes_at && !closed) {
      foot.append(make("span", "poll-closes", " · " + fmt(t("Closes %(time)s"), { time: localTime(poll.closes_at) }, true)));
    }
    box.append(foot);
    var actions = make("p", "poll-actions");
    if (!poll.anonymous) {
      var voters = make("button", "link-button", t("Who voted"));
      voters.type = "button";
      voters.addEventListener("click", function () { showVoters(chat, message, box); });
      actions.append(voters);
    }
    if (!closed && isHostOrAuthor(message, chat)) {
      var close = make("button", "link-button", t("Close poll"));
      close.type = "button";
      close.addEventListener("click", function () { closePoll(chat, chat.message(message.id) || message); });
      actions.append(close);
    }
    if (actions.childElementCount) box.append(actions);
    var body = node.querySelector(".chat-body");
    if (body) body.after(box); else node.append(box);
  }

  // poll.updated: the room's new counts (never who voted); my own votes stay as they are.
  function onPollUpdated(event, chat) {
    var message = chat.message(event.message_id);
    if (!message || !message.poll) return;
    var votes = {};
    event.tallies.forEach(function (tally) { votes[tally.option_id] = tally.votes; });
    var poll = Object.assign({}, message.poll, {
      total_voters: event.total_voters,
      closed: event.closed,
      my_votes: null,
      options: message.poll.options.map(function (option) {
        return Object.assign({}, option, { votes: votes[option.id] !== undefined ? votes[option.id] : option.votes });
      }),
    });
    chat.upsert(Object.assign({}, message, { poll: poll }));
  }

  // --- the composer's form ---------------------------------------------------------------

  function field(labelText, input) {
    var label = make("label", "poll-form-field");
    label.append(make("span", "", labelText), input);
    return label;
  }

  function optionInput(index) {
    var input = make("input", "poll-form-option");
    input.type = "text";
    input.maxLength = 100;
    input.required = index < 2;
    input.setAttribute("aria-label", fmt(t("Option %(number)s"), { number: index + 1 }, true));
    return input;
  }

  function openForm(chat) {
    var existing = chat.root.querySelector(".poll-dialog");
    if (existing) existing.remove();
    var dialog = make("dialog", "poll-dialog");
    dialog.setAttribute("aria-label", t("New poll"));
    var form = make("form", "poll-form");
    form.method = "dialog";
    form.append(make("h2", "", t("New poll")));
    var question = make("input", "poll-form-question");
    question.type = "text";
    question.required = true;
    question.maxLength = 300;
    form.append(field(t("Question"), question));
    var options = make("div", "poll-form-options");
    options.append(optionInput(0), optionInput(1));
    form.append(make("p", "poll-form-label", t("Options")), options);
    var add = make("button", "link-button", t("Add an option"));
    add.type = "button";
    add.addEventListener("click", function () {
      var count = options.querySelectorAll("input").length;
      if (count < MAX_OPTIONS) options.append(optionInput(count));
      add.hidden = count + 1 >= MAX_OPTIONS;
    });
    form.append(add);
    var multiple = make("input");
    multiple.type = "checkbox";
    multiple.name = "multiple";
    var anonymous = make("input");
    anonymous.type = "checkbox";
    anonymous.name = "anonymous";
    anonymous.checked = true;
    var checks = make("div", "poll-form-checks");
    checks.append(field(t("Allow several choices"), multiple), field(t("Anonymous (nobody sees who voted)"), anonymous));
    form.append(checks);
    var closes = make("input", "poll-form-closes");
    closes.type = "datetime-local";
    form.append(field(t("Closes at (optional)"), closes));
    var error = make("p", "poll-form-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    var buttons = make("p", "poll-form-buttons");
    var cancel = make("button", "button button-small button-secondary", t("Cancel"));
    cancel.type = "button";
    cancel.addEventListener("click", function () { dialog.close(); dialog.remove(); });
    var submit = make("button", "button button-small", t("Create poll"));
    submit.type = "submit";
    buttons.append(cancel, submit);
    form.append(error, buttons);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var texts = Array.prototype.map.call(options.querySelectorAll("input"), function (input) { return input.value.trim(); })
        .filter(function (text) { return text; });
      var body = {
        question: question.value, options: texts, multiple: multiple.checked,
        anonymous: anonymous.checked, client_id: clientId(),
      };
      if (closes.value) body.closes_at = new Date(closes.value).toISOString();
      submit.disabled = true;
      chat.api("POST", apiBase(chat) + "rooms/" + chat.config.roomId + "/polls/", body)
        .then(function (message) {
          remember(message.poll);
          chat.upsert(message);
          chat.jumpTo(message.id);
          dialog.close();
          dialog.remove();
        })
        .catch(function (problem) {
          submit.disabled = false;
          var details = problem.fields ? Object.keys(problem.fields).map(function (name) { return problem.fields[name].join(" "); }) : [];
          error.textContent = [problem.message].concat(details).join(" ");
          error.hidden = false;
        });
    });
    dialog.append(form);
    chat.root.append(dialog);
    dialog.showModal();
    question.focus();
  }

  var handlers = {
    "poll.updated": onPollUpdated,
  };

  (window.MoimChatPlugins = window.MoimChatPlugins || []).push({
    render: render,
    events: handlers,
    composer: [{ label: t("Poll"), run: openForm }],
  });
})();
