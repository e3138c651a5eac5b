"""`mine_search = auto`: exact scan or the ANN index, whichever this machine would finish sooner.

Both costs are estimated here, at run time, from small measurements on the real vectors: the exact
scan from one timed chunk of the matrix product; the ANN path from the index build (nothing when a
current index is saved, else the build speed the index step measures for its dtype), the search
speed, and the share of anchors the ANN path would have to finish with the exact scan anyway
(predicted on the timed chunk's exact rows). Printed with the choice, so a surprising one can be
checked and overridden with --search.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from etl.steps.mine.ann import ANN_DRAWS, ANN_SLACK, ann_available, open_index, shortlist_size
from etl.steps.mine.search import BLANK

if TYPE_CHECKING:
    import numpy as np

    from etl.config import Settings
    from etl.steps.mine.search import Context
    from etl.warehouse import Warehouse

PROBE_ANCHORS = 64  # anchors in the timed chunk
EXACT_WITHOUT_ASKING = 5.0  # seconds: an exact scan this quick is taken without weighing the index
SCAN_OVERHEAD = 1.15  # the scan's bookkeeping on top of the bare matrix product (bench/mine.py measures it)


def choose(
    wh: Warehouse | None, settings: Settings, ctx: Context, index: Any = None
) -> tuple[str, str, dict[str, float]]:
    """`exact` or `ann` for this run, a line saying why, and the estimated seconds of each path weighed."""

    inputs = ctx.inputs
    m, n, dim = len(inputs.anchors), len(inputs.ids), int(inputs.vecs.shape[1])
    probe = _probe_anchors(m)
    started = time.perf_counter()
    sims = inputs.vecs[inputs.anchors[probe]] @ inputs.vecs.T
    exact = (time.perf_counter() - started) * m / len(probe) * SCAN_OVERHEAD
    if exact <= EXACT_WITHOUT_ASKING or not ann_available():
        return "exact", f"auto: exact scan ~{exact:.0f}s", {"exact": exact}
    share = escalation_share(ctx, probe, sims)
    from etl import term_index

    if index is None and wh is not None and term_index.is_current(wh, settings, inputs.model):
        index = open_index(wh, settings, inputs.model)  # memory-mapped: cheap to open and time
    build, index_note = _build_seconds(settings, ctx, index)
    search = _search_seconds(ctx, index, probe, build)
    ann = build + search + share * exact
    detail = f"{index_note}, search ~{search:.0f}s, exact scan for ~{share:.0%} of anchors"
    choice = "exact" if exact <= ann else "ann"
    estimate = {"exact": exact, "ann": ann, "index_build": build, "ann_search": search, "escalation_share": share}
    return choice, f"auto: exact scan ~{exact:.0f}s vs ann ~{ann:.0f}s ({detail}) on {n:,} x {dim}", estimate


def _probe_anchors(m: int) -> np.ndarray:
    """Anchor indices spread over the whole list."""
    import numpy as np

    return np.unique(np.linspace(0, m - 1, min(PROBE_ANCHORS, m)).astype(np.int64))


def escalation_share(ctx: Context, probe: np.ndarray, sims: np.ndarray) -> float:
    """Expected share of anchors whose bands neither the shortlist covers nor ANN_DRAWS draws fill."""
    import numpy as np

    inputs = ctx.inputs
    n = len(inputs.ids)
    sims = sims.copy()
    which, rows = inputs.exclusions(probe)
    sims[which, rows] = BLANK
    count = min(shortlist_size(ctx, probe), n)
    last = -np.partition(-sims, count - 1, axis=1)[:, count - 1] if count < n else np.full(len(probe), -np.inf)
    lows, highs = ctx.bands.edges[:, 0], ctx.bands.edges[:, 1]
    population = np.stack([((sims >= lo) & (sims < hi)).sum(axis=1) for lo, hi in zip(lows, highs)], axis=1)
    uncovered = lows[None, :] < last[:, None] + ANN_SLACK
    hits = population * (min(ANN_DRAWS, n) / n)
    # Draw hits are about Poisson: the chance that fewer than n of them land in the band.
    short = np.array([[_poisson_below(ctx.n, lam) for lam in row] for row in hits])
    escalate = 1.0 - np.prod(np.where(uncovered, 1.0 - short, 1.0), axis=1)
    return float(escalate.mean())


def _poisson_below(k: int, lam: float) -> float:
    """P(X < k) for X ~ Poisson(lam)."""
    term, total = math.exp(-lam), 0.0
    for i in range(k):
        total += term
        term *= lam / (i + 1)
    return min(total, 1.0)


def _build_seconds(settings: Settings, ctx: Context, index: Any) -> tuple[float, str]:
    """Seconds to build the index first (0 when one is at hand), and a note saying which."""
    from etl import term_index

    if index is not None:
        return 0.0, "index current"
    vecs = ctx.inputs.vecs
    dtype, _ = term_index.choose_dtype(settings, vecs)
    rate = term_index.build_rate(settings, vecs, dtype)
    # HNSW insertion slows with the graph's depth, about log(n); the rate was measured on a small sample.
    scale = math.log(max(len(vecs), 2)) / math.log(term_index.PROBE_VECTORS)
    seconds = len(vecs) / rate * scale
    return seconds, f"index build ~{seconds:.0f}s ({dtype})"


def _search_seconds(ctx: Context, index: Any, probe: np.ndarray, build: float) -> float:
    """Seconds to search every anchor's shortlist, timed on the probe anchors when an index is at hand."""
    inputs = ctx.inputs
    count = min(shortlist_size(ctx, probe), len(inputs.ids))
    m = len(inputs.anchors)
    if index is None:
        # No index to time yet: HNSW search costs about as much per query as adding a vector.
        return build * m / max(len(inputs.ids), 1)
    queries = inputs.vecs[inputs.anchors[probe]]
    started = time.perf_counter()
    index.search(queries, count, threads=0)
    return (time.perf_counter() - started) * m / len(probe)
