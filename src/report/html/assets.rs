//! The inline CSS and JavaScript of report.html. Constants, never formatted with data: the
//! script reads what it needs from the DOM, so nothing from a payload can reach it as code.

/// Screen, phone (the tables scroll sideways inside `.scroll`) and print styles. Print drops
/// the controls, repeats table headers on every page and never splits a row.
pub(super) const CSS: &str = r#"
:root{--fg:#1b1f23;--muted:#57606a;--line:#d0d7de;--complete:#2da44e;--exception:#cf222e;--pending:#bf8700;--excluded:#8c959f;--not-required:#6e7781;--other:#8250df}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);margin:0 auto;padding:12px;max-width:1400px}
h1{font-size:1.5em;margin:.2em 0 .5em;word-break:break-all}
h2{font-size:1.2em;border-bottom:1px solid var(--line);padding-bottom:.2em;margin-top:1.6em}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
code{word-break:break-all}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:8px;border:1px solid var(--line)}
dl.facts{display:grid;grid-template-columns:minmax(10em,max-content) 1fr;gap:2px 12px;margin:0}
dl.facts dt{font-weight:600;color:var(--muted)}
dl.facts dd{margin:0;min-width:0}
.banner{border:2px solid var(--pending);background:#fff8c5;padding:8px 12px;margin:8px 0;font-weight:600}
.banner.partial{border-color:var(--exception);background:#ffebe9;font-size:1.15em}
.note{color:var(--muted)}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;margin:6px 0}
th,td{border:1px solid var(--line);padding:3px 6px;vertical-align:top;text-align:left}
thead th{background:#f6f8fa}
td.num,th.num{text-align:right}
td.detail{min-width:22em}
td.hash code{font-size:.8em}
th .label{display:none}
th button{font:inherit;font-weight:600;border:0;background:none;padding:0;cursor:pointer;color:inherit;text-align:left}
th[aria-sort=ascending] button::after{content:" \25B2"}
th[aria-sort=descending] button::after{content:" \25BC"}
.controls{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin:6px 0}
.controls input{min-width:16em}
.completeness{font-size:1.1em}
figure{margin:10px 0}
svg.chart{width:100%;max-width:960px;height:auto;font:12px ui-monospace,Menlo,Consolas,monospace}
svg.chart .value{fill:var(--muted)}
.complete{fill:var(--complete);background:var(--complete)}
.exception{fill:var(--exception);background:var(--exception)}
.pending{fill:var(--pending);background:var(--pending)}
.excluded{fill:var(--excluded);background:var(--excluded)}
.not-required{fill:var(--not-required);background:var(--not-required)}
.other{fill:var(--other);background:var(--other)}
.swatch{display:inline-block;width:.9em;height:.9em;vertical-align:middle;margin:0 .2em 0 .6em}
@media (max-width:640px){body{padding:6px;font-size:13px}dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:4px}}
@media print{
 @page{margin:12mm}
 body{max-width:none;padding:0;font-size:9pt}
 .controls,th button::after{display:none}
 .scroll{overflow:visible}
 table{width:100%}
 th button{display:none}
 th .label{display:inline}
 th,td{padding:2px 3px}
 td code,td small{overflow-wrap:anywhere;word-break:break-all}
 td.detail{min-width:0}
 svg.chart{max-width:100%}
 thead{display:table-header-group}
 tr,figure,.banner{break-inside:avoid;page-break-inside:avoid}
 h2{break-after:avoid;page-break-after:avoid}
 a{color:inherit;text-decoration:none}
 details>pre{display:block}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"#;

/// Sorting (click a header; again to reverse; ties keep the reading order) and filtering (the
/// text box over a row's text, the reason and status selects) of `#exceptions`; `#shown`
/// counts the rows left visible. ES5, no globals, no data.
pub(super) const JS: &str = r#"
(function () {
  "use strict";
  var table = document.getElementById("exceptions");
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var text = document.getElementById("filter");
  var reason = document.getElementById("reason-filter");
  var status = document.getElementById("status-filter");
  var shown = document.getElementById("shown");
  function apply() {
    var query = text.value.trim().toLowerCase(), wanted = reason.value, state = status.value, count = 0;
    rows.forEach(function (row) {
      var reasons = " " + (row.getAttribute("data-reason") || "") + " ";
      var visible = (!query || row.textContent.toLowerCase().indexOf(query) >= 0) &&
        (!wanted || reasons.indexOf(" " + wanted + " ") >= 0) &&
        (!state || row.getAttribute("data-status") === state);
      row.hidden = !visible;
      if (visible) { count += 1; }
    });
    shown.textContent = String(count);
  }
  function key(row, index) {
    var cell = row.cells[index];
    if (!cell) { return ""; }
    var stated = cell.getAttribute("data-key");
    return stated === null ? cell.textContent.trim().toLowerCase() : stated;
  }
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  headers.forEach(function (header, index) {
    var button = header.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var ascending = header.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var numeric = header.getAttribute("data-type") === "number";
      var sorted = Array.prototype.slice.call(body.rows).sort(function (a, b) {
        var x = key(a, index), y = key(b, index), order;
        if (numeric) { order = Number(x) - Number(y); } else { order = x < y ? -1 : (x > y ? 1 : 0); }
        if (order === 0) { order = Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order")); return order; }
        return ascending ? order : -order;
      });
      sorted.forEach(function (row) { body.appendChild(row); });
    });
  });
  text.addEventListener("input", apply);
  reason.addEventListener("change", apply);
  status.addEventListener("change", apply);
  apply();
}());
"#;
