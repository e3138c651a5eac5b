"""`etl run`: the whole pipeline, offline and against the loopback LLM server; skipping, faults, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from etl.warehouse import Warehouse
from tests.fakeserver import FakeLLMServer, Reply

EXPORTS = (
    "train.parquet",
    "validation.parquet",
    "train_triplets.jsonl",
    "val_triplets.jsonl",
    "data_preparation_stats.json",
)
SYLLABLES = "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허고노도로모보소오조초"


def outcomes(output: str) -> dict[str, str]:
    """step → outcome from the table `etl run` prints at the end."""
    table = output[output.rindex("etl run\n") :].splitlines()[3:]
    return {
        line.split()[0]: line.split()[1]
        for line in table
        if len(line.split()) >= 2 and line.split()[1] in ("ran", "skipped", "failed")
    }


def table_rows(warehouse_path: Path, sql: str) -> list[tuple]:
    with Warehouse.open(warehouse_path) as wh:
        return wh.execute(sql).fetchall()


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test-sized LLM backoff and expansion."""
    monkeypatch.setenv("ETL_LLM_BACKOFF", "0.01")
    monkeypatch.setenv("ETL_SYNTH_EXPAND_ASK", "5")
    monkeypatch.setenv("ETL_SYNTH_EXPAND_KEEP", "2")


def llm_args(server: FakeLLMServer, seeds: Path) -> list[str]:
    return ["--llm-url", server.url, "--embedder", "ollama", "--seeds", str(seeds)]


def test_example_run_exports_a_complete_leak_free_dataset(etl, warehouse_path: Path) -> None:
    result = etl("run", "--example")
    assert outcomes(result.output) == dict.fromkeys(
        ("import", "clean", "embed", "index", "mine", "split", "probe", "export"), "ran"
    )
    out = warehouse_path.parent / "exports" / "triplets"
    for name in EXPORTS:
        assert (out / name).is_file(), name
    train, validation = pl.read_parquet(out / "train.parquet"), pl.read_parquet(out / "validation.parquet")
    assert train.height > 0 and validation.height > 0
    assert not set(train["group_id"]) & set(validation["group_id"])
    assert train.height + validation.height == table_rows(warehouse_path, "SELECT count(*) FROM triplets")[0][0]
    assert str(out.parent) in result.output


def test_second_run_skips_every_step_and_is_quick(etl, warehouse_path: Path) -> None:
    etl("run", "--example")
    started = time.monotonic()
    again = etl("run", "--example")
    elapsed = time.monotonic() - started
    assert set(outcomes(again.output).values()) == {"skipped"}
    assert "inputs unchanged since run" in again.output
    assert elapsed < 5.0


def test_a_changed_input_reruns_only_what_depends_on_it(etl, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "\n".join(
            json.dumps({"source": s, "target": t}, ensure_ascii=False)
            for s, t in [("머신러닝", "machine learning"), ("딥러닝", "deep learning"), ("신경망", "neural network")]
        ),
        encoding="utf-8",
    )
    terms = tmp_path / "terms.txt"
    terms.write_text("데이터\n모델\nmodel\ndata\n학습\ntraining\n", encoding="utf-8")
    args = ["run", "--pairs", str(pairs), "--terms", str(terms), "--embedder", "hash"]
    etl(*args)
    assert set(outcomes(etl(*args).output).values()) == {"skipped"}
    # Changing a mining setting reruns mining and what follows it, nothing before.
    rerun = outcomes(etl(*args, env={"ETL_MINE_NEGATIVES": "3"}).output)
    assert rerun == {
        "import": "skipped",
        "clean": "skipped",
        "embed": "skipped",
        "index": "skipped",
        "mine": "ran",
        "split": "ran",
        "probe": "ran",
        "export": "ran",
    }
    with terms.open("a", encoding="utf-8") as handle:
        handle.write("추론\ninference\n")
    rerun = outcomes(etl(*args, env={"ETL_MINE_NEGATIVES": "3"}).output)
    assert set(rerun.values()) == {"ran"}


def test_from_and_only_force_steps(etl) -> None:
    etl("run", "--example")
    assert outcomes(etl("run", "--example", "--only", "mine").output) == {"mine": "ran"}
    forced = outcomes(etl("run", "--example", "--from", "split").output)
    assert forced == {"split": "ran", "probe": "ran", "export": "ran"}
    bad = etl("run", "--example", "--only", "synth", ok=False)
    assert bad.exit_code == 2 and "no step 'synth'" in bad.output


def test_a_removed_export_is_written_again(etl, warehouse_path: Path) -> None:
    etl("run", "--example")
    (warehouse_path.parent / "exports" / "triplets" / "train.parquet").unlink()
    rerun = outcomes(etl("run", "--example").output)
    assert rerun["export"] == "ran" and rerun["mine"] == "skipped"
    assert (warehouse_path.parent / "exports" / "triplets" / "train.parquet").is_file()


def test_no_llm_server_stops_before_writing_anything(etl, warehouse_path: Path, seeds: Path) -> None:
    result = etl("run", "--llm-url", "http://127.0.0.1:9", "--seeds", str(seeds), ok=False)
    assert result.exit_code != 0
    message = result.output.strip()
    assert message.startswith("error:") and len(message.splitlines()) == 1
    assert "ollama serve" in message and "etl run --example" in message
    assert not warehouse_path.exists()


def test_llm_path_end_to_end_then_a_rerun_sends_no_request(
    etl, server: FakeLLMServer, seeds: Path, warehouse_path: Path
) -> None:
    result = etl("run", *llm_args(server, seeds))
    assert outcomes(result.output)["synth"] == "ran"
    assert server.count("/api/chat") > 0 and server.count("/api/embed") > 0
    out = warehouse_path.parent / "exports"
    assert (out / "synonyms" / "cross_lingual_pairs.jsonl").is_file()
    assert (out / "triplets" / "train.parquet").is_file()
    server.reset()
    again = etl("run", *llm_args(server, seeds))
    assert set(outcomes(again.output).values()) == {"skipped"}
    assert server.count() == 0


def test_the_llm_server_is_checked_once_per_run(etl, server: FakeLLMServer, seeds: Path) -> None:
    etl("run", *llm_args(server, seeds))
    assert server.count("/api/tags") == 2  # one check for chat, one for the embedding model


def test_a_flaky_server_still_completes_and_accounts_for_every_call(
    etl, server: FakeLLMServer, seeds: Path, warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETL_LLM_TIMEOUT", "0.5")
    faults = [Reply(status=503), Reply(delay=1.0), Reply(body="{not json")]
    # One request in five fails: a 503, a timeout or a garbled body, in turn.
    script = [faults[i // 5 % 3] if i % 5 == 0 else Reply() for i in range(400)]
    server.script("/api/chat", *script)
    server.script("/api/embed", *script[:40])
    result = etl("run", *llm_args(server, seeds))
    assert outcomes(result.output)["export"] == "ran"
    calls = table_rows(
        warehouse_path,
        """
        SELECT call_hash, bool_or(status = 'ok'), bool_and(status = 'ok' OR error IS NOT NULL)
        FROM llm_calls GROUP BY call_hash""",
    )
    assert calls and all(explained for _, _, explained in calls)
    failed = sum(1 for _, ok, _ in calls if not ok)
    synth_line = next(
        line for line in result.output[result.output.rindex("etl run\n") :].splitlines() if line.startswith("synth ")
    )
    assert f"failed {failed}," in synth_line
    attempts, distinct = table_rows(warehouse_path, "SELECT sum(attempts), count(DISTINCT call_hash) FROM llm_calls")[0]
    assert attempts > distinct, "the faults were retried"
    assert table_rows(warehouse_path, "SELECT count(*) FROM triplets")[0][0] > 0


def run_in_subprocess(warehouse_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "etl", "--warehouse", str(warehouse_path), "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )


def test_kill_minus_nine_during_synthesis_then_resume(
    server: FakeLLMServer, seeds: Path, warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.latency = 0.15
    victim = run_in_subprocess(warehouse_path, *llm_args(server, seeds), "--concurrency", "2")
    deadline = time.monotonic() + 30
    while server.count("/api/chat") < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    server.latency = 0.0
    recorded = {h for (h,) in table_rows(warehouse_path, "SELECT call_hash FROM llm_calls WHERE status = 'ok'")}
    assert recorded, "the kill should land after some calls were recorded"
    seen_before = server.count("/api/chat")

    finished = run_in_subprocess(warehouse_path, *llm_args(server, seeds))
    _out, err = finished.communicate(timeout=120)
    assert finished.returncode == 0, err
    resent = [s.body["messages"] for s in server.seen[seen_before:] if s.path == "/api/chat"]
    first = [s.body["messages"] for s in server.seen[:seen_before] if s.path == "/api/chat"]
    assert len(resent) < len(first) + 10  # only what had no answer yet, not the whole plan again
    duplicates = table_rows(
        warehouse_path,
        """
        SELECT 'llm_calls', count(*) FROM (SELECT call_hash, run_id FROM llm_calls GROUP BY ALL HAVING count(*) > 1)
        UNION ALL SELECT 'translations', count(*) FROM (SELECT ko FROM translations GROUP BY ko HAVING count(*) > 1)
        UNION ALL SELECT 'triplets', count(*) FROM (SELECT anchor_id, positive_id, negative_id FROM triplets
                                                    GROUP BY ALL HAVING count(*) > 1)""",
    )
    assert all(n == 0 for _, n in duplicates), duplicates
    ok_hashes = {
        h for (h,) in table_rows(warehouse_path, "SELECT DISTINCT call_hash FROM llm_calls WHERE status = 'ok'")
    }
    assert recorded <= ok_hashes


def write_large_example(tmp_path: Path, n_pairs: int = 4_000, n_terms: int = 40_000) -> tuple[Path, Path]:
    """Deterministic Korean-looking pairs and a vocabulary big enough that mining takes a moment."""
    import numpy as np

    rng = np.random.default_rng(7)
    syllables = np.array(list(SYLLABLES))
    words = {"".join(rng.choice(syllables, size=int(rng.integers(2, 6)))) for _ in range(n_terms + 2 * n_pairs)}
    ordered = sorted(words)
    pairs = tmp_path / "big_pairs.jsonl"
    pairs.write_text(
        "\n".join(
            json.dumps({"source": ordered[2 * i], "target": ordered[2 * i + 1]}, ensure_ascii=False)
            for i in range(n_pairs)
        ),
        encoding="utf-8",
    )
    terms = tmp_path / "big_terms.txt"
    terms.write_text("\n".join(ordered[2 * n_pairs :]), encoding="utf-8")
    return pairs, terms


def test_kill_minus_nine_during_mining_then_resume(tmp_path: Path, warehouse_path: Path) -> None:
    pairs, terms = write_large_example(tmp_path)
    args = ("--pairs", str(pairs), "--terms", str(terms), "--embedder", "hash")
    victim = run_in_subprocess(warehouse_path, *args)
    assert victim.stderr is not None
    for line in victim.stderr:
        if line.startswith("mine: running"):
            break
    time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    with Warehouse.open(warehouse_path) as wh:
        assert wh.scalar("SELECT count(*) FROM runs WHERE step = 'mine' AND status = 'ok'") == 0, "killed too late"
        assert wh.scalar("SELECT count(*) FROM triplets") == 0

    finished = run_in_subprocess(warehouse_path, *args)
    out, err = finished.communicate(timeout=300)
    assert finished.returncode == 0, err
    rows = outcomes(out)
    assert rows["clean"] == "skipped" and rows["embed"] == "skipped" and rows["mine"] == "ran"
    with Warehouse.open(warehouse_path) as wh:
        assert wh.scalar("SELECT count(*) FROM triplets") > 0
        assert (
            wh.scalar("""SELECT count(*) FROM (SELECT anchor_id, positive_id, negative_id FROM triplets
                            GROUP BY ALL HAVING count(*) > 1)""")
            == 0
        )
        assert wh.scalar("SELECT count(*) FROM runs WHERE step = 'mine' AND status = 'failed'") == 1


def test_notebook_files_pairs_term_list_and_embeddings(etl, tmp_path: Path, warehouse_path: Path) -> None:
    import numpy as np

    pairs, terms = write_large_example(tmp_path, n_pairs=60, n_terms=400)
    texts = terms.read_text(encoding="utf-8").splitlines()
    texts += [
        json.loads(line)[side]
        for line in pairs.read_text(encoding="utf-8").splitlines()
        for side in ("source", "target")
    ]
    (tmp_path / "term_list.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    vectors = np.random.default_rng(3).standard_normal((len(texts), 32)).astype(np.float32)
    np.save(tmp_path / "term_embeddings.npy", vectors)
    result = etl(
        "run",
        "--pairs",
        str(pairs),
        "--terms",
        str(tmp_path / "term_list.json"),
        "--vectors",
        str(tmp_path / "term_embeddings.npy"),
        "--embed-model",
        "bge-m3",
    )
    assert outcomes(result.output)["export"] == "ran"
    rows = table_rows(warehouse_path, "SELECT model, count(*), any_value(dim) FROM term_embeddings GROUP BY model")
    assert rows == [("bge-m3", len(set(texts)), 32)]
    assert table_rows(warehouse_path, "SELECT count(*) FROM triplets")[0][0] > 0


def test_a_run_given_files_says_what_earlier_runs_mixed_in(etl, tmp_path: Path) -> None:
    etl("run", "--example")
    pairs = tmp_path / "kengdic.jsonl"
    pairs.write_text("".join(f'{{"source": "단어{i}", "target": "word{i}"}}\n' for i in range(12)), encoding="utf-8")
    result = etl("run", "--pairs", str(pairs), "--embedder", "hash")
    with Warehouse.open(etl.warehouse_path, read_only=True) as wh:
        example_pairs = wh.scalar("SELECT count(*) FROM imported_pairs WHERE file LIKE '%example_pairs.jsonl'")
        example_terms = wh.scalar("SELECT count(*) FROM imported_terms WHERE file LIKE '%example_terms.txt'")
    warning = [line for line in result.output.splitlines() if line.startswith("warning")]
    assert warning and f"{example_pairs:,} pairs from example_pairs.jsonl" in warning[-1]
    assert f"{example_terms:,} terms from example_terms.txt" in warning[-1]
    assert "kengdic" not in warning[-1]
    fresh = etl("--warehouse", str(tmp_path / "fresh.duckdb"), "run", "--pairs", str(pairs), "--embedder", "hash")
    assert "landed by earlier runs" not in fresh.output
