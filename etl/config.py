"""Shared settings: defaults, then `etl.toml`, then `ETL_*` variables, then command options."""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl.errors import ConfigError
from etl.settings_check import Spec, check_together, coerce

__all__ = ["SPECS", "Loaded", "Settings", "Spec", "coerce", "keys", "load"]

CONFIG_FILE = "etl.toml"
ENV_PREFIX = "ETL_"


@dataclass(frozen=True)
class Settings:
    """Every setting more than one step reads; `etl config` lists them with their sources."""

    warehouse: str = "warehouse/etl.duckdb"
    seed: int = 42

    # LLM (synthesis)
    llm_api: str = "ollama"
    llm_url: tuple[str, ...] = ("http://localhost:11434",)
    llm_model: str = "gpt-oss:20b"
    llm_think: str = "low"
    llm_concurrency: int = 4
    llm_timeout: float = 120.0
    llm_max_attempts: int = 4
    llm_num_predict: int = 2048
    llm_backoff: float = 0.5  # seconds before the first retry; doubles per attempt, with jitter
    # OpenAI-compatible structured output: json_schema (OpenAI, vLLM, LM Studio), json_object + schema
    # (llama.cpp's Python server), or auto: json_schema, moving a server that refuses it to json_object.
    llm_json_format: str = "auto"

    # Synthesis prompts and sampling (the notebook's defaults)
    synth_expand_ask: int = 20
    synth_expand_keep: int = 15
    synth_expand_temperature: float = 0.8
    synth_translate_temperature: float = 0.3
    synth_sentences_temperature: float = 0.7
    synth_sentences_per_term: int = 3
    synth_sentences_sample: float = 0.3

    # Cleaning
    clean_max_length: int = 64
    clean_ignore_spaces: bool = True

    # Embeddings and the ANN index
    embedder: str = "ollama"
    embed_url: tuple[str, ...] = ()
    embed_model: str = "bge-m3"
    embed_dim: int = 256
    embed_batch: int = 64
    # Text put before every term the model embeds (e5, ollama, openai; hash and import ignore it).
    embed_prefix: str = ""
    # The role for models that add their own instruction (e5's "query: " / "passage: "): e5 in-process,
    # or sent as the OpenAI request's input_type; "" is e5's query and a server's own default.
    embed_input_type: str = ""
    index_dtype: str = (
        "auto"  # auto: the fastest of f16/bf16/f32 to build on this machine, measured (etl/steps/index.py)
    )
    index_connectivity: int = 16
    index_expansion_add: int = 128
    index_expansion_search: int = 64

    # Mining (cosine bands are [low, high))
    mine_easy: tuple[float, ...] = (0.3, 0.5)
    mine_medium: tuple[float, ...] = (0.5, 0.7)
    mine_hard: tuple[float, ...] = (0.7, 0.9)
    mine_ratios: tuple[float, ...] = (0.33, 0.33, 0.34)
    mine_negatives: int = 5
    mine_search: str = "auto"
    mine_top_k: int = 100
    mine_max_neg_ratio: float = 0.0  # 0 = off; else a negative scores at most this x the anchor-positive cosine
    mine_calibrate: bool = False  # place the bands at similarity percentiles of the model instead of fixed cosines
    mine_percentiles: tuple[float, ...] = (0.5, 0.999, 0.9999, 0.99999)  # easy low, medium low, hard low, hard high
    mine_variants: bool = True  # also exclude other forms (inflections, derivations, gloss alternatives) of the group
    mine_language: str = "any"  # which language pool negatives come from: any, anchor, positive, mix
    mine_language_mix: float = 0.5  # with mine_language mix: the share of negatives from the anchor's language

    # Split
    split_train_ratio: float = 0.9
    split_by: str = "group"

    # The downstream probe (an adapter trained on the triplets, evaluated on the validation anchors)
    probe_enabled: bool = True  # `etl run` runs the probe (skipped when the vocabulary exceeds probe_max_terms)
    probe_loss: str = "mnrl"  # mnrl (in-batch softmax with the mined negative) or triplet (cosine margin)
    probe_epochs: int = 3
    probe_triplets: int = 30_000  # train triplets trained on at most (a seeded sample)
    probe_anchors: int = 1000  # validation anchors scored at most (a seeded sample)
    probe_max_terms: int = 300_000  # a larger vocabulary skips the probe rather than take minutes

    # Triplet export
    export_formats: tuple[str, ...] = ("triplet",)  # training layouts: triplet, n-tuple, labeled-pair, labeled-list
    export_scores: bool = False  # add the mining model's exact cosines (teacher scores for distillation)
    export_license: str = "unknown"  # the dataset card's license field (a Hugging Face license id, or other)

    def embed_urls(self) -> tuple[str, ...]:
        """Embedding servers: `embed_url` when set, else the LLM servers."""
        return self.embed_url or self.llm_url


@dataclass(frozen=True)
class Loaded:
    """Effective settings and, per key, where its value came from."""

    settings: Settings
    sources: Mapping[str, str]


def keys() -> list[str]:
    """Names of all settings, in declaration order."""
    return [f.name for f in dataclasses.fields(Settings)]


# Every setting's type and the values it accepts, declared once; flags, ETL_* variables and
# etl.toml are all checked against these (etl/settings_check.py), and `etl config` shows them.
_URL = Spec("url", many=True)
SPECS: dict[str, Spec] = {
    "warehouse": Spec("path"),
    "seed": Spec("int", low=0, high=2**32 - 1),
    "llm_api": Spec("str", choices=("ollama", "openai")),
    "llm_url": _URL.at_least(1),
    "llm_model": Spec("str", nonempty=True),
    "llm_think": Spec("str", choices=("low", "medium", "high", "none")),
    "llm_concurrency": Spec("int", low=1, high=1024),
    "llm_timeout": Spec("float", low=0, low_open=True, high=86_400),
    "llm_max_attempts": Spec("int", low=1, high=100),
    "llm_num_predict": Spec("int", low=1, high=1_000_000),
    "llm_backoff": Spec("float", low=0, high=3600),
    "llm_json_format": Spec("str", choices=("auto", "json_schema", "json_object")),
    "synth_expand_ask": Spec("int", low=1, high=10_000),
    "synth_expand_keep": Spec("int", low=0, high=10_000),  # 0: the seeds alone
    "synth_expand_temperature": Spec("float", low=0, high=2),
    "synth_translate_temperature": Spec("float", low=0, high=2),
    "synth_sentences_temperature": Spec("float", low=0, high=2),
    "synth_sentences_per_term": Spec("int", low=1, high=1000),
    "synth_sentences_sample": Spec("float", low=0, high=1),
    "clean_max_length": Spec("int", low=2, high=1000),
    "clean_ignore_spaces": Spec("bool"),
    "embedder": Spec("str", choices=("ollama", "openai", "hash", "import", "e5")),
    "embed_url": _URL,
    "embed_model": Spec("str", nonempty=True),
    "embed_dim": Spec("int", low=1, high=65_536),
    "embed_batch": Spec("int", low=1, high=100_000),
    "embed_prefix": Spec("str"),
    "embed_input_type": Spec("str", choices=("", "query", "passage")),
    "index_dtype": Spec("str", choices=("auto", "f32", "f16", "bf16", "i8")),
    "index_connectivity": Spec("int", low=2, high=1024),
    "index_expansion_add": Spec("int", low=1, high=100_000),
    "index_expansion_search": Spec("int", low=1, high=100_000),
    "mine_easy": Spec("float", many=True, count=2, low=-1, high=1),
    "mine_medium": Spec("float", many=True, count=2, low=-1, high=1),
    "mine_hard": Spec("float", many=True, count=2, low=-1, high=1),
    "mine_ratios": Spec("float", many=True, count=3, low=0, high=1_000_000),
    "mine_negatives": Spec("int", low=1, high=10_000),
    "mine_search": Spec("str", choices=("auto", "exact", "ann")),
    "mine_top_k": Spec("int", low=1, high=1_000_000),
    "mine_max_neg_ratio": Spec("float", low=0, high=1),
    "mine_calibrate": Spec("bool"),
    "mine_percentiles": Spec("float", many=True, count=4, low=0, high=1),
    "mine_variants": Spec("bool"),
    "mine_language": Spec("str", choices=("any", "anchor", "positive", "mix")),
    "mine_language_mix": Spec("float", low=0, high=1),
    "split_train_ratio": Spec("float", low=0, high=1, low_open=True, high_open=True),
    "split_by": Spec("str", choices=("group", "triplet")),
    "probe_enabled": Spec("bool"),
    "probe_loss": Spec("str", choices=("mnrl", "triplet")),
    "probe_epochs": Spec("int", low=1, high=100),
    "probe_triplets": Spec("int", low=1, high=100_000_000),
    "probe_anchors": Spec("int", low=1, high=100_000_000),
    "probe_max_terms": Spec("int", low=1, high=1_000_000_000),
    "export_formats": Spec("str", many=True, choices=("triplet", "n-tuple", "labeled-pair", "labeled-list")).at_least(
        1
    ),
    "export_scores": Spec("bool"),
    "export_license": Spec("license"),
}
# ETL_* variables that are not settings
OTHER_ENV = frozenset({"ETL_CONFIG", "ETL_LLM_API_KEY"})


def load(
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Loaded:
    """Resolve settings: defaults → etl.toml → ETL_* environment → overrides (command options)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources = dict.fromkeys(keys(), "default")

    path = config_path if config_path is not None else _default_config_path(env)
    if path is not None:
        for key, raw in _read_toml(path).items():
            values[key] = coerce(SPECS[key], key, raw, origin=str(path))
            sources[key] = str(path)

    _check_env_names(env)
    for key in keys():
        name = ENV_PREFIX + key.upper()
        if name in env:
            values[key] = coerce(SPECS[key], key, env[name], origin=name)
            sources[key] = name

    for key, raw in (overrides or {}).items():
        if raw is None or raw == ():
            continue
        values[key] = coerce(SPECS[key], key, raw, origin="an option")
        sources[key] = "option"

    settings = Settings(**values)
    check_together(settings, sources)
    _validate_embed_convention(settings)
    return Loaded(settings, sources)


def _check_env_names(env: Mapping[str, str]) -> None:
    """An ETL_* variable that names no setting is a typo, as an unknown key in etl.toml is."""
    known = {ENV_PREFIX + key.upper() for key in keys()} | OTHER_ENV
    unknown = sorted(name for name in env if name.startswith(ENV_PREFIX) and name not in known)
    if unknown:
        close = [difflib.get_close_matches(name, known, n=1) for name in unknown]
        hints = "".join(f" (did you mean {c[0]}?)" for c in close if c)
        raise ConfigError(f"unknown setting variable {', '.join(unknown)}{hints}; `etl config` lists the settings")


def _default_config_path(env: Mapping[str, str]) -> Path | None:
    explicit = env.get("ETL_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"ETL_CONFIG points at {path}, which does not exist")
        return path
    path = Path(CONFIG_FILE)
    return path if path.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    """Flatten `[section] key = v` to `section_key` and reject unknown keys."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    flat: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                flat[f"{name}_{sub}"] = inner
        else:
            flat[name] = value
    known = set(keys())
    unknown = sorted(set(flat) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; `etl config` lists the valid ones")
    return flat


def _validate_embed_convention(s: Settings) -> None:
    """Refuse a prefix or input type the embedder would not apply as asked."""
    if s.embedder == "ollama" and s.embed_input_type:
        raise ConfigError(
            "Ollama's embed API has no input_type; put the instruction in the text instead, e.g. --prefix 'query: '"
        )
    adds_role = s.embedder == "e5" or (s.embedder == "openai" and s.embed_input_type)
    if adds_role and s.embed_prefix.lstrip().lower().startswith(("query:", "passage:")):
        who = "the e5 embedder" if s.embedder == "e5" else "a server given input_type"
        raise ConfigError(
            f"{who} puts e5's 'query: ' or 'passage: ' before the text itself, so embed_prefix "
            f"{s.embed_prefix!r} would be doubled; choose the role with --input-type query|passage instead"
        )
