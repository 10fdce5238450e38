// A websocket that reconnects by itself: the one connection logic of the pages that follow live
// updates (live.js: job status; finetune-job.js: a fine-tuning job in the admin).
//
// var live = HueSocket.open("/ws/jobs/", {
//   open: function () { ... },              // (re)connected: ask for what may have been missed
//   message: function (event) { ... },      // each message, parsed from JSON
//   close: function (opened) { ... },       // the connection ended (opened: whether it ever opened);
// });                                       //   return false to stay closed instead of reconnecting
// live.send(object); live.isOpen(); live.drop();   // drop: close as a lost connection would
//
// It reconnects with exponential backoff: 1 s doubling to 30 s, with up to half again of jitter so
// that many pages do not all come back in the same instant after a server restart.
(function () {
  "use strict";
  var FIRST_DELAY_MS = 1000;
  var MAX_DELAY_MS = 30000;

  function open(path, handlers) {
    var retryDelay = FIRST_DELAY_MS;
    var socket = null;

    function connect() {
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      var opened = false;
      var current = new WebSocket(scheme + window.location.host + path);
      socket = current;
      current.addEventListener("open", function () {
        opened = true;
        retryDelay = FIRST_DELAY_MS;
        if (handlers.open) handlers.open();
      });
      current.addEventListener("message", function (message) {
        if (handlers.message) handlers.message(JSON.parse(message.data));
      });
      current.addEventListener("close", function () {
        if (socket === current) socket = null;
        if (handlers.close && handlers.close(opened) === false) return;
        var delay = retryDelay * (1 + Math.random() / 2);
        retryDelay = Math.min(retryDelay * 2, MAX_DELAY_MS);
        window.setTimeout(connect, delay);
      });
    }

    connect();
    return {
      send: function (data) {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(data));
      },
      isOpen: function () { return !!socket && socket.readyState === WebSocket.OPEN; },
      drop: function () { if (socket) socket.close(); },
    };
  }

  window.HueSocket = { open: open };
})();
