"""The report page's CSS and JavaScript, inlined into every page (no server, no CDN).

The page reads fully without JavaScript; the script only adds a filter (steps that changed
parameters), jumps from a chart point to its step, and marks the page ready
(``<html data-ready="true">``) so a headless browser test can tell it ran.
"""

from __future__ import annotations

__all__ = ["CSS", "JS"]

CSS = """
:root { --fg: #1d2430; --muted: #5b6675; --line: #dde2ea; --add: #d9f5e0; --del: #ffe0e0; --accent: #2a5db0; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0; background: #f7f8fa; }
main { max-width: 980px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; } .subtitle { font-size: 16px; margin: 0 0 8px; } h2 { font-size: 18px; margin: 28px 0 8px; }
section, details.step { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 10px 0; }
table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
pre { white-space: pre-wrap; word-break: break-word; margin: 4px 0; font: 13px/1.45 ui-monospace, Menlo, Consolas, monospace; }
.muted { color: var(--muted); } .big { font-size: 28px; font-weight: 700; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; } .card { flex: 1 1 120px; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.charts { display: flex; gap: 12px; flex-wrap: wrap; } .chart { background: #fff; border: 1px solid var(--line); border-radius: 8px; max-width: 100%; height: auto; }
.chart .grid { stroke: #eef0f4; } .chart .tick { font-size: 11px; fill: var(--muted); } .chart .legend { font-size: 12px; font-weight: 600; } .chart .caption { font-size: 13px; font-weight: 600; fill: var(--fg); }
.chart .point { cursor: pointer; } .chart .bar { cursor: pointer; opacity: .85; }
.words { font: 13px/1.6 ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap; }
del.del, .lines .del { background: var(--del); text-decoration: line-through; } ins.add, .lines .add { background: var(--add); text-decoration: none; }
.lines span { display: block; } .lines .ctx { color: var(--muted); }
details.step summary { cursor: pointer; font-weight: 600; } details.step[data-changed="0"] summary { color: var(--muted); font-weight: 400; }
details.step.flash { outline: 3px solid var(--accent); }
.param { margin: 8px 0; } .param b { font-family: ui-monospace, Menlo, Consolas, monospace; }
.graph svg { max-width: 100%; height: auto; }
footer { color: var(--muted); font-size: 12px; margin: 32px 0 8px; }
"""

JS = """
(function () {
  var steps = Array.prototype.slice.call(document.querySelectorAll("details.step"));
  var filter = document.getElementById("only-changed");
  function apply() {
    steps.forEach(function (s) { s.hidden = filter.checked && s.dataset.changed !== "1"; });
  }
  if (filter) { filter.disabled = false; filter.addEventListener("change", apply); }
  document.querySelectorAll(".chart [data-step]").forEach(function (el) {
    el.addEventListener("click", function () {
      var target = document.getElementById("step-" + el.getAttribute("data-step"));
      if (!target) { return; }
      target.hidden = false; target.open = true; target.scrollIntoView({ block: "center" });
      target.classList.add("flash"); setTimeout(function () { target.classList.remove("flash"); }, 1200);
    });
  });
  var status = document.getElementById("js-status");
  if (status) { status.hidden = true; }  // it says JavaScript is off; it is on
  document.documentElement.setAttribute("data-ready", "true");
})();
"""
