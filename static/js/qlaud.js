/* qlaud: copy buttons and tabs. Progressive enhancement: pages work without it. */
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-http fallback (e.g. a local dev server).
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "absolute";
    area.style.left = "-9999px";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }

  // <button class="copy" data-copy="text"> or data-copy-target="#id" (copies that element's text).
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.copy, .copy[data-copy]") : null;
    if (!button) return;
    var text = button.getAttribute("data-copy");
    var target = button.getAttribute("data-copy-target");
    if (text === null && target) {
      var node = document.querySelector(target);
      text = node ? node.textContent : "";
    }
    if (text === null) {
      var pre = button.closest(".code-block");
      text = pre ? pre.querySelector("pre").textContent : "";
    }
    event.preventDefault();
    var label = button.textContent;
    copyText(text.trim()).then(function () {
      button.textContent = "Copied";
      button.classList.add("is-copied");
      setTimeout(function () { button.textContent = label; button.classList.remove("is-copied"); }, 1600);
    });
  });

  // <div class="tabs"><div class="tab-list" role="tablist"><button role="tab" aria-controls="p1">…</button></div>
  // <div class="tab-panel" id="p1" role="tabpanel">…</div></div>. Without JS every panel stays visible.
  function selectTab(tab) {
    var list = tab.closest("[role=tablist]");
    list.querySelectorAll("[role=tab]").forEach(function (other) {
      var selected = other === tab;
      other.setAttribute("aria-selected", selected ? "true" : "false");
      other.tabIndex = selected ? 0 : -1;
      var panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) panel.hidden = !selected;
    });
  }

  function initTabs(root) {
    root.querySelectorAll(".tabs [role=tablist]").forEach(function (list) {
      if (list.dataset.ready) return;
      list.dataset.ready = "1";
      var tabs = list.querySelectorAll("[role=tab]");
      var current = list.querySelector("[aria-selected=true]") || tabs[0];
      if (current) selectTab(current);
      list.addEventListener("click", function (event) {
        var tab = event.target.closest("[role=tab]");
        if (tab) { event.preventDefault(); selectTab(tab); }
      });
      list.addEventListener("keydown", function (event) {
        var items = Array.prototype.slice.call(tabs);
        var index = items.indexOf(document.activeElement);
        if (index < 0) return;
        var step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
        if (!step) return;
        var next = items[(index + step + items.length) % items.length];
        selectTab(next);
        next.focus();
      });
    });
  }

  // Focus: content that asks for it (data-autofocus, e.g. a new key) is scrolled into view below the sticky
  // header and focused; after any other htmx swap that took the focused element away, focus moves to the
  // swapped region so keyboard and screen-reader users are not dropped at the top of the page.
  function placeFocus(root, swapped) {
    var wanted = root.querySelector ? root.querySelector("[data-autofocus]") : null;
    if (!wanted && root.matches && root.matches("[data-autofocus]")) wanted = root;
    if (wanted) {
      var header = document.querySelector(".site-header");
      var sticky = header && getComputedStyle(header).position === "sticky";
      var offset = sticky ? header.getBoundingClientRect().height + 12 : 12;
      window.scrollTo(0, wanted.getBoundingClientRect().top + window.scrollY - offset);
      wanted.focus({ preventScroll: true });
      return;
    }
    var active = document.activeElement;
    if (swapped && (!active || active === document.body || !document.body.contains(active))) {
      var target = document.body.contains(root) ? root : document.getElementById("main");
      if (!target) return;
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: true });
    }
  }

  // "Test this key": one tiny request through qlaud's own API, the result shown beside the button.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-test-key]") : null;
    if (!button) return;
    var out = document.querySelector(button.getAttribute("data-result"));
    out.textContent = "Sending…";
    out.className = "key-test-result";
    button.disabled = true;
    fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "Authorization": "Bearer " + button.getAttribute("data-test-key"), "Content-Type": "application/json" },
      body: JSON.stringify({ model: button.getAttribute("data-model"), max_tokens: 8,
        messages: [{ role: "user", content: "Say hi" }] }),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok) {
          var text = body.choices && body.choices[0] && body.choices[0].message ? body.choices[0].message.content : "";
          out.textContent = "It works: " + (body.model || button.getAttribute("data-model")) + " answered “" + (text || "").trim() + "”.";
          out.className = "key-test-result msg-success";
        } else {
          out.textContent = "HTTP " + response.status + ": " + ((body.error && body.error.message) || "no answer");
          out.className = "key-test-result msg-error";
        }
      });
    }).catch(function (error) {
      out.textContent = "The request failed: " + error;
      out.className = "key-test-result msg-error";
    }).finally(function () { button.disabled = false; });
  });

  // <input list="…" data-multi-list>: several comma-separated ids, each suggested from the datalist.
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.hasAttribute || !input.hasAttribute("data-multi-list")) return;
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    if (!list.dataset.ids) {
      list.dataset.ids = JSON.stringify(Array.prototype.map.call(list.options, function (o) { return o.value; }));
    }
    var parts = input.value.split(/,\s*/);
    var done = parts.slice(0, -1).join(", ");
    var head = done ? done + ", " : "";
    list.innerHTML = "";
    JSON.parse(list.dataset.ids).forEach(function (id) {
      var option = document.createElement("option");
      option.value = head + id;
      list.appendChild(option);
    });
  });

  // Wide tables and code scroll inside their box; keyboard users must be able to reach and scroll them.
  function scrollablesFocusable(root) {
    root.querySelectorAll(".table-wrap, pre").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth && !box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initTabs(document); scrollablesFocusable(document); placeFocus(document, false);
  });
  window.addEventListener("resize", function () { scrollablesFocusable(document); });
  document.addEventListener("htmx:afterSwap", function (event) { initTabs(event.target); scrollablesFocusable(event.target); });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target || event.target;
    // An outerHTML swap replaced the target: find its successor by id.
    if (!document.body.contains(target) && target.id) target = document.getElementById(target.id) || target;
    placeFocus(target, true);
  });
})();
