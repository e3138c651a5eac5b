"""What a mine run reports: its counts, its warnings, its one-screen summary, and why nothing was mined.

`run_counts` turns a run's picks into the counts its `runs` row records (per band: quota, how it was
met, the population); `summary` renders those counts, so a merged or Ray run prints the same screen
as `etl mine`. A band most anchors find empty is a warning; no triplet at all is `NoTriplets`, with
`no_triplets_message` saying where this model puts its cosines (etl/steps/mine/calibration.py samples them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl import output, splits
from etl.negatives import BAND_NAMES, pair_shares
from etl.steps.mine.calibration import sample_cosines
from etl.steps.mine.pools import describe, pair_counts
from etl.steps.mine.variants import describe as describe_variants

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from etl.steps.mine import Mined, Plan
    from etl.steps.mine.data import MineInputs

EMPTY_WARNING = 0.5  # warn when a band with a quota is empty for more than this share of anchors


def run_counts(
    inputs: MineInputs,
    mined: Mined,
    plan: Plan,
    negatives: pl.DataFrame,
    triplets: pl.DataFrame,
    skipped: pl.DataFrame,
) -> dict[str, Any]:
    """The mine run's counts (recorded in `runs.counts`): inputs, picks per band and language pair, warnings."""
    import numpy as np

    p = mined.picks
    m = len(inputs.anchors)
    per_anchor = np.bincount(p.anchor, minlength=m)
    positives = inputs.positive_counts()
    bands = _band_counts(mined)
    languages = pair_counts(inputs, p)
    counts: dict[str, Any] = {
        **inputs.counts,
        "config": plan.config(),
        "search": plan.search,
        "search_reason": plan.why,
        "terms": len(inputs.ids),
        "dim": int(inputs.vecs.shape[1]),
        "anchors": int(m),
        "anchors_with_negatives": int((per_anchor > 0).sum()),
        "anchors_short": int(((per_anchor > 0) & (per_anchor < plan.negatives)).sum()),
        "skipped_anchors": int(skipped.height),
        "negatives": int(negatives.height),
        "triplets": int(triplets.height),
        # Triplets per difficulty, most common first as the notebook printed them (ties by name).
        "difficulty": dict(sorted(triplets["difficulty"].value_counts().iter_rows(), key=lambda r: (-r[1], r[0]))),
        "found": mined.found,
        "bands": bands,
        "language": plan.language,
        "languages": languages,
        "language_shares": pair_shares(languages),
        "positives_per_anchor": {
            "mean": round(float(positives.mean()), 4),
            "min": int(positives.min()),
            "median": float(np.median(positives)),
            "max": int(positives.max()),
        },
        "warnings": _warnings(inputs, plan, bands, m),
    }
    if plan.search == "ann":
        counts["escalated"] = {
            "anchors": mined.escalated,
            "share": round(mined.escalated / m, 4),
            "by_band": mined.escalated_by_band,
            "index_missed_anchor": mined.lost,
        }
    return counts


def _band_counts(mined: Mined) -> dict[str, dict[str, Any]]:
    """Per band: quota, picks by quota and by fill, and the spread of its population over the anchors."""
    p = mined.picks
    bands = {}
    for code, name in enumerate(BAND_NAMES):
        quota = mined.quota[:, code]
        population = mined.population[:, code]
        by_quota = int(((p.band == code) & ~p.filled).sum())
        bands[name] = {
            "quota": int(quota.sum()),
            "by_quota": by_quota,
            "by_fill": int(((p.band == code) & p.filled).sum()),
            "fill_rate": round(by_quota / quota.sum(), 4) if quota.sum() else None,
            "population": _spread(population),
            "population_estimated": int(mined.estimated[:, code].sum()),
            "anchors_empty": int((population == 0).sum()),
            "anchors_short": int(((population < quota) & (quota > 0)).sum()),
        }
    return bands


def _spread(values: np.ndarray) -> dict[str, float]:
    """Mean, median and 5th percentile of a per-anchor count."""
    import numpy as np

    if values.size == 0:
        return {"mean": 0.0, "median": 0.0, "p5": 0.0}
    return {
        "mean": round(float(values.mean()), 1),
        "median": float(np.median(values)),
        "p5": float(np.percentile(values, 5)),
    }


def _cosine_range(inputs: MineInputs, plan: Plan) -> str:
    """Where this model puts anchor-to-term cosines, as percentiles of a seeded sample."""
    import numpy as np

    sims = sample_cosines(inputs, plan.seed)
    if sims.size == 0:
        return "no cosine could be sampled"
    p1, p50, p99 = np.percentile(sims.astype(np.float64), [1, 50, 99])
    return f"anchor-to-term cosines run p1 {p1:.2f} / median {p50:.2f} / p99 {p99:.2f}"


def _warnings(inputs: MineInputs, plan: Plan, bands: dict[str, Any], m: int) -> list[str]:
    """A line per band with a quota that most anchors find empty: the model does not score into it."""
    out = []
    for name, (low, high) in plan.bands.as_dict().items():
        band = bands[name]
        edges = "(calibrated per language pool)" if plan.pool_bands else f"[{low:g}, {high:g})"
        if band["quota"] and band["anchors_empty"] > EMPTY_WARNING * m:
            out.append(
                f"the {name} band {edges} is empty for {band['anchors_empty'] / m:.0%} of anchors "
                f"under model {plan.model!r} ({_cosine_range(inputs, plan)}); its quota is filled from the other "
                f"bands: try `etl mine --calibrate`, or move the band with --{name}"
            )
    return out


def no_triplets_message(inputs: MineInputs, plan: Plan) -> str:
    """Why no anchor got a negative, and what to try."""
    shown = "  ".join(f"{name} [{lo:g}, {hi:g})" for name, (lo, hi) in plan.bands.as_dict().items())
    return (
        f"no anchor of {len(inputs.anchors):,} got a negative: no eligible term scores inside the bands "
        f"({shown}) under model {plan.model!r}, whose {_cosine_range(inputs, plan)}; "
        "try `etl mine --calibrate`, or set --easy/--medium/--hard inside that range"
    )


def _shown(bands: dict[str, list[float]]) -> str:
    return "  ".join(f"{name} [{lo:g}, {hi:g})" for name, (lo, hi) in bands.items())


def summary(counts: dict[str, Any], seconds: float, run_id: int | None = None) -> output.StepResult:
    """A mine run's result from its counts (as `runs.counts` holds them), with their one-screen summary."""
    split_info = counts["split"]
    summary = output.StepResult(
        f"mine: {counts['triplets']:,} triplets from {counts['anchors']:,} anchors in {seconds:.1f}s",
        step="mine",
        run_id=run_id,
        counts=counts,
    )
    summary.add("model", f"{counts['config']['model']} ({counts['terms']:,} terms x {counts['dim']})")
    _search_lines(summary, counts)
    pool_bands = counts["config"].get("pool_bands", {})
    if not pool_bands:
        summary.add("bands", _shown(counts["config"]["bands"]))
    else:
        summary.add("bands", "calibrated per language pool")
        for kind, label in (("same", "same-language"), ("cross", "cross-language"), ("all", "a ko+en pool")):
            summary.add(f"  {label}", _shown(pool_bands[kind]))
    summary.add("negatives", counts["negatives"])
    for name, band in counts["bands"].items():
        rate = "-" if band["fill_rate"] is None else f"{band['fill_rate']:.0%}"
        pop = band["population"]
        summary.add(
            f"  {name}",
            f"{band['by_quota'] + band['by_fill']:,} (quota {band['quota']:,} met {rate}, fill {band['by_fill']:,}; "
            f"members/anchor median {pop['median']:,.0f}, p5 {pop['p5']:,.0f}; empty for {band['anchors_empty']:,})",
        )
        if "language_shares" in counts:  # runs from before the language pairs were counted have none
            summary.add("    languages", describe(counts["language_shares"][name]))
    total = max(counts["triplets"], 1)
    shares = [f"{name} {n:,} ({100 * n / total:.1f}%)" for name, n in counts.get("difficulty", {}).items()]
    summary.add("triplets by difficulty", "  ".join(shares) or "none")
    if "language_shares" in counts:
        summary.add("languages", f"{describe(counts['language_shares']['all'])} (policy {counts['language']})")
    pos = counts["positives_per_anchor"]
    summary.add(
        "positives/anchor", f"mean {pos['mean']:.2f}  min {pos['min']}  median {pos['median']:g}  max {pos['max']}"
    )
    summary.add("short anchors", counts["anchors_short"])
    summary.add("skipped anchors", f"{counts['skipped_anchors']:,} (see rejects, rule no_negative)")
    if "variants" in counts:
        summary.add("variants", describe_variants(counts["variants"]))
    summary.add("split", splits.describe_line(split_info))
    for line in counts["warnings"]:
        summary.warn(line)
    return summary


def _search_lines(summary: output.StepResult, counts: dict[str, Any]) -> None:
    """How the bands were searched: the mode and why, auto's estimate against the outcome, the escalation."""
    summary.add("search", f"{counts['search']} ({counts['search_reason']})")
    if "estimate" in counts:
        est = counts["estimate"]
        summary.add(
            "  estimate",
            f"{est['chosen']} ~{est['estimated_seconds']:.1f}s estimated, {est['taken_seconds']:.1f}s taken "
            "(index build and search)",
        )
    if "ann_agreement" in counts:
        from etl.steps.mine.agreement import line

        summary.add("  agreement", line(counts["ann_agreement"]))
    if "escalated" in counts:
        esc = counts["escalated"]
        why = ", ".join(f"{band} {n:,}" for band, n in esc["by_band"].items() if n) or "none"
        missed = (
            f"; the index missed {esc['index_missed_anchor']:,} anchors themselves"
            if esc["index_missed_anchor"]
            else ""
        )
        summary.add("  exact scan for", f"{esc['anchors']:,} anchors ({esc['share']:.1%}; short bands: {why}{missed})")
