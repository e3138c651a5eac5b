"""`etl export triplets`: the mined triplets as files for training jobs.

Writes into DIR, for the default `triplet` layout: train.parquet and validation.parquet (explicit
schema, zstd), triplet_dataset/ (a Hugging Face DatasetDict saved with save_to_disk, with its
dataset card README.md), train_triplets.jsonl and val_triplets.jsonl (the notebook's files), and
data_preparation_stats.json (config, counts, difficulty distribution, band fill rates, skipped
anchors, positives per anchor; counted by etl/steps/export/stats.py). Every further layout
(`export_formats`: n-tuple, labeled-pair, labeled-list; see etl/steps/export/layouts.py) goes to its
own folder DIR/<layout>/ as train.parquet, validation.parquet, train.jsonl, validation.jsonl and
dataset/ (DatasetDict + card).

Write mode: replace the directory. Everything is written into a temporary directory beside DIR
and then renamed into place, so a crash never leaves a half-written export at DIR. DIR/.etl-export.json
(the manifest) lists the entries the export wrote; a DIR holding anything else (the notebook's inputs,
say) is refused with the foreign names, never replaced. Rows come in a
seeded shuffled order (the notebook shuffles too), the same on every export of the same triplets.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl import manifest, output
from etl.config import Settings
from etl.errors import EtlError
from etl.steps.export import card as export_card
from etl.steps.export import layouts as export_layouts
from etl.steps.export import stats as export_stats
from etl.steps.export.layouts import Options
from etl.steps.export.stats import build_stats
from etl.streams import STREAM_EXPORT, keyed
from etl.warehouse import Run, Warehouse

if TYPE_CHECKING:
    import pyarrow as pa

STATS_FILE = "data_preparation_stats.json"
DATASET_DIR = "triplet_dataset"
SPLIT_FILES = {
    "train": ("train.parquet", "train_triplets.jsonl"),
    "validation": ("validation.parquet", "val_triplets.jsonl"),
}
LAYOUT_DATASET_DIR = "dataset"
LAYOUT_FILES = {"train": ("train.parquet", "train.jsonl"), "validation": ("validation.parquet", "validation.jsonl")}


def schema() -> pa.Schema:
    """The exported columns and types; anchor, positive, negative come first for triplet losses."""
    import pyarrow as pa

    return pa.schema(
        [
            ("anchor", pa.string()),
            ("positive", pa.string()),
            ("negative", pa.string()),
            ("negative_similarity", pa.float32()),
            ("difficulty", pa.string()),
            ("group_id", pa.int64()),
        ]
    )


def default_dir(settings: Settings) -> Path:
    """Where exports go when no --out is given: beside the warehouse file."""
    return Path(settings.warehouse).parent / "exports" / "triplets"


def run(wh: Warehouse, settings: Settings, out_dir: Path | None = None) -> output.StepResult:
    """Export the triplets (split as in the `triplets` table) to `out_dir`."""
    out = Path(out_dir) if out_dir is not None else default_dir(settings)
    _check_target(out)
    options = Options.of(settings)
    params = (
        {"out": str(out)}
        if options.default
        else {"out": str(out), "formats": list(options.formats), "scores": options.scores}
    )
    with wh.record("export.triplets", params) as run:
        mine_run = _mine_run(wh)
        table = _read(wh, int(mine_run["config"]["seed"]))
        stats = build_stats(wh, mine_run, table)
        if options.scores:
            scores = export_layouts.positive_scores(
                wh, mine_run["config"]["model"], table.column("anchor_id"), table.column("positive_id")
            )
            table = table.append_column("positive_score", scores)
        layouts = {
            name: export_layouts.build(name, table, int(mine_run["config"]["negatives"]), options.scores)
            for name in options.formats
            if name != "triplet"
        }
        if not options.default:
            stats["layouts"] = export_layouts.stats(options, layouts, stats)
        sources = export_card.sources(wh, int(mine_run["run_id"]))
        stale = export_stats.changed_since(wh, int(mine_run["run_id"]))
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the export is meant to be shared
        try:
            _write_all(staging, table, stats, options=options, layouts=layouts, sources=sources)
            _swap(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        run.counts.update(
            {
                "train": stats["dataset"]["train_triplets"],
                "validation": stats["dataset"]["val_triplets"],
                "mine_run_id": mine_run["run_id"],
            }
        )
        if layouts:
            run.counts["layouts"] = {name: layout.rows() for name, layout in layouts.items()}
        if stale:
            run.counts["inputs_changed_after_mining"] = stale
    summary = _summary(run, out, table, stats, options, layouts)
    if stale:
        summary.warn(
            f"these triplets are from mine run {mine_run['run_id']}; {', '.join(stale)} changed "
            "its inputs since: run `etl mine` to mine them, then export again",
        )
    return summary


def _summary(
    run: Run,
    out: Path,
    table: pa.Table,
    stats: dict[str, Any],
    options: Options,
    layouts: dict[str, export_layouts.Layout],
) -> output.StepResult:
    title = f"export triplets: {table.num_rows:,} rows to {out} in {run.seconds:.1f}s"
    summary = output.StepResult.of(run, title, outputs=[out])
    if "triplet" in options.formats:
        summary.add(
            "train", f"{stats['dataset']['train_triplets']:,}  ({SPLIT_FILES['train'][0]}, {SPLIT_FILES['train'][1]})"
        )
        summary.add(
            "validation",
            f"{stats['dataset']['val_triplets']:,}  ({SPLIT_FILES['validation'][0]}, {SPLIT_FILES['validation'][1]})",
        )
        summary.add(
            "dataset", f"{DATASET_DIR}/ (datasets.load_from_disk; dataset card {DATASET_DIR}/{export_card.CARD_FILE})"
        )
    for name, layout in layouts.items():
        rows = layout.rows()
        summary.add(
            name,
            f"train {rows['train']:,} / validation {rows['validation']:,}  ({name}/: parquet, jsonl, {LAYOUT_DATASET_DIR}/)",
        )
        if layout.dropped_rows:
            summary.add(
                "  dropped",
                f"{sum(layout.dropped_rows.values()):,} rows of {layout.dropped_anchors:,} anchors "
                f"with fewer than {stats['config']['negatives_per_anchor']} negatives",
            )
    if options.scores:
        summary.add("scores", f"exact cosines under {stats['config']['model']} (column scores / score)")
    summary.add("stats", STATS_FILE)
    return summary


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise EtlError(f"{out} is a file; give --out a directory")
    manifest.check_target(
        out,
        legacy={STATS_FILE, DATASET_DIR, *(n for pair in SPLIT_FILES.values() for n in pair), *export_layouts.LAYOUTS},
        marker=STATS_FILE,
    )


def _mine_run(wh: Warehouse) -> dict[str, Any]:
    """The mine run that landed the triplets, with its params and counts."""
    run_ids = [r[0] for r in wh.execute("SELECT DISTINCT run_id FROM triplets").fetchall()]
    if not run_ids:
        raise EtlError("there are no triplets to export; run `etl mine` first")
    row = wh.execute("SELECT run_id, params, counts FROM runs WHERE run_id = ?", [run_ids[0]]).fetchall()
    if len(run_ids) > 1 or not row:
        raise EtlError("the triplets table mixes several mine runs; run `etl mine` again to rebuild it")
    run_id, params, counts = row[0]
    return {"run_id": run_id, "params": json.loads(params or "{}"), **json.loads(counts or "{}")}


def _read(wh: Warehouse, seed: int) -> pa.Table:
    """All triplets with their split, in a seeded order that depends only on their ids."""
    import numpy as np

    table = wh.con.sql(
        "SELECT * EXCLUDE (run_id) FROM triplets ORDER BY anchor_id, positive_id, negative_id"
    ).to_arrow_table()
    ids = [table.column(c).to_numpy() for c in ("anchor_id", "positive_id", "negative_id")]
    order = np.argsort(keyed(seed, STREAM_EXPORT, *ids), kind="stable")
    return table.take(order)


def _write_all(
    staging: Path,
    table: pa.Table,
    stats: dict[str, Any],
    options: Options | None = None,
    layouts: dict[str, export_layouts.Layout] | None = None,
    sources: list[str] | None = None,
) -> None:
    """Every file of the export, into `staging`."""
    options = options or Options()
    import datasets

    datasets.disable_progress_bars()
    sources = sources or []
    if "triplet" in options.formats:
        parts = _write_triplets(staging, table, options.scores)
        export_card.write(staging / DATASET_DIR, "triplet", parts, stats, sources, options.license)
    for name, layout in (layouts or {}).items():
        folder = staging / name
        folder.mkdir()
        _write_layout(folder, layout.parts)
        dropped = None
        if name == "n-tuple":
            dropped = {
                "rows": layout.dropped_rows,
                "anchors": layout.dropped_anchors,
                "width": stats["config"]["negatives_per_anchor"],
            }
        export_card.write(folder / LAYOUT_DATASET_DIR, name, layout.parts, stats, sources, options.license, dropped)
    text = json.dumps(stats, indent=2, ensure_ascii=False) + "\n"
    (staging / STATS_FILE).write_text(text, encoding="utf-8")
    manifest.write(staging)


def _write_layout(folder: Path, parts: dict[str, pa.Table]) -> None:
    """One layout's Parquet, JSONL and DatasetDict files in its folder."""
    import datasets
    import polars as pl
    import pyarrow.parquet as pq
    from datasets.table import InMemoryTable

    for split, (parquet_name, jsonl_name) in LAYOUT_FILES.items():
        pq.write_table(parts[split], folder / parquet_name, compression="zstd")
        pl.from_arrow(parts[split]).write_ndjson(folder / jsonl_name)  # type: ignore[union-attr]
    features = datasets.Features.from_arrow_schema(parts["train"].schema)
    dataset = datasets.DatasetDict(
        {
            split: datasets.Dataset(InMemoryTable(part), info=datasets.DatasetInfo(features=features))
            for split, part in parts.items()
        }
    )
    dataset.save_to_disk(str(folder / LAYOUT_DATASET_DIR))


def _write_triplets(staging: Path, table: pa.Table, scores: bool) -> dict[str, pa.Table]:
    """Today's triplet files (with a `scores` column [positive, negative] when asked); returns the rows per split."""
    import datasets
    import numpy as np
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from datasets.table import InMemoryTable

    target = schema()
    if scores:
        pos = table.column("positive_score").to_numpy()
        neg = table.column("negative_similarity").to_numpy().astype(np.float32)
        pair = pa.ListArray.from_arrays(
            pa.array(np.arange(0, 2 * table.num_rows + 1, 2, dtype=np.int32)),
            pa.array(np.column_stack([pos, neg]).ravel()),
        )
        table = table.append_column("scores", pair)
        target = target.append(pa.field("scores", pa.list_(pa.float32())))
    parts = {}
    for split, (parquet_name, jsonl_name) in SPLIT_FILES.items():
        part = table.filter(pc.equal(table.column("split"), split)).select(target.names).cast(target)
        parts[split] = part
        pq.write_table(part, staging / parquet_name, compression="zstd")
        pl.from_arrow(part).write_ndjson(staging / jsonl_name)  # type: ignore[union-attr]
    features = datasets.Features(
        {
            "anchor": datasets.Value("string"),
            "positive": datasets.Value("string"),
            "negative": datasets.Value("string"),
            "negative_similarity": datasets.Value("float32"),
            "difficulty": datasets.Value("string"),
            "group_id": datasets.Value("int64"),
        }
    )
    if scores:
        features["scores"] = datasets.List(datasets.Value("float32"))
    dataset = datasets.DatasetDict(
        {
            split: datasets.Dataset(InMemoryTable(part), info=datasets.DatasetInfo(features=features))
            for split, part in parts.items()
        }
    )
    dataset.save_to_disk(str(staging / DATASET_DIR))
    return parts


def _swap(staging: Path, out: Path) -> None:
    """Put `staging` at `out`, replacing an earlier export; each rename is atomic."""
    if not out.exists():
        staging.rename(out)
        return
    retired = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(retired)
    try:
        staging.rename(out)
    except BaseException:
        retired.rename(out)
        raise
    shutil.rmtree(retired)
