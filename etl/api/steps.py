"""One function per step command (`etl import`, `clean`, `embed`, ..., `synth`): resolve its settings, run the step."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from etl import warehouse as store
from etl.api.keywords import (
    CleanSettings,
    EmbedSettings,
    ExportTripletsSettings,
    IndexSettings,
    MineSettings,
    NoSettings,
    ProbeSettings,
    SplitSettings,
)
from etl.api.resolve import PathLike, as_path, not_blank, step_settings
from etl.errors import ConfigError
from etl.output import StepResult

if TYPE_CHECKING:
    pass


def import_pairs(
    wh: store.Warehouse,
    file: PathLike,
    *,
    format: str | None = None,
    skip_bad_lines: bool = False,
    **settings: Unpack[NoSettings],
) -> StepResult:
    """Land a synonym-pairs file (JSONL, CSV, TSV or Parquet: source, target, optional similarity)."""
    from etl.steps import imports

    resolved = step_settings(wh, "import_pairs", settings, (), ("format", "skip_bad_lines"))
    return imports.pairs(wh, resolved, Path(file), skip_bad_lines=skip_bad_lines, fmt=format)


def import_terms(
    wh: store.Warehouse,
    file: PathLike,
    *,
    format: str | None = None,
    column: str | None = None,
    skip_bad_lines: bool = False,
    **settings: Unpack[NoSettings],
) -> StepResult:
    """Land a vocabulary file: one term per line, a JSON list, or a CSV/TSV/Parquet/JSONL column."""
    from etl.steps import imports

    not_blank(column=column)
    resolved = step_settings(wh, "import_terms", settings, (), ("format", "column", "skip_bad_lines"))
    return imports.terms(wh, resolved, Path(file), skip_bad_lines=skip_bad_lines, fmt=format, column=column)


def import_sources(wh: store.Warehouse) -> list[tuple[str, str, int, int]]:
    """Every file landed in the warehouse: (kind pairs|terms, file, rows, run_id)."""
    from etl.steps import imports

    wh.check_open()
    return imports.sources(wh)


def drop_import(wh: store.Warehouse, file: PathLike) -> StepResult:
    """Remove what one landed file brought (by path, or by name when unique); `etl clean` rebuilds without it."""
    from etl.steps import imports

    return imports.drop(wh, file)


def clean(wh: store.Warehouse, **settings: Unpack[CleanSettings]) -> StepResult:
    """Rebuild terms, synonym_pairs and synonym_groups from everything landed (max_length, ignore_spaces)."""
    from etl.steps import clean as step

    return step.run(wh, step_settings(wh, "clean", settings, ("clean_",)))


def embed(
    wh: store.Warehouse,
    *,
    vectors: PathLike | None = None,
    term_list: PathLike | None = None,
    term_column: str = "term",
    vector_column: str | None = None,
    **settings: Unpack[EmbedSettings],
) -> StepResult:
    """Give every term a vector for one model (embedder, model, dim, url, batch); `vectors` for the import embedder."""
    from etl.steps import embed as step
    from etl.steps.embed.files import ImportSource

    not_blank(term_column=term_column, vector_column=vector_column)
    resolved = step_settings(
        wh, "embed", settings, ("embed_",), ("vectors", "term_list", "term_column", "vector_column")
    )
    source = None
    if vectors is not None:
        source = ImportSource(Path(vectors), as_path(term_list), term_column, vector_column)
    return step.run(wh, resolved, source)


def index(
    wh: store.Warehouse, *, model: str | None = None, force: bool = False, **settings: Unpack[IndexSettings]
) -> StepResult:
    """Build (or reuse) the usearch index over one model's vectors (dtype, connectivity, expansion_add, ...)."""
    from etl.steps import index as step

    not_blank(model=model)
    return step.run(wh, step_settings(wh, "index", settings, ("index_",), ("model", "force")), model, force=force)


def mine(
    wh: store.Warehouse,
    *,
    model: str | None = None,
    shard: str | None = None,
    out: PathLike | None = None,
    merge: PathLike | None = None,
    ray: str | bool | None = None,
    ray_shards: int | None = None,
    ray_vectors: PathLike | None = None,
    **settings: Unpack[MineSettings],
) -> StepResult:
    """Mine negatives by cosine band, build triplets and split them (search, top_k, negatives, easy, ...).

    `shard="I/N"` with `out` mines shard I of N and writes its part under `out` (the warehouse is
    only read); `merge` lands the parts under that directory as one run; `ray` (True, or a cluster
    address) runs the shards as Ray tasks (`ray_shards` of them, default the cluster's CPUs;
    `ray_vectors`: a directory every node mounts, to share the vectors through instead of the
    object store). The result is the same rows as a plain run's.
    """
    from etl.steps import mine as step

    own = ("model", "shard", "out", "merge", "ray", "ray_shards", "ray_vectors")
    not_blank(model=model, shard=shard, ray=ray)
    resolved = step_settings(wh, "mine", settings, ("mine_",), own)
    chosen = [name for name, value in (("shard", shard), ("merge", merge), ("ray", ray)) if value not in (None, False)]
    if len(chosen) > 1:
        raise ConfigError(f"mine() takes one of shard, merge and ray, not {' and '.join(chosen)}")
    if (shard is None) != (out is None):
        raise ConfigError("a shard needs both shard='I/N' and out=DIR (where its part is written)")
    if (ray_shards is not None or ray_vectors is not None) and ray in (None, False):
        raise ConfigError("ray_shards and ray_vectors apply to ray=True (or ray=ADDRESS) only")
    if shard is not None:
        from etl.steps.mine import shards as mine_shards

        return mine_shards.shard(wh, resolved, shard, Path(out), model=model)  # type: ignore[arg-type]
    if merge is not None:
        from etl.steps.mine import shards as mine_shards

        return mine_shards.merge(wh, resolved, Path(merge), model=model)
    if ray not in (None, False):
        from etl.steps.mine import on_ray as mine_ray

        address = None if ray is True else str(ray)
        return mine_ray.run(wh, resolved, address, model=model, shards=ray_shards, vectors_dir=as_path(ray_vectors))
    return step.run(wh, resolved, model=model)


def check_ray(ray: str | bool | None) -> None:
    """When `ray` asks for Ray (True or an address), fail saying what to install unless it is installed."""
    not_blank(ray=ray)
    if ray not in (None, False):
        from etl.steps.mine import on_ray as mine_ray

        mine_ray.import_ray()


def split(wh: store.Warehouse, **settings: Unpack[SplitSettings]) -> StepResult:
    """Re-split the triplets into train and validation (by, train_ratio, seed)."""
    from etl.steps import split as step

    return step.run(wh, step_settings(wh, "split", settings, ("split_",)))


def probe(wh: store.Warehouse, **settings: Unpack[ProbeSettings]) -> StepResult:
    """Train an adapter on the triplets, score it on the validation anchors (loss, epochs, triplets, anchors, ...)."""
    from etl.steps import probe as step

    return step.run(wh, step_settings(wh, "probe", settings, ("probe_",)))


def export_triplets(
    wh: store.Warehouse, out: PathLike | None = None, **settings: Unpack[ExportTripletsSettings]
) -> StepResult:
    """Write the triplets in each layout (formats, scores, license) as Parquet, JSONL and DatasetDicts under `out`."""
    from etl.steps.export import triplets as step

    return step.run(wh, step_settings(wh, "export_triplets", settings, ("export_",), ("out",)), as_path(out))


def export_synth(wh: store.Warehouse, out: PathLike | None = None, **settings: Unpack[NoSettings]) -> StepResult:
    """Write the synthesis results as the seed notebook's JSONL files and metadata.json under `out` (default exports/synonyms)."""
    from etl.steps.synth import export as synth_export

    resolved = step_settings(wh, "export_synth", settings, (), ("out",))
    return synth_export.run(wh, resolved, Path(out) if out is not None else synth_export.default_dir(resolved))


def export_synonyms(
    wh: store.Warehouse,
    out: PathLike | None = None,
    *,
    explicit: bool = False,
    max_group_size: int = 20,
    oversize: str = "split",
    categories: Sequence[str] = (),
    **settings: Unpack[NoSettings],
) -> StepResult:
    """Write the synonym groups as a Solr-format synonym file for OpenSearch / Elasticsearch."""
    from etl.steps.export import synonyms as step

    params = ("out", "explicit", "max_group_size", "oversize", "categories")
    for category in categories:
        not_blank(category=category)
    return step.run(
        wh,
        step_settings(wh, "export_synonyms", settings, (), params),
        as_path(out),
        explicit=explicit,
        max_group_size=max_group_size,
        oversize=oversize,
        categories=tuple(categories),
    )


def report(wh: store.Warehouse, out: PathLike | None = None, **settings: Unpack[NoSettings]) -> StepResult:
    """Write one self-contained HTML page with plots of the warehouse (needs the `report` extra)."""
    from etl.steps import report as report_step

    return report_step.run(wh, step_settings(wh, "report", settings, (), ("out",)), as_path(out))
