// The fine-tuning job page in the admin: live state, figures, loss charts and samples.
//
// The page starts from the state rendered into it (#job-state, #loss-history), then follows
// the job's websocket (/ws/admin/finetune/<id>/): a snapshot on every (re)connect (and when a
// resumed run drops the points after its checkpoint: the charts start over from it), then
// every state change with the loss points recorded since the previous one. The socket
// (socket.js, loaded before this) reconnects with exponential backoff.
(function () {
  "use strict";
  var panel = document.getElementById("training-panel");
  if (!panel) return;
  var FINISHED = { done: true, failed: true, cancelled: true, interrupted: true };
  var COLORS = { D_real: "#2563eb", D_fake: "#dc2626", G_GAN: "#16a34a", G_L1: "#9333ea" };
  var job = JSON.parse(document.getElementById("job-state").textContent);
  var losses = JSON.parse(document.getElementById("loss-history").textContent);

  function $(selector) { return panel.querySelector(selector); }
  function fixed(value, digits) { return value === null || value === undefined ? "—" : Number(value).toFixed(digits); }
  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    seconds = Math.round(seconds);
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return h ? h + " h " + m + " min" : m ? m + " min " + s + " s" : s + " s";
  }

  function renderState() {
    var state = $("[data-field=state_label]");
    state.textContent = job.state_label;
    state.dataset.state = job.state;
    $("[data-field=message]").textContent = job.message;
    var verdict = $("[data-field=verdict]");
    var judged = job.verdict || {};
    verdict.textContent = judged.text || "";
    verdict.dataset.verdict = judged.verdict || "";
    verdict.hidden = !judged.text;
    $("[data-action=cancel]").hidden = !job.can_cancel;
    $("[data-action=resume]").hidden = !job.can_resume;
    var blocker = $("[data-field=resume_blocker]");
    blocker.textContent = job.resume_blocker || "";
    blocker.hidden = !job.resume_blocker;
    var version = $("[data-action=version]");
    version.hidden = !job.result_version_url;
    if (job.result_version_url) version.href = job.result_version_url;
    var samples = $("[data-field=sample_grid_url]");
    if (job.sample_grid_url && samples.getAttribute("src") !== job.sample_grid_url) samples.src = job.sample_grid_url;
    samples.hidden = !job.sample_grid_url;
    $("[data-empty-samples]").hidden = !!job.sample_grid_url;

    var p = job.progress || {};
    var l = p.losses || {};
    var set = function (name, text) { $('[data-figure="' + name + '"]').textContent = text; };
    set("stage", p.stage ? (p.stage === "l1" ? "1 · L1 only" : "2 · GAN + L1") : "—");
    set("epoch", p.epoch ? p.epoch + " / " + p.epochs : "—");
    set("step", p.global_step !== undefined ? p.global_step + " / " + p.total_steps : "—");
    set("speed", p.images_per_second ? fixed(p.images_per_second, 1) + " photos/s" : "—");
    set("eta", FINISHED[job.state] ? "—" : duration(p.eta_seconds));
    set("d", l.D_real === null || l.D_real === undefined ? "—" : fixed(l.D_real, 3) + " / " + fixed(l.D_fake, 3));
    set("g_gan", fixed(l.G_GAN, 3));
    set("g_l1", fixed(l.G_L1, 3));
    var done = job.state === "done" ? 1 : (p.total_steps ? p.global_step / p.total_steps : 0);
    $('[data-figure="bar"]').style.width = Math.min(100, done * 100).toFixed(1) + "%";
    renderEpochs();
  }

  function renderEpochs() {
    var body = $("[data-epochs]");
    body.textContent = "";
    (job.epochs || []).forEach(function (epoch) {
      var row = document.createElement("tr");
      var l = epoch.losses || {}, v = epoch.val || {};
      [epoch.stage.toUpperCase(), epoch.epoch + " / " + epoch.epochs, fixed(l.D_real, 3), fixed(l.D_fake, 3),
       fixed(l.G_GAN, 3), fixed(l.G_L1, 3), fixed(v.l1, 4), fixed(v.psnr, 2), fixed(v.ab_error, 2)]
        .forEach(function (text) {
          var cell = document.createElement("td");
          cell.textContent = text;
          row.appendChild(cell);
        });
      body.appendChild(row);
    });
  }

  function addLosses(points) {
    points.forEach(function (point) {
      var last = losses[losses.length - 1];
      if (last && last.step === point.step) losses[losses.length - 1] = point;
      else if (!last || point.step > last.step) losses.push(point);
    });
  }

  function drawChart(canvas, keys) {
    var ratio = window.devicePixelRatio || 1;
    var width = canvas.clientWidth || canvas.width, height = Math.round(width * 0.4);
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    var pad = { left: 44, right: 8, top: 8, bottom: 22 };
    var points = losses.filter(function (p) { return keys.some(function (k) { return p[k] !== null && p[k] !== undefined; }); });
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#666";
    if (!points.length) {
      ctx.fillText(keys.indexOf("G_L1") >= 0 ? "Waiting for the first steps…" : "Starts with the GAN stage.", pad.left, height / 2);
      return;
    }
    var steps = losses.map(function (p) { return p.step; });
    var x0 = Math.min.apply(null, steps), x1 = Math.max.apply(null, steps);
    var values = [];
    points.forEach(function (p) { keys.forEach(function (k) { if (p[k] !== null && p[k] !== undefined) values.push(p[k]); }); });
    var y0 = Math.min(0, Math.min.apply(null, values)), y1 = Math.max.apply(null, values) * 1.05 || 1;
    var sx = function (step) { return pad.left + (x1 === x0 ? 0.5 : (step - x0) / (x1 - x0)) * (width - pad.left - pad.right); };
    var sy = function (v) { return height - pad.bottom - (v - y0) / (y1 - y0) * (height - pad.top - pad.bottom); };
    // The L1-only stage, shaded.
    var l1 = losses.filter(function (p) { return p.stage === "l1"; });
    if (l1.length) {
      ctx.fillStyle = "rgba(147, 51, 234, 0.07)";
      ctx.fillRect(sx(x0), pad.top, sx(l1[l1.length - 1].step) - sx(x0), height - pad.top - pad.bottom);
    }
    ctx.strokeStyle = "#ccc";
    ctx.fillStyle = "#666";
    ctx.beginPath();
    ctx.moveTo(pad.left, pad.top);
    ctx.lineTo(pad.left, height - pad.bottom);
    ctx.lineTo(width - pad.right, height - pad.bottom);
    ctx.stroke();
    [y0, (y0 + y1) / 2, y1].forEach(function (v) { ctx.fillText(v.toFixed(2), 4, sy(v) + 4); });
    ctx.fillText("step " + x0, pad.left, height - 6);
    var label = "step " + x1;
    ctx.fillText(label, width - pad.right - ctx.measureText(label).width, height - 6);
    keys.forEach(function (key) {
      ctx.strokeStyle = COLORS[key];
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      var started = false;
      points.forEach(function (p) {
        if (p[key] === null || p[key] === undefined) { started = false; return; }
        if (started) ctx.lineTo(sx(p.step), sy(p[key]));
        else { ctx.moveTo(sx(p.step), sy(p[key])); started = true; }
      });
      ctx.stroke();
    });
  }

  function drawCharts() {
    drawChart($('[data-chart="adversarial"]'), ["D_real", "D_fake", "G_GAN"]);
    drawChart($('[data-chart="l1"]'), ["G_L1"]);
  }

  function connect() {
    window.HueSocket.open(panel.dataset.socketPath, {
      open: function () { $("[data-connection]").hidden = true; },
      message: function (event) {
        if (event.type === "finetune.snapshot") {
          losses = [];
          addLosses(event.losses || []);
        } else if (event.type === "finetune.job") {
          addLosses(event.losses || []);
        } else {
          return;
        }
        job = event.job;
        renderState();
        drawCharts();
      },
      close: function () { $("[data-connection]").hidden = false; },
    });
  }

  renderState();
  drawCharts();
  window.addEventListener("resize", drawCharts);
  connect();
})();
