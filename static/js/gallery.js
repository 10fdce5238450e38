// The gallery's selection: tick photos (or all on the page, or every photo the search shows), then
// download them as one ZIP, put them in an album or delete them. Without this script the form still works.
(function () {
  "use strict";
  var form = document.getElementById("bulk");
  if (!form) return;
  var pageBox = form.querySelector("[data-select-page]");
  var everything = form.querySelector("[data-select-everything]");
  var allPages = form.querySelector("[data-select-all-pages]");
  var count = form.querySelector("[data-selection-count]");
  var target = form.querySelector("[data-album-target]");
  var newName = form.querySelector("[data-new-album-name]");

  function boxes() { return Array.prototype.slice.call(document.querySelectorAll("[data-select-photo]")); }

  function update() {
    var all = boxes();
    var ticked = all.filter(function (box) { return box.checked; }).length;
    if (ticked < all.length) everything.value = "";
    pageBox.checked = all.length > 0 && ticked === all.length;
    pageBox.indeterminate = ticked > 0 && ticked < all.length;
    if (everything.value === "1") {
      count.textContent = allPages.textContent.replace("Select all", "All") + " selected";
    } else {
      count.textContent = ticked ? ticked + " selected" : "None selected";
    }
    if (allPages) allPages.hidden = !(pageBox.checked && everything.value !== "1");
    form.querySelectorAll("[data-needs-selection]").forEach(function (button) { button.disabled = ticked === 0; });
    document.querySelectorAll(".photo-card").forEach(function (card) {
      var box = card.querySelector("[data-select-photo]");
      card.classList.toggle("photo-card-selected", !!box && box.checked);
    });
    if (target && newName) newName.hidden = target.value !== "new";
  }

  pageBox.addEventListener("change", function () {
    boxes().forEach(function (box) { box.checked = pageBox.checked; });
    update();
  });
  if (allPages) {
    allPages.addEventListener("click", function () {
      everything.value = "1";
      update();
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-photo]")) update();
  });
  if (target) target.addEventListener("change", update);
  update();
})();
