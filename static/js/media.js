/* Moim media in chat: image/video messages (placeholder first, then the thumbnail) and
 * the attach button. chat.js calls MoimMedia.renderMedia(node, message) for every message
 * it draws and MoimMedia.attach(chat) once; nothing here parses HTML.
 */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };
  var fmt = window.interpolate || function (s, args) {
    return s.replace(/%\((\w+)\)s/g, function (_m, key) { return args[key]; });
  };

  // The thumbnail that fits a chat bubble on a high-density screen.
  var PREFERRED_SIZE = "720";

  function thumbnail(media) {
    var sizes = media.thumbnails || {};
    return sizes[PREFERRED_SIZE] || sizes["1280"] || sizes["320"] || null;
  }

  function renderMedia(node, message) {
    var media = message.media;
    if (!media || message.deleted) return;
    var figure = document.createElement("figure");
    figure.className = "media media-" + media.kind + " media-" + media.state;
    if (media.width && media.height) {
      figure.style.aspectRatio = media.width + " / " + media.height;
    }
    if (media.placeholder) {
      // A 16-pixel preview, blurred by CSS, until the real image has loaded.
      figure.style.backgroundImage = "url(\"" + media.placeholder.replace(/"/g, "") + "\")";
    }
    if (media.state === "failed") {
      var failed = document.createElement("figcaption");
      failed.className = "media-failed";
      failed.textContent = fmt(t("This file could not be processed: %(reason)s"), { reason: media.failure_reason }, true);
      figure.appendChild(failed);
    } else if (media.state !== "ready") {
      var waiting = document.createElement("figcaption");
      waiting.className = "media-processing";
      waiting.textContent = t("Processing…");
      figure.appendChild(waiting);
    } else if (media.kind === "video") {
      var video = document.createElement("video");
      video.controls = true;
      video.preload = "none";
      video.src = media.url;
      var poster = thumbnail(media);
      if (poster) video.poster = poster.url;
      figure.appendChild(video);
    } else {
      var best = thumbnail(media);
      var link = document.createElement("a");
      link.href = media.url;
      link.target = "_blank";
      link.rel = "noopener";
      var img = document.createElement("img");
      img.loading = "lazy";
      img.decoding = "async";
      img.alt = message.body || t("Image");
      if (best) { img.src = best.url; img.width = best.width; img.height = best.height; }
      img.addEventListener("load", function () { figure.classList.add("is-loaded"); });
      link.appendChild(img);
      figure.appendChild(link);
    }
    var body = node.querySelector(".chat-body");
    if (body) body.before(figure); else node.appendChild(figure);
  }

  /* chat: {form, input, historyUrl, csrfToken, newClientId, upsert, showError} */
  function attach(chat) {
    var picker = chat.form.querySelector("[data-media-input]");
    var button = chat.form.querySelector("[data-media-button]");
    if (!picker || !button) return;
    button.addEventListener("click", function () { picker.click(); });
    picker.addEventListener("change", function () {
      var file = picker.files && picker.files[0];
      if (!file) return;
      var data = new FormData();
      data.append("file", file);
      data.append("body", chat.input.value.trim());
      data.append("client_id", chat.newClientId());
      button.disabled = true;
      fetch(chat.historyUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": chat.csrfToken() },
        body: data,
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (payload) {
          if (!response.ok) throw (payload && payload.error) || { message: t("The upload failed.") };
          chat.input.value = "";
          chat.upsert(payload);
        });
      }).catch(chat.showError).finally(function () {
        button.disabled = false;
        picker.value = "";
      });
    });
  }

  window.MoimMedia = { renderMedia: renderMedia, attach: attach };
})();
