"""The two wire formats a client speaks: Ollama's native API and the OpenAI-compatible one.

Request building (the chat and embedding bodies, the paths per API) and response parsing (a chat
reply's content, thinking, stop reason and token counts; embedding vectors; a server's model list;
its error text). No I/O here: the transport sends what these functions build and hands back the
replies they read. A reply that cannot be read raises `Transient` when asking again may help (a
garbled body) and `Permanent` when it cannot (vectors of the wrong kind).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests

CHAT_PATH = {"ollama": "/api/chat", "openai": "/v1/chat/completions"}
EMBED_PATH = {"ollama": "/api/embed", "openai": "/v1/embeddings"}
MODELS_PATH = {"ollama": "/api/tags", "openai": "/v1/models"}
THINK_TAG = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


@dataclass
class ChatRequest:
    """One chat request: the task it serves, its messages, the JSON schema of the answer, a temperature."""

    task: str
    messages: list[dict[str, str]]
    schema: dict[str, Any] | None = None
    temperature: float = 0.7


@dataclass
class ChatResult:
    """What became of one chat request after all its attempts."""

    request: ChatRequest
    call_hash: str
    status: str  # ok | failed
    url: str
    sent: dict[str, Any]  # the body of the last attempt, as sent (no credentials are ever in it)
    attempts: int
    duration_s: float
    content: str | None = None
    thinking: str | None = None
    done_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the server answered with a complete message."""
        return self.status == "ok"


class Transient(Exception):
    """A failure worth retrying (connection, timeout, 429/5xx, garbled body)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Permanent(Exception):
    """A failure that retrying cannot fix (400, 401, 404, ...)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def base_url(url: str) -> str:
    """A server's base URL: trailing slashes and a trailing /v1 removed (paths are added per API)."""
    url = url.strip().rstrip("/")
    return url[:-3] if url.endswith("/v1") else url


def chat_body(
    api: str, model: str, think: str, request: ChatRequest, num_predict: int, form: str | None = None
) -> dict[str, Any]:
    """The chat request body in `api`'s format; `form` is the structured-output form for an OpenAI server."""
    if api == "ollama":
        body: dict[str, Any] = {
            "model": model,
            "messages": request.messages,
            "stream": False,
            "options": {"temperature": request.temperature, "num_predict": num_predict},
        }
        if request.schema is not None:
            body["format"] = request.schema
        if think != "none":
            body["think"] = think
        return body
    body = {
        "model": model,
        "messages": request.messages,
        "stream": False,
        "temperature": request.temperature,
        "max_tokens": num_predict,
    }
    if request.schema is not None and form == "json_object":
        body["response_format"] = {"type": "json_object", "schema": request.schema}
    elif request.schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": request.task, "schema": request.schema, "strict": True},
        }
    if think != "none":
        body["reasoning_effort"] = think
    return body


def embed_body(
    model: str, texts: list[str], dimensions: int | None = None, input_type: str | None = None
) -> dict[str, Any]:
    """The embedding request body, the same in both APIs; `input_type` ("query"/"passage") only when given."""
    body: dict[str, Any] = {"model": model, "input": texts}
    if dimensions is not None:
        body["dimensions"] = dimensions
    if input_type is not None:
        body["input_type"] = input_type
    return body


def read_chat(api: str, reply: dict[str, Any]) -> tuple[str, str | None, str | None, int | None, int | None]:
    """(content, thinking, done_reason, prompt_tokens, completion_tokens) from either wire format."""
    try:
        if api == "ollama":
            message = reply["message"]
            content, thinking = message.get("content") or "", message.get("thinking")
            done_reason = reply.get("done_reason")
            prompt, completion = reply.get("prompt_eval_count"), reply.get("eval_count")
        else:
            choice = reply["choices"][0]
            message = choice["message"]
            content = message.get("content") or ""
            thinking = message.get("reasoning_content") or message.get("reasoning")
            done_reason = choice.get("finish_reason")
            usage = reply.get("usage") or {}
            prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise Transient(f"answer without a message ({type(exc).__name__}: {exc})") from exc
    if not isinstance(content, str):
        raise Transient(f"message content is {type(content).__name__}, not text")
    tagged = THINK_TAG.match(content)
    if tagged and not thinking:
        # Some servers inline the reasoning as <think>...</think>; keep it apart from the answer.
        thinking, content = tagged.group(1).strip(), content[tagged.end() :]
    return content, thinking or None, done_reason, _int(prompt), _int(completion)


def read_models(api: str, data: Any) -> list[str]:
    """The model names in an /api/tags or /v1/models answer; a list of another shape raises."""
    if api == "ollama":
        return [str(m.get("name") or m.get("model")) for m in data.get("models", [])]
    return [str(m["id"]) for m in data.get("data", [])]


def read_vectors(api: str, model: str, reply: dict[str, Any], url: str) -> list[list[float]]:
    """One flat vector per input; a garbled answer is transient, vectors of the wrong kind are not."""
    try:
        if api == "ollama":
            raw = reply["embeddings"]
        else:
            raw = [item["embedding"] for item in sorted(reply["data"], key=lambda item: item.get("index", 0))]
        if not isinstance(raw, list):
            raise TypeError(f"embeddings are a {type(raw).__name__}, not a list")
    except (KeyError, TypeError, AttributeError) as exc:
        raise Transient(f"answer without embeddings ({type(exc).__name__}: {exc})") from exc
    vectors = []
    for position, vector in enumerate(raw):
        try:
            if not isinstance(vector, list):
                raise TypeError(type(vector).__name__)
            vectors.append([float(v) for v in vector])
        except (TypeError, ValueError) as exc:
            raise Permanent(_not_flat_message(url, model, position, vector), 200) from exc
    return vectors


def _not_flat_message(url: str, model: str, position: int, vector: Any) -> str:
    """Why a returned embedding is unusable, and what to change on the server."""
    if isinstance(vector, list) and vector and all(isinstance(v, list) for v in vector):
        return (
            f"{url} returned one vector per token ({len(vector)} for input {position}) instead of one "
            f"per text, so it does not pool '{model}'; for llama.cpp's server restart it with "
            "`--embedding true --kv_overrides llama.pooling_type=int:1`, otherwise serve a model with a "
            "pooling type (an embedding model)"
        )
    return (
        f"{url} returned an embedding for input {position} that is not a list of numbers "
        f"({type(vector).__name__}); check that '{model}' is an embedding model"
    )


def error_text(response: requests.Response) -> str:
    """The server's error message in either API's shape, else the start of the body."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:200].strip() or response.reason or "no message"
    if isinstance(error, dict):
        error = error.get("message")
    return str(error or response.reason or "no message")[:300]


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
