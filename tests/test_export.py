"""`etl export triplets`: every file readable by its consumer, the stats true to the tables, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from etl.steps.export import triplets as export_triplets
from etl.warehouse import Warehouse
from tests import minedata

TYPES = {
    "anchor": "string",
    "positive": "string",
    "negative": "string",
    "negative_similarity": "float",
    "difficulty": "string",
    "group_id": "int64",
}


@pytest.fixture
def exported(etl, warehouse_path: Path, tmp_path: Path) -> Path:
    """A mined warehouse (one anchor with no negative) exported to tmp_path/out."""
    with Warehouse.open(warehouse_path) as wh:
        # Every vector lives in the first 31 dimensions, except two synonyms along the 32nd:
        # orthogonal to everything, so both of those anchors end up without a negative.
        vecs = np.zeros((800, 32), dtype=np.float32)
        vecs[:, :31] = minedata.clustered(800, 31, np.random.default_rng(0))
        minedata.build(wh, vecs=vecs, n_groups=100)
        far = np.zeros((2, 32), dtype=np.float32)
        far[:, 31] = 1.0
        minedata.insert(
            wh,
            np.array([990_001, 990_002]),
            ["far a", "far b"],
            ["far a", "far b"],
            far,
            [(990_001, 990_002)],
            {990_001: 990_001, 990_002: 990_001},
        )
    etl("mine", "--search", "exact")
    etl("export", "triplets", "--out", str(tmp_path / "out"))
    return tmp_path / "out"


def table_rows(warehouse_path: Path, split: str) -> list[tuple]:
    with Warehouse.open(warehouse_path) as wh:
        return wh.execute(
            "SELECT anchor, positive, negative, negative_similarity, difficulty, group_id FROM triplets "
            "WHERE split = ? ORDER BY ALL",
            [split],
        ).fetchall()


def test_parquet_schema_compression_and_readers(exported: Path, warehouse_path: Path, tmp_path: Path) -> None:
    import datasets
    import duckdb
    import polars as pl
    import pyarrow.parquet as pq

    for split, name in (("train", "train.parquet"), ("validation", "validation.parquet")):
        path = exported / name
        schema = pq.read_schema(path)
        assert [(f.name, str(f.type)) for f in schema] == list(TYPES.items())
        meta = pq.ParquetFile(path).metadata
        assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {"ZSTD"}
        expected = table_rows(warehouse_path, split)
        assert sorted(pq.read_table(path).to_pylist(), key=lambda r: tuple(r.values())) == [
            dict(zip(TYPES, r)) for r in expected
        ]
        assert pl.read_parquet(path).height == len(expected)
        assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0] == len(expected)
    loaded = datasets.load_dataset(
        "parquet",
        data_files={"train": str(exported / "train.parquet"), "validation": str(exported / "validation.parquet")},
        cache_dir=str(tmp_path / "hf-cache"),
    )
    assert loaded["train"].num_rows == len(table_rows(warehouse_path, "train"))
    assert loaded["validation"].features["negative_similarity"].dtype == "float32"


def test_dataset_dict_loads_with_triplet_columns_first(exported: Path, warehouse_path: Path) -> None:
    import datasets

    loaded = datasets.load_from_disk(str(exported / "triplet_dataset"))
    assert set(loaded) == {"train", "validation"}
    assert loaded["train"].column_names[:3] == ["anchor", "positive", "negative"]
    assert loaded["train"].features["group_id"].dtype == "int64"
    rows = sorted(tuple(r.values()) for r in loaded["validation"])
    assert rows == [tuple(r) for r in table_rows(warehouse_path, "validation")]


def test_jsonl_as_in_the_notebook(exported: Path, warehouse_path: Path) -> None:
    for split, name in (("train", "train_triplets.jsonl"), ("validation", "val_triplets.jsonl")):
        lines = (exported / name).read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines]
        assert list(records[0]) == list(TYPES)
        expected = table_rows(warehouse_path, split)
        assert len(records) == len(expected)
        got = sorted(
            (
                r["anchor"],
                r["positive"],
                r["negative"],
                np.float32(r["negative_similarity"]),
                r["difficulty"],
                r["group_id"],
            )
            for r in records
        )
        assert got == [(*r[:3], np.float32(r[3]), *r[4:]) for r in expected]


def test_stats_match_the_tables(exported: Path, warehouse_path: Path) -> None:
    stats = json.loads((exported / "data_preparation_stats.json").read_text(encoding="utf-8"))
    with Warehouse.open(warehouse_path) as wh:
        q = wh.scalar
        assert stats["dataset"]["total_triplets"] == q("SELECT count(*) FROM triplets")
        assert stats["dataset"]["train_triplets"] == q("SELECT count(*) FROM triplets WHERE split = 'train'")
        assert stats["dataset"]["val_triplets"] == q("SELECT count(*) FROM triplets WHERE split = 'validation'")
        assert stats["dataset"]["negatives"] == q("SELECT count(*) FROM negatives")
        assert stats["dataset"]["anchors_with_triplets"] == q("SELECT count(DISTINCT anchor_id) FROM triplets")
        assert stats["difficulty_distribution"] == dict(
            wh.execute("SELECT difficulty, count(*) FROM triplets GROUP BY 1").fetchall()
        )
        for band, fill in stats["band_fill"].items():
            assert fill["by_quota"] == q("SELECT count(*) FROM negatives WHERE band = ? AND NOT filled", [band])
            assert fill["by_fill"] == q("SELECT count(*) FROM negatives WHERE band = ? AND filled", [band])
        rejected = [
            r[0] for r in wh.execute("SELECT source FROM rejects WHERE rule = 'no_negative' ORDER BY 1").fetchall()
        ]
        assert {"far a", "far b"} <= set(stats["skipped_anchor_list"]) and stats["skipped_anchor_list"] == rejected
        assert stats["dataset"]["skipped_anchors"] == len(rejected)
        assert stats["dataset"]["unique_anchors"] == stats["dataset"]["anchors_with_triplets"] + len(rejected)
        # Positives per anchor: both directions of every pair whose terms have vectors.
        per_anchor = [
            r[0]
            for r in wh.execute(
                "SELECT count(*) FROM (SELECT term_a AS a FROM synonym_pairs UNION ALL SELECT term_b FROM synonym_pairs) GROUP BY a"
            ).fetchall()
        ]
    pos = stats["positives_per_anchor"]
    assert (pos["mean"], pos["min"], pos["median"], pos["max"]) == (
        pytest.approx(float(np.mean(per_anchor)), abs=1e-4),
        min(per_anchor),
        float(np.median(per_anchor)),
        max(per_anchor),
    )
    assert stats["dataset"]["anchors_on_both_sides"] == stats["dataset"]["groups_on_both_sides"] == 0
    assert stats["config"]["easy_range"] == [0.3, 0.5] and stats["config"]["negatives_per_anchor"] == 5
    assert stats["config"]["split_by"] == "group" and stats["config"]["train_ratio"] == 0.9


def test_stats_follow_a_later_split(etl, exported: Path) -> None:
    etl("split", "--split-by", "triplet")
    etl("export", "triplets", "--out", str(exported))
    stats = json.loads((exported / "data_preparation_stats.json").read_text(encoding="utf-8"))
    assert stats["config"]["split_by"] == "triplet"
    assert stats["dataset"]["anchors_on_both_sides"] > 0
    assert stats["lineage"]["split_run_id"] is not None


def test_a_crash_leaves_the_previous_export_whole(etl, exported: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {p.relative_to(exported): p.read_bytes() for p in exported.rglob("*") if p.is_file()}
    real = export_triplets._write_all

    def crash(staging: Path, table: object, stats: dict, **options: object) -> None:
        real(staging, table, stats, **options)  # type: ignore[arg-type]
        (staging / "train.parquet").write_bytes(b"half")
        raise OSError("No space left on device")

    monkeypatch.setattr(export_triplets, "_write_all", crash)
    result = etl("export", "triplets", "--out", str(exported), ok=False)
    assert isinstance(result.exception, OSError)
    after = {p.relative_to(exported): p.read_bytes() for p in exported.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in exported.parent.iterdir() if p.name.startswith(".out")] == []


def test_refuses_a_directory_that_is_not_an_export(etl, exported: Path, tmp_path: Path) -> None:
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine", encoding="utf-8")
    result = etl("export", "triplets", "--out", str(other), ok=False)
    assert result.exit_code == 1 and "no earlier triplet export wrote (keep.txt)" in result.output
    assert (other / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_the_notebooks_directory_keeps_its_inputs(etl, exported: Path, tmp_path: Path) -> None:
    """The triplet notebook writes its outputs beside its inputs; an export there must not delete them."""
    notebook = tmp_path / "notebook"
    notebook.mkdir()
    inputs = {"filtered_synonym_pairs.jsonl": b'{"ko": "a"}\n', "term_list.json": b"[]", "term_embeddings.npy": b"x"}
    for name, data in {**inputs, "data_preparation_stats.json": b"{}"}.items():
        (notebook / name).write_bytes(data)
    before = {p.name: p.read_bytes() for p in notebook.iterdir()}
    result = etl("export", "triplets", "--out", str(notebook), ok=False)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    for name in inputs:
        assert name in result.output
    assert {p.name: p.read_bytes() for p in notebook.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".notebook")] == []


def test_a_file_added_to_an_export_is_foreign(etl, exported: Path) -> None:
    manifest = json.loads((exported / ".etl-export.json").read_text(encoding="utf-8"))
    assert sorted(p.name for p in exported.iterdir() if p.name != ".etl-export.json") == manifest["entries"]
    etl("export", "triplets", "--out", str(exported))  # its own files only: replaced
    (exported / "notes.md").write_text("mine", encoding="utf-8")
    result = etl("export", "triplets", "--out", str(exported), ok=False)
    assert "(notes.md)" in result.output
    assert (exported / "notes.md").read_text(encoding="utf-8") == "mine"


def test_an_export_from_before_manifests_is_still_replaced(etl, exported: Path) -> None:
    (exported / ".etl-export.json").unlink()
    etl("export", "triplets", "--out", str(exported))
    assert (exported / ".etl-export.json").is_file()


def test_export_without_triplets_says_what_to_do(etl, tmp_path: Path) -> None:
    result = etl("export", "triplets", "--out", str(tmp_path / "x"), ok=False)
    assert result.output.startswith("error: there are no triplets to export; run `etl mine` first")
    assert not (tmp_path / "x").exists()
