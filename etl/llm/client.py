"""The `Client`: chat and embeddings for one model, built from the wire formats, the transport and structured output.

One `Client` talks to one model on one or more servers: `concurrency` requests in flight on daemon
worker threads, spread round-robin over the servers; retries with exponential backoff and jitter on
connection errors, timeouts and 429/500/502/503/504 (never on other 4xx); a bounded number of
attempts. Chat calls never raise for a failed request: they return a `ChatResult` with status
`failed`, so the caller can record it and go on. Embedding batches raise `ServiceError` once their
attempts are spent, because a missing vector cannot be stored.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from etl.config import Settings
from etl.errors import ServiceError
from etl.llm.structured import JSON_FORMS, FormRefused, fall_back, form_advice, json_form, json_form_for
from etl.llm.transport import Transport
from etl.llm.wire import (
    CHAT_PATH,
    EMBED_PATH,
    ChatRequest,
    ChatResult,
    Permanent,
    Transient,
    chat_body,
    embed_body,
    read_chat,
    read_vectors,
)


@dataclass
class _Call:
    """One chat call across its attempts: the last request sent, the last answer, the tokens and errors so far."""

    request: ChatRequest
    call_hash: str
    started: float
    url: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    requests_sent: int = 0  # a refused structured-output form included
    answer: tuple[str, str | None, str | None] = ("", None, None)  # content, thinking, done_reason
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    errors: list[str] = field(default_factory=list)

    def add_tokens(self, prompt: int | None, completion: int | None) -> None:
        """Tokens are summed over attempts: a truncated answer was paid for too."""
        if prompt is not None:
            self.prompt_tokens = (self.prompt_tokens or 0) + prompt
        if completion is not None:
            self.completion_tokens = (self.completion_tokens or 0) + completion

    def result(self, status: str, error: str | None = None) -> ChatResult:
        """The call's ChatResult; a failed call keeps the last fragment of an answer (if any) for reading."""
        content, thinking, done_reason = self.answer
        return ChatResult(
            self.request,
            self.call_hash,
            status,
            self.url,
            self.body,
            self.requests_sent,
            time.monotonic() - self.started,
            content if status == "ok" else content or None,
            thinking,
            done_reason,
            self.prompt_tokens,
            self.completion_tokens,
            error,
        )


class Client(Transport):
    """Chat and embeddings for one model on one or more servers speaking one API."""

    def __init__(
        self,
        urls: Sequence[str],
        api: str = "ollama",
        model: str = "gpt-oss:20b",
        concurrency: int = 4,
        timeout: float = 120.0,
        max_attempts: int = 4,
        think: str = "low",
        num_predict: int = 2048,
        backoff: float = 0.5,
        api_key: str | None = None,
        json_format: str = "auto",
        input_type: str | None = None,
    ) -> None:
        if api not in CHAT_PATH:
            raise ValueError(f"unknown API {api!r}")
        if json_format not in JSON_FORMS:
            raise ValueError(f"unknown structured-output form {json_format!r}")
        if not urls:
            raise ValueError("at least one server URL is needed")
        super().__init__(urls, api, concurrency, timeout, max_attempts, backoff, api_key)
        self.model = model
        self.think = think
        self.num_predict = num_predict
        self.json_format = json_format
        self.input_type = input_type  # sent with every embedding request, for servers that take a role
        self.checked = False  # set once check() has passed

    @classmethod
    def for_chat(cls, settings: Settings) -> Client:
        """The chat client the `llm_*` settings describe."""
        return cls(
            settings.llm_url,
            settings.llm_api,
            settings.llm_model,
            settings.llm_concurrency,
            settings.llm_timeout,
            settings.llm_max_attempts,
            settings.llm_think,
            settings.llm_num_predict,
            settings.llm_backoff,
            json_format=settings.llm_json_format,
        )

    @classmethod
    def for_embeddings(cls, settings: Settings) -> Client:
        """The embedding client: `embedder` API and `embed_model` on `embed_url` (else the LLM servers)."""
        if settings.embedder not in EMBED_PATH:
            raise ValueError(f"embedder {settings.embedder!r} does not use a server")
        return cls(
            settings.embed_urls(),
            settings.embedder,
            settings.embed_model,
            settings.llm_concurrency,
            settings.llm_timeout,
            settings.llm_max_attempts,
            "none",
            settings.llm_num_predict,
            settings.llm_backoff,
            input_type=settings.embed_input_type or None,
        )

    # -- health ------------------------------------------------------------------------------

    def check(self, model: str | None = None) -> None:
        """Raise ServiceError unless every server answers and lists `model` (default: this client's)."""
        model = model or self.model
        self._check_served(model)
        self.checked = self.checked or model == self.model

    def json_fallbacks(self) -> list[str]:
        """This client's servers that get json_object + schema because they refused json_schema."""
        if self.api != "openai" or self.json_format != "auto":
            return []
        return [url for url in self.urls if json_form(url) == "json_object"]

    # -- chat --------------------------------------------------------------------------------

    def call_hash(self, request: ChatRequest) -> str:
        """sha256 of the canonical request: kind, model, messages, schema and the options that shape the answer.

        The server URL, the wire API and num_predict are left out: they change where and how the
        answer is fetched, not what it says, so a cached answer stays valid across them.
        """
        canonical = {
            "kind": "chat",
            "model": self.model,
            "messages": request.messages,
            "schema": request.schema,
            "options": {"temperature": request.temperature, "think": self.think},
        }
        text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def chat(self, request: ChatRequest) -> ChatResult:
        """Send one request with retries; a failure is returned as status `failed`, never raised."""
        started = time.monotonic()
        call = _Call(request, self.call_hash(request), started)
        num_predict = self.num_predict
        attempts = self._attempts()
        for server in attempts:
            call.url = server + CHAT_PATH[self.api]
            form = json_form_for(self.api, self.json_format, server) if request.schema is not None else None
            call.body = chat_body(self.api, self.model, self.think, request, num_predict, form)
            call.requests_sent += 1
            try:
                reply = self._post(call.url, call.body)
                content, thinking, done_reason, prompt, completion = read_chat(self.api, reply)
            except FormRefused as exc:
                if fall_back(self.json_format, server, form):
                    # Not a failed attempt: the same request goes again at once, in the form this server takes.
                    call.errors.append(str(exc))
                    attempts.not_counted()
                    continue
                call.errors.append(f"{exc}; {form_advice(self.json_format, form)}")
                break
            except Permanent as exc:
                call.errors.append(str(exc))
                break
            except Transient as exc:
                call.errors.append(str(exc))
                attempts.failed(exc.retry_after)
            else:
                call.add_tokens(prompt, completion)
                call.answer = (content, thinking, done_reason)
                if done_reason != "length":
                    return call.result("ok")
                # Cut off at the token limit: ask again with twice the room. With empty content (a
                # thinking model that spent the budget thinking) there is nothing to keep. With partial
                # content we retry too: a truncated JSON answer does not parse, and landing the part
                # that does (a list cut after its third item) would pass a fragment off as the answer.
                # When every attempt is cut off, the call fails and the last fragment is kept for reading.
                call.errors.append(f"answer cut off at num_predict={num_predict}")
                num_predict *= 2
        return call.result("failed", f"{call.requests_sent} attempt(s) failed; last: {call.errors[-1]}")

    def chat_ready(self, requests_: Sequence[ChatRequest]) -> Iterator[list[ChatResult]]:
        """Send requests `concurrency` at a time; yield every result finished by the time the consumer asks, as one list.

        A consumer that stores results can then commit all that are ready in one transaction.
        """
        return self._pooled(self.chat, requests_)

    # -- embeddings --------------------------------------------------------------------------

    def embed(self, texts: Sequence[str], batch_size: int = 64, dimensions: int | None = None) -> list[list[float]]:
        """One vector per text, in order; batches of `batch_size` go `concurrency` at a time."""
        vectors: list[list[float]] = [[] for _ in texts]
        for offset, batch in self.embed_batches(texts, batch_size, dimensions):
            vectors[offset : offset + len(batch)] = batch
        return vectors

    def embed_batches(
        self, texts: Sequence[str], batch_size: int = 64, dimensions: int | None = None
    ) -> Iterator[tuple[int, list[list[float]]]]:
        """Yield (offset into `texts`, vectors of that batch) as batches finish, in any order."""
        size = max(1, batch_size)
        offsets = list(range(0, len(texts), size))

        def one(offset: int) -> tuple[int, list[list[float]]]:
            return offset, self.embed_batch(list(texts[offset : offset + size]), dimensions)

        for ready in self._pooled(one, offsets):
            yield from ready

    def embed_batch(self, texts: list[str], dimensions: int | None = None) -> list[list[float]]:
        """Vectors for one batch in one request, with retries; raises ServiceError when it cannot."""
        if not texts:
            return []
        body = embed_body(self.model, texts, dimensions, self.input_type)
        errors: list[str] = []
        attempts = self._attempts()
        for server in attempts:
            url = server + EMBED_PATH[self.api]
            try:
                vectors = read_vectors(self.api, self.model, self._post(url, body), url)
            except Permanent as exc:
                raise ServiceError(f"embedding request failed: {exc}") from exc
            except Transient as exc:
                errors.append(str(exc))
                attempts.failed(exc.retry_after)
            else:
                if len(vectors) == len(texts):
                    return vectors
                errors.append(f"{url} returned {len(vectors)} vectors for {len(texts)} inputs")
                attempts.failed()
        raise ServiceError(f"embedding a batch of {len(texts)} failed after {len(errors)} attempts; last: {errors[-1]}")
