// Docs: code tabs that remember the reader's language, copy buttons, heading search.
(function () {
  "use strict";
  var KEY = "ocx-code-lang";

  function choose(lang) {
    document.querySelectorAll(".code-tabs").forEach(function (group) {
      var blocks = group.querySelectorAll(".code");
      var has = Array.prototype.some.call(blocks, function (b) { return b.dataset.lang === lang; });
      var pick = has ? lang : blocks[0] && blocks[0].dataset.lang;
      blocks.forEach(function (b) { b.hidden = b.dataset.lang !== pick; });
      group.querySelectorAll("[role=tab]").forEach(function (t) {
        var on = t.dataset.lang === pick;
        t.setAttribute("aria-selected", on ? "true" : "false");
        t.tabIndex = on ? 0 : -1;
      });
    });
  }

  document.querySelectorAll(".code-tabs").forEach(function (group) {
    var bar = document.createElement("div");
    bar.className = "tab-bar";
    bar.setAttribute("role", "tablist");
    group.querySelectorAll(".code").forEach(function (block) {
      var tab = document.createElement("button");
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.dataset.lang = block.dataset.lang;
      tab.textContent = block.dataset.label || block.dataset.lang;
      tab.addEventListener("click", function () {
        try { localStorage.setItem(KEY, block.dataset.lang); } catch (e) {}
        choose(block.dataset.lang);
      });
      bar.appendChild(tab);
    });
    group.insertBefore(bar, group.firstChild);
  });
  var saved = null;
  try { saved = localStorage.getItem(KEY); } catch (e) {}
  choose(saved || "python");

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".copy-code");
    if (!button) return;
    var code = button.parentNode.querySelector("code").textContent;
    var done = function () {
      button.textContent = button.dataset.copiedLabel || "Copied!";
      setTimeout(function () { button.textContent = button.dataset.copyLabel || "Copy"; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(code).then(done);
  });

  var search = document.getElementById("docs-search");
  if (search) {
    search.addEventListener("input", function () {
      var q = search.value.trim().toLowerCase();
      var shown = 0;
      document.querySelectorAll("#docs-nav li[data-search]").forEach(function (li) {
        var match = !q || li.dataset.search.indexOf(q) !== -1;
        li.hidden = !match;
        if (match) shown++;
      });
      document.querySelectorAll("#docs-nav li[data-group]").forEach(function (group) {
        group.hidden = !group.querySelector("li[data-search]:not([hidden])");
      });
      document.getElementById("docs-no-match").hidden = shown > 0;
    });
  }

  // Parameter tables on a phone: each row a card, each cell labelled with its column's header
  // (site.css's table.stackable), instead of columns cut off at the screen's edge.
  document.querySelectorAll(".docs-content table:not(.models-table)").forEach(function (table) {
    var heads = [].map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    if (!heads.length) return;
    table.classList.add("stackable");
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      [].forEach.call(tr.children, function (cell, i) {
        if (heads[i]) cell.setAttribute("data-label", heads[i]);
      });
    });
  });
})();
