// The time zone select: a search box that narrows its ~600 zones, and "Use my browser's zone".
(function () {
  "use strict";
  document.querySelectorAll("[data-tz-tools]").forEach(function (tools) {
    var select = document.getElementById(tools.getAttribute("data-tz-tools"));
    if (!select) return;
    var filter = tools.querySelector("[data-tz-filter]");
    var button = tools.querySelector("[data-tz-browser]");
    var options = Array.prototype.slice.call(select.options);
    tools.hidden = false;

    filter.addEventListener("input", function () {
      var words = filter.value.trim().toLowerCase().replace(/\s+/g, "_").split("_").filter(Boolean);
      var first = null;
      options.forEach(function (option) {
        var name = option.value.toLowerCase();
        var match = words.every(function (word) { return name.indexOf(word) !== -1; });
        option.hidden = !match;
        option.disabled = !match && option !== select.options[select.selectedIndex];
        if (match && !first) first = option;
      });
      if (first && select.options[select.selectedIndex].hidden) select.value = first.value;
    });

    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    var known = options.some(function (option) { return option.value === zone; });
    if (!known) {
      button.hidden = true;
      return;
    }
    button.textContent = button.textContent + " (" + zone + ")";
    button.addEventListener("click", function () {
      filter.value = "";
      options.forEach(function (option) { option.hidden = false; option.disabled = false; });
      select.value = zone;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });
})();
