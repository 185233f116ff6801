/* Dashboard live feed: requests of the current org arrive over a websocket as they complete. */
(function () {
  "use strict";
  var body = document.getElementById("live-feed");
  if (!body || !window.WebSocket) return;
  var state = document.getElementById("live-state");
  var MAX_ROWS = 50;
  var retryMs = 1000;

  function usd(micros) {
    // Same rule as wallet.money.format_usd: at least cents, more digits only when they matter.
    var sign = micros < 0 ? "-" : "";
    micros = Math.abs(micros || 0);
    var whole = Math.floor(micros / 1e6);
    var frac = String(micros % 1e6).padStart(6, "0").replace(/0+$/, "");
    while (frac.length < 2) frac += "0";
    return sign + "$" + whole.toLocaleString("en-US") + "." + frac;
  }
  function ms(value) {
    if (value === null || value === undefined) return "–";
    return value >= 1000 ? (value / 1000).toFixed(2) + " s" : Math.round(value) + " ms";
  }
  function cell(text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }
  function addRow(r) {
    var empty = body.querySelector(".feed-empty");
    if (empty) empty.remove();
    var tr = document.createElement("tr");
    tr.className = "feed-new";
    tr.dataset.requestId = r.request_id || "";
    var created = new Date(r.created);
    var label = isNaN(created) ? "" : created.toLocaleString("en-US", {
      timeZone: "UTC", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
    });
    tr.appendChild(cell(label, "nowrap"));
    tr.appendChild(cell(r.model || "", "mono"));
    var status = cell("", "nowrap");
    var badge = document.createElement("span");
    badge.className = "badge " + (r.status < 400 && !r.error_type ? "badge-ok" : "badge-danger");
    badge.textContent = String(r.status);
    status.appendChild(badge);
    if (r.error_type) status.appendChild(document.createTextNode(" " + r.error_type));
    tr.appendChild(status);
    tr.appendChild(cell((r.input_tokens || 0).toLocaleString("en-US") + " / " + (r.output_tokens || 0).toLocaleString("en-US"), "num"));
    tr.appendChild(cell(usd(r.cost), "num"));
    tr.appendChild(cell(ms(r.ttft_ms), "num"));
    tr.appendChild(cell(ms(r.total_ms), "num"));
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  }
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + body.dataset.wsPath);
    socket.onopen = function () { retryMs = 1000; if (state) state.textContent = "live"; };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "request") addRow(message.request);
    };
    socket.onclose = function (event) {
      if (state) state.textContent = "reconnecting…";
      if (event.code === 4401 || event.code === 4403) { if (state) state.textContent = "offline"; return; }
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }
  connect();
})();
