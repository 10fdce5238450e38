// Live job status over the websocket /ws/jobs/, shared by the upload, gallery and detail pages.
//
// HueLive.on(fn) receives every event ({type: "job.update", job}, {type: "photo.deleted", ...});
// HueLive.watch(id) marks a job the page waits for, so a reconnect asks for its state.
// HueLive.drop() closes the socket as a lost connection would (for debugging and tests).
// Elements with data-job="<id>" get their data-state, [data-job-state-label], [data-job-model]
// and, once done, img[data-job-thumbnail] kept current.
// The socket (socket.js, loaded before this) reconnects with exponential backoff, and gives up
// after MAX_REFUSALS attempts in a row that never opened: the server refuses the handshake when the
// session has ended, and asking again every 30 s would never change that.
(function () {
  "use strict";
  var FINISHED = { done: true, failed: true };
  var MAX_REFUSALS = 5;  // tries over 31 to 46 s (1 + 2 + 4 + 8 + 16 s of backoff, plus jitter)
  var STOPPED = "Live updates stopped — reload or log in again.";
  var listeners = [];
  var waiting = {};
  var refusals = 0;
  var live = null;  // the HueSocket, opened last

  function statusLine(text) {
    var line = document.getElementById("live-status");
    if (!line) return;
    line.textContent = text || "";
    line.hidden = !text;
  }

  // The elements inside `node` that belong to it, not to a job nested deeper (the detail page's result list).
  function own(node, selector) {
    return Array.prototype.filter.call(node.querySelectorAll(selector), function (child) {
      return child.closest("[data-job]") === node;
    });
  }

  function apply(job) {
    var nodes = document.querySelectorAll('[data-job="' + job.id + '"]');
    nodes.forEach(function (node) {
      // A finished job never changes again: a late, older event must not undo it.
      if (FINISHED[node.dataset.state] && !FINISHED[job.state]) return;
      node.dataset.state = job.state;
      own(node, "[data-job-state-label]").forEach(function (label) { label.textContent = job.state_label; });
      if (job.model) own(node, "[data-job-model]").forEach(function (label) { label.textContent = job.model; });
      own(node, "[data-job-waiting]").forEach(function (label) {
        label.textContent = job.waiting_label;
      });
      if (job.thumbnail_url) {
        own(node, "img[data-job-thumbnail]").forEach(function (img) {
          img.src = job.thumbnail_url;
          img.hidden = false;
        });
        own(node, "[data-job-waiting]").forEach(function (label) { label.remove(); });
      }
    });
  }

  function emit(event) {
    if (event.type === "job.update") {
      if (FINISHED[event.job.state]) delete waiting[event.job.id];
      apply(event.job);
    }
    if (event.type === "photo.deleted") {
      document.querySelectorAll('[data-photo="' + event.photo_id + '"]').forEach(function (node) { node.remove(); });
    }
    listeners.forEach(function (listener) { listener(event); });
  }

  function connect() {
    return window.HueSocket.open("/ws/jobs/", {
      open: function () {
        refusals = 0;
        statusLine("");
        var ids = Object.keys(waiting);
        if (ids.length) live.send({ type: "jobs.sync", ids: ids });
      },
      message: function (event) {
        if (event.type === "jobs.snapshot") {
          event.jobs.forEach(function (job) { emit({ type: "job.update", job: job }); });
        } else {
          emit(event);
        }
      },
      close: function (opened) {
        if (!opened) refusals += 1;
        if (refusals >= MAX_REFUSALS) {
          statusLine(STOPPED);
          return false;
        }
        if (Object.keys(waiting).length) statusLine("Live updates paused: reconnecting…");
      },
    });
  }

  window.HueLive = {
    on: function (listener) { listeners.push(listener); },
    watch: function (id) {
      waiting[id] = true;
      live.send({ type: "jobs.sync", ids: [id] });
    },
    isConnected: function () { return live.isOpen(); },
    drop: function () { live.drop(); },
  };

  document.querySelectorAll("[data-job]").forEach(function (node) {
    if (!FINISHED[node.dataset.state]) waiting[node.dataset.job] = true;
  });
  live = connect();
})();
