// The upload page: drag and drop or pick many files; one request per file (three at a time),
// each with its own progress bar, and its own error beside its name while the rest go on.
(function () {
  "use strict";
  var PARALLEL_UPLOADS = 3;
  var form = document.getElementById("upload-form");
  var input = document.getElementById("upload-input");
  var dropzone = document.getElementById("dropzone");
  var list = document.getElementById("upload-list");
  var template = document.getElementById("upload-row");
  var csrfToken = form.querySelector("[name=csrfmiddlewaretoken]").value;
  var maxBytes = Number(form.dataset.maxBytes);
  var queue = [];
  var active = 0;
  var rowsByJob = {};
  // The batch: every file added since the last batch ended, until each one is colorized or has failed.
  var batchBox = document.getElementById("batch");
  var batch = { total: 0, done: 0, failed: 0 };

  function plural(count, word) { return count + " " + word + (count === 1 ? "" : "s"); }

  function renderBatch() {
    var finished = batch.done + batch.failed;
    batchBox.hidden = batch.total === 0;
    batchBox.querySelector("[data-batch-count]").textContent =
      batch.done + " of " + batch.total + " done" + (batch.failed ? ", " + batch.failed + " failed" : "");
    var bar = batchBox.querySelector("[data-batch-progress]");
    bar.max = batch.total || 1;
    bar.value = finished;
    var summary = batchBox.querySelector("[data-batch-summary]");
    var ended = batch.total > 0 && finished === batch.total;
    batchBox.dataset.state = ended ? "ended" : "running";
    summary.hidden = !ended;
    if (ended) {
      summary.textContent = "Batch finished: " + plural(batch.done, "photo") + " colorized" +
        (batch.failed ? ", " + batch.failed + " failed (the reasons are below)" : "") + ".";
    }
  }

  function batchAdd(count) {
    if (batch.total && batch.done + batch.failed === batch.total) batch = { total: 0, done: 0, failed: 0 };
    batch.total += count;
    renderBatch();
  }

  function batchFinished(ok) {
    if (ok) batch.done += 1; else batch.failed += 1;
    renderBatch();
  }

  function describeBytes(size) {
    if (size >= 1024 * 1024) return (size / (1024 * 1024)).toFixed(1).replace(/\.0$/, "") + " MB";
    if (size >= 1024) return Math.round(size / 1024) + " KB";
    return size + " bytes";
  }

  // "X; the limit is Y" with exact byte counts when the rounded ones would read the same.
  function describeOver(size, limit) {
    var rounded = describeBytes(size), roundedLimit = describeBytes(limit);
    if (rounded !== roundedLimit) return rounded + "; the limit is " + roundedLimit;
    return size.toLocaleString("en-US") + " bytes; the limit is " + limit.toLocaleString("en-US") + " bytes (" + roundedLimit + ")";
  }

  function setStatus(row, state, text) {
    row.dataset.state = state;
    row.querySelector(".upload-status").textContent = text;
  }

  function fail(row, message) {
    if (row.dataset.state !== "rejected") batchFinished(false);
    setStatus(row, "rejected", message);
    row.querySelector(".upload-status").setAttribute("role", "alert");
    row.querySelector(".upload-progress").hidden = true;
  }

  function addRow(file) {
    var row = template.content.firstElementChild.cloneNode(true);
    row.querySelector(".upload-name").textContent = file.name;
    row.querySelector(".upload-size").textContent = describeBytes(file.size);
    var preview = row.querySelector(".upload-thumb img");
    if (/^image\/(jpeg|png|webp|gif|bmp)$/.test(file.type) && file.size <= maxBytes) {
      preview.src = URL.createObjectURL(file);
      preview.onload = function () { preview.hidden = false; URL.revokeObjectURL(preview.src); };
    }
    list.prepend(row);
    return row;
  }

  function addFiles(files) {
    if (files.length) batchAdd(files.length);
    Array.prototype.forEach.call(files, function (file) {
      var row = addRow(file);
      if (file.size > maxBytes) {
        fail(row, "This file is " + describeOver(file.size, maxBytes) + " per photo.");
        return;
      }
      setStatus(row, "waiting", "Waiting to upload…");
      queue.push({ file: file, row: row });
    });
    pump();
  }

  function pump() {
    while (active < PARALLEL_UPLOADS && queue.length) {
      active += 1;
      send(queue.shift(), function () { active -= 1; pump(); });
    }
  }

  function send(item, done) {
    var row = item.row;
    var progress = row.querySelector(".upload-progress");
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("X-CSRFToken", csrfToken);
    setStatus(row, "uploading", "Uploading…");
    request.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      var percent = Math.round((100 * event.loaded) / event.total);
      progress.value = percent;
      setStatus(row, "uploading", "Uploading " + percent + "%");
    });
    request.addEventListener("load", function () {
      var body = null;
      try { body = JSON.parse(request.responseText); } catch (error) { body = null; }
      if (request.status === 201 && body) {
        accepted(row, body);
      } else if (body && body.error) {
        fail(row, body.error);
      } else if (request.responseURL && request.responseURL.indexOf("/accounts/login/") !== -1) {
        fail(row, "Your session has ended. Log in again, then upload this photo.");
      } else {
        fail(row, "The upload failed (HTTP " + request.status + "). Please try again.");
      }
      done();
    });
    request.addEventListener("error", function () {
      fail(row, "The upload was interrupted. Check your connection and try again.");
      done();
    });
    var data = new FormData();
    data.append("files", item.file);
    request.send(data);
  }

  function accepted(row, body) {
    var job = body.job;
    row.querySelector(".upload-progress").hidden = true;
    row.dataset.uploadJob = job.id;  // not data-job: this script, not live.js, keeps the row current
    rowsByJob[job.id] = row;
    var notes = row.querySelector(".upload-notes");
    body.photo.notes.forEach(function (note) {
      var item = document.createElement("li");
      item.textContent = note;
      notes.appendChild(item);
    });
    var img = row.querySelector(".upload-thumb img");
    img.src = job.original_thumbnail_url;
    img.hidden = false;
    show(job);
    window.HueLive.watch(job.id);
  }

  function show(job) {
    var row = rowsByJob[job.id];
    if (!row || row.dataset.state === "done" || row.dataset.state === "failed") return;
    var status = row.querySelector(".upload-status");
    status.textContent = "";
    if (job.state === "done") {
      batchFinished(true);
      row.dataset.state = "done";
      var img = row.querySelector(".upload-thumb img");
      img.src = job.thumbnail_url;
      img.alt = "Colorized " + job.name;
      var link = document.createElement("a");
      link.href = job.result_url;
      link.textContent = "Done: open the before and after";
      status.appendChild(link);
    } else if (job.state === "failed") {
      batchFinished(false);
      row.dataset.state = "failed";
      status.setAttribute("role", "alert");
      status.textContent = job.message || job.status_text;
    } else {
      row.dataset.state = job.state;
      status.textContent = job.state === "running" ? job.status_text : (job.message || "Uploaded. " + job.status_text);
    }
  }

  window.HueLive.on(function (event) {
    if (event.type === "job.update") show(event.job);
  });

  input.addEventListener("change", function () {
    addFiles(input.files);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (name) {
    dropzone.addEventListener(name, function (event) {
      event.preventDefault();
      dropzone.classList.add("dropzone-active");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    dropzone.addEventListener(name, function (event) {
      event.preventDefault();
      dropzone.classList.remove("dropzone-active");
    });
  });
  dropzone.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files.length) addFiles(event.dataTransfer.files);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    addFiles(input.files);
  });
})();
