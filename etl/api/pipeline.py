"""`etl run` as a function: the whole pipeline over one warehouse, and the inputs it reads beyond the settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from etl import warehouse as store
from etl.api.keywords import RunSettings
from etl.api.resolve import PathLike, as_path, step_settings
from etl.api.steps import check_ray
from etl.config import Settings
from etl.errors import ConfigError

if TYPE_CHECKING:
    from etl.llm import Client
    from etl.steps.pipeline import Inputs, Result

# run()'s own keywords; any other is a setting.
_RUN_PARAMS = (
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
    **settings: Unpack[RunSettings],
) -> Result:
    """The whole pipeline, skipping steps whose inputs are unchanged; `start`/`only` force steps (`etl run`).

    `example` uses the bundled pairs and vocabulary with the hash embedder; `notify` receives each
    step's progress lines; `client` is an LLM client already checked (see run_client); `ray`
    (True, or a cluster address) mines as `ray_shards` Ray tasks, as mine(ray=...) does.
    """
    from etl.steps import pipeline

    implied = run_implies(example=example, vectors=vectors, embedder=settings.get("embedder"))
    resolved = step_settings(wh, "run", {**settings, **implied}, (), _RUN_PARAMS)
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
        check_ray(ray)
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
        pairs=as_path(pairs),
        terms=as_path(terms),
        vectors=as_path(vectors),
        skip_bad_lines=skip_bad_lines,
        seeds=as_path(seeds),
        refresh=refresh,
    )


def run_client(
    settings: Settings, *, start: str | None = None, only: str | None = None, **inputs: Any
) -> Client | None:
    """A checked LLM client when run() would create the warehouse and may synthesise, else None.

    Called before the warehouse is opened, so that a server that does not answer leaves no new
    file behind; `inputs` are run()'s (example, pairs, terms, vectors, out, skip_bad_lines, ...).
    """
    from etl.steps import pipeline

    path = Path(settings.warehouse)
    if path.exists() or not pipeline.needs_llm(run_inputs(path, **inputs), start, only):
        return None
    return pipeline.check_llm(settings)  # before the warehouse file is even created
