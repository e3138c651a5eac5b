"""Shared settings: defaults, then `etl.toml`, then `ETL_*` variables, then command options."""

from __future__ import annotations

import dataclasses
import itertools
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl.errors import ConfigError

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
    mine_language: str = "any"  # which language pool negatives come from: any, anchor, positive, mix
    mine_language_mix: float = 0.5  # with mine_language mix: the share of negatives from the anchor's language

    # Split
    split_train_ratio: float = 0.9
    split_by: str = "group"

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
            values[key] = _coerce(key, raw, origin=str(path))
            sources[key] = str(path)

    for key in keys():
        name = ENV_PREFIX + key.upper()
        if name in env:
            values[key] = _coerce(key, env[name], origin=name)
            sources[key] = name

    for key, raw in (overrides or {}).items():
        if raw is None or raw == ():
            continue
        values[key] = _coerce(key, raw, origin="--" + key.replace("_", "-"))
        sources[key] = "option"

    settings = Settings(**values)
    _validate(settings)
    return Loaded(settings, sources)


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


def _coerce(key: str, raw: Any, origin: str) -> Any:
    """Convert a TOML value, an environment string or an option value to the setting's type."""
    default = getattr(Settings, key)
    try:
        if isinstance(default, tuple):
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            kind = float if key.startswith("mine_") else str
            return tuple(kind(str(item).strip()) for item in items if str(item).strip())
        if isinstance(default, bool):
            if isinstance(raw, str):
                return raw.strip().lower() in {"1", "true", "yes", "on"}
            return bool(raw)
        return type(default)(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: {raw!r} is not a valid value for {key} ({exc})") from exc


def _validate(s: Settings) -> None:
    choices = {
        "llm_api": ("ollama", "openai"),
        "llm_think": ("low", "medium", "high", "none"),
        "llm_json_format": ("auto", "json_schema", "json_object"),
        "embedder": ("ollama", "openai", "hash", "import"),
        "index_dtype": ("auto", "f32", "f16", "bf16", "i8"),
        "mine_search": ("auto", "exact", "ann"),
        "mine_language": ("any", "anchor", "positive", "mix"),
        "split_by": ("group", "triplet"),
    }
    for key, allowed in choices.items():
        if getattr(s, key) not in allowed:
            raise ConfigError(f"{key} must be one of {', '.join(allowed)}, not {getattr(s, key)!r}")
    layouts = ("triplet", "n-tuple", "labeled-pair", "labeled-list")
    if not s.export_formats or any(f not in layouts for f in s.export_formats):
        raise ConfigError(
            f"export_formats must list one or more of {', '.join(layouts)}, not {','.join(s.export_formats)!r}"
        )
    if not s.export_license.strip():
        raise ConfigError(
            "export_license must name a license (a Hugging Face license id such as cc-by-4.0, or unknown / other)"
        )
    for key in ("mine_easy", "mine_medium", "mine_hard"):
        band = getattr(s, key)
        if len(band) != 2 or not -1.0 <= band[0] < band[1] <= 1.0:
            raise ConfigError(f"{key} must be two cosines low,high with -1 <= low < high <= 1, not {band}")
    if len(s.mine_ratios) != 3 or any(r < 0 for r in s.mine_ratios) or sum(s.mine_ratios) <= 0:
        raise ConfigError(f"mine_ratios must be three non-negative numbers (easy,medium,hard), not {s.mine_ratios}")
    bands = sorted((s.mine_easy, s.mine_medium, s.mine_hard))
    if any(low[1] > high[0] for low, high in itertools.pairwise(bands)):
        raise ConfigError("mine_easy, mine_medium and mine_hard must not overlap; give each band its own [low, high)")
    if not 0.0 <= s.mine_max_neg_ratio <= 1.0:
        raise ConfigError(f"mine_max_neg_ratio must be between 0 (off) and 1, not {s.mine_max_neg_ratio}")
    if not 0.0 <= s.mine_language_mix <= 1.0:
        raise ConfigError(
            f"mine_language_mix must be between 0 and 1 (the anchor language's share), not {s.mine_language_mix}"
        )
    pct = s.mine_percentiles
    if len(pct) != 4 or not all(0.0 <= a < b <= 1.0 for a, b in itertools.pairwise(pct)):
        raise ConfigError(f"mine_percentiles must be four increasing fractions in [0, 1] (band edges), not {pct}")
    if not 0.0 < s.split_train_ratio < 1.0:
        raise ConfigError(f"split_train_ratio must be between 0 and 1, not {s.split_train_ratio}")
    if not s.llm_url:
        raise ConfigError("llm_url needs at least one server URL")
    for key in ("llm_concurrency", "llm_max_attempts", "embed_dim", "embed_batch", "mine_negatives", "mine_top_k"):
        if getattr(s, key) < 1:
            raise ConfigError(f"{key} must be at least 1, not {getattr(s, key)}")
    if s.llm_backoff < 0 or s.llm_timeout <= 0:
        raise ConfigError(f"llm_backoff must be >= 0 and llm_timeout > 0, not {s.llm_backoff} and {s.llm_timeout}")
    if not 0.0 <= s.synth_sentences_sample <= 1.0:
        raise ConfigError(f"synth_sentences_sample must be between 0 and 1, not {s.synth_sentences_sample}")
    if not 2 <= s.clean_max_length <= 1000:
        raise ConfigError(f"clean_max_length must be between 2 and 1000 characters, not {s.clean_max_length}")
