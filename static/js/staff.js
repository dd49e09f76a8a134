// Staff console charts (Chart.js, vendored): revenue, upstream cost and margin per period, in
// credits. Reads the JSON the page embeds (µcr).
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("staff-chart-data");
    if (!source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-staff-chart]").forEach(function (canvas) {
      var series = data[canvas.dataset.staffChart];
      if (!series) return;
      var credits = function (values) { return values.map(function (v) { return v / 1e6; }); };
      new Chart(canvas, {
        type: "bar",
        data: {
          labels: series.labels,
          datasets: [
            { label: "Revenue", data: credits(series.revenue), backgroundColor: "#4f46e5" },
            { label: "Upstream cost", data: credits(series.upstream_cost), backgroundColor: "#f59e0b" },
            { label: "Margin", data: credits(series.margin), type: "line", borderColor: "#10b981", backgroundColor: "#10b981" },
          ],
        },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          interaction: { mode: "index", intersect: false },
          plugins: { legend: { position: "bottom" } },
          scales: { x: { ticks: { maxRotation: 0, autoSkip: true } }, y: { beginAtZero: true, title: { display: true, text: "credits" } } },
        },
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
