// LifeBank's own page behaviour, kept out of the pages so the Content-Security-Policy forbids inline script.
// A checkbox with data-check-all="<selector>" ticks or clears every checkbox the selector finds.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box || !box.matches || !box.matches("input[type=checkbox][data-check-all]")) { return; }
  document.querySelectorAll(box.getAttribute("data-check-all")).forEach(function (other) {
    other.checked = box.checked;
  });
});

// Main navigation (templates/_nav.html). Without script every area is a <details> that opens and closes on
// its own. With it: only one area is open at a time (for browsers without <details name>); a dropdown that
// would run off the right edge opens leftwards; an open dropdown closes on Escape (focus back on the area's
// name) or on a click elsewhere; opening the phone menu unfolds the area of the page shown.
(function () {
  function openAreas() { return document.querySelectorAll(".main-nav details.nav-group[open]"); }
  document.addEventListener("toggle", function (event) {
    var area = event.target;
    if (!area.matches || !area.matches(".main-nav details.nav-group") || !area.open) { return; }
    openAreas().forEach(function (other) { if (other !== area) { other.open = false; } });
    var list = area.querySelector("ul");
    list.classList.remove("flip");
    if (dropsDown(area) && list.getBoundingClientRect().right > document.documentElement.clientWidth) {
      list.classList.add("flip");
    }
  }, true);
  function dropsDown(area) { return getComputedStyle(area.querySelector("ul")).position === "absolute"; }
  document.addEventListener("click", function (event) {
    openAreas().forEach(function (area) {
      if (!area.contains(event.target) && dropsDown(area)) { area.open = false; }
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    openAreas().forEach(function (area) {
      if (!dropsDown(area)) { return; }
      var hadFocus = area.contains(document.activeElement);
      area.open = false;
      if (hadFocus) { area.querySelector("summary").focus(); }
    });
  });
  document.addEventListener("change", function (event) {
    if (!event.target || event.target.id !== "menu-toggle" || !event.target.checked) { return; }
    var current = document.querySelector(".main-nav details.nav-group[data-current]");
    if (current) { current.open = true; }
  });
})();
