"""`etl run`: every step in order, each skipped when its inputs have not changed since it last succeeded.

A stage's fingerprint is a hash of the settings it reads, the bytes of the files it reads and the
state (row count, newest run_id) of the tables it reads. It is recorded in `pipeline_state` right
after the stage succeeds, taken *after* the stage ran, so a stage that rewrites one of its own
inputs (split updates `triplets`) still finds it unchanged next time. When the fingerprint taken
now equals the recorded one, the stage is skipped and says so.

Write mode: `pipeline_state` is merged on `stage`; everything else is written by the steps.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.config import Settings
from etl.errors import ConfigError, EtlError, ServiceError
from etl.output import Summary, format_table
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    from etl.llm import Client

# The package's data directory: etl/data in a checkout, site-packages/etl/data once installed (pip
# installs wheels unpacked, so these are real files the readers can open).
EXAMPLE_PAIRS = Path(str(resources.files("etl.data").joinpath("example_pairs.jsonl")))
EXAMPLE_TERMS = Path(str(resources.files("etl.data").joinpath("example_terms.txt")))
OFFLINE_HINT = "etl run --example (the bundled pairs and vocabulary, embedded with the hash embedder)"
SYNONYMS_FILE = "synonyms.txt"  # the OpenSearch synonym file, beside triplets/ in the export directory

# A table's state is its row count and this expression: rows land with their run_id, so a newer run
# shows, except in `terms`, whose rows name their source runs, so its content is hashed instead. Only
# these tables are queried (identifiers cannot be bound).
_STATE = {
    "category_terms": "max(run_id)",
    "imported_pairs": "max(run_id)",
    "imported_terms": "max(run_id)",
    "translations": "max(run_id)",
    "parallel_sentences": "max(run_id)",
    "synonym_pairs": "max(run_id)",
    "synonym_groups": "max(run_id)",
    "term_embeddings": "max(run_id)",
    "triplets": "max(run_id)",
    "terms": "sum(hash(term_id, text, norm, kind))",
}
_EMBEDDING = ("embedder", "embed_model", "embed_dim")


@dataclass
class Inputs:
    """What `etl run` was asked to use beyond the settings."""

    out: Path
    pairs: Path | None = None
    terms: Path | None = None
    vectors: Path | None = None
    skip_bad_lines: bool = False
    seeds: Path | None = None
    refresh: bool = False  # send every LLM request again
    ray: str | None = None  # mine on Ray: "local" or a cluster address (the result is the same rows)
    ray_shards: int | None = None


@dataclass
class Stage:
    """One step of the pipeline: what it reads (for the fingerprint) and how to run it."""

    name: str
    action: Callable[[], Summary]
    tables: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    writes: tuple[str, ...] = ()  # tables whose row counts the summary shows as rows out
    outputs: tuple[Path, ...] = ()  # files the stage writes: a missing one forces a rerun
    finished: Callable[[Summary], bool] = lambda summary: True


@dataclass
class Outcome:
    """What became of one stage in this run."""

    stage: str
    status: str  # ran | skipped | failed
    seconds: float = 0.0
    rows_in: int | None = None
    rows_out: int | None = None
    note: str = ""


@dataclass
class Result:
    """Every stage's outcome, and where the exports are."""

    outcomes: list[Outcome] = field(default_factory=list)
    out: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        """Each stage's outcome (status, seconds, rows in and out, note) by stage name, for scripts."""
        return {o.stage: {k: v for k, v in o.__dict__.items() if k != "stage"} for o in self.outcomes}

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
        return f"etl run\n{table}{where}"


def synthesises(inputs: Inputs) -> bool:
    """True when the pairs come from the LLM rather than from files."""
    return inputs.pairs is None and inputs.terms is None


def needs_llm(inputs: Inputs, start: str | None, only: str | None) -> bool:
    """True when this run may synthesise, so the LLM server must answer before anything is written."""
    return synthesises(inputs) and only in (None, "synth") and start in (None, "synth")


def plan(wh: Warehouse, settings: Settings, inputs: Inputs, client: Client | None = None) -> list[Stage]:
    """The stages `etl run` would run for these settings and inputs, in order (`client`: an LLM client already checked)."""
    from etl.steps import clean, embed, imports, split, synth

    stages: list[Stage] = []
    if synthesises(inputs):
        stages.append(
            Stage(
                "synth",
                lambda: synth.run(wh, settings, seeds_path=inputs.seeds, refresh=inputs.refresh, client=client),
                settings=("llm_model", "llm_think", "seed", *_prefixed("synth_")),
                writes=("category_terms", "translations", "parallel_sentences"),
                files=tuple(p for p in (inputs.seeds,) if p is not None),
                # Failed calls are retried by the next run, so a run with failures is not final.
                finished=lambda summary: not dict(summary.items).get("failed"),
            )
        )
    else:

        def land() -> Summary:
            parts = []
            if inputs.pairs is not None:
                parts.append(imports.pairs(wh, settings, inputs.pairs, skip_bad_lines=inputs.skip_bad_lines))
            if inputs.terms is not None:
                parts.append(imports.terms(wh, settings, inputs.terms, skip_bad_lines=inputs.skip_bad_lines))
            return _merge("import", parts)

        files = tuple(p for p in (inputs.pairs, inputs.terms) if p is not None)
        stages.append(Stage("import", land, files=files, writes=("imported_pairs", "imported_terms")))
    stages.append(
        Stage(
            "clean",
            lambda: clean.run(wh, settings),
            tables=("imported_pairs", "imported_terms", "translations"),
            settings=_prefixed("clean_"),
            writes=("terms", "synonym_pairs"),
        )
    )
    embed_files = (inputs.vectors,) if inputs.vectors is not None else ()
    stages.append(
        Stage(
            "embed",
            lambda: embed.run(wh, settings, _vector_source(inputs.vectors)),
            tables=("terms",),
            settings=_EMBEDDING,
            files=embed_files,
            writes=("term_embeddings",),
        )
    )
    stages.append(
        Stage(
            "index",
            lambda: _index(wh, settings),
            tables=("term_embeddings",),
            settings=(*_EMBEDDING, *_prefixed("index_"), "mine_search"),
        )
    )
    stages.append(
        Stage(
            "mine",
            lambda: _mine(wh, settings, inputs),
            tables=("terms", "synonym_pairs", "synonym_groups", "term_embeddings"),
            settings=(*_EMBEDDING, "seed", *_prefixed("mine_")),
            writes=("triplets",),
        )
    )
    stages.append(
        Stage(
            "split",
            lambda: split.run(wh, settings),
            tables=("triplets",),
            settings=("seed", *_prefixed("split_")),
            writes=("triplets",),
        )
    )
    stages.append(
        Stage(
            "export",
            lambda: _export(wh, settings, inputs.out),
            tables=("triplets", "translations", "parallel_sentences", "synonym_groups", "category_terms"),
            settings=_prefixed("export_"),
            outputs=(*_export_outputs(settings, inputs.out / "triplets"), inputs.out / SYNONYMS_FILE),
        )
    )
    return stages


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

    def selected(stages: list[Stage]) -> list[Stage]:
        if only is not None:
            return [s for s in stages if s.name == only]
        return stages[names.index(start) :] if start is not None else stages

    stages = selected(planned)
    forced = {only} if only else set(names[names.index(start) :]) if start else set()
    if inputs.refresh:
        forced.add("synth")

    def due(stage: Stage) -> bool:
        # Asked just before the stage runs: the stages before it may have changed its inputs.
        return stage.name in forced or _recorded(wh, stage.name) != fingerprint(wh, settings, stage)

    if stages[0].name == "synth" and client is None and due(stages[0]):
        stages = selected(plan(wh, settings, inputs, check_llm(settings)))

    result = Result(out=inputs.out if any(s.name == "export" for s in stages) else None)
    params = {"inputs": inputs.__dict__, "from": start, "only": only, "steps": names}
    with wh.run("run", params) as run:
        for stage in stages:
            if not due(stage):
                note = f"inputs unchanged since run {_recorded_run(wh, stage.name)}"
                notify(f"{stage.name}: skipped ({note})")
                result.outcomes.append(Outcome(stage.name, "skipped", note=note))
                continue
            notify(f"{stage.name}: running")
            rows_in = _rows(wh, stage.tables)
            started = time.monotonic()
            try:
                summary = stage.action()
            except EtlError:
                result.outcomes.append(Outcome(stage.name, "failed", time.monotonic() - started, rows_in))
                run.counts = _counts(result)
                raise
            notify(summary.render())
            outcome = Outcome(
                stage.name,
                "ran",
                time.monotonic() - started,
                rows_in,
                _rows(wh, stage.writes),
                _headline(stage.name, summary),
            )
            if stage.finished(summary):
                _record(wh, stage.name, fingerprint(wh, settings, stage), run.run_id)
            else:
                outcome.note += "; unfinished: runs again next time"
            result.outcomes.append(outcome)
        run.counts = _counts(result)
    return result


def fingerprint(wh: Warehouse, settings: Settings, stage: Stage) -> str:
    """A hash of everything the stage reads: settings, file bytes, table states, outputs present."""
    material = {
        "settings": {key: getattr(settings, key) for key in stage.settings},
        "files": {str(path.resolve()): _file_digest(path) for path in stage.files},
        "tables": {name: _table_state(wh, name) for name in stage.tables},
        "outputs": {str(path.resolve()): path.exists() for path in stage.outputs},
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def check_llm(settings: Settings) -> Client:
    """The checked LLM client; fails before anything is written when no LLM server answers."""
    from etl.steps import synth

    try:
        return synth.connect(settings)
    except ServiceError as exc:
        raise ServiceError(f"{exc}; or run offline on the bundled example: {OFFLINE_HINT}") from exc


def _export_outputs(settings: Settings, out: Path) -> tuple[Path, ...]:
    """One file per exported layout and the stats file: a missing one means the export must run."""
    layouts = tuple(out / ("" if name == "triplet" else name) / "train.parquet" for name in settings.export_formats)
    return (*layouts, out / "data_preparation_stats.json")


def _index(wh: Warehouse, settings: Settings) -> Summary:
    """Build the index when mining will search it; with `auto`, mining builds it only if it chooses the index."""
    from etl.steps import index

    if settings.mine_search == "ann":
        return index.run(wh, settings)
    reason = (
        "mine_search is exact"
        if settings.mine_search == "exact"
        else "mine_search is auto: mine weighs the build against the exact scan and builds it if it chooses ann"
    )
    return Summary("index: not built").add("why", reason)


def _mine(wh: Warehouse, settings: Settings, inputs: Inputs) -> Summary:
    """Mine in this process, or as shards on Ray (`etl run --ray`): the same rows either way."""
    from etl.steps import mine
    from etl.steps.mine import on_ray as mine_ray

    if inputs.ray is None:
        return mine.run(wh, settings)
    address = None if inputs.ray == "local" else inputs.ray
    return mine_ray.run(wh, settings, address, shards=inputs.ray_shards)


def _export(wh: Warehouse, settings: Settings, out: Path) -> Summary:
    from etl.steps.export import synonyms as export_synonyms
    from etl.steps.export import triplets as export_triplets
    from etl.steps.synth import export as synth_export

    parts = [
        export_triplets.run(wh, settings, out / "triplets"),
        export_synonyms.run(wh, settings, out / SYNONYMS_FILE),
    ]
    if wh.scalar("SELECT count(*) FROM translations"):
        parts.append(synth_export.run(wh, settings, out / "synonyms"))
    return _merge("export", parts)


def _vector_source(path: Path | None) -> Any:
    if path is None:
        return None
    from etl.steps.embed.files import ImportSource

    return ImportSource(path)


def _prefixed(prefix: str) -> tuple[str, ...]:
    from etl.config import keys

    return tuple(key for key in keys() if key.startswith(prefix))


def _table_state(wh: Warehouse, table: str) -> tuple[int, str]:
    count, state = wh.one(wh.execute(f"SELECT count(*), CAST({_STATE[table]} AS VARCHAR) FROM {table}"))
    return int(count), str(state)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise EtlError(f"cannot read {path}: {exc.strerror}") from exc
    return digest.hexdigest()


def _recorded(wh: Warehouse, stage: str) -> str | None:
    return wh.scalar("SELECT fingerprint FROM pipeline_state WHERE stage = ?", [stage])


def _recorded_run(wh: Warehouse, stage: str) -> int | None:
    return wh.scalar("SELECT run_id FROM pipeline_state WHERE stage = ?", [stage])


def _record(wh: Warehouse, stage: str, digest: str, run_id: int) -> None:
    wh.execute(
        "INSERT OR REPLACE INTO pipeline_state (stage, fingerprint, run_id, updated_at) VALUES (?, ?, ?, utc_now())",
        [stage, digest, run_id],
    )


def _merge(title: str, parts: list[Summary]) -> Summary:
    """One summary for a stage made of several steps: their titles joined, their lines in turn."""
    merged = Summary("; ".join(part.title for part in parts) or title)
    for part in parts:
        merged.items.extend(part.items)
    return merged


def _headline(stage: str, summary: Summary) -> str:
    """The few figures of a step worth a line: LLM calls for synthesis, else the step's own title."""
    if stage == "synth":
        items = dict(summary.items)
        return (
            f"calls {items.get('calls made', 0)}, cached {items.get('served from cache', 0)}, "
            f"failed {items.get('failed', 0)}, rejected {items.get('rejected', 0)}"
        )
    return summary.title


def _rows(wh: Warehouse, tables: tuple[str, ...]) -> int | None:
    if not tables:
        return None
    return sum(_table_state(wh, table)[0] for table in tables)


def _number(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _counts(result: Result) -> dict[str, Any]:
    return {o.stage: {"status": o.status, "seconds": round(o.seconds, 2)} for o in result.outcomes}
