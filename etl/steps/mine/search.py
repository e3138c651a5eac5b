"""Finding band members for mining by an exact scan of the whole vocabulary, and what both searches share.

The contract both searches serve (see etl/steps/mine/__init__.py): per anchor and band, the population is
every eligible vocabulary term whose exact float32 cosine lies in the band, and the search returns
the min(n, population) members that come first in the anchor's permutation (`Permutation`), plus
the population's size.

`scan` computes a chunk of anchors against every term with one BLAS product, then finds members
level by level: the terms above the lowest band edge whose level is sparse are listed entry by entry
and ranked by their permutation position; a band too full to list is walked in permutation order
(draws from the product already in memory), and an anchor whose walk comes up short has that band
listed for its row alone. The ANN search (etl/steps/mine/ann.py) shares this module's `Context`
and `Found`, and hands the anchors its index cannot answer to `scan`.

Band membership is always decided on the exact cosine (`etl.vectors.exact_cosine`, a fixed-order dot product):
BLAS or index scores only rule terms in or out when they are further than a slack from every edge.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from etl.steps.mine.sample import SOURCES, Bands, Found, Members, Permutation
from etl.vectors import exact_cosine, exact_slack

if TYPE_CHECKING:
    import numpy as np

    from etl.steps.mine.data import MineInputs
    from etl.steps.mine.pools import Pool

# Similarity matrix budget per chunk of anchors in the exact scan.
EXACT_CHUNK_BYTES = 160 * 2**20
# A level (every term at or above one band edge) is listed entry by entry when it holds at most this
# many terms per anchor of the chunk; below it, bands are walked in permutation order instead.
LIST_PER_ANCHOR = 2048
DRAWS = 64  # permutation positions first walked per anchor in a band too full to list
MAX_DRAWS = 4096  # positions walked at most before the band is listed for that anchor's row
BLANK = -2.0  # written over excluded terms in a similarity chunk: below every band
SCAN, SEARCH, SAMPLE = (SOURCES.index(s) for s in ("scan", "search", "sample"))


def _cores() -> int:
    """CPUs this process may run on."""
    import os

    return max(1, len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else max(1, os.cpu_count() or 1)


def exact_chunk_size(n_terms: int) -> int:
    """Anchors per exact matrix product, so one similarity chunk stays near EXACT_CHUNK_BYTES."""
    return max(16, min(2048, EXACT_CHUNK_BYTES // (4 * max(n_terms, 1))))


@dataclass
class Context:
    """What every chunk of a mining run shares."""

    inputs: MineInputs
    bands: Bands
    n: int  # members needed per anchor and band: the negatives per anchor
    perm: Permutation
    cap: np.ndarray | None  # float32 per anchor: highest cosine a negative may have (--max-neg-ratio)
    top_k: int = 100  # ANN shortlist length before margins
    pool: Pool | None = None  # the language pool mined: only its terms are scored (etl/steps/mine/pools.py)
    workers: int = field(default_factory=lambda: _cores())
    slack: float = field(init=False)
    _masks: dict[int, np.ndarray] = field(init=False, default_factory=dict)
    levels: dict[int, int | None] = field(init=False, default_factory=dict)  # per block: the level it listed last

    def __post_init__(self) -> None:
        self.slack = exact_slack(int(self.inputs.vecs.shape[1]))
        self.inputs.exclusions(self.inputs.anchors[:0])  # build its lookup tables before threads share them

    def mask(self, block: int, shape: tuple[int, int]) -> np.ndarray:
        """A bool work array of `shape` for one block, reused from chunk to chunk (no fresh pages each time)."""
        import numpy as np

        size = shape[0] * shape[1]
        if block not in self._masks or self._masks[block].size < size:
            self._masks[block] = np.empty(size, dtype=bool)
        return self._masks[block][:size].reshape(shape)

    def settle(self, anchors: np.ndarray, which: np.ndarray, rows: np.ndarray, approx: np.ndarray) -> np.ndarray:
        """`approx` with the exact cosine wherever it is within the slack of a band edge or the cap."""
        import numpy as np

        edges = self.bands.thresholds
        near = np.zeros(len(approx), dtype=bool)
        for edge in edges:
            near |= np.abs(approx - edge) < self.slack
        if self.cap is not None:
            near |= np.abs(approx - self.cap[anchors[which]]) < self.slack
        near &= approx > BLANK
        out = approx.astype(np.float32, copy=True)
        idx = np.flatnonzero(near)
        out[idx] = exact_cosine(self.inputs.vecs, self.inputs.anchors[anchors[which[idx]]], rows[idx])
        return out

    def eligible(self, anchors: np.ndarray, which: np.ndarray, sims: np.ndarray) -> np.ndarray:
        """Band code of each scored term (-1: in no band, or over the anchor's cap)."""
        code = self.bands.classify(sims)
        if self.cap is not None:
            code[sims > self.cap[anchors[which]]] = -1
        return code


def scan(ctx: Context, anchors: np.ndarray) -> Found:
    """Exact members and populations for a chunk of anchors, from one matrix product over the vocabulary (or pool)."""
    import numpy as np

    vecs = ctx.inputs.vecs
    n_anchors = len(anchors)
    terms = vecs if ctx.pool is None else ctx.pool.vecs
    sims = vecs[ctx.inputs.anchors[anchors]] @ terms.T  # threaded BLAS; exact cosines settle the edges
    # The passes over the product are memory-bound and numpy runs each on one core: split the rows
    # between the cores (every block is mined on its own; the result does not depend on the split).
    cuts = np.linspace(0, n_anchors, min(ctx.workers, n_anchors) + 1).astype(np.int64)
    blocks = [(int(a), int(b)) for a, b in itertools.pairwise(cuts) if b > a]
    done = _pool(ctx.workers).map(
        lambda i: _scan_rows(ctx, i, anchors[slice(*blocks[i])], sims[slice(*blocks[i])]), range(len(blocks))
    )
    parts, populations = zip(*done)
    return Found(
        members=Members.concat([p for part in parts for p in part]),
        population=np.concatenate(populations),
        estimated=np.zeros((n_anchors, 3), dtype=bool),
        escalated=np.zeros(n_anchors, dtype=bool),
        escalated_by_band=np.zeros(3, dtype=np.int64),
    )


_pools: dict[int, Any] = {}


def _pool(workers: int) -> Any:
    """A thread pool of `workers` threads, made once per process."""
    from concurrent.futures import ThreadPoolExecutor

    if workers not in _pools:
        _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="etl-scan")
    return _pools[workers]


def _scan_rows(ctx: Context, block: int, anchors: np.ndarray, sims: np.ndarray) -> tuple[list[Members], np.ndarray]:
    """One block of a chunk's rows: its members, and its populations (int64[len(anchors), 3])."""
    import numpy as np

    inputs, bands = ctx.inputs, ctx.bands
    n_anchors, n_rows = len(sims), len(inputs.ids)  # n_rows: the vocabulary, which the permutations order
    excluded_which, excluded = inputs.exclusions(anchors)
    if ctx.pool is not None:  # the product's columns are the pool's terms
        excluded = ctx.pool.column[excluded]
        excluded_which, excluded = excluded_which[excluded >= 0], excluded[excluded >= 0]
    sims[excluded_which, excluded] = BLANK
    if ctx.cap is not None:
        sims[sims > (ctx.cap[anchors] + ctx.slack)[:, None]] = BLANK
    keys = ctx.perm.round_keys(inputs.anchor_ids[anchors])

    listed, top, at_least = _level(ctx, block, sims)

    lows, highs = bands.edges[:, 0].astype(np.float64), bands.edges[:, 1].astype(np.float64)
    population = np.zeros((n_anchors, 3), dtype=np.int64)
    parts = []
    if listed is not None:
        which, rows, approx = listed
        rows = rows if ctx.pool is None else ctx.pool.rows[rows]
        sim = ctx.settle(anchors, which, rows, approx)
        code = ctx.eligible(anchors, which, sim)
        # Counted like the levels below: every term at or above the edge, in a band or above them all.
        counted = sim > BLANK
        if ctx.cap is not None:
            counted &= sim <= ctx.cap[anchors[which]]
        for edge in bands.thresholds[bands.thresholds >= top]:
            at_least[float(edge)] = np.bincount(which[counted & (sim >= edge)], minlength=n_anchors)
        keep = code >= 0
        keep[keep] = lows[code[keep]] >= top
        which, rows, sim, code = which[keep], rows[keep], sim[keep], code[keep]
        np.add.at(population, (which, code), 1)
        key = ctx.perm.inverse(keys, which, rows)
        listed_members = Members(
            anchor=anchors[which],
            row=rows,
            sim=sim,
            band=code,
            key=key,
            source=np.full(len(which), SCAN, np.int8),
        )
        parts.append(_first(listed_members, which, population, ctx.n, n_rows))
    dense = np.flatnonzero(lows < top)
    empty = np.zeros((n_anchors, 3), dtype=bool)
    for band in dense:
        population[:, band] = np.maximum(at_least[lows[band]] - at_least[highs[band]], 0)
        # The low level counts a slack below its edge and the high one, listed, is exact: then 0 is proof.
        empty[:, band] = (population[:, band] == 0) & (highs[band] >= top)
    if dense.size:
        parts += _walk_dense(ctx, anchors, keys, sims, dense, population, empty)
    return parts, population


def _level(
    ctx: Context, block: int, sims: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, float, dict[float, np.ndarray]]:
    """The first level, from the lowest band edge up, with few enough terms to list one by one.

    Returns its entries (row, term, approximate cosine) and its edge, or None and inf; and, for each
    edge below it, how many terms every row has at or above that edge."""
    import numpy as np

    bands = ctx.bands
    n_anchors, n_rows = sims.shape
    # Lowest edge first, until the terms at or above an edge are few enough to list one by one.
    at_least: dict[float, np.ndarray] = {}
    listed, top = None, np.inf
    mask = ctx.mask(block, sims.shape)
    budget = LIST_PER_ANCHOR * n_anchors
    guess = ctx.levels.get(block)  # the level this block listed last chunk: list it straight away
    for level, edge in enumerate(bands.thresholds):
        np.greater_equal(sims, edge - ctx.slack, out=mask)
        if level == guess:
            flat = np.flatnonzero(mask)
            if len(flat) <= budget:
                listed, top = (flat // n_rows, flat % n_rows, sims.ravel()[flat]), float(edge)
                break
            at_least[float(edge)] = np.bincount(flat // n_rows, minlength=n_anchors)  # too full this time
            continue
        count = np.count_nonzero(mask, axis=1)
        if count.sum() <= budget:
            flat = np.flatnonzero(mask)
            listed, top = (flat // n_rows, flat % n_rows, sims.ravel()[flat]), float(edge)
            break
        at_least[float(edge)] = count
    ctx.levels[block] = level if listed is not None else None
    return listed, top, at_least


def _walk_dense(
    ctx: Context,
    anchors: np.ndarray,
    keys: np.ndarray,
    sims: np.ndarray,
    dense: np.ndarray,
    population: np.ndarray,
    empty: np.ndarray,
) -> list[Members]:
    """Members of bands too full to list: walk each anchor's permutation, and list the rows that come up short.

    Updates `population` where it learns a band's exact size (a row walked to the end, or listed)."""
    import numpy as np

    n_anchors, n_rows = len(sims), len(ctx.inputs.ids)
    is_dense = np.zeros(3, dtype=bool)
    is_dense[dense] = True
    hits = np.zeros((n_anchors, 3), dtype=np.int64)
    walked_to = np.zeros(n_anchors, dtype=np.int64)
    drawn: list[Members] = []
    todo, stop = np.arange(n_anchors), min(DRAWS, n_rows)
    while todo.size:
        start = int(walked_to[todo[0]])
        which = np.repeat(todo, stop - start)
        position = np.tile(np.arange(start, stop, dtype=np.int64), todo.size)
        rows = ctx.perm.forward(keys, which, position)
        approx = sims[which, rows] if ctx.pool is None else ctx.pool.gather(sims, which, rows, BLANK)
        sim = ctx.settle(anchors, which, rows, approx)
        code = ctx.eligible(anchors, which, sim)
        keep = code >= 0
        keep[keep] = is_dense[code[keep]]
        which, rows, sim, code, position = which[keep], rows[keep], sim[keep], code[keep], position[keep]
        np.add.at(hits, (which, code), 1)
        drawn.append(
            Members(
                anchor=anchors[which],
                row=rows,
                sim=sim,
                band=code,
                key=position,
                source=np.full(len(which), SAMPLE, np.int8),
            )
        )
        walked_to[todo] = stop
        if stop >= min(MAX_DRAWS, n_rows):
            break
        short = (hits < ctx.n) & is_dense[None, :] & ~empty
        # Walk on only where the band is full enough for MAX_DRAWS positions to find its members.
        todo = np.flatnonzero((short & (population * MAX_DRAWS >= 2 * ctx.n * n_rows)).any(axis=1))
        stop = min(MAX_DRAWS, n_rows)
    whole = walked_to >= n_rows  # walked to the end: the hits are the whole band
    population[np.ix_(whole, dense)] = hits[np.ix_(whole, dense)]
    short = (hits < ctx.n) & is_dense[None, :] & ~empty & ~whole[:, None]
    out = []
    for band in np.flatnonzero(short.any(axis=0)):
        rows_short = np.flatnonzero(short[:, band])
        members, count = _list_band(ctx, anchors, keys, sims, rows_short, int(band))
        population[rows_short, band] = count
        out.append(members)
    walked = Members.concat(drawn)
    listed = short[np.searchsorted(anchors, walked.anchor), walked.band]  # those rows' draws are superseded
    return [walked.take(~listed).first(ctx.n), *out]


def _list_band(
    ctx: Context, anchors: np.ndarray, keys: np.ndarray, sims: np.ndarray, local: np.ndarray, band: int
) -> tuple[Members, np.ndarray]:
    """Every member of one band for some rows of the chunk: its first members and its exact size per row."""
    import numpy as np

    low, high = (float(v) for v in ctx.bands.edges[band])
    sub = sims[local]
    flat = np.flatnonzero((sub >= low - ctx.slack) & (sub < high + ctx.slack))
    which, rows = local[flat // sub.shape[1]], flat % sub.shape[1]
    rows = rows if ctx.pool is None else ctx.pool.rows[rows]
    sim = ctx.settle(anchors, which, rows, sub.ravel()[flat])
    code = ctx.eligible(anchors, which, sim)
    keep = code == band
    which, rows, sim, code = which[keep], rows[keep], sim[keep], code[keep]
    count = np.bincount(which, minlength=len(sims))[local]
    key = ctx.perm.inverse(keys, which, rows)
    members = Members(
        anchor=anchors[which],
        row=rows,
        sim=sim,
        band=code,
        key=key,
        source=np.full(len(which), SCAN, np.int8),
    )
    return members.first(ctx.n), count


def _first(found: Members, which: np.ndarray, population: np.ndarray, n: int, n_rows: int) -> Members:
    """`found.first(n)`, sorting only the entries that can be among the first n of their band.

    A band's c members sit at uniform random positions of the permutation, so its n-th first one is
    below n_rows * 4n / c but for a chance of about 1e-4; a band where fewer pass is kept whole.
    """
    import numpy as np

    pair = which * 3 + found.band
    size = population.ravel()[pair]
    limit = np.where(size > 4 * n, n_rows * (4.0 * n) / np.maximum(size, 1), np.inf)
    passed = found.key < limit
    kept = np.bincount(pair[passed], minlength=population.size)
    whole = kept < np.minimum(n, population.ravel())
    return found.take(passed | whole[pair]).first(n)
