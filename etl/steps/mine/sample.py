"""The pure numpy half of mining: seeded permutations, cosine bands, per-anchor quotas, and the pick.

Randomness is a counter-based hash of (seed, stream, anchor term_id, ...) from etl/streams.py, never
a stateful generator, so an anchor gets the same draws whichever chunk it lands in and however many
threads run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from etl.negatives import BAND_NAMES
from etl.streams import STREAM_PERMUTE, STREAM_QUOTA, keyed, mix, uniform

if TYPE_CHECKING:
    import numpy as np


class Permutation:
    """Per anchor, a seeded pseudo-random permutation of the vocabulary rows [0, n): a keyed Feistel network.

    An anchor's band picks are the band members that come first in its permutation. `forward` walks
    the permutation (draw 0, 1, 2, ...), which finds them fast in a band that holds many terms;
    `inverse` gives any term's place in it, which ranks the few members of a sparse band. Both give
    the same members, so how a band was searched never changes what it picks. Counter-based like
    `keyed`: an anchor's permutation depends only on the seed, its term_id and n.
    """

    ROUNDS = 4  # even, so the two halves end the network at the sizes they started with

    def __init__(self, seed: int, n: int) -> None:
        bits = max(2, int(n - 1).bit_length())  # 2**bits < 2n: cycle-walking takes under two steps on average
        self.seed, self.n = seed, n
        self.high, self.low = (bits + 1) // 2, bits // 2  # sizes of the left and right halves, in bits

    def round_keys(self, anchor_ids: np.ndarray) -> np.ndarray:
        """uint64[len(anchor_ids), ROUNDS]: the network's keys for each anchor."""
        import numpy as np

        return keyed(self.seed, STREAM_PERMUTE, np.asarray(anchor_ids)[:, None], np.arange(self.ROUNDS)[None, :])

    def forward(self, keys: np.ndarray, which: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The row at each position of anchor `keys[which]`'s permutation (int64)."""
        return self._walk(keys, which, positions, self._encrypt)

    def inverse(self, keys: np.ndarray, which: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The position of each row in anchor `keys[which]`'s permutation (int64)."""
        return self._walk(keys, which, rows, self._decrypt)

    def _walk(self, keys: np.ndarray, which: np.ndarray, values: np.ndarray, step: Any) -> np.ndarray:
        import numpy as np

        out = step(keys, which, np.asarray(values).astype(np.uint64))
        outside = np.flatnonzero(out >= np.uint64(self.n))
        while outside.size:
            out[outside] = step(keys, which[outside], out[outside])
            outside = outside[out[outside] >= np.uint64(self.n)]
        return out.astype(np.int64)

    def _encrypt(self, keys: np.ndarray, which: np.ndarray, x: np.ndarray) -> np.ndarray:
        import numpy as np

        sizes = [self.high, self.low]  # bits of (left, right); an unbalanced network swaps them each round
        left, right = x >> np.uint64(self.low), x & np.uint64((1 << self.low) - 1)
        for r in range(self.ROUNDS):
            mixed = mix(right ^ keys[which, r]) & np.uint64((1 << sizes[0]) - 1)
            left, right = right, left ^ mixed
            sizes.reverse()
        return (left << np.uint64(self.low)) | right

    def _decrypt(self, keys: np.ndarray, which: np.ndarray, x: np.ndarray) -> np.ndarray:
        import numpy as np

        sizes = [self.high, self.low]
        left, right = x >> np.uint64(self.low), x & np.uint64((1 << self.low) - 1)
        for r in reversed(range(self.ROUNDS)):
            mixed = mix(left ^ keys[which, r]) & np.uint64((1 << sizes[1]) - 1)
            left, right = right ^ mixed, left
            sizes.reverse()
        return (left << np.uint64(self.low)) | right


@dataclass(frozen=True)
class Bands:
    """Three [low, high) cosine bands (easy, medium, hard), compared in float32."""

    edges: np.ndarray  # float32[3, 2]

    @classmethod
    def of(cls, easy: Sequence[float], medium: Sequence[float], hard: Sequence[float]) -> Bands:
        """Bands from (low, high) pairs."""
        import numpy as np

        return cls(np.asarray([easy, medium, hard], dtype=np.float32).reshape(3, 2))

    def classify(self, sims: np.ndarray) -> np.ndarray:
        """Band code per similarity: 0 easy, 1 medium, 2 hard, -1 outside every band."""
        import numpy as np

        sims = np.asarray(sims, dtype=np.float32)
        code = np.full(sims.shape, -1, dtype=np.int8)
        for band in range(3):
            low, high = self.edges[band]
            code[(sims >= low) & (sims < high)] = band
        return code

    @property
    def thresholds(self) -> np.ndarray:
        """Every distinct band edge, ascending (float32)."""
        import numpy as np

        return np.unique(self.edges.ravel())

    def as_dict(self) -> dict[str, list[float]]:
        """{"easy": [low, high], ...} with the shortest decimals that give back the float32 values."""
        return {name: [float(str(v)) for v in self.edges[i]] for i, name in enumerate(BAND_NAMES)}


def quotas(seed: int, anchor_ids: np.ndarray, n: int, ratios: Sequence[float]) -> np.ndarray:
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


def rank_within(sorted_keys: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal keys of an already sorted array."""
    import numpy as np

    if sorted_keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    index = np.arange(sorted_keys.size, dtype=np.int64)
    starts = np.empty(sorted_keys.size, dtype=bool)
    starts[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts[1:])
    return index - np.maximum.accumulate(np.where(starts, index, 0))


SOURCES = ("scan", "search", "sample")  # how a member was found: exact scan, ANN shortlist, random draw


@dataclass
class Members:
    """Band members of anchors, one entry per (anchor, row): per anchor and band at least the
    min(n, population) members that come first in the anchor's permutation."""

    anchor: np.ndarray  # int64 index into the anchor list
    row: np.ndarray  # int64 vocabulary row
    sim: np.ndarray  # float32 exact cosine
    band: np.ndarray  # int8 band code of that cosine
    key: np.ndarray  # int64 position in the anchor's permutation
    source: np.ndarray  # int8 index into SOURCES

    FIELDS = ("anchor", "row", "sim", "band", "key", "source")

    @classmethod
    def empty(cls) -> Members:
        """No members."""
        import numpy as np

        return cls(
            anchor=np.zeros(0, dtype=np.int64),
            row=np.zeros(0, dtype=np.int64),
            sim=np.zeros(0, dtype=np.float32),
            band=np.zeros(0, dtype=np.int8),
            key=np.zeros(0, dtype=np.int64),
            source=np.zeros(0, dtype=np.int8),
        )

    @classmethod
    def concat(cls, parts: Sequence[Members]) -> Members:
        """All parts as one."""
        import numpy as np

        parts = [cls.empty(), *parts]
        return cls(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in cls.FIELDS})

    def take(self, which: np.ndarray) -> Members:
        """The entries at `which` (indices or a mask)."""
        return Members(**{f: getattr(self, f)[which] for f in self.FIELDS})

    def rank(self) -> np.ndarray:
        """Each entry's place among its (anchor, band)'s entries, by key: 0 for the first."""
        import numpy as np

        order = np.lexsort((self.key, self.band, self.anchor))
        rank = np.empty_like(order)
        rank[order] = rank_within(self.anchor[order] * 4 + self.band[order])
        return rank

    def first(self, n: int) -> Members:
        """Per (anchor, band), the n entries with the smallest keys."""
        return self.take(self.rank() < n)


@dataclass
class Picks:
    """Chosen negatives: one entry per (anchor, negative)."""

    anchor: np.ndarray  # int64 index into the anchor list
    row: np.ndarray  # int64 vocabulary row of the negative
    sim: np.ndarray  # float32 exact cosine
    band: np.ndarray  # int8 band code of that cosine
    filled: np.ndarray  # bool: taken by the fallback fill, not by its band's quota
    source: np.ndarray  # int8 index into SOURCES


@dataclass
class Found:
    """What a search learnt about a chunk of anchors."""

    members: Members
    population: np.ndarray  # int64[m, 3] band members per anchor (an estimate where `estimated`)
    estimated: np.ndarray  # bool[m, 3] population estimated from permutation draws, not counted
    escalated: np.ndarray  # bool[m] anchors the ANN path handed to the exact scan
    escalated_by_band: np.ndarray  # int64[3] anchors escalated because of each band
    lost: int = 0  # anchors escalated because the index did not return the anchor itself


def pick(members: Members, quota: np.ndarray, n: int) -> Picks:
    """Each anchor's quota per band from the band's first members, then its shortfall from any band.

    `members` must hold, per anchor and band, the min(n, population) members that come first in
    the anchor's permutation: then the quota picks are a uniform sample of the band, a band is
    filled from the others only when it has fewer members than its quota, and the fill is a
    uniform sample of the members not yet taken. Every pick keeps the band of its real similarity.
    """
    import numpy as np

    taken = members.rank() < quota[members.anchor, members.band]

    # An anchor ends with its quota's sum (n, or a language pool's share of n), as far as members allow.
    need = np.minimum(quota.sum(axis=1), n) - np.bincount(members.anchor[taken], minlength=quota.shape[0])
    rest = np.flatnonzero(~taken)
    order = rest[np.lexsort((members.key[rest], members.anchor[rest]))]
    filled = np.zeros(members.anchor.size, dtype=bool)
    filled[order] = rank_within(members.anchor[order]) < need[members.anchor[order]]

    chosen = taken | filled
    return Picks(
        anchor=members.anchor[chosen],
        row=members.row[chosen],
        sim=members.sim[chosen],
        band=members.band[chosen],
        filled=filled[chosen],
        source=members.source[chosen],
    )


def expand(
    which: np.ndarray, starts: np.ndarray, stops: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(which[i], values[j]) for every j in starts[i]:stops[i], vectorised."""
    import numpy as np

    sizes = stops - starts
    owner = np.repeat(np.arange(len(which)), sizes)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return which[owner], values[starts[owner] + offset]
