"""`etl export synth`: the notebook's four files from the synthesis tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from etl.steps.synth.export import training_pair
from tests.fakeserver import FakeLLMServer
from tests.test_synth import answer, english


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def synthesised(etl, llm_server: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeLLMServer:
    """A warehouse after `etl synth` over two small categories (one term in both)."""
    monkeypatch.setenv("ETL_SYNTH_EXPAND_KEEP", "1")
    monkeypatch.setenv("ETL_SYNTH_SENTENCES_SAMPLE", "0.5")

    def with_abbreviations(kind: str, body: dict[str, Any]) -> str:
        text = answer(kind, body)
        if body["messages"][0]["content"].startswith("Translate"):
            data = json.loads(text)
            data["alternatives"] += ["Shared Form", "shared form"]
            data["abbreviation"] = "SF"
            return json.dumps(data)
        return text

    llm_server.responder = with_abbreviations
    seeds = tmp_path / "seeds.toml"
    seeds.write_text('ml = ["딥러닝", "컨테이너"]\ninfra = ["컨테이너", "도커"]\n', encoding="utf-8")
    etl("synth", "--llm-url", llm_server.url, "--seeds", str(seeds))
    return llm_server


def test_export_writes_the_notebooks_files(etl, synthesised, tmp_path: Path) -> None:
    out = tmp_path / "dataset" / "synonyms"
    printed = etl("export", "synth", "--out", str(out)).output
    assert sorted(p.name for p in out.iterdir() if p.name != ".etl-export.json") == [
        "cross_lingual_pairs.jsonl",
        "ko_en_parallel.jsonl",
        "ko_en_terms.jsonl",
        "metadata.json",
    ]
    assert "5 terms" in printed

    terms = read_jsonl(out / "ko_en_terms.jsonl")
    assert [t["ko"] for t in terms] == ["딥러닝", "컨테이너", "ml확장0", "도커", "infra확장0"]  # listing order
    assert list(terms[0]) == ["ko", "en_primary", "en_alternatives", "abbreviation", "category"]
    assert terms[1] == {
        "ko": "컨테이너",
        "en_primary": english("컨테이너"),
        "en_alternatives": [english("컨테이너") + " alt", "Shared Form"],
        "abbreviation": "SF",
        "category": "ml",
    }

    sentences = read_jsonl(out / "ko_en_parallel.jsonl")
    assert len(sentences) == 2 * 3 and list(sentences[0]) == ["ko", "en", "term_ko", "term_en", "category"]
    assert [s["ko"][-4:] for s in sentences[:3]] == ["예문 0", "예문 1", "예문 2"]
    assert all(s["term_en"] == english(s["term_ko"]) for s in sentences)

    pairs = read_jsonl(out / "cross_lingual_pairs.jsonl")
    assert pairs[1] == {
        "ko_term": "컨테이너",
        "en_terms": [english("컨테이너"), english("컨테이너") + " alt", "Shared Form", "SF"],
        "category": "ml",
    }
    assert len(pairs) == len(terms)

    metadata = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["total_synonyms"] == 5 and metadata["total_parallel_sentences"] == 6
    assert metadata["total_training_pairs"] == 5
    assert metadata["categories"] == ["ml", "infra"] and metadata["generation_model"] == "gpt-oss:20b"
    assert len(metadata["created_at"]) == len("2025-01-01 00:00:00")


def test_export_twice_rewrites_the_same_files(etl, synthesised, tmp_path: Path, warehouse_path: Path) -> None:
    out = tmp_path / "out"
    etl("export", "synth", "--out", str(out))
    first = (out / "ko_en_terms.jsonl").read_bytes(), (out / "cross_lingual_pairs.jsonl").read_bytes()
    etl("export", "synth", "--out", str(out))
    assert ((out / "ko_en_terms.jsonl").read_bytes(), (out / "cross_lingual_pairs.jsonl").read_bytes()) == first
    assert not list(out.glob("*.partial"))
    status = etl("sql", "--csv", "SELECT step, status, counts FROM runs WHERE step = 'export.synth'").output
    assert status.count("export.synth,ok") == 2


def test_export_without_translations_says_what_to_run(etl, tmp_path: Path) -> None:
    result = etl("export", "synth", "--out", str(tmp_path / "out"), ok=False)
    assert result.exit_code == 1 and "run `etl synth` first" in result.output
    assert not (tmp_path / "out").exists()


def test_training_pair_deduplicates_ignoring_case() -> None:
    pair = training_pair(
        {
            "ko": "모델",
            "en_primary": "model",
            "en_alternatives": ["Model", "models", "model"],
            "abbreviation": None,
            "category": None,
        }
    )
    assert pair == {"ko_term": "모델", "en_terms": ["model", "models"], "category": "unknown"}


def test_export_defaults_beside_the_warehouse_as_the_other_exports(etl, synthesised, warehouse_path: Path) -> None:
    result = etl("export", "synth")
    out = warehouse_path.parent / "exports" / "synonyms"
    assert sorted(p.name for p in out.iterdir() if p.name != ".etl-export.json") == sorted(
        ["ko_en_terms.jsonl", "ko_en_parallel.jsonl", "cross_lingual_pairs.jsonl", "metadata.json"]
    )
    assert str(out) in result.output


def test_export_never_overwrites_a_file_it_did_not_write(etl, synthesised, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "metadata.json").write_text('{"mine": true}', encoding="utf-8")
    (out / "notes.txt").write_text("keep", encoding="utf-8")
    result = etl("export", "synth", "--out", str(out), ok=False)
    assert result.exit_code == 1 and "holds metadata.json, which no earlier synth export wrote" in result.output
    assert (out / "metadata.json").read_text(encoding="utf-8") == '{"mine": true}'
    (out / "metadata.json").unlink()
    etl("export", "synth", "--out", str(out))
    etl("export", "synth", "--out", str(out))  # its own files, listed in its manifest: rewritten
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep"
    listed = json.loads((out / ".etl-export.json").read_text(encoding="utf-8"))
    assert listed["written_by"] == "etl export synth" and "metadata.json" in listed["entries"]
