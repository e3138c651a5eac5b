"""Variant exclusion in mining: the keys each rule gives, and what `etl mine` does with them.

A hand-made bilingual vocabulary: each synonym group sits on its own direction, and other forms of
its terms (수출하다, "Exports", "To export", "An answer", ...) sit at cosine 0.8 to it, inside the hard
band, where only the variant rules keep them out. Compounds (전화번호, "Telephone number") sit there
too and must stay negatives.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from etl import config
from etl.steps import mine
from etl.steps.mine import variants
from etl.steps.mine.variants import GLOSS_LIST, INFLECTION, KOREAN_ENDING, LEADING_WORD, keys_of
from etl.warehouse import Warehouse
from tests import minedata
from tests.test_run import outcomes


def linked(a: str, b: str) -> bool:
    """Whether two norms share a variant key."""
    return bool(set(keys_of(a)) & set(keys_of(b)))


# -- the rules, one by one ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "base"),
    [
        ("수출하다", "수출"),
        ("이해되다", "이해"),
        ("확인되다", "확인"),
        ("결과적", "결과"),
        ("민주화", "민주"),
        ("부지런하다", "부지런히"),
        ("발전시키다", "발전"),
        ("경제적인", "경제"),
        ("자연스럽다", "자연"),
        ("가능성", "가능"),
        ("자유롭다", "자유"),
        ("조용하게", "조용히"),
        ("간단한", "간단"),
    ],
)
def test_korean_endings_key_the_stem(form: str, base: str) -> None:
    assert linked(form, base)
    shared = set(keys_of(form)) & set(keys_of(base))
    assert any(keys_of(form)[key] & KOREAN_ENDING or keys_of(base)[key] & KOREAN_ENDING for key in shared)


@pytest.mark.parametrize(("a", "b"), [("전화", "전"), ("영화", "영"), ("성", "가능성"), ("화", "민주화")])
def test_an_ending_never_leaves_a_stem_under_two_syllables(a: str, b: str) -> None:
    assert not linked(a, b)
    assert keys_of("전화") == {"전화": 0} and keys_of("대화") == {"대화": 0}


@pytest.mark.parametrize(
    ("form", "base"),
    [("to help", "help"), ("the future", "future"), ("a year", "year"), ("to sleep", "sleep"), ("an answer", "answer")],
)
def test_a_leading_article_or_infinitive_to_is_dropped(form: str, base: str) -> None:
    assert keys_of(form) == {form: 0, base: LEADING_WORD}
    assert keys_of("the") == {"the": 0} and keys_of("a") == {"a": 0}  # a lone function word stays itself


@pytest.mark.parametrize(
    ("form", "base"),
    [
        ("cats", "cat"),
        ("boxes", "box"),
        ("horses", "horse"),
        ("watches", "watch"),
        ("studies", "study"),
        ("helped", "help"),
        ("purchased", "purchase"),
        ("studied", "study"),
        ("buying", "buy"),
        ("running", "run"),
        ("making", "make"),
        ("quickly", "quick"),
        ("happily", "happy"),
        ("telephone numbers", "telephone number"),
    ],
)
def test_english_inflections_key_their_base(form: str, base: str) -> None:
    shared = set(keys_of(form)) & set(keys_of(base))
    assert shared and all(keys_of(form)[key] & INFLECTION for key in shared)


@pytest.mark.parametrize(("word"), ["class", "bus", "analysis", "sing", "only", "early", "yes"])
def test_words_that_only_look_inflected_keep_their_form(word: str) -> None:
    assert keys_of(word) == {word: 0}
    assert linked("needs", "need") and not linked("need", "ne")


def test_gloss_lists_share_their_alternatives() -> None:
    assert keys_of("answer, reply") == {"answer": GLOSS_LIST, "reply": GLOSS_LIST}
    assert linked("answer, reply", "an answer")
    assert linked("purchase or buying", "buy,purchase")
    assert linked("수출; 수입", "수입하다")
    assert keys_of("purchase or buying")["buy"] == GLOSS_LIST | INFLECTION
    assert keys_of("answer,") == {"answer": GLOSS_LIST}  # a separator with one alternative left is still a list
    assert keys_of("before") == {"before": 0} and keys_of("for") == {"for": 0}  # "or" only as a word


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("telephone", "telephone number"),
        ("전화", "전화번호"),
        ("learning", "machine learning"),
        ("model", "language model"),
        ("help", "helpful"),
        ("future", "futures market"),
    ],
)
def test_compounds_are_not_variants(a: str, b: str) -> None:
    assert not linked(a, b)


# -- the step on a warehouse --------------------------------------------------------------------------

# Group -> its terms (the first two are a pair, the rest pairs along a chain), its variants, its compounds.
GROUPS = [
    (["수출", "Export"], ["수출하다", "Exports", "To export", "Exporting"], []),
    (["이해", "Understanding"], ["이해되다", "Understand"], []),
    (["대답", "Answer, reply"], ["An answer", "Replies", "Reply"], []),
    (["구매", "Purchase or buying"], ["buy,purchase", "Purchased", "구매하다"], []),
    (["부지런하다", "Diligent"], ["부지런히", "Diligently"], []),
    (["민주화", "Democratization", "The democracy"], ["민주", "Democracies"], []),
    (["전화", "Telephone"], [], ["전화번호", "Telephone number"]),
]
RULE_OF = {
    "수출하다": KOREAN_ENDING,
    "Exports": INFLECTION,
    "To export": LEADING_WORD,
    "Exporting": INFLECTION,
    "이해되다": KOREAN_ENDING,
    "Understand": INFLECTION,
    "An answer": LEADING_WORD | GLOSS_LIST,
    "Replies": INFLECTION | GLOSS_LIST,
    "Reply": GLOSS_LIST,
    "buy,purchase": GLOSS_LIST,
    "Purchased": INFLECTION | GLOSS_LIST,
    "구매하다": KOREAN_ENDING,
    "부지런히": KOREAN_ENDING,
    "Diligently": INFLECTION,
    "민주": KOREAN_ENDING,
    "Democracies": INFLECTION,
}
DIM = 64


def bilingual_world(wh: Warehouse) -> dict[str, int]:
    """Insert GROUPS; returns text -> term_id."""
    texts, vecs, pairs, group_of = [], [], [], {}
    for g, (members, forms, compounds) in enumerate(GROUPS):
        base = np.zeros(DIM, dtype=np.float32)
        base[g] = 1.0  # groups are orthogonal: no cross-group cosine reaches a band
        first = len(texts) + 1
        for i, text in enumerate(members):
            texts.append(text)
            vecs.append(base)
            group_of[first + i] = first
            if i:
                pairs.append((first + i - 1, first + i))
        for text in forms + compounds:
            other = np.zeros(DIM, dtype=np.float32)
            other[len(GROUPS) + len(texts)] = 1.0  # a direction of its own: cosine 0.8 to its group only
            texts.append(text)
            vecs.append(0.8 * base + 0.6 * other)
    ids = np.arange(1, len(texts) + 1, dtype=np.int64)
    minedata.insert(wh, ids, texts, [t.casefold() for t in texts], np.array(vecs, dtype=np.float32), pairs, group_of)
    return dict(zip(texts, ids.tolist()))


def settings(**overrides: object) -> config.Settings:
    return config.load(overrides={"mine_search": "exact", "mine_negatives": 20, **overrides}).settings


def negatives_by_text(wh: Warehouse) -> set[tuple[str, str]]:
    return set(
        wh.execute(
            "SELECT a.text, n.text FROM negatives JOIN terms a ON a.term_id = anchor_id JOIN terms n ON n.term_id = negative_id"
        ).fetchall()
    )


def test_variants_never_land_and_compounds_do(wh: Warehouse) -> None:
    bilingual_world(wh)
    mine.run(wh, settings())
    landed = negatives_by_text(wh)
    assert landed == {(a, c) for members, _, compounds in GROUPS for a in members for c in compounds}
    counts = wh.last_ok_run("mine")["counts"]
    report = counts["variants"]
    anchors_of = {form: members for members, forms, _ in GROUPS for form in forms}
    assert report["on"] and report["excluded_pairs"] == sum(len(m) for m in anchors_of.values())
    assert report["excluded_by_band"] == {"easy": 0, "medium": 0, "hard": report["excluded_pairs"]}
    # Every rule kept some pair out; a pair counts under each rule that made its shared key.
    for bit, name in enumerate(variants.RULES):
        expected = sum(len(anchors_of[form]) for form, rules in RULE_OF.items() if rules & (1 << bit))
        assert report["excluded"][name] >= expected > 0, name
    assert all(n > 0 for n in report["terms"].values())
    assert json.loads(wh.scalar("SELECT params FROM runs WHERE step = 'mine' ORDER BY run_id DESC LIMIT 1"))[
        "mine_variants"
    ]


def test_no_variants_lets_the_other_forms_back_in(wh: Warehouse) -> None:
    bilingual_world(wh)
    mine.run(wh, settings(mine_variants=False))
    landed = negatives_by_text(wh)
    assert ("수출", "수출하다") in landed and ("Export", "Exports") in landed and ("Export", "To export") in landed
    assert ("Answer, reply", "An answer") in landed and ("Purchase or buying", "buy,purchase") in landed
    assert ("부지런하다", "부지런히") in landed and ("민주화", "민주") in landed
    counts = wh.last_ok_run("mine")["counts"]
    assert counts["variants"] == {"on": False} and counts["config"]["variants"] is False


def test_no_landed_negative_is_a_variant_of_its_anchor_or_positives(wh: Warehouse) -> None:
    """On a larger world with forms of many terms in every band, not one landed negative shares a key."""
    world = minedata.build(wh, n_terms=600, n_groups=80, seed=3)
    words = [f"{c}{v}{c2}{v2}" for c in "bdgklmnprt" for v in "aeiou" for c2 in "bdgklmnprt" for v2 in "aeiou"]
    forms = ["{}s", "the {}", "to {}", "{}ing", "{}ed", "{}ly", "{}, other", "{}하다"]
    rng = np.random.default_rng(5)
    order = rng.permutation(len(world.ids))
    base = {int(world.ids[r]): words[k] for k, r in enumerate(order[:300])}
    # Half of the renamed terms become a form of another renamed term, at any cosine.
    for k, r in enumerate(order[300:450]):
        base[int(world.ids[r])] = forms[k % len(forms)].format(words[int(rng.integers(0, 300))])
    for term_id, text in base.items():
        wh.execute("UPDATE terms SET text = ?, norm = ? WHERE term_id = ?", [text, text.casefold(), term_id])
    mine.run(wh, settings(mine_negatives=40))
    norm = dict(wh.execute("SELECT term_id, norm FROM terms").fetchall())
    seeds: dict[int, set[int]] = {}
    for a, b in world.pairs:
        seeds.setdefault(a, {a}).add(b)
        seeds.setdefault(b, {b}).add(a)
    landed = wh.execute("SELECT anchor_id, negative_id FROM negatives").fetchall()
    assert len(landed) > 1000
    for anchor, negative in landed:
        for seed in seeds[anchor]:
            assert not linked(norm[seed], norm[negative]), (norm[anchor], norm[seed], norm[negative])
    assert wh.last_ok_run("mine")["counts"]["variants"]["excluded_pairs"] > 0


def test_the_predicate_and_the_enumeration_agree_on_variants(wh: Warehouse) -> None:
    from etl.steps.mine import loading as mine_data

    bilingual_world(wh)
    inputs = mine_data.load(wh, minedata.MODEL)
    anchors = np.arange(len(inputs.anchors), dtype=np.int64)
    which, rows = inputs.exclusions(anchors)
    every_a = np.repeat(anchors, len(inputs.ids))
    every_r = np.tile(np.arange(len(inputs.ids)), len(anchors))
    forbidden = inputs.excluded(every_a, every_r)
    assert set(zip(which.tolist(), rows.tolist())) == set(zip(every_a[forbidden].tolist(), every_r[forbidden].tolist()))
    assert (inputs.exclusion_bound() >= np.bincount(which, minlength=len(anchors))).all()
    off = mine_data.load(wh, minedata.MODEL, variants=False)
    assert len(off.exclusions(anchors)[0]) < len(which) and off.n_variant_keys == 0


def test_the_ann_search_excludes_variants_as_the_scan_does(wh: Warehouse) -> None:
    from usearch.index import Index

    ids = bilingual_world(wh)
    index = Index(ndim=DIM, metric="cos", dtype="f32", connectivity=16, expansion_add=200, expansion_search=400)
    index.add(np.array(sorted(ids.values()), dtype=np.uint64), _vectors(wh), threads=1)
    mine.run(wh, settings())
    exact = negatives_by_text(wh)
    mine.run(wh, settings(mine_search="ann", mine_top_k=4), index=index)
    assert negatives_by_text(wh) == exact


def _vectors(wh: Warehouse) -> np.ndarray:
    from etl import vectors

    return vectors.load(wh, minedata.MODEL)[1]


def test_the_option_reaches_the_command_and_the_pipeline(etl, warehouse_path: Path) -> None:
    etl("run", "--example")
    result = etl("mine", "--search", "exact", "--no-variants")
    assert "variants" in result.output and "off" in result.output
    assert "pairs excluded" in etl("mine", "--search", "exact").output
    # Turning variant exclusion off in `etl run` reruns mining and what follows it.
    rerun = outcomes(etl("run", "--example", env={"ETL_MINE_VARIANTS": "false"}).output)
    assert rerun["mine"] == "ran" and rerun["embed"] == "skipped"
    out = warehouse_path.parent / "exports" / "triplets"
    stats = json.loads((out / "data_preparation_stats.json").read_text())
    assert stats["variant_exclusion"] == {"on": False} and stats["config"]["variants"] is False
    card = (out / "triplet_dataset" / "README.md").read_text(encoding="utf-8")
    assert "variant exclusion off" in card
    etl("run", "--example")  # back on: mined again, and the card counts what was kept out
    card = (out / "triplet_dataset" / "README.md").read_text(encoding="utf-8")
    assert "in-band pairs (by rule: " in card


def test_shards_and_shared_inputs_keep_the_variant_keys(wh: Warehouse, tmp_path: Path) -> None:
    from etl import api
    from etl.steps.mine import loading as mine_data
    from etl.steps.mine.on_ray import load_inputs, save_inputs
    from etl.steps.mine.parts import ShardError

    bilingual_world(wh)
    inputs = mine_data.load(wh, minedata.MODEL)
    shared = load_inputs(Path(save_inputs(inputs, tmp_path / "inputs")))  # as Ray tasks on other nodes read them
    anchors = np.arange(len(inputs.anchors), dtype=np.int64)
    assert shared.n_variant_keys == inputs.n_variant_keys > 0 and shared.variants_on
    assert all(np.array_equal(a, b) for a, b in zip(shared.exclusions(anchors), inputs.exclusions(anchors)))
    api.mine(wh, search="exact", negatives=20)
    whole = negatives_by_text(wh)
    for i in range(2):
        api.mine(wh, search="exact", negatives=20, shard=f"{i}/2", out=tmp_path / "parts")
    with pytest.raises(ShardError, match="variants"):
        api.mine(wh, search="exact", negatives=20, variants=False, merge=tmp_path / "parts")
    api.mine(wh, search="exact", negatives=20, merge=tmp_path / "parts")
    assert negatives_by_text(wh) == whole
