"""`etl mine --ray [ADDRESS]`: the shards of etl/steps/mine/shards.py as Ray tasks, landed by the driver.

The driver loads the inputs and resolves the plan once (so `auto` picks one search mode for every
shard), shares the inputs with the tasks — through Ray's object store (`ray.put`: numpy arrays are
read zero-copy by every worker of a node), or as .npy files on storage every node mounts
(`--ray-vectors DIR`, memory-mapped by the tasks) — and starts one task per shard. Each task
returns its part (picks and per-anchor counts as polars frames). A task whose worker dies is run
again by Ray (`max_retries`); the driver waits for one result per shard index and lands them only
when all have returned, through the same merge as `etl mine --merge`, so a retried shard is
recomputed, never counted twice, and the landed rows equal a single-process `etl mine`'s.

Ray is optional (`pip install ".[ray]"`); nothing here is imported without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl import install_hint, output
from etl.config import Settings
from etl.errors import ConfigError, EtlError
from etl.steps import mine
from etl.steps.mine import data
from etl.steps.mine import shards as mine_shards  # `shards` is the shard count here
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    from etl.steps.mine.data import MineInputs

MAX_RETRIES = 3  # attempts Ray makes again for a task whose worker process died
_ARRAYS = (
    "ids",
    "vecs",
    "group",
    "spelling",
    "anchors",
    "pos_ptr",
    "pos_rows",
    "excluded_spellings",
    "group_spellings",
    "group_index",
    "variant_ptr",
    "variant_keys",
    "variant_rules",
    "excluded_variants",
    "group_variants",
    "lang",
    "judged_ptr",
    "judged_rows",
)


def import_ray() -> Any:
    """The ray module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--ray needs Ray, which is not installed: {install_hint('ray')}") from None
    return ray


def run(
    wh: Warehouse,
    settings: Settings,
    address: str | None = None,
    model: str | None = None,
    shards: int | None = None,
    vectors_dir: Path | None = None,
    crash_once: Path | None = None,
) -> output.StepResult:
    """Mine on a Ray cluster (`address`, or a local one when None/"local") and land the result as one mine run.

    `shards` defaults to the cluster's CPUs; `vectors_dir` shares the inputs as .npy files there
    instead of through the object store. `crash_once` is a marker file for fault drills: while it
    does not exist, the first task of shard 0 creates it and kills its own worker process.
    """
    ray = import_ray()
    if shards is not None and shards < 1:
        raise ConfigError(f"--ray-shards must be at least 1, not {shards}")
    model = data.choose_model(wh, model)
    started = _connect(ray, address)
    try:
        shards = shards or max(1, int(ray.cluster_resources().get("CPU", 1)))
        params = mine.params(settings, model) | {"ray": address or "local", "shards": shards}
        with wh.record("mine", params) as run:
            clock = mine.Clock()
            inputs = mine.prepare(wh, model, settings.mine_variants)
            clock.lap("load")
            plan = mine.make_plan(wh, settings, inputs, model)
            index_path = _index(wh, settings, model) if plan.search == "ann" else None
            clock.lap("plan")
            source = save_inputs(inputs, vectors_dir) if vectors_dir is not None else ray.put(inputs)
            task = ray.remote(max_retries=MAX_RETRIES, num_cpus=1)(_mine_shard)
            refs = [
                task.remote(
                    source,
                    plan,
                    i,
                    shards,
                    index_path,
                    settings.index_expansion_search,
                    str(crash_once) if crash_once else None,
                )
                for i in range(shards)
            ]
            parts = _gather(ray, refs)
            clock.lap("search")
            mined = mine_shards.combine(inputs, parts)
            mine.land(wh, run, settings, inputs, plan, mined, clock)
            run.counts["shards"] = mine_shards.shard_counts(parts, mine_shards.record(wh, parts, params, run.run_id))
            run.counts["ray"] = {
                "address": address or "local",
                "started_cluster": started,
                "shared_by": "files" if vectors_dir is not None else "object store",
            }
    finally:
        if started:
            ray.shutdown()
    where = "a local Ray" if started else f"Ray at {address or 'the running cluster'}"
    return mine.summary(run.counts, run.seconds, run.run_id).add("ray", f"{shards} shards on {where}")


def _gather(ray: Any, refs: list[Any]) -> list[mine_shards.Part]:
    """One part per shard index, in order (a retried task still returns once); a task's failure as one line."""
    try:
        return list(ray.get(refs))
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, EtlError):
            raise type(cause)(str(cause)) from exc
        first = str(cause or exc).strip().splitlines()[-1] if str(cause or exc).strip() else type(exc).__name__
        raise EtlError(f"a mining task failed on Ray ({first}); this is a bug, please report it") from exc
    except ray.exceptions.RayError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EtlError(
            f"a mining task was lost on Ray after {MAX_RETRIES} retries ({first}); check the nodes' "
            "memory and logs, then run again"
        ) from exc


def _connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at `address` (or the one already running in this process); True when we started it."""
    if ray.is_initialized():
        return False
    local = address in (None, "", "local")
    try:
        ray.init(
            address=None if local else address, include_dashboard=False, log_to_driver=False, configure_logging=False
        )
    except ConnectionError as exc:
        raise EtlError(
            f"cannot reach the Ray cluster at {address} ({exc}); start it with `ray start --head` "
            "or give its address, e.g. --ray ray://head:10001"
        ) from exc
    return True


def _index(wh: Warehouse, settings: Settings, model: str) -> str:
    """The up-to-date index file the tasks open (built here when stale); it must be on storage they share."""
    from etl import term_index

    return str(Path(term_index.ensure(wh, settings, model).path).resolve())  # workers may start elsewhere


def _mine_shard(
    source: Any,
    plan: mine.Plan,
    shard: int,
    shards: int,
    index_path: str | None,
    expansion_search: int,
    crash_once: str | None,
) -> mine_shards.Part:
    """One Ray task: mine one shard from the shared inputs; returns its part."""
    import os

    if crash_once and shard == 0 and not Path(crash_once).exists():
        Path(crash_once).touch()
        os._exit(1)  # the worker dies mid-task, as on a lost node: Ray runs the task again
    inputs = load_inputs(Path(source)) if isinstance(source, str) else source
    index = None
    if index_path is not None:
        from usearch.index import Index

        from etl.term_index import set_search_depth

        index = Index.restore(index_path, view=True)
        if index is None:
            raise EtlError(f"{index_path} is not a usearch index; run `etl index --force` and retry")
        set_search_depth(index, expansion_search)
    # The task has one CPU of the cluster: its exact scan runs one block at a time.
    return mine_shards.compute(inputs, plan, shard, shards, index, workers=1)


def save_inputs(inputs: MineInputs, directory: Path) -> str:
    """Write the mining inputs as .npy files (plus a JSON of the rest) for tasks on other nodes; returns the path."""
    import numpy as np

    directory = Path(directory).resolve()  # the tasks' working directory may not be ours
    directory.mkdir(parents=True, exist_ok=True)
    for name in _ARRAYS:
        np.save(directory / f"{name}.npy", np.ascontiguousarray(getattr(inputs, name)))
    meta = {
        "model": inputs.model,
        "n_spellings": inputs.n_spellings,
        "n_variant_keys": inputs.n_variant_keys,
        "variants_on": inputs.variants_on,
        "counts": inputs.counts,
    }
    (directory / "inputs.json").write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
    return str(directory)


def load_inputs(directory: Path) -> MineInputs:
    """The mining inputs saved by save_inputs, memory-mapped (pages are read as the scan needs them)."""
    import numpy as np

    from etl.steps.mine.data import MineInputs

    meta = json.loads((directory / "inputs.json").read_text(encoding="utf-8"))
    arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
    return MineInputs(
        model=meta["model"],
        n_spellings=meta["n_spellings"],
        n_variant_keys=meta["n_variant_keys"],
        variants_on=meta["variants_on"],
        counts=meta["counts"],
        **arrays,
    )
