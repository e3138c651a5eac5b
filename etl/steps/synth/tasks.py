"""What synthesis asks the LLM and how it judges the answers: seed terms, prompts, schemas, validators.

Pure functions, no warehouse: every answer becomes either rows or `Reject`s with a stable rule name.
The prompts are the seed notebook's, changed only to ask for a JSON object (the OpenAI-compatible
`response_format` needs an object at the root); the validators still accept the notebook's bare
arrays from servers that ignore schemas.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from etl.errors import InputError
from etl.llm import ChatRequest, extract_json
from etl.llm.ledger import Reject
from etl.vocab import has_hangul, normalize

DEFAULT_SEEDS = "seed_terms.toml"
_NULLISH = {"", "null", "none", "n/a", "na", "-", "없음"}

# The examples the prompts show. Small models often copy them back verbatim, and such an answer
# passes every shape check, so each validator refuses them by name (rule `placeholder`). The
# prompts are built from these strings: changing one changes the prompt text, and so every call hash.
EXPAND_EXAMPLES = ("용어1", "용어2")
TRANSLATE_EXAMPLE = {
    "primary": "main English translation",
    "alternatives": ("alternative 1", "alternative 2"),
    "abbreviation": "abbrev or null",
}
SENTENCE_EXAMPLE = ("한국어 문장", "English sentence")
# Compared after casefolding, trimming quotes and end punctuation, and numbering the examples freely
# ("alternative 3", "용어7", "English sentence 2"), but only as the whole text. Translations also
# refuse the prompt's own wording ("English translation of Korean term"): no Korean IT term
# translates to a phrase about a Korean term.
_EXPAND_PLACEHOLDER = re.compile(r"용어\s*\d*")
_TRANSLATE_PLACEHOLDER = re.compile(
    r"(?:main )?english translation|alternative\s*\d+|abbrev(?: or null)?|.*\bkorean (?:technical )?terms?\b.*"
)
_KO_SENTENCE_PLACEHOLDER = re.compile(r"한국어 문장\s*\d*")
_EN_SENTENCE_PLACEHOLDER = re.compile(r"english sentence\s*\d*")

EXPAND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"terms": {"type": "array", "items": {"type": "string"}}},
    "required": ["terms"],
    "additionalProperties": False,
}
TRANSLATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "primary": {"type": "string"},
        "alternatives": {"type": "array", "items": {"type": "string"}},
        "abbreviation": {"type": ["string", "null"]},
    },
    "required": ["primary", "alternatives", "abbreviation"],
    "additionalProperties": False,
}
SENTENCES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pairs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"ko": {"type": "string"}, "en": {"type": "string"}},
                "required": ["ko", "en"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["pairs"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Translation:
    """A validated translation of one Korean term."""

    ko: str
    en_primary: str
    en_alternatives: list[str]
    abbreviation: str | None


# -- seed terms -----------------------------------------------------------------------------------


def load_seeds(path: Path | None = None) -> dict[str, list[str]]:
    """Category → terms from a TOML or JSON file (default: the shipped seed_terms.toml), normalised."""
    if path is None:
        text = resources.files("etl.data").joinpath(DEFAULT_SEEDS).read_text(encoding="utf-8")
        origin = DEFAULT_SEEDS
    else:
        origin = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read seed terms from {path}: {exc}") from exc
    try:
        if origin.endswith(".json"):
            data = json.loads(text)
        elif origin.endswith(".toml"):
            data = tomllib.loads(text)
        else:
            raise InputError(f"{origin}: seed terms must be a .toml or .json file (category = [terms])")
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{origin} is not valid {origin.rsplit('.', 1)[-1].upper()}: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise InputError(f'{origin}: expected categories mapping to lists of terms, like ml = ["딥러닝"]')
    seeds: dict[str, list[str]] = {}
    for category, terms in data.items():
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            raise InputError(f"{origin}: category {category!r} must be a list of terms (strings)")
        kept = list(dict.fromkeys(t for t in (normalize(t) for t in terms) if t))
        if not kept:
            raise InputError(f"{origin}: category {category!r} has no terms")
        seeds[normalize(str(category))] = kept
    return seeds


# -- requests -------------------------------------------------------------------------------------


def expansion_request(category: str, seeds: Sequence[str], ask: int, temperature: float) -> ChatRequest:
    """Ask for `ask` more Korean terms in a category, showing its first five seeds."""
    prompt = f"""Generate {ask} additional Korean technical terms related to the category "{category}".

Example terms in this category: {", ".join(seeds[:5])}

Requirements:
- Terms should be commonly used in Korean IT/tech context
- Include both pure Korean terms and Konglish (외래어)
- Terms should be specific enough to have clear English translations

Output as a JSON object holding an array of Korean terms only:
{{"terms": ["{EXPAND_EXAMPLES[0]}", "{EXPAND_EXAMPLES[1]}", ...]}}

Only output the JSON, nothing else."""
    return ChatRequest("expand", [{"role": "user", "content": prompt}], EXPAND_SCHEMA, temperature)


def translation_request(term: str, temperature: float) -> ChatRequest:
    """Ask for the English translation(s) of one Korean term."""
    example = TRANSLATE_EXAMPLE
    first, second = example["alternatives"]
    prompt = f"""Translate the Korean technical term to English.

Korean term: {term}

Provide the English translation(s) as a JSON object with the following format:
{{
    "primary": "{example["primary"]}",
    "alternatives": ["{first}", "{second}"],
    "abbreviation": "{example["abbreviation"]}"
}}

Only output the JSON, nothing else."""
    return ChatRequest("translate", [{"role": "user", "content": prompt}], TRANSLATE_SCHEMA, temperature)


def sentences_request(term_ko: str, term_en: str, pairs: int, temperature: float) -> ChatRequest:
    """Ask for `pairs` Korean/English parallel sentences that use a term pair."""
    prompt = f"""Generate {pairs} pairs of parallel sentences (Korean and English) using the terms:
- Korean term: {term_ko}
- English term: {term_en}

Requirements:
- Sentences should be technical/educational context
- Korean and English sentences should have the same meaning
- Use natural language in both languages

Output as a JSON object:
{{"pairs": [
    {{"ko": "{SENTENCE_EXAMPLE[0]}", "en": "{SENTENCE_EXAMPLE[1]}"}},
    ...
]}}

Only output the JSON, nothing else."""
    return ChatRequest("sentences", [{"role": "user", "content": prompt}], SENTENCES_SCHEMA, temperature)


# -- validators -----------------------------------------------------------------------------------


def parse_expansion(content: str, known: Sequence[str], keep: int) -> tuple[list[str], list[Reject]]:
    """New Hangul terms from an expansion answer (not in `known`, at most `keep`), and the refused ones."""
    value, refused = _json(content, "expansion")
    if refused:
        return [], refused
    items = _list_in(value, "terms")
    if items is None:
        return [], [Reject("wrong_shape", "the expansion answer is not a list of terms", content)]
    rejects: list[Reject] = []
    seen = set(known)
    new: list[str] = []
    for item in items:
        if not isinstance(item, str):
            rejects.append(Reject("wrong_shape", "an expanded term is not text", _dump(item)))
            continue
        term = normalize(item)
        if _copies(_EXPAND_PLACEHOLDER, term):
            rejects.append(Reject("placeholder", f"expanded term {term!r} copies the prompt's example", item))
        elif len(term) <= 1:
            rejects.append(Reject("too_short", "an expanded term has fewer than two characters", item))
        elif not has_hangul(term):
            rejects.append(Reject("no_hangul", f"expanded term {term!r} is not Korean", item))
        elif term not in seen:
            seen.add(term)
            new.append(term)
    return new[:keep], rejects


def parse_translation(content: str, ko: str) -> tuple[Translation | None, list[Reject]]:
    """A Translation from an answer, or the reason it was refused."""
    value, refused = _json(content, "translation")
    if refused:
        return None, refused
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        kind = type(value).__name__
        return None, [Reject("wrong_shape", f"the translation answer is a JSON {kind}, not an object", content)]
    primary = value.get("primary")
    if not isinstance(primary, str):
        return None, [Reject("wrong_shape", "the translation answer has no text field 'primary'", content)]
    primary = normalize(primary)
    if not primary:
        return None, [Reject("empty_primary", f"the primary translation of {ko!r} is empty", content)]
    if has_hangul(primary):
        return None, [Reject("not_english", f"the primary translation of {ko!r} is still Korean: {primary!r}", content)]
    if _copies(_TRANSLATE_PLACEHOLDER, primary):
        reason = f"the primary translation of {ko!r} copies the prompt instead of translating: {primary!r}"
        return None, [Reject("placeholder", reason, content)]
    rejects: list[Reject] = []
    raw = value.get("alternatives")
    raw = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    seen = {primary.casefold()}
    alternatives = []
    for item in raw:
        text = normalize(item) if isinstance(item, str) else ""
        if _copies(_TRANSLATE_PLACEHOLDER, text):
            reason = f"an alternative translation of {ko!r} copies the prompt: {text!r}"
            rejects.append(Reject("placeholder", reason, item))
        elif text and not has_hangul(text) and text.casefold() not in seen:
            seen.add(text.casefold())
            alternatives.append(text)
    abbreviation = value.get("abbreviation")
    abbreviation = normalize(abbreviation) if isinstance(abbreviation, str) else None
    if abbreviation is not None and _copies(_TRANSLATE_PLACEHOLDER, abbreviation):
        reason = f"the abbreviation of {ko!r} copies the prompt: {abbreviation!r}"
        rejects.append(Reject("placeholder", reason, abbreviation))
        abbreviation = None
    # "null", "none", "n/a" and the like written as text mean no abbreviation, as a JSON null does.
    if abbreviation is not None and (abbreviation.casefold() in _NULLISH or has_hangul(abbreviation)):
        abbreviation = None
    return Translation(ko, primary, alternatives, abbreviation), rejects


def parse_sentences(content: str, term_ko: str) -> tuple[list[tuple[str, str]], list[Reject]]:
    """Distinct (ko, en) sentence pairs from an answer, and the refused answer or items."""
    value, refused = _json(content, "sentences")
    if refused:
        return [], refused
    items = _list_in(value, "pairs")
    if items is None:
        return [], [Reject("wrong_shape", "the sentences answer is not a list of {ko, en} pairs", content)]
    if not items:
        return [], [Reject("no_pairs", f"the sentences answer for {term_ko!r} lists no pairs", content)]
    pairs: list[tuple[str, str]] = []
    rejects: list[Reject] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("ko"), str) or not isinstance(item.get("en"), str):
            reason = "a sentence pair is not an object with text 'ko' and 'en'"
            rejects.append(Reject("wrong_shape", reason, _dump(item)))
            continue
        ko, en = normalize(item["ko"]), normalize(item["en"])
        if not ko or not en:
            rejects.append(Reject("empty_sentence", "a sentence pair has an empty side", _dump(item)))
        elif _copies(_KO_SENTENCE_PLACEHOLDER, ko) or _copies(_EN_SENTENCE_PLACEHOLDER, en):
            reason = f"a sentence pair for {term_ko!r} copies the prompt's example instead of using the term"
            rejects.append(Reject("placeholder", reason, _dump(item)))
        elif not has_hangul(ko):
            rejects.append(Reject("no_hangul", "the Korean sentence has no Hangul", _dump(item)))
        elif has_hangul(en):
            rejects.append(Reject("not_english", "the English sentence contains Hangul", _dump(item)))
        elif (ko, en) not in pairs:
            pairs.append((ko, en))
    return pairs, rejects


def sample_terms(terms: Sequence[str], rate: float, seed: int) -> list[str]:
    """A seeded sample of int(n × rate) terms, in their given order.

    Terms are ranked by a hash of (seed, term), so adding terms later keeps most of the earlier
    sample (and its cached sentence calls) instead of reshuffling everything.
    """
    k = int(len(terms) * rate)
    ranked = sorted(terms, key=lambda t: hashlib.sha256(f"{seed}:{t}".encode()).hexdigest())
    chosen = set(ranked[:k])
    return [t for t in terms if t in chosen]


def _json(content: str, what: str) -> tuple[Any, list[Reject]]:
    if not content.strip():
        return None, [Reject("empty_answer", f"the {what} answer is empty", content)]
    try:
        return extract_json(content), []
    except ValueError:
        return None, [Reject("not_json", f"the {what} answer holds no JSON", content)]


def _copies(example: re.Pattern[str], text: str) -> bool:
    """True when `text` is one of a prompt's examples or phrases (case, quotes and end punctuation aside)."""
    return example.fullmatch(" ".join(text.casefold().strip(" \t.,:;!?\"'`").split())) is not None


def _list_in(value: Any, key: str) -> list[Any] | None:
    """The list an answer carries: itself, under `key`, or under an object's only list-valued key."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if isinstance(value.get(key), list):
            return value[key]
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    return None


def _dump(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
