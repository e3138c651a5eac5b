"""Degenerate mining inputs through the CLI: a model whose cosines miss every band, and a one-sided split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from etl.warehouse import Warehouse
from tests import minedata


def narrow_vectors(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    """Unit vectors all within a few degrees of one direction: every cosine is above 0.97."""
    rng = np.random.default_rng(seed)
    v = np.eye(dim, dtype=np.float32)[0] + 0.02 * rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def notebook_files(tmp_path: Path, vecs: np.ndarray, pairs: list[tuple[int, int]]) -> list[str]:
    """The triplet notebook's inputs: pairs JSONL, term_list.json and term_embeddings.npy; `etl run` arguments."""
    texts = [f"용어{i:04d}" for i in range(len(vecs))]
    lines = [json.dumps({"source": texts[a], "target": texts[b]}, ensure_ascii=False) for a, b in pairs]
    (tmp_path / "pairs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "term_list.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    np.save(tmp_path / "term_embeddings.npy", vecs)
    return [
        "--pairs",
        str(tmp_path / "pairs.jsonl"),
        "--terms",
        str(tmp_path / "term_list.json"),
        "--vectors",
        str(tmp_path / "term_embeddings.npy"),
        "--embed-model",
        "narrow",
    ]


def test_mine_with_no_triplets_exits_with_one_line_naming_the_cosines_and_calibrate(etl, wh: Warehouse) -> None:
    ids = np.arange(1, 301, dtype=np.int64)
    texts = [f"term {i}" for i in ids]
    pairs = [(int(a), int(a) + 1) for a in ids[:60:2]]
    groups = {t: a for a, b in pairs for t in (a, b)}
    minedata.insert(wh, ids, texts, texts, narrow_vectors(300), pairs, groups)
    wh.close()
    result = etl("mine", "--search", "exact", ok=False)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: no anchor of ")
    assert "--calibrate" in lines[0] and "median 0.99" in lines[0]
    assert "Traceback" not in result.output
    with Warehouse.open(etl.warehouse_path) as again:
        assert again.scalar("SELECT count(*) FROM triplets") == 0
        assert again.scalar("SELECT status FROM runs WHERE step = 'mine'") == "failed"
    # The way out that the line names works.
    assert "triplets" in etl("mine", "--search", "exact", "--calibrate").output


def test_run_with_no_triplets_stops_at_mine_with_the_same_line(etl, tmp_path: Path) -> None:
    pairs = [(2 * i, 2 * i + 1) for i in range(20)]
    result = etl("run", *notebook_files(tmp_path, narrow_vectors(200), pairs), ok=False)
    assert result.exit_code == 1
    assert "no anchor of 40 got a negative" in result.output and "--calibrate" in result.output
    assert "Traceback" not in result.output and "NoneType" not in result.output


def test_one_group_mines_and_exports_with_an_empty_validation_side(etl, tmp_path: Path, warehouse_path: Path) -> None:
    rng = np.random.default_rng(5)
    vecs = rng.standard_normal((200, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs[1] = vecs[0]  # the only pair: its two terms are synonyms
    result = etl("run", *notebook_files(tmp_path, vecs, [(0, 1)]), "--embedder", "import")
    assert "validation side is empty" in result.output
    out = warehouse_path.parent / "exports" / "triplets"
    stats = json.loads((out / "data_preparation_stats.json").read_text(encoding="utf-8"))
    assert stats["dataset"]["val_triplets"] == 0 and stats["dataset"]["train_triplets"] > 0
    assert pl.read_parquet(out / "validation.parquet").height == 0
    assert etl("split").exit_code == 0
    assert "validation side is empty" in etl("mine", "--search", "exact").output
