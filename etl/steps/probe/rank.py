"""The probe's evaluation: where each validation anchor's positives rank among the vocabulary, after an adapter.

A query is an anchor and a pool of candidates. In the `mixed` pool the candidates are every
vocabulary term; in the `target` pool, those in one language, with one query per language among the
anchor's positives. Never a candidate: the anchor, and the members of its synonym group that are not
its positives (synonyms the triplets did not pair with it are neither hits nor misses).

A positive's rank is 1 + the number of candidates that are not positives and score strictly higher
(cosine after the adapter): positives never push each other down. Per query, MRR@10 is 1 / the rank
of its best positive (0 beyond 10) and recall@k the share of its positives ranked k or better;
each figure is the mean over queries.

Scores come a chunk of anchors at a time from one BLAS product against the frozen vectors plus a
rank-r correction, so the adapted vocabulary is never materialised (its norms are, from dim × rank
products).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from etl.steps.probe.adapter import Adapter

if TYPE_CHECKING:
    import numpy as np

POOLS = ("target", "mixed")
METRICS = ("mrr@10", "recall@1", "recall@10")
CHUNK = 128  # anchors scored per BLAS product: CHUNK × vocabulary floats at a time


@dataclass
class Vocabulary:
    """The frozen vectors, sorted by language so that each language is a contiguous block of columns."""

    ids: np.ndarray  # int64[n] term ids
    vectors: np.ndarray  # float32[n, dim], unit rows
    groups: np.ndarray  # int64[n] synonym group, -1 for none
    blocks: dict[str, tuple[int, int]]  # language -> [start, stop) of its columns

    def lang_of(self, rows: np.ndarray) -> np.ndarray:
        """The index (into `blocks`) of each row's language."""
        import numpy as np

        starts = np.array([start for start, _ in self.blocks.values()])
        return np.searchsorted(starts, rows, side="right") - 1


def evaluate(
    vocab: Vocabulary, adapter: Adapter, xu: np.ndarray, anchors: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]
) -> dict[str, dict[str, float]]:
    """pool -> metric -> mean over queries, for `anchors` (vocabulary rows) and their (anchor, positive) row pairs.

    `xu` is the vocabulary's vectors @ adapter.u; `pairs` lists every positive of every anchor
    (two aligned arrays of vocabulary rows).
    """
    import numpy as np

    # Norms of the adapted vocabulary, from rank-sized products: |x + x U Vᵀ|² = 1 + 2 (xU)·(xV) + |xU Vᵀ|².
    xv = vocab.vectors @ adapter.v
    gram = adapter.v.T @ adapter.v
    norms = np.sqrt(np.maximum(1.0 + 2.0 * np.sum(xu * xv, axis=1) + np.sum((xu @ gram) * xu, axis=1), 1e-24))
    inv_norms = (1.0 / norms).astype(np.float32)
    sums = {pool: dict.fromkeys(METRICS, 0.0) for pool in POOLS}
    queries = dict.fromkeys(POOLS, 0)
    anchors = np.unique(anchors)  # sorted, so a chunk finds its pairs by binary search
    pair_anchor, pair_positive = pairs
    for start in range(0, len(anchors), CHUNK):
        chunk = anchors[start : start + CHUNK]
        keep = np.isin(pair_anchor, chunk)
        rows_in_chunk = np.searchsorted(chunk, pair_anchor[keep])
        scores = _scores(vocab, adapter, chunk, xu, inv_norms)
        _accumulate(vocab, scores, chunk, rows_in_chunk, pair_positive[keep], sums, queries)
    return {pool: {m: (sums[pool][m] / queries[pool] if queries[pool] else 0.0) for m in METRICS} for pool in POOLS}


def _scores(
    vocab: Vocabulary, adapter: Adapter, chunk: np.ndarray, xu: np.ndarray, inv_norms: np.ndarray
) -> np.ndarray:
    """float32[len(chunk), n]: cosine of each adapted anchor with each adapted vocabulary term."""
    queries = adapter.apply(vocab.vectors[chunk], xu[chunk])
    scores = queries @ vocab.vectors.T
    scores += (queries @ adapter.v) @ xu.T
    scores *= inv_norms[None, :]
    return scores


def _accumulate(
    vocab: Vocabulary,
    scores: np.ndarray,
    chunk: np.ndarray,
    pair_rows: np.ndarray,
    positives: np.ndarray,
    sums: dict[str, dict[str, float]],
    queries: dict[str, int],
) -> None:
    """Rank a chunk's positives in each pool and add its queries' figures to `sums`."""
    import numpy as np

    positive_scores = scores[pair_rows, positives]
    # Leave out the anchor's synonym group (which holds the anchor) and its positives: what is left competes.
    scores[vocab.groups[chunk][:, None] == vocab.groups[None, :]] = -np.inf
    scores[np.arange(len(chunk)), chunk] = -np.inf
    scores[pair_rows, positives] = -np.inf
    langs = vocab.lang_of(positives)
    for pool in POOLS:
        blocks = list(vocab.blocks.values()) if pool == "target" else [(0, len(vocab.ids))]
        for block, (lo, hi) in enumerate(blocks):
            mine = langs == block if pool == "target" else np.ones(len(positives), dtype=bool)
            if not mine.any():
                continue
            above = np.count_nonzero(scores[pair_rows[mine], lo:hi] > positive_scores[mine][:, None], axis=1)
            _add(sums[pool], queries, pool, pair_rows[mine], above + 1)


def _add(sums: dict[str, float], queries: dict[str, int], pool: str, query_of: np.ndarray, ranks: np.ndarray) -> None:
    """Per query (the positives sharing a query_of value): MRR@10 of its best rank, recall@1 and @10."""
    import numpy as np

    keys, inverse, counts = np.unique(query_of, return_inverse=True, return_counts=True)
    best = np.full(len(keys), np.iinfo(np.int64).max)
    np.minimum.at(best, inverse, ranks)
    sums["mrr@10"] += float(np.sum(np.where(best <= 10, 1.0 / best, 0.0)))
    for k in (1, 10):
        hits = np.bincount(inverse, weights=(ranks <= k).astype(np.float64), minlength=len(keys))
        sums[f"recall@{k}"] += float(np.sum(hits / counts))
    queries[pool] += len(keys)
