"""The stages of `etl run`, planned from the settings and inputs: what each reads, writes and runs.

A stage reads tables, settings and files (its fingerprint hashes them, see state.py) and runs one
step, or several steps as one (import: pairs and terms; export: triplets, synonyms, synthesis).
Planning writes nothing; the steps write what they write, in their own write modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.config import Settings
from etl.output import StepResult
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    from etl.llm import Client

SYNONYMS_FILE = "synonyms.txt"  # the OpenSearch synonym file, beside triplets/ in the export directory

_EMBEDDING = ("embedder", "embed_model", "embed_dim", "embed_prefix", "embed_input_type")


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
    action: Callable[[], StepResult]
    tables: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    writes: tuple[str, ...] = ()  # tables whose row counts the summary shows as rows out
    outputs: tuple[Path, ...] = ()  # files the stage writes: a missing one forces a rerun
    finished: Callable[[StepResult], bool] = lambda result: True


def synthesises(inputs: Inputs) -> bool:
    """True when the pairs come from the LLM rather than from files."""
    return inputs.pairs is None and inputs.terms is None


def plan(wh: Warehouse, settings: Settings, inputs: Inputs, client: Client | None = None) -> list[Stage]:
    """The stages `etl run` would run for these settings and inputs, in order (`client`: an LLM client already checked)."""
    source = _synth_stage(wh, settings, inputs, client) if synthesises(inputs) else _import_stage(wh, settings, inputs)
    return [source, *_term_stages(wh, settings, inputs), *_triplet_stages(wh, settings, inputs)]


def _synth_stage(wh: Warehouse, settings: Settings, inputs: Inputs, client: Client | None) -> Stage:
    """The pairs from the LLM: expansion, translation and sentences from the seed terms."""
    from etl.steps import synth

    return Stage(
        "synth",
        lambda: synth.run(wh, settings, seeds_path=inputs.seeds, refresh=inputs.refresh, client=client),
        settings=("llm_model", "llm_think", "seed", *_prefixed("synth_")),
        writes=("category_terms", "translations", "parallel_sentences"),
        files=tuple(p for p in (inputs.seeds,) if p is not None),
        # Failed calls are retried by the next run, so a run with failures is not final.
        finished=lambda result: not result.counts.get("failed"),
    )


def _import_stage(wh: Warehouse, settings: Settings, inputs: Inputs) -> Stage:
    """The pairs and vocabulary from files, landed as one stage."""
    from etl.steps import imports

    def land() -> StepResult:
        parts = []
        if inputs.pairs is not None:
            parts.append(imports.pairs(wh, settings, inputs.pairs, skip_bad_lines=inputs.skip_bad_lines))
        if inputs.terms is not None:
            parts.append(imports.terms(wh, settings, inputs.terms, skip_bad_lines=inputs.skip_bad_lines))
        return _merge("import", parts)

    files = tuple(p for p in (inputs.pairs, inputs.terms) if p is not None)
    return Stage("import", land, files=files, writes=("imported_pairs", "imported_terms"))


def _term_stages(wh: Warehouse, settings: Settings, inputs: Inputs) -> list[Stage]:
    """From the landed pairs to searchable vectors: clean, embed, index."""
    from etl.steps import clean, embed

    embed_files = (inputs.vectors,) if inputs.vectors is not None else ()
    return [
        Stage(
            "clean",
            lambda: clean.run(wh, settings),
            tables=("imported_pairs", "imported_terms", "translations", "negative_judgements"),
            settings=_prefixed("clean_"),
            writes=("terms", "synonym_pairs"),
        ),
        Stage(
            "embed",
            lambda: embed.run(wh, settings, _vector_source(inputs.vectors)),
            tables=("terms",),
            settings=_EMBEDDING,
            files=embed_files,
            writes=("term_embeddings",),
        ),
        Stage(
            "index",
            lambda: _index(wh, settings),
            tables=("term_embeddings",),
            settings=(*_EMBEDDING, *_prefixed("index_"), "mine_search"),
        ),
    ]


def _triplet_stages(wh: Warehouse, settings: Settings, inputs: Inputs) -> list[Stage]:
    """From the vectors to the files: mine, judge, split, probe, export."""
    from etl.steps import split

    mine = Stage(
        "mine",
        lambda: _mine(wh, settings, inputs),
        tables=("terms", "synonym_pairs", "synonym_groups", "term_embeddings"),
        settings=(*_EMBEDDING, "seed", *_prefixed("mine_")),
        writes=("triplets",),
    )
    # The LLM judge is a step of the run only when judge_enabled is on (etl run --judge).
    judge = Stage(
        "judge",
        lambda: _judge(wh, settings, inputs),
        tables=("triplets",),
        settings=("seed", *_prefixed("judge_"), "llm_model", "llm_api", "llm_think"),
        writes=("triplets",),
        finished=lambda result: not result.counts.get("failed"),
    )
    return [
        mine,
        *([judge] if settings.judge_enabled else []),
        Stage(
            "split",
            lambda: split.run(wh, settings),
            tables=("triplets",),
            settings=("seed", *_prefixed("split_")),
            writes=("triplets",),
        ),
        Stage(
            "probe",
            lambda: _probe(wh, settings),
            tables=("triplets", "terms", "synonym_groups", "term_embeddings"),
            # The split settings too: a re-split leaves the triplets' row count and run id as they were.
            settings=("seed", *_prefixed("split_"), *_prefixed("probe_")),
            writes=("probe_results",),
        ),
        Stage(
            "export",
            lambda: _export(wh, settings, inputs.out),
            tables=(
                "triplets",
                "probe_results",
                "translations",
                "parallel_sentences",
                "synonym_groups",
                "category_terms",
            ),
            settings=_prefixed("export_"),
            outputs=(*_export_outputs(settings, inputs.out / "triplets"), inputs.out / SYNONYMS_FILE),
        ),
    ]


def _export_outputs(settings: Settings, out: Path) -> tuple[Path, ...]:
    """One file per exported layout and the stats file: a missing one means the export must run."""
    layouts = tuple(out / ("" if name == "triplet" else name) / "train.parquet" for name in settings.export_formats)
    return (*layouts, out / "data_preparation_stats.json")


def _index(wh: Warehouse, settings: Settings) -> StepResult:
    """Build the index when mining will search it; with `auto`, mining builds it only if it chooses the index."""
    from etl.steps import index

    if settings.mine_search == "ann":
        return index.run(wh, settings)
    reason = (
        "mine_search is exact"
        if settings.mine_search == "exact"
        else "mine_search is auto: mine weighs the build against the exact scan and builds it if it chooses ann"
    )
    return StepResult("index: not built", step="index", counts={"skipped": reason}).add("why", reason)


def _mine(wh: Warehouse, settings: Settings, inputs: Inputs) -> StepResult:
    """Mine in this process, or as shards on Ray (`etl run --ray`): the same rows either way."""
    from etl.steps import mine
    from etl.steps.mine import on_ray as mine_ray

    if inputs.ray is None:
        return mine.run(wh, settings)
    address = None if inputs.ray == "local" else inputs.ray
    return mine_ray.run(wh, settings, address, shards=inputs.ray_shards)


def _judge(wh: Warehouse, settings: Settings, inputs: Inputs) -> StepResult:
    """The LLM judge of the mined negatives; it mines again as the mine stage does."""
    from etl.steps import judge

    return judge.run(wh, settings, lambda: _mine(wh, settings, inputs))


def _probe(wh: Warehouse, settings: Settings) -> StepResult:
    """The downstream probe, unless probe_enabled is off; so the export carries its figures."""
    from etl.steps import probe

    if not settings.probe_enabled:
        reason = "probe_enabled is false (etl run --probe turns it on)"
        return StepResult("probe: off", step="probe", counts={"skipped": reason}).add("why", reason)
    return probe.run(wh, settings)


def _export(wh: Warehouse, settings: Settings, out: Path) -> StepResult:
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


def _merge(stage: str, parts: list[StepResult]) -> StepResult:
    """One result for a stage made of several steps: each part's counts under its step, titles joined, lines in turn."""
    merged = StepResult("; ".join(part.title for part in parts) or stage, step=stage)
    for part in parts:
        merged.counts[part.step] = {"run_id": part.run_id, **part.counts}
        merged.warnings.extend(part.warnings)
        merged.outputs.extend(part.outputs)
        merged.lines.extend(part.lines)
    return merged
