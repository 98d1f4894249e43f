/* Moim chat meetups: draws a meetup message's time (in the reader's zone, with the
 * creator's when it differs), place, link and answers; RSVPs through the meetups API
 * (docs/api.md, "Meetups"); lists the room's upcoming events above the chat; adds
 * "Event" to the composer.
 *
 * A chat plugin (docs/frontend.md). Broadcast payloads carry "my_rsvp": null (the same
 * for the whole room): this reader's answers are kept here from history and from the
 * answers to their RSVPs. User text is only ever set with textContent.
 */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };
  var fmt = window.interpolate || function (s, args) {
    return s.replace(/%\((\w+)\)s/g, function (_m, key) { return args[key]; });
  };
  // meetup id -> this reader's answer ("going", "maybe", "not_going", "waitlisted", "none")
  var myRsvps = {};
  var ANSWERS = [
    ["going", function () { return t("Going"); }],
    ["maybe", function () { return t("Maybe"); }],
    ["not_going", function () { return t("Not going"); }],
  ];

  function apiBase(chat) {
    return chat.config.historyUrl.replace(/rooms\/\d+\/messages\/?$/, "");
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function viewerZone() {
    return document.documentElement.getAttribute("data-time-zone")
      || (window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone) || "UTC";
  }

  function when(iso, zone) {
    var options = { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: zone };
    try { return new Date(iso).toLocaleString(document.documentElement.lang || [], options); } catch (e) {
      return new Date(iso).toLocaleString();
    }
  }

  // "Sat, May 9, 19:00" in my zone, and "(19:00 Asia/Seoul)" when the creator's differs.
  function timeText(meetup) {
    var mine = viewerZone();
    var text = when(meetup.starts_at, mine);
    if (meetup.ends_at) text += " – " + when(meetup.ends_at, mine);
    if (meetup.time_zone && meetup.time_zone !== mine) {
      text += " (" + when(meetup.starts_at, meetup.time_zone) + " " + meetup.time_zone + ")";
    }
    return text;
  }

  function remember(meetup) {
    if (meetup && meetup.my_rsvp) myRsvps[meetup.id] = meetup.my_rsvp;
    return (meetup && myRsvps[meetup.id]) || "none";
  }

  function countsText(meetup) {
    var counts = meetup.counts;
    var parts = [meetup.capacity
      ? fmt(t("%(going)s of %(capacity)s going"), { going: counts.going, capacity: meetup.capacity }, true)
      : fmt(t("%(going)s going"), { going: counts.going }, true)];
    if (counts.maybe) parts.push(fmt(t("%(count)s maybe"), { count: counts.maybe }, true));
    if (counts.waitlisted) parts.push(fmt(t("%(count)s on the waitlist"), { count: counts.waitlisted }, true));
    if (meetup.full) parts.push(t("Full"));
    return parts.join(" · ");
  }

  function answer(chat, messageId, meetup, status) {
    chat.api("PUT", apiBase(chat) + "meetups/" + meetup.id + "/rsvp/", { status: status })
      .then(function (listed) {
        remember(listed);
        if (listed.my_rsvp === "waitlisted") chat.showNotice(t("It is full: you are on the waitlist."));
        var message = chat.message(messageId);
        if (message) {
          var part = Object.assign({}, message.meetup, {
            counts: listed.counts, full: listed.full, my_rsvp: listed.my_rsvp,
          });
          chat.upsert(Object.assign({}, message, { meetup: part }));
        }
        refreshUpcoming(chat);
      })
      .catch(chat.showError);
  }

  function showAnswers(chat, meetup, box) {
    var list = box.querySelector(".meetup-answers");
    if (list) { list.remove(); return; }
    chat.api("GET", apiBase(chat) + "meetups/" + meetup.id + "/rsvp/")
      .then(function (answers) {
        var wrap = make("ul", "meetup-answers");
        var labels = { going: t("Going"), maybe: t("Maybe"), not_going: t("Not going"), waitlisted: t("Waitlisted") };
        answers.forEach(function (item) {
          wrap.append(make("li", "", item.nickname + " · " + labels[item.status]));
        });
        if (!answers.length) wrap.append(make("li", "", t("No answers yet")));
        box.append(wrap);
      })
      .catch(chat.showError);
  }

  function render(node, message, chat) {
    var old = node.querySelector(".meetup");
    if (old) old.remove();
    if (message.kind !== "meetup" || message.deleted || !message.meetup) return;
    var meetup = message.meetup;
    var mine = remember(meetup);
    var started = new Date(meetup.starts_at) <= new Date();
    var box = make("div", "meetup");
    box.dataset.meetupId = meetup.id;
    box.append(make("p", "meetup-kind", t("Event")));
    var time = make("time", "meetup-time", timeText(meetup));
    time.dateTime = meetup.starts_at;
    box.append(time);
    if (meetup.place) box.append(make("p", "meetup-place", meetup.place));
    if (meetup.link && /^https?:\/\//i.test(meetup.link)) {
      var link = make("a", "meetup-link", meetup.link);
      link.href = meetup.link;
      link.rel = "noopener noreferrer nofollow";
      link.target = "_blank";
      box.append(link);
    }
    box.append(make("p", "meetup-counts", countsText(meetup)));
    if (mine === "waitlisted") box.append(make("p", "meetup-mine", t("You are on the waitlist.")));
    var buttons = make("p", "meetup-rsvp");
    ANSWERS.forEach(function (pair) {
      var button = make("button", "button button-small button-secondary", pair[1]());
      button.type = "button";
      button.dataset.rsvp = pair[0];
      var pressed = mine === pair[0] || (pair[0] === "going" && mine === "waitlisted");
      button.setAttribute("aria-pressed", pressed ? "true" : "false");
      button.disabled = started;
      button.addEventListener("click", function () { answer(chat, message.id, meetup, pair[0]); });
      buttons.append(button);
    });
    box.append(buttons);
    var more = make("p", "meetup-more");
    var who = make("button", "link-button", t("Who is coming"));
    who.type = "button";
    who.addEventListener("click", function () { showAnswers(chat, meetup, box); });
    var calendar = make("a", "link-button", t("Add to calendar (.ics)"));
    calendar.href = apiBase(chat) + "meetups/" + meetup.id + ".ics";
    calendar.setAttribute("download", "meetup-" + meetup.id + ".ics");
    more.append(who, document.createTextNode(" "), calendar);
    box.append(more);
    var body = node.querySelector(".chat-body");
    if (body) body.after(box); else node.append(box);
  }

  // meetup.updated: the room's new counts; my own answer stays as it is.
  function onMeetupUpdated(event, chat) {
    var message = chat.message(event.message_id);
    if (message && message.meetup) {
      var part = Object.assign({}, message.meetup, { counts: event.counts, full: event.full, my_rsvp: null });
      chat.upsert(Object.assign({}, message, { meetup: part }));
    }
    refreshUpcoming(chat);
  }

  function onMessage(event, chat) {
    if (event.message && event.message.kind === "meetup") refreshUpcoming(chat);
  }

  // --- the room's upcoming events, above the chat -----------------------------------------

  var upcoming = null;

  function refreshUpcoming(chat) {
    if (!upcoming) return;
    chat.api("GET", apiBase(chat) + "rooms/" + chat.config.roomId + "/meetups/?upcoming=1")
      .then(function (meetups) { drawUpcoming(chat, meetups); })
      .catch(function () { /* the strip stays as it was; the messages show every event */ });
  }

  function drawUpcoming(chat, meetups) {
    var list = upcoming.querySelector("ul");
    list.replaceChildren();
    meetups.forEach(function (meetup) {
      remember(meetup);
      var item = make("li", "meetup-upcoming-item");
      var button = make("button", "link-button");
      button.type = "button";
      button.append(make("strong", "", meetup.title), document.createTextNode(" · " + when(meetup.starts_at, viewerZone())));
      button.addEventListener("click", function () {
        if (!chat.jumpTo(meetup.message_id)) chat.showNotice(t("Scroll up to see this event's message."));
      });
      item.append(button, make("span", "meetup-upcoming-counts", " " + countsText(meetup)));
      list.append(item);
    });
    upcoming.hidden = !meetups.length;
  }

  function attach(chat) {
    upcoming = make("section", "meetup-upcoming");
    upcoming.setAttribute("aria-label", t("Upcoming events"));
    upcoming.append(make("h2", "meetup-upcoming-title", t("Upcoming events")), make("ul"));
    upcoming.hidden = true;
    var log = chat.root.querySelector("[data-chat-log]");
    if (log) log.before(upcoming); else chat.root.prepend(upcoming);
    refreshUpcoming(chat);
  }

  // --- the composer's form -----------------------------------------------------------------

  function field(labelText, input) {
    var label = make("label", "meetup-form-field");
    label.append(make("span", "", labelText), input);
    return label;
  }

  function input(type, className, max) {
    var node = make("input", className);
    node.type = type;
    if (max) node.maxLength = max;
    return node;
  }

  function openForm(chat) {
    var existing = chat.root.querySelector(".meetup-dialog");
    if (existing) existing.remove();
    var dialog = make("dialog", "meetup-dialog");
    dialog.setAttribute("aria-label", t("New event"));
    var form = make("form", "meetup-form");
    form.append(make("h2", "", t("New event")));
    var title = input("text", "meetup-form-title", 200);
    title.required = true;
    var starts = input("datetime-local", "meetup-form-starts");
    starts.required = true;
    var ends = input("datetime-local", "meetup-form-ends");
    var zone = input("text", "meetup-form-zone", 64);
    zone.value = viewerZone();
    var place = input("text", "meetup-form-place", 200);
    var link = input("url", "meetup-form-link", 500);
    var capacity = input("number", "meetup-form-capacity");
    capacity.min = 1;
    capacity.max = 10000;
    form.append(
      field(t("Title"), title), field(t("Starts"), starts), field(t("Ends (optional)"), ends),
      field(t("Time zone"), zone), field(t("Place"), place), field(t("Link (optional)"), link),
      field(t("Capacity (optional)"), capacity)
    );
    var error = make("p", "meetup-form-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    var buttons = make("p", "meetup-form-buttons");
    var cancel = make("button", "button button-small button-secondary", t("Cancel"));
    cancel.type = "button";
    cancel.addEventListener("click", function () { dialog.close(); dialog.remove(); });
    var submit = make("button", "button button-small", t("Create event"));
    submit.type = "submit";
    buttons.append(cancel, submit);
    form.append(error, buttons);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      // Wall-clock times: the server reads them in the chosen time zone.
      var body = {
        title: title.value, starts_at: starts.value, time_zone: zone.value.trim(),
        place: place.value, link: link.value.trim(),
        client_id: "meetup-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10),
      };
      if (ends.value) body.ends_at = ends.value;
      if (capacity.value) body.capacity = Number(capacity.value);
      submit.disabled = true;
      chat.api("POST", apiBase(chat) + "rooms/" + chat.config.roomId + "/meetups/", body)
        .then(function (message) {
          remember(message.meetup);
          chat.upsert(message);
          chat.jumpTo(message.id);
          refreshUpcoming(chat);
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
    title.focus();
  }

  var handlers = {
    "meetup.updated": onMeetupUpdated,
    "message.created": onMessage,
    "message.deleted": function (_event, chat) { refreshUpcoming(chat); },
  };

  (window.MoimChatPlugins = window.MoimChatPlugins || []).push({
    attach: attach,
    render: render,
    events: handlers,
    composer: [{ label: t("Event"), run: openForm }],
  });
})();
