// The before/after compare slider: drag anywhere on the photo (mouse, pen or touch), or focus
// the handle and use the arrow keys (Shift for big steps), Page Up/Down, Home and End.
(function () {
  "use strict";

  function initCompare(root) {
    var handle = root.querySelector(".compare-handle");
    var value = 50;
    var dragging = false;

    function set(next) {
      value = Math.max(0, Math.min(100, next));
      root.style.setProperty("--split", value + "%");
      handle.setAttribute("aria-valuenow", String(Math.round(value)));
      handle.setAttribute("aria-valuetext", Math.round(value) + "% original");
    }

    function fromPointer(event) {
      var box = root.getBoundingClientRect();
      return ((event.clientX - box.left) / box.width) * 100;
    }

    root.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      dragging = true;
      root.setPointerCapture(event.pointerId);
      root.classList.add("compare-dragging");
      set(fromPointer(event));
      handle.focus({ preventScroll: true });
      event.preventDefault();
    });
    root.addEventListener("pointermove", function (event) {
      if (dragging) set(fromPointer(event));
    });
    ["pointerup", "pointercancel", "lostpointercapture"].forEach(function (name) {
      root.addEventListener(name, function () {
        dragging = false;
        root.classList.remove("compare-dragging");
      });
    });
    handle.addEventListener("keydown", function (event) {
      var step = event.shiftKey ? 10 : 2;
      var moves = {
        ArrowLeft: value - step, ArrowDown: value - step, ArrowRight: value + step, ArrowUp: value + step,
        PageDown: value - 10, PageUp: value + 10, Home: 0, End: 100,
      };
      if (!(event.key in moves)) return;
      set(moves[event.key]);
      event.preventDefault();
    });
    set(value);
  }

  document.querySelectorAll("[data-compare]").forEach(initCompare);
})();
