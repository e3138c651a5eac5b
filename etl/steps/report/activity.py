"""The plots of `etl report` about the warehouse's activity: synthesis categories, rejects, LLM calls, runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl.steps.report.figures import PERCENTILES, STATUS_COLOURS, Section, at, fmt, layout

if TYPE_CHECKING:
    from etl.steps.report import Data


def categories(data: Data) -> Section:
    """Per synthesis category: seed and expanded terms, terms translated, parallel sentences."""
    import plotly.graph_objects as go

    title = "Synthesis per category"
    if not data.categories:
        return Section("categories", title, "No synthesis plan yet: run `etl synth`.")
    names = [row["category"] for row in data.categories]
    fig = go.Figure()
    for column, colour in (
        ("seeds", "#4a6fa5"),
        ("expanded", "#8fb0d8"),
        ("translated", "#4c9f70"),
        ("sentences", "#e0a030"),
    ):
        values = [row[column] for row in data.categories]
        fig.add_bar(x=names, y=values, name=column, marker_color=colour, text=[f"{v:,}" for v in values])
    layout(fig, barmode="group", yaxis_title="terms (sentences: pairs)")
    columns = ["category", "seeds", "expanded", "translated", "sentences"]
    table = [columns, *([row[c] if c == "category" else f"{row[c]:,}" for c in columns] for row in data.categories)]
    note = "Terms of each category as planned, how many have a translation, and their parallel sentences; a term "
    return Section("categories", title, note + "listed in two categories counts in both.", fig, table)


def rejects(data: Data) -> Section:
    """Refused input by step and rule."""
    import plotly.graph_objects as go

    title = "Rejects by step and rule"
    if not data.rejects:
        return Section("rejects", title, "No rejects: every step accepted all of its input.")
    labels = [f"{step} · {rule}" for step, rule, _ in data.rejects]
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=[n for _, _, n in data.rejects],
            orientation="h",
            marker_color="#c8553d",
            text=[f"{n:,}" for _, _, n in data.rejects],
            textposition="auto",
        )
    )
    layout(
        fig,
        height=max(220, 40 + 28 * len(labels)),
        xaxis_title="rows refused",
        yaxis={"autorange": "reversed", "automargin": True},
    )
    total = sum(n for _, _, n in data.rejects)
    return Section("rejects", title, f"{total:,} rows in `rejects`; see them with `etl sql`.", fig)


def llm_calls(data: Data) -> Section:
    """LLM calls per task by status, and their latency and token percentiles."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    title = "LLM calls"
    if not data.llm:
        return Section("llm", title, "No LLM calls: this warehouse was built without synthesis (imported pairs).")
    tasks = list(dict.fromkeys(row["task"] for row in data.llm))
    fig = make_subplots(rows=1, cols=3, subplot_titles=("calls by status", "latency (s)", "tokens (ok calls)"))
    for status in sorted({row["status"] for row in data.llm}):
        calls = {row["task"]: row["calls"] for row in data.llm if row["status"] == status}
        fig.add_trace(
            go.Bar(
                x=tasks,
                y=[calls.get(t, 0) for t in tasks],
                name=status,
                marker_color=STATUS_COLOURS.get(status),
                legendgroup="status",
            ),
            1,
            1,
        )
    ok = {row["task"]: row for row in data.llm if row["status"] == "ok"}
    shades = {"p50": "#4a6fa5", "p90": "#7b9acc", "p99": "#b4c7e7"}
    for i, name in enumerate(PERCENTILES):
        fig.add_trace(
            go.Bar(
                x=tasks,
                y=[at(ok.get(t, {}).get("latency_s"), i) for t in tasks],
                name=name,
                marker_color=shades[name],
                legendgroup="percentile",
            ),
            1,
            2,
        )
        fig.add_trace(
            go.Bar(
                x=[f"{t} {kind}" for t in tasks for kind in ("prompt", "completion")],
                y=[at(ok.get(t, {}).get(f"{kind}_tokens"), i) for t in tasks for kind in ("prompt", "completion")],
                name=name,
                showlegend=False,
                marker_color=shades[name],
            ),
            1,
            3,
        )
    layout(fig, height=420, barmode="group")
    # The legend goes under the plots: above them it covered the subplot titles.
    fig.update_layout(margin={"t": 50, "b": 110}, legend={"orientation": "h", "y": -0.3, "yanchor": "top"})
    table = _llm_table(data)
    total = sum(row["calls"] for row in data.llm)
    failed = sum(row["calls"] for row in data.llm if row["status"] != "ok")
    return Section(
        "llm", title, f"{total:,} calls in `llm_calls`, {failed:,} not ok; percentiles over the ok calls.", fig, table
    )


def last_runs(data: Data) -> Section:
    """The most recent runs: how long each took, and how it ended."""
    import plotly.graph_objects as go

    title = "Last runs"
    if not data.runs:
        return Section("runs", title, "No runs yet: nothing has been done with this warehouse.")
    fig = go.Figure()
    for status in sorted({row["status"] for row in data.runs}):
        rows = [row for row in data.runs if row["status"] == status]
        fig.add_bar(
            y=[f"#{row['run_id']} {row['step']}" for row in rows],
            x=[row["seconds"] or 0 for row in rows],
            name=status,
            orientation="h",
            marker_color=STATUS_COLOURS.get(status),
        )
    order = [f"#{row['run_id']} {row['step']}" for row in data.runs]
    layout(
        fig,
        height=max(220, 40 + 24 * len(order)),
        xaxis_title="seconds",
        yaxis={"categoryorder": "array", "categoryarray": order, "autorange": "reversed", "automargin": True},
    )
    table = [["run", "step", "status", "started (UTC)", "seconds", "error"]] + [
        [row["run_id"], row["step"], row["status"], row["started"], fmt(row["seconds"], 2), row["error"] or ""]
        for row in data.runs
    ]
    return Section("runs", title, f"The {len(data.runs)} most recent runs, newest first.", fig, table)


def _llm_table(data: Data) -> list[list[Any]]:
    """Calls, attempts and the latency and token percentiles per task and status, header first."""
    header = [
        "task",
        "status",
        "calls",
        "attempts",
        *(f"latency {p}" for p in PERCENTILES),
        *(f"prompt {p}" for p in PERCENTILES),
        *(f"completion {p}" for p in PERCENTILES),
    ]
    return [header] + [
        [
            row["task"],
            row["status"],
            row["calls"],
            row["attempts"],
            *(fmt(at(row["latency_s"], i), 2) for i in range(3)),
            *(fmt(at(row["prompt_tokens"], i), 0) for i in range(3)),
            *(fmt(at(row["completion_tokens"], i), 0) for i in range(3)),
        ]
        for row in data.llm
    ]


VERDICT_COLOURS = {"same": "#c8553d", "related": "#e0a030", "different": "#4c9f70"}


def judge(data: Data) -> Section:
    """What the LLM judge said of the mined negatives, per band."""
    import plotly.graph_objects as go

    found = data.judge or {}
    bands = found.get("bands", {})
    fig = go.Figure()
    for verdict, colour in VERDICT_COLOURS.items():
        values = [figures[verdict] for figures in bands.values()]
        fig.add_bar(x=list(bands), y=values, name=verdict, marker_color=colour, text=[f"{v:,}" for v in values])
    layout(fig, height=300, barmode="stack", yaxis_title="negatives judged")
    columns = ["band", "judged", "same", "related", "different", "promoted"]
    table = [columns, *([band, *(f"{figures[c]:,}" for c in columns[1:])] for band, figures in bands.items())]
    consistency = found.get("consistency", {})
    agreed = (
        f"{consistency['agreed']:,} of {consistency['asked_twice']:,} verdicts asked twice agreed"
        if consistency.get("asked_twice")
        else "self-consistency not measured"
    )
    dry = ", ".join(f"{band} {n:,}" for band, n in found.get("dry", {}).items()) or "none"
    note = (
        "Mined negatives the chat model judged (`etl judge`): `same` ones were replaced by the next member of their "
        f"band. Bands that ran short of their quota after removals: {dry}; {agreed}."
    )
    return Section("judge", "LLM judge of the negatives", note, fig, table)
