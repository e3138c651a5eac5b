"""`--calibrate`: the bands at percentiles of this model's anchor-to-term cosines, from a seeded sample.

The sample (`sample_cosines`): up to CALIBRATION_ANCHORS anchors, each against CALIBRATION_DRAWS
seeded random other terms, scored with the exact cosine, so the same warehouse and seed give the
same bands. etl/steps/mine/stats.py quotes the same sample in its warnings. With a mine_language
policy other than `any`, `calibrate_pools` places same-language and cross-language edges apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.steps.mine.sample import Bands, Permutation
from etl.streams import STREAM_CALIBRATE, keyed
from etl.vectors import exact_cosine

if TYPE_CHECKING:
    import numpy as np

    from etl.steps.mine.data import MineInputs

CALIBRATION_ANCHORS = 8192
CALIBRATION_DRAWS = 64


def calibrate(inputs: MineInputs, percentiles: tuple[float, ...], seed: int) -> Bands:
    """Bands at percentiles of anchor-to-random-term cosines for this model (seeded, exact scores)."""
    return _bands(sample_cosines(inputs, seed), percentiles)


def calibrate_pools(inputs: MineInputs, percentiles: tuple[float, ...], seed: int) -> dict[str, Bands]:
    """Bands per language pool: `same` from the sample's pairs in one language, `cross` from the others, `all` from both.

    Cross-lingual cosines run lower than same-language ones, so one set of edges would put most
    cross-lingual terms below the bands; a pool with no sampled pair keeps the bands of `all`.
    """
    rows_a, rows_b, sims = sample_pairs(inputs, seed)
    same = inputs.lang[rows_a] == inputs.lang[rows_b]
    every = _bands(sims, percentiles)
    out = {"all": every}
    for name, mask in (("same", same), ("cross", ~same)):
        out[name] = _bands(sims[mask], percentiles) if mask.any() else every
    return out


def _bands(sims: np.ndarray, percentiles: tuple[float, ...]) -> Bands:
    import numpy as np

    edges = np.quantile(sims.astype(np.float64), percentiles).astype(np.float32)
    return Bands(np.stack([edges[:-1], edges[1:]], axis=1))


def sample_cosines(inputs: MineInputs, seed: int) -> np.ndarray:
    """Exact cosines of up to CALIBRATION_ANCHORS anchors to CALIBRATION_DRAWS random other terms each."""
    return sample_pairs(inputs, seed)[2]


def sample_pairs(inputs: MineInputs, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The calibration sample as (anchor row, term row, exact cosine) arrays."""
    import numpy as np

    order = np.argsort(keyed(seed, STREAM_CALIBRATE, inputs.anchor_ids), kind="stable")
    chosen = order[:CALIBRATION_ANCHORS]
    perm = Permutation(seed + 1, len(inputs.ids))
    draws = min(CALIBRATION_DRAWS, len(inputs.ids))
    which = np.repeat(np.arange(len(chosen)), draws)
    rows_b = perm.forward(perm.round_keys(inputs.anchor_ids[chosen]), which, np.tile(np.arange(draws), len(chosen)))
    rows_a = inputs.anchors[chosen][which]
    keep = rows_a != rows_b
    return rows_a[keep], rows_b[keep], exact_cosine(inputs.vecs, rows_a[keep], rows_b[keep])
