"""The plots of `etl report`, as plotly figures built from what `etl.steps.report.collect` read.

Every function takes the collected data and returns a Section: a figure, or no figure and a note
saying why there is nothing to draw (no triplets, no LLM calls, no mine run yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from etl.steps.report import Data

BAND_COLOURS = {"easy": "#4c9f70", "medium": "#e0a030", "hard": "#c8553d", "other": "#9a9a9a"}
STATUS_COLOURS = {"ok": "#4c9f70", "failed": "#c8553d", "running": "#e0a030"}
SPLITS = ("all", "train", "validation")
PERCENTILES = ("p50", "p90", "p99")
ARMS = ("untrained", "mined", "random", "unjudged")  # unjudged: only where the judge took negatives out
ARM_COLOURS = {"untrained": "#9a9a9a", "mined": "#4a6fa5", "random": "#e0a030", "unjudged": "#c8553d"}
POOLS = ("target", "mixed")
PROBE_METRICS = ("mrr@10", "recall@1", "recall@10")


@dataclass
class Section:
    """One part of the page: a heading, a line of context, and a figure or the reason there is none."""

    key: str
    title: str
    note: str
    figure: go.Figure | None = None
    table: list[list[Any]] = field(default_factory=list)  # header row first; rendered under the figure


def sections(data: Data) -> list[Section]:
    """Every section of the page, in order."""
    from etl.steps.report.activity import categories, judge, last_runs, llm_calls, rejects

    return [
        negatives(data),
        bands(data),
        positives(data),
        population(data),
        *([judge(data)] if data.judge else []),  # only where the judge ran
        probe(data),
        categories(data),
        rejects(data),
        llm_calls(data),
        last_runs(data),
    ]


def layout(fig: go.Figure, height: int = 360, **extra: Any) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        template="plotly_white",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "traceorder": "normal"},
        **extra,
    )
    return fig


def negatives(data: Data) -> Section:
    """Histogram of the negatives' cosine similarity, stacked by band, with the band edges drawn."""
    import plotly.graph_objects as go

    title = "Similarity of the negatives"
    if not data.histogram:
        return Section("negatives", title, "No negatives yet: run `etl mine`.")
    fig = go.Figure()
    for band in [*BAND_COLOURS, *sorted({b for b, _, _ in data.histogram} - set(BAND_COLOURS))]:
        rows = [(bin_, n) for b, bin_, n in data.histogram if b == band]
        if rows:
            fig.add_bar(
                x=[(bin_ + 0.5) * data.width for bin_, _ in rows],
                y=[n for _, n in rows],
                name=band,
                width=data.width,
                marker_color=BAND_COLOURS.get(band),
            )
    edges = data.band_edges()
    for edge in sorted(edges):
        fig.add_vline(
            x=edge, line_dash="dash", line_color="#333", annotation_text=f"{edge:g}", annotation_position="top"
        )
    note = (
        f"{sum(n for _, _, n in data.histogram):,} negatives, bins of {data.width:g}; dashed lines: the band "
        f"edges of mine run {data.mine_run_id}."
        if edges
        else "The mine run's band edges were not recorded."
    )
    layout(fig, barmode="stack", bargap=0, xaxis_title="cosine similarity to the anchor", yaxis_title="negatives")
    return Section("negatives", title, note, fig)


def bands(data: Data) -> Section:
    """Share of triplets per difficulty band, overall and per split."""
    import plotly.graph_objects as go

    title = "Band shares, overall and per split"
    if not data.shares:
        return Section("bands", title, "No triplets yet: run `etl mine`.")
    totals: dict[str, int] = {}
    for split, _, n in data.shares:
        totals[split] = totals.get(split, 0) + n
    splits = [s for s in SPLITS if s in totals] + sorted(set(totals) - set(SPLITS))
    fig = go.Figure()
    difficulties = sorted(
        {d for _, d, _ in data.shares}, key=lambda d: list(BAND_COLOURS).index(d) if d in BAND_COLOURS else 9
    )
    for difficulty in difficulties:
        counts = {split: n for split, d, n in data.shares if d == difficulty}
        shares = [100 * counts.get(s, 0) / totals[s] for s in splits]
        fig.add_bar(
            y=splits,
            x=shares,
            name=difficulty,
            orientation="h",
            marker_color=BAND_COLOURS.get(difficulty),
            text=[f"{counts.get(s, 0):,}" for s in splits],
            textposition="inside",
        )
    # A label that does not fit its segment is hidden rather than shrunk to a smudge; hovering shows it.
    layout(
        fig,
        height=260,
        barmode="stack",
        xaxis_title="share of triplets (%)",
        yaxis={"autorange": "reversed"},
        uniformtext={"minsize": 10, "mode": "hide"},
    )
    note = ", ".join(f"{s}: {totals[s]:,} triplets" for s in splits) + "; bar labels are triplet counts."
    return Section("bands", title, note + _languages_note(data), fig, _languages_table(data))


def _languages_note(data: Data) -> str:
    policy = data.mine_counts.get("language", "any")
    return (
        (
            f" The table: each band's negatives by language pair (anchor's language → negative's; ko when a "
            f"text holds Hangul, else en), mined with mine_language {policy}."
        )
        if data.languages
        else ""
    )


def _languages_table(data: Data) -> list[list[Any]]:
    """Per band, the share of its negatives in each language pair (and the count)."""
    if not data.languages:
        return []
    pairs = list(next(iter(data.languages.values())))
    table: list[list[Any]] = [["band", "negatives", *pairs]]
    for band, counts in data.languages.items():
        total = sum(counts.values())
        table.append([band, f"{total:,}", *(f"{counts[p] / total:.1%}" if total else "-" for p in pairs)])
    return table


def positives(data: Data) -> Section:
    """How many positives the anchors with triplets have."""
    import plotly.graph_objects as go

    title = "Positives per anchor"
    if not data.positives:
        return Section("positives", title, "No triplets yet: run `etl mine`.")
    counts = [a for _, a in data.positives]
    fig = go.Figure(
        go.Bar(
            x=[p for p, _ in data.positives],
            y=counts,
            marker_color="#4a6fa5",
            text=[f"{a:,}" for a in counts],
            textposition="outside",
        )
    )
    # Log scale: most anchors have one or two positives, and linear bars for 3-7 would be a pixel high.
    layout(
        fig,
        height=300,
        xaxis_title="distinct positives",
        yaxis={"type": "log", "title": "anchors (log)"},
        xaxis={"dtick": 1},
    )
    recorded = data.mine_counts.get("positives_per_anchor")
    note = "Anchors with at least one triplet."
    if recorded:
        note += (
            f" Over every anchor of mine run {data.mine_run_id}: mean {recorded['mean']}, min {recorded['min']}, "
            f"median {recorded['median']}, max {recorded['max']}."
        )
    return Section("positives", title, note, fig)


def population(data: Data) -> Section:
    """Per band: how many eligible terms each anchor found in it (box of p5/p25/median/p75/p95), and the picks."""
    import plotly.graph_objects as go

    title = "Members per anchor in each band"
    if data.mine_run_id is None:
        return Section("population", title, "No mine run yet: run `etl mine`.")
    if not data.populations:
        return Section(
            "population",
            title,
            f"Band sizes were not recorded by mine run {data.mine_run_id}; run `etl mine` again to record them.",
        )
    fig = go.Figure()
    for row in data.populations:
        # A log axis cannot show 0: empty bands sit at 0.5 and are counted in the table below.
        q = [max(float(row[k]), 0.5) for k in ("p5", "p25", "p50", "p75", "p95")]
        fig.add_trace(
            go.Box(
                name=row["band"],
                x=[row["band"]],
                lowerfence=[q[0]],
                q1=[q[1]],
                median=[q[2]],
                q3=[q[3]],
                upperfence=[q[4]],
                mean=[max(float(row["mean"]), 0.5)],
                marker_color=BAND_COLOURS.get(row["band"]),
                boxpoints=False,
            )
        )
    layout(fig, height=340, yaxis={"type": "log", "dtick": 1, "title": "members per anchor (log)"}, showlegend=False)
    table: list[list[Any]] = [
        ["band", "anchors", "median", "empty", "short of quota", "estimated", "quota", "picked for the quota"]
    ]
    for row in data.populations:
        table.append(
            [
                row["band"],
                f"{row['anchors']:,}",
                f"{row['p50']:,.0f}",
                f"{row['empty']:,}",
                f"{row['short']:,}",
                f"{row['estimated']:,}",
                f"{row['quota']:,}",
                f"{row['picked']:,}",
            ]
        )
    note = (
        f"From anchor_bands of mine run {data.mine_run_id}: whiskers at the 5th and 95th percentile. A band short "
        "of its quota is filled from the others; 'estimated' counts anchors whose band size the ANN path "
        "estimated from random draws."
    )
    return Section("population", title, note, fig, table)


def probe(data: Data) -> Section:
    """The downstream probe: MRR@10 per arm and pool, with every figure in a table."""
    import plotly.graph_objects as go

    title = "Downstream probe"
    if not data.probe:
        return Section("probe", title, "No probe of these triplets: run `etl probe` (or `etl run`).")
    value = {(arm, pool, metric): v for arm, pool, metric, v in data.probe}
    arms = [arm for arm in ARMS if (arm, "target", "mrr@10") in value]
    fig = go.Figure()
    for arm in arms:
        fig.add_bar(
            x=list(POOLS),
            y=[value[arm, pool, "mrr@10"] for pool in POOLS],
            name=arm,
            marker_color=ARM_COLOURS[arm],
            text=[f"{value[arm, pool, 'mrr@10']:.3f}" for pool in POOLS],
        )
    layout(fig, height=300, barmode="group", yaxis_title="MRR@10 of the validation anchors' positives")
    table = [["arm", *(f"{pool} {metric}" for pool in POOLS for metric in PROBE_METRICS)]] + [
        [arm, *(f"{value[arm, pool, metric]:.3f}" for pool in POOLS for metric in PROBE_METRICS)] for arm in arms
    ]
    run = data.probe_run
    note = (
        f"Probe run {run['run_id']}: an adapter over the mining model's vectors trained {run.get('probe_epochs')} "
        f"epochs ({run.get('probe_loss')} loss) on {run.get('trained_on', 0):,} train triplets, scored on "
        f"{run.get('anchors_scored', 0):,} validation anchors; target: the positive's language, mixed: every term. "
        "Mined above random means the mined negatives teach more than chance ones."
    )
    return Section("probe", title, note, fig, table)


def at(values: list[float] | None, i: int) -> float | None:
    return None if values is None else values[i]


def fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:,.{digits}f}"
