"""`etl report`: one self-contained HTML page with plots of what the warehouse holds.

The page carries plotly.js inline and every figure as JSON, so it opens anywhere without a network:
the negatives' similarity histogram with the band edges, band shares overall and per split (with
the negatives' language pairs per band), positives per anchor, members per anchor in each band
(anchor_bands), the downstream probe of the triplets (probe_results), the synthesis per category
(seed and expanded terms, translated, sentences), rejects by step and rule, LLM calls by status with
latency and token percentiles, and the last runs. A section
with nothing to draw says why. The figures are built from aggregates computed in DuckDB
(sql/report_*.sql), so the page's size and build time hardly grow with the data.

The page reports its own health for whoever opens it headless: `#page-errors` collects any script
error, and `#render-status` gets `data-rendered` = the number of plots drawn once all are done.

Write mode: replace the file (written beside it, then renamed over it). Reads the warehouse only
and records no run, like `etl status`.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl import install_hint
from etl.config import Settings
from etl.errors import EtlError
from etl.output import StepResult
from etl.warehouse import Warehouse

_NUMBER = re.compile(r"-?[\d,]+(\.\d+)?")

if TYPE_CHECKING:
    from etl.steps.report.figures import Section

BIN_WIDTH = 0.02
LAST_RUNS = 20
TOTALS = ("terms", "synonym_pairs", "term_embeddings", "negatives", "triplets", "rejects", "llm_calls", "runs")


@dataclass
class Data:
    """Everything the page shows, read from the warehouse as small aggregates."""

    warehouse: str
    totals: dict[str, int]
    mine_run_id: int | None = None
    mine_counts: dict[str, Any] = field(default_factory=dict)
    width: float = BIN_WIDTH
    histogram: list[tuple[str, int, int]] = field(default_factory=list)  # (band, bin, negatives)
    shares: list[tuple[str, str, int]] = field(default_factory=list)  # (split, difficulty, triplets)
    populations: list[dict[str, Any]] = field(default_factory=list)  # per band: members per anchor, from anchor_bands
    languages: dict[str, dict[str, int]] = field(default_factory=dict)  # per band: negatives per language pair
    positives: list[tuple[int, int]] = field(default_factory=list)  # (positives, anchors)
    categories: list[dict[str, Any]] = field(default_factory=list)  # per synthesis category: seeds, ..., sentences
    probe: list[tuple[str, str, str, float]] = field(default_factory=list)  # (arm, pool, metric, value)
    probe_run: dict[str, Any] = field(default_factory=dict)  # the probe run's id, params and counts
    judge: dict[str, Any] | None = None  # what the LLM judge found (etl.negatives.judgements), None: never ran
    rejects: list[tuple[str, str, int]] = field(default_factory=list)  # (step, rule, rows)
    llm: list[dict[str, Any]] = field(default_factory=list)  # per (task, status)
    runs: list[dict[str, Any]] = field(default_factory=list)  # newest first

    def band_edges(self) -> set[float]:
        """Every band edge of the mine run's configuration (as used, so calibrated edges too)."""
        bands = self.mine_counts.get("config", {}).get("bands", {})
        return {float(edge) for pair in bands.values() for edge in pair}


def default_path(settings: Settings) -> Path:
    """Where the page goes when no --out is given: beside the warehouse, with the exports."""
    return Path(settings.warehouse).parent / "exports" / "report.html"


def run(wh: Warehouse, settings: Settings, out: Path | None = None) -> StepResult:
    """Build the page from the warehouse and write it to `out`."""
    started = time.monotonic()
    plotly_js = _plotly_js()
    path = Path(out) if out is not None else default_path(settings)
    if path.is_dir():
        raise EtlError(f"{path} is a directory; give --out a file name such as {path / 'report.html'}")
    data = collect(wh)
    from etl.steps.report.figures import sections

    parts = sections(data)
    page = render(data, parts, plotly_js)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, path)
    drawn = [s.title for s in parts if s.figure is not None]
    empty = [s.title for s in parts if s.figure is None]
    size = len(page.encode())
    summary = StepResult(
        f"report: {path} ({size / 1e6:.1f} MB) in {time.monotonic() - started:.1f}s",
        step="report",  # the page is a view of the warehouse, which it only reads: no run is recorded
        counts={"plots": len(drawn), "empty_sections": len(empty), "bytes": size},
        outputs=[path],
    )
    summary.add("plots", f"{len(drawn)}: {', '.join(drawn) or 'none'}")
    if empty:
        summary.add("nothing to draw", ", ".join(empty))
    return summary.add("open", f"file://{path.resolve()}")


def collect(wh: Warehouse) -> Data:
    """Read the aggregates the page needs."""
    # Identifiers cannot be bound; only the fixed names in TOTALS are queried.
    data = Data(str(wh.path), {table: int(wh.scalar(f"SELECT count(*) FROM {table}")) for table in TOTALS})
    data.mine_run_id, data.mine_counts = _mine_run(wh)
    data.histogram = [
        (b, int(i), int(n)) for b, i, n in wh.sql_file("report_negative_histogram", {"width": BIN_WIDTH}).fetchall()
    ]
    data.shares = [(s, d, int(n)) for s, d, n in wh.sql_file("report_band_shares").fetchall()]
    if data.totals["negatives"]:
        from etl.negatives import judgements, landed_pairs

        data.languages = landed_pairs(wh)
        data.judge = judgements(wh)
    data.positives = [(int(p), int(a)) for p, a in wh.sql_file("report_positives_per_anchor").fetchall()]
    cursor = wh.sql_file("report_band_population")
    names = [d[0] for d in cursor.description]
    data.populations = [dict(zip(names, row)) for row in cursor.fetchall()]
    cursor = wh.sql_file("synth_per_category")
    names = [d[0] for d in cursor.description]
    data.categories = [dict(zip(names, row)) for row in cursor.fetchall()]
    if data.mine_run_id is not None:
        rows = wh.sql_file("probe_latest", {"mine_run_id": data.mine_run_id}).fetchall()
        data.probe = [(arm, pool, metric, float(value)) for *_, arm, pool, metric, value in rows]
        if rows:
            data.probe_run = {"run_id": rows[0][0], **json.loads(rows[0][1] or "{}"), **json.loads(rows[0][2] or "{}")}
    data.rejects = [
        (s, r, int(n))
        for s, r, n in wh.execute(
            "SELECT step, rule, count(*) FROM rejects GROUP BY ALL ORDER BY 3 DESC, 1, 2"
        ).fetchall()
    ]
    cursor = wh.sql_file("report_llm_calls")
    names = [d[0] for d in cursor.description]
    data.llm = [dict(zip(names, row)) for row in cursor.fetchall()]
    cursor = wh.sql_file("report_last_runs", {"limit": LAST_RUNS})
    names = [d[0] for d in cursor.description]
    data.runs = [dict(zip(names, row)) for row in cursor.fetchall()]
    return data


def _mine_run(wh: Warehouse) -> tuple[int | None, dict[str, Any]]:
    """The mine run that landed the triplets (else the last successful one) and its counts."""
    run_id = wh.scalar("SELECT max(run_id) FROM triplets")
    if run_id is None:
        run_id = wh.scalar("SELECT max(run_id) FROM runs WHERE step = 'mine' AND status = 'ok'")
    if run_id is None:
        return None, {}
    counts = wh.scalar("SELECT counts FROM runs WHERE run_id = ?", [run_id])
    return int(run_id), json.loads(counts or "{}")


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:
        raise EtlError(
            f"`etl report` draws its plots with plotly, which is not installed; run {install_hint('report')}"
        ) from exc
    return get_plotlyjs()


# Collects script errors before anything else runs, so a failure anywhere on the page is visible.
_ERROR_CATCHER = """
window.pageErrors = [];
function showPageErrors() {
  var box = document.getElementById('page-errors');
  if (box) { box.textContent = window.pageErrors.join('\\n'); box.hidden = window.pageErrors.length === 0; }
}
window.addEventListener('error', function (e) { window.pageErrors.push(String(e.message)); showPageErrors(); });
window.addEventListener('unhandledrejection', function (e) { window.pageErrors.push(String(e.reason)); showPageErrors(); });
"""

# Draws every figure, then records how many were drawn.
_DRAW = """
(function () {
  var status = document.getElementById('render-status');
  var specs = Array.prototype.slice.call(document.querySelectorAll('script.figure'));
  showPageErrors();
  Promise.all(specs.map(function (spec) {
    var figure = JSON.parse(spec.textContent);
    return Plotly.newPlot(spec.dataset.target, figure.data, figure.layout, {displaylogo: false, responsive: true});
  })).then(function () {
    status.dataset.rendered = String(specs.length);
    status.textContent = specs.length + ' plots drawn';
  }).catch(function (e) { window.pageErrors.push('plot failed: ' + e); showPageErrors(); });
})();
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .meta { color: #666; margin-top: 0; }
section { margin: 2rem 0; border-top: 1px solid #ddd; padding-top: 0.5rem; }
.note { color: #555; } .empty { color: #8a5a00; background: #fff6e0; padding: 0.8rem; border-radius: 4px; }
table { border-collapse: collapse; font-size: 0.85rem; margin-top: 0.5rem; }
td, th { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; } th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
#page-errors { color: #b00020; white-space: pre-wrap; } #render-status { color: #888; font-size: 0.8rem; }
"""


def render(data: Data, parts: list[Section], plotly_js: str) -> str:
    """The whole page as one HTML string."""
    import plotly.io as pio

    body = []
    for part in parts:
        chunk = [f'<section id="{part.key}" data-plot="{part.key}"><h2>{html.escape(part.title)}</h2>']
        if part.figure is None:
            chunk.append(f'<p class="empty">{html.escape(part.note)}</p>')
        else:
            chunk.append(f'<p class="note">{html.escape(part.note)}</p>')
            chunk.append(f'<div class="plot" id="plot-{part.key}"></div>')
            # "<" only occurs inside JSON strings; as \u003c no text can end the script element early.
            spec = pio.to_json(part.figure, validate=False, engine="json").replace("<", "\\u003c")
            chunk.append(
                f'<script type="application/json" class="figure" data-target="plot-{part.key}">{spec}</script>'
            )
            if part.table:
                chunk.append(_table(part.table))
        chunk.append("</section>")
        body.append("\n".join(chunk))
    totals = _table([list(data.totals), [f"{n:,}" for n in data.totals.values()]])
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>etl report — {html.escape(Path(data.warehouse).name)}</title>",
            f"<style>{_STYLE}</style>",
            f"<script>{_ERROR_CATCHER}</script>",
            f"<script>{plotly_js}</script>",
            "</head><body>",
            '<div id="page-errors" hidden></div>',
            "<h1>etl report</h1>",
            f'<p class="meta">{html.escape(data.warehouse)} · generated {generated}</p>',
            totals,
            *body,
            f'<p id="render-status" data-expected="{sum(p.figure is not None for p in parts)}">drawing…</p>',
            f"<script>{_DRAW}</script>",
            "</body></html>",
            "",
        ]
    )


def _table(rows: list[list[Any]]) -> str:
    head, *rest = rows
    out = ["<table><tr>", *(f"<th>{html.escape(str(h))}</th>" for h in head), "</tr>"]
    for row in rest:
        out.append("<tr>" + "".join(_cell(v) for v in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _cell(value: Any) -> str:
    """A table cell: numbers right-aligned so their digits line up, text left-aligned."""
    text = str(value)
    numeric = isinstance(value, (int, float)) or bool(_NUMBER.fullmatch(text))
    return f'<td class="num">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>"
