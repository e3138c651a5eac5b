"""`etl clean`: every rule (positive and negative), dedupe, groups, idempotence, stable ids, checks."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from etl import vocab, warehouse
from etl.config import Settings
from etl.errors import CheckFailed
from etl.steps import clean
from etl.warehouse import Warehouse


def land_pairs(
    wh: Warehouse, pairs: Iterable[tuple[str, str]], file: str = "/data/pairs.jsonl", similarity: float | None = None
) -> int:
    """Land imported pairs the way `etl import pairs` does; returns the run id."""
    with wh.record("import.pairs") as run:
        for line, (source, target) in enumerate(pairs, start=1):
            wh.execute(
                "INSERT INTO imported_pairs VALUES (?, ?, ?, NULL, ?, ?, ?)",
                [source, target, similarity, file, line, run.run_id],
            )
    return run.run_id


def land_translation(
    wh: Warehouse, ko: str, primary: str, alternatives: list[str], abbreviation: str | None = None
) -> int:
    """A row as the synthesis step writes it into `translations`; returns the run id."""
    with wh.record("synth.translate") as run:
        wh.execute(
            "INSERT INTO translations VALUES (?, ?, ?, ?, 'machine_learning', ?, ?)",
            [ko, primary, alternatives, abbreviation, f"hash-{ko}-{run.run_id}", run.run_id],
        )
    return run.run_id


def land_terms(wh: Warehouse, texts: Iterable[str], file: str = "/data/terms.txt") -> int:
    with wh.record("import.terms") as run:
        for line, text in enumerate(texts, start=1):
            wh.execute("INSERT INTO imported_terms VALUES (?, ?, ?, ?)", [text, file, line, run.run_id])
    return run.run_id


def run_clean(wh: Warehouse, **settings: Any) -> dict[str, Any]:
    clean.run(wh, Settings(**settings))
    return json.loads(wh.scalar("SELECT counts FROM runs WHERE step = 'clean' ORDER BY run_id DESC LIMIT 1"))


def pair_texts(wh: Warehouse) -> set[frozenset[str]]:
    rows = wh.execute(
        "SELECT a.text, b.text FROM synonym_pairs p JOIN terms a ON a.term_id = p.term_a JOIN terms b ON b.term_id = p.term_b"
    ).fetchall()
    return {frozenset(r) for r in rows}


def term_texts(wh: Warehouse) -> set[str]:
    return {r[0] for r in wh.execute("SELECT text FROM terms").fetchall()}


def rejected(wh: Warehouse, rule: str) -> list[str]:
    return sorted(
        r[0] for r in wh.execute("SELECT payload FROM rejects WHERE step = 'clean' AND rule = ?", [rule]).fetchall()
    )


def tables(wh: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: wh.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()  # fixed names, not input
        for name in ("terms", "term_ids", "synonym_pairs", "synonym_groups")
    }


# -- term rules -----------------------------------------------------------------------------------


def test_normalize_composes_trims_and_drops_invisibles(wh: Warehouse) -> None:
    decomposed = "\u1107\u1162\u110e\u1175 \u110c\u1165\u11bc\u1100\u1172\u1112\u116a"  # 배치 정규화 in jamo
    land_pairs(wh, [(f"  {decomposed}\u200b ", "batch\t normalization"), ("모델", "model")])
    counts = run_clean(wh)
    assert pair_texts(wh) == {frozenset({"배치 정규화", "batch normalization"}), frozenset({"모델", "model"})}
    assert counts["rules"]["pairs"]["normalize"] == {"in": 2, "out": 2, "rewritten": 1}
    assert wh.run_checks("clean_nfc") == {}


def test_empty_null_like_and_too_long_are_rejected(wh: Warehouse) -> None:
    land_pairs(
        wh,
        [
            ("모델", " \u200b "),
            ("학습", "None"),
            ("데이터", "N/A"),
            ("검색", "null"),
            ("설명", "x" * 21),
            ("정답", "y" * 20),
            ("영어", "nonetheless"),
        ],
    )
    counts = run_clean(wh, clean_max_length=20)
    assert rejected(wh, "empty") == [" \u200b "]
    assert rejected(wh, "null_like") == ["N/A", "None", "null"]
    assert rejected(wh, "too_long") == ["x" * 21]
    assert pair_texts(wh) == {frozenset({"정답", "y" * 20}), frozenset({"영어", "nonetheless"})}
    assert counts["rules"]["pairs"]["null_like"] == {"in": 6, "out": 3, "rejected": 3}
    # The valid side of a refused pair is still a term; the refused text is not.
    assert {"모델", "학습", "설명"} <= term_texts(wh) and "None" not in term_texts(wh)


def test_dotted_forms_are_normalised_or_rejected(wh: Warehouse) -> None:
    land_translation(wh, "정규화", "normalization", ["norm.", "A.I.", "standardization.", "ML.", "Node.js", "e.g."])
    counts = run_clean(wh)
    forms = {next(iter(p - {"정규화"})) for p in pair_texts(wh)}
    assert forms == {"normalization", "AI", "standardization", "ML", "Node.js"}
    assert rejected(wh, "clipped_word") == ["e.g.", "norm."]
    assert counts["rules"]["pairs"]["initialism_dots"]["rewritten"] == 1
    assert counts["rules"]["pairs"]["trailing_period"]["rewritten"] == 2


# -- pair rules -----------------------------------------------------------------------------------


def test_translation_yields_ko_to_every_english_form(wh: Warehouse) -> None:
    run_id = land_translation(wh, "머신러닝", "machine learning", ["ML", "machine-learning"], "ML")
    land_translation(wh, "딥러닝", "deep learning", [], None)
    run_clean(wh)
    assert pair_texts(wh) == {
        frozenset({"머신러닝", "machine learning"}),
        frozenset({"머신러닝", "ML"}),
        frozenset({"머신러닝", "machine-learning"}),
        frozenset({"딥러닝", "deep learning"}),
    }
    row = wh.execute(
        "SELECT p.kind, p.origins, p.run_ids FROM synonym_pairs p JOIN terms t ON t.term_id IN (p.term_a, p.term_b) WHERE t.text = 'ML'"
    ).fetchone()
    assert row == ("abbreviation", ["synth:abbreviation", "synth:alternative"], [run_id])
    kinds = dict(wh.execute("SELECT text, kind FROM terms").fetchall())
    assert kinds["ML"] == "abbreviation" and kinds["machine learning"] == "term"


def test_echo_rejects_answers_that_repeat_the_korean_term(wh: Warehouse) -> None:
    land_translation(wh, "쿠버네티스", "Kubernetes", ["쿠버네티스", "K8s"])
    run_clean(wh)
    assert rejected(wh, "echo") == ["쿠버네티스"]
    assert pair_texts(wh) == {frozenset({"쿠버네티스", "Kubernetes"}), frozenset({"쿠버네티스", "K8s"})}


def test_self_pairs_compare_by_key_and_korean_spaces_are_a_setting(wh: Warehouse) -> None:
    land_pairs(wh, [("배치 정규화", "배치정규화"), ("Model", "model"), ("모델", "model")])
    run_clean(wh)
    assert rejected(wh, "self_pair") == ["Model ↔ model", "배치 정규화 ↔ 배치정규화"]
    # Model and model are one term for pairing: the pair uses the older id of the two (Model).
    assert pair_texts(wh) == {frozenset({"모델", "Model"})}
    assert (
        wh.scalar(
            "SELECT count(DISTINCT group_id) FROM synonym_groups g JOIN terms t USING (term_id) WHERE norm = 'model'"
        )
        == 1
    )
    run_clean(wh, clean_ignore_spaces=False)
    assert rejected(wh, "self_pair") == ["Model ↔ model"]
    assert frozenset({"배치 정규화", "배치정규화"}) in pair_texts(wh)


def test_script_rules(wh: Warehouse) -> None:
    land_translation(wh, "machine learning", "machine learning model", [])  # no Hangul on the Korean side
    land_translation(wh, "AI 모델", "AI model", ["머신러닝 모델", "AI 모델링", "α-helix"])
    land_pairs(wh, [("李滉", "李穡"), ("123", "숫자"), ("C++", "씨플플"), ("딥러닝", "DL"), ("ΣΟΦΙΑ", "소피아")])
    run_clean(wh)
    assert rejected(wh, "no_hangul") == ["machine learning"]
    assert rejected(wh, "not_latin") == ["AI 모델링", "머신러닝 모델"]
    assert rejected(wh, "bad_script") == ["123", "ΣΟΦΙΑ"]
    assert pair_texts(wh) == {
        frozenset({"AI 모델", "AI model"}),
        frozenset({"AI 모델", "α-helix"}),
        frozenset({"李滉", "李穡"}),
        frozenset({"C++", "씨플플"}),
        frozenset({"딥러닝", "DL"}),
    }
    lang = dict(wh.execute("SELECT text, lang FROM terms").fetchall())
    assert (lang["AI 모델"], lang["AI model"], lang["딥러닝"]) == ("mixed", "en", "ko")


def test_dedupe_within_an_entry(wh: Warehouse) -> None:
    land_translation(wh, "머신러닝", "machine learning", ["Machine Learning", "ML", "ML", "statistical learning"], "ML")
    counts = run_clean(wh)["rules"]["pairs"]
    assert counts["alternative_is_primary"] == {"in": 6, "merged": 1, "out": 5}
    assert counts["duplicate_in_entry"] == {"in": 5, "merged": 2, "out": 3}
    assert wh.scalar("SELECT count(*) FROM synonym_pairs") == 3


def test_same_pair_from_two_runs_two_sources_and_both_directions_is_kept_once(wh: Warehouse) -> None:
    first = land_pairs(wh, [("모델", "model"), ("model", "모델")], file="/a.jsonl", similarity=0.5)
    second = land_pairs(wh, [("모델", "model")], file="/b.jsonl", similarity=0.75)
    synth = land_translation(wh, "모델", "Model", [])
    counts = run_clean(wh)["rules"]["pairs"]
    assert counts["duplicate_pair"] == {"in": 4, "merged": 2, "out": 2}
    assert counts["reverse_pair"] == {"in": 2, "merged": 1, "out": 1}
    rows = wh.execute("SELECT similarity, origins, run_ids, kind FROM synonym_pairs").fetchall()
    assert rows == [(0.75, ["import:/a.jsonl", "import:/b.jsonl", "synth:primary"], [first, second, synth], "synonym")]
    terms = wh.execute("SELECT text, origins, first_run_id, last_run_id FROM terms WHERE text = '모델'").fetchall()
    assert terms == [("모델", ["import:/a.jsonl", "import:/b.jsonl", "synth"], first, synth)]


# -- groups ---------------------------------------------------------------------------------------


def test_chains_make_one_group_with_the_smallest_id(wh: Warehouse) -> None:
    land_pairs(wh, [("가", "나"), ("나", "다"), ("라", "마")])
    land_terms(wh, ["바"])
    run_clean(wh)
    ids = dict(wh.execute("SELECT text, term_id FROM terms").fetchall())
    groups = dict(wh.execute("SELECT t.text, g.group_id FROM synonym_groups g JOIN terms t USING (term_id)").fetchall())
    assert groups["가"] == groups["나"] == groups["다"] == min(ids["가"], ids["나"], ids["다"])
    assert groups["라"] == groups["마"] != groups["가"]
    assert groups["바"] == ids["바"]  # a vocabulary term is a group of its own


def test_texts_sharing_a_key_share_a_group(wh: Warehouse) -> None:
    land_pairs(wh, [("배치 정규화", "batch normalization")])
    land_terms(wh, ["배치정규화", "Batch Normalization"])
    run_clean(wh)
    groups = wh.execute("SELECT count(DISTINCT group_id), count(*) FROM synonym_groups").fetchone()
    assert groups == (1, 4)
    assert wh.scalar("SELECT count(*) FROM synonym_pairs") == 1


def test_components_match_a_breadth_first_search() -> None:
    import random

    import numpy as np

    from etl.steps.clean.dedupe import components

    rng = random.Random(7)
    nodes = np.array(rng.sample(range(1, 10_000), 3000), dtype=np.int64)
    edges = [(int(rng.choice(nodes)), int(rng.choice(nodes))) for _ in range(2500)]
    chain = [(int(a), int(b)) for a, b in itertools.pairwise(nodes[:201])]  # a long path
    left, right = (np.array(side, dtype=np.int64) for side in zip(*(edges + chain)))
    labels = dict(zip(nodes.tolist(), components(nodes, left, right).tolist()))
    neighbours: dict[int, set[int]] = {int(n): set() for n in nodes}
    for a, b in edges + chain:
        neighbours[a].add(b)
        neighbours[b].add(a)
    seen: set[int] = set()
    for start in neighbours:
        if start in seen:
            continue
        component, frontier = {start}, [start]
        while frontier:
            for nxt in neighbours[frontier.pop()] - component:
                component.add(nxt)
                frontier.append(nxt)
        seen |= component
        assert {labels[n] for n in component} == {min(component)}


# -- rebuild semantics ----------------------------------------------------------------------------


def populate(wh: Warehouse) -> None:
    land_pairs(wh, [("모델", "model"), ("model", "모델"), ("학습", "training"), ("학습", "null"), ("李滉", "李穡")])
    land_translation(wh, "머신러닝", "machine learning", ["ML", "norm."], "ML")
    land_terms(wh, ["모델", "데이터", "none", "  검색  "])


def test_running_clean_twice_changes_nothing(wh: Warehouse) -> None:
    populate(wh)
    run_clean(wh)
    before = tables(wh)
    rejects = wh.execute("SELECT rule, reason, source, line, call_hash, payload FROM rejects ORDER BY ALL").fetchall()
    counts = run_clean(wh)
    assert tables(wh) == before
    assert (
        wh.execute("SELECT rule, reason, source, line, call_hash, payload FROM rejects ORDER BY ALL").fetchall()
        == rejects
    )
    assert counts["pairs_changed"] == 0
    # Clean's rejects are replaced, not piled up.
    assert wh.scalar("SELECT count(DISTINCT run_id) FROM rejects WHERE step = 'clean'") == 1


def test_term_ids_are_stable_across_reruns_and_new_input(wh: Warehouse) -> None:
    populate(wh)
    run_clean(wh)
    first = dict(wh.execute("SELECT text, term_id FROM terms").fetchall())
    wh.execute("DELETE FROM imported_pairs")
    land_pairs(wh, [("가상화", "virtualization"), ("모델", "model")], file="/other.jsonl")
    run_clean(wh)
    second = dict(wh.execute("SELECT text, term_id FROM terms").fetchall())
    assert all(second[text] == first[text] for text in second.keys() & first.keys())
    assert {"가상화", "virtualization"} <= second.keys() and "training" not in second
    assert min(second["가상화"], second["virtualization"]) > max(first.values())


def test_every_valid_vocabulary_text_stays_a_term_with_its_id(wh: Warehouse) -> None:
    """The embedding import lands term_list.json as imported_terms rows and registers ids itself."""
    texts = ["모델", "  학습\u200b", "Straße", "李滉", "n/a"]
    run_id = land_terms(wh, texts, file="/emb/term_list.json")
    ids = vocab.ensure_terms(wh, texts, "import:/emb/term_list.json", run_id)
    run_clean(wh)
    kept = dict(wh.execute("SELECT text, term_id FROM terms").fetchall())
    assert kept == {text: ids[text] for text in ("모델", "학습", "Straße", "李滉")}
    assert rejected(wh, "null_like") == ["n/a"]
    norms = dict(wh.execute("SELECT text, norm FROM terms").fetchall())
    assert norms["Straße"] == "strasse"


def test_a_failing_check_replaces_nothing(wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    populate(wh)
    run_clean(wh)
    before = tables(wh)
    land_pairs(wh, [("가상화", "virtualization")], file="/more.jsonl")
    sql_dir = tmp_path / "sql"
    shutil.copytree(warehouse.SQL_DIR, sql_dir)
    (sql_dir / "checks" / "clean_zz_always.sql").write_text("-- Always broken.\nSELECT 1 AS x\n", encoding="utf-8")
    monkeypatch.setattr(warehouse, "SQL_DIR", sql_dir)
    with pytest.raises(CheckFailed, match="clean_zz_always"):
        clean.run(wh, Settings())
    assert tables(wh) == before
    assert wh.scalar("SELECT status FROM runs ORDER BY run_id DESC LIMIT 1") == "failed"


def test_checks_catch_broken_tables(wh: Warehouse) -> None:
    populate(wh)
    run_clean(wh)
    assert wh.run_checks("clean_") == {}
    a, b = wh.execute("SELECT term_a, term_b FROM synonym_pairs LIMIT 1").fetchone()
    wh.execute("INSERT INTO synonym_pairs (term_a, term_b, origins, run_ids, run_id) VALUES (?, ?, [], [], 0)", [b, a])
    wh.execute("INSERT INTO synonym_pairs (term_a, term_b, origins, run_ids, run_id) VALUES (?, ?, [], [], 0)", [a, a])
    wh.execute(
        "INSERT INTO terms (term_id, text, norm, lang, origins, first_run_id, last_run_id) VALUES (999, 'e\u0301 ', 'x', 'en', [], 0, 0)"
    )
    broken = wh.run_checks("clean_")
    assert set(broken) == {"clean_self_pairs", "clean_duplicate_pairs", "clean_nfc", "clean_term_ids", "clean_groups"}


def test_clean_with_nothing_landed_builds_empty_tables(wh: Warehouse) -> None:
    counts = run_clean(wh)
    assert (counts["terms"], counts["pairs"], counts["groups"]) == (0, 0, 0)


def test_cli_prints_counts_per_rule_and_takes_options(etl, tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        '{"source": "모델", "target": "model"}\n{"source": "모델", "target": "a much longer answer"}\n',
        encoding="utf-8",
    )
    etl("import", "pairs", str(path))
    out = etl("clean", "--max-length", "10").output
    assert re.search(r"pairs: too_long +2 -> 1  \(1 rejected\)", out), out
    assert re.search(r"synonym pairs +1 \(1 new or changed\)", out), out
    assert re.search(r"synonym pairs +1 \(0 new or changed\)", etl("clean", "--max-length", "10").output)


def test_fast_describe_matches_norm_key_and_lang() -> None:
    import polars as pl

    samples = [
        "배치 정규화",
        "Batch Normalization",
        "AI 모델",
        "李滉",
        "123",
        "",
        "Straße",
        "ΣΟΦΙΑ",
        "İstanbul",
        "ｆｕｌｌ",
        "naïve Bayes",
        "ㄱㄴ",
        "\u1107\u1162",
        "x\u200b\u1161",
        "k-평균",
        "C++",
    ]
    texts = [vocab.normalize(s) for s in samples]
    for ignore in (True, False):
        described = vocab.describe(pl.Series(texts), ignore)
        assert described["norm"].to_list() == [vocab.norm_key(t, ignore) for t in texts]
        assert described["lang"].to_list() == [vocab.lang(t) for t in texts]
    frame = pl.DataFrame({"t": samples}).select(vocab.normalize_expr(pl.col("t")))
    assert frame["t"].to_list() == texts


def test_cleaning_settings_resolve_and_validate() -> None:
    from etl import config
    from etl.errors import ConfigError

    loaded = config.load(env={"ETL_CLEAN_IGNORE_SPACES": "false", "ETL_CLEAN_MAX_LENGTH": "40"})
    assert (loaded.settings.clean_ignore_spaces, loaded.settings.clean_max_length) == (False, 40)
    assert config.load(env={}).settings.clean_max_length == 64
    with pytest.raises(ConfigError, match="clean_max_length must be a whole number 2 <= x <= 1000"):
        config.load(env={"ETL_CLEAN_MAX_LENGTH": "1"})
