"""The transport under a client: HTTP sessions, retry delays, round-robin over servers, a worker pool, health.

Requests go out on one keep-alive session per thread, `concurrency` at a time on daemon worker
threads, spread round-robin over the servers. A failed request is retried after an exponential
backoff with jitter (or the server's Retry-After, when it is sooner than the cap) on connection
errors, timeouts and 429/500/502/503/504, never on other 4xx; the number of attempts is bounded.
The health check asks each server for the models it serves and turns what goes wrong (no server, a
wrong API, a missing model) into one sentence saying what to do.

The API key for OpenAI-compatible servers comes from `ETL_LLM_API_KEY` only and travels only in the
Authorization header: never in a request body, a result, an error message or a log line.
"""

from __future__ import annotations

import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import requests

from etl.errors import ServiceError
from etl.llm.structured import FormRefused, names_response_format
from etl.llm.wire import MODELS_PATH, Permanent, Transient, base_url, error_text, read_models

API_KEY_ENV = "ETL_LLM_API_KEY"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
BACKOFF_CAP = 30.0

T = TypeVar("T")
R = TypeVar("R")


class Transport:
    """Sessions, retry delays, round-robin and a worker pool over servers speaking one API (what `Client` builds on)."""

    def __init__(
        self,
        urls: Sequence[str],
        api: str,
        concurrency: int,
        timeout: float,
        max_attempts: int,
        backoff: float,
        api_key: str | None,
    ) -> None:
        self.urls = tuple(base_url(u) for u in urls)
        self.api = api
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self._api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._next_url = 0

    # -- health ------------------------------------------------------------------------------

    def _check_served(self, model: str) -> None:
        """Raise ServiceError unless every server answers and lists `model`."""
        for url in self.urls:
            served = self._served_models(url)
            if not any(_same_model(model, name) for name in served):
                raise ServiceError(self._missing_model_message(url, model, served))

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
                    f"{target} answered HTTP {response.status_code} ({error_text(response)}); "
                    f"check that it is an {self.api} server (--llm-api ollama|openai)"
                )
            try:
                return read_models(self.api, response.json())
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
        """POST JSON; return the JSON reply, or raise Transient / Permanent."""
        try:
            response = self._session().post(
                url, json=body, headers=self._headers(), timeout=(min(10.0, self.timeout), self.timeout)
            )
        except requests.Timeout as exc:
            raise Transient(f"no answer from {url} within {self.timeout:g}s") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise Transient(f"connection to {url} failed ({type(exc).__name__})") from exc
        except requests.RequestException as exc:
            raise Permanent(f"cannot send to {url} ({type(exc).__name__}: {exc})", 0) from exc
        if response.status_code != 200:
            message = f"HTTP {response.status_code} from {url}: {error_text(response)}"
            if "response_format" in body and names_response_format(response.text):
                # Checked before the status: llama.cpp's server refuses json_schema with a 500.
                raise FormRefused(message, response.status_code)
            if response.status_code in RETRY_STATUS:
                raise Transient(message, _retry_after(response))
            raise Permanent(message, response.status_code)
        try:
            data = response.json()
        except ValueError as exc:
            raise Transient(f"{url} sent a body that is not JSON: {response.text[:120]!r}") from exc
        if not isinstance(data, dict):
            raise Transient(f"{url} sent JSON that is not an object")
        return data

    def _attempts(self) -> Attempts:
        """The attempts of one request: servers in turn from the next in rotation, backoff before retries."""
        return Attempts(self, self._pick_url())

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


def _same_model(wanted: str, listed: str) -> bool:
    """Ollama implies the `:latest` tag when none is given."""
    return wanted == listed or f"{wanted}:latest" == listed or wanted == f"{listed}:latest"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class Attempts:
    """The attempts of one request, shared by chat and embeddings: which server each goes to, and the wait.

    Iterating yields the server URL of each attempt, at most `max_attempts` of them, rotating
    through the servers from `first`. After `failed()`, the next attempt first sleeps the backoff
    (or the server's Retry-After); an attempt that is simply sent again (a larger token budget)
    waits for nothing, and one marked `not_counted()` (the same request in another form) is free.
    """

    def __init__(self, transport: Transport, first: int) -> None:
        self.transport = transport
        self.first = first
        self.used = 0
        self._backoff_due = False  # the last attempt failed: sleep before the next
        self._retry_after: float | None = None  # what that failure's server asked for, if anything

    def __iter__(self) -> Iterator[str]:
        urls = self.transport.urls
        while self.used < self.transport.max_attempts:
            if self._backoff_due:
                time.sleep(self.transport._delay(self.used, self._retry_after))
                self._backoff_due = False
            self.used += 1
            yield urls[(self.first + self.used - 1) % len(urls)]

    def failed(self, retry_after: float | None = None) -> None:
        """This attempt failed: wait before the next one."""
        self._backoff_due, self._retry_after = True, retry_after

    def not_counted(self) -> None:
        """This attempt does not count against `max_attempts`: the next goes to the same server at once."""
        self.used -= 1
