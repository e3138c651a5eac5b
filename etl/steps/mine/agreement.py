"""How far `--search ann` is from the exact contract, measured on every ann run: a sample mined both ways.

The ANN path is approximate: where the index misses a band member, the band's sample is drawn from
a smaller population and a pick may differ from the exact scan's. A seeded sample of anchors is
mined again by the exact scan (an anchor's picks never depend on the anchors mined beside it), and
the two results are compared anchor by anchor: the share of anchors whose negatives are identical,
and the share of the exact scan's picks the ANN path also made. The figures go to `runs.counts`
(`ann_agreement`) and the summary.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from etl.streams import STREAM_AGREEMENT, keyed

if TYPE_CHECKING:
    from etl.steps.mine import Mined, Plan
    from etl.steps.mine.data import MineInputs

SAMPLE_ANCHORS = 256  # anchors mined both ways on every ann run


def measure(inputs: MineInputs, plan: Plan, mined: Mined) -> dict[str, Any]:
    """Mine a seeded sample of anchors by the exact scan and compare it with the ANN run's picks."""
    import numpy as np

    from etl.steps.mine import mine

    m = len(inputs.anchors)
    order = np.argsort(keyed(plan.seed, STREAM_AGREEMENT, inputs.anchor_ids), kind="stable")
    sample = np.sort(order[: min(SAMPLE_ANCHORS, m)])
    exact = mine(inputs, dataclasses.replace(plan, search="exact"), subset=sample).picks
    ann = mined.picks
    n = len(inputs.ids)
    in_sample = np.isin(ann.anchor, sample)
    ann_keys = np.unique(ann.anchor[in_sample] * n + ann.row[in_sample])
    exact_keys = np.unique(exact.anchor * n + exact.row)
    shared = np.isin(exact_keys, ann_keys)
    # An anchor agrees when both searches picked exactly the same negatives for it.
    differs = np.unique(np.concatenate([exact_keys[~shared], np.setdiff1d(ann_keys, exact_keys)]) // n)
    same_anchors = len(sample) - len(differs)
    return {
        "anchors": len(sample),
        "identical_anchors": int(same_anchors),
        "anchor_share": round(same_anchors / len(sample), 4) if len(sample) else None,
        "exact_picks": len(exact_keys),
        "shared_picks": int(shared.sum()),
        "pick_share": round(float(shared.mean()), 4) if len(exact_keys) else None,
    }


def line(agreement: dict[str, Any]) -> str:
    """The summary's line: how many sampled anchors got the exact scan's very negatives."""
    if not agreement["anchors"]:
        return "no anchor to compare"
    return (
        f"{agreement['identical_anchors']:,} of {agreement['anchors']:,} sampled anchors picked exactly the exact "
        f"scan's negatives ({agreement['anchor_share']:.1%}); {agreement['pick_share'] or 0:.1%} of its picks shared"
    )
