// The viewer's language and place: the language switcher submits on change, and the
// browser's time zone is remembered in a cookie so pages show times in it even before
// (or without) signing in. Signed-in users' own time zone setting wins on the server.
(function () {
  "use strict";
  var select = document.getElementById("language-select");
  if (select && select.form) {
    select.addEventListener("change", function () { select.form.submit(); });
  }
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  if (zone && document.cookie.indexOf("moim_tz=" + encodeURIComponent(zone)) === -1) {
    document.cookie = "moim_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax" +
      (location.protocol === "https:" ? "; secure" : "");
  }
})();
