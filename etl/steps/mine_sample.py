"""The pure numpy half of mining: seeded hashing, cosine bands, per-anchor quotas, and the pick.

Randomness is a counter-based hash of (seed, stream, anchor term_id, ...), never a stateful
generator, so an anchor gets the same draws whichever chunk it lands in and however many threads run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np

BAND_NAMES = ("easy", "medium", "hard")
OTHER = "other"  # a negative outside every band (the schema allows it; the pick never takes one)

# Independent random streams drawn from the same seed.
STREAM_SAMPLE = 1  # which vocabulary rows an anchor samples for easy candidates
STREAM_PICK = 2  # the order in which an anchor takes candidates of a band
STREAM_QUOTA = 3  # how an anchor's share of negatives is rounded to whole numbers
STREAM_CALIBRATE = 4  # the anchors and terms that calibration scores
STREAM_SPLIT = 5  # the order of groups (or triplets) in the train/validation split

_GOLDEN = 0x9E3779B97F4A7C15


def _mix(x: "np.ndarray") -> "np.ndarray":
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    import numpy as np

    x = x + np.uint64(_GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def keyed(seed: int, stream: int, *parts: "np.ndarray | int") -> "np.ndarray":
    """A uint64 hash of (seed, stream, parts...), broadcast over the parts' shapes."""
    import numpy as np

    h = _mix(np.asarray([(seed * 1_000_003 + stream) % 2**64], dtype=np.uint64))
    for part in parts:
        h = _mix(h ^ np.asarray(part).astype(np.int64).astype(np.uint64))
    return h


def uniform(seed: int, stream: int, *parts: "np.ndarray | int") -> "np.ndarray":
    """Floats in [0, 1) from `keyed` (53 random bits each)."""
    import numpy as np

    return (keyed(seed, stream, *parts) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def random_rows(seed: int, anchor_ids: "np.ndarray", n_rows: int, draws: int) -> "np.ndarray":
    """`draws` vocabulary rows per anchor, uniform with replacement: int64[len(anchor_ids), draws]."""
    import numpy as np

    h = keyed(seed, STREAM_SAMPLE, anchor_ids[:, None], np.arange(draws, dtype=np.int64)[None, :])
    return (h % np.uint64(n_rows)).astype(np.int64)


@dataclass(frozen=True)
class Bands:
    """Three [low, high) cosine bands (easy, medium, hard), compared in float32."""

    edges: "np.ndarray"  # float32[3, 2]

    @classmethod
    def of(cls, easy: Sequence[float], medium: Sequence[float], hard: Sequence[float]) -> "Bands":
        """Bands from (low, high) pairs."""
        import numpy as np

        return cls(np.asarray([easy, medium, hard], dtype=np.float32).reshape(3, 2))

    def classify(self, sims: "np.ndarray") -> "np.ndarray":
        """Band code per similarity: 0 easy, 1 medium, 2 hard, -1 outside every band."""
        import numpy as np

        sims = np.asarray(sims, dtype=np.float32)
        code = np.full(sims.shape, -1, dtype=np.int8)
        for band in range(3):
            low, high = self.edges[band]
            code[(sims >= low) & (sims < high)] = band
        return code

    @property
    def search_floor(self) -> float:
        """The lowest cosine the nearest-neighbour search serves (medium and hard come from it)."""
        return float(min(self.edges[1, 0], self.edges[2, 0]))

    def as_dict(self) -> dict[str, list[float]]:
        """{"easy": [low, high], ...} with the shortest decimals that give back the float32 values."""
        return {name: [float(str(v)) for v in self.edges[i]] for i, name in enumerate(BAND_NAMES)}


def quotas(seed: int, anchor_ids: "np.ndarray", n: int, ratios: Sequence[float]) -> "np.ndarray":
    """How many negatives each anchor should take per band: int64[m, 3], each row summing to n.

    Systematic rounding with a per-anchor offset: an anchor's expected count per band is exactly
    n x ratio, so 5 negatives at 0.33/0.33/0.34 average 1.65/1.65/1.70 (the notebook's int()
    truncation gives every anchor 1/1/3, i.e. 20/20/60%).
    """
    import numpy as np

    share = np.asarray(ratios, dtype=np.float64)
    share = share / share.sum()
    cum = n * np.cumsum(share)
    cum[-1] = n
    offset = uniform(seed, STREAM_QUOTA, anchor_ids)[:, None]
    upper = np.floor(cum[None, :] + offset)
    lower = np.concatenate([np.zeros((len(anchor_ids), 1)), upper[:, :-1]], axis=1)
    return (upper - lower).astype(np.int64)


def rank_within(sorted_keys: "np.ndarray") -> "np.ndarray":
    """0, 1, 2, ... within each run of equal keys of an already sorted array."""
    import numpy as np

    if sorted_keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    index = np.arange(sorted_keys.size, dtype=np.int64)
    starts = np.empty(sorted_keys.size, dtype=bool)
    starts[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts[1:])
    return index - np.maximum.accumulate(np.where(starts, index, 0))


@dataclass
class Picks:
    """Chosen negatives: one entry per (anchor, negative)."""

    anchor: "np.ndarray"  # int64 index into the anchor list
    row: "np.ndarray"  # int64 vocabulary row of the negative
    sim: "np.ndarray"  # float32 exact cosine
    band: "np.ndarray"  # int8 band code of that cosine
    filled: "np.ndarray"  # bool: taken by the fallback fill, not by its band's quota
    sampled: "np.ndarray"  # bool: came from random sampling rather than the search

    @classmethod
    def concat(cls, parts: Sequence["Picks"]) -> "Picks":
        """All parts as one."""
        import numpy as np

        fields = ("anchor", "row", "sim", "band", "filled", "sampled")
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


def pick(
    anchor: "np.ndarray",
    row: "np.ndarray",
    sim: "np.ndarray",
    sampled: "np.ndarray",
    *,
    anchor_ids: "np.ndarray",
    row_ids: "np.ndarray",
    quota: "np.ndarray",
    n: int,
    bands: Bands,
    seed: int,
) -> Picks:
    """Take each anchor's quota per band in seeded random order, then fill its shortfall from any band.

    Inputs are eligible candidates (exclusions and cap already applied), one per (anchor, row).
    Every pick keeps the band its real similarity falls in, fill included.
    """
    import numpy as np

    band = bands.classify(sim)
    keep = band >= 0
    anchor, row, sim, sampled, band = anchor[keep], row[keep], sim[keep], sampled[keep], band[keep]
    key = keyed(seed, STREAM_PICK, anchor_ids[anchor], row_ids[row])

    order = np.lexsort((row, key, band, anchor))
    rank = np.empty_like(order)
    rank[order] = rank_within(anchor[order] * 4 + band[order])
    taken = rank < quota[anchor, band]

    need = n - np.bincount(anchor[taken], minlength=len(anchor_ids))
    rest = np.flatnonzero(~taken)
    order = rest[np.lexsort((row[rest], key[rest], anchor[rest]))]
    filled = np.zeros(anchor.size, dtype=bool)
    filled[order] = rank_within(anchor[order]) < need[anchor[order]]

    chosen = taken | filled
    return Picks(anchor[chosen], row[chosen], sim[chosen], band[chosen], filled[chosen], sampled[chosen])
