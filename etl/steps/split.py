"""`etl split`: put each triplet in train or validation.

Write mode: update in place. Rewrites the `split` column of every `triplets` row in one transaction;
rows keep the run_id of the mine run that landed them, and this run records the parameters and the
achieved ratio. `etl mine` applies the same split when it lands triplets, so `etl split` is only
needed to re-split (another ratio, seed or mode) without mining again. The rule itself is etl/splits.py.

By group (the default) whole synonym groups go to one side, in seeded random order, until the
validation side holds the requested share of triplets: no group, anchor or positive is on both
sides. By triplet reproduces the notebook (shuffle the rows, cut at 90%), which puts the same
anchor on both sides; it exists for comparison.
"""

from __future__ import annotations

from etl import output
from etl.config import Settings
from etl.errors import EtlError
from etl.splits import assign, check, describe, one_sided
from etl.warehouse import Warehouse


def run(wh: Warehouse, settings: Settings) -> output.StepResult:
    """Re-split the existing triplets with the current split settings."""
    import numpy as np
    import polars as pl

    params = {"split_by": settings.split_by, "split_train_ratio": settings.split_train_ratio, "seed": settings.seed}
    with wh.record("split", params) as run:
        triplets = wh.frame("SELECT anchor_id, positive_id, negative_id, group_id FROM triplets")
        if triplets.height == 0:
            raise EtlError("there are no triplets to split; run `etl mine` first")
        is_train = assign(triplets, settings.split_by, settings.split_train_ratio, settings.seed)
        triplets = triplets.with_columns(pl.Series("split", np.where(is_train, "train", "validation")))
        with wh.transaction():
            with wh.staged("new_split", triplets):
                wh.sql_file("split_update").fetchall()
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
