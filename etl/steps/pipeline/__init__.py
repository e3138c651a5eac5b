"""`etl run`: every step in order, each skipped when its inputs have not changed since it last succeeded.

A stage's fingerprint is a hash of the settings it reads, the bytes of the files it reads and the
state (row count, newest run_id) of the tables it reads. It is recorded in `pipeline_state` right
after the stage succeeds, taken *after* the stage ran, so a stage that rewrites one of its own
inputs (split updates `triplets`) still finds it unchanged next time. When the fingerprint taken
now equals the recorded one, the stage is skipped and says so.

The stages and what each reads are planned in stages.py; fingerprints and `pipeline_state` are in
state.py; this module runs the planned stages and renders the final table.

Write mode: `pipeline_state` is merged on `stage`; everything else is written by the steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.config import Settings
from etl.errors import ConfigError, EtlError, ServiceError
from etl.output import StepResult, format_table
from etl.steps.pipeline.stages import SYNONYMS_FILE, Inputs, Stage, plan, synthesises
from etl.steps.pipeline.state import fingerprint, record, recorded, recorded_run, row_count
from etl.warehouse import Run, Warehouse

if TYPE_CHECKING:
    from etl.llm import Client

__all__ = [
    "EXAMPLE_PAIRS",
    "EXAMPLE_TERMS",
    "OFFLINE_HINT",
    "SYNONYMS_FILE",
    "Inputs",
    "Outcome",
    "Result",
    "Stage",
    "check_llm",
    "fingerprint",
    "needs_llm",
    "plan",
    "run",
    "synthesises",
]

# The package's data directory: etl/data in a checkout, site-packages/etl/data once installed (pip
# installs wheels unpacked, so these are real files the readers can open).
EXAMPLE_PAIRS = Path(str(resources.files("etl.data").joinpath("example_pairs.jsonl")))
EXAMPLE_TERMS = Path(str(resources.files("etl.data").joinpath("example_terms.txt")))
OFFLINE_HINT = "etl run --example (the bundled pairs and vocabulary, embedded with the hash embedder)"


@dataclass
class Outcome:
    """What became of one stage in this run."""

    stage: str
    status: str  # ran | skipped | failed
    seconds: float = 0.0
    rows_in: int | None = None
    rows_out: int | None = None
    note: str = ""
    result: StepResult | None = None  # what the stage's step returned, when it ran


@dataclass
class Result:
    """Every stage's outcome, and where the exports are."""

    outcomes: list[Outcome] = field(default_factory=list)
    out: Path | None = None
    also: list[str] = field(default_factory=list)  # what earlier runs landed that this one mines too

    def as_dict(self) -> dict[str, Any]:
        """Each stage's outcome (status, seconds, rows in and out, note) by stage name, for scripts."""
        return {o.stage: {k: v for k, v in o.__dict__.items() if k not in ("stage", "result")} for o in self.outcomes}

    def results(self) -> dict[str, StepResult]:
        """What each stage that ran returned, by stage name (e.g. results()["mine"].counts["triplets"])."""
        return {o.stage: o.result for o in self.outcomes if o.result is not None}

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        """One screen: a line per stage with its rows in and out, then where the exports are."""
        rows = [
            (o.stage, o.status, f"{o.seconds:.1f}", _number(o.rows_in), _number(o.rows_out), o.note)
            for o in self.outcomes
        ]
        table = format_table(["step", "outcome", "seconds", "rows in", "rows out", "note"], rows, max_width=64)
        where = f"\nexports  {self.out}" if self.out is not None else ""
        also = f"\nwarning  {self.also_line()}" if self.also else ""
        return f"etl run\n{table}{where}{also}"

    def also_line(self) -> str:
        """What this run mined besides the files it was given, in one line."""
        return (
            f"besides the given files this run also used {'; '.join(self.also)}, landed by earlier runs "
            "(`etl import drop FILE` removes one; a new --warehouse uses only the given files)"
        )


def needs_llm(inputs: Inputs, start: str | None, only: str | None) -> bool:
    """True when this run may synthesise, so the LLM server must answer before anything is written."""
    return synthesises(inputs) and only in (None, "synth") and start in (None, "synth")


def run(
    wh: Warehouse,
    settings: Settings,
    inputs: Inputs,
    start: str | None = None,
    only: str | None = None,
    notify: Callable[[str], None] = lambda text: None,
    client: Client | None = None,
) -> Result:
    """Run the planned stages; `start` forces that stage and those after it, `only` forces just one.

    `client` is an LLM client whose servers were already checked (so they are not asked again).
    """
    planned = plan(wh, settings, inputs, client)
    names = [s.name for s in planned]
    for wanted in (start, only):
        if wanted is not None and wanted not in names:
            raise ConfigError(f"there is no step {wanted!r} in this run; its steps are {', '.join(names)}")

    stages = _selected(planned, names, start, only)
    forced = {only} if only else set(names[names.index(start) :]) if start else set()
    if inputs.refresh:
        forced.add("synth")

    def due(stage: Stage) -> bool:
        # Asked just before the stage runs: the stages before it may have changed its inputs.
        return stage.name in forced or recorded(wh, stage.name) != fingerprint(wh, settings, stage)

    if stages[0].name == "synth" and client is None and due(stages[0]):
        stages = _selected(plan(wh, settings, inputs, check_llm(settings)), names, start, only)

    result = Result(out=inputs.out if any(s.name == "export" for s in stages) else None)
    result.also = mixed_in(wh, inputs)
    if result.also:
        notify("warning: " + result.also_line())
    params = {"inputs": inputs.__dict__, "from": start, "only": only, "steps": names}
    with wh.record("run", params) as run:
        for stage in stages:
            if not due(stage):
                note = f"inputs unchanged since run {recorded_run(wh, stage.name)}"
                notify(f"{stage.name}: skipped ({note})")
                result.outcomes.append(Outcome(stage.name, "skipped", note=note))
                continue
            _run_stage(wh, settings, stage, run, result, notify)
        run.counts = _counts(result)
    return result


_OTHER_FILES = {
    "pairs": "SELECT file, count(*) FROM imported_pairs WHERE NOT list_contains(?, file) GROUP BY file ORDER BY file",
    "terms": "SELECT file, count(*) FROM imported_terms WHERE NOT list_contains(?, file) GROUP BY file ORDER BY file",
}


def mixed_in(wh: Warehouse, inputs: Inputs) -> list[str]:
    """Landed rows from sources other than the files this run was given (none when it was given none)."""
    given = [str(p.resolve()) for p in (inputs.pairs, inputs.terms) if p is not None]
    if not given:
        return []
    also = []
    for noun, query in _OTHER_FILES.items():
        also += [f"{count:,} {noun} from {Path(file).name}" for file, count in wh.execute(query, [given]).fetchall()]
    translated = int(wh.scalar("SELECT count(*) FROM translations") or 0)
    if translated and not synthesises(inputs):
        also.append(f"{translated:,} synthesised translations")
    return also


def _selected(stages: list[Stage], names: list[str], start: str | None, only: str | None) -> list[Stage]:
    """The stages this run goes through: just `only`, or from `start` on, or all."""
    if only is not None:
        return [s for s in stages if s.name == only]
    return stages[names.index(start) :] if start is not None else stages


def _run_stage(
    wh: Warehouse, settings: Settings, stage: Stage, run: Run, result: Result, notify: Callable[[str], None]
) -> None:
    """Run one due stage, note its outcome, and record its fingerprint once it finished."""
    notify(f"{stage.name}: running")
    rows_in = row_count(wh, stage.tables)
    started = time.monotonic()
    try:
        step_result = stage.action()
    except EtlError:
        result.outcomes.append(Outcome(stage.name, "failed", time.monotonic() - started, rows_in))
        run.counts = _counts(result)
        raise
    notify(step_result.render())
    outcome = Outcome(
        stage.name,
        "ran",
        time.monotonic() - started,
        rows_in,
        row_count(wh, stage.writes),
        _headline(stage.name, step_result),
        step_result,
    )
    if stage.finished(step_result):
        record(wh, stage.name, fingerprint(wh, settings, stage), run.run_id)
    else:
        outcome.note += "; unfinished: runs again next time"
    result.outcomes.append(outcome)


def check_llm(settings: Settings) -> Client:
    """The checked LLM client; fails before anything is written when no LLM server answers."""
    from etl.steps import synth

    try:
        return synth.connect(settings)
    except ServiceError as exc:
        raise ServiceError(f"{exc}; or run offline on the bundled example: {OFFLINE_HINT}") from exc


def _headline(stage: str, step_result: StepResult) -> str:
    """The few figures of a step worth a line: LLM calls for synthesis, else the step's own title."""
    if stage == "synth":
        counts = step_result.counts
        return (
            f"calls {counts.get('calls', 0)}, cached {counts.get('cached', 0)}, "
            f"failed {counts.get('failed', 0)}, rejected {counts.get('rejected', 0)}"
        )
    return step_result.title


def _number(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _counts(result: Result) -> dict[str, Any]:
    return {o.stage: {"status": o.status, "seconds": round(o.seconds, 2)} for o in result.outcomes}
