"""`etl synth` end to end against the loopback LLM server: landing, cache, faults, resume after kill -9."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from etl import config
from etl.steps import synth
from etl.warehouse import Warehouse
from tests.fakeserver import FakeLLMServer, Reply
from tests.llm_answers import answer, english

CHAT = {"ollama": "/api/chat", "openai": "/v1/chat/completions"}


def summary(output: str) -> dict[str, str]:
    """The label → value lines of a printed step summary."""
    pairs = (re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in output.splitlines() if line.startswith("  "))
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def prompt_of(body: dict[str, Any]) -> str:
    return body["messages"][0]["content"]


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test-sized backoff, and every term gets sentences so counts are exact."""
    monkeypatch.setenv("ETL_LLM_BACKOFF", "0.01")
    monkeypatch.setenv("ETL_SYNTH_SENTENCES_SAMPLE", "1.0")
    monkeypatch.setenv("ETL_SYNTH_EXPAND_ASK", "5")
    monkeypatch.setenv("ETL_SYNTH_EXPAND_KEEP", "2")


def rows(warehouse_path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with Warehouse.open(warehouse_path) as wh:
        return wh.execute(sql, params).fetchall()


def count(warehouse_path: Path, table: str) -> int:
    return rows(warehouse_path, f"SELECT count(*) FROM {table}")[0][0]


def chat_requests(server: FakeLLMServer) -> list[dict[str, Any]]:
    return [s.body for s in server.seen if s.path in CHAT.values()]


# -- the happy path -------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_synth_lands_terms_translations_and_sentences(etl, server, seeds, warehouse_path, api) -> None:
    out = etl("synth", "--llm-url", server.url, "--llm-api", api, "--seeds", str(seeds)).output
    # 2 expansions + 8 distinct terms (컨테이너 once) + 8 sentence calls
    assert summary(out)["calls made"] == "18" and summary(out)["served from cache"] == "0"
    assert (
        summary(out)["terms translated"] == "8 of 8" and summary(out)["parallel sentences"] == "24 for 8 sampled terms"
    )
    listed = rows(
        warehouse_path, "SELECT category, term, origin, call_hash IS NULL FROM category_terms ORDER BY position"
    )
    assert listed == [
        ("ml", "딥러닝", "seed", True),
        ("ml", "신경망", "seed", True),
        ("ml", "컨테이너", "seed", True),
        ("ml", "ml확장0", "expanded", False),
        ("ml", "ml확장1", "expanded", False),
        ("infra", "컨테이너", "seed", True),
        ("infra", "도커", "seed", True),
        ("infra", "infra확장0", "expanded", False),
        ("infra", "infra확장1", "expanded", False),
    ]
    translations = rows(
        warehouse_path, "SELECT ko, en_primary, en_alternatives, abbreviation, category FROM translations"
    )
    assert len(translations) == 8
    assert ("컨테이너", english("컨테이너"), [english("컨테이너") + " alt"], None, "ml") in translations
    sentences = rows(warehouse_path, "SELECT ko, en, term_ko, term_en, category FROM parallel_sentences")
    assert len(sentences) == 24
    assert ("도커 예문 0", f"Example 0 with {english('도커')}.", "도커", english("도커"), "infra") in sentences
    calls = rows(
        warehouse_path, "SELECT task, api, model, status, attempts, count(*) FROM llm_calls GROUP BY ALL ORDER BY task"
    )
    assert calls == [
        ("expand", api, "gpt-oss:20b", "ok", 1, 2),
        ("sentences", api, "gpt-oss:20b", "ok", 1, 8),
        ("translate", api, "gpt-oss:20b", "ok", 1, 8),
    ]
    # Every parsed row points at the call it came from, and that call was stored verbatim.
    orphans = rows(warehouse_path, "SELECT count(*) FROM translations t ANTI JOIN llm_calls c USING (call_hash)")
    assert orphans == [(0,)]
    steps = rows(warehouse_path, "SELECT step, status FROM runs ORDER BY run_id")
    assert steps == [("synth.expand", "ok"), ("synth.translate", "ok"), ("synth.sentences", "ok")]
    assert count(warehouse_path, "rejects") == 0
    assert server.count("/api/tags" if api == "ollama" else "/v1/models") == 1  # one health check for all stages


def test_default_seeds_keep_the_shared_term_in_both_categories(etl, server, warehouse_path, monkeypatch) -> None:
    monkeypatch.setenv("ETL_SYNTH_EXPAND_KEEP", "0")
    etl("synth", "--llm-url", server.url, "--concurrency", "8")
    assert count(warehouse_path, "category_terms") == 69
    assert rows(warehouse_path, "SELECT category FROM category_terms WHERE term = '컨테이너' ORDER BY position") == [
        ("software_engineering",),
        ("cloud_infrastructure",),
    ]
    assert rows(warehouse_path, "SELECT category FROM translations WHERE ko = '컨테이너'") == [
        ("software_engineering",)
    ]
    assert count(warehouse_path, "translations") == 68
    prompts = [prompt_of(b) for b in chat_requests(server)]
    assert sum("Korean term: 컨테이너\n" in p and p.startswith("Translate") for p in prompts) == 1


def test_structured_output_requests_carry_each_tasks_schema(etl, server, seeds) -> None:
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds), "--think", "medium")
    bodies = chat_requests(server)
    schemas = {json.dumps(b["format"], sort_keys=True) for b in bodies}
    assert len(schemas) == 3
    for body in bodies:
        key = {"additional": "terms", "Translate": "primary", "parallel": "pairs"}
        wanted = next(v for k, v in key.items() if k in prompt_of(body))
        assert wanted in body["format"]["properties"] and body["format"]["required"]
        assert body["think"] == "medium"
    server.reset()
    etl("synth", "--llm-url", server.url, "--llm-api", "openai", "--seeds", str(seeds), "--refresh")
    for body in chat_requests(server):
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"]["type"] == "object"
        assert body["reasoning_effort"] == "low"


def test_tolerant_parsing_of_chatter_fences_and_nesting(etl, server, seeds, warehouse_path) -> None:
    def chatty(kind: str, body: dict[str, Any]) -> str:
        clean = answer(kind, body)
        prompt = prompt_of(body)
        if prompt.startswith("Translate"):
            data = json.loads(clean)
            data["notes"] = {"source": {"kind": "glossary", "tags": ["a", {"b": 1}]}}
            return f"Sure! Here is the translation:\n{json.dumps(data)}\nLet me know if you need more."
        if "additional" in prompt:
            return f"```json\n{clean}\n```"
        return f"Okay.\n```\n{clean}\n```\nDone."

    server.responder = chatty
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    assert count(warehouse_path, "translations") == 8 and count(warehouse_path, "parallel_sentences") == 24
    assert count(warehouse_path, "category_terms") == 9 and count(warehouse_path, "rejects") == 0
    stored = rows(warehouse_path, "SELECT response FROM llm_calls WHERE task = 'translate' LIMIT 1")[0][0]
    assert stored.startswith("Sure! Here is the translation:")  # the answer is kept verbatim


def test_thinking_is_stored_apart_from_the_answer(etl, server, seeds, warehouse_path) -> None:
    server.script("/api/chat", Reply(content='{"terms": ["생각확장"]}', thinking="The user wants ML terms."))
    server.script("/v1/chat/completions", Reply(content='{"terms": ["생각확장"]}', thinking="reasoning text"))
    etl("synth", "expand", "--llm-url", server.url, "--seeds", str(seeds), "--concurrency", "1")
    etl(
        "synth",
        "expand",
        "--llm-url",
        server.url,
        "--llm-api",
        "openai",
        "--seeds",
        str(seeds),
        "--concurrency",
        "1",
        "--refresh",
    )
    thought = rows(
        warehouse_path, "SELECT api, response, thinking FROM llm_calls WHERE thinking IS NOT NULL ORDER BY api"
    )
    assert thought == [
        ("ollama", '{"terms": ["생각확장"]}', "The user wants ML terms."),
        ("openai", '{"terms": ["생각확장"]}', "reasoning text"),
    ]
    assert count(warehouse_path, "llm_calls WHERE thinking IS NULL") == 2


def test_a_server_refusing_json_schema_gets_json_object_with_the_schema(etl, server, seeds, warehouse_path) -> None:
    server.refuse_json_schema = True  # as llama.cpp's Python server does
    out = etl(
        "synth", "--llm-url", server.url, "--llm-api", "openai", "--seeds", str(seeds), "--concurrency", "2"
    ).output
    assert summary(out)["failed"] == "0" and summary(out)["calls made"] == "18"
    assert summary(out)["structured output"].startswith("json_object + schema")
    forms = [b["response_format"] for b in chat_requests(server)]
    refused = [f for f in forms if f["type"] == "json_schema"]
    # Only the requests sent before the first refusal came back (at most one per slot) were refused,
    # each was resent once, and every other request went straight in the accepted form.
    assert 1 <= len(refused) <= 2 and len(forms) == 18 + len(refused)
    assert all(f["type"] == "json_object" and f["schema"]["type"] == "object" for f in forms if f not in refused)
    assert rows(warehouse_path, "SELECT sum(attempts), count(*) FILTER (status = 'ok') FROM llm_calls") == [
        (len(forms), 18)
    ]
    stored = {
        json.loads(r)["response_format"]["type"] for (r,) in rows(warehouse_path, "SELECT request FROM llm_calls")
    }
    assert stored == {"json_object"}
    assert count(warehouse_path, "translations") == 8 and count(warehouse_path, "parallel_sentences") == 24
    # The wire form is not part of the cache key: a server taking json_schema finds every answer cached.
    with FakeLLMServer() as other:
        out = etl("synth", "--llm-url", other.url, "--llm-api", "openai", "--seeds", str(seeds)).output
        assert other.seen == [] and summary(out)["served from cache"] == "18"
        assert "structured output" not in summary(out)


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_length_truncation_is_retried_with_a_larger_budget(etl, server, seeds, warehouse_path, api) -> None:
    server.script(CHAT[api], Reply(content="", thinking="still thinking...", done_reason="length"))
    etl("synth", "expand", "--llm-url", server.url, "--llm-api", api, "--seeds", str(seeds), "--concurrency", "1")
    budgets = [b.get("max_tokens") or b["options"]["num_predict"] for b in chat_requests(server)]
    assert budgets == [2048, 4096, 2048]
    calls = rows(
        warehouse_path, "SELECT attempts, status, done_reason, response <> '' FROM llm_calls ORDER BY attempts"
    )
    assert calls == [(1, "ok", "stop", True), (2, "ok", "stop", True)]
    assert count(warehouse_path, "category_terms WHERE origin = 'expanded'") == 4


@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_server_errors_and_drops_are_retried_then_succeed(etl, server, seeds, warehouse_path, api, monkeypatch) -> None:
    monkeypatch.setenv("ETL_LLM_MAX_ATTEMPTS", "5")  # even if one call meets all four faults
    server.script(CHAT[api], Reply(status=503), Reply(status=500), Reply(drop=True), Reply(status=502))
    out = etl("synth", "--llm-url", server.url, "--llm-api", api, "--seeds", str(seeds), "--concurrency", "2").output
    assert summary(out)["failed"] == "0"
    assert len(chat_requests(server)) == 18 + 4
    assert rows(warehouse_path, "SELECT sum(attempts), count(*), count(*) FILTER (status = 'ok') FROM llm_calls") == [
        (22, 18, 18)
    ]
    assert count(warehouse_path, "translations") == 8 and count(warehouse_path, "parallel_sentences") == 24


def test_failed_calls_are_recorded_and_the_run_goes_on(etl, server, seeds, warehouse_path, monkeypatch) -> None:
    monkeypatch.setenv("ETL_LLM_MAX_ATTEMPTS", "2")
    etl("synth", "expand", "--llm-url", server.url, "--seeds", str(seeds))
    server.script("/api/chat", Reply(status=503), Reply(status=503))
    out = etl("synth", "translate", "--llm-url", server.url, "--concurrency", "1").output
    assert summary(out)["failed"] == "1" and summary(out)["terms translated"] == "7 of 8"
    assert "run the same command again" in out
    failed = rows(warehouse_path, "SELECT attempts, error, response FROM llm_calls WHERE status = 'failed'")
    assert len(failed) == 1 and failed[0][0] == 2 and failed[0][2] is None
    assert failed[0][1].startswith("2 attempt(s) failed; last: HTTP 503") and "server busy" in failed[0][1]
    assert rows(warehouse_path, "SELECT status FROM runs WHERE step = 'synth.translate'") == [("ok",)]
    server.reset()
    out = etl("synth", "translate", "--llm-url", server.url).output
    assert len(chat_requests(server)) == 1  # only the failed term is asked again
    assert summary(out)["calls made"] == "1" and summary(out)["served from cache"] == "7"
    assert count(warehouse_path, "translations") == 8


def test_a_dead_server_stops_the_stage_instead_of_retrying_forever(
    etl, server, seeds, warehouse_path, monkeypatch
) -> None:
    monkeypatch.setenv("ETL_LLM_MAX_ATTEMPTS", "1")
    etl("synth", "expand", "--llm-url", server.url, "--seeds", str(seeds))
    server.script("/api/chat", *[Reply(status=500)] * 50)
    result = etl("synth", "translate", "--llm-url", server.url, "--concurrency", "1", ok=False)
    assert result.exit_code == 1
    assert "the last 8 translate calls all failed" in result.output and "run the same command again" in result.output
    assert count(warehouse_path, "llm_calls WHERE status = 'failed'") == 8
    assert rows(warehouse_path, "SELECT status FROM runs WHERE step = 'synth.translate'") == [("failed",)]


# -- health check ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fresh", [True, False], ids=["new-warehouse", "existing-warehouse"])
@pytest.mark.parametrize("api", ["ollama", "openai"])
def test_missing_model_is_one_clear_line_and_writes_nothing(etl, server, seeds, warehouse_path, api, fresh) -> None:
    if not fresh:
        Warehouse.open(warehouse_path).close()
    server.models.remove("gpt-oss:20b")
    result = etl("synth", "--llm-url", server.url, "--llm-api", api, "--seeds", str(seeds), ok=False)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "ollama pull gpt-oss:20b" in result.output
    assert result.output.startswith("error: model 'gpt-oss:20b' is not")
    assert chat_requests(server) == []
    if fresh:
        assert not warehouse_path.exists()
        return
    for table in ("runs", "llm_calls", "category_terms", "rejects"):
        assert count(warehouse_path, table) == 0


def test_unreachable_server_names_ollama_serve_and_creates_no_warehouse(etl, warehouse_path, seeds) -> None:
    with FakeLLMServer() as gone:
        url = gone.url
    result = etl("synth", "--llm-url", url, "--seeds", str(seeds), ok=False)
    assert result.exit_code == 1 and "`ollama serve`" in result.output and url in result.output
    assert "Traceback" not in result.output
    assert not warehouse_path.exists()


def test_a_cached_rerun_needs_no_server_at_all(etl, server, seeds, warehouse_path) -> None:
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    before = snapshot(warehouse_path)
    server.stop()  # nothing listens on its port any more: any request, the health check included, would fail
    out = etl("synth", "--llm-url", server.url, "--seeds", str(seeds)).output
    assert summary(out)["calls made"] == "0" and summary(out)["served from cache"] == "18"
    assert summary(out)["failed"] == "0" and snapshot(warehouse_path) == before
    settings = config.load(env={**os.environ, "ETL_LLM_URL": server.url}).settings
    with Warehouse.open(warehouse_path) as wh:
        again = synth.run(wh, settings, stages=("translate", "sentences"))
    assert again.counts["cached"] == 16


def test_a_stage_with_calls_to_make_checks_the_server_before_writing(etl, server, seeds, warehouse_path) -> None:
    etl("synth", "expand", "--llm-url", server.url, "--seeds", str(seeds))
    server.stop()
    result = etl("synth", "--llm-url", server.url, "--seeds", str(seeds), ok=False)
    assert result.exit_code == 1 and "cannot reach" in result.output and "`ollama serve`" in result.output
    # expand was answered from the cache and ran; translate had calls to make and stopped before its run row.
    steps = rows(warehouse_path, "SELECT step, status FROM runs ORDER BY run_id")
    assert steps == [("synth.expand", "ok"), ("synth.expand", "ok")]
    assert count(warehouse_path, "llm_calls") == 2 and count(warehouse_path, "translations") == 0


def test_a_connected_client_is_not_checked_again(server, seeds, warehouse_path) -> None:
    settings = config.load(env={**os.environ, "ETL_LLM_URL": server.url}).settings
    client = synth.connect(settings)
    assert server.count("/api/tags") == 1
    with Warehouse.open(warehouse_path) as wh:
        synth.run(wh, settings, seeds_path=seeds, client=client)
        assert server.count("/api/tags") == 1 and len(chat_requests(server)) == 18
        # --refresh sends everything again, so an unchecked client checks first (once for all stages).
        synth.run(wh, settings, seeds_path=seeds, refresh=True)
    assert server.count("/api/tags") == 2 and len(chat_requests(server)) == 36


def test_stages_need_the_stage_before(etl, server, warehouse_path) -> None:
    assert "run `etl synth expand` first" in etl("synth", "translate", "--llm-url", server.url, ok=False).output
    assert "run `etl synth translate` first" in etl("synth", "sentences", "--llm-url", server.url, ok=False).output


# -- rejects --------------------------------------------------------------------------------------


def test_wrong_shape_answers_become_rejects(etl, server, seeds, warehouse_path) -> None:
    def shapes(kind: str, body: dict[str, Any]) -> str:
        prompt = prompt_of(body)
        if "Korean term: 도커\n" in prompt and prompt.startswith("Translate"):
            return '["docker", "container engine"]'
        if "Korean term: 신경망\n" in prompt and prompt.startswith("Translate"):
            return '{"primary": "", "alternatives": []}'
        if "Korean term: 딥러닝\n" in prompt and "parallel" in prompt:
            return '{"pairs": [{"ko": "Deep learning is fun.", "en": "Deep learning is fun."}]}'
        return answer(kind, body)

    server.responder = shapes
    out = etl("synth", "--llm-url", server.url, "--seeds", str(seeds)).output
    assert summary(out)["rejected"] == "3"
    rejects = rows(
        warehouse_path,
        "SELECT r.step, r.rule, r.source, r.payload, c.task FROM rejects r "
        "JOIN llm_calls c USING (call_hash) ORDER BY r.step, r.rule",
    )
    assert rejects == [
        (
            "synth.sentences",
            "no_hangul",
            "딥러닝",
            '{"ko": "Deep learning is fun.", "en": "Deep learning is fun."}',
            "sentences",
        ),
        ("synth.translate", "empty_primary", "신경망", '{"primary": "", "alternatives": []}', "translate"),
        ("synth.translate", "wrong_shape", "도커", '["docker", "container engine"]', "translate"),
    ]
    assert count(warehouse_path, "translations") == 6
    assert count(warehouse_path, "parallel_sentences WHERE term_ko = '딥러닝'") == 0
    # A rerun re-reads the same answers: the same rejects, not a second copy.
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    assert count(warehouse_path, "rejects") == 3


def test_answers_copying_the_prompts_examples_become_rejects(etl, server, seeds, warehouse_path) -> None:
    def copycat(kind: str, body: dict[str, Any]) -> str:
        prompt = prompt_of(body)
        if 'category "ml"' in prompt:
            return '{"terms": ["용어1", "용어2", "ml확장0"]}'
        if prompt.startswith("Translate") and "Korean term: 신경망\n" in prompt:
            return (
                '{"primary": "main English translation", "alternatives": ["alternative 1"], '
                '"abbreviation": "abbrev or null"}'
            )
        if "parallel" in prompt and "Korean term: 도커\n" in prompt:
            return '{"pairs": [{"ko": "한국어 문장", "en": "English sentence"}]}'
        return answer(kind, body)

    server.responder = copycat
    out = etl("synth", "--llm-url", server.url, "--seeds", str(seeds)).output
    assert summary(out)["rejected"] == "4"
    rejects = rows(warehouse_path, "SELECT step, rule, source, payload FROM rejects ORDER BY step, payload")
    assert rejects == [
        ("synth.expand", "placeholder", "ml", "용어1"),
        ("synth.expand", "placeholder", "ml", "용어2"),
        ("synth.sentences", "placeholder", "도커", '{"ko": "한국어 문장", "en": "English sentence"}'),
        (
            "synth.translate",
            "placeholder",
            "신경망",
            '{"primary": "main English translation", '
            '"alternatives": ["alternative 1"], "abbreviation": "abbrev or null"}',
        ),
    ]
    assert all("copies the prompt" in reason for (reason,) in rows(warehouse_path, "SELECT reason FROM rejects"))
    assert rows(warehouse_path, "SELECT term FROM category_terms WHERE category = 'ml' AND origin = 'expanded'") == [
        ("ml확장0",)
    ]
    assert count(warehouse_path, "translations WHERE ko = '신경망'") == 0
    assert count(warehouse_path, "translations") == 6
    assert count(warehouse_path, "parallel_sentences WHERE term_ko = '도커'") == 0
    assert count(warehouse_path, "parallel_sentences") == 15


def test_a_run_whose_translations_are_all_refused_ends_with_its_summary(etl, server, seeds, warehouse_path) -> None:
    def copycat(kind: str, body: dict[str, Any]) -> str:
        if prompt_of(body).startswith("Translate"):
            return '{"primary": "English translation of Korean term", "alternatives": [], "abbreviation": null}'
        return answer(kind, body)

    server.responder = copycat
    out = etl("synth", "--llm-url", server.url, "--seeds", str(seeds)).output
    assert summary(out)["terms translated"] == "0 of 8" and summary(out)["rejected"] == "8"
    assert summary(out)["parallel sentences"] == "0 for 0 sampled terms"
    assert rows(warehouse_path, "SELECT step, status FROM runs ORDER BY run_id") == [
        ("synth.expand", "ok"),
        ("synth.translate", "ok"),
        ("synth.sentences", "ok"),
    ]
    assert len(chat_requests(server)) == 2 + 8
    # On its own, the sentences stage still says what to run first.
    assert "run `etl synth translate` first" in etl("synth", "sentences", "--llm-url", server.url, ok=False).output


# -- cache, refresh, resume -----------------------------------------------------------------------


def snapshot(warehouse_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "category_terms": rows(
            warehouse_path, "SELECT category, term, origin, call_hash, position FROM category_terms ORDER BY ALL"
        ),
        "translations": rows(
            warehouse_path,
            "SELECT ko, en_primary, en_alternatives, abbreviation, category, call_hash FROM translations ORDER BY ALL",
        ),
        "parallel_sentences": rows(
            warehouse_path, "SELECT ko, en, term_ko, term_en, category, call_hash FROM parallel_sentences ORDER BY ALL"
        ),
        "llm_calls": rows(warehouse_path, "SELECT call_hash, response FROM llm_calls ORDER BY ALL"),
    }


def test_rerun_is_served_entirely_from_cache(etl, server, seeds, warehouse_path) -> None:
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    before = snapshot(warehouse_path)
    server.reset()
    out = etl("synth", "--llm-url", server.url, "--seeds", str(seeds)).output
    assert server.seen == []  # no chat request, and no health check either
    assert summary(out)["calls made"] == "0" and summary(out)["served from cache"] == "18"
    assert snapshot(warehouse_path) == before
    counts = rows(
        warehouse_path, "SELECT counts->>'cached', counts->>'calls' FROM runs WHERE run_id > 3 ORDER BY run_id"
    )
    assert counts == [("2", "0"), ("8", "0"), ("8", "0")]


def test_cache_is_shared_across_servers_and_wire_formats(etl, server, seeds) -> None:
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    server.reset()
    with FakeLLMServer() as other:
        etl("synth", "--llm-url", other.url, "--llm-api", "openai", "--seeds", str(seeds))
        assert other.count("/v1/chat/completions") == 0


def test_refresh_sends_every_request_again(etl, server, seeds, warehouse_path) -> None:
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    server.reset()
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds), "--refresh")
    assert len(chat_requests(server)) == 18
    assert count(warehouse_path, "llm_calls") == 36
    assert count(warehouse_path, "translations") == 8 and count(warehouse_path, "parallel_sentences") == 24


def test_changed_seeds_replace_the_plan(etl, server, seeds, warehouse_path, tmp_path) -> None:
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    smaller = tmp_path / "smaller.toml"
    smaller.write_text('ml = ["딥러닝", "신경망"]\n', encoding="utf-8")
    etl("synth", "--llm-url", server.url, "--seeds", str(smaller))
    assert count(warehouse_path, "category_terms") == 4
    assert {ko for (ko,) in rows(warehouse_path, "SELECT ko FROM translations")} == {
        "딥러닝",
        "신경망",
        "ml확장0",
        "ml확장1",
    }
    assert count(warehouse_path, "parallel_sentences") == 12


def test_sentences_use_a_seeded_sample(etl, server, seeds, warehouse_path, monkeypatch) -> None:
    monkeypatch.setenv("ETL_SYNTH_SENTENCES_SAMPLE", "0.3")
    etl("synth", "--llm-url", server.url, "--seeds", str(seeds))
    first = rows(warehouse_path, "SELECT DISTINCT term_ko FROM parallel_sentences ORDER BY 1")
    assert len(first) == int(8 * 0.3)
    monkeypatch.setenv("ETL_SEED", "43")
    etl("synth", "sentences", "--llm-url", server.url)
    assert len(rows(warehouse_path, "SELECT DISTINCT term_ko FROM parallel_sentences")) == 2


def test_requests_spread_over_several_servers(etl, seeds, warehouse_path) -> None:
    with FakeLLMServer() as a, FakeLLMServer() as b:
        a.responder = b.responder = answer
        etl("synth", "--llm-url", a.url, "--llm-url", b.url, "--seeds", str(seeds), "--concurrency", "4")
        assert a.count("/api/chat") >= 6 and b.count("/api/chat") >= 6
        urls = {u for (u,) in rows(warehouse_path, "SELECT DISTINCT url FROM llm_calls")}
        assert urls == {a.url + "/api/chat", b.url + "/api/chat"}


def test_api_key_is_sent_but_never_stored_or_shown(etl, server, seeds, warehouse_path, monkeypatch) -> None:
    monkeypatch.setenv("ETL_LLM_API_KEY", "sk-test-0123456789")
    out = etl("synth", "--llm-url", server.url, "--llm-api", "openai", "--seeds", str(seeds)).output
    out += etl("config").output + etl("status").output
    assert all(s.headers.get("Authorization") == "Bearer sk-test-0123456789" for s in server.seen)
    assert "sk-test" not in out
    with Warehouse.open(warehouse_path) as wh:
        tables = [t for (t,) in wh.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        for table in tables:
            text = wh.execute(f"SELECT string_agg(CAST(columns(*) AS VARCHAR), '|') FROM {table}").fetchall()
            assert "sk-test" not in repr(text), table
    for path in warehouse_path.parent.iterdir():
        assert b"sk-test" not in path.read_bytes(), path


def test_python_entry_point(server, seeds, warehouse_path) -> None:
    settings = config.load(
        env={"ETL_LLM_URL": server.url, "ETL_LLM_BACKOFF": "0.01", "ETL_SYNTH_EXPAND_KEEP": "2"}
    ).settings
    with Warehouse.open(warehouse_path) as wh:
        summary = synth.run(wh, settings, seeds_path=seeds)
        again = synth.run(wh, settings, stages=("translate",))
    counts = summary.counts
    assert counts["calls"] > 0 and counts["cached"] == 0 and counts["failed"] == 0
    assert (again.counts["cached"], again.counts["calls"]) == (8, 0)
    assert again.title == "synth translate"


def test_kill_minus_nine_then_resume_repeats_no_call_and_duplicates_no_row(server, seeds, warehouse_path) -> None:
    server.latency = 0.15
    env = {
        **os.environ,
        "ETL_LLM_URL": server.url,
        "ETL_LLM_CONCURRENCY": "2",
        "ETL_LLM_BACKOFF": "0.01",
        "ETL_SYNTH_SENTENCES_SAMPLE": "1.0",
        "ETL_SYNTH_EXPAND_ASK": "5",
        "ETL_SYNTH_EXPAND_KEEP": "2",
    }
    command = [sys.executable, "-m", "etl", "--warehouse", str(warehouse_path), "synth", "--seeds", str(seeds)]
    victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(chat_requests(server)) < 9 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    seen_before = len(server.seen)

    recorded = rows(warehouse_path, "SELECT request->'messages' FROM llm_calls")
    first_messages = {json.dumps(json.loads(m), sort_keys=True) for (m,) in recorded}
    assert 0 < len(recorded) < 18, "the kill should land mid-run"
    assert ("failed", "process ended before the run finished") in rows(warehouse_path, "SELECT status, error FROM runs")

    server.latency = 0.0
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    again = [json.dumps(s.body["messages"], sort_keys=True) for s in server.seen[seen_before:] if s.path == "/api/chat"]
    assert not first_messages & set(again), "a call recorded before the kill was sent again"
    assert len(again) == 18 - len(recorded)  # the rerun sends exactly the calls that had no row
    # Lost to the kill: calls in flight, plus answers that arrived in the milliseconds before their commit.
    assert len(chat_requests(server)) - 18 <= 2 * 2
    assert rows(warehouse_path, "SELECT count(*), count(DISTINCT call_hash) FROM llm_calls") == [(18, 18)]
    assert count(warehouse_path, "category_terms") == 9
    assert rows(warehouse_path, "SELECT count(*), count(DISTINCT ko) FROM translations") == [(8, 8)]
    assert rows(warehouse_path, "SELECT count(*), count(DISTINCT (ko, en, term_ko)) FROM parallel_sentences") == [
        (24, 24)
    ]
    assert "served from cache" in resumed.stdout
