"""The train/validation split of triplets: which side each goes to, what that achieved, and the leak check.

`etl mine` applies it as it lands triplets and `etl split` re-applies it, so it lives below both.
By group (the default) whole synonym groups go to one side, in seeded random order, until the
validation side holds the requested share of triplets: no group, anchor or positive is on both
sides. By triplet reproduces the notebook (shuffle the rows, cut at 90%), which puts the same
anchor on both sides; it exists for comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl.errors import CheckFailed
from etl.streams import STREAM_SPLIT, keyed

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from etl.warehouse import Warehouse


def assign(triplets: pl.DataFrame, by: str, train_ratio: float, seed: int) -> np.ndarray:
    """True for the triplets that go to train (columns group_id, anchor_id, positive_id, negative_id)."""
    import numpy as np

    total = triplets.height
    if by == "triplet":
        a, p, n = (triplets[c].to_numpy() for c in ("anchor_id", "positive_id", "negative_id"))
        order = np.lexsort((n, p, a, keyed(seed, STREAM_SPLIT, a, p, n)))
        is_train = np.zeros(total, dtype=bool)
        is_train[order[: int(total * train_ratio)]] = True
        return is_train
    groups, inverse, sizes = np.unique(triplets["group_id"].to_numpy(), return_inverse=True, return_counts=True)
    order = np.lexsort((groups, keyed(seed, STREAM_SPLIT, groups)))
    in_validation = np.zeros(len(groups), dtype=bool)
    if len(groups) > 1:
        # Take groups in seeded order until validation is as close as it gets to its share.
        filled = np.cumsum(sizes[order])[:-1]
        take = int(np.argmin(np.abs(filled - (1.0 - train_ratio) * total))) + 1
        in_validation[order[:take]] = True
    return ~in_validation[inverse.reshape(-1)]


def describe(triplets: pl.DataFrame, by: str, target: float) -> dict[str, Any]:
    """Sizes of both sides, the achieved train ratio, and what appears on both sides."""
    import polars as pl

    def both(column: str) -> int:
        sides = triplets.group_by(column).agg(pl.col("split").n_unique().alias("sides"))
        return int((sides["sides"] > 1).sum())

    train = int((triplets["split"] == "train").sum())
    total = triplets.height
    return {
        "by": by,
        "target_train_ratio": target,
        "train": train,
        "validation": total - train,
        "train_ratio": round(train / total, 4) if total else None,
        "groups_on_both_sides": both("group_id"),
        "anchors_on_both_sides": both("anchor_id"),
    }


def describe_line(counts: dict[str, Any]) -> str:
    """The split in one line, for other steps' summaries."""
    achieved = "-" if counts["train_ratio"] is None else f"{counts['train_ratio']:.3f}"
    line = f"{counts['by']}: train {counts['train']:,} / validation {counts['validation']:,} (train ratio {achieved})"
    if counts["train"] == 0 or counts["validation"] == 0:
        line += f"; {one_sided(counts)}"
    return line


def one_sided(counts: dict[str, Any]) -> str:
    """What an empty side means and what to do about it."""
    empty = "validation" if counts["validation"] == 0 else "train"
    if counts["by"] == "group":
        return (
            f"the {empty} side is empty: the triplets come from too few synonym groups to split by group; "
            "add pairs, or change --train-ratio"
        )
    return f"the {empty} side is empty: change --train-ratio"


def check(wh: Warehouse, by: str) -> None:
    """Fail when a split by group leaks; call inside the transaction that wrote it."""
    if by != "group":
        return
    broken = wh.run_checks("split_group_")
    if broken:
        raise CheckFailed(
            f"the split by group leaks ({', '.join(f'{k}: {v} rows' for k, v in broken.items())}); "
            "every synonym pair must sit in one group: run `etl clean`"
        )
