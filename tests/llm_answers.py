"""An LLM stand-in for the loopback server: answers every synthesis prompt correctly by reading it."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any


def english(term: str) -> str:
    """A deterministic Hangul-free stand-in translation."""
    return "term " + hashlib.sha1(term.encode()).hexdigest()[:6]


def answer(kind: str, body: dict[str, Any]) -> str:
    """Answer any synthesis prompt correctly, by reading it."""
    prompt = body["messages"][0]["content"]
    if "additional Korean technical terms" in prompt:
        category = re.search(r'category "(.+?)"', prompt).group(1)  # type: ignore[union-attr]
        first_seed = re.search(r"Example terms in this category: ([^,\n]+)", prompt).group(1)  # type: ignore[union-attr]
        new = [f"{category}확장{i}" for i in range(3)]
        return json.dumps({"terms": [first_seed, *new]}, ensure_ascii=False)
    if prompt.startswith("Translate"):
        term = re.search(r"Korean term: (.+)", prompt).group(1)  # type: ignore[union-attr]
        return json.dumps({"primary": english(term), "alternatives": [english(term) + " alt"], "abbreviation": None})
    found = re.search(r"Korean term: (.+)\n- English term: (.+)", prompt)
    assert found is not None, prompt
    ko, en = found.groups()
    pairs = [{"ko": f"{ko} 예문 {i}", "en": f"Example {i} with {en}."} for i in range(3)]
    return json.dumps({"pairs": pairs}, ensure_ascii=False)


JUDGE_ITEM = re.compile(r'^(\d+)\. ANCHOR (".*?") \(synonyms: .*\) \| CANDIDATE (".*")$', re.M)


def judge_items(body: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(item number, anchor, candidate) of every pair a judge request lists."""
    prompt = body["messages"][0]["content"]
    return [(int(n), json.loads(a), json.loads(c)) for n, a, c in JUDGE_ITEM.findall(prompt)]


def verdict_by_hash(anchor: str, candidate: str) -> str:
    """A fixed verdict per pair: about a quarter `same`, the rest `related` or `different`."""
    h = int(hashlib.sha1(f"{anchor}|{candidate}".encode()).hexdigest()[:8], 16)
    return ("same", "related", "different", "different")[h % 4]


def judge(verdict: Any = verdict_by_hash) -> Any:
    """A responder answering every judge request with `verdict(anchor, candidate)` for each of its pairs."""

    def respond(kind: str, body: dict[str, Any]) -> str:
        items = [{"item": n, "verdict": verdict(a, c), "reason": f"{a} vs {c}"} for n, a, c in judge_items(body)]
        return json.dumps({"verdicts": items}, ensure_ascii=False)

    return respond
