// Usage charts (Chart.js, vendored). Reads the JSON the page embeds; redraws after htmx swaps.
// Each canvas sits in a .chart-box of fixed height (site.css), so a chart keeps a real plot
// whatever its legend needs: the legend goes below the plot and scrolls no further than that.
(function () {
  "use strict";
  var charts = [];
  var palette = [
    "#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#f97316",
    "#ec4899", "#84cc16", "#06b6d4", "#a855f7", "#64748b", "#eab308", "#22c55e", "#e11d48",
  ];

  function compact(value) {
    var abs = Math.abs(value);
    if (abs >= 1e9) return (value / 1e9).toFixed(1).replace(/\.0$/, "") + "G";
    if (abs >= 1e6) return (value / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
    if (abs >= 1e4) return (value / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
    if (abs >= 100 || abs === 0) return String(Math.round(value));
    if (abs >= 1) return value.toFixed(2).replace(/\.?0+$/, "");
    return value.toPrecision(2);
  }

  function legend() {
    return {
      position: "bottom",
      labels: { boxWidth: 12, boxHeight: 12, padding: 10, usePointStyle: false },
    };
  }

  function baseOptions() {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: legend(), tooltip: { itemSort: function (a, b) { return b.raw - a.raw; } } },
    };
  }

  // Category labels counted back from the last one, so the newest bar (today, this hour)
  // always has its date; the others every ``step`` bars as the width allows.
  function xTicks(labels, canvas) {
    var width = (canvas && canvas.parentNode && canvas.parentNode.clientWidth) || 600;
    var longest = labels.reduce(function (n, l) { return Math.max(n, String(l).length); }, 1);
    var fit = Math.max(2, Math.floor(width / (longest * 7 + 16)));
    var step = Math.max(1, Math.ceil(labels.length / fit));
    return {
      maxRotation: 0,
      autoSkip: false,
      callback: function (value, index) {
        return (labels.length - 1 - index) % step === 0 ? labels[index] : null;
      },
    };
  }

  function title(text) {
    return text ? { display: true, text: text } : { display: false };
  }

  function stacked(labels, groups, canvas) {
    var options = baseOptions();
    var unit = canvas && canvas.getAttribute("data-unit");
    options.scales = {
      x: { stacked: true, ticks: xTicks(labels, canvas) },
      y: { stacked: true, beginAtZero: true, grace: "5%", title: title(unit),
           ticks: { callback: compact, maxTicksLimit: 6 } },
    };
    return {
      type: "bar",
      data: {
        labels: labels,
        datasets: Object.keys(groups).map(function (name, i) {
          return { label: name, data: groups[name], backgroundColor: palette[i % palette.length], stack: "s" };
        }),
      },
      options: options,
    };
  }

  function requests(labels, data, names, canvas) {
    var options = baseOptions();
    options.scales = {
      x: { ticks: xTicks(labels, canvas) },
      y: { beginAtZero: true, grace: "5%", title: title(canvas && canvas.getAttribute("data-unit")),
           ticks: { callback: compact, maxTicksLimit: 6, precision: 0 } },
      y1: { position: "right", beginAtZero: true, max: 100, grid: { drawOnChartArea: false },
            title: title(names.errors),
            ticks: { callback: function (v) { return v + "%"; } } },
    };
    return {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          { label: names.requests, data: data.requests, backgroundColor: "#4f46e5", yAxisID: "y", order: 2 },
          { label: names.errors, data: data.error_rate, type: "line", borderColor: "#ef4444",
            backgroundColor: "#ef4444", pointRadius: 2, yAxisID: "y1", order: 1 },
        ],
      },
      options: options,
    };
  }

  function draw() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var source = document.getElementById("usage-chart-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var section = document.querySelector(".charts");
    var names = {
      requests: (section && section.getAttribute("data-requests-label")) || "Requests",
      errors: (section && section.getAttribute("data-error-rate-label")) || "Error rate %",
    };
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var kind = canvas.getAttribute("data-chart");
      var config;
      if (kind === "cost") config = stacked(data.labels, data.cost, canvas);
      else if (kind === "tokens") config = stacked(data.labels, data.token_split || data.tokens, canvas);
      else config = requests(data.labels, data, names, canvas);
      charts.push(new window.Chart(canvas, config));
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
