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

  document.addEventListener("DOMContentLoaded", function () { initTabs(document); });
  document.addEventListener("htmx:afterSwap", function (event) { initTabs(event.target); });
})();
