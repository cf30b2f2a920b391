// LifeBank's own page behaviour, kept out of the pages so the Content-Security-Policy forbids inline script.
// A checkbox with data-check-all="<selector>" ticks or clears every checkbox the selector finds.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box || !box.matches || !box.matches("input[type=checkbox][data-check-all]")) { return; }
  document.querySelectorAll(box.getAttribute("data-check-all")).forEach(function (other) {
    other.checked = box.checked;
  });
});
