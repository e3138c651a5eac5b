"""Training layouts of the exported triplets, named and ordered as sentence-transformers' losses take them.

Every layout is a regrouping of the rows of one split of `triplets`, so the split is applied as it
is in the table (with `etl split --split-by triplet` a row may appear on both sides, as the
triplets do):

- `triplet`: (anchor, positive, negative) plus today's negative_similarity, difficulty, group_id.
- `n-tuple`: one row per (anchor, positive): anchor, positive, negative_1 … negative_n, the
  negatives hardest first. n is the mine run's negatives per anchor; a row whose anchor got fewer
  is dropped and counted (the rule sentence-transformers' own `mine_hard_negatives` applies).
- `labeled-pair`: anchor, text, label: every positive once with 1 and every negative once with 0,
  per anchor.
- `labeled-list`: one row per (anchor, positive): anchor, texts = [positive, negatives hardest
  first], labels = [1, 0, …].

With scores (the exact float32 cosine under the mining model) each layout carries the column
sentence-transformers reads as its label: `scores` = [positive, negative(s)…] for triplet and
n-tuple (MarginMSELoss), `score` instead of `label` and `scores` instead of `labels` for the
labeled layouts (as `mine_hard_negatives(output_scores=True)` writes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from etl.config import Settings
from etl.errors import EtlError
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

LAYOUTS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")
SPLITS = ("train", "validation")
# Losses each layout feeds, for the summary and the dataset card.
LOSSES = {
    "triplet": "MultipleNegativesRankingLoss, CachedMultipleNegativesRankingLoss, TripletLoss",
    "n-tuple": "MultipleNegativesRankingLoss, CachedMultipleNegativesRankingLoss",
    "labeled-pair": "BinaryCrossEntropyLoss (CrossEncoder), ContrastiveLoss",
    "labeled-list": "ListNetLoss, LambdaLoss (CrossEncoder)",
}
SCORE_LOSSES = {
    "triplet": "MarginMSELoss",
    "n-tuple": "MarginMSELoss",
    "labeled-pair": "MSELoss (CrossEncoder)",
    "labeled-list": "ListNetLoss, LambdaLoss (CrossEncoder)",
}


@dataclass
class Layout:
    """One layout's rows per split, and what its rule left out."""

    name: str
    parts: dict[str, pa.Table]
    dropped_rows: dict[str, int] = field(default_factory=dict)
    dropped_anchors: int = 0

    def rows(self) -> dict[str, int]:
        """Rows per split."""
        return {split: part.num_rows for split, part in self.parts.items()}


def positive_scores(wh: Warehouse, model: str, anchor_ids: pa.Array, positive_ids: pa.Array) -> pa.Array:
    """Exact float32 cosine of each (anchor, positive) under `model`, computed as mining computes its cosines."""
    import numpy as np
    import pyarrow as pa

    from etl import vectors
    from etl.vectors import exact_cosine

    ids, vecs = vectors.load(wh, model)
    anchors = np.asarray(anchor_ids.to_numpy(zero_copy_only=False), dtype=np.int64)
    positives = np.asarray(positive_ids.to_numpy(zero_copy_only=False), dtype=np.int64)
    rows_a, rows_b = np.searchsorted(ids, anchors), np.searchsorted(ids, positives)
    rows_a, rows_b = np.minimum(rows_a, max(len(ids) - 1, 0)), np.minimum(rows_b, max(len(ids) - 1, 0))
    if len(ids) == 0 or not (np.array_equal(ids[rows_a], anchors) and np.array_equal(ids[rows_b], positives)):
        raise EtlError(
            f"some exported terms have no vector of model {model!r} any more; run `etl mine` again before exporting scores"
        )
    return pa.array(exact_cosine(vecs, rows_a, rows_b), type=pa.float32())


def build(name: str, table: pa.Table, width: int, scores: bool) -> Layout:
    """The rows of layout `name` from the ordered triplets (with `positive_score` when `scores`)."""
    import polars as pl

    frame = pl.from_arrow(table).with_row_index("row")  # type: ignore[union-attr]
    if "positive_score" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Float32).alias("positive_score"))
    if name == "n-tuple":
        return _n_tuple(frame, width, scores)
    if name == "labeled-pair":
        return _labeled_pair(frame, scores)
    if name == "labeled-list":
        return _labeled_list(frame, scores)
    raise EtlError(f"unknown layout {name!r}; choose one of {', '.join(LAYOUTS)}")


def _per_positive(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per (split, anchor, positive), its negatives hardest first, in first-seen order."""
    import polars as pl

    hardest = frame.sort(["negative_similarity", "negative_id"], descending=[True, False])
    return (
        hardest.group_by(["split", "anchor_id", "positive_id"], maintain_order=True)
        .agg(
            pl.col("row").min().alias("first"),
            pl.col("anchor").first(),
            pl.col("positive").first(),
            pl.col("positive_score").first(),
            pl.col("negative").alias("negatives"),
            pl.col("negative_similarity").alias("negative_scores"),
        )
        .sort("first")
    )


def _n_tuple(frame: pl.DataFrame, width: int, scores: bool) -> Layout:
    import polars as pl

    grouped = _per_positive(frame)
    full = grouped.filter(pl.col("negatives").list.len() == width)
    short = grouped.filter(pl.col("negatives").list.len() != width)
    columns = [pl.col("anchor"), pl.col("positive")]
    columns += [pl.col("negatives").list.get(i).alias(f"negative_{i + 1}") for i in range(width)]
    if scores:
        columns.append(pl.concat_list(pl.col("positive_score"), pl.col("negative_scores")).alias("scores"))
    layout = Layout("n-tuple", _parts(full, columns))
    layout.dropped_rows = {split: short.filter(pl.col("split") == split).height for split in SPLITS}
    layout.dropped_anchors = short.select("anchor_id").n_unique() if short.height else 0
    return layout


def _labeled_pair(frame: pl.DataFrame, scores: bool) -> Layout:
    import polars as pl

    keys = ["split", "anchor_id"]
    anchor_first = frame.group_by(keys).agg(pl.col("row").min().alias("anchor_first"))
    sides = []
    for id_column, text, score, label in (
        ("positive_id", "positive", "positive_score", 1),
        ("negative_id", "negative", "negative_similarity", 0),
    ):
        first = pl.col("row").min().alias("first")
        side = frame.group_by([*keys, id_column], maintain_order=True).agg(
            first,
            pl.col("anchor").first(),
            pl.col(text).first().alias("text"),
            pl.col(score).first().cast(pl.Float32).alias("score"),
        )
        # Within an anchor: positives first, then negatives hardest first.
        within = pl.lit(0.0, dtype=pl.Float32) if label else -pl.col("score")
        sides.append(
            side.drop(id_column).with_columns(pl.lit(label, dtype=pl.Int64).alias("label"), within.alias("within"))
        )
    positives, negatives = sides
    both = pl.concat([positives, negatives], how="vertical_relaxed")
    # An anchor's rows stay together (in the seeded order of anchors): positives first, then negatives hardest first.
    both = both.join(anchor_first, on=keys).sort(
        ["anchor_first", "label", "within", "first"], descending=[False, True, False, False]
    )
    columns = [pl.col("anchor"), pl.col("text"), pl.col("score").cast(pl.Float32) if scores else pl.col("label")]
    return Layout("labeled-pair", _parts(both, columns))


def _labeled_list(frame: pl.DataFrame, scores: bool) -> Layout:
    import polars as pl

    grouped = _per_positive(frame)
    columns = [pl.col("anchor"), pl.concat_list(pl.col("positive"), pl.col("negatives")).alias("texts")]
    if scores:
        columns.append(pl.concat_list(pl.col("positive_score"), pl.col("negative_scores")).alias("scores"))
    else:
        columns.append(
            pl.concat_list(pl.lit(1, dtype=pl.Int64), pl.col("negatives").list.eval(pl.lit(0, dtype=pl.Int64))).alias(
                "labels"
            )
        )
    return Layout("labeled-list", _parts(grouped, columns))


def _parts(frame: pl.DataFrame, columns: list[pl.Expr]) -> dict[str, pa.Table]:
    """Per split, the selected columns as Arrow (strings as plain `string`, lists as plain `list`)."""
    import polars as pl

    parts = {}
    for split in SPLITS:
        selected = frame.filter(pl.col("split") == split).select(columns)
        parts[split] = _plain(selected.to_arrow())
    return parts


def _plain(table: pa.Table) -> pa.Table:
    """polars writes large_string / large_list; datasets, JSON readers and the card expect the plain types."""
    import pyarrow as pa

    fields = []
    for f in table.schema:
        kind = f.type
        if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            kind = pa.string()
        elif pa.types.is_large_list(kind) or pa.types.is_list(kind):
            inner = kind.value_type
            inner = pa.string() if pa.types.is_large_string(inner) or pa.types.is_string_view(inner) else inner
            kind = pa.list_(inner)
        fields.append(pa.field(f.name, kind, nullable=True))
    return table.cast(pa.schema(fields))


@dataclass(frozen=True)
class Options:
    """What to write besides the rows: which layouts, whether with teacher scores, the card's license."""

    formats: tuple[str, ...] = ("triplet",)
    scores: bool = False
    license: str = "unknown"

    @classmethod
    def of(cls, settings: Settings) -> Options:
        """The export settings in force."""
        formats = tuple(dict.fromkeys(settings.export_formats))  # a layout named twice is written once
        return cls(formats, settings.export_scores, settings.export_license)

    @property
    def default(self) -> bool:
        """Today's export: the triplet layout alone, no scores (its files are byte for byte what they were)."""
        return self.formats == ("triplet",) and not self.scores


def stats(options: Options, layouts: dict[str, Layout], stats: dict[str, Any]) -> dict[str, Any]:
    """Per exported layout: where it is, its rows per split and what its rule dropped."""
    out: dict[str, Any] = {}
    for name in options.formats:
        if name == "triplet":
            out[name] = {
                "dir": ".",
                "rows": {"train": stats["dataset"]["train_triplets"], "validation": stats["dataset"]["val_triplets"]},
            }
        else:
            layout = layouts[name]
            out[name] = {"dir": name, "rows": layout.rows()}
            if name == "n-tuple":
                out[name].update(
                    {
                        "negatives_per_row": stats["config"]["negatives_per_anchor"],
                        "dropped_rows": layout.dropped_rows,
                        "dropped_anchors": layout.dropped_anchors,
                    }
                )
        out[name]["scores"] = options.scores
    return out
