"""Settings precedence: defaults → etl.toml → ETL_* environment → command options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl import config
from etl.errors import ConfigError


def test_defaults_match_the_notebooks() -> None:
    s = config.load(env={}).settings
    assert s.llm_url == ("http://localhost:11434",)
    assert s.llm_model == "gpt-oss:20b"
    assert (s.mine_easy, s.mine_medium, s.mine_hard) == ((0.3, 0.5), (0.5, 0.7), (0.7, 0.9))
    assert s.mine_ratios == (0.33, 0.33, 0.34)
    assert (s.mine_negatives, s.seed, s.split_train_ratio) == (5, 42, 0.9)
    assert (s.synth_expand_ask, s.synth_expand_keep, s.synth_sentences_sample) == (20, 15, 0.3)


def test_each_layer_overrides_the_one_before(tmp_path: Path) -> None:
    toml = tmp_path / "etl.toml"
    toml.write_text(
        'seed = 7\n[llm]\nmodel = "from-toml"\nconcurrency = 2\nurl = ["http://a:1", "http://b:2"]\n'
        "[mine]\nhard = [0.75, 0.95]\n",
        encoding="utf-8",
    )
    env = {"ETL_LLM_MODEL": "from-env", "ETL_LLM_CONCURRENCY": "3"}
    loaded = config.load(toml, env=env, overrides={"llm_concurrency": 8, "llm_think": None})
    s = loaded.settings
    assert s.seed == 7 and loaded.sources["seed"] == str(toml)
    assert s.llm_url == ("http://a:1", "http://b:2")
    assert s.mine_hard == (0.75, 0.95)
    assert s.llm_model == "from-env" and loaded.sources["llm_model"] == "ETL_LLM_MODEL"
    assert s.llm_concurrency == 8 and loaded.sources["llm_concurrency"] == "option"
    assert s.llm_think == "low" and loaded.sources["llm_think"] == "default"


def test_environment_lists_are_comma_separated() -> None:
    s = config.load(env={"ETL_LLM_URL": "http://a:1, http://b:2", "ETL_MINE_EASY": "0.2,0.4"}).settings
    assert s.llm_url == ("http://a:1", "http://b:2")
    assert s.mine_easy == (0.2, 0.4)


def test_etl_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "etl.toml").write_text("embedder = 'hash'\n", encoding="utf-8")
    loaded = config.load(env={})
    assert loaded.settings.embedder == "hash"
    assert loaded.sources["embedder"] == "etl.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nonsense = 1\n", "unknown setting"),
        ("seed = 'abc'\n", "seed must be a whole number 0 <= x <= 4294967295, not 'abc'"),
        ("[mine]\neasy = [0.5, 0.3]\n", "mine_easy must be two cosines"),
        ("llm_api = 'grpc'\n", "llm_api must be one of"),
        ("seed = \n", "not valid TOML"),
    ],
)
def test_bad_config_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        config.load(path, env={})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ETL_LLM_CONCURRENCY"):
        config.load(env={"ETL_LLM_CONCURRENCY": "many"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ETL_LLM_URL", "localhost:11434", "llm_url must be one or more comma-separated values, each an http"),
        ("ETL_LLM_URL", "http://", "llm_url must be"),
        ("ETL_LLM_URL", "not a url", "llm_url must be"),
        ("ETL_EMBED_URL", "ftp://host", "embed_url must be"),
        ("ETL_EXPORT_SCORES", "maybe", "export_scores must be true or false, not 'maybe'"),
        ("ETL_SEED", "abc", "seed must be a whole number 0 <= x <= 4294967295, not 'abc'"),
        ("ETL_EXPORT_LICENSE", "not a license", "export_license must be a license id"),
        ("ETL_MINE_RATIOS", "0,0,0", "mine_ratios must give at least one band a share above 0"),
        ("ETL_INDEX_CONNECTIVITY", "0", "index_connectivity must be a whole number 2 <= x <= 1024"),
        ("ETL_INDEX_EXPANSION_SEARCH", "-1", "index_expansion_search must be"),
        ("ETL_LLM_TIMEOUT", "nan", "llm_timeout must be a number 0 < x <= 86400"),
        (
            "ETL_MINE_NEGATIVS",
            "5",
            "unknown setting variable ETL_MINE_NEGATIVS \\(did you mean ETL_MINE_NEGATIVES\\?\\)",
        ),
    ],
)
def test_every_source_is_checked_by_the_settings_declaration(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    """ETL_* variables, etl.toml and options go through the one declaration per setting, and say the same."""
    with pytest.raises(ConfigError, match=message) as env_error:
        config.load(env={name: value})
    assert name in str(env_error.value) and "\n" not in str(env_error.value)
    key = name.removeprefix("ETL_").lower()
    if key not in config.SPECS:
        return
    toml = tmp_path / "etl.toml"
    toml.write_text(f"{key} = {json.dumps(value)}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        config.load(toml, env={})
    with pytest.raises(ConfigError, match=message):
        config.load(env={}, overrides={key: value})


def test_booleans_take_the_usual_spellings_only() -> None:
    for text, expected in (("1", True), ("yes", True), ("On", True), ("0", False), ("false", False), ("off", False)):
        assert config.load(env={"ETL_EXPORT_SCORES": text}).settings.export_scores is expected


def test_every_setting_is_declared_once() -> None:
    assert list(config.SPECS) == config.keys()
    for key, spec in config.SPECS.items():
        default = getattr(config.Settings, key)
        assert config.coerce(spec, key, default, origin="default") == default, key


def test_etl_config_shows_what_each_setting_accepts(etl) -> None:
    lines = etl("config").output.splitlines()
    assert lines[0].split() == ["setting", "value", "source", "accepts"]
    row = next(line for line in lines if line.startswith("llm_url "))
    assert "http:// or https:// URL" in row
