// OpenCodex: small progressive enhancements. Everything works without this file.
(function () {
  "use strict";

  // The header's menu collapses behind a toggle on narrow screens (CSS decides when).
  function setUpNav() {
    var header = document.querySelector("[data-collapsible-nav]");
    if (!header) return;
    var toggle = header.querySelector(".nav-toggle");
    if (!toggle) return;
    header.classList.add("js-nav");
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = header.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && header.classList.contains("nav-open")) {
        header.classList.remove("nav-open");
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpNav);
  else setUpNav();

  // Fields whose whole text is selected when focused (a new key's secret).
  document.addEventListener("focusin", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("input[data-select-on-focus]")) {
      target.select();
    }
  });

  // Selects that submit their form when changed (the language switcher): no inline handlers,
  // the Content-Security-Policy allows none.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      ok ? resolve() : reject(new Error("copy failed"));
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) return;
    var label = button.textContent;
    copyText(source.value || source.textContent).then(function () {
      button.textContent = button.getAttribute("data-copied-label") || "Copied!";
      setTimeout(function () { button.textContent = label; }, 2000);
    }, function () {
      source.focus();
      if (source.select) source.select();
    });
  });
})();
