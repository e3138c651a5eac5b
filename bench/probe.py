"""Benchmark `etl probe`'s numpy core at the notebook's scale: training and scoring vs the bare BLAS products.

    python bench/probe.py             # 150,000 terms x 1024-d, 30,000 anchors, 150,000 triplets (90% train)
    python bench/probe.py --small     # 20,000 terms x 256-d: a quick run
    python bench/probe.py --rank 1024 # the adapter as a full matrix instead of rank 64, to compare

One run prints, each measured here and now:
- the floors: one pass of bare `batch @ W` products over the train triplets' three sides (what
  one epoch of any linear adapter must at least do), and the bare `anchors @ vocab.T` product of
  the scored validation anchors;
- the probe's arms as `etl probe` runs them (untrained, mined, random): seconds to train, seconds to
  score, and the ratio of the total to the floors.

Vectors are random unit rows with no structure (like the hash embedder's), so the figures say
nothing about quality, only about time. Loading the vectors from DuckDB is not counted: `etl mine`
pays the same load, and vectors.load is benchmarked there.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import etl  # noqa: E402,F401  - before numpy's BLAS starts: it sets OpenBLAS's thread timeout
from etl.steps.probe import adapter as probe_adapter  # noqa: E402
from etl.steps.probe import random_negatives  # noqa: E402
from etl.steps.probe.rank import Vocabulary, evaluate  # noqa: E402


def generate(n_terms: int, dim: int, n_anchors: int, per_anchor: int, seed: int = 0) -> dict:
    """Random unit vectors in three language blocks; anchors in pairs (one group each), 5 triplets per anchor."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n_terms, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    groups = np.full(n_terms, -1, dtype=np.int64)
    anchors = rng.choice(n_terms, size=n_anchors, replace=False)
    partner = anchors.reshape(-1, 2)[:, ::-1].reshape(-1)
    groups[anchors] = np.repeat(np.arange(n_anchors // 2), 2)
    blocks = {"ko": (0, n_terms // 3), "en": (n_terms // 3, 2 * n_terms // 3), "mixed": (2 * n_terms // 3, n_terms)}
    vocab = Vocabulary(np.arange(n_terms, dtype=np.int64), vectors, groups, blocks)
    a = np.repeat(anchors, per_anchor)
    p = np.repeat(partner, per_anchor)
    n = rng.integers(0, n_terms, size=len(a))
    is_train = (groups[a] % 10) != 0  # a tenth of the groups for validation, as a split by group
    return {"vocab": vocab, "a": a, "p": p, "n": n, "train": is_train}


def floors(data: dict, anchors: np.ndarray, dim: int, triplets: int) -> tuple[float, float]:
    """Seconds of the bare products: one epoch of batch @ W over three sides, and anchors @ vocab.T."""
    w = np.eye(dim, dtype=np.float32)
    vectors = data["vocab"].vectors
    rows = min(int(data["train"].sum()), triplets)
    started = time.perf_counter()
    for start in range(0, rows, probe_adapter.BATCH):
        for side in ("a", "p", "n"):
            _ = vectors[data[side][data["train"]][start : start + probe_adapter.BATCH]] @ w
    epoch = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(anchors), 128):
        _ = vectors[anchors[start : start + 128]] @ vectors.T
    return epoch, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="20,000 terms x 256-d, 4,000 anchors")
    parser.add_argument("--rank", type=int, default=probe_adapter.RANK, help="the adapter's rank (dim: full)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--anchors", type=int, default=1000, help="validation anchors scored (probe_anchors)")
    parser.add_argument("--triplets", type=int, default=30_000, help="train triplets trained on (probe_triplets)")
    args = parser.parse_args()
    n_terms, dim, n_anchors = (20_000, 256, 4_000) if args.small else (150_000, 1024, 30_000)
    probe_adapter.RANK = args.rank
    data = generate(n_terms, dim, n_anchors, per_anchor=5)
    vocab, train = data["vocab"], data["train"]
    rows = tuple(data[side][train][: args.triplets] for side in ("a", "p", "n"))
    keys = rows  # the bench's term ids are its rows
    val_pairs = np.unique(np.stack([data["a"][~train], data["p"][~train]], axis=1), axis=0)
    anchors = np.unique(val_pairs[:, 0])[: args.anchors]
    val_pairs = val_pairs[np.isin(val_pairs[:, 0], anchors)]
    print(
        f"{n_terms:,} terms x {dim}, {len(rows[0]):,} train triplets, {len(anchors):,} anchors scored, "
        f"rank {min(args.rank, dim)}, {args.epochs} epochs, batch {probe_adapter.BATCH}"
    )
    epoch_floor, score_floor = floors(data, anchors, dim, args.triplets)
    print(f"floors: one epoch of batch @ W {epoch_floor:.2f}s, anchors @ vocab.T {score_floor:.2f}s")
    started = time.perf_counter()
    hidden = vocab.vectors @ probe_adapter.Adapter.identity(dim, 42).u
    total = time.perf_counter() - started
    print(f"vocabulary @ U once: {total:.2f}s")
    for arm in ("untrained", "mined", "random"):
        started = time.perf_counter()
        if arm == "untrained":
            model = probe_adapter.Adapter.identity(dim, 42)
        else:
            negatives = rows[2] if arm == "mined" else random_negatives(vocab, rows[0], keys, 42)
            model, _ = probe_adapter.train(
                vocab.vectors,
                hidden,
                (rows[0], rows[1], negatives),
                vocab.groups,
                loss="mnrl",
                epochs=args.epochs,
                seed=42,
                keys=keys,
            )
        trained = time.perf_counter() - started
        evaluate(vocab, model, hidden, anchors, (val_pairs[:, 0], val_pairs[:, 1]))
        scored = time.perf_counter() - started - trained
        total += trained + scored
        print(f"{arm:9s}  train {trained:6.2f}s  score {scored:5.2f}s")
    floor = 2 * args.epochs * epoch_floor + 3 * score_floor
    print(f"total {total:.1f}s; {total / floor:.2f}x the floors (2 trained arms x {args.epochs} epochs + 3 scorings)")


if __name__ == "__main__":
    main()
