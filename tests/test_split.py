"""The train/validation split: whole groups by default, the notebook's row split for comparison."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from etl.steps import split
from etl.warehouse import Warehouse
from tests import minedata


def frame(n_groups: int = 2000, seed: int = 0) -> pl.DataFrame:
    """Triplets of groups of uneven size (5 to 60 rows each), anchors nested in groups."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 61, n_groups)
    group = np.repeat(np.arange(n_groups) * 7 + 3, sizes)
    anchor = group * 10 + (np.arange(len(group)) % 3)
    return pl.DataFrame(
        {"group_id": group, "anchor_id": anchor, "positive_id": anchor + 1, "negative_id": np.arange(len(group))}
    )


def test_group_split_keeps_groups_whole_and_hits_the_ratio() -> None:
    triplets = frame()
    is_train = split.assign(triplets, "group", 0.9, 42)
    sides = triplets.with_columns(pl.Series("train", is_train)).group_by("group_id").agg(pl.col("train").n_unique())
    assert (sides["train"] == 1).all()
    assert is_train.mean() == pytest.approx(0.9, abs=0.002)
    assert (split.assign(triplets, "group", 0.9, 42) == is_train).all()
    assert (split.assign(triplets, "group", 0.9, 7) != is_train).any()
    assert split.assign(triplets, "group", 0.7, 42).mean() == pytest.approx(0.7, abs=0.002)


def test_one_group_goes_to_train() -> None:
    assert split.assign(frame(n_groups=1), "group", 0.9, 42).all()


def test_triplet_split_is_the_notebooks_row_split() -> None:
    triplets = frame()
    is_train = split.assign(triplets, "triplet", 0.9, 42)
    assert is_train.sum() == int(triplets.height * 0.9)
    leaked = triplets.with_columns(pl.Series("train", is_train)).group_by("group_id").agg(pl.col("train").n_unique())
    assert (leaked["train"] > 1).sum() > 100


@pytest.fixture
def mined(etl, warehouse_path) -> None:
    """A warehouse with mined triplets."""
    with Warehouse.open(warehouse_path) as wh:
        minedata.build(wh, n_terms=1500, n_groups=250)
    etl("mine", "--search", "exact")


def leaks(warehouse_path) -> dict[str, int]:
    with Warehouse.open(warehouse_path) as wh:
        rows = wh.execute(
            """
            WITH sides AS (
                SELECT 'group' AS kind, group_id AS id, split FROM triplets
                UNION ALL SELECT 'term', anchor_id, split FROM triplets
                UNION ALL SELECT 'term', positive_id, split FROM triplets
            )
            SELECT kind, count(*) FROM (SELECT kind, id FROM sides GROUP BY ALL HAVING count(DISTINCT split) > 1) GROUP BY kind
            """
        ).fetchall()
    return dict(rows)


def test_mine_splits_by_group_without_leaks(mined, warehouse_path) -> None:
    assert leaks(warehouse_path) == {}
    with Warehouse.open(warehouse_path) as wh:
        train, total = wh.execute("SELECT count(*) FILTER (WHERE split = 'train'), count(*) FROM triplets").fetchone()
        reported = wh.last_ok_run("mine")["counts"]["split"]
    assert train / total == pytest.approx(0.9, abs=0.02)
    assert reported["train"] == train and reported["train_ratio"] == pytest.approx(train / total, abs=1e-4)


def test_split_command_switches_modes_and_reports_the_leak(etl, mined, warehouse_path) -> None:
    out = etl("split", "--split-by", "triplet").output
    assert "anchors on both sides" in out
    found = leaks(warehouse_path)
    assert found["group"] > 0 and found["term"] > 0
    with Warehouse.open(warehouse_path) as wh:
        counts = wh.last_ok_run("split")["counts"]
        total = wh.scalar("SELECT count(*) FROM triplets")
    assert counts["train"] == int(total * 0.9) and counts["anchors_on_both_sides"] > 0
    out = etl("split", "--train-ratio", "0.8").output
    assert "train ratio" in out
    assert leaks(warehouse_path) == {}
    with Warehouse.open(warehouse_path) as wh:
        assert wh.last_ok_run("split")["counts"]["train_ratio"] == pytest.approx(0.8, abs=0.03)


def test_split_without_triplets_says_what_to_do(etl) -> None:
    result = etl("split", ok=False)
    assert result.exit_code == 1
    assert result.output.startswith("error: there are no triplets to split; run `etl mine` first")
