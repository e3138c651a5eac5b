"""The Python API the `etl` command is a skin over: open a warehouse, run steps, read tables as polars.

    import etl
    wh = etl.open("warehouse/etl.duckdb")
    etl.import_pairs(wh, "filtered_synonym_pairs.jsonl")
    etl.clean(wh)
    etl.embed(wh, embedder="hash")
    etl.mine(wh, search="exact")
    wh.table("triplets")

Every step takes its settings as keyword arguments, named as in `etl config`; the step's own prefix
may be left out (`etl.mine(wh, search="exact")` sets `mine_search`). They apply on top of the
defaults, etl.toml and ETL_* variables, as command options do, and each step returns the summary
the command prints. Failures raise the `EtlError` family with the messages the command shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl import config
from etl import warehouse as store
from etl.config import Settings
from etl.errors import ConfigError, EtlError
from etl.output import Summary

if TYPE_CHECKING:
    import polars as pl

    from etl.llm import Client
    from etl.steps.pipeline import Inputs, Result

PathLike = str | Path


class Warehouse(store.Warehouse):
    """An open warehouse: its tables and read-only queries as polars frames, and the settings steps run with."""

    config_path: Path | None = None

    def settings(self, **overrides: Any) -> Settings:
        """Effective settings: defaults → etl.toml (or open's `config`) → ETL_* → `overrides`."""
        return _load(self, overrides)

    def tables(self) -> list[str]:
        """Names of the warehouse's tables."""
        rows = self.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1").fetchall()
        return [name for (name,) in rows]

    def table(self, name: str) -> pl.DataFrame:
        """A whole table as a polars DataFrame, e.g. wh.table("triplets")."""
        known = self.tables()
        if name not in known:
            raise EtlError(f"there is no table {name!r} in {self.path}; its tables are {', '.join(known)}")
        # The name is one of the catalog's, so quoting it is safe (identifiers cannot be bound).
        return self.con.sql('SELECT * FROM "' + name.replace('"', '""') + '"').pl()

    def sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pl.DataFrame:
        """The result of read-only SQL (the last statement's) as a polars DataFrame; writes are refused."""
        import duckdb
        import polars as pl

        from etl.steps import inspect

        statements = inspect.read_only_statements(self, query)
        try:
            for statement in statements[:-1]:
                self.con.execute(statement).fetchall()  # a result left unread blocks the connection
            relation = self.con.sql(statements[-1].query, params=params)
            return pl.DataFrame() if relation is None else relation.pl()
        except duckdb.Error as exc:
            raise EtlError(f"query failed: {str(exc).strip().splitlines()[0]}") from exc


def open(path: PathLike | None = None, *, config: PathLike | None = None, read_only: bool = False) -> Warehouse:
    """Open (creating and migrating if needed) the warehouse at `path`, else the one the settings name.

    `config` is a settings file used instead of ./etl.toml. Close it (or use `with`) to release the
    file lock, so that an `etl` command can open it too.
    """
    config_path = Path(config) if config is not None else None
    where = Path(path) if path is not None else Path(_read_settings(config_path, {}).warehouse)
    wh = Warehouse.open(where, read_only=read_only)
    wh.config_path = config_path
    return wh


# -- steps ---------------------------------------------------------------------------------------


def import_pairs(
    wh: store.Warehouse, file: PathLike, *, format: str | None = None, skip_bad_lines: bool = False, **settings: Any
) -> Summary:
    """Land a synonym-pairs file (JSONL, CSV, TSV or Parquet: source, target, optional similarity)."""
    from etl.steps import imports

    resolved = _settings(wh, "import_pairs", settings, (), ("format", "skip_bad_lines"))
    return imports.pairs(wh, resolved, Path(file), skip_bad_lines=skip_bad_lines, fmt=format)


def import_terms(
    wh: store.Warehouse,
    file: PathLike,
    *,
    format: str | None = None,
    column: str | None = None,
    skip_bad_lines: bool = False,
    **settings: Any,
) -> Summary:
    """Land a vocabulary file: one term per line, a JSON list, or a CSV/TSV/Parquet/JSONL column."""
    from etl.steps import imports

    resolved = _settings(wh, "import_terms", settings, (), ("format", "column", "skip_bad_lines"))
    return imports.terms(wh, resolved, Path(file), skip_bad_lines=skip_bad_lines, fmt=format, column=column)


def clean(wh: store.Warehouse, **settings: Any) -> Summary:
    """Rebuild terms, synonym_pairs and synonym_groups from everything landed (max_length, ignore_spaces)."""
    from etl.steps import clean as step

    return step.run(wh, _settings(wh, "clean", settings, ("clean_",)))


def embed(
    wh: store.Warehouse,
    *,
    vectors: PathLike | None = None,
    term_list: PathLike | None = None,
    term_column: str = "term",
    vector_column: str | None = None,
    **settings: Any,
) -> Summary:
    """Give every term a vector for one model (embedder, model, dim, url, batch); `vectors` for the import embedder."""
    from etl.steps import embed as step
    from etl.steps.embed.files import ImportSource

    resolved = _settings(wh, "embed", settings, ("embed_",), ("vectors", "term_list", "term_column", "vector_column"))
    source = None
    if vectors is not None:
        source = ImportSource(Path(vectors), _path(term_list), term_column, vector_column)
    return step.run(wh, resolved, source)


def index(wh: store.Warehouse, *, model: str | None = None, force: bool = False, **settings: Any) -> Summary:
    """Build (or reuse) the usearch index over one model's vectors (dtype, connectivity, expansion_add, ...)."""
    from etl.steps import index as step

    return step.run(wh, _settings(wh, "index", settings, ("index_",), ("model", "force")), model, force=force)


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
    **settings: Any,
) -> Summary:
    """Mine negatives by cosine band, build triplets and split them (search, top_k, negatives, easy, ...).

    `shard="I/N"` with `out` mines shard I of N and writes its part under `out` (the warehouse is
    only read); `merge` lands the parts under that directory as one run; `ray` (True, or a cluster
    address) runs the shards as Ray tasks (`ray_shards` of them, default the cluster's CPUs;
    `ray_vectors`: a directory every node mounts, to share the vectors through instead of the
    object store). The result is the same rows as a plain run's.
    """
    from etl.steps import mine as step

    own = ("model", "shard", "out", "merge", "ray", "ray_shards", "ray_vectors")
    resolved = _settings(wh, "mine", settings, ("mine_",), own)
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
        return mine_ray.run(wh, resolved, address, model=model, shards=ray_shards, vectors_dir=_path(ray_vectors))
    return step.run(wh, resolved, model=model)


def split(wh: store.Warehouse, **settings: Any) -> Summary:
    """Re-split the triplets into train and validation (by, train_ratio, seed)."""
    from etl.steps import split as step

    return step.run(wh, _settings(wh, "split", settings, ("split_",)))


def export_triplets(wh: store.Warehouse, out: PathLike | None = None, **settings: Any) -> Summary:
    """Write the triplets in each layout (formats, scores, license) as Parquet, JSONL and DatasetDicts under `out`."""
    from etl.steps.export import triplets as step

    return step.run(wh, _settings(wh, "export_triplets", settings, ("export_",), ("out",)), _path(out))


def export_synth(wh: store.Warehouse, out: PathLike, **settings: Any) -> Summary:
    """Write the synthesis results as the seed notebook's JSONL files and metadata.json under `out`."""
    from etl.steps.synth import export as synth_export

    return synth_export.run(wh, _settings(wh, "export_synth", settings, (), ("out",)), Path(out))


def export_synonyms(
    wh: store.Warehouse,
    out: PathLike | None = None,
    *,
    explicit: bool = False,
    max_group_size: int = 20,
    oversize: str = "split",
    categories: Sequence[str] = (),
    **settings: Any,
) -> Summary:
    """Write the synonym groups as a Solr-format synonym file for OpenSearch / Elasticsearch."""
    from etl.steps.export import synonyms as step

    params = ("out", "explicit", "max_group_size", "oversize", "categories")
    return step.run(wh, _settings(wh, "export_synonyms", settings, (), params), _path(out), explicit=explicit,
                    max_group_size=max_group_size, oversize=oversize, categories=tuple(categories))  # fmt: skip


def report(wh: store.Warehouse, out: PathLike | None = None, **settings: Any) -> Summary:
    """Write one self-contained HTML page with plots of the warehouse (needs the `report` extra)."""
    from etl.steps import report as report_html

    return report_html.run(wh, _settings(wh, "report", settings, (), ("out",)), _path(out))


def synth(
    wh: store.Warehouse,
    stages: Sequence[str] = ("expand", "translate", "sentences"),
    *,
    seeds: PathLike | None = None,
    refresh: bool = False,
    client: Client | None = None,
    **settings: Any,
) -> Summary:
    """Synthesise term data with the LLM (url, model, api, concurrency, think, expand_ask, ...).

    `client` is an LLM client whose servers were already checked (the command checks them before
    it creates a new warehouse file).
    """
    from etl.steps import synth as step

    resolved = _settings(wh, "synth", settings, ("synth_", "llm_"), ("stages", "seeds", "refresh", "client"))
    return step.run(wh, resolved, tuple(stages), seeds_path=_path(seeds), refresh=refresh, client=client)


def run(
    wh: store.Warehouse,
    *,
    example: bool = False,
    pairs: PathLike | None = None,
    terms: PathLike | None = None,
    vectors: PathLike | None = None,
    out: PathLike | None = None,
    start: str | None = None,
    only: str | None = None,
    skip_bad_lines: bool = False,
    seeds: PathLike | None = None,
    refresh: bool = False,
    notify: Callable[[str], None] | None = None,
    client: Client | None = None,
    ray: str | bool | None = None,
    ray_shards: int | None = None,
    **settings: Any,
) -> Result:
    """The whole pipeline, skipping steps whose inputs are unchanged; `start`/`only` force steps (`etl run`).

    `example` uses the bundled pairs and vocabulary with the hash embedder; `notify` receives each
    step's progress lines; `client` is an LLM client already checked, as for synth(); `ray` (True,
    or a cluster address) mines as `ray_shards` Ray tasks, as mine(ray=...) does.
    """
    from etl.steps import pipeline

    own = (
        "example",
        "pairs",
        "terms",
        "vectors",
        "out",
        "start",
        "only",
        "skip_bad_lines",
        "seeds",
        "refresh",
        "notify",
        "client",
        "ray",
        "ray_shards",
    )
    implied = run_implies(example=example, vectors=vectors, embedder=settings.get("embedder"))
    resolved = _settings(wh, "run", {**settings, **implied}, (), own)
    inputs = run_inputs(
        Path(resolved.warehouse),
        example=example,
        pairs=pairs,
        terms=terms,
        vectors=vectors,
        out=out,
        skip_bad_lines=skip_bad_lines,
        seeds=seeds,
        refresh=refresh,
    )
    if ray not in (None, False):
        from etl.steps.mine import on_ray as mine_ray

        mine_ray.import_ray()
        inputs.ray, inputs.ray_shards = ("local" if ray is True else str(ray)), ray_shards
    elif ray_shards is not None:
        raise ConfigError("ray_shards applies to ray=True (or ray=ADDRESS) only")
    return pipeline.run(wh, resolved, inputs, start, only, notify=notify or (lambda line: None), client=client)


def run_implies(*, example: bool, vectors: PathLike | None, embedder: str | None) -> dict[str, str]:
    """Settings `etl run` options imply: the example embeds with hash, given vectors are imported."""
    if embedder is None and example:
        return {"embedder": "hash"}
    if embedder is None and vectors is not None:
        return {"embedder": "import"}
    return {}


def run_inputs(
    warehouse: Path,
    *,
    example: bool = False,
    pairs: PathLike | None = None,
    terms: PathLike | None = None,
    vectors: PathLike | None = None,
    out: PathLike | None = None,
    skip_bad_lines: bool = False,
    seeds: PathLike | None = None,
    refresh: bool = False,
) -> Inputs:
    """What run() reads beyond the settings (`example` fills in the bundled files); exports default beside the warehouse."""
    from etl.steps import pipeline

    if example:
        pairs = pairs or pipeline.EXAMPLE_PAIRS
        terms = terms or pipeline.EXAMPLE_TERMS
    return pipeline.Inputs(
        out=Path(out) if out is not None else warehouse.parent / "exports",
        pairs=_path(pairs),
        terms=_path(terms),
        vectors=_path(vectors),
        skip_bad_lines=skip_bad_lines,
        seeds=_path(seeds),
        refresh=refresh,
    )


# -- settings ------------------------------------------------------------------------------------


def _settings(
    wh: store.Warehouse,
    step: str,
    given: Mapping[str, Any],
    prefixes: tuple[str, ...],
    params: tuple[str, ...] = (),
) -> Settings:
    """Resolve a step's keyword settings (full names, or without the step's prefix) over the loaded ones."""
    names = config.keys()
    overrides: dict[str, Any] = {}
    for key, value in given.items():
        full = key if key in names else next((p + key for p in prefixes if p + key in names), None)
        if full == "warehouse":
            raise ConfigError(f"{step}() runs on the warehouse it is given; open another with etl.open(path)")
        if full is None:
            short = [name.removeprefix(p) for p in prefixes for name in names if name.startswith(p)]
            takes = ", ".join([*params, *short]) or "no options of its own"
            raise ConfigError(
                f"{step}() has no setting {key!r}; it takes {takes}, or any setting by its full name "
                "(`etl config` lists them)"
            )
        if full in overrides:
            raise ConfigError(f"{step}() was given {full} twice (as {key!r} and by another name); give it once")
        overrides[full] = value
    return _load(wh, overrides)


def _load(wh: store.Warehouse, overrides: Mapping[str, Any]) -> Settings:
    return _read_settings(getattr(wh, "config_path", None), {**overrides, "warehouse": str(wh.path)})


def _read_settings(config_path: Path | None, overrides: Mapping[str, Any]) -> Settings:
    return config.load(config_path, overrides=overrides).settings


def _path(value: PathLike | None) -> Path | None:
    return Path(value) if value is not None else None
