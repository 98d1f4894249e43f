// The viewer's place: the browser's time zone is remembered in a cookie so pages show
// times in it even before (or without) signing in. Signed-in users' own time zone setting
// wins on the server; sign-up stores the browser's zone as the account's (the hidden
// timezone field is filled here). (The language switcher's submit-on-change lives in moim.js.)
(function () {
  "use strict";
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  if (zone && document.cookie.indexOf("moim_tz=" + encodeURIComponent(zone)) === -1) {
    document.cookie = "moim_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax" +
      (location.protocol === "https:" ? "; secure" : "");
  }
  if (zone) {
    var fields = document.querySelectorAll("input[data-browser-timezone]");
    for (var i = 0; i < fields.length; i++) { fields[i].value = zone; }
  }
})();
