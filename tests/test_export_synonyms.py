"""`etl export synonyms`: the file round-trips through a parser of the Solr synonym format.

The parser below is written from the format's specification (Lucene's SolrSynonymParser and its
documentation), not from the writer: lines are split as Java's BufferedReader.readLine splits them
(\\n, \\r, \\r\\n); an empty line or one whose first character is `#` is a comment; a line is split
on `=>` (more than one is an error) and each side on `,`, where a backslash makes the next
character part of the term; then each term is unescaped (a backslash before any character stands
for that character) and trimmed as Java's String.trim does (characters up to U+0020).
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from etl.vocab import lang
from etl.warehouse import Warehouse

Line = tuple[list[str], list[str] | None]  # (terms, None) or (inputs, outputs) of an explicit mapping


def java_lines(text: str) -> list[str]:
    """Lines as BufferedReader.readLine returns them."""
    out, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch in "\r\n":
            out.append("".join(current))
            current = []
            i += 2 if text[i : i + 2] == "\r\n" else 1
            continue
        current.append(ch)
        i += 1
    if current:
        out.append("".join(current))
    return out


def split_unescaped(text: str, separator: str) -> list[str]:
    """Split on `separator` where it is not escaped; escapes stay in the parts; empty parts vanish."""
    parts, current, i = [], "", 0
    while i < len(text):
        if text.startswith(separator, i):
            if current:
                parts.append(current)
            current = ""
            i += len(separator)
            continue
        if text[i] == "\\" and i + 1 < len(text):
            current += text[i : i + 2]
            i += 2
            continue
        current += text[i]
        i += 1
    if current:
        parts.append(current)
    return parts


def unescape(text: str) -> str:
    out, i = "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out += text[i + 1]
            i += 2
        else:
            out += text[i]
            i += 1
    return out


def java_trim(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def parse(text: str) -> list[Line]:
    """Every synonym line of a Solr-format file."""
    parsed: list[Line] = []
    for raw in java_lines(text):
        if not raw or raw[0] == "#":
            continue
        sides = split_unescaped(raw, "=>")
        if len(sides) > 2:
            raise ValueError(f"more than one explicit mapping on one line: {raw!r}")
        terms = [[java_trim(unescape(t)) for t in split_unescaped(side, ",")] for side in sides]
        for side in terms:
            if not side or any(not t for t in side):
                raise ValueError(f"an empty term or side in {raw!r}")
        parsed.append((terms[0], terms[1]) if len(terms) == 2 else (terms[0], None))
    return parsed


def test_the_parser_follows_the_specification() -> None:
    assert parse("# comment\n\nipod, i-pod, i pod\ni-pod, i pod => ipod\r\n") == [
        (["ipod", "i-pod", "i pod"], None),
        (["i-pod", "i pod"], ["ipod"]),
    ]
    assert parse("a\\=>a => b\\=>b\na\\,a => b\\,b\n\\#x, y\\\\") == [
        (["a=>a"], ["b=>b"]),
        (["a,a"], ["b,b"]),
        (["#x", "y\\"], None),
    ]
    with pytest.raises(ValueError):
        parse("a => b => c")


def land(wh: Warehouse, groups: list[list[str]], pairs: list[tuple[str, str]] | None = None) -> dict[str, int]:
    """Terms, synonym pairs (a chain per group unless given) and groups, as `etl clean` leaves them."""
    ids: dict[str, int] = {}
    for members in groups:
        for text in members:
            ids[text] = len(ids) + 1
    chains = [(a, b) for members in groups for a, b in itertools.pairwise(members)]
    for text, term_id in ids.items():
        wh.execute(
            "INSERT INTO terms (term_id, text, norm, lang, origins, first_run_id, last_run_id) "
            "VALUES (?, ?, ?, ?, ['test'], 0, 0)",
            [term_id, text, text.casefold(), lang(text)],
        )
    for a, b in pairs if pairs is not None else chains:
        lo, hi = sorted((ids[a], ids[b]))
        wh.execute(
            "INSERT INTO synonym_pairs (term_a, term_b, similarity, origins, run_ids, run_id) "
            "VALUES (?, ?, 1.0, ['test'], [0], 0)",
            [lo, hi],
        )
    for members in groups:
        for text in members:
            wh.execute("INSERT INTO synonym_groups VALUES (?, ?, 0)", [ids[text], ids[members[0]]])
    return ids


def read(path: Path) -> tuple[str, list[Line]]:
    text = path.read_bytes().decode("utf-8")  # not read_text: its universal newlines would hide a stray \r
    return text, parse(text)


def last_counts(warehouse_path: Path) -> dict[str, int]:
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        return json.loads(
            wh.scalar("SELECT counts FROM runs WHERE step = 'export.synonyms' ORDER BY run_id DESC LIMIT 1")
        )


NASTY = [
    ["머신러닝", "machine learning", "ML"],
    ["쉼표, 용어", "comma, term", "a,b,,c"],
    ["화살표", "x=>y", "=>", "=", ">", "a= >b"],
    ["역슬래시", "back\\slash", "ends with\\", "\\\\"],
    ["#해시", "# not a comment", "C#"],
    ["여러 단어 용어", "a multi word term"],
    [
        "줄바꿈",
        "line\nbreak",
        "carriage\rreturn",
        "separator\u2028line",
        "next\x85line",
        "tab\there",
        " leading",
        "trailing ",
        "form\x0cfeed",
        "writable",
    ],
    ["혼자", "single\nline"],  # one writable term left: no line at all
]
# What the format cannot hold: line breaks of every kind, other controls, outer whitespace.
UNWRITABLE = {
    "line\nbreak",
    "carriage\rreturn",
    "separator\u2028line",
    "next\x85line",
    "tab\there",
    " leading",
    "trailing ",
    "form\x0cfeed",
    "single\nline",
}


def test_every_writable_term_round_trips_and_nothing_breaks_a_line(etl, warehouse_path: Path, tmp_path: Path) -> None:
    with Warehouse.open(warehouse_path) as wh:
        land(wh, NASTY)
    out = etl("export", "synonyms", "--out", str(tmp_path / "syn.txt")).output
    text, parsed = read(tmp_path / "syn.txt")

    expected = [[t for t in members if t not in UNWRITABLE] for members in NASTY]
    expected = [members for members in expected if len(members) > 1]
    assert sorted(sorted(terms) for terms, outputs in parsed) == sorted(sorted(m) for m in expected)
    assert all(outputs is None for _, outputs in parsed)
    # Whatever reads the file, it has the same lines: no term carries a line break of any kind.
    assert text.splitlines() == java_lines(text) == text.split("\n")[:-1]
    counts = last_counts(warehouse_path)
    assert counts["unwritable_terms"] == len(UNWRITABLE)
    assert counts["too_few_terms"] == 1
    assert counts["lines"] == counts["groups"] == len(parsed) == len(expected)
    assert f"unwritable terms  {len(UNWRITABLE)}" in out


def test_explicit_maps_korean_and_mixed_terms_to_the_english_ones(etl, warehouse_path: Path, tmp_path: Path) -> None:
    groups = [
        ["머신러닝", "기계 학습", "machine learning", "ML"],
        ["AI 모델", "AI model"],
        ["배치 정규화", "배치정규화"],
        ["GPU", "graphics processing unit"],
        ["쉼표, 용어", "a, b"],
    ]
    with Warehouse.open(warehouse_path) as wh:
        land(wh, groups)
    etl("export", "synonyms", "--explicit", "--out", str(tmp_path / "syn.txt"))
    _, parsed = read(tmp_path / "syn.txt")
    assert sorted((sorted(left), sorted(right or [])) for left, right in parsed) == [
        (["AI 모델"], ["AI model"]),
        (["기계 학습", "머신러닝"], ["ML", "machine learning"]),
        (["쉼표, 용어"], ["a, b"]),
    ]
    assert last_counts(warehouse_path)["one_sided"] == 2  # only Korean; only English


def test_a_large_group_is_split_into_its_pairs_or_skipped(etl, warehouse_path: Path, tmp_path: Path) -> None:
    big = ["거대", "huge", "large", "big", "massive"]
    pairs = [("거대", "huge"), ("huge", "large"), ("거대", "big"), ("big", "massive"), ("small", "작은")]
    with Warehouse.open(warehouse_path) as wh:
        land(wh, [big, ["small", "작은"]], pairs)
    etl("export", "synonyms", "--max-group-size", "4", "--out", str(tmp_path / "split.txt"))
    _, parsed = read(tmp_path / "split.txt")
    assert sorted(sorted(terms) for terms, _ in parsed) == sorted(sorted(p) for p in pairs)
    counts = last_counts(warehouse_path)
    assert (counts["split_groups"], counts["split_lines"], counts["groups"]) == (1, 4, 1)

    etl("export", "synonyms", "--max-group-size", "4", "--oversize", "skip", "--out", str(tmp_path / "skip.txt"))
    _, parsed = read(tmp_path / "skip.txt")
    assert parsed == [(["작은", "small"], None)]
    assert last_counts(warehouse_path)["oversize_skipped"] == 1

    etl("export", "synonyms", "--out", str(tmp_path / "whole.txt"))
    assert sorted(sorted(terms) for terms, _ in read(tmp_path / "whole.txt")[1]) == [sorted(big), ["small", "작은"]]
    assert etl("export", "synonyms", "--max-group-size", "1", ok=False).exit_code == 2


def test_category_filter_uses_the_synthesis_categories(
    etl, server, seeds, warehouse_path: Path, tmp_path: Path
) -> None:
    from tests.llm_answers import english

    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    with Warehouse.open(warehouse_path) as wh:
        wh.execute("INSERT INTO imported_pairs VALUES ('검색', 'search', NULL, NULL, 'pairs.jsonl', 1, 0)")
        listed = wh.execute("SELECT category, list(DISTINCT term) FROM category_terms GROUP BY ALL").fetchall()
    categories = {category: set(terms) for category, terms in listed}
    etl("clean")

    def heads(*options: str) -> set[str]:
        path = tmp_path / "syn.txt"
        etl("export", "synonyms", "--out", str(path), *options)
        parsed = read(path)[1]
        synthesised = [terms for terms, _ in parsed if terms[0] != "검색"]
        assert all(terms[1:] == sorted([english(terms[0]), english(terms[0]) + " alt"]) for terms in synthesised)
        return {terms[0] for terms, _ in parsed}

    assert "컨테이너" in categories["ml"] & categories["infra"]  # listed under both
    assert heads("--category", "infra") == categories["infra"]
    assert heads("--category", "ml") == categories["ml"]
    assert heads("--category", "ml", "--category", "infra") == categories["ml"] | categories["infra"]
    assert heads() == categories["ml"] | categories["infra"] | {"검색"}  # imported pairs have no category
    result = etl("export", "synonyms", "--category", "nope", ok=False)
    assert "no synthesis category 'nope'" in result.output and "infra, ml" in result.output


def test_etl_run_writes_the_synonym_file_of_every_group(etl, warehouse_path: Path) -> None:
    etl("run", "--example")
    path = warehouse_path.parent / "exports" / "synonyms.txt"
    _, parsed = read(path)
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        groups = wh.execute(
            "SELECT list(t.text ORDER BY t.text) FROM synonym_groups g JOIN terms t USING (term_id) "
            "GROUP BY g.group_id HAVING count(*) > 1"
        ).fetchall()
    assert sorted(sorted(terms) for terms, _ in parsed) == sorted(row[0] for row in groups)
    assert len(parsed) > 100
    path.unlink()
    rerun = etl("run", "--example").output  # a missing file reruns the export, and only the export
    assert re.search(r"^export\s+ran", rerun, re.M) and re.search(r"^mine\s+skipped", rerun, re.M)
    assert path.exists()


def test_imported_pairs_with_format_characters_survive_clean_and_export(
    etl, warehouse_path: Path, tmp_path: Path
) -> None:
    pairs = [
        ("C#", "씨샵"),
        ("쉼표, 용어", "comma, term"),
        ("a=>b", "에이 투 비"),
        ("back\\slash", "역슬래시"),
        ("#hashtag", "해시태그"),
    ]
    source = tmp_path / "pairs.jsonl"
    source.write_text(
        "".join(json.dumps({"source": a, "target": b}, ensure_ascii=False) + "\n" for a, b in pairs), encoding="utf-8"
    )
    etl("import", "pairs", str(source))
    etl("clean")
    etl("export", "synonyms", "--out", str(tmp_path / "syn.txt"))
    assert sorted(sorted(terms) for terms, _ in read(tmp_path / "syn.txt")[1]) == sorted(sorted(p) for p in pairs)
    etl("export", "synonyms", "--explicit", "--out", str(tmp_path / "explicit.txt"))
    korean_first = [(a, b) if lang(a) == "ko" else (b, a) for a, b in pairs]
    assert sorted(read(tmp_path / "explicit.txt")[1]) == sorted(([ko], [en]) for ko, en in korean_first)
