"""What the judge asks the LLM and how it reads the answers: the prompt, its schema, and the verdict parser.

Pure functions, no warehouse. One request carries several (anchor, negative) pairs, numbered from 1;
the answer holds one verdict per number. A pair whose verdict is missing, unreadable or outside
`same | related | different` becomes a `Reject` of its own: the other pairs of the answer still land.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl.errors import ConfigError
from etl.llm import ChatRequest, extract_json
from etl.llm.ledger import Reject
from etl.negatives import VERDICTS

ITEMS = "{items}"  # where a prompt template takes the numbered pairs
SYNONYMS_SHOWN = 8  # positives listed per anchor at most (the first by term_id)
REASON_CHARS = 300  # a longer reason is cut to this many characters

# Written for gpt-oss:20b: the three verdicts defined by what a retrieval model should learn, the
# pairs as numbered lines, and the answer as one JSON object (the schema travels with the request).
DEFAULT_PROMPT = """You check training data for a Korean/English search model. Each item below pairs an ANCHOR term \
(with its known synonyms) and a CANDIDATE term that the data will teach the model to rank BELOW the anchor's \
synonyms, as a different meaning.

For each item decide:
- "same": the candidate means the same as the anchor or one of its synonyms: a synonym, a translation into the \
other language, a spelling or word-form variant, an abbreviation or its expansion. A search for one should find \
the other.
- "related": the candidate is about the same topic or is a broader, narrower or neighbouring concept, but not the \
same meaning.
- "different": the candidate means something else.

Items:
{items}

Answer with one JSON object and nothing else:
{"verdicts": [{"item": 1, "verdict": "same|related|different", "reason": "at most 12 words"}, ...]}
with exactly one entry per item, in item order."""

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdicts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "item": {"type": "integer"},
                    "verdict": {"type": "string", "enum": list(VERDICTS)},
                    "reason": {"type": "string"},
                },
                "required": ["item", "verdict", "reason"],
            },
        }
    },
    "required": ["verdicts"],
}


@dataclass(frozen=True)
class Pair:
    """One (anchor, negative) pair to judge, with the texts the prompt shows."""

    anchor_id: int
    negative_id: int
    anchor: str
    negative: str
    synonyms: tuple[str, ...]
    band: str
    similarity: float

    @property
    def source(self) -> str:
        """How a reject names the pair (`rejects.source`)."""
        return f"{self.anchor} → {self.negative}"


@dataclass(frozen=True)
class Verdict:
    """The judge's answer on one pair."""

    pair: Pair
    verdict: str
    reason: str


def load_prompt(path: str) -> str:
    """The prompt template: the file at `path` (it must hold {items}), or the built-in one when `path` is empty."""
    if not path:
        return DEFAULT_PROMPT
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the judge prompt {path}: {exc}") from exc
    if ITEMS not in text:
        raise ConfigError(f"the judge prompt {path} has no {ITEMS} placeholder: where should the pairs go?")
    return text


def item_lines(pairs: Sequence[Pair]) -> str:
    """The numbered pairs as the prompt lists them."""
    lines = []
    for number, pair in enumerate(pairs, 1):
        shown = ", ".join(json.dumps(s, ensure_ascii=False) for s in pair.synonyms[:SYNONYMS_SHOWN]) or "(none)"
        anchor, candidate = (json.dumps(t, ensure_ascii=False) for t in (pair.anchor, pair.negative))
        lines.append(f"{number}. ANCHOR {anchor} (synonyms: {shown}) | CANDIDATE {candidate}")
    return "\n".join(lines)


def request(pairs: Sequence[Pair], template: str, temperature: float) -> ChatRequest:
    """One request judging `pairs` (their order is the item numbering)."""
    prompt = template.replace(ITEMS, item_lines(pairs))
    return ChatRequest("judge", [{"role": "user", "content": prompt}], SCHEMA, temperature)


def parse(content: str, pairs: Sequence[Pair]) -> tuple[list[Verdict], list[tuple[Pair, Reject]]]:
    """The verdicts an answer gives `pairs`, and a reject for every pair it gives none (or a bad one)."""
    if not content.strip():
        return [], [(p, Reject("empty_answer", "the judge's answer is empty", content)) for p in pairs]
    try:
        value = extract_json(content)
    except ValueError:
        return [], [(p, Reject("not_json", "the judge's answer holds no JSON", content)) for p in pairs]
    entries = value.get("verdicts") if isinstance(value, dict) else value
    if not isinstance(entries, list):
        reason = "the judge's answer has no list of verdicts"
        return [], [(p, Reject("wrong_shape", reason, content)) for p in pairs]
    found: dict[int, list[Any]] = {}
    for entry in entries:
        number = entry.get("item") if isinstance(entry, dict) else None
        if isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= len(pairs):
            found.setdefault(number, []).append(entry)
    verdicts, rejects = [], []
    for number, pair in enumerate(pairs, 1):
        answer, refused = _one(found.get(number, []), number)
        if refused is not None:
            rejects.append((pair, refused))
        else:
            verdicts.append(Verdict(pair, *answer))
    return verdicts, rejects


def _one(entries: list[Any], number: int) -> tuple[tuple[str, str], Reject | None]:
    """(verdict, reason) of one item from its entries in the answer, or why there is none."""
    if not entries:
        return ("", ""), Reject("missing_verdict", f"the judge's answer has no verdict for item {number}", "")
    payload = json.dumps(entries[0] if len(entries) == 1 else entries, ensure_ascii=False)
    readings = {(_verdict(e.get("verdict")), _reason(e.get("reason"))) for e in entries}
    verdicts = {verdict for verdict, _ in readings}
    if len(verdicts) > 1:
        return ("", ""), Reject("conflicting_verdicts", f"the judge's answer gives item {number} two verdicts", payload)
    verdict, reason = sorted(readings)[0]
    if verdict is None:
        allowed = " | ".join(VERDICTS)
        return ("", ""), Reject("bad_verdict", f"item {number}'s verdict is not one of {allowed}", payload)
    return (verdict, reason), None


def _verdict(value: Any) -> str | None:
    """A verdict as the answer wrote it, normalised (case, spaces, quotes), or None when it is none of VERDICTS."""
    if not isinstance(value, str):
        return None
    word = value.strip().strip("\"'`.").casefold()
    return word if word in VERDICTS else None


def _reason(value: Any) -> str:
    """The reason as text, cut to REASON_CHARS characters."""
    text = value if isinstance(value, str) else "" if value is None else json.dumps(value, ensure_ascii=False)
    return " ".join(text.split())[:REASON_CHARS]
