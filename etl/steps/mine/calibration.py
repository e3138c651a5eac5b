"""`--calibrate`: the bands at percentiles of this model's anchor-to-term cosines, from a seeded sample.

The sample (`sample_cosines`): up to CALIBRATION_ANCHORS anchors, each against CALIBRATION_DRAWS
seeded random other terms, scored with the exact cosine, so the same warehouse and seed give the
same bands. etl/steps/mine/stats.py quotes the same sample in its warnings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.steps.mine import sample
from etl.steps.mine.sample import Bands, Permutation
from etl.steps.mine.search import exact_cosine

if TYPE_CHECKING:
    import numpy as np

    from etl.steps.mine.data import MineInputs

CALIBRATION_ANCHORS = 8192
CALIBRATION_DRAWS = 64


def calibrate(inputs: MineInputs, percentiles: tuple[float, ...], seed: int) -> Bands:
    """Bands at percentiles of anchor-to-random-term cosines for this model (seeded, exact scores)."""
    import numpy as np

    sims = sample_cosines(inputs, seed)
    edges = np.quantile(sims.astype(np.float64), percentiles).astype(np.float32)
    return Bands(np.stack([edges[:-1], edges[1:]], axis=1))


def sample_cosines(inputs: MineInputs, seed: int) -> np.ndarray:
    """Exact cosines of up to CALIBRATION_ANCHORS anchors to CALIBRATION_DRAWS random other terms each."""
    import numpy as np

    order = np.argsort(sample.keyed(seed, sample.STREAM_CALIBRATE, inputs.anchor_ids), kind="stable")
    chosen = order[:CALIBRATION_ANCHORS]
    perm = Permutation(seed + 1, len(inputs.ids))
    draws = min(CALIBRATION_DRAWS, len(inputs.ids))
    which = np.repeat(np.arange(len(chosen)), draws)
    rows_b = perm.forward(perm.round_keys(inputs.anchor_ids[chosen]), which, np.tile(np.arange(draws), len(chosen)))
    rows_a = inputs.anchors[chosen][which]
    keep = rows_a != rows_b
    return exact_cosine(inputs.vecs, rows_a[keep], rows_b[keep])
