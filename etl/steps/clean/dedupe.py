"""Merge cleaned pair rows into undirected synonym pairs, and label connected components."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import polars as pl


def merge(kept: pl.DataFrame, abbreviations: pl.Series) -> tuple[pl.DataFrame, dict[str, dict[str, int]]]:
    """Undirected pairs (term_a < term_b) with all origins and run_ids, and the merge rules' counts.

    `kept` holds one row per surviving candidate with canonical ids `ca`, `cb`; `abbreviations`
    are the term ids whose kind is abbreviation.
    """
    import polars as pl

    entry_key = ["src", "entry", "cb"]
    primary = kept.filter(pl.col("label") == "primary").select(entry_key).unique()
    alternative_is_primary = (
        kept.filter(pl.col("label") == "alternative").join(primary, on=entry_key, how="semi").height
    )
    n_rows = kept.height
    per_entry = kept.select("src", "entry", "ca", "cb").n_unique() if n_rows else 0
    directed = kept.select("ca", "cb").n_unique() if n_rows else 0
    ends = kept.select(
        pl.min_horizontal("ca", "cb").alias("term_a"),
        pl.max_horizontal("ca", "cb").alias("term_b"),
        "similarity",
        "origin",
        "run_id",
        "label",
    )
    abbreviation_ids = abbreviations.implode()
    one_side_abbreviated = pl.col("term_a").is_in(abbreviation_ids) != pl.col("term_b").is_in(abbreviation_ids)
    pairs = (
        ends.group_by("term_a", "term_b")
        .agg(
            pl.col("similarity").max(),
            pl.col("origin").unique().sort().alias("origins"),
            pl.col("run_id").unique().sort().alias("run_ids"),
            (pl.col("label") == "abbreviation").any().alias("labelled"),
        )
        .with_columns(
            # An abbreviation pair: a source said so, or exactly one side is an abbreviation.
            pl.when(pl.col("labelled") | one_side_abbreviated)
            .then(pl.lit("abbreviation"))
            .otherwise(pl.lit("synonym"))
            .alias("kind")
        )
        .drop("labelled")
        .sort("term_a", "term_b")
    )
    steps = [
        ("alternative_is_primary", alternative_is_primary),
        ("duplicate_in_entry", n_rows - per_entry - alternative_is_primary),
        ("duplicate_pair", per_entry - directed),
        ("reverse_pair", directed - pairs.height),
    ]
    counts: dict[str, dict[str, int]] = {}
    remaining = n_rows
    for name, merged in steps:
        counts[name] = {"in": remaining, "merged": merged, "out": remaining - merged}
        remaining -= merged
    return pairs, counts


def components(nodes: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """For each node id, the smallest node id of its connected component (edges: left[i]-right[i]).

    Vectorised union-find: hook every edge's larger root under its smaller root, then compress
    paths by pointer jumping; repeat until both ends of every edge share a root. Roots only ever
    move to smaller indices, so a component's root is its smallest member.
    """
    import numpy as np

    ids = np.unique(nodes)
    parent = np.arange(ids.size, dtype=np.int64)
    if ids.size == 0:
        return ids
    u = np.searchsorted(ids, left)
    v = np.searchsorted(ids, right)
    while True:
        ru, rv = parent[u], parent[v]
        if np.array_equal(ru, rv):
            break
        low, high = np.minimum(ru, rv), np.maximum(ru, rv)
        np.minimum.at(parent, high, low)
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return ids[parent[np.searchsorted(ids, nodes)]]
