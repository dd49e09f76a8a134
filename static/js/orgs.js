// The organization's usage-by-member bar chart (data in a json_script element, no inline JS).
(function () {
  "use strict";
  function draw() {
    var canvas = document.getElementById("by-member-chart");
    var source = document.getElementById("by-member-data");
    if (!canvas || !source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: [{ label: "credits", data: data.cost }] },
      options: { animation: false, plugins: { legend: { display: false } } },
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
