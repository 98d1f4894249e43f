/* Moim media in chat (docs/media.md, docs/frontend.md):
 *
 * - renderMedia(node, message): image and video messages, the blurred placeholder first,
 *   then the thumbnail; a click on an image opens the viewer.
 * - attach(chat): the composer. Photos and videos chosen with the photo button, pasted
 *   or dropped onto the chat open a preview sheet (thumbnails, a caption, remove, cancel)
 *   before anything is sent; Send uploads them one by one with a progress bar.
 * - The viewer: the image full size in a modal dialog (focus stays in it, Esc closes),
 *   with the previous and next images of the room loaded so far (arrow keys, buttons or
 *   a swipe) and a download link to the full-size rendition.
 *
 * chat.js calls MoimMedia.renderMedia(node, message) for every message it draws and
 * MoimMedia.attach({form, input, historyUrl, upsert, showError, newClientId, csrfToken})
 * once. Nothing here parses HTML: text is set with textContent.
 */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };
  var fmt = window.interpolate || function (s, args) {
    return s.replace(/%\((\w+)\)s/g, function (_m, key) { return args[key]; });
  };

  // The thumbnail that fits a chat bubble on a high-density screen.
  var PREFERRED_SIZE = "720";
  // Files sent from one preview sheet.
  var MAX_FILES = 10;
  // What the server accepts (docs/media.md); anything else is refused before uploading.
  var ACCEPTED_TYPE = /^(image\/(jpeg|png|gif|webp|avif|heic|heif)|video\/(mp4|webm|quicktime))$/;
  var ACCEPTED_NAME = /\.(jpe?g|png|gif|webp|avif|heic|heif|mp4|webm|mov)$/i;
  // A horizontal move of at least this many pixels is a swipe to the next image.
  var SWIPE_PX = 40;

  function thumbnail(media) {
    var sizes = media.thumbnails || {};
    return sizes[PREFERRED_SIZE] || sizes["1280"] || sizes["320"] || null;
  }

  function button(className, text, label) {
    var node = document.createElement("button");
    node.type = "button";
    node.className = className;
    node.textContent = text;
    if (label) node.setAttribute("aria-label", label);
    return node;
  }

  /* Tab and Shift+Tab cycle inside an open modal dialog: the page behind is inert, but
   * without this the focus would leave for the browser's own controls. */
  function trapFocus(dialog) {
    dialog.addEventListener("keydown", function (event) {
      if (event.key !== "Tab") return;
      var focusable = Array.prototype.filter.call(
        dialog.querySelectorAll("a[href], button, textarea, input, video[controls]"),
        function (node) { return !node.disabled && !node.hidden && node.getClientRects().length; }
      );
      if (!focusable.length) return;
      var first = focusable[0];
      var last = focusable[focusable.length - 1];
      if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
        event.preventDefault();
        first.focus();
      }
    });
  }

  // --- messages -----------------------------------------------------------------------

  // figure -> {url, caption, mediaId, opener}: what the viewer shows for each image.
  var viewable = new WeakMap();

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
      link.className = "media-open";
      link.setAttribute("aria-label", t("Open the image"));
      var img = document.createElement("img");
      img.loading = "lazy";
      img.decoding = "async";
      img.alt = message.body || t("Image");
      if (best) { img.src = best.url; img.width = best.width; img.height = best.height; }
      img.addEventListener("load", function () { figure.classList.add("is-loaded"); });
      link.appendChild(img);
      figure.appendChild(link);
      viewable.set(figure, { url: media.url, caption: message.body || "", mediaId: media.id, opener: link });
      link.addEventListener("click", function (event) {
        // A new tab when asked for one (middle click, Ctrl/Cmd/Shift-click).
        if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        openViewer(figure);
      });
    }
    var body = node.querySelector(".chat-body");
    if (body) body.before(figure); else node.appendChild(figure);
  }

  // --- the viewer ---------------------------------------------------------------------

  var viewer = null;

  function roomImages() {
    // In the order they are on screen: the room's images loaded so far, oldest first.
    return Array.prototype.filter.call(
      document.querySelectorAll("figure.media-image.media-ready"),
      function (figure) { return viewable.has(figure) && figure.isConnected; }
    );
  }

  function buildViewer() {
    var dialog = document.createElement("dialog");
    dialog.className = "media-viewer";
    dialog.setAttribute("aria-label", t("Image viewer"));
    var bar = document.createElement("div");
    bar.className = "media-viewer-bar";
    var counter = document.createElement("span");
    counter.className = "media-viewer-counter";
    counter.setAttribute("aria-live", "polite");
    var download = document.createElement("a");
    download.className = "media-viewer-download";
    download.textContent = t("Download");
    var close = button("media-viewer-close", "×", t("Close"));
    bar.append(counter, download, close);
    var stage = document.createElement("div");
    stage.className = "media-viewer-stage";
    var img = document.createElement("img");
    img.className = "media-viewer-image";
    img.alt = "";
    img.draggable = false;
    var previous = button("media-viewer-nav media-viewer-previous", "‹", t("Previous image"));
    var next = button("media-viewer-nav media-viewer-next", "›", t("Next image"));
    stage.append(previous, img, next);
    var caption = document.createElement("p");
    caption.className = "media-viewer-caption";
    caption.dir = "auto";
    dialog.append(bar, stage, caption);
    document.body.append(dialog);
    trapFocus(dialog);

    var state = { items: [], index: 0, startX: null, startY: null, opener: null };

    function show(index) {
      if (!state.items.length) return;
      state.index = Math.max(0, Math.min(index, state.items.length - 1));
      var item = viewable.get(state.items[state.index]);
      img.src = item.url;
      img.alt = item.caption || t("Image");
      caption.textContent = item.caption;
      caption.hidden = !item.caption;
      download.href = item.url;
      download.setAttribute("download", "moim-" + item.mediaId + ".webp");
      counter.textContent = fmt(t("%(index)s of %(total)s"), { index: state.index + 1, total: state.items.length }, true);
      var focused = document.activeElement;
      previous.disabled = state.index === 0;
      next.disabled = state.index === state.items.length - 1;
      // A button that just became disabled would drop the focus out of the dialog.
      if (focused === previous && previous.disabled) (next.disabled ? close : next).focus();
      if (focused === next && next.disabled) (previous.disabled ? close : previous).focus();
    }

    previous.addEventListener("click", function () { show(state.index - 1); });
    next.addEventListener("click", function () { show(state.index + 1); });
    close.addEventListener("click", function () { dialog.close(); });
    // On the document: the arrows work wherever the focus is while the viewer is open.
    document.addEventListener("keydown", function (event) {
      if (!dialog.open) return;
      if (event.key === "ArrowLeft") { event.preventDefault(); show(state.index - 1); }
      if (event.key === "ArrowRight") { event.preventDefault(); show(state.index + 1); }
    });
    // A click on the dark area around the image closes it, as in every messenger.
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog || event.target === stage) dialog.close();
    });
    stage.addEventListener("pointerdown", function (event) {
      state.startX = event.clientX;
      state.startY = event.clientY;
    });
    stage.addEventListener("pointerup", function (event) {
      if (state.startX === null) return;
      var dx = event.clientX - state.startX;
      var dy = event.clientY - state.startY;
      state.startX = null;
      if (Math.abs(dx) < SWIPE_PX || Math.abs(dx) < Math.abs(dy)) return;
      show(state.index + (dx < 0 ? 1 : -1));
    });
    stage.addEventListener("pointercancel", function () { state.startX = null; });
    dialog.addEventListener("close", function () {
      img.removeAttribute("src");
      document.documentElement.classList.remove("has-media-viewer");
      if (state.opener && state.opener.isConnected) state.opener.focus();
    });

    return {
      open: function (figure) {
        state.items = roomImages();
        state.opener = viewable.get(figure).opener;
        show(Math.max(0, state.items.indexOf(figure)));
        document.documentElement.classList.add("has-media-viewer");
        dialog.showModal();
        close.focus();
      },
    };
  }

  function openViewer(figure) {
    viewer = viewer || buildViewer();
    viewer.open(figure);
  }

  // --- the composer: preview sheet, caption, upload -------------------------------------

  function isAccepted(file) {
    return ACCEPTED_TYPE.test(file.type || "") || (!file.type && ACCEPTED_NAME.test(file.name || ""));
  }

  function sizeText(bytes) {
    if (bytes >= 1024 * 1024) return (bytes / 1024 / 1024).toFixed(1) + " MB";
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function upload(chat, item, caption, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      item.request = xhr;
      xhr.open("POST", chat.historyUrl);
      xhr.withCredentials = true;
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", chat.csrfToken());
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      xhr.addEventListener("load", function () {
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (_e) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300 && data) { resolve(data); return; }
        var error = (data && data.error) || { message: t("The upload failed.") };
        error.retry_after = Number(xhr.getResponseHeader("Retry-After")) || undefined;
        reject(error);
      });
      xhr.addEventListener("error", function () {
        reject({ message: t("The upload failed. Check your connection and try again.") });
      });
      xhr.addEventListener("abort", function () { reject({ aborted: true }); });
      var data = new FormData();
      data.append("file", item.file, item.file.name || "upload");
      data.append("body", caption);
      // The same id on a retry: the server stores the message once.
      data.append("client_id", item.clientId);
      xhr.send(data);
    });
  }

  function buildSheet(chat) {
    var dialog = document.createElement("dialog");
    dialog.className = "media-compose";
    dialog.setAttribute("aria-labelledby", "media-compose-title");
    var form = document.createElement("form");
    form.className = "media-compose-form";
    var title = document.createElement("h2");
    title.id = "media-compose-title";
    title.className = "media-compose-title";
    var list = document.createElement("ul");
    list.className = "media-compose-list";
    var label = document.createElement("label");
    label.className = "media-compose-label";
    label.htmlFor = "media-compose-caption";
    label.textContent = t("Caption");
    var caption = document.createElement("textarea");
    caption.id = "media-compose-caption";
    caption.className = "media-compose-caption";
    caption.rows = 2;
    caption.dir = "auto";
    caption.maxLength = chat.input.maxLength > 0 ? chat.input.maxLength : 4000;
    caption.placeholder = t("Add a caption (optional)");
    var progress = document.createElement("progress");
    progress.className = "media-compose-progress";
    progress.max = 100;
    progress.value = 0;
    progress.hidden = true;
    progress.setAttribute("aria-label", t("Upload progress"));
    var status = document.createElement("p");
    status.className = "media-compose-status";
    status.setAttribute("role", "status");
    var error = document.createElement("p");
    error.className = "media-compose-error";
    error.setAttribute("role", "alert");
    error.hidden = true;
    var actions = document.createElement("div");
    actions.className = "media-compose-actions";
    var cancel = button("button button-secondary media-compose-cancel", t("Cancel"));
    var send = document.createElement("button");
    send.type = "submit";
    send.className = "button media-compose-send";
    actions.append(cancel, send);
    form.append(title, list, label, caption, progress, status, error, actions);
    dialog.append(form);
    chat.form.after(dialog);
    trapFocus(dialog);

    var state = { items: [], sending: false, current: null };

    function renderList() {
      list.replaceChildren();
      state.items.forEach(function (item) {
        var entry = document.createElement("li");
        entry.className = "media-compose-item";
        var preview;
        if (item.file.type.indexOf("video/") === 0) {
          preview = document.createElement("video");
          preview.muted = true;
          preview.playsInline = true;
          preview.preload = "metadata";
        } else {
          preview = document.createElement("img");
          preview.alt = item.file.name || t("Image");
          // Formats this browser cannot draw (HEIC) still go: the server converts them.
          preview.addEventListener("error", function () { entry.classList.add("is-unpreviewable"); });
        }
        preview.className = "media-compose-thumb";
        preview.src = item.url;
        var name = document.createElement("span");
        name.className = "media-compose-name";
        name.textContent = (item.file.name || t("Image")) + " · " + sizeText(item.file.size);
        var remove = button("media-compose-remove", "×", fmt(t("Remove %(name)s"), { name: item.file.name || t("Image") }, true));
        remove.disabled = state.sending;
        remove.addEventListener("click", function () { drop(item); });
        entry.append(preview, name, remove);
        list.append(entry);
      });
      var count = state.items.length;
      title.textContent = count === 1
        ? (state.items[0].file.type.indexOf("video/") === 0 ? t("Send a video") : t("Send a photo"))
        : fmt(t("Send %(count)s photos and videos"), { count: count }, true);
      send.textContent = t("Send");
      send.disabled = state.sending || !count;
    }

    function drop(item) {
      URL.revokeObjectURL(item.url);
      state.items = state.items.filter(function (other) { return other !== item; });
      if (!state.items.length) { close(false); return; }
      renderList();
    }

    function showError(err) {
      var text = (err && err.message) || t("The upload failed.");
      if (err && err.retry_after) text += " " + fmt(t("Try again in %(seconds)s s."), { seconds: err.retry_after }, true);
      error.textContent = text;
      error.hidden = false;
    }

    function close(sent) {
      if (state.current) state.current.abort();
      state.items.forEach(function (item) { URL.revokeObjectURL(item.url); });
      state.items = [];
      // A caption that was not sent goes back to the message box.
      if (!sent && caption.value.trim() && !chat.input.value.trim()) chat.input.value = caption.value;
      caption.value = "";
      if (dialog.open) dialog.close();
      chat.input.focus();
    }

    function stage(files) {
      var accepted = files.filter(isAccepted);
      if (accepted.length < files.length) chat.showError({ message: t("Only photos and videos can be sent here.") });
      if (!accepted.length) return;
      if (state.sending) return;
      var room = MAX_FILES - state.items.length;
      if (accepted.length > room) {
        chat.showError({ message: fmt(t("At most %(count)s files at a time."), { count: MAX_FILES }, true) });
        accepted = accepted.slice(0, Math.max(0, room));
      }
      accepted.forEach(function (file) {
        state.items.push({ file: file, url: URL.createObjectURL(file), clientId: chat.newClientId() });
      });
      if (!dialog.open) {
        // What was typed becomes the caption.
        caption.value = chat.input.value.trim();
        chat.input.value = "";
        error.hidden = true;
        status.textContent = "";
        progress.hidden = true;
        dialog.showModal();
        caption.focus();
      }
      renderList();
    }

    function sendAll() {
      if (state.sending || !state.items.length) return;
      state.sending = true;
      error.hidden = true;
      progress.hidden = false;
      renderList();
      var total = state.items.reduce(function (sum, item) { return sum + item.file.size; }, 0) || 1;
      var done = 0;
      var text = caption.value.trim();
      function nextUpload() {
        var item = state.items[0];
        if (!item) {
          state.sending = false;
          close(true);
          return;
        }
        status.textContent = fmt(t("Sending %(name)s…"), { name: item.file.name || t("Image") }, true);
        var request = upload(chat, item, text, function (fraction) {
          progress.value = Math.round(100 * (done + fraction * item.file.size) / total);
        });
        state.current = item.request;  // set by upload(), for Cancel to abort
        request.then(function (payload) {
          done += item.file.size;
          progress.value = Math.round(100 * done / total);
          chat.upsert(payload);
          URL.revokeObjectURL(item.url);
          state.items.shift();
          text = "";  // the caption goes with the first file
          caption.value = "";
          state.current = null;
          nextUpload();
        }, function (err) {
          state.current = null;
          state.sending = false;
          progress.hidden = true;
          status.textContent = "";
          if (err && err.aborted) return;
          // What was not sent stays in the sheet: send again, remove it, or cancel.
          caption.value = text;
          renderList();
          showError(err);
        });
      }
      nextUpload();
    }

    form.addEventListener("submit", function (event) { event.preventDefault(); sendAll(); });
    caption.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); sendAll(); }
    });
    cancel.addEventListener("click", function () { close(false); });
    // Esc: the dialog's own cancel, cleaned up like the button.
    dialog.addEventListener("cancel", function (event) { event.preventDefault(); close(false); });
    // Pasting more pictures into the caption adds them.
    caption.addEventListener("paste", function (event) { pasteFiles(event, stage); });

    return { stage: stage };
  }

  function filesOf(transfer) {
    if (!transfer) return [];
    var files = Array.prototype.slice.call(transfer.files || []);
    if (!files.length && transfer.items) {
      Array.prototype.forEach.call(transfer.items, function (entry) {
        if (entry.kind === "file") { var file = entry.getAsFile(); if (file) files.push(file); }
      });
    }
    return files;
  }

  function pasteFiles(event, stage) {
    var files = filesOf(event.clipboardData);
    if (!files.length) return;  // plain text pastes as usual
    event.preventDefault();
    stage(files);
  }

  function hasFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
  }

  /* chat: {form, input, historyUrl, csrfToken, newClientId, upsert, showError} */
  function attach(chat) {
    var picker = chat.form.querySelector("[data-media-input]");
    var pick = chat.form.querySelector("[data-media-button]");
    if (!picker || !pick) return;
    var sheet = buildSheet(chat);
    picker.multiple = true;
    pick.addEventListener("click", function () { picker.click(); });
    picker.addEventListener("change", function () {
      var files = Array.prototype.slice.call(picker.files || []);
      picker.value = "";
      if (files.length) sheet.stage(files);
    });
    chat.input.addEventListener("paste", function (event) { pasteFiles(event, sheet.stage); });

    // Drop photos anywhere on the chat.
    var zone = chat.form.closest(".chat") || chat.form.parentElement;
    var depth = 0;
    zone.addEventListener("dragenter", function (event) {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth += 1;
      zone.classList.add("is-drop-target");
    });
    zone.addEventListener("dragover", function (event) {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (!depth) zone.classList.remove("is-drop-target");
    });
    zone.addEventListener("drop", function (event) {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      zone.classList.remove("is-drop-target");
      sheet.stage(filesOf(event.dataTransfer));
    });
  }

  window.MoimMedia = { renderMedia: renderMedia, attach: attach };
})();
