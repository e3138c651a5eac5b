"""`etl import pairs|terms`: every format, every bad input, skipping bad lines, and re-imports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from etl.config import Settings
from etl.errors import InputError
from etl.steps import imports
from etl.warehouse import Warehouse


def snapshot(warehouse_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, plus the run id sequence's next value (peeked without using it)."""
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        names = [r[0] for r in wh.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()]
        # Table names come from the catalog; identifiers cannot be bound.
        tables = {name: sorted(wh.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in names}
        tables["@run_id_seq"] = wh.execute(
            "SELECT last_value FROM duckdb_sequences() WHERE sequence_name = 'run_id_seq'"
        ).fetchall()
    return tables


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def seeded(etl, tmp_path: Path, warehouse_path: Path) -> Path:
    """A warehouse that already holds one imported pairs file and one vocabulary."""
    write_jsonl(tmp_path / "old.jsonl", [{"source": "모델", "target": "model", "similarity": 0.8}])
    (tmp_path / "old.txt").write_text("학습\n", encoding="utf-8")
    etl("import", "pairs", str(tmp_path / "old.jsonl"))
    etl("import", "terms", str(tmp_path / "old.txt"))
    return warehouse_path


def landed_pairs(wh: Warehouse) -> list[tuple[Any, ...]]:
    return wh.execute(
        "SELECT source, target, similarity, CAST(extra AS VARCHAR), line FROM imported_pairs ORDER BY line"
    ).fetchall()


def test_jsonl_pairs_land_with_similarity_extra_and_line_numbers(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "filtered_synonym_pairs.jsonl"
    path.write_text(
        '{"source": "李滉", "target": "李穡", "similarity": 1.0}\n'
        "\n"
        '{"source": "머신러닝", "target": "ML", "similarity": 0.93, "method": "emb", "score": 3}\n'
        '{"source": "딥러닝", "target": "deep learning"}\n',
        encoding="utf-8",
    )
    summary = imports.pairs(wh, Settings(), path)
    assert landed_pairs(wh) == [
        ("李滉", "李穡", 1.0, None, 1),
        ("머신러닝", "ML", 0.93, '{"method":"emb","score":3}', 3),
        ("딥러닝", "deep learning", None, None, 4),
    ]
    run_id, file = wh.execute("SELECT DISTINCT run_id, file FROM imported_pairs").fetchone()
    assert file == str(path.resolve())
    assert wh.execute("SELECT step, status, counts FROM runs WHERE run_id = ?", [run_id]).fetchone() == (
        "import.pairs",
        "ok",
        '{"bad_lines": 0, "replaced": 0, "rows": 3}',
    )
    assert summary.counts["rows"] == 3 and summary.step == "import.pairs" and summary.run_id == run_id


@pytest.mark.parametrize("delimiter,suffix", [(",", ".csv"), ("\t", ".tsv")])
def test_csv_and_tsv_pairs_keep_extra_columns(wh: Warehouse, tmp_path: Path, delimiter: str, suffix: str) -> None:
    d = delimiter
    path = tmp_path / f"pairs{suffix}"
    path.write_text(
        f'source{d}target{d}similarity{d}note\n모델{d}model{d}0.5{d}"a, b"\n\n학습{d}training{d}{d}\n',
        encoding="utf-8",
    )
    imports.pairs(wh, Settings(), path)
    assert landed_pairs(wh) == [
        ("모델", "model", 0.5, '{"note":"a, b"}', 2),
        ("학습", "training", None, '{"note":""}', 4),
    ]


def test_parquet_pairs(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "pairs.parquet"
    pl.DataFrame(
        {"source": ["모델", "학습"], "target": ["model", "training"], "similarity": [0.9, None], "batch": [1, 2]}
    ).write_parquet(path)
    imports.pairs(wh, Settings(), path)
    assert landed_pairs(wh) == [("모델", "model", 0.9, '{"batch":1}', 1), ("학습", "training", None, '{"batch":2}', 2)]


def test_format_option_overrides_the_extension(wh: Warehouse, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pairs.data", [{"source": "모델", "target": "model"}])
    imports.pairs(wh, Settings(), path, fmt="jsonl")
    assert landed_pairs(wh) == [("모델", "model", None, None, 1)]


def test_reimporting_a_file_replaces_its_rows(etl, wh: Warehouse, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "p.jsonl", [{"source": "모델", "target": "model"}, {"source": "학습", "target": "training"}]
    )
    other = write_jsonl(tmp_path / "q.jsonl", [{"source": "데이터", "target": "data"}])
    imports.pairs(wh, Settings(), path)
    imports.pairs(wh, Settings(), other)
    imports.pairs(wh, Settings(), path)
    assert wh.scalar("SELECT count(*) FROM imported_pairs") == 3
    write_jsonl(path, [{"source": "모델", "target": "model"}])
    summary = imports.pairs(wh, Settings(), path)
    assert summary.counts["replaced"] == 2
    assert sorted(r[0] for r in wh.execute("SELECT source FROM imported_pairs").fetchall()) == ["데이터", "모델"]


BAD_PAIRS = {
    "missing file": (None, "missing.jsonl", ":", "no such file"),
    "unknown format": (b'{"source": "a", "target": "b"}\n', "pairs.xlsx", ":", "unknown format '.xlsx'"),
    "empty file": (b"", "pairs.jsonl", ":1:", "the file is empty"),
    "blank file": (b"\n  \n", "pairs.jsonl", ":1:", "the file is empty"),
    "malformed JSON line": (
        b'{"source": "a", "target": "b"}\n{"source": "c", "target": \n',
        "pairs.jsonl",
        ":2:",
        "not valid JSON",
    ),
    "not an object": (b'{"source": "a", "target": "b"}\n["c", "d"]\n', "pairs.jsonl", ":2:", "not a JSON object"),
    "missing field": (b'{"source": "a", "target": "b"}\n{"source": "c"}\n', "pairs.jsonl", ":2:", "no 'target' field"),
    "non-string term": (b'{"source": "a", "target": 7}\n', "pairs.jsonl", ":1:", "'target' is int, not a string"),
    "bad similarity": (
        b'{"source": "a", "target": "b", "similarity": "high"}\n',
        "pairs.jsonl",
        ":1:",
        "similarity 'high' is not a number",
    ),
    "non-UTF-8 bytes": (
        b'{"source": "a", "target": "b"}\n{"source": "\xff", "target": "b"}\n',
        "pairs.jsonl",
        ":2:",
        "not UTF-8 (byte 0xff at column 13)",
    ),
    "missing column": (
        b"source,similarity\na,0.5\n",
        "pairs.csv",
        ":1:",
        "missing column 'target' (columns: source, similarity)",
    ),
    "ragged csv row": (b"source,target\na,b\nc,d,e\n", "pairs.csv", ":3:", "has 3 fields, the header has 2"),
    "not parquet": (b"PAR1 nope", "pairs.parquet", ":", "not a readable Parquet file"),
}


@pytest.mark.parametrize("case", sorted(BAD_PAIRS))
def test_bad_pairs_input_fails_with_file_line_and_reason_and_changes_nothing(
    etl, seeded: Path, tmp_path: Path, case: str
) -> None:
    content, name, where, reason = BAD_PAIRS[case]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    before = snapshot(seeded)
    result = etl("import", "pairs", str(path), ok=False)
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {path}{where}") and reason in result.output, result.output
    assert "Traceback" not in result.output
    assert snapshot(seeded) == before


def test_null_cells_in_parquet_are_bad_lines(etl, seeded: Path, tmp_path: Path) -> None:
    path = tmp_path / "pairs.parquet"
    pl.DataFrame({"source": ["모델", None], "target": ["model", "x"]}).write_parquet(path)
    before = snapshot(seeded)
    result = etl("import", "pairs", str(path), ok=False)
    assert f"{path}:2: source or target is null" in result.output
    assert snapshot(seeded) == before
    etl("import", "pairs", str(path), "--skip-bad-lines")
    with Warehouse.open(seeded) as wh:
        assert wh.execute("SELECT rule, line FROM rejects").fetchall() == [("missing_value", 2)]


def test_skip_bad_lines_lands_the_rest_and_rejects_the_bad(etl, warehouse_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(
        b'{"source": "\xeb\xaa\xa8\xeb\x8d\xb8", "target": "model"}\n'
        b"{broken\n"
        b'{"source": "\xff\xfe", "target": "x"}\n'
        b'{"source": "a"}\n'
        b'{"source": "\xed\x95\x99\xec\x8a\xb5", "target": "training", "similarity": 0.7}\n'
    )
    out = etl("import", "pairs", str(path), "--skip-bad-lines").output
    assert "bad lines (in rejects)  3 (missing_field, not_json, not_utf8)" in out
    with Warehouse.open(warehouse_path) as wh:
        assert [r[:2] for r in landed_pairs(wh)] == [("모델", "model"), ("학습", "training")]
        rejects = wh.execute("SELECT step, rule, source, line, payload FROM rejects ORDER BY line").fetchall()
        # Importing again replaces these rejects instead of adding to them.
        etl("import", "pairs", str(path), "--skip-bad-lines")
        assert wh.scalar("SELECT count(*) FROM rejects") == 3
    file = str(path.resolve())
    assert rejects == [
        ("import.pairs", "not_json", file, 2, "{broken"),
        ("import.pairs", "not_utf8", file, 3, '{"source": "\ufffd\ufffd", "target": "x"}'),
        ("import.pairs", "missing_field", file, 4, '{"source": "a"}'),
    ]


def test_a_file_with_no_usable_line_fails_even_when_skipping(etl, seeded: Path, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "pairs.jsonl", [{"ko": "모델", "en": "model"}, {"ko": "학습", "en": "training"}])
    before = snapshot(seeded)
    result = etl("import", "pairs", str(path), "--skip-bad-lines", ok=False)
    assert f"{path}: no usable line (first: line 1: no 'source' field)" in result.output
    assert snapshot(seeded) == before


# -- vocabularies -------------------------------------------------------------------------------


def landed_terms(wh: Warehouse) -> list[tuple[str, int]]:
    return wh.execute("SELECT text, line FROM imported_terms ORDER BY line").fetchall()


@pytest.mark.parametrize(
    "name,content,column",
    [
        ("terms.txt", "모델\n\n  학습 \nmachine learning\n", None),
        ("term_list.json", '["모델",\n "",\n "  학습 ",\n "machine learning"]', None),
        ("terms.jsonl", '"모델"\n\n{"text": "  학습 "}\n{"term": "machine learning"}\n', None),
        ("terms.csv", "id,word\n1,모델\n\n2,  학습 \n3,machine learning\n", "word"),
        ("terms.tsv", "text\n모델\n\n  학습 \nmachine learning\n", None),
    ],
)
def test_vocabulary_formats(wh: Warehouse, tmp_path: Path, name: str, content: str, column: str | None) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    imports.terms(wh, Settings(), path, column=column)
    rows = landed_terms(wh)
    # Texts land verbatim (clean normalises them); blank lines are skipped, an empty JSON item is kept.
    assert [t for t, _ in rows if t] == ["모델", "  학습 ", "machine learning"]
    assert [line for _, line in rows][-1] in (4, 5)


def test_vocabulary_parquet_column(wh: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "terms.parquet"
    pl.DataFrame({"id": [1, 2], "term": ["모델", "학습"]}).write_parquet(path)
    imports.terms(wh, Settings(), path)
    assert landed_terms(wh) == [("모델", 1), ("학습", 2)]


BAD_TERMS = {
    "malformed JSON list": (b'["a",\n "b"\n "c"]', "terms.json", None, ":3:", "not valid JSON"),
    "not a list": (b'{"a": 1}', "terms.json", None, ":1:", "not a JSON list of terms"),
    "non-string item": (b'["a", 3]', "terms.json", None, ":2:", "item 2 is int, not a string"),
    "missing column": (b"id,word\n1,a\n", "terms.csv", "text", ":1:", "missing column 'text' (columns: id, word)"),
    "no obvious column": (b"id,word\n1,a\n", "terms.csv", None, ":1:", "no 'text' or 'term' column among id, word"),
    "non-UTF-8": (b"a\n\xc3\x28\n", "terms.txt", None, ":2:", "not UTF-8"),
    "empty": (b"", "terms.txt", None, ":1:", "the file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_TERMS))
def test_bad_vocabulary_fails_and_changes_nothing(etl, seeded: Path, tmp_path: Path, case: str) -> None:
    content, name, column, where, reason = BAD_TERMS[case]
    path = tmp_path / name
    path.write_bytes(content)
    before = snapshot(seeded)
    args = ["import", "terms", str(path)] + (["--column", column] if column else [])
    result = etl(*args, ok=False)
    assert result.output.startswith(f"error: {path}{where}") and reason in result.output, result.output
    assert snapshot(seeded) == before


def test_vocabulary_skip_bad_lines(etl, warehouse_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "term_list.json"
    path.write_text('["모델", null, {"x": 1}, "학습"]', encoding="utf-8")
    etl("import", "terms", str(path), "--skip-bad-lines")
    with Warehouse.open(warehouse_path) as wh:
        assert landed_terms(wh) == [("모델", 1), ("학습", 4)]
        assert wh.execute("SELECT step, rule, line FROM rejects ORDER BY line").fetchall() == [
            ("import.terms", "wrong_type", 2),
            ("import.terms", "wrong_type", 3),
        ]


def test_readers_name_the_line_in_the_exception(tmp_path: Path) -> None:
    from etl.steps.imports import readers

    path = tmp_path / "p.jsonl"
    path.write_text('{"source": "a", "target": "b"}\nnope\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"p\.jsonl:2: not valid JSON"):
        readers.read_pairs(path)


def test_an_absurd_line_is_refused_with_file_and_line(etl, tmp_path: Path, warehouse_path: Path) -> None:
    from etl.steps.imports.lines import MAX_LINE, PAYLOAD_CAP

    path = tmp_path / "big.jsonl"
    huge = "가" * (MAX_LINE + 1)
    line = f'{{"source": "{huge}", "target": "x"}}'
    path.write_text(f'{{"source": "딥러닝", "target": "deep learning"}}\n{line}\n', encoding="utf-8")
    result = etl("import", "pairs", str(path), ok=False)
    assert result.exit_code == 1 and f"{path}:2: the line has {len(line):,} characters" in result.output
    assert len(result.output.strip().splitlines()) == 1
    etl("import", "pairs", str(path), "--skip-bad-lines")
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        assert wh.scalar("SELECT count(*) FROM imported_pairs") == 1
        rule, payload = wh.execute("SELECT rule, payload FROM rejects WHERE step = 'import.pairs'").fetchone()
    assert rule == "too_long" and len(payload) < PAYLOAD_CAP + 40 and payload.startswith('{"source": "가가')


def test_landed_files_are_listed_and_dropped(etl, tmp_path: Path, warehouse_path: Path) -> None:
    from etl.steps.pipeline import EXAMPLE_PAIRS

    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"source": "신경망", "target": "neural network"}\n', encoding="utf-8")
    etl("import", "pairs", str(EXAMPLE_PAIRS))
    etl("import", "pairs", str(mine))
    etl("clean")
    listed = etl("import", "list").output.splitlines()
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        example_rows = wh.scalar("SELECT count(*) FROM imported_pairs WHERE file = ?", [str(EXAMPLE_PAIRS.resolve())])
    assert any(str(EXAMPLE_PAIRS.resolve()) in line and f"{example_rows}" in line for line in listed), listed
    assert any(str(mine.resolve()) in line for line in listed)
    result = etl("import", "drop", "example_pairs.jsonl")
    assert f"pairs removed  {example_rows:,}" in result.output and "etl clean" in result.output
    etl("clean")
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        assert wh.scalar("SELECT count(DISTINCT file) FROM imported_pairs") == 1
        assert sorted(t for (t,) in wh.execute("SELECT text FROM terms").fetchall()) == ["neural network", "신경망"]
    unknown = etl("import", "drop", "nothing.jsonl", ok=False)
    assert unknown.exit_code == 1 and "the landed files are mine.jsonl" in unknown.output
