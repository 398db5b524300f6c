"""The leaderboard page's style and script, inlined into the page so it works offline from a single file.

The font list names fonts that cover Chinese (Noto Sans CJK SC is Debian's `fonts-noto-cjk`), so class names and
texts render wherever one of them is installed.
"""

STYLE = """
:root { --line: #d0d7de; --muted: #57606a; --accent: #0969da; --band: #f6f8fa; --apart: #fff8c5; }
body {
  font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "Noto Sans SC",
    "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif;
  color: #1f2328; line-height: 1.5; margin: 0 auto; max-width: 1500px; padding: 1rem 1.5rem 3rem;
}
h1, h2, h3 { line-height: 1.25; }
h2 { border-bottom: 1px solid var(--line); margin-top: 2.5rem; padding-bottom: .3rem; }
a { color: var(--accent); }
code { background: var(--band); border-radius: 4px; font-size: .88em; padding: .1em .3em; }
.muted, .hint { color: var(--muted); }
.hint { font-size: .9rem; }
nav ul { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; list-style: none; padding: 0; }
.toolbar { align-items: center; display: flex; flex-wrap: wrap; gap: 1rem; margin: 1rem 0; }
#filter { border: 1px solid var(--line); border-radius: 6px; font: inherit; min-width: 18rem; padding: .35rem .6rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .88rem; margin: .6rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .3rem .55rem; text-align: left; vertical-align: top; }
thead th { background: var(--band); cursor: pointer; position: sticky; top: 0; user-select: none; white-space: nowrap; }
thead th::after { color: var(--muted); content: " \\2195"; font-size: .8em; }
thead th[aria-sort="ascending"]::after { color: var(--accent); content: " \\25B2"; }
thead th[aria-sort="descending"]::after { color: var(--accent); content: " \\25BC"; }
tr.opens { cursor: pointer; }
tr.opens:hover, tr.opens:focus { background: #eef6ff; outline: none; }
tr.opens > td:first-child::before { color: var(--muted); content: "\\25B8  "; }
tr.opens[aria-expanded="true"] > td:first-child::before { content: "\\25BE  "; }
tr.details > td { background: #fbfcfd; padding: 1rem; }
table.ranked > tbody > tr.opens > td { white-space: nowrap; }
/* A wide table scrolls sideways; its details stay in view at the left edge, as wide as the window. */
.detail-grid {
  display: grid; gap: 1rem 1.5rem; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr));
  left: 1rem; max-width: calc(100vw - 5rem); position: sticky;
}
.detail-grid h4 { margin: .2rem 0; }
figure { margin: 0 0 1rem; }
figure img { border: 1px solid var(--line); height: auto; max-width: 100%; }
figcaption { color: var(--muted); font-size: .85rem; }
.plots { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
.apart { background: var(--apart); border-left: 4px solid #bf8700; padding: .2rem 1rem 1rem; }
dl.facts { display: grid; gap: .1rem .8rem; grid-template-columns: max-content 1fr; margin: 0 0 .8rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
"""

# Sorting moves whole <tbody> elements, so a row's details travel with it; blanks sort last either way.
SCRIPT = """
"use strict";
(function () {
  function key(body, column) {
    const cell = body.rows[0].cells[column];
    const raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (raw === "") return null;
    const number = Number(raw);
    return Number.isNaN(number) ? raw.toLowerCase() : number;
  }
  function compare(a, b) {
    if (typeof a !== typeof b) return typeof a === "number" ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  function sort(header) {
    const table = header.closest("table");
    const column = Number(header.dataset.column);
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const bodies = Array.from(table.tBodies);
    bodies.sort(function (x, y) {
      const a = key(x, column), b = key(y, column);
      if (a === null || b === null) return (a === null) - (b === null);
      return ascending ? compare(a, b) : compare(b, a);
    });
    for (const body of bodies) table.appendChild(body);
  }
  function toggle(row) {
    const details = row.nextElementSibling;
    details.hidden = !details.hidden;
    row.setAttribute("aria-expanded", String(!details.hidden));
  }
  document.querySelectorAll("table.sortable > thead th").forEach(function (header) {
    header.addEventListener("click", function () { sort(header); });
    header.addEventListener("keydown", function (event) { if (event.key === "Enter") sort(header); });
  });
  document.querySelectorAll("tr.opens").forEach(function (row) {
    row.addEventListener("click", function (event) { if (!event.target.closest("a")) toggle(row); });
    row.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(row); }
    });
  });
  const filter = document.getElementById("filter");
  filter.addEventListener("input", function () {
    const wanted = filter.value.trim().toLowerCase();
    document.querySelectorAll("table.filterable > tbody").forEach(function (body) {
      body.hidden = wanted !== "" && !body.rows[0].textContent.toLowerCase().includes(wanted);
    });
  });
})();
"""
