"""`etl export triplets --format …`: every layout's columns, order, types and rows against the warehouse, per split.

No sentence-transformers here: the expected rows are regrouped from `triplets` in SQL, and the
files are read with pyarrow, json and datasets. tests/test_train.py trains on the same exports.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from etl.warehouse import Warehouse
from tests import minedata

LAYOUTS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")
WIDTH = 5  # mine_negatives' default: the n-tuple's negatives per row
TRIPLET = [
    ("anchor", "string"),
    ("positive", "string"),
    ("negative", "string"),
    ("negative_similarity", "float"),
    ("difficulty", "string"),
    ("group_id", "int64"),
]
NEGATIVES = [(f"negative_{i}", "string") for i in range(1, WIDTH + 1)]
SCHEMAS = {
    (False, "triplet"): TRIPLET,
    (True, "triplet"): [*TRIPLET, ("scores", "list<float>")],
    (False, "n-tuple"): [("anchor", "string"), ("positive", "string"), *NEGATIVES],
    (True, "n-tuple"): [("anchor", "string"), ("positive", "string"), *NEGATIVES, ("scores", "list<float>")],
    (False, "labeled-pair"): [("anchor", "string"), ("text", "string"), ("label", "int64")],
    (True, "labeled-pair"): [("anchor", "string"), ("text", "string"), ("score", "float")],
    (False, "labeled-list"): [("anchor", "string"), ("texts", "list<string>"), ("labels", "list<int64>")],
    (True, "labeled-list"): [("anchor", "string"), ("texts", "list<string>"), ("scores", "list<float>")],
}
FILES = {
    "triplet": (
        {"train": "train.parquet", "validation": "validation.parquet"},
        {"train": "train_triplets.jsonl", "validation": "val_triplets.jsonl"},
        "triplet_dataset",
    ),
    **{
        name: (
            {"train": f"{name}/train.parquet", "validation": f"{name}/validation.parquet"},
            {"train": f"{name}/train.jsonl", "validation": f"{name}/validation.jsonl"},
            f"{name}/dataset",
        )
        for name in LAYOUTS[1:]
    },
}


def mine_world(etl, warehouse_path: Path, split_by: str = "group") -> None:
    """A mined warehouse where some anchors get fewer than WIDTH negatives (so n-tuple drops rows)."""
    with Warehouse.open(warehouse_path) as wh:
        minedata.build(wh, n_terms=500, dim=24, n_groups=70, seed=3)
    # Narrow bands hold few terms: some anchors have fewer than WIDTH members in all, so fills cannot help.
    etl(
        "mine",
        "--search",
        "exact",
        "--easy",
        "0.4,0.41",
        "--medium",
        "0.55,0.56",
        "--hard",
        "0.7,0.72",
        "--split-by",
        split_by,
    )


def export(etl, out: Path, *extra: str) -> Path:
    args = [a for name in LAYOUTS for a in ("--format", name)]
    etl("export", "triplets", "--out", str(out), *args, *extra)
    return out


@pytest.fixture
def mined(etl, warehouse_path: Path) -> Path:
    mine_world(etl, warehouse_path)
    return warehouse_path


@pytest.fixture
def layouts(etl, mined: Path, tmp_path: Path) -> Path:
    return export(etl, tmp_path / "out")


@pytest.fixture
def scored(etl, mined: Path, tmp_path: Path) -> Path:
    return export(etl, tmp_path / "scored", "--with-scores")


def expected_rows(warehouse_path: Path, layout: str, split: str, scores: bool) -> list[tuple]:
    """The layout's rows of one split, regrouped from `triplets` in SQL (sorted, for comparison)."""
    with Warehouse.open(warehouse_path) as wh:
        cos = positive_cosines(wh) if scores else {}
        per_positive = wh.execute(
            "SELECT anchor_id, positive_id, anchor, positive, list(negative ORDER BY negative_similarity DESC, negative_id), "
            "list(negative_similarity ORDER BY negative_similarity DESC, negative_id) "
            "FROM triplets WHERE split = ? GROUP BY ALL",
            [split],
        ).fetchall()
        if layout == "triplet":
            rows = wh.execute(
                "SELECT anchor, positive, negative, negative_similarity, difficulty, group_id, anchor_id, positive_id "
                "FROM triplets WHERE split = ?",
                [split],
            ).fetchall()
            out = [r[:6] + (([cos[r[6], r[7]], r[3]],) if scores else ()) for r in rows]
        elif layout == "n-tuple":
            out = [
                (a, p, *negs) + (([cos[ai, pi], *sims],) if scores else ())
                for ai, pi, a, p, negs, sims in per_positive
                if len(negs) == WIDTH
            ]
        elif layout == "labeled-list":
            out = [
                (a, [p, *negs], [cos[ai, pi], *sims] if scores else [1] + [0] * len(negs))
                for ai, pi, a, p, negs, sims in per_positive
            ]
        else:
            pos = wh.execute(
                "SELECT DISTINCT anchor, positive, anchor_id, positive_id FROM triplets WHERE split = ?", [split]
            ).fetchall()
            neg = wh.execute(
                "SELECT DISTINCT anchor, negative, negative_similarity FROM triplets WHERE split = ?", [split]
            ).fetchall()
            out = [(a, t, cos[ai, pi] if scores else 1) for a, t, ai, pi in pos] + [
                (a, t, s if scores else 0) for a, t, s in neg
            ]
    return [_rounded(r) for r in out]


def assert_same_rows(got: list[tuple], expected: list[tuple]) -> None:
    """The same rows in any order; floats equal to within float32 rounding (the test recomputes in float64)."""

    def key(row: object) -> object:
        if isinstance(row, tuple):
            return tuple(key(v) for v in row if not isinstance(v, float))
        return repr(row)

    assert len(got) == len(expected)
    for a, b in zip(sorted(got, key=key), sorted(expected, key=key)):
        assert _close(a, b), (a, b)


def _close(a: object, b: object) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-6  # type: ignore[arg-type]
    return a == b


def positive_cosines(wh: Warehouse) -> dict[tuple[int, int], float]:
    """Every (anchor, positive) cosine, recomputed here in float64 from the stored vectors."""
    model = wh.scalar("SELECT DISTINCT model FROM term_embeddings")
    vec = {
        tid: np.asarray(v, dtype=np.float64)
        for tid, v in wh.execute("SELECT term_id, vec FROM term_embeddings WHERE model = ?", [model]).fetchall()
    }
    pairs = wh.execute("SELECT DISTINCT anchor_id, positive_id FROM triplets").fetchall()
    return {(a, p): float(vec[a] @ vec[p]) for a, p in pairs}


def type_name(kind: object) -> str:
    """An Arrow type as text, lists by their value type (writers name the list's child item or element)."""
    import pyarrow as pa

    if isinstance(kind, pa.ListType):
        return f"list<{kind.value_type}>"
    return str(kind)


def _rounded(row: tuple) -> tuple:
    """Floats as the float32 they were stored as (JSONL prints them shortest, Parquet reads them widened), lists as tuples."""

    def one(v: object) -> object:
        if isinstance(v, float):
            return float(np.float32(v))
        if isinstance(v, list):
            return tuple(one(x) for x in v)
        return v

    return tuple(one(v) for v in row)


@pytest.mark.parametrize("scores", [False, True], ids=["labels", "scores"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_parquet_columns_types_and_rows_match_the_warehouse(
    layout: str, scores: bool, layouts: Path, scored: Path, mined: Path
) -> None:
    import pyarrow.parquet as pq

    out = scored if scores else layouts
    parquet, _, _ = FILES[layout]
    total = 0
    for split in ("train", "validation"):
        table = pq.read_table(out / parquet[split])
        assert [(f.name, type_name(f.type)) for f in table.schema] == SCHEMAS[scores, layout]
        got = [_rounded(tuple(r.values())) for r in table.to_pylist()]
        assert_same_rows(got, expected_rows(mined, layout, split, scores))
        total += len(got)
    assert total > 0


@pytest.mark.parametrize("layout", LAYOUTS)
def test_jsonl_and_dataset_dict_hold_the_parquet_rows(layout: str, scored: Path) -> None:
    import datasets
    import pyarrow.parquet as pq

    parquet, jsonl, dataset_dir = FILES[layout]
    loaded = datasets.load_from_disk(str(scored / dataset_dir))
    assert set(loaded) == {"train", "validation"}
    for split in ("train", "validation"):
        rows = pq.read_table(scored / parquet[split]).to_pylist()
        names = [name for name, _ in SCHEMAS[True, layout]]
        records = [json.loads(line) for line in (scored / jsonl[split]).read_text(encoding="utf-8").splitlines()]
        assert [list(r) for r in records] == [names] * len(rows)
        assert [_rounded(tuple(r.values())) for r in records] == [_rounded(tuple(r.values())) for r in rows]
        assert loaded[split].column_names == names
        assert [_rounded(tuple(r.values())) for r in loaded[split]] == [_rounded(tuple(r.values())) for r in rows]


def test_n_tuple_drops_short_rows_and_counts_them(layouts: Path, mined: Path) -> None:
    stats = json.loads((layouts / "data_preparation_stats.json").read_text(encoding="utf-8"))
    info = stats["layouts"]["n-tuple"]
    with Warehouse.open(mined) as wh:
        short = dict(
            wh.execute(
                "SELECT split, count(*) FROM (SELECT split, anchor_id, positive_id FROM triplets GROUP BY ALL HAVING count(*) < ?) GROUP BY split",
                [WIDTH],
            ).fetchall()
        )
        short_anchors = wh.scalar(
            "SELECT count(DISTINCT anchor_id) FROM (SELECT split, anchor_id, positive_id FROM triplets GROUP BY ALL HAVING count(*) < ?)",
            [WIDTH],
        )
        full = dict(
            wh.execute(
                "SELECT split, count(*) FROM (SELECT split, anchor_id, positive_id FROM triplets GROUP BY ALL HAVING count(*) = ?) GROUP BY split",
                [WIDTH],
            ).fetchall()
        )
    assert sum(short.values()) > 0 and sum(full.values()) > 0  # the world exercises both
    assert info["dropped_rows"] == {s: short.get(s, 0) for s in ("train", "validation")}
    assert info["dropped_anchors"] == short_anchors
    assert info["rows"] == {s: full.get(s, 0) for s in ("train", "validation")}
    assert info["negatives_per_row"] == WIDTH
    card = (layouts / "n-tuple" / "dataset" / "README.md").read_text(encoding="utf-8")
    assert f"Dropped: {sum(short.values()):,} (anchor, positive) rows" in card


def test_scores_are_the_mining_models_exact_cosines(scored: Path, mined: Path) -> None:
    import pyarrow.parquet as pq

    from etl import vectors
    from etl.vectors import exact_cosine

    rows = pq.read_table(scored / "train.parquet").to_pylist()
    with Warehouse.open(mined) as wh:
        ids, vecs = vectors.load(wh, minedata.MODEL)
        texts = dict(wh.execute("SELECT text, term_id FROM terms").fetchall())
    a = np.searchsorted(ids, [texts[r["anchor"]] for r in rows])
    p = np.searchsorted(ids, [texts[r["positive"]] for r in rows])
    exact = exact_cosine(vecs, a, p)
    assert [r["scores"][0] for r in rows] == exact.tolist()  # bit for bit, as mining scores
    assert [r["scores"][1] for r in rows] == [r["negative_similarity"] for r in rows]


def test_the_default_export_is_todays(etl, mined: Path, tmp_path: Path) -> None:
    etl("export", "triplets", "--out", str(tmp_path / "default"))
    etl("export", "triplets", "--out", str(tmp_path / "explicit"), "--format", "triplet")
    files = {p.relative_to(tmp_path / "default") for p in (tmp_path / "default").rglob("*") if p.is_file()}
    assert {f for f in files if f.parts[0] != "triplet_dataset"} == {
        Path(n)
        for n in (
            "train.parquet",
            "validation.parquet",
            "train_triplets.jsonl",
            "val_triplets.jsonl",
            "data_preparation_stats.json",
            ".etl-export.json",
        )
    }
    for name in files:
        assert (tmp_path / "default" / name).read_bytes() == (tmp_path / "explicit" / name).read_bytes(), name
    stats = json.loads((tmp_path / "default" / "data_preparation_stats.json").read_text(encoding="utf-8"))
    assert "layouts" not in stats


def test_a_leaky_split_regroups_within_each_split(etl, warehouse_path: Path, tmp_path: Path) -> None:
    mine_world(etl, warehouse_path, split_by="triplet")
    out = export(etl, tmp_path / "leaky")
    import pyarrow.parquet as pq

    for layout in ("labeled-pair", "labeled-list", "n-tuple"):
        for split in ("train", "validation"):
            got = [_rounded(tuple(r.values())) for r in pq.read_table(out / FILES[layout][0][split]).to_pylist()]
            assert_same_rows(got, expected_rows(warehouse_path, layout, split, False))
    card = (out / "labeled-list" / "dataset" / "README.md").read_text(encoding="utf-8")
    assert "**the split leaks**" in card


def test_run_exports_the_configured_layouts(etl, warehouse_path: Path) -> None:
    env = {"ETL_EXPORT_FORMATS": "triplet,labeled-list"}
    etl("run", "--example", env=env)
    out = warehouse_path.parent / "exports" / "triplets"
    assert (out / "train.parquet").is_file() and (out / "labeled-list" / "dataset" / "README.md").is_file()
    assert not (out / "n-tuple").exists()
    (out / "labeled-list" / "train.parquet").unlink()
    rerun = etl("run", "--example", env=env).output
    assert "export  ran" in rerun and (out / "labeled-list" / "train.parquet").is_file()


def test_bad_layout_names_are_refused(etl, mined: Path, tmp_path: Path) -> None:
    result = etl("export", "triplets", "--out", str(tmp_path / "x"), "--format", "quadruplet", ok=False)
    assert result.exit_code == 2 and "quadruplet" in result.output
    result = etl(
        "export", "triplets", "--out", str(tmp_path / "x"), env={"ETL_EXPORT_FORMATS": "triplet,pairs"}, ok=False
    )
    assert result.exit_code == 2 and "export_formats must be one or more comma-separated" in result.output
    assert not (tmp_path / "x").exists()


def test_every_layout_exports_the_same_bytes_twice(etl, layouts: Path, tmp_path: Path) -> None:
    again = export(etl, tmp_path / "again")
    files = sorted(p.relative_to(layouts) for p in layouts.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert {f.parts[0] for f in files} >= {"n-tuple", "labeled-pair", "labeled-list", "triplet_dataset"}
    for name in files:
        assert (layouts / name).read_bytes() == (again / name).read_bytes(), name
