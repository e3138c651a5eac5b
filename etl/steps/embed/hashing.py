"""The built-in `hash` embedder: character n-grams hashed into a fixed number of dimensions.

Lexical, not semantic: two terms are close when they share spelling, not meaning. Hangul syllables
are decomposed into jamo first (NFD), so 남계리 and 남양리 share the n-grams of ㄴ-ㅏ-ㅁ and ㄹ-ㅣ.
The hash is FNV-1a over code points with a splitmix64 finish, computed with numpy on every n-gram
at once; unlike Python's `hash()` it is not salted, so vectors are the same in every process.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

NGRAMS = (2, 3, 4)
# Word boundaries become n-gram features of their own ("<ab", "yz>"), as in fastText.
BEGIN, END = "\x02", "\x03"
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


def prepare(text: str) -> str:
    """Case-folded, Hangul split into jamo (NFD), wrapped in boundary markers."""
    return BEGIN + unicodedata.normalize("NFD", text.casefold()) + END


def embed(texts: Sequence[str], dim: int) -> np.ndarray:
    """float32[len(texts), dim], each row L2-normalised; rows are never all-zero."""
    import numpy as np

    prepared = [prepare(t) for t in texts]
    lengths = np.fromiter((len(p) for p in prepared), dtype=np.int64, count=len(prepared))
    points = np.frombuffer("".join(prepared).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    row_of = np.repeat(np.arange(len(prepared), dtype=np.int64), lengths)
    counts = np.zeros(len(prepared) * dim, dtype=np.float64)
    for n in NGRAMS:
        if points.size < n:
            continue
        starts = np.arange(points.size - n + 1)
        # An n-gram is one term's only when it starts and ends inside the same term.
        starts = starts[row_of[starts] == row_of[starts + n - 1]]
        buckets = _hash_windows(points, starts, n) % np.uint64(dim)
        cells = row_of[starts] * dim + buckets.astype(np.int64)
        counts += np.bincount(cells, minlength=counts.size)
    matrix = counts.reshape(len(prepared), dim)
    # Every term yields at least one bigram (its markers), and counts are positive: norms are > 0.
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix.astype(np.float32)


def _hash_windows(points: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit hash of the n code points beginning at each start (FNV-1a, splitmix64 finish)."""
    import numpy as np

    with np.errstate(over="ignore"):
        h = np.full(starts.size, _FNV_OFFSET ^ n, dtype=np.uint64)
        for k in range(n):
            h ^= points[starts + k]
            h *= np.uint64(_FNV_PRIME)
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h
