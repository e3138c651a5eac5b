"""Variant keys: which vocabulary terms are another form of one another, so mining never pits them against each other.

Every term gets a few keys from its `terms.norm`, in one Python pass over the vocabulary's distinct
norms; two terms are variants when they share a key. The rules, each named and counted:

- `gloss_list`: a norm listing alternatives ("answer, reply", "purchase or buying", "a; b") is split
  on commas, semicolons and the word "or"; each alternative is keyed by the rules below.
- `leading_word`: an English alternative of two words or more loses a leading article or infinitive
  "to" ("a year" -> "year", "to sleep" -> "sleep").
- `inflection`: the last word of an English alternative loses one suffix: -s, -es, -ies (-> y), -ed,
  -ied (-> y), -ing, -ly, -ily (-> y), keeping a stem of at least 3 letters (4 for -ly). A light
  stemmer that cannot tell "purchas-ed" from "help-ed", so it keys both readings ("purchase" and
  "purchas"); it errs towards calling two words variants ("news" / "new").
- `korean_ending`: a Korean alternative (spaces removed, as in its norm) loses its longest ending of
  KOREAN_ENDINGS when at least 2 characters remain (수출하다 -> 수출; 전화 keeps its 화).

Every alternative is also keyed as it is, so 수출 and 수출하다 share 수출, "need" and "needs" share
"need", and "telephone" / "telephone number" (a compound, not a form) share nothing. Only keys shared by terms of
at least two different norms are kept: the norm rule already covers terms spelled alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from etl.steps.mine.sample import expand

if TYPE_CHECKING:
    import numpy as np

    from etl.steps.mine.data import MineInputs
    from etl.steps.mine.sample import Bands
    from etl.warehouse import Warehouse

RULES = ("korean_ending", "leading_word", "inflection", "gloss_list")
KOREAN_ENDING, LEADING_WORD, INFLECTION, GLOSS_LIST = (1 << i for i in range(len(RULES)))

# Predicate and derivation endings, stripped longest first (one per alternative).
KOREAN_ENDINGS = tuple(
    sorted(
        (
            "하다",
            "되다",
            "시키다",
            "받다",
            "당하다",
            "화하다",
            "화되다",
            "화시키다",  # verbs
            "적",
            "적인",
            "적으로",
            "화",
            "성",  # -ic, -ize, -ness
            "히",
            "하게",
            "스럽다",
            "스러운",
            "스럽게",
            "롭다",
            "로운",
            "롭게",  # adverbs and adjectives
            "하는",
            "한",
            "함",
            "됨",  # modifier and nominal forms
        ),
        key=len,
        reverse=True,
    )
)
KOREAN_STEM = 2  # characters an ending must leave
LEADING_WORDS = frozenset({"a", "an", "the", "to"})
_LIST = re.compile(r"\s*(?:[,;]|\bor\b)\s*")
_HANGUL = re.compile("[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_VOWEL = re.compile("[aeiouy]")


def keys_of(norm: str) -> dict[str, int]:
    """The variant keys of one norm, each with the rules (bits of RULES) that made it."""
    pieces = _LIST.split(norm)
    parts = [p for p in pieces if p.strip()]
    listed = GLOSS_LIST if len(pieces) > 1 else 0  # a separator was there, even with one alternative left
    out: dict[str, int] = {}
    for part in parts or [norm]:
        for key, rules in _alternative(part.strip()).items():
            out[key] = out.get(key, 0) | rules | listed
    return out


def _alternative(text: str) -> dict[str, int]:
    """Keys of one alternative: itself, and the forms the rules reduce it to."""
    out = {text: 0}
    if _HANGUL.search(text):
        for ending in KOREAN_ENDINGS:
            if text.endswith(ending) and len(text) - len(ending) >= KOREAN_STEM:
                out[text[: -len(ending)]] = KOREAN_ENDING
                break
        return out
    words = text.split()
    rules = 0
    if len(words) > 1 and words[0] in LEADING_WORDS:
        words, rules = words[1:], LEADING_WORD
        out[" ".join(words)] = rules
    for stem in _stems(words[-1]) if words else []:
        out.setdefault(" ".join([*words[:-1], stem]), rules | INFLECTION)
    return out


def _stems(word: str) -> list[str]:
    """The base forms an inflected English word may come from (none when it has no suffix of the list)."""
    if not word.isalpha():
        return []
    found: list[str] = []
    if word.endswith(("ies", "ied", "ily")):
        found = [word[:-3] + "y"]
    elif word.endswith("ly"):
        found = [word[:-2], word[:-1] + "e"] if len(word) - 2 >= 4 else []
    elif word.endswith("ing"):
        found = _undouble(word[:-3])
    elif word.endswith("ed"):
        found = _undouble(word[:-2])
    elif word.endswith("es") and word[-3] in "sxzh":
        found = [word[:-2], word[:-1]]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        found = [word[:-1]]
    return [s for s in found if len(s) >= 3 and _VOWEL.search(s)]


def _undouble(stem: str) -> list[str]:
    """Candidates for a stem left by -ed or -ing: as is, with its silent e, without a doubled consonant."""
    out = [stem, stem + "e"]
    if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeioulsz":
        out.append(stem[:-1])
    return out


@dataclass
class VariantKeys:
    """Every vocabulary row's kept keys, as a CSR over rows."""

    ptr: np.ndarray  # int64[n + 1]: keys of row i are codes[ptr[i]:ptr[i+1]]
    codes: np.ndarray  # int64 dense key codes
    rules: np.ndarray  # uint8 bits of RULES that made each entry's key for its row
    n_keys: int


def no_keys(n_rows: int) -> VariantKeys:
    """No row has a key (variant exclusion off)."""
    import numpy as np

    return VariantKeys(
        ptr=np.zeros(n_rows + 1, dtype=np.int64), codes=np.zeros(0, np.int64), rules=np.zeros(0, np.uint8), n_keys=0
    )


def vocabulary_keys(wh: Warehouse, spelling: np.ndarray, on: bool = True) -> VariantKeys:
    """Every vocabulary row's keys (`spelling`: its code, as etl/steps/mine/data.py ranks `terms.norm`); none when off."""
    if not on:
        return no_keys(len(spelling))
    # The codes `load` gave the norms: their rank among the distinct norms of `terms`.
    rows = wh.con.sql("SELECT dense_rank() OVER (ORDER BY norm) AS code, norm FROM (SELECT DISTINCT norm FROM terms)")
    return row_keys(spelling, dict(rows.fetchall()))


def row_keys(spelling: np.ndarray, texts: dict[int, str]) -> VariantKeys:
    """Keys of every vocabulary row (`spelling`: its spelling code; `texts`: code -> norm), keys of one norm dropped."""
    import numpy as np

    entry_spelling, entry_key, entry_rules = [], [], []
    code_of: dict[str, int] = {}
    for code in np.unique(spelling).tolist():
        for key, rules in keys_of(texts[code]).items():
            entry_spelling.append(code)
            entry_key.append(code_of.setdefault(key, len(code_of)))
            entry_rules.append(rules)
    none = no_keys(len(spelling))
    if not entry_key:
        return none
    dense = np.array(entry_key, dtype=np.int64)
    shared = np.bincount(dense)[dense] >= 2  # (norm, key) entries are distinct: two entries, two norms
    if not shared.any():
        return none
    kept_spelling = np.array(entry_spelling, dtype=np.int64)[shared]
    _, kept_key = np.unique(dense[shared], return_inverse=True)
    kept_rules = np.array(entry_rules, dtype=np.uint8)[shared]
    # Entries by spelling code, then every row takes its spelling's entries.
    order = np.argsort(kept_spelling, kind="stable")
    kept_spelling, kept_key, kept_rules = kept_spelling[order], kept_key.reshape(-1)[order], kept_rules[order]
    start = np.searchsorted(kept_spelling, spelling, side="left")
    stop = np.searchsorted(kept_spelling, spelling, side="right")
    sizes = stop - start
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    entry = np.repeat(start - ptr[:-1], sizes) + np.arange(int(ptr[-1]))
    return VariantKeys(
        ptr=ptr, codes=kept_key[entry].astype(np.int64), rules=kept_rules[entry], n_keys=int(kept_key.max()) + 1
    )


def variant_bound(inputs: MineInputs) -> np.ndarray:
    """Per anchor, at most how many rows share a variant key with it, a positive or a group member."""
    import numpy as np

    out = np.zeros(len(inputs.anchors), dtype=np.int64)
    if not inputs.n_variant_keys:
        return out
    per_key = np.bincount(inputs.variant_keys, minlength=inputs.n_variant_keys)
    weights = per_key[inputs.variant_keys]
    reach = np.bincount(inputs.variant_owner, weights=weights, minlength=len(inputs.ids)).astype(np.int64)
    groups = inputs.group_index[inputs.anchors]
    grouped = groups >= 0
    # An anchor in a group: its group's members (the anchor and its positives among them); else itself and its positives.
    out[~grouped] += reach[inputs.anchors[~grouped]]
    alone = ~grouped[inputs.pair_anchor()]
    np.add.at(out, inputs.pair_anchor()[alone], reach[inputs.pos_rows[alone]])
    if grouped.any():
        member = inputs.group_index >= 0
        per_group = np.bincount(inputs.group_index[member], weights=reach[member], minlength=int(groups.max()) + 1)
        out[grouped] += per_group.astype(np.int64)[groups[grouped]]
    return out


def rule_counts(bits: np.ndarray) -> dict[str, int]:
    """How many of the entries have each rule's bit."""
    return {name: int(((bits & (1 << i)) > 0).sum()) for i, name in enumerate(RULES)}


def terms_linked(ptr: np.ndarray, rules: np.ndarray) -> dict[str, int]:
    """Per rule: the vocabulary terms it gave a key shared with a term of another norm."""
    import numpy as np

    owner = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    return {name: len(np.unique(owner[(rules & (1 << i)) > 0])) for i, name in enumerate(RULES)}


def report(inputs: MineInputs, bands: Bands) -> dict[str, Any]:
    """What variant exclusion did in a run: terms each rule linked, and the (anchor, term) pairs it kept out of a band.

    A pair counts when its exact cosine lies in a band and only a variant key excludes it (not the
    anchor itself, its group, or the norm rule); under each rule that made the shared key on either side.
    """
    import numpy as np

    from etl.negatives import BAND_NAMES
    from etl.vectors import exact_cosine

    if not inputs.variants_on:
        return {"on": False}
    which, rows, bits = inputs.variant_pairs(np.arange(len(inputs.anchors), dtype=np.int64))
    band = bands.classify(exact_cosine(inputs.vecs, inputs.anchors[which], rows))
    inside = band >= 0
    return {
        "on": True,
        "keys": inputs.n_variant_keys,
        "terms": terms_linked(inputs.variant_ptr, inputs.variant_rules),
        "excluded": rule_counts(bits[inside]),
        "excluded_pairs": int(inside.sum()),
        "excluded_by_band": {name: int((band == code).sum()) for code, name in enumerate(BAND_NAMES)},
    }


def describe(counts: dict[str, Any]) -> str:
    """The summary line of a run's variant figures."""
    if not counts.get("on"):
        return "off (--no-variants): only the group and same-norm rules apply"
    by_rule = ", ".join(f"{name} {n:,}" for name, n in counts["excluded"].items() if n) or "none"
    by_band = ", ".join(f"{name} {n:,}" for name, n in counts["excluded_by_band"].items() if n) or "none"
    return f"{counts['excluded_pairs']:,} in-band (anchor, term) pairs excluded ({by_band}; by rule: {by_rule})"


def anchor_key_sets(
    keys: VariantKeys, anchors: np.ndarray, dst: np.ndarray, anchor_index: np.ndarray, group_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted anchor * n_keys + key of each anchor and its positives, and group index * n_keys + key of each group."""
    import numpy as np

    n_keys = keys.n_keys
    owner = np.repeat(np.arange(len(group_index), dtype=np.int64), np.diff(keys.ptr))
    seeds = np.concatenate([np.arange(len(anchors), dtype=np.int64), anchor_index])
    seed_rows = np.concatenate([anchors, dst])
    which, key = expand(seeds, keys.ptr[seed_rows], keys.ptr[seed_rows + 1], keys.codes)
    in_group = group_index[owner] >= 0
    return np.unique(which * n_keys + key), np.unique(group_index[owner[in_group]] * n_keys + keys.codes[in_group])
