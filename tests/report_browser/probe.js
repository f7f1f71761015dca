// What the browser test reads from report.html's DOM (run through WebDriver's execute/sync).
// Returns plain JSON: the summary counts as rendered, the rows of #exceptions in their current
// order with their visibility, the bars of every chart and the #shown counter.
var counts = {};
document.querySelectorAll("[id^=count-]").forEach(function (cell) {
  counts[cell.id.slice("count-".length)] = Number(cell.textContent.trim());
});
var rows = Array.prototype.map.call(
  document.querySelectorAll("#exceptions tbody tr"),
  function (row) {
    return {
      id: row.getAttribute("data-id"),
      status: row.getAttribute("data-status"),
      reasons: (row.getAttribute("data-reason") || "").split(" ").filter(Boolean),
      visible: !row.hidden && row.offsetParent !== null,
      text: row.cells[10] ? row.cells[10].textContent.trim() : "",
    };
  }
);
var charts = {};
document.querySelectorAll("svg.chart").forEach(function (svg) {
  charts[svg.id] = {
    bars: svg.querySelectorAll(".bar").length,
    title: svg.querySelector("title") ? svg.querySelector("title").textContent : "",
    label: svg.getAttribute("aria-label"),
  };
});
return {
  counts: counts,
  completeness: document.getElementById("completeness").textContent.trim(),
  rows: rows,
  shown: Number(document.getElementById("shown").textContent.trim()),
  charts: charts,
  certificate: document.getElementById("certificate") !== null,
  legend: document.querySelectorAll("#legend tbody tr").length,
  errors: window.__recauditErrors || [],
};
