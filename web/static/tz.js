// Proposes the browser's own time zone in the preferences form when the
// reader has none saved yet. Nothing else on the site runs a script; the
// form works the same without it (type the zone by hand).
(function () {
  var zone = document.getElementById("zone");
  if (!zone || zone.value !== "") return;
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz) {
      zone.value = tz;
      zone.dataset.proposed = "browser";
    }
  } catch (e) { /* an old browser: leave the field empty */ }
})();
