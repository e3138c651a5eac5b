"""`etl split`: put each triplet in train or validation.

Write mode: update in place. Rewrites the `split` column of every `triplets` row in one transaction;
rows keep the run_id of the mine run that landed them, and this run records the parameters and the
achieved ratio. `etl mine` applies the same split when it lands triplets, so `etl split` is only
needed to re-split (another ratio, seed or mode) without mining again.

By group (the default) whole synonym groups go to one side, in seeded random order, until the
validation side holds the requested share of triplets: no group, anchor or positive is on both
sides. By triplet reproduces the notebook (shuffle the rows, cut at 90%), which puts the same
anchor on both sides; it exists for comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl import output
from etl.config import Settings
from etl.errors import CheckFailed, EtlError
from etl.steps.mine.sample import STREAM_SPLIT, keyed
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np
    import polars as pl


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


def run(wh: Warehouse, settings: Settings) -> output.StepResult:
    """Re-split the existing triplets with the current split settings."""
    import numpy as np
    import polars as pl

    params = {"split_by": settings.split_by, "split_train_ratio": settings.split_train_ratio, "seed": settings.seed}
    with wh.run("split", params) as run:
        triplets = wh.frame("SELECT anchor_id, positive_id, negative_id, group_id FROM triplets")
        if triplets.height == 0:
            raise EtlError("there are no triplets to split; run `etl mine` first")
        is_train = assign(triplets, settings.split_by, settings.split_train_ratio, settings.seed)
        triplets = triplets.with_columns(pl.Series("split", np.where(is_train, "train", "validation")))
        with wh.transaction():
            wh.con.register("new_split", triplets)
            try:
                wh.sql_file("split_update").fetchall()
            finally:
                wh.con.unregister("new_split")
            check(wh, settings.split_by)
        run.counts.update(describe(triplets, settings.split_by, settings.split_train_ratio))
    return summary(run, f"split: {run.counts['train'] + run.counts['validation']:,} triplets in {run.seconds:.1f}s")


def summary(run: output.Recorded, title: str) -> output.StepResult:
    """The split's result: its run's counts, and their one-screen report."""
    counts = run.counts
    out = output.StepResult.of(run, title)
    out.add("by", counts["by"])
    out.add("train", counts["train"])
    out.add("validation", counts["validation"])
    achieved = "-" if counts["train_ratio"] is None else f"{counts['train_ratio']:.4f}"
    out.add("train ratio", f"{achieved} (asked {counts['target_train_ratio']})")
    if counts["train"] == 0 or counts["validation"] == 0:
        out.add("note", one_sided(counts))
    out.add("groups on both sides", counts["groups_on_both_sides"])
    out.add("anchors on both sides", counts["anchors_on_both_sides"])
    return out
