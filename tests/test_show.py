"""`etl show`: samples and first rows of the tables, aligned for Korean, as JSON, and never a write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from etl.output import display_width
from etl.warehouse import Warehouse


@pytest.fixture
def example(etl, warehouse_path: Path) -> Path:
    """A warehouse the bundled example ran through: imported pairs, terms, negatives, triplets."""
    etl("run", "--example")
    return warehouse_path


@pytest.fixture
def synthesised(etl, server, seeds, warehouse_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A warehouse with a synthesis plan, translations and sentences from the loopback server."""
    monkeypatch.setenv("ETL_SYNTH_SENTENCES_SAMPLE", "1.0")
    monkeypatch.setenv("ETL_SYNTH_EXPAND_KEEP", "2")
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    return warehouse_path


def rows(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with Warehouse.open(path, read_only=True) as wh:
        return wh.execute(sql, params).fetchall()


def shown(etl, *args: str) -> list[dict[str, Any]]:
    return json.loads(etl("show", *args, "--json").output)


def test_a_missing_warehouse_is_one_line_and_nothing_is_created(etl, warehouse_path: Path) -> None:
    result = etl("show", "triplets", ok=False)
    assert result.exit_code == 1 and result.output.strip() == f"error: no warehouse at {warehouse_path}"
    assert not warehouse_path.parent.exists()


def test_a_seeded_sample_of_triplets(etl, example: Path) -> None:
    total = rows(example, "SELECT count(*) FROM triplets")[0][0]
    out = etl("show", "triplets", "-n", "10").output
    assert out.rstrip().endswith(
        f"triplets: 10 of {total:,} rows, a random sample (seed 42; --first for the first rows)"
    )
    sample = shown(etl, "triplets", "-n", "10")
    assert len(sample) == 10 and sample == shown(etl, "triplets", "-n", "10")  # the same seed, the same rows
    assert sample != shown(etl, "triplets", "-n", "10", "--seed", "7")
    for row in sample:
        found = rows(
            example,
            "SELECT count(*) FROM triplets WHERE anchor = ? AND positive = ? AND negative = ? "
            "AND difficulty = ? AND split = ?",
            [row["anchor"], row["positive"], row["negative"], row["difficulty"], row["split"]],
        )
        assert found == [(1,)]
    before = example.read_bytes()
    etl("show", "negatives")
    assert example.read_bytes() == before  # only reads: not even a run is recorded


def test_first_rows_are_in_the_order_they_were_made(etl, example: Path) -> None:
    first = [tuple(r.values()) for r in shown(etl, "imported-pairs", "--first", "-n", "5")]
    expected = rows(
        example, "SELECT source, target, similarity, file, line FROM imported_pairs ORDER BY file, line LIMIT 5"
    )
    assert first == [tuple(r) for r in expected]
    triplets = shown(etl, "triplets", "--first", "-n", "3")
    made = rows(example, "SELECT anchor, positive, negative FROM triplets ORDER BY rowid LIMIT 3")
    assert [(r["anchor"], r["positive"], r["negative"]) for r in triplets] == made


def test_korean_cells_line_up_with_their_header(etl, example: Path) -> None:
    sample = shown(etl, "triplets", "-n", "10")
    lines = etl("show", "triplets", "-n", "10").output.splitlines()
    header, body = lines[0], lines[2:12]
    assert any(display_width(r["anchor"]) != len(r["anchor"]) for r in sample)  # some anchors are Korean
    for column in ("positive", "negative", "negative_similarity", "difficulty"):
        at = display_width(header[: header.index(column)])
        for line, row in zip(body, sample):
            value = f"{row[column]:.4f}" if isinstance(row[column], float) else row[column]
            start = line.index(value, len(row["anchor"]))
            assert display_width(line[:start]) == at, (column, line)


def test_negatives_and_triplets_by_band(etl, example: Path) -> None:
    hard = shown(etl, "negatives", "--band", "hard", "-n", "1000")
    assert hard and {r["band"] for r in hard} == {"hard"}
    assert len(hard) == rows(example, "SELECT count(*) FROM negatives WHERE band = 'hard'")[0][0]
    easy = shown(etl, "triplets", "--band", "easy", "-n", "5")
    assert len(easy) == 5 and {r["difficulty"] for r in easy} == {"easy"}
    wrong = etl("show", "triplets", "--category", "ml", ok=False)
    assert wrong.exit_code == 2 and "`etl show triplets` has no category; it takes only --band" in wrong.output


def test_vertical_blocks_hold_whole_values(etl, example: Path) -> None:
    out = etl("show", "synonym-pairs", "-n", "2", "--vertical").output
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 3 and blocks[-1].startswith("synonym-pairs: 2 of ")
    origin = next(line for line in blocks[0].splitlines() if line.startswith("origins"))
    assert "…" not in origin and origin.endswith("example_pairs.jsonl")


def test_synthesis_views_filter_by_category(etl, synthesised: Path) -> None:
    translations = shown(etl, "translations", "--category", "ml", "-n", "100")
    expected = rows(synthesised, "SELECT ko FROM translations WHERE category = 'ml'")
    assert sorted(r["ko"] for r in translations) == sorted(ko for (ko,) in expected) and translations
    terms = shown(etl, "category_terms", "--category", "infra", "--first", "-n", "100")
    assert [(r["term"], r["origin"]) for r in terms] == rows(
        synthesised, "SELECT term, origin FROM category_terms WHERE category = 'infra' ORDER BY position"
    )
    assert all(r["en_primary"] for r in terms)
    sentences = shown(etl, "sentences", "--category", "ml", "-n", "3")
    assert len(sentences) == 3 and {r["category"] for r in sentences} == {"ml"}
    pairs = shown(etl, "training-pairs", "-n", "100")
    primary = dict(rows(synthesised, "SELECT ko, en_primary FROM translations"))
    assert {r["ko_term"]: r["en_terms"] for r in pairs} == {ko: [en, f"{en} alt"] for ko, en in primary.items()}
    out = etl("show", "translations", "--category", "nope").output
    assert out.strip() == "translations: no rows"


def test_rejects_and_unknown_names(etl, example: Path) -> None:
    refused = shown(etl, "rejects", "--first", "-n", "100")
    expected = rows(example, "SELECT step, rule, reason FROM rejects ORDER BY reject_id LIMIT 100")
    assert [(r["step"], r["rule"], r["reason"]) for r in refused] == expected and expected
    unknown = etl("show", "llm_call", ok=False)
    assert unknown.exit_code == 2 and "cannot show 'llm_call'; choose from terms, translations," in unknown.output
