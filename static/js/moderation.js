/* Moderation additions to the room chat: a "Report" link on other people's messages.
   Text only (textContent); the report form is a plain page. */
(function () {
  "use strict";
  var script = document.currentScript;
  var list = document.querySelector("[data-chat-messages]");
  if (!script || !list) return;
  var template = script.dataset.reportUrl || "";
  var t = window.gettext || function (text) { return text; };

  function decorate(node) {
    if (node.nodeType !== 1 || !node.classList.contains("chat-message")) return;
    if (node.classList.contains("is-mine") || node.dataset.reportLink) return;
    var id = Number(node.dataset.id);
    var actions = node.querySelector(".chat-actions");
    if (!id || !actions) return;
    node.dataset.reportLink = "1";
    var link = document.createElement("a");
    link.className = "chat-report";
    link.href = template.replace("/0/", "/" + id + "/");
    link.textContent = t("Report");
    // An item of the message's action menu, named after the message's author.
    link.setAttribute("role", "menuitem");
    var author = node.querySelector(".chat-author");
    if (author && author.textContent && window.interpolate) {
      link.setAttribute("aria-label", window.interpolate(t("Report the message from %(name)s"), { name: author.textContent }, true));
    }
    actions.appendChild(link);
  }

  Array.prototype.forEach.call(list.children, decorate);
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      Array.prototype.forEach.call(record.addedNodes, decorate);
    });
  }).observe(list, { childList: true });
})();
