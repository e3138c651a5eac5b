"""The probe's model: a low-rank linear adapter over frozen, L2-normalised vectors, trained in numpy.

The adapter maps a vector x to x + (x U) Vᵀ (U, V: dim × rank), then normalises it. V starts at
zero, so training starts from the identity: the untrained adapter is the mining model itself. A
low-rank update costs 2·dim·rank per vector instead of dim² for a full matrix (at 1024-d and rank
64, a training step takes about a sixth of the time; bench figures in the README). Both losses are
written out by hand, with Adam, one matrix product per batch and side: no per-pair Python loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from etl.steps.mine.sample import STREAM_PROBE, keyed, uniform

if TYPE_CHECKING:
    import numpy as np

LOSSES = ("mnrl", "triplet")
RANK = 64  # the update's rank (a full matrix when the vectors have fewer dimensions)
BATCH = 128  # triplets per step
SCALE = 20.0  # MNRL's logit scale (1 / temperature), as sentence-transformers' default
MARGIN = 0.2  # the triplet loss's cosine margin
LEARNING_RATE = 2e-3
INIT_STD = 0.02  # U's start; V is zero, so the adapter starts as the identity
# The probe's draws (STREAM_PROBE), told apart by their first part:
DRAW_INIT = (0, 1)  # U's start (two uniforms per cell for Box-Muller)
DRAW_RANDOM = 2  # the random arm's negatives
DRAW_SAMPLE = 3  # which validation anchors are scored
DRAW_EPOCH = 4  # + epoch: the batch order of each epoch


@dataclass
class Adapter:
    """x ↦ normalise(x + (x U) Vᵀ)."""

    u: np.ndarray  # float32[dim, rank]
    v: np.ndarray  # float32[dim, rank]

    @classmethod
    def identity(cls, dim: int, seed: int) -> Adapter:
        """The untrained adapter: V = 0, U a seeded small random matrix (so V's gradient is not zero)."""
        import numpy as np

        rank = min(RANK, dim)
        cells = np.arange(dim * rank, dtype=np.int64).reshape(dim, rank)
        # Box-Muller on two keyed uniform streams: normal draws that depend only on (seed, cell).
        u1 = np.maximum(uniform(seed, STREAM_PROBE, DRAW_INIT[0], cells), 1e-12)
        u2 = uniform(seed, STREAM_PROBE, DRAW_INIT[1], cells)
        normal = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
        return cls((INIT_STD * normal).astype(np.float32), np.zeros((dim, rank), dtype=np.float32))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The adapted, L2-normalised rows of x (float32[n, dim])."""
        import numpy as np

        out = x + (x @ self.u) @ self.v.T
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(normalised output, x U, norms) for the backward pass."""
        import numpy as np

        hidden = x @ self.u
        out = x + hidden @ self.v.T
        norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out / norms, hidden, norms

    def backward(
        self, x: np.ndarray, cache: tuple[np.ndarray, np.ndarray, np.ndarray], grad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gradients of U and V from the loss's gradient with respect to the normalised output."""
        import numpy as np

        out, hidden, norms = cache
        raw = (grad - out * np.sum(out * grad, axis=1, keepdims=True)) / norms  # through the normalisation
        return x.T @ (raw @ self.v), raw.T @ hidden


class Adam:
    """Adam over the adapter's two matrices."""

    def __init__(self, adapter: Adapter) -> None:
        import numpy as np

        self.adapter = adapter
        self.moments = [
            np.zeros_like(adapter.u),
            np.zeros_like(adapter.u),
            np.zeros_like(adapter.v),
            np.zeros_like(adapter.v),
        ]
        self.steps = 0

    def step(self, grad_u: np.ndarray, grad_v: np.ndarray) -> None:
        import numpy as np

        self.steps += 1
        b1, b2 = 0.9, 0.999
        for param, grad, m, s in (
            (self.adapter.u, grad_u, *self.moments[:2]),
            (self.adapter.v, grad_v, *self.moments[2:]),
        ):
            m *= b1
            m += (1 - b1) * grad
            s *= b2
            s += (1 - b2) * grad * grad
            lr = LEARNING_RATE * np.sqrt(1 - b2**self.steps) / (1 - b1**self.steps)
            param -= (lr * m / (np.sqrt(s) + 1e-8)).astype(np.float32)


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
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    groups: np.ndarray,
    *,
    loss: str,
    epochs: int,
    seed: int,
    keys: tuple[np.ndarray, ...],
) -> tuple[Adapter, list[float]]:
    """Train an adapter on triplets given as rows of `vectors`; returns it and the mean loss of each epoch.

    `groups` is each vocabulary row's synonym group (or -1); `keys` identify the triplets (term ids)
    and seed the batch order, so two arms over the same anchor/positive pairs see the same batches.
    """
    import numpy as np

    anchors, positives, negatives = rows
    adapter = Adapter.identity(vectors.shape[1], seed)
    adam = Adam(adapter)
    losses = []
    for epoch in range(epochs):
        total, count = 0.0, 0
        for batch in batches(seed, epoch, keys):
            xa, xp, xn = vectors[anchors[batch]], vectors[positives[batch]], vectors[negatives[batch]]
            ca, cp, cn = adapter.forward(xa), adapter.forward(xp), adapter.forward(xn)
            if loss == "mnrl":
                cand = np.concatenate([positives[batch], negatives[batch]])
                same = groups[anchors[batch]][:, None] == groups[cand][None, :]
                same |= anchors[batch][:, None] == cand[None, :]
                own = np.arange(len(batch))
                same[own, own] = False  # the row's positive is its target
                same[own, own + len(batch)] = False  # and its own negative is the data under test
                value, ga, gp, gn = mnrl(ca[0], cp[0], cn[0], same)
            else:
                value, ga, gp, gn = triplet(ca[0], cp[0], cn[0])
            grads = [adapter.backward(x, c, g) for x, c, g in ((xa, ca, ga), (xp, cp, gp), (xn, cn, gn))]
            adam.step(grads[0][0] + grads[1][0] + grads[2][0], grads[0][1] + grads[1][1] + grads[2][1])
            total += value * len(batch)
            count += len(batch)
        losses.append(total / max(count, 1))
    return adapter, losses
