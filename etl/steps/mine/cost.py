"""`mine_search = auto`: exact scan or the ANN index, whichever this machine would finish sooner.

First from the warehouse's own past: a successful mine run of the same model and shape (terms and
dimension) recorded what each path really took (`seconds.search` per anchor, escalation included,
and `seconds.index` when it built the index), and those figures are used as they are. What has no
past run is estimated here, at run time, from small measurements on the real vectors: the exact
scan from one timed chunk of the matrix product; the ANN path from the index build (nothing when a
current index is saved, else the build speed the index step measures for its dtype), the search
speed, and the share of anchors the ANN path would have to finish with the exact scan anyway
(predicted on the timed chunk's exact rows). Such an estimate of the ANN path has been off by 5x
at 150,000 x 1024 (the build and the escalation both grow with the data), so an ANN path that was
never run on this model and shape is taken only when it looks UNTRUSTED_MARGIN times faster.
Printed with the choice, and the outcome beside it after the run, so a surprising one can be
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
UNTRUSTED_MARGIN = 2.0  # an ANN path never run on this model and shape must look this much faster
PAST_RUNS = 50  # newest mine runs looked at for what each path took


def choose(
    wh: Warehouse | None, settings: Settings, ctx: Context, index: Any = None
) -> tuple[str, str, dict[str, float]]:
    """`exact` or `ann` for this run, a line saying why, and the estimated seconds of each path weighed."""

    inputs = ctx.inputs
    m, n, dim = len(inputs.anchors), len(inputs.ids), int(inputs.vecs.shape[1])
    past = learned(wh, inputs.model, n, dim) if wh is not None else {}
    probe = _probe_anchors(m)
    started = time.perf_counter()
    sims = inputs.vecs[inputs.anchors[probe]] @ inputs.vecs.T
    exact = (time.perf_counter() - started) * m / len(probe) * SCAN_OVERHEAD
    if "exact" in past:
        exact = past["exact"] * m
    if exact <= EXACT_WITHOUT_ASKING or not ann_available():
        return "exact", f"auto: exact scan ~{exact:.0f}s{_from_past(past, 'exact')}", {"exact": exact}
    from etl import term_index

    if index is None and wh is not None and term_index.is_current(wh, settings, inputs.model):
        index = open_index(wh, settings, inputs.model)  # memory-mapped: cheap to open and time
    build, index_note = _build_seconds(settings, ctx, index)
    if index is None and "index_build" in past:
        build, index_note = (
            past["index_build"],
            f"index build ~{past['index_build']:.0f}s (run {past['index_run']:.0f})",
        )
    estimate = {"exact": exact, "index_build": build}
    if "ann" in past:
        search, share = past["ann"] * m, past["ann_escalation"]
        detail = f"{index_note}, search ~{search:.0f}s with its exact scans (run {past['ann_run']:.0f})"
        ann, margin = build + search, 1.0
    else:
        share = escalation_share(ctx, probe, sims)
        search = _search_seconds(ctx, index, probe, build)
        detail = f"{index_note}, search ~{search:.0f}s, exact scan for ~{share:.0%} of anchors; never run here"
        ann, margin = build + search + share * exact, UNTRUSTED_MARGIN
    choice = "ann" if ann * margin < exact else "exact"
    estimate.update(ann=ann, ann_search=search, escalation_share=share, ann_margin=margin)
    reason = f"auto: exact scan ~{exact:.0f}s{_from_past(past, 'exact')} vs ann ~{ann:.0f}s ({detail}) on {n:,} x {dim}"
    if margin > 1.0 and exact <= ann * margin and ann < exact:
        reason += f"; an ann path never run on this model and shape must look {margin:g}x faster"
    return choice, reason, estimate


def learned(wh: Warehouse, model: str, n: int, dim: int) -> dict[str, float]:
    """What each path really took in the newest mine runs of this model and shape: seconds per anchor.

    Keys: `exact` and `ann` (seconds.search per anchor; ann's includes the anchors it finished with the
    exact scan) with `exact_run` / `ann_run` and `ann_escalation`, and `index_build` / `index_run` from
    the newest run that built the index. Runs of language pools or of other shapes are left out.
    """
    import json

    out: dict[str, float] = {}
    rows = wh.execute(
        "SELECT run_id, counts FROM runs WHERE step = 'mine' AND status = 'ok' AND counts IS NOT NULL "
        "ORDER BY run_id DESC LIMIT ?",
        [PAST_RUNS],
    ).fetchall()
    for run_id, text in rows:
        counts = json.loads(text)
        config, seconds = counts.get("config", {}), counts.get("seconds", {})
        shape = (config.get("model"), counts.get("terms"), counts.get("dim"), config.get("language", "any"))
        if shape != (model, n, dim, "any") or not counts.get("anchors") or "search" not in seconds:
            continue
        path = counts.get("search")
        if path in ("exact", "ann") and path not in out:
            out[path], out[f"{path}_run"] = seconds["search"] / counts["anchors"], run_id
            if path == "ann":
                out["ann_escalation"] = counts.get("escalated", {}).get("share", 0.0)
        if path == "ann" and counts.get("index_built") and "index_build" not in out:
            out["index_build"], out["index_run"] = seconds["index"], run_id
    return out


def _from_past(past: dict[str, float], path: str) -> str:
    return f" (run {past[path + '_run']:.0f})" if path in past else ""


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
