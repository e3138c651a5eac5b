"""A scriptable fake LLM server speaking the Ollama native and OpenAI-compatible APIs."""

from __future__ import annotations

import hashlib
import json
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

OLLAMA_VERSION = "0.12.6"
MODIFIED_AT = "2025-01-01T00:00:00Z"

DEFAULT_ERRORS: dict[int, str] = {
    400: "invalid request",
    401: "unauthorized",
    404: "not found",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    # Ollama's exact wording (two spaces included) so clients can match on it.
    503: "server busy, please try again.  maximum pending requests exceeded",
    504: "gateway timeout",
}
# llama-cpp-python 0.3.36's server answers a json_schema response_format with this 500 (traceback lines left out).
LLAMA_CPP_JSON_SCHEMA_REFUSAL = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}"
)
OPENAI_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


@dataclass
class Reply:
    """One scripted answer; fields left None fall back to the server's normal behaviour."""

    content: str | None = None
    thinking: str | None = None
    done_reason: str = "stop"
    status: int = 200
    error: str | None = None
    body: str | bytes | None = None
    delay: float = 0.0
    drop: bool = False
    embeddings: list[Any] | None = None  # one item per input; a list of lists mimics per-token vectors


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    body: Any
    headers: dict[str, str]


class HTTPError(Exception):
    """An error reply to render in the caller's API family."""

    def __init__(self, status: int, message: str, code: str | None = None, kind: str | None = None) -> None:
        """Keep the status, message, optional OpenAI error code and optional OpenAI error type."""
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind


def _words(text: str) -> int:
    """Count whitespace-separated words, at least 1 (a stand-in for tokens)."""
    return max(1, len(text.split()))


def _now() -> str:
    """Return the current UTC time in Ollama's RFC 3339 form."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its fake and never blocks on idle keep-alive threads."""

    daemon_threads = True
    # Joining would hang stop() while a client's Session still holds a keep-alive connection.
    block_on_close = False
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up (e.g. timing out during a delay); report anything else."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Route one HTTP request to the fake server."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; Nagle plus delayed ACK would add ~40 ms to each reply.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Do not log requests."""

    def do_GET(self) -> None:
        """Handle GET."""
        self._handle("GET")

    def do_POST(self) -> None:
        """Handle POST."""
        self._handle("POST")

    def _handle(self, method: str) -> None:
        """Record the request, apply any scripted reply, then answer normally."""
        fake = cast(_HTTPServer, self.server).fake
        path = self.path.split("?", 1)[0]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        fake._record(Seen(method, path, body, dict(self.headers.items())))
        reply = fake._next(path) or Reply()
        time.sleep(fake.latency + reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        if reply.body is not None:
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            self._send(reply.status, data)
            return
        try:
            if reply.status != 200:
                raise HTTPError(reply.status, reply.error or DEFAULT_ERRORS.get(reply.status, "error"))
            payload = fake._route(method, path, body, reply)
        except HTTPError as exc:
            self._send(exc.status, json.dumps(_error_body(path, exc)).encode())
            return
        except Exception as exc:  # a test's responder/embedder failed: surface it as a 500
            self._send(500, json.dumps(_error_body(path, HTTPError(500, repr(exc)))).encode())
            return
        self._send(200, json.dumps(payload).encode())

    def _send(self, status: int, data: bytes) -> None:
        """Send a JSON response with an exact Content-Length so keep-alive works."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _error_body(path: str, exc: HTTPError) -> dict[str, Any]:
    """Render an error the way Ollama (/api/*) or OpenAI (/v1/*) does."""
    if not path.startswith("/v1/"):
        return {"error": exc.message}
    etype = exc.kind or OPENAI_ERROR_TYPES.get(exc.status, "api_error")
    return {"error": {"message": exc.message, "type": etype, "param": None, "code": exc.code}}


class FakeLLMServer:
    """A real HTTP server on 127.0.0.1 whose replies, timing and failures tests can script."""

    def __init__(self, models: Iterable[str] = ("gpt-oss:20b", "bge-m3"), embed_dim: int = 8) -> None:
        """Configure the served models and the default embedding size."""
        self.models: list[str] = list(models)
        self.embed_dim = embed_dim
        self.latency: float = 0.0
        # Like llama.cpp's Python server: refuse OpenAI's json_schema response_format, take json_object.
        self.refuse_json_schema = False
        self.responder: Callable[[str, dict[str, Any]], str] = lambda kind, request: "{}"
        self.embedder: Callable[[str], list[float]] = self._default_embed
        self.seen: list[Seen] = []
        self.url = ""
        self._scripts: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = 0

    def start(self) -> FakeLLMServer:
        """Bind an ephemeral port and serve in a background thread."""
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLLMServer:
        """Start on entering a with-block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving a with-block."""
        self.stop()

    def script(self, path: str, *replies: Reply) -> None:
        """Queue replies for a path, consumed one per request in FIFO order."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def count(self, path: str | None = None) -> int:
        """Return how many requests were seen, for one path or in total."""
        with self._lock:
            return sum(1 for s in self.seen if path is None or s.path == path)

    def reset(self) -> None:
        """Forget seen requests and all scripted replies."""
        with self._lock:
            self.seen.clear()
            self._scripts.clear()

    def _record(self, seen: Seen) -> None:
        """Append a request to `seen`."""
        with self._lock:
            self.seen.append(seen)

    def _next(self, path: str) -> Reply | None:
        """Pop the next scripted reply for a path, if any."""
        with self._lock:
            queue = self._scripts.get(path)
            return queue.popleft() if queue else None

    def _default_embed(self, text: str) -> list[float]:
        """Derive a deterministic unit vector of length embed_dim from sha256 of the text."""
        values: list[float] = []
        block = 0
        while len(values) < self.embed_dim:
            digest = hashlib.sha256(f"{block}:{text}".encode()).digest()
            values.extend(b / 127.5 - 1.0 for b in digest)
            block += 1
        vec = values[: self.embed_dim]
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def _route(self, method: str, path: str, body: Any, reply: Reply) -> dict[str, Any]:
        """Dispatch to the endpoint handler; raise HTTPError for bad requests."""
        gets: dict[str, Callable[[], dict[str, Any]]] = {
            "/api/version": lambda: {"version": OLLAMA_VERSION},
            "/api/tags": self._tags,
            "/v1/models": self._v1_models,
        }
        posts: dict[str, Callable[[dict[str, Any], Reply], dict[str, Any]]] = {
            "/api/chat": self._chat,
            "/api/generate": self._generate,
            "/api/embed": self._embed,
            "/v1/chat/completions": self._v1_chat,
            "/v1/embeddings": self._v1_embeddings,
        }
        if method == "GET" and path in gets:
            return gets[path]()
        if method == "POST" and path in posts:
            if not isinstance(body, dict):
                raise HTTPError(400, "invalid JSON request body")
            self._check_model(path, body)
            return posts[path](body, reply)
        raise HTTPError(404, "404 page not found")

    def _check_model(self, path: str, body: dict[str, Any]) -> None:
        """Raise 404 unless the requested model is served (":latest" is implied, as in Ollama)."""
        name = str(body.get("model", ""))
        if name in self.models or name.removesuffix(":latest") in self.models or f"{name}:latest" in self.models:
            return
        if path.startswith("/v1/"):
            raise HTTPError(404, f"The model `{name}` does not exist.", "model_not_found")
        raise HTTPError(404, f'model "{name}" not found, try pulling it first')

    def _tags(self) -> dict[str, Any]:
        """List models as Ollama's /api/tags does."""
        details = {"format": "gguf", "family": "fake", "parameter_size": "1B", "quantization_level": "Q4_0"}
        return {
            "models": [
                {
                    "name": m,
                    "model": m,
                    "modified_at": MODIFIED_AT,
                    "size": 1,
                    "digest": hashlib.sha256(m.encode()).hexdigest(),
                    "details": dict(details),
                }
                for m in self.models
            ]
        }

    def _v1_models(self) -> dict[str, Any]:
        """List models as OpenAI's /v1/models does."""
        created = int(time.time())
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "created": created, "owned_by": "library"} for m in self.models],
        }

    def _answer(self, kind: str, body: dict[str, Any], reply: Reply) -> str:
        """Return the scripted content, or ask the responder."""
        return reply.content if reply.content is not None else self.responder(kind, body)

    def _timings(self, prompt_words: int, answer: str) -> dict[str, Any]:
        """Build Ollama's done/duration/count fields (durations in ns, counts are word counts)."""
        return {
            "done": True,
            "total_duration": 3_000_000,
            "load_duration": 1_000_000,
            "prompt_eval_count": prompt_words,
            "prompt_eval_duration": 1_000_000,
            "eval_count": _words(answer),
            "eval_duration": 1_000_000,
        }

    def _chat(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        """Answer POST /api/chat."""
        content = self._answer("chat", body, reply)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reply.thinking is not None:
            message["thinking"] = reply.thinking
        return {
            "model": body["model"],
            "created_at": _now(),
            "message": message,
            **self._timings(_chat_words(body), content),
            "done_reason": reply.done_reason,
        }

    def _generate(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        """Answer POST /api/generate."""
        content = self._answer("generate", body, reply)
        out: dict[str, Any] = {"model": body["model"], "created_at": _now(), "response": content}
        if reply.thinking is not None:
            out["thinking"] = reply.thinking
        prompt = f"{body.get('system') or ''} {body.get('prompt') or ''}"
        return {**out, **self._timings(_words(prompt), content), "done_reason": reply.done_reason}

    def _vectors(self, body: dict[str, Any], reply: Reply) -> tuple[list[str], list[Any]]:
        """Return the inputs and one vector per input (or the scripted vectors)."""
        raw = body.get("input", [])
        if not isinstance(raw, (str, list)):
            raise HTTPError(400, "invalid input type")
        texts = [raw] if isinstance(raw, str) else [str(t) for t in raw]
        if reply.embeddings is not None:
            return texts, reply.embeddings
        return texts, [self.embedder(t) for t in texts]

    def _embed(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        """Answer POST /api/embed."""
        texts, vectors = self._vectors(body, reply)
        return {
            "model": body["model"],
            "embeddings": vectors,
            "total_duration": 2_000_000,
            "load_duration": 1_000_000,
            "prompt_eval_count": sum(_words(t) for t in texts),
        }

    def _v1_chat(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        """Answer POST /v1/chat/completions."""
        form = body.get("response_format")
        if self.refuse_json_schema and isinstance(form, dict) and form.get("type") == "json_schema":
            raise HTTPError(500, LLAMA_CPP_JSON_SCHEMA_REFUSAL, kind="internal_server_error")
        content = self._answer("chat", body, reply)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reply.thinking is not None:
            message["reasoning_content"] = reply.thinking
        with self._lock:
            self._ids += 1
            ident = self._ids
        prompt, completion = _chat_words(body), _words(content)
        return {
            "id": f"chatcmpl-{ident}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {"index": 0, "message": message, "finish_reason": "length" if reply.done_reason == "length" else "stop"}
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }

    def _v1_embeddings(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        """Answer POST /v1/embeddings."""
        texts, vectors = self._vectors(body, reply)
        tokens = sum(_words(t) for t in texts)
        return {
            "object": "list",
            "model": body["model"],
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


def _chat_words(body: dict[str, Any]) -> int:
    """Count words across all string message contents of a chat request."""
    messages = body.get("messages") or []
    text = " ".join(str(m.get("content") or "") for m in messages if isinstance(m, dict))
    return _words(text)
