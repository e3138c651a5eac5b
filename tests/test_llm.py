"""The LLM client against the loopback server: both wire formats, retries, health checks, embeddings."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from etl import config
from etl.errors import ConfigError, ServiceError
from etl.llm import ChatRequest, Client, base_url, extract_json, json_form
from tests.fakeserver import FakeLLMServer, Reply
from tests.processes import free_port

SCHEMA = {"type": "object", "properties": {"primary": {"type": "string"}}, "required": ["primary"]}
PATH = {"ollama": "/api/chat", "openai": "/v1/chat/completions"}


def client(server: FakeLLMServer, api: str = "ollama", **kw: Any) -> Client:
    """A client with test-sized backoff and timeouts."""
    options: dict[str, Any] = {"backoff": 0.01, "timeout": 5.0, "max_attempts": 4, **kw}
    return Client([server.url], api=api, **options)


def request(text: str = "translate 사과", schema: dict[str, Any] | None = SCHEMA) -> ChatRequest:
    return ChatRequest("translate", [{"role": "user", "content": text}], schema, temperature=0.3)


# -- wire formats ---------------------------------------------------------------------------------


def test_ollama_chat_sends_schema_think_and_options(llm_server: FakeLLMServer) -> None:
    llm_server.script("/api/chat", Reply(content='{"primary": "apple"}', thinking="fruit, easy"))
    result = client(llm_server, num_predict=512).chat(request())
    body = llm_server.seen[-1].body
    assert body["format"] == SCHEMA and body["think"] == "low" and body["stream"] is False
    assert body["options"] == {"temperature": 0.3, "num_predict": 512}
    assert body["messages"] == [{"role": "user", "content": "translate 사과"}]
    assert result.ok and result.attempts == 1 and result.done_reason == "stop"
    assert (result.content, result.thinking) == ('{"primary": "apple"}', "fruit, easy")
    assert (result.prompt_tokens, result.completion_tokens) == (2, 2)
    assert result.url == llm_server.url + "/api/chat" and result.sent == body


def test_openai_chat_sends_response_format_and_reasoning_effort(llm_server: FakeLLMServer) -> None:
    llm_server.script("/v1/chat/completions", Reply(content='{"primary": "apple"}', thinking="reasoned"))
    result = client(llm_server, "openai", think="high", num_predict=300).chat(request())
    body = llm_server.seen[-1].body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "translate", "schema": SCHEMA, "strict": True},
    }
    assert body["reasoning_effort"] == "high" and body["max_tokens"] == 300 and body["temperature"] == 0.3
    assert "think" not in body and "format" not in body
    assert result.ok and result.content == '{"primary": "apple"}' and result.thinking == "reasoned"
    assert result.prompt_tokens == 2 and result.completion_tokens == 2


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_think_none_sends_no_thinking_field(llm_server: FakeLLMServer, api: str) -> None:
    client(llm_server, api, think="none").chat(request(schema=None))
    body = llm_server.seen[-1].body
    assert not {"think", "reasoning_effort", "format", "response_format"} & set(body)


def test_inline_think_tags_are_kept_apart(llm_server: FakeLLMServer) -> None:
    llm_server.script("/api/chat", Reply(content='<think>hmm, 사과 is apple</think>\n{"primary": "apple"}'))
    result = client(llm_server).chat(request())
    assert (result.content, result.thinking) == ('{"primary": "apple"}', "hmm, 사과 is apple")


# -- structured-output forms ----------------------------------------------------------------------

OPENAI_FORM = {"type": "json_schema", "json_schema": {"name": "translate", "schema": SCHEMA, "strict": True}}
LLAMA_FORM = {"type": "json_object", "schema": SCHEMA}


def forms(server: FakeLLMServer) -> list[Any]:
    """The response_format of every chat request the server saw, in order."""
    return [s.body.get("response_format") for s in server.seen if s.path == "/v1/chat/completions"]


def test_a_server_refusing_json_schema_gets_json_object_at_once_and_is_remembered(llm_server: FakeLLMServer) -> None:
    llm_server.refuse_json_schema = True
    c = client(llm_server, "openai", backoff=30.0)  # a backoff sleep before the resend would show in the time
    started = time.monotonic()
    first = c.chat(request())
    assert time.monotonic() - started < 5.0
    assert first.ok and first.attempts == 2 and first.content == "{}"
    assert forms(llm_server) == [OPENAI_FORM, LLAMA_FORM]
    assert first.sent["response_format"] == LLAMA_FORM
    assert json_form(llm_server.url) == json_form(llm_server.url + "/v1/") == "json_object"
    # Later calls, from this client or another one in the same process, go straight in the accepted form.
    second = c.chat(request("translate 배"))
    third = client(llm_server, "openai").chat(request("translate 귤"))
    assert (second.attempts, third.attempts) == (1, 1) and second.ok and third.ok
    assert forms(llm_server)[2:] == [LLAMA_FORM, LLAMA_FORM]
    # The wire form is not part of what the answer means: the cache key stays the same.
    fixed = Client(["http://elsewhere:1"], api="openai", json_format="json_schema")
    assert first.call_hash == fixed.call_hash(request())


def test_the_refused_form_does_not_use_up_the_retry_budget(llm_server: FakeLLMServer) -> None:
    llm_server.refuse_json_schema = True
    # Refused (json_schema), then a 503 and a success in the json_object form: two attempts suffice.
    llm_server.script("/v1/chat/completions", Reply(), Reply(status=503))
    result = client(llm_server, "openai", max_attempts=2).chat(request())
    assert result.ok and result.attempts == 3 and llm_server.count("/v1/chat/completions") == 3
    assert forms(llm_server) == [OPENAI_FORM, LLAMA_FORM, LLAMA_FORM]
    llm_server.reset()
    llm_server.script("/v1/chat/completions", *[Reply(status=503)] * 3)
    failed = client(llm_server, "openai", max_attempts=2).chat(request("translate 배"))
    assert not failed.ok and failed.attempts == 2 and "server busy" in (failed.error or "")


def test_only_errors_about_response_format_trigger_the_fallback(llm_server: FakeLLMServer) -> None:
    llm_server.script("/v1/chat/completions", Reply(status=500, error="CUDA out of memory"))
    result = client(llm_server, "openai").chat(request())
    assert result.ok and result.attempts == 2 and forms(llm_server) == [OPENAI_FORM, OPENAI_FORM]
    assert json_form(llm_server.url) is None


def test_a_server_refusing_both_forms_fails_the_call_without_retries(llm_server: FakeLLMServer) -> None:
    refusal = Reply(status=400, error="response_format is not supported by this model")
    llm_server.script("/v1/chat/completions", refusal, refusal)
    result = client(llm_server, "openai").chat(request())
    assert not result.ok and result.attempts == 2 and forms(llm_server) == [OPENAI_FORM, LLAMA_FORM]
    assert "refused both structured-output forms" in (result.error or "")


@pytest.mark.parametrize(
    ("setting", "sent", "advice"),
    [("json_schema", OPENAI_FORM, "auto (or json_object)"), ("json_object", LLAMA_FORM, "auto (or json_schema)")],
)
def test_a_fixed_form_is_sent_as_is_and_a_refusal_says_what_to_set(
    llm_server: FakeLLMServer, setting: str, sent: dict[str, Any], advice: str
) -> None:
    c = client(llm_server, "openai", json_format=setting)
    assert c.chat(request()).ok and forms(llm_server) == [sent]
    llm_server.reset()
    llm_server.script("/v1/chat/completions", Reply(status=500, error=f"unsupported response_format {setting}"))
    result = c.chat(request())
    assert not result.ok and result.attempts == 1 and forms(llm_server) == [sent]
    assert f"set llm_json_format = {advice}" in (result.error or "")
    assert json_form(llm_server.url) is None


def test_requests_in_flight_when_the_refusal_comes_back_fall_back_too(llm_server: FakeLLMServer) -> None:
    llm_server.refuse_json_schema = True
    llm_server.latency = 0.05
    results = [
        r
        for ready in client(llm_server, "openai", concurrency=4).chat_ready([request(f"t {i}") for i in range(12)])
        for r in ready
    ]
    assert all(r.ok for r in results) and len(results) == 12
    sent = forms(llm_server)
    assert sum(r.attempts for r in results) == len(sent)
    # At most one refusal per slot (the requests sent before the first refusal came back), then none.
    assert 1 <= sent.count(OPENAI_FORM) <= 4 and sent.count(LLAMA_FORM) == 12


def test_ollama_ignores_the_json_format_setting(llm_server: FakeLLMServer) -> None:
    client(llm_server, json_format="json_object").chat(request())
    assert llm_server.seen[-1].body["format"] == SCHEMA and "response_format" not in llm_server.seen[-1].body


# -- retries --------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_length_with_empty_content_is_retried_with_more_room(llm_server: FakeLLMServer, api: str) -> None:
    llm_server.script(
        PATH[api],
        Reply(content="", thinking="long thoughts", done_reason="length"),
        Reply(content='{"primary": "apple"}'),
    )
    result = client(llm_server, api, num_predict=100).chat(request())
    bodies = [s.body for s in llm_server.seen]
    limit = "max_tokens" if api == "openai" else "num_predict"
    limits = [b.get(limit) or b["options"][limit] for b in bodies]
    assert limits == [100, 200]
    assert result.ok and result.attempts == 2 and result.content == '{"primary": "apple"}'
    assert result.completion_tokens == 1 + 2  # both attempts are paid for (the fake counts "" as 1 word)


def test_length_with_partial_content_is_retried_too(llm_server: FakeLLMServer) -> None:
    # A truncated JSON answer does not parse; the fragment is not landed as if it were the answer.
    llm_server.script(
        "/v1/chat/completions",
        Reply(content='{"primary": "app', done_reason="length"),
        Reply(content='{"primary": "apple"}'),
    )
    result = client(llm_server, "openai", num_predict=50).chat(request())
    assert result.ok and result.attempts == 2 and result.content == '{"primary": "apple"}'
    assert [s.body["max_tokens"] for s in llm_server.seen] == [50, 100]


def test_length_every_time_fails_and_keeps_the_cut_answer(llm_server: FakeLLMServer) -> None:
    llm_server.script("/api/chat", *[Reply(content='{"prim', done_reason="length")] * 3)
    result = client(llm_server, max_attempts=3, num_predict=10).chat(request())
    assert not result.ok and result.attempts == 3 and result.content == '{"prim'
    assert "cut off at num_predict=40" in (result.error or "")
    assert result.sent["options"]["num_predict"] == 40


@pytest.mark.parametrize("api", ["ollama", "openai"])
@pytest.mark.parametrize(
    "fault",
    [
        Reply(status=503),
        Reply(status=500),
        Reply(status=502),
        Reply(status=429),
        Reply(drop=True),
        Reply(body="{truncated"),
    ],
)
def test_transient_faults_are_retried_then_succeed(llm_server: FakeLLMServer, api: str, fault: Reply) -> None:
    llm_server.script(PATH[api], fault, fault, Reply(content='{"primary": "apple"}'))
    result = client(llm_server, api).chat(request())
    assert result.ok and result.attempts == 3 and result.content == '{"primary": "apple"}'
    assert llm_server.count(PATH[api]) == 3


def test_timeout_is_retried(llm_server: FakeLLMServer) -> None:
    llm_server.script("/api/chat", Reply(delay=0.5))
    result = client(llm_server, timeout=0.2).chat(request())
    assert result.ok and result.attempts == 2


@pytest.mark.parametrize("status", [400, 404])
def test_client_errors_are_not_retried(llm_server: FakeLLMServer, status: int) -> None:
    llm_server.script("/api/chat", Reply(status=status, error="bad thing"))
    result = client(llm_server).chat(request())
    assert not result.ok and result.attempts == 1 and llm_server.count("/api/chat") == 1
    assert result.error == f"1 attempt(s) failed; last: HTTP {status} from {llm_server.url}/api/chat: bad thing"


def test_attempts_are_bounded(llm_server: FakeLLMServer) -> None:
    llm_server.script("/api/chat", *[Reply(status=503)] * 5)
    result = client(llm_server, max_attempts=3).chat(request())
    assert not result.ok and result.attempts == 3 and llm_server.count("/api/chat") == 3
    assert "server busy" in (result.error or "")


def test_backoff_grows_and_honours_retry_after() -> None:
    c = Client(["http://127.0.0.1:9"], backoff=1.0)
    assert all(0.5 <= c._delay(1, None) <= 1.0 for _ in range(20))
    assert all(2.0 <= c._delay(3, None) <= 4.0 for _ in range(20))
    assert c._delay(9, None) <= 30.0
    assert c._delay(1, 2.5) == 2.5


def test_retries_move_to_the_next_server() -> None:
    with FakeLLMServer() as a, FakeLLMServer() as b:
        a.script("/api/chat", Reply(status=503))
        b.script("/api/chat", Reply(status=503))
        c = Client([a.url, b.url], backoff=0.01)
        result = c.chat(request())
        assert result.ok and result.attempts == 3
        assert (a.count("/api/chat"), b.count("/api/chat")) == (2, 1)


# -- concurrency ----------------------------------------------------------------------------------


def test_chat_ready_runs_in_parallel_over_several_servers() -> None:
    with FakeLLMServer() as a, FakeLLMServer() as b:
        a.latency = b.latency = 0.2
        c = Client([a.url, b.url], concurrency=4, backoff=0.01)
        started = time.monotonic()
        results = [r for ready in c.chat_ready([request(f"term {i}") for i in range(8)]) for r in ready]
        elapsed = time.monotonic() - started
    assert len(results) == 8 and all(r.ok for r in results)
    assert sorted(r.request.messages[0]["content"] for r in results) == sorted(f"term {i}" for i in range(8))
    assert (a.count("/api/chat"), b.count("/api/chat")) == (4, 4)
    assert elapsed < 0.2 * 8 / 2  # sequential would take 1.6 s; four at a time takes ~0.4 s


def test_chat_ready_reraises_a_worker_bug(llm_server: FakeLLMServer) -> None:
    c = client(llm_server)
    with pytest.raises(ZeroDivisionError):
        list(c._pooled(lambda n: 1 // n, [1, 0, 2]))


def test_chat_ready_hands_over_everything_finished_at_once(llm_server: FakeLLMServer) -> None:
    llm_server.latency = 0.05
    c = client(llm_server, concurrency=4)
    batches = []
    for ready in c.chat_ready([request(f"term {i}") for i in range(8)]):
        batches.append(len(ready))
        time.sleep(0.2)  # a slow consumer: the other calls finish meanwhile
    assert sum(batches) == 8 and batches[0] >= 1 and len(batches) < 8


# -- hashing and parsing --------------------------------------------------------------------------


def test_call_hash_depends_on_content_not_on_where_it_is_sent() -> None:
    one = Client(["http://a:1"], model="m").call_hash(request())
    assert one == Client(["http://b:2"], api="openai", model="m", num_predict=9).call_hash(request())
    assert one != Client(["http://a:1"], model="other").call_hash(request())
    assert one != Client(["http://a:1"], model="m", think="high").call_hash(request())
    assert one != Client(["http://a:1"], model="m").call_hash(request("translate 배"))
    warmer = ChatRequest("translate", request().messages, SCHEMA, temperature=0.9)
    assert one != Client(["http://a:1"], model="m").call_hash(warmer)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"primary": "apple"}', {"primary": "apple"}),
        (
            'Sure! Here it is:\n{"primary": "apple", "alternatives": []}\nHope that helps.',
            {"primary": "apple", "alternatives": []},
        ),
        ('```json\n{"terms": ["가", "나"]}\n```', {"terms": ["가", "나"]}),
        ('```\n[{"ko": "가", "en": "a"}]\n```', [{"ko": "가", "en": "a"}]),
        (
            'Result: {"outer": {"inner": {"deep": [1, {"x": 2}]}}, "k": "v"} done',
            {"outer": {"inner": {"deep": [1, {"x": 2}]}}, "k": "v"},
        ),
        ('Note [1]: see below {"pairs": [{"ko": "가", "en": "a"}]}', {"pairs": [{"ko": "가", "en": "a"}]}),
        ('<think>{"draft": 1}</think>{"primary": "final"}', {"primary": "final"}),
    ],
)
def test_extract_json_is_tolerant(text: str, expected: Any) -> None:
    assert extract_json(text) == expected


@pytest.mark.parametrize("text", ["", "no json here", '{"primary": ', "{broken} [also"])
def test_extract_json_refuses_text_without_json(text: str) -> None:
    with pytest.raises(ValueError):
        extract_json(text)


def test_base_url_drops_slashes_and_v1() -> None:
    assert base_url("http://h:1/") == "http://h:1"
    assert base_url("http://h:1/v1/") == "http://h:1"


# -- health check ---------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_check_passes_when_the_model_is_listed(llm_server: FakeLLMServer, api: str) -> None:
    client(llm_server, api).check()
    client(llm_server, api, model="bge-m3:latest").check()
    assert llm_server.count("/api/tags" if api == "ollama" else "/v1/models") == 2


def test_check_names_the_pull_command_for_a_missing_model(llm_server: FakeLLMServer) -> None:
    with pytest.raises(ServiceError, match=r"model 'qwen3:8b' is not on .*; run `ollama pull qwen3:8b`"):
        client(llm_server, model="qwen3:8b").check()
    with pytest.raises(ServiceError, match=r"not served by .*it serves: gpt-oss:20b, bge-m3"):
        client(llm_server, "openai", model="qwen3:8b").check()


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_check_names_ollama_serve_when_unreachable(api: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceError, match=r"cannot reach the .* at http://127\.0\.0\.1:\d+ .*`ollama serve`"):
        Client([url], api=api, backoff=0.01).check()


def test_check_every_server(llm_server: FakeLLMServer) -> None:
    with FakeLLMServer(models=["other"]) as second, pytest.raises(ServiceError, match=second.url):
        Client([llm_server.url, second.url]).check()


def test_check_reports_a_refused_key(llm_server: FakeLLMServer) -> None:
    llm_server.script("/v1/models", Reply(status=401))
    with pytest.raises(ServiceError, match="ETL_LLM_API_KEY"):
        client(llm_server, "openai").check()


def test_check_reports_the_wrong_api(llm_server: FakeLLMServer) -> None:
    llm_server.script("/api/tags", Reply(status=404))
    with pytest.raises(ServiceError, match="check that it is an ollama server"):
        client(llm_server).check()


# -- the API key ----------------------------------------------------------------------------------


def test_api_key_goes_in_the_header_only(llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_LLM_API_KEY", "sk-very-secret")
    c = client(llm_server, "openai")
    c.check()
    llm_server.script("/v1/chat/completions", Reply(status=400, error="nope"))
    failed = c.chat(request())
    ok = c.chat(request())
    vectors = Client([llm_server.url], api="openai", model="bge-m3").embed(["a"])
    assert vectors and all(s.headers.get("Authorization") == "Bearer sk-very-secret" for s in llm_server.seen)
    assert all("sk-very-secret" not in json.dumps(s.body) for s in llm_server.seen)
    for result in (failed, ok):
        assert "sk-very-secret" not in repr(result)
    ollama = client(llm_server)
    ollama.chat(request())
    assert "Authorization" not in llm_server.seen[-1].headers


# -- embeddings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_embed_batches_in_order(llm_server: FakeLLMServer, api: str) -> None:
    texts = [f"term {i}" for i in range(10)]
    c = Client([llm_server.url], api=api, model="bge-m3", concurrency=3, backoff=0.01)
    vectors = c.embed(texts, batch_size=4)
    assert vectors == [llm_server.embedder(t) for t in texts]
    path = "/api/embed" if api == "ollama" else "/v1/embeddings"
    assert llm_server.count(path) == 3
    assert sorted(len(s.body["input"]) for s in llm_server.seen) == [2, 4, 4]
    assert {s.body["model"] for s in llm_server.seen} == {"bge-m3"}


def test_embed_batches_yields_offsets(llm_server: FakeLLMServer) -> None:
    c = Client([llm_server.url], model="bge-m3", concurrency=2)
    got = dict(c.embed_batches(["a", "b", "c"], batch_size=2))
    assert got == {0: [llm_server.embedder("a"), llm_server.embedder("b")], 2: [llm_server.embedder("c")]}


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_embed_retries_then_succeeds(llm_server: FakeLLMServer, api: str) -> None:
    path = "/api/embed" if api == "ollama" else "/v1/embeddings"
    llm_server.script(path, Reply(status=503), Reply(drop=True))
    c = Client([llm_server.url], api=api, model="bge-m3", backoff=0.01)
    assert c.embed(["x"]) == [llm_server.embedder("x")]
    assert llm_server.count(path) == 3


def test_embed_failures_raise(llm_server: FakeLLMServer) -> None:
    c = Client([llm_server.url], model="bge-m3", backoff=0.01, max_attempts=2)
    llm_server.script("/api/embed", Reply(status=503), Reply(status=503))
    with pytest.raises(ServiceError, match="after 2 attempts"):
        c.embed(["x"])
    llm_server.script("/api/embed", Reply(embeddings=[[1.0]]), Reply(embeddings=[[1.0]]))
    with pytest.raises(ServiceError, match="1 vectors for 2 inputs"):
        c.embed(["x", "y"])
    with pytest.raises(ServiceError, match="not found"):
        Client([llm_server.url], model="missing").embed(["x"])


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_per_token_vectors_are_a_permanent_error_that_says_what_to_do(llm_server: FakeLLMServer, api: str) -> None:
    path = "/api/embed" if api == "ollama" else "/v1/embeddings"
    # What llama.cpp's server sends for a chat model without pooling: a list of token vectors per input.
    per_token = [[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], [[0.7, 0.8]]]
    llm_server.script(path, Reply(embeddings=per_token))
    c = Client([llm_server.url], api=api, model="bge-m3", backoff=0.01)
    with pytest.raises(ServiceError, match=r"one vector per token \(3 for input 0\) instead of one per text") as info:
        c.embed(["신경망", "ab"])
    assert "--embedding true --kv_overrides llama.pooling_type=int:1" in str(info.value)
    assert llm_server.count(path) == 1  # not retried: the same server would answer the same way


@pytest.mark.parametrize("vector", [["x", "y"], None, {"values": [1.0]}])
def test_vectors_that_are_not_numbers_are_a_permanent_error(llm_server: FakeLLMServer, vector: Any) -> None:
    llm_server.script("/v1/embeddings", Reply(embeddings=[vector]))
    c = Client([llm_server.url], api="openai", model="bge-m3", backoff=0.01)
    with pytest.raises(ServiceError, match="for input 0 that is not a list of numbers"):
        c.embed(["x"])
    assert llm_server.count("/v1/embeddings") == 1


def test_embed_sends_dimensions_when_asked(llm_server: FakeLLMServer) -> None:
    Client([llm_server.url], api="openai", model="bge-m3").embed(["x"], dimensions=8)
    assert llm_server.seen[-1].body == {"model": "bge-m3", "input": ["x"], "dimensions": 8}


def test_clients_from_settings() -> None:
    s = config.load(
        env={
            "ETL_LLM_URL": "http://a:1/v1,http://b:2",
            "ETL_LLM_API": "openai",
            "ETL_EMBED_MODEL": "e5",
            "ETL_LLM_CONCURRENCY": "6",
        }
    ).settings
    chat = Client.for_chat(s)
    assert (chat.urls, chat.api, chat.model, chat.concurrency, chat.think, chat.json_format) == (
        ("http://a:1", "http://b:2"),
        "openai",
        "gpt-oss:20b",
        6,
        "low",
        "auto",
    )
    fixed = config.load(env={"ETL_LLM_API": "openai", "ETL_LLM_JSON_FORMAT": "json_object"}).settings
    assert Client.for_chat(fixed).json_format == "json_object"
    with pytest.raises(ConfigError, match="llm_json_format must be one of auto, json_schema, json_object"):
        config.load(env={"ETL_LLM_JSON_FORMAT": "grammar"})
    embed = Client.for_embeddings(s)
    assert (embed.urls, embed.api, embed.model) == (("http://a:1", "http://b:2"), "ollama", "e5")


def test_backoff_setting_is_validated() -> None:
    assert config.load(env={"ETL_LLM_BACKOFF": "0"}).settings.llm_backoff == 0.0
    with pytest.raises(ConfigError, match="llm_backoff"):
        config.load(env={"ETL_LLM_BACKOFF": "-1"})
