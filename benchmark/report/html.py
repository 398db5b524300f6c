"""`leaderboard.html`: everything `leaderboard.md` says, on one page that sorts, filters and opens each row.

One self-contained file: the style and a small script are inlined, the plots are linked relatively (they lie
beside it under `plots/`), nothing is fetched. Like the Markdown, the same runs always give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from html import escape

from benchmark.report import notes, tables
from benchmark.report.columns import main_table
from benchmark.report.format import group_title, place_title, plot_name, plural
from benchmark.report.page_assets import SCRIPT, STYLE
from benchmark.report.ranking import Entry, Group
from benchmark.report.runs import Run
from benchmark.report.sweeps import Sweep, curve_pairs, interleave
from benchmark.report.tables import Cell, Link, Strong, Table


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _inline(text: str) -> str:
    """A paragraph of notes.py, whose only Markdown is **strong** and `code`, as HTML."""
    html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", _e(text))
    return re.sub(r"`(.+?)`", r"<code>\1</code>", html)


def _sort_text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return format(value, ".12g")
    return "" if value is None else str(value)


def _cell(value: Cell, sort: object) -> str:
    attribute = "" if sort is None else f' data-sort="{_e(_sort_text(sort))}"'
    if isinstance(value, Strong):
        content = f"<strong>{_e(value.text)}</strong>"
    elif isinstance(value, Link):
        content = f'<a href="{_e(value.href)}">{_e(value.text)}</a>'
    else:
        content = _e(value)
    return f"<td{attribute}>{content}</td>"


def table_html(table: Table, *, filterable: bool = False, details: Callable[[Entry], str] | None = None) -> str:
    """A sortable table with one <tbody> per row, so that a row and its details move together."""
    classes = "sortable" + " filterable" * filterable + " ranked" * (details is not None)
    headers = "".join(
        f'<th scope="col" data-column="{i}" tabindex="0">{_e(h)}</th>' for i, h in enumerate(table.headers)
    )
    lines = [f'<div class="scroll"><table class="{classes}">', f"<thead><tr>{headers}</tr></thead>"]
    for i, row in enumerate(table.rows):
        keys = table.sort_keys[i] if table.sort_keys else (None,) * len(row)
        cells = "".join(_cell(value, key) for value, key in zip(row, keys, strict=True))
        if details and table.entries:
            lines.append(f'<tbody><tr class="opens" tabindex="0" aria-expanded="false">{cells}</tr>')
            lines.append(f'<tr class="details" hidden><td colspan="{len(row)}">{details(table.entries[i])}</td></tr>')
            lines.append("</tbody>")
        else:
            lines.append(f"<tbody><tr>{cells}</tr></tbody>")
    return "\n".join(lines + ["</table></div>"])


def _figure(src: str, caption: str) -> str:
    image = f'<img src="{_e(src)}" alt="{_e(caption)}" loading="lazy">'
    return f"<figure>{image}<figcaption>{_e(caption)}</figcaption></figure>"


def _entry_details(group: Group) -> Callable[[Entry], str]:
    base = f"plots/{group.slug}"

    def details(entry: Entry) -> str:
        runs = entry.runs
        facts = [
            ("seeds", " ".join(map(str, entry.seeds))),
            ("distinct results", f"{len(entry.distinct_runs)} of {plural(len(runs), 'run')}"),
            ("model loaded", runs[0].settings.get("backbone.source", "")),
            ("settings id", entry.settings_id),
        ]
        per_class = Table(
            ("class", "F1 (%)"),
            [(label, f"{100 * f1:.2f}") for label, f1 in zip(group.labels, entry.per_class_f1, strict=True)],
        )
        confusions, mistakes = tables.confusions_table(group, entry), tables.mistakes_table(group, entry)
        return "\n".join(
            [
                '<div class="detail-grid"><div>',
                '<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>",
                _figure(
                    f"{base}/{plot_name('confusion', entry)}",
                    f"{entry.label}: confusion matrix, counts summed over {plural(len(runs), 'run')}",
                ),
                "</div><div>",
                _figure(f"{base}/{plot_name('curves', entry)}", f"{entry.label}: training curves"),
                "<h4>Per-class F1</h4>",
                table_html(per_class),
                "</div><div>",
                "<h4>Most confused classes</h4>",
                table_html(confusions) if confusions else "<p>No confusions.</p>",
                "<h4>Most confident mistakes</h4>",
                table_html(mistakes) if mistakes else "<p>No mistakes.</p>",
                "</div></div>",
            ]
        )

    return details


def _group_html(group: Group, reported: Sequence) -> list[str]:
    base = f"plots/{group.slug}"
    parts = [
        f'<section id="{_e(group.slug)}">',
        f"<h2>{_e(group_title(group))}</h2>",
        f'<p class="muted">{_e(notes.summary(group))}</p>',
        '<p class="hint">Click a column header to sort; click a row for its confusion matrix, training curves, '
        "per-class F1 and error analysis.</p>",
        table_html(main_table(group), filterable=True, details=_entry_details(group)),
    ]
    if group.budget is not None:
        parts.append(f"<p>{_inline(notes.TUNED)}</p>")
        if group.budget < group.most_trials:
            parts.append(f"<p>{_inline(notes.fewer_trials(group, escape=str))}</p>")
    # The first paragraph explains every column and is the same in every group: folded, one click away.
    explained, *particular = notes.how_to_read(group, escape=str)  # the page escapes every text itself
    parts.append(f"<details><summary>How to read this table</summary><p>{_inline(explained)}</p></details>")
    parts += [f"<p>{_inline(paragraph)}</p>" for paragraph in particular]
    if group.pairs:
        parts += [f"<h3>{_e(notes.PAIRS)}</h3>", table_html(tables.pairs_table(group), filterable=True)]
    reproduction = tables.reproduction_table(group, reported)
    if reproduction is not None:
        parts += [
            "<h3>Reproduction check against published figures</h3>",
            f"<p>{_inline(notes.REPRODUCTION)}</p>",
            table_html(reproduction, filterable=True),
        ]
    parts += [
        "<h3>Per-class F1 (%), mean over runs</h3>",
        table_html(tables.per_class_table(group)),
        "<h3>Plots</h3>",
        '<div class="plots">',
        _figure(f"{base}/{plot_name('accuracy-vs-cost')}", "Accuracy against inference time per example"),
        _figure(f"{base}/{plot_name('per-class-f1')}", "Per-class F1"),
        "</div></section>",
    ]
    return parts


def _sweep_title(sweep: Sweep) -> str:
    return f"{place_title(sweep)} · tuning"


def _sweep_html(sweep: Sweep) -> list[str]:
    parts = [
        f'<section id="{_e(sweep.slug)}">',
        f"<h2>{_e(_sweep_title(sweep))}</h2>",
        f'<p class="muted">{_e(notes.sweep_summary(sweep))}</p>',
    ]
    if sweep.with_trials:
        parts += [
            "<h3>Expected validation performance</h3>",
            f"<p>{_inline(notes.EXPECTED)}</p>",
            '<div class="plots">',
            _figure(f"plots/{sweep.slug}/{plot_name('expected-validation')}", "Expected best dev score after k trials"),
            "</div>",
            table_html(tables.expected_table(sweep), filterable=True),
        ]
        sentences = [notes.pair_sentence(a, b) for a, b in curve_pairs(sweep)]
        if sentences:
            parts += [f"<p>{_e(notes.AHEAD)}</p>", "<ul>", *(f"<li>{_e(text)}</li>" for text in sentences), "</ul>"]
    chosen = tables.chosen_table(sweep)
    if chosen is not None:
        parts += [
            "<h3>Chosen settings against the recommended ones</h3>",
            f"<p>{_inline(notes.CHOSEN)}</p>",
            table_html(chosen, filterable=True),
        ]
    return parts + ["</section>"]


def _apart(heading: str, anchor: str, text: str, table: Table) -> list[str]:
    return [
        f'<section id="{anchor}">',
        f"<h2>{_e(heading)}</h2>",
        f"<p>{_inline(text)}</p>",
        table_html(table),
        "</section>",
    ]


def leaderboard_html(
    groups: Sequence[Group],
    runs: Sequence[Run],
    reported: Sequence,
    skipped: Sequence[str],
    failed: Sequence[str] = (),
    sweeps: Sequence[Sweep] = (),
) -> str:
    unranked = [r for r in runs if r.unranked and not r.smoke]
    smoke = [r for r in runs if r.smoke]
    placed = interleave(groups, sweeps)
    sections = [(s.slug, group_title(s) if isinstance(s, Group) else _sweep_title(s)) for s in placed]
    sections += [("not-ranked", "Not ranked")] * bool(unranked) + [("failed", "Failed runs")] * bool(failed)
    sections += [("smoke", "Smoke runs")] * bool(smoke)
    sections += [("reported", "Reported, not measured here")] + [("skipped", "Skipped files")] * bool(skipped)
    body = [
        f"<h1>{_e(notes.TITLE)}</h1>",
        f"<p>{_inline(notes.INTRO)}</p>",
        '<p class="muted">The same figures as files: <a href="leaderboard.md">leaderboard.md</a>, '
        '<a href="leaderboard.csv">leaderboard.csv</a>, <a href="leaderboard-pairs.csv">leaderboard-pairs.csv</a>, '
        '<a href="errors.md">errors.md</a>.</p>',
        '<div class="toolbar"><label>Filter rows: <input id="filter" type="search" '
        'placeholder="backbone or setting, e.g. bert"></label></div>',
        "<nav><ul>" + "".join(f'<li><a href="#{_e(a)}">{_e(t)}</a></li>' for a, t in sections) + "</ul></nav>",
    ]
    if not groups and not sweeps:
        body.append(f"<p>{_inline(notes.NO_RUNS)}</p>")
    across = tables.across_table(groups)
    if across is not None:
        body += ["<h2>Across datasets</h2>", f"<p>{_inline(notes.ACROSS)}</p>", table_html(across, filterable=True)]
    for section in placed:
        body += _group_html(section, reported) if isinstance(section, Group) else _sweep_html(section)
    if unranked:
        body += _apart("Not ranked", "not-ranked", notes.UNRANKED, tables.runs_apart_table(unranked, why=True))
    if failed:
        body += ['<section id="failed" class="apart">', "<h2>Failed runs</h2>", f"<p>{_inline(notes.FAILED)}</p>"]
        body += ["<ul>", *(f"<li>{_inline(line)}</li>" for line in failed), "</ul></section>"]
    if smoke:
        body += _apart(
            "Smoke runs (pipeline checks, not benchmarks)", "smoke", notes.SMOKE, tables.runs_apart_table(smoke)
        )
    body += [
        '<section id="reported" class="apart">',
        "<h2>Reported, not measured here</h2>",
        f"<p>{_inline(notes.REPORTED)}</p>",
    ]
    if not reported:
        body.append(f"<p>{_inline(notes.NO_REPORTED)}</p>")
    for dataset, figures in tables.reported_by_dataset(reported).items():
        body += [f"<h3>{_e(dataset)}</h3>", table_html(tables.reported_table(figures))]
    body.append("</section>")
    if skipped:
        body += [
            '<section id="skipped">',
            "<h2>Skipped files</h2>",
            "<ul>",
            *(f"<li>{_inline(s)}</li>" for s in skipped),
            "</ul></section>",
        ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(notes.TITLE)}</title>",
            f"<style>{STYLE}</style>",
            "<noscript><style>tr.details[hidden] { display: table-row; }</style></noscript>",
            "</head>",
            "<body>",
            *body,
            f"<script>{SCRIPT}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
