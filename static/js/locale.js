// The viewer's place: the browser's time zone is remembered in a cookie so pages show
// times in it even before (or without) signing in. Signed-in users' own time zone setting
// wins on the server. (The language switcher's submit-on-change lives in moim.js.)
(function () {
  "use strict";
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  if (zone && document.cookie.indexOf("moim_tz=" + encodeURIComponent(zone)) === -1) {
    document.cookie = "moim_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax" +
      (location.protocol === "https:" ? "; secure" : "");
  }
})();
