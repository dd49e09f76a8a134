// Filter forms (request log, usage page): the From/To dates show only while the range is
// "Custom". The server renders them hidden already; this keeps them in step with the select.
(function () {
  "use strict";
  function sync(select) {
    var form = select.form;
    if (!form) return;
    var custom = select.value === "custom";
    form.querySelectorAll("[data-custom-range]").forEach(function (field) {
      field.hidden = !custom;
    });
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches("select[name=range]")) sync(target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[name=range]").forEach(sync);
  });
})();
