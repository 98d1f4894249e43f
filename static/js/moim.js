/* Moim: small behaviours shared by every page (no user text is handled here). */
(function () {
  "use strict";

  // Selects marked data-autosubmit (the language switcher) submit their form on change.
  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) select.form.requestSubmit();
  });

  // A profile's background picture, set through the CSSOM: the Content-Security-Policy
  // allows no inline style attributes. The URL is the server's own media link.
  document.querySelectorAll("[data-background]").forEach(function (element) {
    var url = element.dataset.background.replace(/["\\\n]/g, "");
    element.style.setProperty("--profile-bg", 'url("' + url + '")');
  });

  // Disclosure menus (<details class="account-menu">) close on Escape and outside clicks.
  function closeMenus(except) {
    document.querySelectorAll("details.account-menu[open]").forEach(function (menu) {
      if (menu !== except) menu.open = false;
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest("details.account-menu"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var menu = document.activeElement && document.activeElement.closest("details.account-menu[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
})();
