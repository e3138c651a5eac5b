"""`etl index`: a usearch HNSW index (cosine, keys = term_id) over one model's term vectors.

Write mode: replace. The index lives beside the warehouse, in `<warehouse dir>/index/<model>.usearch`,
with `<model>.json` holding its fingerprint: the model, the vector count and dimension, a hash of
every (term_id, vector), and the build settings. An index whose fingerprint matches the warehouse is
reused (opened memory-mapped); any other is rebuilt. Only terms still in `terms` are indexed.

The index itself (build, save, reopen) is etl/term_index.py, which mining also calls.
"""

from __future__ import annotations

from etl.config import Settings
from etl.output import StepResult, human_bytes
from etl.term_index import ensure, resolve_model
from etl.warehouse import Warehouse

STEP = "index"


def run(wh: Warehouse, settings: Settings, model: str | None = None, force: bool = False) -> StepResult:
    """Build (or confirm) the index for one model and summarise it."""
    model = resolve_model(wh, settings, model)
    params = {
        "model": model,
        "index_dtype": settings.index_dtype,
        "connectivity": settings.index_connectivity,
        "expansion_add": settings.index_expansion_add,
        "force": force,
    }
    with wh.record(STEP, params) as run:
        opened = ensure(wh, settings, model, force=force)
        count = opened.fingerprint["count"]
        size = opened.path.stat().st_size
        dtype, why = (
            opened.fingerprint.get("built_dtype", settings.index_dtype),
            opened.fingerprint.get("dtype_reason", ""),
        )
        run.counts.update(vectors=count, rebuilt=opened.rebuilt, bytes=size, dtype=dtype, dtype_reason=why)
        summary = (
            StepResult.of(run, f"index: {model}", outputs=[opened.path])
            .add("vectors", count)
            .add("dim", opened.fingerprint["dim"])
        )
        summary.add("dtype", f"{dtype} ({why})" if why else dtype).add("connectivity", settings.index_connectivity)
        summary.add("status", "rebuilt" if opened.rebuilt else "up to date, reused")
        if opened.rebuilt:
            summary.add("seconds", run.seconds).add("vectors/s", count / max(run.seconds, 1e-9))
        return summary.add("index size", human_bytes(size)).add("path", opened.path)
