// Colour hints on a photo's page: click or tap the photo in "Colour hints" to place one, pick its
// colour (a colour input, the current result's colour there, common colours), drag a marker to move
// it. Keyboard: "Add a hint" puts one in the middle; a focused marker moves with the arrow keys
// (Shift: bigger steps) and Delete or Backspace removes it. The hints travel in the form's hidden
// field as JSON [{x, y, color}], x and y in the upright photo's pixels (webapp.photos.hints).
(function () {
  "use strict";

  var MAX_HINTS = 64;
  var COMMON = [
    ["#f1c6a7", "Light skin"], ["#c68642", "Medium skin"], ["#8d5524", "Dark skin"],
    ["#87b5e0", "Sky"], ["#4f7a3a", "Foliage"], ["#7a5a3a", "Wood"],
    ["#b22222", "Red fabric"], ["#1f3a60", "Navy fabric"], ["#e8e2d0", "White fabric"], ["#202020", "Black"],
  ];

  function hex(value) {
    return ("0" + Math.round(value).toString(16)).slice(-2);
  }

  function initEditor(editor) {
    var width = Number(editor.dataset.width);
    var height = Number(editor.dataset.height);
    var field = editor.querySelector("input[name=hints]");
    var surface = editor.querySelector("[data-hint-surface]");
    var image = editor.querySelector("[data-hint-image]");
    var list = editor.querySelector("[data-hint-list]");
    var status = editor.querySelector("[data-hint-status]");
    var submit = editor.form.querySelector("[data-rerun-submit]");
    var hints = [];
    try {
      hints = JSON.parse(field.value || "[]");
    } catch (error) {
      hints = [];
    }
    var pixels = null; // the shown image's pixels, to offer "the colour here"

    function readPixels() {
      try {
        var canvas = document.createElement("canvas");
        canvas.width = image.naturalWidth;
        canvas.height = image.naturalHeight;
        var context = canvas.getContext("2d");
        context.drawImage(image, 0, 0);
        pixels = context.getImageData(0, 0, canvas.width, canvas.height);
      } catch (error) {
        pixels = null;
      }
    }
    if (image.complete && image.naturalWidth) readPixels();
    else image.addEventListener("load", readPixels);

    function colourAt(x, y) {
      if (!pixels) return null;
      var px = Math.min(pixels.width - 1, Math.floor((x / width) * pixels.width));
      var py = Math.min(pixels.height - 1, Math.floor((y / height) * pixels.height));
      var i = (py * pixels.width + px) * 4;
      return "#" + hex(pixels.data[i]) + hex(pixels.data[i + 1]) + hex(pixels.data[i + 2]);
    }

    function clamp(value, limit) {
      return Math.max(0, Math.min(limit - 0.1, value));
    }

    function say(text) {
      status.textContent = text;
    }

    function save() {
      field.value = JSON.stringify(hints);
      if (submit) submit.textContent = hints.length ? "Colorize with hints" : "Colorize again";
    }

    function describe(index) {
      var hint = hints[index];
      return "Hint " + (index + 1) + ", " + hint.color + ", at " + Math.round((100 * hint.x) / width) + "% across, " +
        Math.round((100 * hint.y) / height) + "% down";
    }

    function add(x, y, colour) {
      if (hints.length >= MAX_HINTS) {
        say("At most " + MAX_HINTS + " hints.");
        return;
      }
      hints.push({ x: Math.round(clamp(x, width) * 10) / 10, y: Math.round(clamp(y, height) * 10) / 10,
                   color: colour || colourAt(x, y) || "#b22222" });
      render();
      say("Added " + describe(hints.length - 1) + ". Pick its colour below.");
      var input = list.querySelectorAll("input[type=color]")[hints.length - 1];
      if (input) input.focus({ preventScroll: true });
    }

    function move(index, x, y) {
      hints[index].x = Math.round(clamp(x, width) * 10) / 10;
      hints[index].y = Math.round(clamp(y, height) * 10) / 10;
      place(surface.querySelectorAll(".hint-marker")[index], index);
      save();
    }

    function remove(index) {
      hints.splice(index, 1);
      render();
      say("Removed hint " + (index + 1) + ". " + hints.length + " left.");
    }

    function recolour(index, colour) {
      hints[index].color = colour.toLowerCase();
      render();
      say(describe(index));
    }

    function place(marker, index) {
      marker.style.left = (100 * hints[index].x) / width + "%";
      marker.style.top = (100 * hints[index].y) / height + "%";
      marker.style.background = hints[index].color;
      marker.setAttribute("aria-label", describe(index) + ". Arrow keys move it, Delete removes it.");
    }

    function fromPointer(event) {
      var box = surface.getBoundingClientRect();
      return [((event.clientX - box.left) / box.width) * width, ((event.clientY - box.top) / box.height) * height];
    }

    function marker(index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "hint-marker";
      button.textContent = String(index + 1);
      place(button, index);
      var dragging = false;
      button.addEventListener("pointerdown", function (event) {
        dragging = true;
        button.setPointerCapture(event.pointerId);
        event.stopPropagation();
        event.preventDefault();
        button.focus({ preventScroll: true });
      });
      button.addEventListener("pointermove", function (event) {
        if (!dragging) return;
        var point = fromPointer(event);
        move(index, point[0], point[1]);
      });
      ["pointerup", "pointercancel"].forEach(function (name) {
        button.addEventListener(name, function () {
          if (dragging) render();
          dragging = false;
        });
      });
      button.addEventListener("click", function (event) {
        event.stopPropagation();
      });
      button.addEventListener("keydown", function (event) {
        var step = (event.shiftKey ? 0.1 : 0.02) * Math.max(width, height);
        var hint = hints[index];
        var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
        if (event.key === "Delete" || event.key === "Backspace") {
          remove(index);
          var next = surface.querySelectorAll(".hint-marker")[Math.min(index, hints.length - 1)];
          (next || editor.querySelector("[data-hint-add]")).focus();
          event.preventDefault();
        } else if (event.key in moves) {
          move(index, hint.x + moves[event.key][0], hint.y + moves[event.key][1]);
          say(describe(index));
          event.preventDefault();
        }
      });
      return button;
    }

    function swatch(colour, name, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "swatch";
      button.style.background = colour;
      button.title = name;
      button.setAttribute("aria-label", name + " (" + colour + ") for hint " + (index + 1));
      button.addEventListener("click", function () {
        recolour(index, colour);
        list.querySelectorAll("input[type=color]")[index].focus({ preventScroll: true });
      });
      return button;
    }

    function row(index) {
      var hint = hints[index];
      var item = document.createElement("li");
      item.className = "hint-row";
      var label = document.createElement("label");
      label.textContent = "Hint " + (index + 1) + " colour ";
      var input = document.createElement("input");
      input.type = "color";
      input.value = hint.color;
      input.addEventListener("change", function () {
        recolour(index, input.value);
      });
      label.appendChild(input);
      item.appendChild(label);
      var swatches = document.createElement("span");
      swatches.className = "swatches";
      var here = colourAt(hint.x, hint.y);
      if (here) swatches.appendChild(swatch(here, "The result's colour here", index));
      COMMON.forEach(function (entry) {
        swatches.appendChild(swatch(entry[0], entry[1], index));
      });
      item.appendChild(swatches);
      var removeButton = document.createElement("button");
      removeButton.type = "button";
      removeButton.className = "button-secondary hint-remove";
      removeButton.textContent = "Remove";
      removeButton.setAttribute("aria-label", "Remove hint " + (index + 1));
      removeButton.addEventListener("click", function () {
        remove(index);
        editor.querySelector("[data-hint-add]").focus();
      });
      item.appendChild(removeButton);
      return item;
    }

    function render() {
      surface.querySelectorAll(".hint-marker").forEach(function (node) {
        node.remove();
      });
      list.textContent = "";
      hints.forEach(function (_, index) {
        surface.appendChild(marker(index));
        list.appendChild(row(index));
      });
      save();
    }

    surface.addEventListener("click", function (event) {
      var point = fromPointer(event);
      add(point[0], point[1]);
    });
    editor.querySelector("[data-hint-add]").addEventListener("click", function () {
      add(width / 2, height / 2);
    });
    render();
  }

  document.querySelectorAll("[data-hint-editor]").forEach(initEditor);
})();
