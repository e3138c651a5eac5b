"""Tests showing every scripted behaviour of FakeLLMServer is observable by an HTTP client."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import urllib3.util.connection

from tests.fakeserver import FakeLLMServer, Reply

CHAT = {"model": "gpt-oss:20b", "messages": [{"role": "user", "content": "say hello to me"}], "stream": False}
GENERATE = {"model": "gpt-oss:20b", "prompt": "one two three", "stream": False}


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    """Run a fresh server for one test."""
    with FakeLLMServer() as srv:
        yield srv


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive session, as real clients use."""
    with requests.Session() as session:
        yield session


def post(http: requests.Session, server: FakeLLMServer, path: str, body: Any, **kw: Any) -> requests.Response:
    """POST JSON to the server."""
    return http.post(server.url + path, json=body, timeout=5, **kw)


def test_version_and_tags(server: FakeLLMServer, http: requests.Session) -> None:
    assert http.get(server.url + "/api/version", timeout=5).json() == {"version": "0.12.6"}
    models = http.get(server.url + "/api/tags", timeout=5).json()["models"]
    assert [m["name"] for m in models] == ["gpt-oss:20b", "bge-m3"]
    assert models[0]["model"] == "gpt-oss:20b"
    assert set(models[0]) >= {"modified_at", "size", "digest", "details"}
    assert set(models[0]["details"]) == {"format", "family", "parameter_size", "quantization_level"}


def test_v1_models(server: FakeLLMServer, http: requests.Session) -> None:
    data = http.get(server.url + "/v1/models", timeout=5).json()
    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["gpt-oss:20b", "bge-m3"]
    assert all(
        m["object"] == "model" and m["owned_by"] == "library" and isinstance(m["created"], int) for m in data["data"]
    )


def test_ollama_chat_shape(server: FakeLLMServer, http: requests.Session) -> None:
    r = post(http, server, "/api/chat", CHAT)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    data = r.json()
    assert data["model"] == "gpt-oss:20b"
    assert data["message"] == {"role": "assistant", "content": "{}"}
    assert data["done"] is True and data["done_reason"] == "stop"
    assert data["prompt_eval_count"] == 4 and data["eval_count"] == 1
    for key in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(data[key], int) and data[key] > 0
    assert data["created_at"].endswith("Z")


def test_ollama_generate_shape(server: FakeLLMServer, http: requests.Session) -> None:
    server.script("/api/generate", Reply(content="a b"))
    data = post(http, server, "/api/generate", GENERATE).json()
    assert data["response"] == "a b" and "message" not in data and "thinking" not in data
    assert data["done"] is True and data["done_reason"] == "stop"
    assert data["prompt_eval_count"] == 3 and data["eval_count"] == 2


def test_openai_chat_shape(server: FakeLLMServer, http: requests.Session) -> None:
    server.script("/v1/chat/completions", Reply(content="hi there you"))
    data = post(http, server, "/v1/chat/completions", {"model": "gpt-oss:20b", "messages": CHAT["messages"]}).json()
    assert data["object"] == "chat.completion" and data["id"].startswith("chatcmpl-")
    assert data["model"] == "gpt-oss:20b" and isinstance(data["created"], int)
    assert data["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "hi there you"}, "finish_reason": "stop"}
    ]
    assert data["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}


def test_refuse_json_schema_answers_like_llama_cpp(server: FakeLLMServer, http: requests.Session) -> None:
    schema = {"type": "object"}
    openai_form = {"type": "json_schema", "json_schema": {"name": "t", "schema": schema, "strict": True}}
    llama_form = {"type": "json_object", "schema": schema}
    base = {"model": "gpt-oss:20b", "messages": CHAT["messages"]}
    assert post(http, server, "/v1/chat/completions", {**base, "response_format": openai_form}).status_code == 200
    server.refuse_json_schema = True
    refused = post(http, server, "/v1/chat/completions", {**base, "response_format": openai_form})
    assert refused.status_code == 500
    error = refused.json()["error"]
    assert error["type"] == "internal_server_error" and "Input should be 'text' or 'json_object'" in error["message"]
    assert post(http, server, "/v1/chat/completions", {**base, "response_format": llama_form}).status_code == 200
    assert post(http, server, "/v1/chat/completions", base).status_code == 200


def test_ollama_embed_single_and_list(server: FakeLLMServer, http: requests.Session) -> None:
    one = post(http, server, "/api/embed", {"model": "bge-m3", "input": "사과"}).json()
    assert one["model"] == "bge-m3" and len(one["embeddings"]) == 1
    vec = one["embeddings"][0]
    assert len(vec) == 8 and math.isclose(sum(v * v for v in vec), 1.0)
    assert set(one) >= {"total_duration", "load_duration", "prompt_eval_count"}
    many = post(http, server, "/api/embed", {"model": "bge-m3", "input": ["x", "사과", "y"]}).json()
    assert many["embeddings"] == [server.embedder("x"), vec, server.embedder("y")]
    assert many["embeddings"][0] != many["embeddings"][2]


def test_openai_embeddings(server: FakeLLMServer, http: requests.Session) -> None:
    data = post(http, server, "/v1/embeddings", {"model": "bge-m3", "input": ["a", "b c"]}).json()
    assert data["object"] == "list" and data["model"] == "bge-m3"
    assert [(d["object"], d["index"]) for d in data["data"]] == [("embedding", 0), ("embedding", 1)]
    assert [d["embedding"] for d in data["data"]] == [server.embedder("a"), server.embedder("b c")]
    assert data["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    single = post(http, server, "/v1/embeddings", {"model": "bge-m3", "input": "a"}).json()
    assert [d["embedding"] for d in single["data"]] == [server.embedder("a")]


def test_embed_dim_embedder_and_scripted_vectors(http: requests.Session) -> None:
    with FakeLLMServer(models=["e"], embed_dim=40) as srv:
        assert len(post(http, srv, "/api/embed", {"model": "e", "input": "t"}).json()["embeddings"][0]) == 40
        srv.embedder = lambda text: [float(len(text))]
        assert post(http, srv, "/api/embed", {"model": "e", "input": ["ab"]}).json()["embeddings"] == [[2.0]]
        srv.script("/v1/embeddings", Reply(embeddings=[[1.0, 0.0], [0.0, 1.0]]))
        data = post(http, srv, "/v1/embeddings", {"model": "e", "input": ["p", "q"]}).json()
        assert [d["embedding"] for d in data["data"]] == [[1.0, 0.0], [0.0, 1.0]]


def test_responder_receives_kind_and_request(server: FakeLLMServer, http: requests.Session) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def responder(kind: str, request: dict[str, Any]) -> str:
        calls.append((kind, request))
        return f'{{"kind": "{kind}"}}'

    server.responder = responder
    assert post(http, server, "/api/chat", CHAT).json()["message"]["content"] == '{"kind": "chat"}'
    assert post(http, server, "/api/generate", GENERATE).json()["response"] == '{"kind": "generate"}'
    v1 = post(http, server, "/v1/chat/completions", CHAT).json()
    assert v1["choices"][0]["message"]["content"] == '{"kind": "chat"}'
    assert calls == [("chat", CHAT), ("generate", GENERATE), ("chat", CHAT)]


def test_responder_exception_becomes_500(server: FakeLLMServer, http: requests.Session) -> None:
    server.responder = lambda kind, request: 1 / 0  # type: ignore[return-value]
    r = post(http, server, "/api/chat", CHAT)
    assert r.status_code == 500 and "ZeroDivisionError" in r.json()["error"]


def test_latency_and_delay_slow_replies(server: FakeLLMServer, http: requests.Session) -> None:
    def timed() -> float:
        start = time.monotonic()
        assert post(http, server, "/api/chat", CHAT).status_code == 200
        return time.monotonic() - start

    assert timed() < 0.15
    server.script("/api/chat", Reply(delay=0.2))
    assert timed() >= 0.2
    assert timed() < 0.15
    server.latency = 0.15
    server.script("/api/chat", Reply(delay=0.1))
    assert timed() >= 0.25
    assert 0.15 <= timed() < 0.25


def test_delay_triggers_client_timeout(server: FakeLLMServer, http: requests.Session) -> None:
    server.script("/api/chat", Reply(delay=0.3))
    with pytest.raises(requests.Timeout):
        http.post(server.url + "/api/chat", json=CHAT, timeout=0.1)


@pytest.mark.parametrize("status", [404, 500, 503])
def test_scripted_status_ollama(server: FakeLLMServer, http: requests.Session, status: int) -> None:
    server.script("/api/chat", Reply(status=status))
    r = post(http, server, "/api/chat", CHAT)
    assert r.status_code == status
    error = r.json()["error"]
    assert isinstance(error, str) and error
    if status == 503:
        assert error == "server busy, please try again.  maximum pending requests exceeded"


@pytest.mark.parametrize(("status", "etype"), [(404, "not_found_error"), (500, "api_error"), (503, "api_error")])
def test_scripted_status_openai(server: FakeLLMServer, http: requests.Session, status: int, etype: str) -> None:
    server.script("/v1/chat/completions", Reply(status=status, error="boom"))
    r = post(http, server, "/v1/chat/completions", CHAT)
    assert r.status_code == status
    assert r.json() == {"error": {"message": "boom", "type": etype, "param": None, "code": None}}


def test_scripted_status_custom_message_ollama(server: FakeLLMServer, http: requests.Session) -> None:
    server.script("/api/embed", Reply(status=500, error="llama runner process has terminated"))
    r = post(http, server, "/api/embed", {"model": "bge-m3", "input": "x"})
    assert (r.status_code, r.json()) == (500, {"error": "llama runner process has terminated"})


def test_drop_closes_connection(server: FakeLLMServer, http: requests.Session) -> None:
    server.script("/api/chat", Reply(drop=True))
    with pytest.raises(requests.ConnectionError):
        post(http, server, "/api/chat", CHAT)
    assert server.count("/api/chat") == 1
    assert post(http, server, "/api/chat", CHAT).status_code == 200
    assert server.count("/api/chat") == 2


def test_drop_on_reused_connection(server: FakeLLMServer, http: requests.Session) -> None:
    assert post(http, server, "/v1/chat/completions", CHAT).status_code == 200
    server.script("/v1/chat/completions", Reply(drop=True))
    with pytest.raises(requests.ConnectionError):
        post(http, server, "/v1/chat/completions", CHAT)


def test_malformed_body(server: FakeLLMServer, http: requests.Session) -> None:
    server.script("/api/chat", Reply(body='{"model": "gpt-oss:20b", "message": {"con'))
    server.script("/v1/chat/completions", Reply(body=b"<html>bad gateway</html>", status=502))
    r = post(http, server, "/api/chat", CHAT)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.text == '{"model": "gpt-oss:20b", "message": {"con'
    with pytest.raises(requests.JSONDecodeError):
        r.json()
    r = post(http, server, "/v1/chat/completions", CHAT)
    assert r.status_code == 502 and r.content == b"<html>bad gateway</html>"
    with pytest.raises(ValueError):
        r.json()
    # The connection still works after a raw body: Content-Length was right.
    assert post(http, server, "/api/chat", CHAT).json()["message"]["content"] == "{}"


def test_script_fifo_then_normal(server: FakeLLMServer, http: requests.Session) -> None:
    server.script("/api/chat", Reply(content="first"), Reply(status=503))
    server.script("/api/chat", Reply(content="third"))
    assert post(http, server, "/api/chat", CHAT).json()["message"]["content"] == "first"
    assert post(http, server, "/api/generate", GENERATE).json()["response"] == "{}"  # other path untouched
    assert post(http, server, "/api/chat", CHAT).status_code == 503
    assert post(http, server, "/api/chat", CHAT).json()["message"]["content"] == "third"
    assert post(http, server, "/api/chat", CHAT).json()["message"]["content"] == "{}"


def test_removed_model_is_not_found(server: FakeLLMServer, http: requests.Session) -> None:
    server.models.remove("gpt-oss:20b")
    r = post(http, server, "/api/chat", CHAT)
    assert (r.status_code, r.json()) == (404, {"error": 'model "gpt-oss:20b" not found, try pulling it first'})
    assert post(http, server, "/api/generate", GENERATE).status_code == 404
    r = post(http, server, "/v1/chat/completions", CHAT)
    assert r.status_code == 404
    error = r.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("not_found_error", "model_not_found", None)
    assert "gpt-oss:20b" in error["message"]
    server.models.remove("bge-m3")
    assert post(http, server, "/api/embed", {"model": "bge-m3", "input": "x"}).status_code == 404
    assert post(http, server, "/v1/embeddings", {"model": "bge-m3", "input": "x"}).json()["error"]["code"] == (
        "model_not_found"
    )
    assert http.get(server.url + "/api/tags", timeout=5).json() == {"models": []}


def test_latest_tag_matches(server: FakeLLMServer, http: requests.Session) -> None:
    assert post(http, server, "/api/embed", {"model": "bge-m3:latest", "input": "x"}).status_code == 200
    assert post(http, server, "/api/chat", {**CHAT, "model": "gpt-oss"}).status_code == 404


def test_count_seen_reset(server: FakeLLMServer, http: requests.Session) -> None:
    post(http, server, "/api/chat", CHAT, headers={"X-Test": "yes"})
    http.get(server.url + "/api/tags", timeout=5)
    http.post(server.url + "/api/chat", data="not json", timeout=5)
    server.script("/api/chat", Reply(content="never used"))
    assert server.count() == 3 and server.count("/api/chat") == 2 and server.count("/v1/models") == 0
    first, second, third = server.seen
    assert (first.method, first.path, first.body, first.headers["X-Test"]) == ("POST", "/api/chat", CHAT, "yes")
    assert (second.method, second.path, second.body) == ("GET", "/api/tags", None)
    assert third.body == "not json"
    server.reset()
    assert server.count() == 0 and server.seen == []
    assert post(http, server, "/api/chat", CHAT).json()["message"]["content"] == "{}"


def test_errors_and_drops_are_recorded(server: FakeLLMServer, http: requests.Session) -> None:
    server.script("/api/chat", Reply(drop=True), Reply(status=500))
    with pytest.raises(requests.ConnectionError):
        post(http, server, "/api/chat", CHAT)
    post(http, server, "/api/chat", CHAT)
    http.get(server.url + "/nope", timeout=5)
    assert [s.path for s in server.seen] == ["/api/chat", "/api/chat", "/nope"]


def test_thinking(server: FakeLLMServer, http: requests.Session) -> None:
    server.script("/api/chat", Reply(content="42", thinking="let me think"))
    server.script("/api/generate", Reply(content="42", thinking="hmm"))
    server.script("/v1/chat/completions", Reply(content="42", thinking="reasoning"))
    assert post(http, server, "/api/chat", CHAT).json()["message"] == {
        "role": "assistant",
        "content": "42",
        "thinking": "let me think",
    }
    gen = post(http, server, "/api/generate", GENERATE).json()
    assert (gen["response"], gen["thinking"]) == ("42", "hmm")
    message = post(http, server, "/v1/chat/completions", CHAT).json()["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "42", "reasoning_content": "reasoning"}
    assert "reasoning_content" not in post(http, server, "/v1/chat/completions", CHAT).json()["choices"][0]["message"]


def test_done_reason_length(server: FakeLLMServer, http: requests.Session) -> None:
    server.script("/api/chat", Reply(content='{"a": ', done_reason="length"))
    server.script("/v1/chat/completions", Reply(content='{"a": ', done_reason="length"))
    assert post(http, server, "/api/chat", CHAT).json()["done_reason"] == "length"
    assert post(http, server, "/v1/chat/completions", CHAT).json()["choices"][0]["finish_reason"] == "length"


def test_bad_request_and_unknown_path(server: FakeLLMServer, http: requests.Session) -> None:
    r = http.post(server.url + "/api/chat", data=b"{not json", timeout=5)
    assert r.status_code == 400 and isinstance(r.json()["error"], str)
    r = http.post(server.url + "/v1/embeddings", data=b"[1, 2]", timeout=5)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert http.get(server.url + "/api/nothing", timeout=5).status_code == 404
    r = http.get(server.url + "/v1/nothing", timeout=5)
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    assert http.get(server.url + "/api/chat", timeout=5).status_code == 404


def test_keep_alive_reuses_one_connection(
    server: FakeLLMServer, http: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    connects: list[Any] = []
    real_connect = urllib3.util.connection.create_connection

    def counting_connect(*args: Any, **kwargs: Any) -> Any:
        connects.append(args[0])
        return real_connect(*args, **kwargs)

    # urllib3 reconnects a closed connection object in place, so count real TCP connects instead.
    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting_connect)
    server.script("/api/chat", Reply(status=503), Reply(body="{oops"))
    for _ in range(3):
        post(http, server, "/api/chat", CHAT)
    http.get(server.url + "/api/tags", timeout=5)
    assert len(connects) == 1
    assert server.count() == 4


def test_stop_with_open_keep_alive_connection(http: requests.Session) -> None:
    srv = FakeLLMServer().start()
    assert http.get(srv.url + "/api/version", timeout=5).ok
    # Stop in a helper thread so a hanging stop() fails the test instead of freezing the run.
    stopper = threading.Thread(target=srv.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=1.0)
    assert not stopper.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.url + "/api/version", timeout=1)
