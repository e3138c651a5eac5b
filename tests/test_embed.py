"""`etl embed`: the hash embedder, the server embedders, import from files, validation, incrementality."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl import vectors, vocab
from etl.model_names import hash_model_name
from etl.steps.embed import hashing as embed_hash
from etl.warehouse import Warehouse
from tests.fakeserver import FakeLLMServer, Reply

TERMS = ["머신러닝", "machine learning", "딥러닝", "deep learning", "신경망", "neural network", "남계리", "남양리"]


def seed_terms(warehouse_path: Path, texts: list[str]) -> dict[str, int]:
    """Put texts into `terms` the way the clean step would."""
    with Warehouse.open(warehouse_path) as wh, wh.record("seed") as run, wh.transaction():
        return vocab.ensure_terms(wh, texts, "test", run.run_id)


def table(warehouse_path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with Warehouse.open(warehouse_path) as wh:
        return wh.execute(sql, params or []).fetchall()


def counts(warehouse_path: Path) -> tuple[int, int, int, int]:
    """Rows in term_embeddings, terms, imported_terms and rejects."""
    return table(
        warehouse_path,
        "SELECT (SELECT count(*) FROM term_embeddings), (SELECT count(*) FROM terms), "
        "(SELECT count(*) FROM imported_terms), (SELECT count(*) FROM rejects)",
    )[0]


def load(warehouse_path: Path, model: str) -> tuple[np.ndarray, np.ndarray]:
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        return vectors.load(wh, model)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- the hash embedder -----------------------------------------------------------------------------


def test_hash_vectors_are_unit_length_and_sized_by_dim() -> None:
    matrix = embed_hash.embed(["a", "머신러닝", "x" * 300, "  "], 64)
    assert matrix.shape == (4, 64) and matrix.dtype == np.float32
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-6)
    assert hash_model_name(64) == "hash-64"


def test_hash_is_deterministic_across_processes() -> None:
    code = (
        "import sys; from etl.steps.embed import hashing as embed_hash; "
        "sys.stdout.buffer.write(embed_hash.embed(['남계리', 'model'], 32).tobytes())"
    )
    run = [sys.executable, "-c", code]
    outputs = {
        subprocess.run(run, capture_output=True, check=True, env={"PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")
    }
    assert outputs == {embed_hash.embed(["남계리", "model"], 32).tobytes()}


def test_hash_shares_jamo_between_syllables() -> None:
    # 강 and 각 share no syllable, only the jamo ㄱ and ㅏ; 물 shares nothing with 강.
    v = dict(
        zip(
            ["강", "각", "물", "남계리", "남양리", "컴퓨터"],
            embed_hash.embed(["강", "각", "물", "남계리", "남양리", "컴퓨터"], 256),
        )
    )
    assert cos(v["강"], v["각"]) > cos(v["강"], v["물"]) + 0.2
    assert cos(v["남계리"], v["남양리"]) > cos(v["남계리"], v["컴퓨터"]) + 0.2


def test_hash_separates_unrelated_terms_and_joins_spelling_variants() -> None:
    v = embed_hash.embed(["machine learning", "machine-learning", "신경망"], 256)
    assert cos(v[0], v[1]) > 0.8
    assert cos(v[0], v[2]) < 0.2


# -- storage and incrementality ----------------------------------------------------------------------


def test_hash_embed_gives_every_term_a_unit_vector(etl, warehouse_path: Path) -> None:
    ids = seed_terms(warehouse_path, TERMS)
    out = etl("embed", "--embedder", "hash", "--dim", "64").output
    assert "embedded                8" in out and "hash-64" in out
    rows = table(
        warehouse_path,
        "SELECT term_id, model, dim, len(vec), list_dot_product(vec, vec), run_id FROM term_embeddings ORDER BY term_id",
    )
    assert [r[0] for r in rows] == sorted(ids.values())
    assert {(r[1], r[2], r[3]) for r in rows} == {("hash-64", 64, 64)}
    assert all(abs(r[4] - 1) < 1e-5 for r in rows)
    run = table(warehouse_path, "SELECT run_id, step, status, counts FROM runs WHERE step = 'embed'")[0]
    assert {r[5] for r in rows} == {run[0]} and run[2] == "ok"
    assert json.loads(run[3]) == {"embedded": 8, "rejected": 0}


def test_cosine_in_ad_hoc_sql(etl, warehouse_path: Path) -> None:
    seed_terms(warehouse_path, ["남계리", "남양리"])
    etl("embed", "--embedder", "hash")
    out = etl(
        "sql",
        "--csv",
        "SELECT round(list_cosine_similarity(a.vec, b.vec), 4) AS l, "
        "round(array_cosine_similarity(a.vec::FLOAT[256], b.vec::FLOAT[256]), 4) AS a "
        "FROM term_embeddings a, term_embeddings b WHERE a.term_id < b.term_id",
    ).output
    listed, arrayed = out.splitlines()[1].split(",")
    v = embed_hash.embed(["남계리", "남양리"], 256)
    assert float(listed) == float(arrayed) == pytest.approx(cos(v[0], v[1]), abs=1e-4)


def test_rerun_embeds_only_new_terms(etl, warehouse_path: Path) -> None:
    seed_terms(warehouse_path, TERMS[:4])
    etl("embed", "--embedder", "hash")
    assert "nothing to do" in etl("embed", "--embedder", "hash").output
    seed_terms(warehouse_path, TERMS)
    etl("embed", "--embedder", "hash")
    per_run = table(warehouse_path, "SELECT run_id, count(*) FROM term_embeddings GROUP BY run_id ORDER BY run_id")
    assert [n for _, n in per_run] == [4, 4]
    # Another dimension is another model: all terms again, the 256-d vectors untouched.
    etl("embed", "--embedder", "hash", "--dim", "32")
    assert table(warehouse_path, "SELECT model, count(*) FROM term_embeddings GROUP BY model ORDER BY model") == [
        ("hash-256", 8),
        ("hash-32", 8),
    ]


def test_a_failed_check_writes_nothing(etl, warehouse_path: Path) -> None:
    ids = seed_terms(warehouse_path, TERMS)
    with Warehouse.open(warehouse_path) as wh:  # a vector someone landed by hand, not normalised
        wh.execute("INSERT INTO term_embeddings VALUES (?, 'hash-256', 256, ?, 0)", [ids["딥러닝"], [2.0] * 256])
    result = etl("embed", "--embedder", "hash", ok=False)
    assert "embed_unit_norm" in result.output and "was not written" in result.output
    assert counts(warehouse_path)[0] == 1


# -- server embedders ------------------------------------------------------------------------------


def server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No waiting between retries in tests."""
    monkeypatch.setenv("ETL_LLM_BACKOFF", "0")
    monkeypatch.setenv("ETL_LLM_MAX_ATTEMPTS", "2")


@pytest.mark.parametrize(("api", "path"), [("ollama", "/api/embed"), ("openai", "/v1/embeddings")])
def test_server_embedder_batches_and_stores(
    etl, warehouse_path: Path, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, api: str, path: str
) -> None:
    server_env(monkeypatch)
    texts = [f"term {i}" for i in range(12)]
    ids = seed_terms(warehouse_path, texts)
    etl("embed", "--embedder", api, "--url", llm_server.url, "--batch", "4")
    assert llm_server.count(path) == 3  # 12 terms in batches of 4
    assert all(len(seen.body["input"]) == 4 for seen in llm_server.seen if seen.path == path)
    found_ids, matrix = load(warehouse_path, "bge-m3")
    order = {v: k for k, v in ids.items()}
    expected = np.array([llm_server._default_embed(order[i]) for i in found_ids], dtype=np.float32)
    assert matrix.shape == (12, 8) and np.allclose(matrix, expected, atol=1e-6)
    before = llm_server.count()
    assert "nothing to do" in etl("embed", "--embedder", api, "--url", llm_server.url).output
    assert llm_server.count() == before  # not even a health check


def test_missing_model_is_one_line_and_writes_nothing(
    etl, warehouse_path: Path, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_env(monkeypatch)
    seed_terms(warehouse_path, TERMS)
    result = etl("embed", "--embedder", "ollama", "--url", llm_server.url, "--model", "nomic-embed-text", ok=False)
    assert result.output.startswith("error: model 'nomic-embed-text' is not on")
    assert "ollama pull nomic-embed-text" in result.output
    assert counts(warehouse_path)[0] == 0
    assert llm_server.count("/api/embed") == 0


def test_unreachable_server_is_one_line(etl, warehouse_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server_env(monkeypatch)
    seed_terms(warehouse_path, TERMS)
    with FakeLLMServer() as server:
        url = server.url  # a port nobody listens on once the server stops
    result = etl("embed", "--embedder", "ollama", "--url", url, ok=False)
    assert result.output.startswith("error: cannot reach the Ollama server")
    assert "Traceback" not in result.output


def test_a_batch_that_keeps_failing_fails_the_step_and_writes_nothing(
    etl, warehouse_path: Path, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_env(monkeypatch)
    seed_terms(warehouse_path, TERMS)
    llm_server.script("/api/embed", Reply(), Reply(status=500), Reply(status=503))
    result = etl("embed", "--embedder", "ollama", "--url", llm_server.url, "--batch", "4", ok=False)
    assert "failed after 2 attempts" in result.output
    assert counts(warehouse_path)[0] == 0
    assert table(warehouse_path, "SELECT status FROM runs WHERE step = 'embed'") == [("failed",)]


def test_a_failure_keeps_the_chunks_already_committed_and_a_rerun_embeds_the_rest(
    etl, warehouse_path: Path, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl.steps import embed

    server_env(monkeypatch)
    monkeypatch.setattr(embed, "COMMIT_CHUNK", 4)
    seed_terms(warehouse_path, TERMS)
    llm_server.script("/api/embed", Reply(), Reply(status=500), Reply(status=503))
    args = ("embed", "--embedder", "ollama", "--url", llm_server.url, "--batch", "4")
    assert "failed after 2 attempts" in etl(*args, ok=False).output
    assert counts(warehouse_path)[0] == 4  # the first chunk, committed before the failure
    before = llm_server.count("/api/embed")
    etl(*args)
    assert llm_server.count("/api/embed") - before == (len(TERMS) - 4 + 3) // 4  # only what was missing
    assert counts(warehouse_path)[0] == len(TERMS)


def test_bad_server_vectors_become_rejects(
    etl, warehouse_path: Path, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_env(monkeypatch)
    seed_terms(warehouse_path, TERMS)
    bad = {"딥러닝": [0.0] * 8, "신경망": [math.nan] + [0.1] * 7, "남양리": [0.5] * 7}
    llm_server.embedder = lambda text: bad.get(text) or llm_server._default_embed(text)
    out = etl("embed", "--embedder", "ollama", "--url", llm_server.url).output
    assert "embedded                5" in out and "rejected                3" in out
    rejects = table(warehouse_path, "SELECT source, rule, step FROM rejects ORDER BY source")
    assert rejects == [
        ("남양리", "wrong_dim", "embed"),
        ("딥러닝", "zero_vector", "embed"),
        ("신경망", "not_finite", "embed"),
    ]
    embedded = {r[0] for r in table(warehouse_path, "SELECT t.text FROM term_embeddings JOIN terms t USING (term_id)")}
    assert embedded == set(TERMS) - set(bad)
    # The rejected terms still lack a vector, so the next run asks for exactly those again.
    llm_server.embedder = llm_server._default_embed
    llm_server.reset()
    etl("embed", "--embedder", "ollama", "--url", llm_server.url)
    assert [sorted(s.body["input"]) for s in llm_server.seen if s.path == "/api/embed"] == [sorted(bad)]
    assert counts(warehouse_path)[0] == 8


# -- import ------------------------------------------------------------------------------------------


def write_npy(folder: Path, texts: list, matrix: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "term_embeddings.npy", matrix)
    (folder / "term_list.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    return folder / "term_embeddings.npy"


def test_import_npy_adds_unknown_terms_and_normalises(etl, warehouse_path: Path, tmp_path: Path) -> None:
    known = seed_terms(warehouse_path, ["머신러닝"])
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(3, 16)).astype(np.float32) * 5
    path = write_npy(tmp_path / "nb", ["머신러닝", "딥러닝 ", "neural network"], matrix)
    out = etl("embed", "--embedder", "import", "--input", str(tmp_path / "nb"), "--model", "bge-m3").output
    assert "new terms             2" in out and "embedded              3" in out
    landed = table(warehouse_path, "SELECT text, file, line FROM imported_terms ORDER BY line")
    term_list = str(path.with_name("term_list.json"))
    assert landed == [("딥러닝 ", term_list, 2), ("neural network", term_list, 3)]
    id_of = dict(table(warehouse_path, "SELECT text, term_id FROM terms"))
    assert id_of["머신러닝"] == known["머신러닝"] and set(id_of) == {"머신러닝", "딥러닝", "neural network"}
    ids, stored = load(warehouse_path, "bge-m3")
    expected = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    rows = [id_of[t] for t in ["머신러닝", "딥러닝", "neural network"]]
    assert np.allclose(stored[[list(ids).index(r) for r in rows]], expected, atol=1e-6)
    again = etl("embed", "--embedder", "import", "--input", str(path)).output
    assert "embedded              0" in again and "already had a vector  3" in again
    assert counts(warehouse_path)[:3] == (3, 3, 2)


@pytest.mark.parametrize("fixed", [True, False])
def test_import_parquet(etl, warehouse_path: Path, tmp_path: Path, fixed: bool) -> None:
    flat = pa.array(np.arange(1, 13, dtype=np.float32))
    vecs = pa.FixedSizeListArray.from_arrays(flat, 4) if fixed else pa.ListArray.from_arrays([0, 4, 8, 12], flat)
    pq.write_table(pa.table({"word": ["a", "b", "c"], "id": [1, 2, 3], "emb": vecs}), tmp_path / "v.parquet")
    parquet = str(tmp_path / "v.parquet")
    etl("embed", "--embedder", "import", "--input", parquet, "--term-column", "word", "--model", "m")
    rows = table(
        warehouse_path,
        "SELECT t.text, e.dim, e.vec[1] FROM term_embeddings e JOIN terms t USING (term_id) ORDER BY t.text",
    )
    assert [(r[0], r[1]) for r in rows] == [("a", 4), ("b", 4), ("c", 4)]
    assert rows[0][2] == pytest.approx(1 / math.sqrt(1 + 4 + 9 + 16))


def bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = np.eye(4, dtype=np.float32)[:3] + 0.1
    nan, inf, zero = good.copy(), good.copy(), good.copy()
    nan[1, 2], inf[2, 0], zero[1] = np.nan, np.inf, 0.0
    ragged = pa.ListArray.from_arrays([0, 4, 7, 11], pa.array(np.ones(11, dtype=np.float32)))
    pq.write_table(pa.table({"term": ["a", "b", "c"], "vec": ragged}), tmp_path / "ragged.parquet")
    return {
        "nan": (write_npy(tmp_path / "nan", ["a", "b", "c"], nan), r"row 2 \('b'\): the vector has NaN or infinite"),
        "inf": (write_npy(tmp_path / "inf", ["a", "b", "c"], inf), r"row 3 \('c'\): the vector has NaN or infinite"),
        "zero": (write_npy(tmp_path / "zero", ["a", "b", "c"], zero), r"row 2 \('b'\): the vector is all zeros"),
        "length": (write_npy(tmp_path / "length", ["a", "b"], good), "lists 2 terms but .* has 3 rows"),
        "duplicate": (write_npy(tmp_path / "dup", ["a", "b", " a"], good), r"row 3: term ' a' repeats row 1 \('a'\)"),
        "blank": (write_npy(tmp_path / "blank", ["a", "\u200b", "c"], good), "row 2: the term is blank"),
        "dimension": (
            write_npy(tmp_path / "dim", ["a", "b", "c"], np.ones((3, 5))),
            "holds 5-d vectors but model 'm' already has 4-d",
        ),
        "ragged": (tmp_path / "ragged.parquet", r"row 2 \('b'\): its vector has 3 values where row 1 has 4"),
    }


@pytest.mark.parametrize("case", ["nan", "inf", "zero", "length", "duplicate", "blank", "dimension", "ragged"])
def test_import_refuses_bad_input_and_writes_nothing(etl, warehouse_path: Path, tmp_path: Path, case: str) -> None:
    write_npy(tmp_path / "first", ["z"], np.ones((1, 4)))
    etl("embed", "--embedder", "import", "--input", str(tmp_path / "first"), "--model", "m")
    before = counts(warehouse_path)
    path, message = bad_inputs(tmp_path)[case]
    result = etl("embed", "--embedder", "import", "--input", str(path), "--model", "m", ok=False)
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and len(result.output.strip().splitlines()) == 1
    assert re.search(message, result.output), result.output
    assert counts(warehouse_path) == before
    last = table(warehouse_path, "SELECT status FROM runs WHERE step = 'embed' ORDER BY run_id DESC LIMIT 1")
    assert last == [("failed",)]


def test_import_needs_an_input(etl, warehouse_path: Path) -> None:
    result = etl("embed", "--embedder", "import", ok=False)
    assert "pass --input" in result.output


def test_import_refuses_what_clean_refuses_so_step_order_does_not_matter(
    etl, warehouse_path: Path, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"source": "머신러닝", "target": "machine learning"}\n', encoding="utf-8")
    etl("import", "pairs", str(pairs))
    etl("clean")
    long_line = "가" * 65  # over clean_max_length (64)
    texts = ["머신러닝", "딥러닝", "null", long_line, "N/A"]
    write_npy(tmp_path / "nb", texts, np.random.default_rng(1).normal(size=(5, 8)).astype(np.float32))
    out = etl("embed", "--embedder", "import", "--input", str(tmp_path / "nb"), "--model", "m").output
    assert "refused as terms (rejects)  3" in out
    after_embed = sorted(t for (t,) in table(warehouse_path, "SELECT text FROM terms"))
    assert after_embed == ["machine learning", "딥러닝", "머신러닝"]
    refused = table(warehouse_path, "SELECT rule, count(*) FROM rejects WHERE step = 'embed' GROUP BY 1 ORDER BY 1")
    assert refused == [("null_like", 2), ("too_long", 1)]
    etl("clean")
    assert sorted(t for (t,) in table(warehouse_path, "SELECT text FROM terms")) == after_embed
    ids, _ = load(warehouse_path, "m")
    assert len(ids) == 2  # 머신러닝 and 딥러닝; nothing for the refused texts
