"""Candidate search for mining: an exact chunked matrix product or the usearch index, and exact rescoring.

Both searches only shortlist: every candidate is rescored with `exact_cosine`, a single-threaded,
fixed-order float32 dot product, so band membership never depends on BLAS threading or on index
quantisation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from etl.errors import EtlError

if TYPE_CHECKING:
    import numpy as np

    from etl.config import Settings
    from etl.warehouse import Warehouse

    Searcher = Callable[["np.ndarray", int], "np.ndarray"]

# `auto` uses the exact search up to this many terms and the ANN index above it. Measured with
# `bench/mine.py --crossover` on the 2 shared cores at 1024 dimensions, anchors ~19% of the terms
# (mining seconds, exact / ANN search with the index built / index build):
# 10k 2.5 / 3.8 / 5.3, 20k 7.7 / 4.5 / 11.2, 40k 18.2 / 7.1 / 30.0, 80k 33 / 21 / 57, 150k 63-130 / 21 / 73.
# Exact grows with anchors x terms (quadratic), ANN search about linearly. Up to ~50k terms exact
# stays under ~25 s, needs no index and has perfect recall; at 150k it misses the 90 s budget under load.
AUTO_EXACT_MAX_TERMS = 50_000
# Similarity matrix budget per chunk of anchors in the exact search.
EXACT_CHUNK_BYTES = 160 * 2**20
# Shortlists are cut on approximate scores; keep candidates this far below the floor for rescoring.
EXACT_SLACK = 1e-3  # BLAS float32 rounding
ANN_SLACK = 0.03  # index quantisation (f16 / i8) and HNSW distance rounding
PAIR_BLOCK = 16_384  # pairs rescored per einsum call (bounds the gathered rows to ~2 x 64 MiB at 1024-d)


def exact_cosine(vecs: "np.ndarray", rows_a: "np.ndarray", rows_b: "np.ndarray") -> "np.ndarray":
    """float32 dot product of each (rows_a[i], rows_b[i]) pair, reproducible bit for bit.

    einsum's pairwise reduction runs single-threaded in a fixed order, so a pair's value does not
    depend on thread count, chunking or which other pairs are scored with it.
    """
    import numpy as np

    out = np.empty(len(rows_a), dtype=np.float32)
    for start in range(0, len(rows_a), PAIR_BLOCK):
        stop = start + PAIR_BLOCK
        out[start:stop] = np.einsum("ij,ij->i", vecs[rows_a[start:stop]], vecs[rows_b[start:stop]])
    return out


def resolve(mode: str, n_terms: int) -> str:
    """`exact` or `ann` for a requested mode; `auto` decides by vocabulary size."""
    if mode != "auto":
        return mode
    return "exact" if n_terms <= AUTO_EXACT_MAX_TERMS else "ann"


def exact_chunk_size(n_terms: int) -> int:
    """Anchors per exact matrix product, so one similarity chunk stays near EXACT_CHUNK_BYTES."""
    return max(16, min(2048, EXACT_CHUNK_BYTES // (4 * max(n_terms, 1))))


def exact_searcher(vecs: "np.ndarray", floor: float) -> "Searcher":
    """Shortlist the `count` most similar rows at or above `floor`, by a full matrix product."""
    import numpy as np

    from etl.steps.mine_sample import rank_within

    n = vecs.shape[0]

    def search(query_rows: "np.ndarray", count: int) -> "np.ndarray":
        count = min(count, n)
        sims = vecs[query_rows] @ vecs.T  # threaded BLAS: only used to shortlist
        above = sims >= np.float32(floor - EXACT_SLACK)
        out = np.full((len(query_rows), count), -1, dtype=np.int64)
        heavy = above.sum(axis=1) > 4 * count
        if heavy.any():
            # Many rows above the floor (a model that scores everything high): partition those rows.
            part = np.argpartition(sims[heavy], n - count, axis=1)[:, n - count :]
            out[heavy] = np.where(above[heavy][np.arange(part.shape[0])[:, None], part], part, -1)
        light = np.flatnonzero(~heavy)
        local, col = np.nonzero(above[light])
        query = light[local]
        order = np.lexsort((col, -sims[query, col], query))
        query, col = query[order], col[order]
        rank = rank_within(query)
        keep = rank < count
        out[query[keep], rank[keep]] = col[keep]
        return out

    return search


def ann_searcher(index: Any, ids: "np.ndarray", vecs: "np.ndarray", floor: float) -> "Searcher":
    """Shortlist the `count` nearest rows from a usearch index (keys = term_id, metric cos)."""
    import numpy as np

    def search(query_rows: "np.ndarray", count: int) -> "np.ndarray":
        found = index.search(vecs[query_rows], count, threads=0)
        keys = np.asarray(found.keys).reshape(len(query_rows), -1).astype(np.int64)
        dist = np.asarray(found.distances).reshape(keys.shape)
        counts = np.asarray(found.counts).reshape(-1)
        valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
        valid &= (1.0 - dist) >= floor - ANN_SLACK
        rows = np.searchsorted(ids, keys)
        rows = np.minimum(rows, len(ids) - 1)
        valid &= ids[rows] == keys  # the index may hold terms that left the vocabulary
        return np.where(valid, rows, -1)

    return search


def open_index(wh: "Warehouse", settings: "Settings", model: str) -> Any:
    """The model's usearch index from the index step (built or refreshed there when stale)."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("etl.steps.index") is None:
        raise EtlError(
            "the ANN search needs the index step (etl.steps.index), which this installation lacks; "
            "use --search exact"
        )
    index_step = importlib.import_module("etl.steps.index")
    return index_step.ensure(wh, settings, model).index


def ann_available() -> bool:
    """Whether the index step is installed (it ships with the embed step)."""
    import importlib.util

    return importlib.util.find_spec("etl.steps.index") is not None
