"""Seed terms, prompts and the validators that turn LLM answers into rows or rejects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl.errors import InputError
from etl.llm import Client
from etl.steps.synth.tasks import (
    EXPAND_SCHEMA,
    SENTENCES_SCHEMA,
    TRANSLATE_SCHEMA,
    Translation,
    expansion_request,
    load_seeds,
    parse_expansion,
    parse_sentences,
    parse_translation,
    sample_terms,
    sentences_request,
    translation_request,
)


def test_default_seeds_are_the_notebooks() -> None:
    seeds = load_seeds()
    assert list(seeds) == [
        "machine_learning",
        "natural_language_processing",
        "computer_vision",
        "data_science",
        "software_engineering",
        "cloud_infrastructure",
        "search_retrieval",
    ]
    assert sum(len(terms) for terms in seeds.values()) == 69
    assert seeds["machine_learning"][:3] == ["머신러닝", "딥러닝", "신경망"]
    assert "컨테이너" in seeds["software_engineering"] and "컨테이너" in seeds["cloud_infrastructure"]
    assert "API" in seeds["software_engineering"]


def test_seeds_from_toml_and_json_are_normalised(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text('ml = [" 딥러닝 ", "딥러닝", "신경\u200b망", ""]\n', encoding="utf-8")
    assert load_seeds(toml) == {"ml": ["딥러닝", "신경망"]}
    js = tmp_path / "s.json"
    js.write_text(json.dumps({"b": ["나"], "a": ["가"]}, ensure_ascii=False), encoding="utf-8")
    assert list(load_seeds(js)) == ["b", "a"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("s.toml", "ml = 'not a list'", "must be a list of terms"),
        ("s.toml", "ml = [1, 2]", "must be a list of terms"),
        ("s.toml", "ml = ['', ' ']", "has no terms"),
        ("s.toml", "ml = [", "is not valid TOML"),
        ("s.json", '["a"]', "expected categories"),
        ("s.json", "{}", "expected categories"),
        ("s.txt", "a", "must be a .toml or .json file"),
    ],
)
def test_bad_seed_files_name_the_problem(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_seeds(path)


def test_requests_carry_prompt_schema_and_temperature() -> None:
    expand = expansion_request("ml", ["a", "b", "c", "d", "e", "f"], 20, 0.8)
    prompt = expand.messages[0]["content"]
    assert 'Generate 20 additional Korean technical terms related to the category "ml"' in prompt
    assert "Example terms in this category: a, b, c, d, e\n" in prompt
    assert (expand.task, expand.schema, expand.temperature) == ("expand", EXPAND_SCHEMA, 0.8)
    translate = translation_request("머신러닝", 0.3)
    assert "Korean term: 머신러닝\n" in translate.messages[0]["content"]
    assert (translate.schema, translate.temperature) == (TRANSLATE_SCHEMA, 0.3)
    sentences = sentences_request("머신러닝", "machine learning", 3, 0.7)
    assert "Generate 3 pairs" in sentences.messages[0]["content"]
    assert "- English term: machine learning" in sentences.messages[0]["content"]
    assert sentences.schema == SENTENCES_SCHEMA


def test_prompts_are_unchanged_so_stored_answers_stay_valid() -> None:
    """The call hash covers the prompt text and schema: a changed prompt would re-ask every cached call."""
    hashes = {
        r.task: Client(["http://h:1"]).call_hash(r)
        for r in (
            expansion_request("ml", ["a", "b", "c", "d", "e", "f"], 20, 0.8),
            translation_request("신경망", 0.3),
            sentences_request("신경망", "neural network", 3, 0.7),
        )
    }
    assert hashes == {
        "expand": "f05aa5f3e0af89f95aebc3dcc78437c267a4da0ce13d662f0d9123a18c88d3e5",
        "translate": "4fe13694d20458acabdd0a31ff7da01ae18b0b4d66a85295edf905ec6ef86ace",
        "sentences": "1dc5a71943ecde560ce6bbd44427b78af6d8ae2f670b8776fee52fb5bdb4de45",
    }


# -- expansion ------------------------------------------------------------------------------------


def test_expansion_keeps_new_hangul_terms_up_to_the_limit() -> None:
    answer = json.dumps(
        {
            "terms": [
                "딥러닝",
                "배치정규화",
                "배치정규화",
                " 드롭아웃 ",
                "x",
                "가",
                "dropout",
                7,
                "하이퍼파라미터",
                "활성화함수",
            ]
        },
        ensure_ascii=False,
    )
    terms, rejects = parse_expansion(answer, ["딥러닝"], keep=3)
    assert terms == ["배치정규화", "드롭아웃", "하이퍼파라미터"]
    assert sorted(r.rule for r in rejects) == ["no_hangul", "too_short", "too_short", "wrong_shape"]
    assert {r.payload for r in rejects} == {"x", "가", "dropout", "7"}


def test_expansion_accepts_the_notebooks_bare_array_in_chatter() -> None:
    terms, rejects = parse_expansion('Here you go:\n["전이학습", "파인튜닝"]\nEnjoy!', [], keep=15)
    assert (terms, rejects) == (["전이학습", "파인튜닝"], [])


@pytest.mark.parametrize(
    ("answer", "rule"), [("", "empty_answer"), ("I cannot help", "not_json"), ('{"terms": "전이학습"}', "wrong_shape")]
)
def test_expansion_refusals(answer: str, rule: str) -> None:
    terms, rejects = parse_expansion(answer, [], keep=15)
    assert terms == [] and [r.rule for r in rejects] == [rule] and rejects[0].payload == answer


def test_expansion_refuses_the_prompts_example_terms() -> None:
    terms, rejects = parse_expansion('{"terms": ["용어1", "용어2", "용어 3", "배치정규화", "용어사전"]}', [], keep=15)
    assert terms == ["배치정규화", "용어사전"]
    assert [(r.rule, r.payload) for r in rejects] == [
        ("placeholder", "용어1"),
        ("placeholder", "용어2"),
        ("placeholder", "용어 3"),
    ]
    assert all("copies the prompt's example" in r.reason for r in rejects)


# -- translation ----------------------------------------------------------------------------------


def test_translation_is_cleaned() -> None:
    answer = (
        '```json\n{"primary": " machine learning ", "alternatives": ["ML", "machine learning", "기계학습", "",'
        ' "Machine Learning", "statistical learning"], "abbreviation": "ML"}\n```'
    )
    translation, rejects = parse_translation(answer, "머신러닝")
    assert rejects == []
    assert translation == Translation("머신러닝", "machine learning", ["ML", "statistical learning"], "ML")


@pytest.mark.parametrize("abbreviation", [None, "null", "None", "none", "N/A", "n/a", "", "머신", 3])
def test_translation_abbreviation_placeholders_become_null(abbreviation: object) -> None:
    answer = json.dumps({"primary": "x", "alternatives": "y", "abbreviation": abbreviation})
    translation, _ = parse_translation(answer, "엑스")
    assert translation is not None and translation.abbreviation is None and translation.en_alternatives == ["y"]


@pytest.mark.parametrize(
    ("answer", "rule"),
    [
        ("", "empty_answer"),
        ("machine learning", "not_json"),
        ('["machine learning", "ML"]', "wrong_shape"),
        ('{"english": "machine learning"}', "wrong_shape"),
        ('{"primary": ["machine learning"]}', "wrong_shape"),
        ('{"primary": "  ", "alternatives": ["ML"]}', "empty_primary"),
        ('{"primary": "머신 러닝"}', "not_english"),
    ],
)
def test_translation_refusals(answer: str, rule: str) -> None:
    translation, rejects = parse_translation(answer, "머신러닝")
    assert translation is None and [r.rule for r in rejects] == [rule] and rejects[0].payload == answer


def test_translation_that_copies_the_prompts_example_is_refused() -> None:
    # SmolLM2-135M's answer for 신경망, stored as is by a real run before this rule existed.
    copied = (
        '{"primary": "main English translation", "alternatives": ["alternative 1"], "abbreviation": "abbrev or null"}'
    )
    translation, rejects = parse_translation(copied, "신경망")
    assert translation is None and [r.rule for r in rejects] == ["placeholder"] and rejects[0].payload == copied
    assert rejects[0].reason == (
        "the primary translation of '신경망' copies the prompt instead of translating: 'main English translation'"
    )
    # The prompt's wording, as SmolLM2-135M also answers it.
    for primary in (
        "Main English translation.",
        "English translation",
        "English translation of Korean term",
        "English translation of Korean technical term",
    ):
        translation, rejects = parse_translation(json.dumps({"primary": primary}), "신경망")
        assert translation is None and [r.rule for r in rejects] == ["placeholder"], primary


def test_copied_alternatives_and_abbreviation_are_dropped_with_a_reject_each() -> None:
    answer = json.dumps(
        {
            "primary": "neural network",
            "alternatives": ["alternative 1", "Alternative 2.", "neural net", "Korean term alternative"],
            "abbreviation": "abbrev or null",
        }
    )
    translation, rejects = parse_translation(answer, "신경망")
    assert translation == Translation("신경망", "neural network", ["neural net"], None)
    assert [(r.rule, r.payload) for r in rejects] == [
        ("placeholder", "alternative 1"),
        ("placeholder", "Alternative 2."),
        ("placeholder", "Korean term alternative"),
        ("placeholder", "abbrev or null"),
    ]
    assert rejects[-1].reason == "the abbreviation of '신경망' copies the prompt: 'abbrev or null'"
    # Words that merely contain an example are real answers.
    energy = '{"primary": "alternative energy", "alternatives": [], "abbreviation": "AE"}'
    kept, none = parse_translation(energy, "대체에너지")
    assert none == [] and kept is not None and (kept.en_primary, kept.abbreviation) == ("alternative energy", "AE")


def test_translation_accepts_nested_json_in_chatter() -> None:
    answer = (
        'Sure. {"primary": "loss function", "alternatives": ["cost function"], "abbreviation": null, '
        '"notes": {"domain": {"field": "ml"}}} Let me know!'
    )
    translation, rejects = parse_translation(answer, "손실함수")
    assert rejects == [] and translation is not None and translation.en_primary == "loss function"


# -- sentences ------------------------------------------------------------------------------------


def test_sentences_keep_valid_distinct_pairs_and_refuse_the_rest() -> None:
    items = [
        {"ko": "딥러닝은 강력하다.", "en": "Deep learning is powerful."},
        {"ko": "딥러닝은 강력하다.", "en": "Deep learning is powerful."},
        {"ko": "Deep learning rocks.", "en": "Deep learning rocks."},
        {"ko": "딥러닝", "en": "딥러닝 is Korean"},
        {"ko": "", "en": "Empty."},
        {"korean": "딥러닝"},
        "딥러닝",
    ]
    pairs, rejects = parse_sentences(json.dumps({"pairs": items}, ensure_ascii=False), "딥러닝")
    assert pairs == [("딥러닝은 강력하다.", "Deep learning is powerful.")]
    assert [r.rule for r in rejects] == ["no_hangul", "not_english", "empty_sentence", "wrong_shape", "wrong_shape"]


@pytest.mark.parametrize(
    ("answer", "rule"), [("[]", "no_pairs"), ('{"pairs": {"ko": "가"}}', "wrong_shape"), ("nope", "not_json")]
)
def test_sentences_refusals(answer: str, rule: str) -> None:
    pairs, rejects = parse_sentences(answer, "딥러닝")
    assert pairs == [] and [r.rule for r in rejects] == [rule]


def test_sentences_that_copy_the_prompts_example_are_refused() -> None:
    items = [
        {"ko": "한국어 문장", "en": "English sentence"},  # SmolLM2-135M's answer in a real run
        {"ko": "신경망은 뇌를 본뜬다.", "en": "English sentence."},
        {"ko": "한국어 문장 2", "en": "A neural network mimics the brain."},
        {"ko": "신경망은 층으로 이루어진다.", "en": "A neural network is made of layers."},
    ]
    pairs, rejects = parse_sentences(json.dumps({"pairs": items}, ensure_ascii=False), "신경망")
    assert pairs == [("신경망은 층으로 이루어진다.", "A neural network is made of layers.")]
    assert [r.rule for r in rejects] == ["placeholder"] * 3
    assert rejects[0].reason == "a sentence pair for '신경망' copies the prompt's example instead of using the term"


def test_sentences_accept_a_bare_array() -> None:
    pairs, rejects = parse_sentences('[{"ko": "가나다", "en": "abc"}]', "가")
    assert pairs == [("가나다", "abc")] and rejects == []


# -- sampling -------------------------------------------------------------------------------------


def test_sample_is_seeded_sized_like_the_notebook_and_stable_under_additions() -> None:
    terms = [f"용어{i}" for i in range(100)]
    sample = sample_terms(terms, 0.3, seed=42)
    assert len(sample) == 30 and sample == sample_terms(terms, 0.3, seed=42)
    assert sample == [t for t in terms if t in set(sample)]  # listing order kept
    assert sample != sample_terms(terms, 0.3, seed=7)
    grown = sample_terms(terms + [f"새용어{i}" for i in range(10)], 0.3, seed=42)
    assert len(grown) == 33 and len(set(grown) & set(sample)) >= 27
    assert sample_terms(terms[:3], 0.3, seed=42) == []
    assert sample_terms(terms, 1.0, seed=1) == terms
