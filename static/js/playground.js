/* The dashboard playground: one streamed request to /v1/chat/completions, then its cost from /v1/generation. */
(function () {
  "use strict";
  var form = document.getElementById("playground");
  if (!form) return;
  var key = form.getAttribute("data-key");
  var reply = document.getElementById("pg-reply");
  var stats = document.getElementById("pg-stats");
  var send = document.getElementById("pg-send");

  function headers() {
    return { "Authorization": "Bearer " + key, "Content-Type": "application/json" };
  }

  function show(text, isError) {
    reply.textContent = "";
    var p = document.createElement("p");
    p.textContent = text;
    if (isError) p.className = "msg-error";
    reply.appendChild(p);
    return p;
  }

  async function errorOf(response) {
    try {
      var body = await response.json();
      return "Error " + response.status + ": " + ((body.error && body.error.message) || JSON.stringify(body));
    } catch (e) {
      return "Error " + response.status;
    }
  }

  // The request log is written in the background: ask a few times for the receipt.
  async function receipt(requestId) {
    for (var i = 0; i < 12; i++) {
      var response = await fetch("/v1/generation?id=" + encodeURIComponent(requestId), { headers: headers() });
      if (response.ok) return (await response.json()).data;
      await new Promise(function (r) { setTimeout(r, 400); });
    }
    return null;
  }

  async function stream(response, out) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "", usage = null;
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      var lines = buffer.split("\n");
      buffer = lines.pop();
      lines.forEach(function (line) {
        if (line.indexOf("data: ") !== 0 || line === "data: [DONE]") return;
        var event = JSON.parse(line.slice(6));
        if (event.usage) usage = event.usage;
        var choice = event.choices && event.choices[0];
        if (choice && choice.delta && choice.delta.content) out.textContent += choice.delta.content;
        if (event.error) out.textContent += "\n[" + (event.error.message || "stream error") + "]";
      });
    }
    return usage;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    send.disabled = true;
    stats.textContent = "";
    var out = show("", false);
    try {
      var response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: headers(),
        body: JSON.stringify({
          model: form.model.value,
          max_tokens: parseInt(form.max_tokens.value, 10) || 256,
          stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: "user", content: form.message.value }],
        }),
      });
      var requestId = response.headers.get("x-qlaud-request-id");
      if (!response.ok) {
        show(await errorOf(response), true);
      } else {
        var usage = await stream(response, out);
        if (usage) stats.textContent = usage.prompt_tokens + " input tokens, " + usage.completion_tokens + " output tokens";
      }
      if (requestId) {
        var r = await receipt(requestId);
        if (r) {
          stats.textContent = r.tokens.input + " input tokens, " + r.tokens.output + " output tokens · cost " +
            "$" + (r.total_cost || "0") + " · ";
          var link = document.createElement("a");
          link.href = form.getAttribute("data-receipt-base") + encodeURIComponent(requestId) + "/";
          link.textContent = "receipt";
          stats.appendChild(link);
        }
      }
    } catch (e) {
      show("The request failed: " + e, true);
    } finally {
      send.disabled = false;
      reply.focus();
    }
  });
})();
