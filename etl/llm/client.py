"""HTTP clients for LLM chat and embeddings over the Ollama native and OpenAI-compatible APIs.

One `Client` talks to one model on one or more servers: `concurrency` requests in flight on daemon
worker threads, spread round-robin over the servers; retries with exponential backoff and jitter on
connection errors, timeouts and 429/500/502/503/504 (never on other 4xx); a bounded number of
attempts. Chat calls never raise for a failed request: they return a `ChatResult` with status
`failed`, so the caller can record it and go on. Embedding batches raise `ServiceError` once their
attempts are spent, because a missing vector cannot be stored.

Structured output on OpenAI-compatible servers comes in two wire forms: OpenAI's
`{"type": "json_schema", "json_schema": {...}}` (vLLM, LM Studio, Ollama's /v1) and
`{"type": "json_object", "schema": {...}}` (llama.cpp's Python server, which refuses the first).
With `json_format="auto"` a server that refuses the first form gets the request again in the
second, and the choice is remembered per server URL for the rest of the process.

The API key for OpenAI-compatible servers comes from `ETL_LLM_API_KEY` only and travels only in the
Authorization header: never in a request body, a result, an error message or a log line.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests

from etl.config import Settings
from etl.errors import ServiceError

API_KEY_ENV = "ETL_LLM_API_KEY"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
BACKOFF_CAP = 30.0
CHAT_PATH = {"ollama": "/api/chat", "openai": "/v1/chat/completions"}
EMBED_PATH = {"ollama": "/api/embed", "openai": "/v1/embeddings"}
MODELS_PATH = {"ollama": "/api/tags", "openai": "/v1/models"}
JSON_FORMS = ("auto", "json_schema", "json_object")
_THINK_TAG = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)
_FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)

T = TypeVar("T")
R = TypeVar("R")


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


class _Transient(Exception):
    """A failure worth retrying (connection, timeout, 429/5xx, garbled body)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Permanent(Exception):
    """A failure that retrying cannot fix (400, 401, 404, ...)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _FormRefused(_Permanent):
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


@dataclass
class _Attempt:
    """Counters carried across the attempts of one call."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    errors: list[str] = field(default_factory=list)

    def add_tokens(self, prompt: int | None, completion: int | None) -> None:
        """Tokens are summed over attempts: a truncated answer was paid for too."""
        if prompt is not None:
            self.prompt_tokens = (self.prompt_tokens or 0) + prompt
        if completion is not None:
            self.completion_tokens = (self.completion_tokens or 0) + completion


class Client:
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
    ) -> None:
        if api not in CHAT_PATH:
            raise ValueError(f"unknown API {api!r}")
        if json_format not in JSON_FORMS:
            raise ValueError(f"unknown structured-output form {json_format!r}")
        if not urls:
            raise ValueError("at least one server URL is needed")
        self.urls = tuple(base_url(u) for u in urls)
        self.api = api
        self.model = model
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.think = think
        self.num_predict = num_predict
        self.backoff = backoff
        self.json_format = json_format
        self._api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._next_url = 0
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
        )

    # -- health ------------------------------------------------------------------------------

    def check(self, model: str | None = None) -> None:
        """Raise ServiceError unless every server answers and lists `model` (default: this client's)."""
        model = model or self.model
        for url in self.urls:
            served = self._served_models(url)
            if not any(_same_model(model, name) for name in served):
                raise ServiceError(self._missing_model_message(url, model, served))
        self.checked = self.checked or model == self.model

    def json_fallbacks(self) -> list[str]:
        """This client's servers that get json_object + schema because they refused json_schema."""
        if self.api != "openai" or self.json_format != "auto":
            return []
        return [url for url in self.urls if json_form(url) == "json_object"]

    def _served_models(self, url: str) -> list[str]:
        target = url + MODELS_PATH[self.api]
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._session().get(target, headers=self._headers(), timeout=min(10.0, self.timeout))
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise ServiceError(self._unreachable_message(url, exc)) from exc
            if response.status_code in RETRY_STATUS and attempt < self.max_attempts:
                time.sleep(self._delay(attempt, _retry_after(response)))
                continue
            if response.status_code in (401, 403):
                raise ServiceError(
                    f"{url} refused the request (HTTP {response.status_code}); set {API_KEY_ENV} to a valid API key"
                )
            if response.status_code != 200:
                raise ServiceError(
                    f"{target} answered HTTP {response.status_code} ({_error_text(response)}); "
                    f"check that it is an {self.api} server (--llm-api ollama|openai)"
                )
            try:
                data = response.json()
                if self.api == "ollama":
                    return [str(m.get("name") or m.get("model")) for m in data.get("models", [])]
                return [str(m["id"]) for m in data.get("data", [])]
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise ServiceError(f"{target} sent a model list this client cannot read; check --llm-api") from exc
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _unreachable_message(self, url: str, exc: Exception) -> str:
        what = "Ollama server" if self.api == "ollama" else "OpenAI-compatible server"
        start = "start it with `ollama serve`" if self.api == "ollama" else "start it (for Ollama: `ollama serve`)"
        return f"cannot reach the {what} at {url} ({type(exc).__name__}); {start} or point --llm-url at a running one"

    def _missing_model_message(self, url: str, model: str, served: list[str]) -> str:
        listed = ", ".join(served[:8]) + (", ..." if len(served) > 8 else "") if served else "none"
        if self.api == "ollama":
            return f"model '{model}' is not on {url} (it has: {listed}); run `ollama pull {model}`"
        return (
            f"model '{model}' is not served by {url} (it serves: {listed}); "
            f"load it there (for Ollama: `ollama pull {model}`)"
        )

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
        call_hash = self.call_hash(request)
        num_predict = self.num_predict
        first = self._pick_url()
        tally = _Attempt()
        url, body = "", {}
        answer: tuple[str, str | None, str | None] = ("", None, None)
        sent = attempt = 0  # requests sent (a refused structured-output form included); attempts used
        while attempt < self.max_attempts:
            attempt += 1
            server = self.urls[(first + attempt - 1) % len(self.urls)]
            url = server + CHAT_PATH[self.api]
            form = self._json_form_for(server) if request.schema is not None else None
            body = self._chat_body(request, num_predict, form)
            retry_after: float | None = None
            sent += 1
            try:
                reply = self._post(url, body)
                content, thinking, done_reason, prompt, completion = self._read_chat(reply)
            except _FormRefused as exc:
                if self._fall_back(server, form):
                    # Not a failed attempt: the same request goes again at once, in the form this server takes.
                    tally.errors.append(str(exc))
                    attempt -= 1
                    continue
                tally.errors.append(f"{exc}; {self._form_advice(form)}")
                break
            except _Permanent as exc:
                tally.errors.append(str(exc))
                break
            except _Transient as exc:
                tally.errors.append(str(exc))
                retry_after = exc.retry_after
            else:
                tally.add_tokens(prompt, completion)
                answer = (content, thinking, done_reason)
                if done_reason != "length":
                    return ChatResult(
                        request,
                        call_hash,
                        "ok",
                        url,
                        body,
                        sent,
                        time.monotonic() - started,
                        content,
                        thinking,
                        done_reason,
                        tally.prompt_tokens,
                        tally.completion_tokens,
                    )
                # Cut off at the token limit: ask again with twice the room. With empty content (a
                # thinking model that spent the budget thinking) there is nothing to keep. With partial
                # content we retry too: a truncated JSON answer does not parse, and landing the part
                # that does (a list cut after its third item) would pass a fragment off as the answer.
                # When every attempt is cut off, the call fails and the last fragment is kept for reading.
                tally.errors.append(f"answer cut off at num_predict={num_predict}")
                num_predict *= 2
                continue
            if attempt < self.max_attempts:
                time.sleep(self._delay(attempt, retry_after))
        content, thinking, done_reason = answer
        return ChatResult(
            request,
            call_hash,
            "failed",
            url,
            body,
            sent,
            time.monotonic() - started,
            content or None,
            thinking,
            done_reason,
            tally.prompt_tokens,
            tally.completion_tokens,
            f"{sent} attempt(s) failed; last: {tally.errors[-1]}",
        )

    def _json_form_for(self, server: str) -> str | None:
        """The structured-output form to send to a server (None: the Ollama API has only one)."""
        if self.api != "openai":
            return None
        if self.json_format != "auto":
            return self.json_format
        return json_form(server) or "json_schema"

    def _fall_back(self, server: str, refused: str | None) -> bool:
        """Move a server that refused json_schema to json_object (auto mode only); True when moved."""
        if self.json_format != "auto" or refused != "json_schema":
            return False
        with _json_forms_lock:
            _json_forms[server] = "json_object"
        return True

    def _form_advice(self, refused: str | None) -> str:
        if self.json_format == "auto":
            return "the server refused both structured-output forms (json_schema and json_object)"
        other = "json_object" if refused == "json_schema" else "json_schema"
        return f"the server refused response_format {refused}; set llm_json_format = auto (or {other})"

    def chat_many(self, requests_: Sequence[ChatRequest]) -> Iterator[ChatResult]:
        """Send requests `concurrency` at a time; yield each result as soon as it is finished."""
        for ready in self._pooled(self.chat, requests_):
            yield from ready

    def chat_ready(self, requests_: Sequence[ChatRequest]) -> Iterator[list[ChatResult]]:
        """Like chat_many, but yield every result finished by the time the consumer asks, as one list.

        A consumer that stores results can then commit all that are ready in one transaction.
        """
        return self._pooled(self.chat, requests_)

    def _chat_body(self, request: ChatRequest, num_predict: int, form: str | None = None) -> dict[str, Any]:
        if self.api == "ollama":
            body: dict[str, Any] = {
                "model": self.model,
                "messages": request.messages,
                "stream": False,
                "options": {"temperature": request.temperature, "num_predict": num_predict},
            }
            if request.schema is not None:
                body["format"] = request.schema
            if self.think != "none":
                body["think"] = self.think
            return body
        body = {
            "model": self.model,
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
        if self.think != "none":
            body["reasoning_effort"] = self.think
        return body

    def _read_chat(self, reply: dict[str, Any]) -> tuple[str, str | None, str | None, int | None, int | None]:
        """(content, thinking, done_reason, prompt_tokens, completion_tokens) from either wire format."""
        try:
            if self.api == "ollama":
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
            raise _Transient(f"answer without a message ({type(exc).__name__}: {exc})") from exc
        if not isinstance(content, str):
            raise _Transient(f"message content is {type(content).__name__}, not text")
        tagged = _THINK_TAG.match(content)
        if tagged and not thinking:
            # Some servers inline the reasoning as <think>...</think>; keep it apart from the answer.
            thinking, content = tagged.group(1).strip(), content[tagged.end() :]
        return content, thinking or None, done_reason, _int(prompt), _int(completion)

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
        body: dict[str, Any] = {"model": self.model, "input": texts}
        if dimensions is not None:
            body["dimensions"] = dimensions
        first = self._pick_url()
        errors: list[str] = []
        for attempt in range(1, self.max_attempts + 1):
            url = self.urls[(first + attempt - 1) % len(self.urls)] + EMBED_PATH[self.api]
            retry_after: float | None = None
            try:
                vectors = self._read_vectors(self._post(url, body), url)
            except _Permanent as exc:
                raise ServiceError(f"embedding request failed: {exc}") from exc
            except _Transient as exc:
                errors.append(str(exc))
                retry_after = exc.retry_after
            else:
                if len(vectors) == len(texts):
                    return vectors
                errors.append(f"{url} returned {len(vectors)} vectors for {len(texts)} inputs")
            if attempt < self.max_attempts:
                time.sleep(self._delay(attempt, retry_after))
        raise ServiceError(f"embedding a batch of {len(texts)} failed after {len(errors)} attempts; last: {errors[-1]}")

    def _read_vectors(self, reply: dict[str, Any], url: str) -> list[list[float]]:
        """One flat vector per input; a garbled answer is transient, vectors of the wrong kind are not."""
        try:
            if self.api == "ollama":
                raw = reply["embeddings"]
            else:
                raw = [item["embedding"] for item in sorted(reply["data"], key=lambda item: item.get("index", 0))]
            if not isinstance(raw, list):
                raise TypeError(f"embeddings are a {type(raw).__name__}, not a list")
        except (KeyError, TypeError, AttributeError) as exc:
            raise _Transient(f"answer without embeddings ({type(exc).__name__}: {exc})") from exc
        vectors = []
        for position, vector in enumerate(raw):
            try:
                if not isinstance(vector, list):
                    raise TypeError(type(vector).__name__)
                vectors.append([float(v) for v in vector])
            except (TypeError, ValueError) as exc:
                raise _Permanent(self._not_flat_message(url, position, vector), 200) from exc
        return vectors

    def _not_flat_message(self, url: str, position: int, vector: Any) -> str:
        """Why a returned embedding is unusable, and what to change on the server."""
        if isinstance(vector, list) and vector and all(isinstance(v, list) for v in vector):
            return (
                f"{url} returned one vector per token ({len(vector)} for input {position}) instead of one "
                f"per text, so it does not pool '{self.model}'; for llama.cpp's server restart it with "
                "`--embedding true --kv_overrides llama.pooling_type=int:1`, otherwise serve a model with a "
                "pooling type (an embedding model)"
            )
        return (
            f"{url} returned an embedding for input {position} that is not a list of numbers "
            f"({type(vector).__name__}); check that '{self.model}' is an embedding model"
        )

    # -- transport ---------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        """One keep-alive session per thread: requests.Session is not safe to share between threads."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _headers(self) -> dict[str, str]:
        if self.api == "openai" and self._api_key:
            return {"Authorization": f"Bearer {self._api_key}"}
        return {}

    def _pick_url(self) -> int:
        with self._lock:
            index = self._next_url
            self._next_url = (index + 1) % len(self.urls)
        return index

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON; return the JSON reply, or raise _Transient / _Permanent."""
        try:
            response = self._session().post(
                url, json=body, headers=self._headers(), timeout=(min(10.0, self.timeout), self.timeout)
            )
        except requests.Timeout as exc:
            raise _Transient(f"no answer from {url} within {self.timeout:g}s") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise _Transient(f"connection to {url} failed ({type(exc).__name__})") from exc
        except requests.RequestException as exc:
            raise _Permanent(f"cannot send to {url} ({type(exc).__name__}: {exc})", 0) from exc
        if response.status_code != 200:
            message = f"HTTP {response.status_code} from {url}: {_error_text(response)}"
            if "response_format" in body and _names_response_format(response.text):
                # Checked before the status: llama.cpp's server refuses json_schema with a 500.
                raise _FormRefused(message, response.status_code)
            if response.status_code in RETRY_STATUS:
                raise _Transient(message, _retry_after(response))
            raise _Permanent(message, response.status_code)
        try:
            data = response.json()
        except ValueError as exc:
            raise _Transient(f"{url} sent a body that is not JSON: {response.text[:120]!r}") from exc
        if not isinstance(data, dict):
            raise _Transient(f"{url} sent JSON that is not an object")
        return data

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, or the server's Retry-After when it is sooner than the cap."""
        if retry_after is not None and 0 <= retry_after <= BACKOFF_CAP:
            return retry_after
        ceiling = min(BACKOFF_CAP, self.backoff * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _pooled(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[list[R]]:
        """Run `fn` over `items` on `concurrency` daemon threads; yield the results finished so far.

        Each yield waits for at least one result and takes all others already done, in finishing
        order. Daemon threads, so an interrupted run exits at once instead of waiting out calls in
        flight. A worker's exception is re-raised here; closing the iterator stops handing out work.
        """
        todo: queue.SimpleQueue[T] = queue.SimpleQueue()
        done: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        for item in items:
            todo.put(item)
        stop = threading.Event()

        def work() -> None:
            while not stop.is_set():
                try:
                    item = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((True, fn(item)))
                except BaseException as exc:  # handed to the consuming thread, which re-raises it
                    done.put((False, exc))

        def results() -> Iterator[list[R]]:
            for n in range(min(self.concurrency, len(items))):
                threading.Thread(target=work, name=f"etl-llm-{n}", daemon=True).start()
            left = len(items)
            try:
                while left:
                    ready = [done.get()]
                    while len(ready) < left:
                        try:
                            ready.append(done.get_nowait())
                        except queue.Empty:
                            break
                    left -= len(ready)
                    for ok, value in ready:
                        if not ok:
                            raise value
                    yield [value for _, value in ready]
            finally:
                stop.set()

        return results()


def base_url(url: str) -> str:
    """A server's base URL: trailing slashes and a trailing /v1 removed (paths are added per API)."""
    url = url.strip().rstrip("/")
    return url[:-3] if url.endswith("/v1") else url


def extract_json(text: str) -> Any:
    """The JSON value in an answer: whole, fenced, or the longest object/array inside chatter.

    Raises ValueError when there is none. Nested objects are handled by the JSON decoder itself,
    not by a regular expression.
    """
    text = _THINK_TAG.sub("", text, count=1).strip()
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


def _same_model(wanted: str, listed: str) -> bool:
    """Ollama implies the `:latest` tag when none is given."""
    return wanted == listed or f"{wanted}:latest" == listed or wanted == f"{listed}:latest"


def _error_text(response: requests.Response) -> str:
    """The server's error message in either API's shape, else the start of the body."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:200].strip() or response.reason or "no message"
    if isinstance(error, dict):
        error = error.get("message")
    return str(error or response.reason or "no message")[:300]


def _names_response_format(text: str) -> bool:
    """True when an error body is about the request's structured-output field."""
    lowered = text.lower()
    return "response_format" in lowered or "json_schema" in lowered


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
