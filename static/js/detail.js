// The photo page: when the shown result finishes, reveal the compare slider and downloads in place.
// Addresses come from the page (data-gallery-url on #detail), never from here.
(function () {
  "use strict";
  var detail = document.getElementById("detail");
  var payload = document.getElementById("selected-job");
  var selected = payload ? JSON.parse(payload.textContent) : null;
  // The intensity slider says its value as it moves.
  document.querySelectorAll("input[type=range][name=intensity]").forEach(function (range) {
    var output = document.querySelector("[data-intensity-value]");
    range.addEventListener("input", function () { output.textContent = Number(range.value).toFixed(1) + "×"; });
  });
  if (!detail || !selected) return;

  window.HueLive.on(function (event) {
    if (event.type === "photo.deleted" && event.photo_id === selected.photo_id) {
      window.location.assign(detail.dataset.galleryUrl);  // the page's {% url %}: no path is written here
      return;
    }
    if (event.type !== "job.update" || event.job.id !== selected.id) return;
    var job = event.job;
    detail.querySelectorAll("[data-job-message]").forEach(function (node) {
      node.textContent = job.state === "running" ? job.status_text : (job.message || job.status_text);
    });
    if (job.state !== "done" && job.state !== "failed") return;
    // The result has arrived (or failed): "…appears here when it is ready" is no longer true.
    document.querySelectorAll('.messages [data-tags~="until-done"][data-tags~="job-' + job.id + '"]').forEach(function (node) {
      var box = node.parentNode;
      node.remove();
      if (box && !box.querySelector(".message")) box.remove();
    });
    if (job.duration_seconds !== null && job.duration_seconds !== undefined) {
      detail.querySelector("dd[data-job-took]").textContent = job.duration_seconds.toFixed(1) + " s";
      detail.querySelectorAll("[data-took]").forEach(function (node) { node.hidden = false; });
    }
    if (job.state !== "done") return;
    var compare = detail.querySelector("[data-compare]");
    compare.querySelector("[data-job-preview]").src = job.preview_url;
    compare.hidden = false;
    detail.querySelector("[data-pending]").hidden = true;
    detail.querySelector("[data-download-png]").href = job.download_png_url;
    detail.querySelector("[data-download-jpg]").href = job.download_jpg_url;
    detail.querySelector("[data-downloads]").hidden = false;
  });
})();
