"""The usearch HNSW index (cosine, keys = term_id) over one model's term vectors: build, save, reopen.

The index lives beside the warehouse, in `<warehouse dir>/index/<model>.usearch`, with `<model>.json`
holding its fingerprint: the model, the vector count and dimension, a hash of every (term_id,
vector), and the build settings. An index whose fingerprint matches the warehouse is reused (opened
memory-mapped); any other is rebuilt. Only terms still in `terms` are indexed.

`etl index` builds it; mining calls `ensure(wh, settings, model)` to get an up-to-date index to search.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl import vectors
from etl.config import Settings
from etl.errors import EtlError
from etl.model_names import model_name
from etl.output import Progress
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np
    from usearch.index import Index

METRIC = "cos"
# Vectors added per call: big enough for usearch's threads, small enough for a smooth progress bar.
ADD_CHUNK = 4_096
# Threads adding at once link the graph in a different order on every build; a small index is built on
# one thread, in about a second, so it comes out the same each time (and so do searches over it).
SERIAL_UP_TO = 5_000
# index_dtype = auto: below this many vectors every type builds in seconds, so f32 (no rounding at all);
# above it, the build speed of each candidate type is measured here on a sample of the real vectors,
# because which type the CPU handles natively differs between machines (f16 is native on some, bf16 on
# others, and emulated half-precision types can build several times slower than f32).
AUTO_PROBE_FROM = 20_000
AUTO_CANDIDATES = ("f16", "bf16", "f32")  # i8 is left out: it loses about a fifth of the true neighbours
PROBE_VECTORS = 1_024
_probed: dict[tuple[int, str], float] = {}  # (dim, dtype) -> vectors/s measured in this process
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class OpenIndex:
    """An index ready to search: `index.search(queries, k)` returns term_ids as keys."""

    index: Index
    path: Path
    fingerprint: dict[str, Any]
    rebuilt: bool


def index_dir(wh: Warehouse) -> Path:
    """Where indexes are saved: `index/` beside the warehouse file."""
    return wh.path.parent / "index"


def index_path(wh: Warehouse, model: str) -> Path:
    """The index file for one model (the fingerprint sits beside it as .json)."""
    return index_dir(wh) / f"{_UNSAFE.sub('_', model)}.usearch"


def fingerprint(wh: Warehouse, settings: Settings, model: str) -> dict[str, Any]:
    """What an index built now would hold and how it would be built."""
    count, dim, digest = wh.one(wh.sql_file("index_fingerprint", {"model": model}))
    return {
        "model": model,
        "count": int(count),
        "dim": int(dim),
        "digest": f"{int(digest or 0):016x}",
        "metric": METRIC,
        "dtype": settings.index_dtype,
        "connectivity": settings.index_connectivity,
        "expansion_add": settings.index_expansion_add,
    }


def choose_dtype(settings: Settings, vecs: np.ndarray) -> tuple[str, str]:
    """The scalar type to build with, and why: the setting, or (auto) the fastest measured here."""
    if settings.index_dtype != "auto":
        return settings.index_dtype, "index_dtype setting"
    if len(vecs) < AUTO_PROBE_FROM:
        return "f32", f"auto: fewer than {AUTO_PROBE_FROM:,} vectors build in seconds at full precision"
    rates = {dtype: build_rate(settings, vecs, dtype) for dtype in AUTO_CANDIDATES}
    best = max(rates, key=lambda d: rates[d])
    accel = _acceleration(int(vecs.shape[1]))
    shown = ", ".join(f"{d} {rates[d]:,.0f}/s ({accel.get(d, '?')})" for d in AUTO_CANDIDATES)
    return best, f"auto: fastest build measured here ({shown})"


def build_rate(settings: Settings, vecs: np.ndarray, dtype: str) -> float:
    """Vectors per second this machine adds to an index of `dtype`, measured once per process on a sample."""
    import time

    import numpy as np
    from usearch.index import Index

    dim = int(vecs.shape[1])
    if (dim, dtype) not in _probed:
        sample = np.ascontiguousarray(
            vecs[np.linspace(0, len(vecs) - 1, min(PROBE_VECTORS, len(vecs))).astype(np.int64)]
        )
        probe = Index(
            ndim=dim,
            metric=METRIC,
            dtype=dtype,
            connectivity=settings.index_connectivity,
            expansion_add=settings.index_expansion_add,
        )
        started = time.perf_counter()
        probe.add(np.arange(len(sample), dtype=np.uint64), sample, threads=0)
        _probed[(dim, dtype)] = len(sample) / max(time.perf_counter() - started, 1e-9)
    return _probed[(dim, dtype)]


def _acceleration(dim: int) -> dict[str, str]:
    """What usearch reports it uses for each candidate type on this CPU (shown with the choice)."""
    from usearch.index import Index

    return {d: str(Index(ndim=dim, metric=METRIC, dtype=d).hardware_acceleration) for d in AUTO_CANDIDATES}


def is_current(wh: Warehouse, settings: Settings, model: str | None = None) -> bool:
    """Whether a saved index matches the warehouse and the settings (so mining needs no build)."""
    model = resolve_model(wh, settings, model)
    return _matches(_saved_fingerprint(index_path(wh, model)), fingerprint(wh, settings, model))


def _matches(saved: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    return saved is not None and all(saved.get(key) == value for key, value in wanted.items())


def resolve_model(wh: Warehouse, settings: Settings, model: str | None) -> str:
    """`model` if given; else the model `etl embed` writes, or the only model with vectors."""
    if model:
        return model
    configured = model_name(settings)
    present = [name for name, _, _ in vectors.models(wh)]
    if configured in present or len(present) != 1:
        return configured
    return present[0]


def ensure(wh: Warehouse, settings: Settings, model: str | None = None, force: bool = False) -> OpenIndex:
    """An up-to-date index for `model` (see `resolve_model`): reused when current, else rebuilt."""
    model = resolve_model(wh, settings, model)
    wanted = fingerprint(wh, settings, model)
    if wanted["count"] == 0:
        present = ", ".join(f"{name} ({count:,})" for name, _, count in vectors.models(wh)) or "none"
        raise EtlError(
            f"no vectors for model {model!r} among the terms (models with vectors: {present}); "
            "run `etl embed` first or pick one with --model"
        )
    path = index_path(wh, model)
    saved = _saved_fingerprint(path)
    if not force and _matches(saved, wanted):
        opened = _open_view(path, wanted["count"])
        if opened is not None:
            # The search depth is not part of the graph, so a changed setting applies without a rebuild.
            set_search_depth(opened, settings.index_expansion_search)
            return OpenIndex(opened, path, {**wanted, **(saved or {})}, rebuilt=False)
    built, dtype, why = _build(wh, settings, model, wanted)
    built_print = {**wanted, "built_dtype": dtype, "dtype_reason": why}
    _save(built, path, built_print)
    return OpenIndex(built, path, built_print, rebuilt=True)


def _build(wh: Warehouse, settings: Settings, model: str, wanted: dict[str, Any]) -> tuple[Index, str, str]:
    import numpy as np
    from usearch.index import Index

    ids, matrix = vectors.load(wh, model, in_terms=True)
    if len(ids) != wanted["count"]:  # pragma: no cover - one connection, so nothing writes in between
        raise EtlError(f"the vectors of {model!r} changed while indexing; run `etl index` again")
    dtype, why = choose_dtype(settings, matrix)
    built = Index(
        ndim=int(matrix.shape[1]),
        metric=METRIC,
        dtype=dtype,
        connectivity=settings.index_connectivity,
        expansion_add=settings.index_expansion_add,
        expansion_search=settings.index_expansion_search,
    )
    keys = ids.astype(np.uint64)
    threads = 1 if len(ids) <= SERIAL_UP_TO else 0  # 0: all cores
    with Progress(f"index {model}", len(ids)) as progress:
        for start in range(0, len(ids), ADD_CHUNK):
            stop = start + ADD_CHUNK
            built.add(keys[start:stop], matrix[start:stop], threads=threads)
            progress.advance(len(keys[start:stop]))
    return built, dtype, why


def _save(built: Index, path: Path, wanted: dict[str, Any]) -> None:
    """Write the index, then its fingerprint; a crash in between leaves an index that reads as stale."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = path.with_suffix(".json")
    meta.unlink(missing_ok=True)
    partial = path.with_name(path.name + ".partial")
    built.save(str(partial))
    os.replace(partial, path)
    meta_partial = meta.with_name(meta.name + ".partial")
    meta_partial.write_text(json.dumps(wanted, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(meta_partial, meta)


def _saved_fingerprint(path: Path) -> dict[str, Any] | None:
    meta = path.with_suffix(".json")
    if not (path.exists() and meta.exists()):
        return None
    try:
        saved = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # unreadable: treat as stale and rebuild
    return saved if isinstance(saved, dict) else None


def set_search_depth(index: Index, depth: int) -> None:
    """Set the index's search depth (ef), which is not part of the graph, so it changes without a rebuild."""
    # usearch defines this property's setter apart from its getter, which mypy reads as read-only.
    index.expansion_search = depth  # type: ignore[misc]


def _open_view(path: Path, count: int) -> Index | None:
    """The saved index, memory-mapped read-only; None when the file is not a usable index."""
    from usearch.index import Index

    try:
        opened = Index.restore(str(path), view=True)
    except (RuntimeError, ValueError):
        return None
    if opened is None or len(opened) != count:
        return None
    return opened
