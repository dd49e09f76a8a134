// Usage charts (Chart.js, vendored). Reads the JSON the page embeds; redraws after htmx swaps.
(function () {
  "use strict";
  var charts = [];
  var palette = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#f97316"];

  function stacked(labels, groups) {
    return {
      type: "bar",
      data: {
        labels: labels,
        datasets: Object.keys(groups).map(function (name, i) {
          return { label: name, data: groups[name], backgroundColor: palette[i % palette.length], stack: "s" };
        }),
      },
      options: { responsive: true, animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    };
  }

  function draw() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var source = document.getElementById("usage-chart-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var kind = canvas.getAttribute("data-chart");
      var config;
      if (kind === "cost") config = stacked(data.labels, data.cost);
      else if (kind === "tokens") config = stacked(data.labels, data.tokens);
      else config = {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [
            { label: "Requests", data: data.requests, backgroundColor: "#4f46e5", yAxisID: "y" },
            { label: "Error rate %", data: data.error_rate, type: "line", borderColor: "#ef4444", yAxisID: "y1" },
          ],
        },
        options: { responsive: true, animation: false, scales: { y: { beginAtZero: true }, y1: { position: "right", beginAtZero: true, max: 100 } } },
      };
      charts.push(new window.Chart(canvas, config));
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
