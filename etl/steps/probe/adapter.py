"""The probe's model: a low-rank linear adapter over frozen, L2-normalised vectors, trained in numpy.

The adapter maps a vector x to x + (x U) Vᵀ, then normalises it. U (dim × rank) is a fixed seeded
random projection (the identity when the vectors have no more than RANK dimensions, which makes
the map a full matrix) and only V (dim × rank) is trained, from zero: the untrained adapter is the
mining model itself. Because U is fixed, x U is computed once for the whole vocabulary, and a
training step costs two dim × rank products per vector plus the loss's own (bench/probe.py). Both
losses are written out by hand, with Adam, one matrix product per batch and side: no per-pair loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from etl.streams import STREAM_PROBE, keyed, uniform

if TYPE_CHECKING:
    import numpy as np

LOSSES = ("mnrl", "triplet")
RANK = 64  # the update's rank (a full matrix when the vectors have no more dimensions)
BATCH = 64  # triplets per step
SCALE = 20.0  # MNRL's logit scale (1 / temperature), as sentence-transformers' default
MARGIN = 0.2  # the triplet loss's cosine margin
LEARNING_RATE = 2e-3
# The probe's draws (STREAM_PROBE), told apart by their first part:
DRAW_INIT = (0, 1)  # U (two uniforms per cell for Box-Muller)
DRAW_RANDOM = 2  # the random arm's negatives
DRAW_SAMPLE = 3  # which validation anchors are scored
DRAW_TRAIN = 4  # which train triplets are trained on, when there are more than probe_triplets
DRAW_EPOCH = 5  # + epoch: the batch order of each epoch


@dataclass
class Adapter:
    """x ↦ normalise(x + (x U) Vᵀ), U fixed, V trained."""

    u: np.ndarray  # float32[dim, rank]
    v: np.ndarray  # float32[dim, rank]

    @classmethod
    def identity(cls, dim: int, seed: int) -> Adapter:
        """The untrained adapter: V = 0, and U the identity or a seeded Gaussian projection (entries of variance 1/rank)."""
        import numpy as np

        if dim <= RANK:
            return cls(np.eye(dim, dtype=np.float32), np.zeros((dim, dim), dtype=np.float32))
        cells = np.arange(dim * RANK, dtype=np.int64).reshape(dim, RANK)
        # Box-Muller on two keyed uniform streams: normal draws that depend only on (seed, cell).
        u1 = np.maximum(uniform(seed, STREAM_PROBE, DRAW_INIT[0], cells), 1e-12)
        u2 = uniform(seed, STREAM_PROBE, DRAW_INIT[1], cells)
        normal = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2) / np.sqrt(RANK)
        return cls(normal.astype(np.float32), np.zeros((dim, RANK), dtype=np.float32))

    def apply(self, x: np.ndarray, hidden: np.ndarray | None = None) -> np.ndarray:
        """The adapted, L2-normalised rows of x (float32[n, dim]); `hidden` is x U when known."""
        return self.forward(x, x @ self.u if hidden is None else hidden)[0]

    def forward(self, x: np.ndarray, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(normalised output, x U, norms) for the backward pass."""
        import numpy as np

        out = x + hidden @ self.v.T
        norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        out /= norms
        return out, hidden, norms

    @staticmethod
    def backward(cache: tuple[np.ndarray, np.ndarray, np.ndarray], grad: np.ndarray) -> np.ndarray:
        """V's gradient from the loss's gradient with respect to the normalised output."""
        import numpy as np

        out, hidden, norms = cache
        raw = (grad - out * np.sum(out * grad, axis=1, keepdims=True)) / norms  # through the normalisation
        return raw.T @ hidden


class Adam:
    """Adam over V."""

    def __init__(self, adapter: Adapter) -> None:
        import numpy as np

        self.adapter = adapter
        self.mean = np.zeros_like(adapter.v)
        self.square = np.zeros_like(adapter.v)
        self.steps = 0

    def step(self, grad: np.ndarray) -> None:
        import numpy as np

        self.steps += 1
        b1, b2 = 0.9, 0.999
        self.mean *= b1
        self.mean += (1 - b1) * grad
        self.square *= b2
        self.square += (1 - b2) * grad * grad
        lr = LEARNING_RATE * np.sqrt(1 - b2**self.steps) / (1 - b1**self.steps)
        self.adapter.v -= (lr * self.mean / (np.sqrt(self.square) + 1e-8)).astype(np.float32)


def mnrl(
    a: np.ndarray, p: np.ndarray, n: np.ndarray, same: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """In-batch softmax over every positive and negative of the batch; the row's own positive is the target.

    `same` (bool[B, 2B]) marks other rows' candidates from the anchor's synonym group (or the
    anchor itself): they are left out of its softmax rather than treated as negatives.
    """
    import numpy as np

    rows = a.shape[0]
    candidates = np.concatenate([p, n])
    logits = SCALE * (a @ candidates.T)
    logits[same] = -np.inf
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    target = np.arange(rows)
    loss = float(-np.mean(np.log(np.maximum(probs[target, target], 1e-30))))
    probs[target, target] -= 1.0
    probs *= SCALE / rows
    grad_c = probs.T @ a
    return loss, probs @ candidates, grad_c[:rows], grad_c[rows:]


def triplet(a: np.ndarray, p: np.ndarray, n: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """max(0, cos(a, n) - cos(a, p) + MARGIN), averaged over the batch."""
    import numpy as np

    rows = a.shape[0]
    hinge = MARGIN + np.sum(a * n, axis=1) - np.sum(a * p, axis=1)
    active = (hinge > 0).astype(np.float32)[:, None] / rows
    return float(np.maximum(hinge, 0).mean()), (n - p) * active, -a * active, a * active


def batches(seed: int, epoch: int, keys: tuple[np.ndarray, ...]) -> Iterator[np.ndarray]:
    """Row indices of each batch of one epoch, in an order seeded by the triplets' ids (not their row order)."""
    import numpy as np

    order = np.lexsort((*keys[::-1], keyed(seed, STREAM_PROBE, DRAW_EPOCH + epoch, *keys)))
    for start in range(0, len(order), BATCH):
        yield order[start : start + BATCH]


def train(
    vectors: np.ndarray,
    hidden: np.ndarray,
    triplets: tuple[np.ndarray, np.ndarray, np.ndarray],
    groups: np.ndarray,
    *,
    loss: str,
    epochs: int,
    seed: int,
    keys: tuple[np.ndarray, ...],
) -> tuple[Adapter, list[float]]:
    """Train an adapter on triplets given as rows of `vectors`; returns it and the mean loss of each epoch.

    `hidden` is vectors @ U of the untrained adapter (seed), `groups` each vocabulary row's synonym
    group (or -1); `keys` identify the triplets (term ids) and seed the batch order, so two arms
    over the same anchor/positive pairs see the same batches.
    """
    import numpy as np

    adapter = Adapter.identity(vectors.shape[1], seed)
    adam = Adam(adapter)
    losses = []
    for epoch in range(epochs):
        total = 0.0
        for batch in batches(seed, epoch, keys):
            rows = [side[batch] for side in triplets]
            caches = [adapter.forward(vectors[r], hidden[r]) for r in rows]
            if loss == "mnrl":
                value, *grads = mnrl(caches[0][0], caches[1][0], caches[2][0], _same(rows, groups))
            else:
                value, *grads = triplet(caches[0][0], caches[1][0], caches[2][0])
            adam.step(sum((adapter.backward(c, g) for c, g in zip(caches, grads)), np.zeros_like(adapter.v)))
            total += value * len(batch)
        losses.append(total / max(len(keys[0]), 1))
    return adapter, losses


def _same(rows: list[np.ndarray], groups: np.ndarray) -> np.ndarray:
    """bool[B, 2B]: other rows' candidates in the anchor's synonym group, or the anchor itself."""
    import numpy as np

    anchors, positives, negatives = rows
    candidates = np.concatenate([positives, negatives])
    same = (groups[anchors][:, None] == groups[candidates][None, :]) | (anchors[:, None] == candidates[None, :])
    own = np.arange(len(anchors))
    same[own, own] = False  # the row's positive is its target
    same[own, own + len(anchors)] = False  # and its own negative is the data under test
    return same
