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

  // Relative times ("just now", "3 minutes ago"; "방금", "3분 전"; "たった今", "3分前"),
  // the words of the server's relative_time filter. Other scripts call
  // window.MoimTime.relativeTime(iso); <time data-relative datetime="..."> elements
  // stay current while the page is open. Older than a week: the server's date stays.
  var t = window.gettext || function (s) { return s; };
  var lang = document.documentElement.lang || "en";
  function relativeTime(iso, now) {
    var then = new Date(iso).getTime();
    if (isNaN(then)) return "";
    var seconds = Math.max(0, Math.floor(((now || Date.now()) - then) / 1000));
    if (seconds < 60) return t("just now");
    var units = [["minute", 60, 60], ["hour", 3600, 24], ["day", 86400, 7]];
    for (var i = 0; i < units.length; i++) {
      var amount = Math.floor(seconds / units[i][1]);
      if (amount < units[i][2]) {
        try {
          return new Intl.RelativeTimeFormat(lang, { numeric: "always" }).format(-amount, units[i][0]);
        } catch (e) {
          return null;
        }
      }
    }
    return null;
  }
  function refreshRelativeTimes() {
    document.querySelectorAll("time[data-relative][datetime]").forEach(function (element) {
      var text = relativeTime(element.getAttribute("datetime"));
      if (text) element.textContent = text;
    });
  }
  // The log-in sheet: what a signed-out visitor sees when they tap something that needs
  // an account (a reaction), instead of the API's "credentials were not provided".
  // window.MoimLoginSheet.open(reason) opens it; its links come back to this page.
  function openLoginSheet(reason) {
    var sheet = document.getElementById("login-sheet");
    if (!sheet) {
      var here = window.location.pathname + window.location.search;
      var loginLink = document.querySelector("[data-login-link]");
      var signupLink = document.querySelector("[data-signup-link]");
      sheet = document.createElement("dialog");
      sheet.id = "login-sheet";
      sheet.className = "sheet login-sheet";
      sheet.setAttribute("aria-labelledby", "login-sheet-title");
      var title = document.createElement("h2");
      title.id = "login-sheet-title";
      title.textContent = t("Log in to join in");
      var text = document.createElement("p");
      text.className = "login-sheet-reason";
      var actions = document.createElement("p");
      actions.className = "sheet-actions";
      var login = document.createElement("a");
      login.className = "button";
      login.href = (loginLink ? loginLink.getAttribute("href") : "/accounts/login/") +
        "?next=" + encodeURIComponent(here);
      login.textContent = t("Log in");
      var signup = document.createElement("a");
      signup.className = "button button-secondary";
      signup.href = (signupLink ? signupLink.getAttribute("href") : "/accounts/signup/") +
        "?next=" + encodeURIComponent(here);
      signup.textContent = t("Sign up");
      var close = document.createElement("button");
      close.type = "button";
      close.className = "link-button";
      close.textContent = t("Not now");
      close.addEventListener("click", function () { sheet.close(); });
      actions.append(login, signup, close);
      sheet.append(title, text, actions);
      sheet.addEventListener("click", function (event) {
        if (event.target === sheet) sheet.close();  // a tap on the backdrop
      });
      document.body.appendChild(sheet);
    }
    sheet.querySelector(".login-sheet-reason").textContent =
      reason || t("You need an account for that. It takes a minute.");
    if (typeof sheet.showModal === "function") {
      if (!sheet.open) sheet.showModal();
    } else {
      sheet.setAttribute("open", "");
    }
    return sheet;
  }
  window.MoimLoginSheet = { open: openLoginSheet };

  window.MoimTime = { relativeTime: relativeTime, refresh: refreshRelativeTimes };
  refreshRelativeTimes();
  setInterval(refreshRelativeTimes, 60000);
})();
