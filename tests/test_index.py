"""`etl index` and `index.ensure`: build, reuse, rebuild on change, and search that agrees with exact cosine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from etl import config, term_index, vectors, vocab
from etl.errors import EtlError
from etl.steps import index
from etl.warehouse import Warehouse

WORDS = ["모델", "학습", "데이터", "신경망", "검색", "model", "learning", "data", "search", "network"]


def seed(warehouse_path: Path, texts: list[str]) -> dict[str, int]:
    with Warehouse.open(warehouse_path) as wh, wh.record("seed") as run, wh.transaction():
        return vocab.ensure_terms(wh, texts, "test", run.run_id)


def status(output: str) -> str:
    """The summary's status line: rebuilt, or up to date."""
    return next(line.split(None, 1)[1] for line in output.splitlines() if line.strip().startswith("status"))


def vocabulary(n: int) -> list[str]:
    """n distinct Korean and English compound terms."""
    return [f"{WORDS[i % 10]}{WORDS[(i // 10) % 10]} {i}" for i in range(n)]


def settings(**overrides: object) -> config.Settings:
    return config.load(overrides={"embedder": "hash", "embed_dim": 64, **overrides}).settings


@pytest.fixture
def embedded(etl, warehouse_path: Path) -> dict[str, int]:
    """300 terms with 64-d hash vectors."""
    ids = seed(warehouse_path, vocabulary(300))
    etl("embed", "--embedder", "hash", "--dim", "64")
    return ids


def test_index_is_saved_beside_the_warehouse_with_a_fingerprint(etl, warehouse_path: Path, embedded: dict) -> None:
    out = etl("index", "--model", "hash-64").output
    assert status(out) == "rebuilt" and "vectors       300" in out and "vectors/s" in out
    path = warehouse_path.parent / "index" / "hash-64.usearch"
    saved = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert path.stat().st_size > 0
    assert {k: saved[k] for k in ("model", "count", "dim", "metric", "dtype", "built_dtype", "connectivity")} == {
        "model": "hash-64",
        "count": 300,
        "dim": 64,
        "metric": "cos",
        "dtype": "auto",
        "built_dtype": "f32",
        "connectivity": 16,
    }
    with Warehouse.open(warehouse_path) as wh:
        run_status, counts = wh.execute("SELECT status, counts FROM runs WHERE step = 'index'").fetchone()
    assert run_status == "ok" and json.loads(counts)["vectors"] == 300 and json.loads(counts)["rebuilt"] is True


def test_up_to_date_index_is_reused_memory_mapped(etl, warehouse_path: Path, embedded: dict) -> None:
    etl("index", "--model", "hash-64")
    path = warehouse_path.parent / "index" / "hash-64.usearch"
    stamp = path.stat().st_mtime_ns
    assert status(etl("index", "--model", "hash-64").output) == "up to date, reused"
    with Warehouse.open(warehouse_path) as wh:
        opened = index.ensure(wh, settings(index_expansion_search=200), "hash-64")
        assert not opened.rebuilt and opened.path == path and path.stat().st_mtime_ns == stamp
        assert opened.index.expansion_search == 200  # a search setting, applied without a rebuild
        assert opened.index.memory_usage < path.stat().st_size  # a view of the file, not a copy
        with pytest.raises(RuntimeError, match="immutable"):
            opened.index.add(10_000, np.ones(64, dtype=np.float32))


def test_model_defaults_to_the_only_one_with_vectors(etl, embedded: dict) -> None:
    # The configured embedder is ollama/bge-m3, which has no vectors here.
    assert "index: hash-64" in etl("index").output


@pytest.mark.parametrize(
    "change",
    ["new term", "changed vector", "dropped term", "dtype", "connectivity", "corrupt file", "missing fingerprint"],
)
def test_stale_index_is_rebuilt(etl, warehouse_path: Path, embedded: dict, change: str) -> None:
    etl("index", "--model", "hash-64")
    path = warehouse_path.parent / "index" / "hash-64.usearch"
    args = ["index", "--model", "hash-64"]
    expected_count = 300
    if change == "new term":
        seed(warehouse_path, ["완전히 새로운 용어"])
        etl("embed", "--embedder", "hash", "--dim", "64")
        expected_count = 301
    elif change == "changed vector":
        with Warehouse.open(warehouse_path) as wh:
            changed = embedded[vocabulary(300)[7]]
            wh.execute("UPDATE term_embeddings SET vec = list_reverse(vec) WHERE term_id = ?", [changed])
    elif change == "dropped term":
        with Warehouse.open(warehouse_path) as wh:
            wh.execute("DELETE FROM terms WHERE term_id = ?", [embedded[vocabulary(300)[0]]])
        expected_count = 299
    elif change == "dtype":
        args += ["--dtype", "i8"]
    elif change == "connectivity":
        args += ["--connectivity", "8"]
    elif change == "corrupt file":
        path.write_bytes(b"not an index")
    elif change == "missing fingerprint":
        path.with_suffix(".json").unlink()
    out = etl(*args).output
    assert status(out) == "rebuilt" and f"vectors       {expected_count}" in out
    saved = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert saved["count"] == expected_count
    assert status(etl(*args).output) == "up to date, reused"


def test_dropped_terms_are_not_searchable(warehouse_path: Path, embedded: dict) -> None:
    gone = embedded[vocabulary(300)[3]]
    with Warehouse.open(warehouse_path) as wh:
        wh.execute("DELETE FROM terms WHERE term_id = ?", [gone])
        opened = index.ensure(wh, settings(), "hash-64")
        ids, _ = vectors.load(wh, "hash-64", in_terms=True)
    assert gone not in opened.index and len(opened.index) == 299 == len(ids)


@pytest.mark.parametrize("dtype", ["f32", "f16", "i8"])
def test_search_agrees_with_exact_cosine(warehouse_path: Path, embedded: dict, dtype: str) -> None:
    with Warehouse.open(warehouse_path) as wh:
        # A search as deep as the set is large. HNSW is not exact even so, so the bar is 95% (i8 also
        # rounds every cosine); a set this small is built on one thread, so the result is the same every run.
        opened = index.ensure(wh, settings(index_dtype=dtype, index_expansion_search=300), "hash-64")
        ids, matrix = vectors.load(wh, "hash-64")
    queries = matrix[::10]
    found = opened.index.search(queries, 10)
    sims = queries @ matrix.T
    tenth = np.sort(sims, axis=1)[:, -10]
    # A hit counts when its exact cosine reaches the 10th best: hash vectors have many exact ties.
    hit_sims = np.take_along_axis(sims, np.searchsorted(ids, found.keys.astype(np.int64)), axis=1)
    recall = (hit_sims >= tenth[:, None] - 1e-5).mean()
    assert recall >= (0.85 if dtype == "i8" else 0.95)
    assert (found.keys[:, 0] == ids[::10]).mean() >= 0.95  # a term is its own nearest neighbour
    # Distances are 1 - cosine.
    top = found.keys[:, 1].astype(np.int64)
    cosine = np.einsum("ij,ij->i", queries, matrix[np.searchsorted(ids, top)])
    assert np.allclose(1 - found.distances[:, 1], cosine, atol=0.02 if dtype == "i8" else 2e-3)


def test_no_vectors_is_a_clear_error(etl, warehouse_path: Path, embedded: dict) -> None:
    result = etl("index", "--model", "bge-m3", ok=False)
    assert result.output.startswith("error: no vectors for model 'bge-m3'")
    assert "hash-64 (300)" in result.output
    with Warehouse.open(warehouse_path) as wh, pytest.raises(EtlError, match="run `etl embed` first"):
        index.ensure(wh, settings(), "nothing")


def test_index_path_is_safe_for_any_model_name(warehouse_path: Path) -> None:
    with Warehouse.open(warehouse_path) as wh:
        path = term_index.index_path(wh, "org/model:latest")
    assert path == warehouse_path.parent / "index" / "org_model_latest.usearch"


def test_mining_with_ann_builds_then_reuses_the_index(etl, warehouse_path: Path) -> None:
    data = Path(__file__).resolve().parent.parent / "etl" / "data"
    etl("import", "pairs", str(data / "example_pairs.jsonl"))
    etl("import", "terms", str(data / "example_terms.txt"))
    etl("clean")
    etl("embed", "--embedder", "hash")
    etl("mine", "--search", "ann")
    path = warehouse_path.parent / "index" / "hash-256.usearch"
    saved = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    with Warehouse.open(warehouse_path) as wh:
        assert saved["count"] == wh.scalar("SELECT count(*) FROM terms") > 0
        assert wh.scalar("SELECT count(*) FROM negatives") > 0
    stamp = path.stat().st_mtime_ns
    etl("mine", "--search", "ann")
    assert path.stat().st_mtime_ns == stamp
