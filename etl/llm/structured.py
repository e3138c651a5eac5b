"""Structured output: the form a JSON schema travels in, the fallback between forms, and JSON read out of answers.

Structured output on OpenAI-compatible servers comes in two wire forms: OpenAI's
`{"type": "json_schema", "json_schema": {...}}` (vLLM, LM Studio, Ollama's /v1) and
`{"type": "json_object", "schema": {...}}` (llama.cpp's Python server, which refuses the first).
With `json_format="auto"` a server that refuses the first form gets the request again in the
second, and the choice is remembered per server URL for the rest of the process. The Ollama API has
one form only: the schema as `format`.

Whatever the form, an answer may still wrap its JSON in reasoning, a code fence or chatter;
`extract_json` finds the value inside.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from etl.llm.wire import THINK_TAG, Permanent, base_url

JSON_FORMS = ("auto", "json_schema", "json_object")
_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)


class FormRefused(Permanent):
    """The server refused the request's `response_format` (its error names response_format/json_schema)."""


# Server base URL → the structured-output form it accepted (or was moved to after refusing the other).
_json_forms: dict[str, str] = {}
_json_forms_lock = threading.Lock()


def json_form(url: str) -> str | None:
    """The structured-output form remembered for a server, if any."""
    with _json_forms_lock:
        return _json_forms.get(base_url(url))


def forget_json_forms() -> None:
    """Forget every remembered structured-output form (the next request to each server probes again)."""
    with _json_forms_lock:
        _json_forms.clear()


def json_form_for(api: str, json_format: str, server: str) -> str | None:
    """The structured-output form to send to a server (None: the Ollama API has only one)."""
    if api != "openai":
        return None
    if json_format != "auto":
        return json_format
    return json_form(server) or "json_schema"


def fall_back(json_format: str, server: str, refused: str | None) -> bool:
    """Move a server that refused json_schema to json_object (auto mode only); True when moved."""
    if json_format != "auto" or refused != "json_schema":
        return False
    with _json_forms_lock:
        _json_forms[server] = "json_object"
    return True


def form_advice(json_format: str, refused: str | None) -> str:
    """What to change when a server refused the structured-output form it was sent and there is no fallback."""
    if json_format == "auto":
        return "the server refused both structured-output forms (json_schema and json_object)"
    other = "json_object" if refused == "json_schema" else "json_schema"
    return f"the server refused response_format {refused}; set llm_json_format = auto (or {other})"


def extract_json(text: str) -> Any:
    """The JSON value in an answer: whole, fenced, or the longest object/array inside chatter.

    Raises ValueError when there is none. Nested objects are handled by the JSON decoder itself,
    not by a regular expression.
    """
    text = THINK_TAG.sub("", text, count=1).strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for fenced in _FENCE.findall(text):
        try:
            return json.loads(fenced.strip())
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    best: tuple[int, Any] | None = None
    i = 0
    while i < len(text):
        if text[i] not in "{[":
            i += 1
            continue
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        if best is None or end - i > best[0]:
            best = (end - i, value)
        i = end
    if best is None:
        raise ValueError("no JSON object or array in the answer")
    return best[1]


def names_response_format(text: str) -> bool:
    """True when an error body is about the request's structured-output field."""
    lowered = text.lower()
    return "response_format" in lowered or "json_schema" in lowered
