"""Seeded random streams: every independent stream drawn from one seed, and the counter-based hash behind them.

Randomness is a counter-based hash of (seed, stream, parts...), never a stateful generator, so a draw
depends only on what it is for (an anchor's term_id, a group, a triplet) and not on the order or the
thread in which it is made. Each use has its own stream, listed here so that no two collide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

STREAM_PERMUTE = 2  # each anchor's permutation of the vocabulary: the order in which it takes band members
STREAM_QUOTA = 3  # how an anchor's share of negatives is rounded to whole numbers
STREAM_CALIBRATE = 4  # the anchors and terms that calibration scores
STREAM_SPLIT = 5  # the order of groups (or triplets) in the train/validation split
STREAM_SHARD = 6  # which shard of a sharded mining run an anchor belongs to
STREAM_PROBE = 7  # the downstream probe's draws (its adapter's start, batch order, random negatives, anchor sample)
STREAM_MIX = 8  # how `mine_language = mix` splits a band's quota between the anchor's two language pools
STREAM_JUDGE = 9  # which verdicts the judge asks a second time, to measure its agreement with itself
STREAM_AGREEMENT = 10  # the anchors an ann run also mines by the exact scan, to measure how far it is from it
STREAM_EXPORT = 105  # the export's row order, independent of the split's draws (STREAM_SPLIT + 100 since it began)

_GOLDEN = 0x9E3779B97F4A7C15


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic); returns a new array."""
    import numpy as np

    x = x + np.uint64(_GOLDEN)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def keyed(seed: int, stream: int, *parts: np.ndarray | int) -> np.ndarray:
    """A uint64 hash of (seed, stream, parts...), broadcast over the parts' shapes."""
    import numpy as np

    h = mix(np.asarray([(seed * 1_000_003 + stream) % 2**64], dtype=np.uint64))
    for part in parts:
        h = mix(h ^ np.asarray(part).astype(np.int64).astype(np.uint64))
    return h


def uniform(seed: int, stream: int, *parts: np.ndarray | int) -> np.ndarray:
    """Floats in [0, 1) from `keyed` (53 random bits each)."""
    import numpy as np

    return (keyed(seed, stream, *parts) >> np.uint64(11)).astype(np.float64) * 2.0**-53
