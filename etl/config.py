"""Shared settings: defaults, then `etl.toml`, then `ETL_*` variables, then command options."""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from etl import settings_check
from etl.errors import ConfigError
from etl.settings_check import Spec, check_together, coerce

__all__ = ["HELP", "SPECS", "Loaded", "Settings", "Spec", "coerce", "keys", "load", "setting"]

CONFIG_FILE = "etl.toml"
ENV_PREFIX = "ETL_"
T = TypeVar("T")


def setting(default: T, spec: Spec, help: str) -> T:
    """Declare one setting: its default, what it accepts and a one-line help (options and `etl config` read them)."""
    return dataclasses.field(default=default, metadata={"spec": spec, "help": help})


_URL = Spec("url", many=True)
_BAND = Spec("float", many=True, count=2, low=-1, high=1)
_TEMPERATURE = Spec("float", low=0, high=2)


@dataclass(frozen=True)
class Settings:
    """Every setting more than one step reads, each declared once; `etl config` lists them with their sources."""

    warehouse: str = setting("warehouse/etl.duckdb", Spec("path"), "DuckDB warehouse file.")
    seed: int = setting(
        42, Spec("int", low=0, high=2**32 - 1), "Seed for every seeded choice: samples, picks, the split."
    )

    # LLM (synthesis)
    llm_api: str = setting(
        "ollama",
        Spec("str", choices=("ollama", "openai")),
        "Wire format: Ollama native (/api/chat) or OpenAI-compatible (/v1/chat/completions).",
    )
    llm_url: tuple[str, ...] = setting(
        ("http://localhost:11434",),
        _URL.at_least(1),
        "LLM server base URL; repeat the option to spread requests over several servers.",
    )
    llm_model: str = setting("gpt-oss:20b", Spec("str", nonempty=True), "Chat model, e.g. gpt-oss:20b.")
    llm_think: str = setting(
        "low",
        Spec("str", choices=("low", "medium", "high", "none")),
        "Reasoning effort for thinking models; 'none' sends no thinking setting.",
    )
    llm_concurrency: int = setting(4, Spec("int", low=1, high=1024), "Requests in flight across all servers.")
    llm_timeout: float = setting(120.0, Spec("float", low=0, low_open=True, high=86_400), "Seconds per request.")
    llm_max_attempts: int = setting(
        4, Spec("int", low=1, high=100), "Attempts per request before it is recorded as failed."
    )
    llm_num_predict: int = setting(
        2048, Spec("int", low=1, high=1_000_000), "Token budget per answer (doubled on a cut-off answer)."
    )
    llm_backoff: float = setting(
        0.5, Spec("float", low=0, high=3600), "Seconds before the first retry; doubles per attempt, with jitter."
    )
    # OpenAI-compatible structured output: json_schema (OpenAI, vLLM, LM Studio), json_object + schema
    # (llama.cpp's Python server), or auto: json_schema, moving a server that refuses it to json_object.
    llm_json_format: str = setting(
        "auto",
        Spec("str", choices=("auto", "json_schema", "json_object")),
        "How OpenAI-compatible servers get the answer's schema.",
    )

    # Synthesis prompts and sampling (the notebook's defaults)
    synth_expand_ask: int = setting(20, Spec("int", low=1, high=10_000), "New terms asked per category.")
    synth_expand_keep: int = setting(
        15, Spec("int", low=0, high=10_000), "New terms kept per category (0: the seeds alone)."
    )
    synth_expand_temperature: float = setting(0.8, _TEMPERATURE, "Sampling temperature of the expand prompt.")
    synth_translate_temperature: float = setting(0.3, _TEMPERATURE, "Sampling temperature of the translate prompt.")
    synth_sentences_temperature: float = setting(0.7, _TEMPERATURE, "Sampling temperature of the sentences prompt.")
    synth_sentences_per_term: int = setting(3, Spec("int", low=1, high=1000), "KO/EN sentence pairs asked per term.")
    synth_sentences_sample: float = setting(
        0.3, Spec("float", low=0, high=1), "Share of translated terms that get sentences (seeded)."
    )

    # Cleaning
    clean_max_length: int = setting(64, Spec("int", low=2, high=1000), "Longest term kept, in characters.")
    clean_ignore_spaces: bool = setting(
        True, Spec("bool"), "Compare Korean terms without their spaces (배치 정규화 = 배치정규화)."
    )

    # Embeddings and the ANN index
    embedder: str = setting(
        "ollama",
        Spec("str", choices=("ollama", "openai", "hash", "import", "e5")),
        "How terms get vectors: hash is offline and lexical, e5 offline and semantic, ollama/openai a server, "
        "import a vectors file.",
    )
    embed_url: tuple[str, ...] = setting(
        (), _URL, "Embedding server URL (repeatable); none: the LLM servers (llm_url)."
    )
    embed_model: str = setting(
        "bge-m3", Spec("str", nonempty=True), "Embedding model for ollama/openai/import vectors, e.g. bge-m3."
    )
    embed_dim: int = setting(256, Spec("int", low=1, high=65_536), "Dimension of hash vectors.")
    embed_batch: int = setting(64, Spec("int", low=1, high=100_000), "Terms per embedding request.")
    embed_prefix: str = setting(
        "", Spec("str"), "Text put before every term for e5/ollama/openai; part of the stored model name."
    )
    # The role for models that add their own instruction (e5's "query: " / "passage: "): e5 in-process,
    # or sent as the OpenAI request's input_type; "" is e5's query and a server's own default.
    embed_input_type: str = setting(
        "",
        Spec("str", choices=("", "query", "passage")),
        "The role for e5 or a server that takes input_type; passage is part of the stored model name.",
    )
    # auto: the fastest of f16/bf16/f32 to build on this machine, measured (etl/term_index.py)
    index_dtype: str = setting(
        "auto",
        Spec("str", choices=("auto", "f32", "f16", "bf16", "i8")),
        "Scalar type stored in the index; auto builds with the fastest of f16/bf16/f32 measured here.",
    )
    index_connectivity: int = setting(16, Spec("int", low=2, high=1024), "HNSW edges per node (M).")
    index_expansion_add: int = setting(
        128, Spec("int", low=1, high=100_000), "HNSW search depth while adding (efConstruction)."
    )
    index_expansion_search: int = setting(
        64, Spec("int", low=1, high=100_000), "HNSW search depth per query (ef; no rebuild needed)."
    )

    # Mining (cosine bands are [low, high))
    mine_easy: tuple[float, ...] = setting((0.3, 0.5), _BAND, "Easy band as LOW,HIGH cosines ([low, high)).")
    mine_medium: tuple[float, ...] = setting((0.5, 0.7), _BAND, "Medium band as LOW,HIGH.")
    mine_hard: tuple[float, ...] = setting((0.7, 0.9), _BAND, "Hard band as LOW,HIGH.")
    mine_ratios: tuple[float, ...] = setting(
        (0.33, 0.33, 0.34),
        Spec("float", many=True, count=3, low=0, high=1_000_000),
        "Shares of easy,medium,hard negatives, rounded per anchor so the totals keep them.",
    )
    mine_negatives: int = setting(5, Spec("int", low=1, high=10_000), "Negatives per anchor.")
    mine_search: str = setting(
        "auto",
        Spec("str", choices=("auto", "exact", "ann")),
        "How bands are searched: an exact scan of the vocabulary; the usearch index (scanning what it cannot "
        "show; approximate: a few picks may differ from exact's, and between builds of the index); or auto: "
        "the cheaper, estimated on this machine.",
    )
    mine_top_k: int = setting(
        100,
        Spec("int", low=1, high=1_000_000),
        "ANN shortlist per anchor (plus margins); bands below its last score are walked or scanned.",
    )
    mine_max_neg_ratio: float = setting(
        0.0,
        Spec("float", low=0, high=1),
        "Cap: a negative scores at most this x the anchor's lowest positive cosine (0 = off).",
    )
    mine_calibrate: bool = setting(
        False, Spec("bool"), "Place the bands at percentiles of this model's anchor-to-term cosines."
    )
    mine_percentiles: tuple[float, ...] = setting(
        (0.5, 0.999, 0.9999, 0.99999),
        Spec("float", many=True, count=4, low=0, high=1),
        "With mine_calibrate: four band edges as fractions (easy low, medium low, hard low, hard high).",
    )
    mine_variants: bool = setting(
        True,
        Spec("bool"),
        "Also exclude other forms of the anchor and its synonyms: Korean endings (수출하다), articles and 'to', "
        "plurals, -ed, -ing, -ly, gloss-list alternatives.",
    )
    mine_language: str = setting(
        "any",
        Spec("str", choices=("any", "anchor", "positive", "mix")),
        "Language of the negatives: any term, the anchor's language, its positives' language(s), or a mix of the two.",
    )
    mine_language_mix: float = setting(
        0.5,
        Spec("float", low=0, high=1),
        "With mine_language mix: the share of negatives from the anchor's language; the rest from its "
        "positives' other language.",
    )

    # Split
    split_train_ratio: float = setting(
        0.9, Spec("float", low=0, high=1, low_open=True, high_open=True), "Share of triplets for train."
    )
    split_by: str = setting(
        "group",
        Spec("str", choices=("group", "triplet")),
        "Split by synonym group (no leaks) or by triplet (the notebook's leaky split).",
    )

    # The LLM judge of mined negatives (the chat model and servers are llm_*)
    judge_enabled: bool = setting(
        False, Spec("bool"), "Run the LLM judge of mined negatives in `etl run`, between mine and the split."
    )
    judge_bands: tuple[str, ...] = setting(
        ("hard",),
        Spec("str", many=True, choices=("easy", "medium", "hard")).at_least(1),
        "Bands whose negatives the judge checks; repeat for several.",
    )
    judge_batch: int = setting(16, Spec("int", low=1, high=256), "(anchor, negative) pairs judged per request.")
    judge_rounds: int = setting(
        3, Spec("int", low=1, high=100), "Rounds of judging: each judges the replacements of the last one's removals."
    )
    judge_temperature: float = setting(0.0, _TEMPERATURE, "Sampling temperature of the judge prompt.")
    judge_consistency: int = setting(
        50,
        Spec("int", low=0, high=1_000_000),
        "Verdicts asked a second time (a seeded sample) to measure the judge's agreement with itself; 0: off.",
    )
    judge_promote: bool = setting(
        False, Spec("bool"), "Land pairs judged `same` as synonym pairs (source judge) for the next `etl clean`."
    )
    judge_prompt: str = setting(
        "", Spec("str"), "File holding the judge prompt template (with {items}); empty: the built-in one."
    )

    # The downstream probe (an adapter trained on the triplets, evaluated on the validation anchors)
    probe_enabled: bool = setting(
        True,
        Spec("bool"),
        "Run the downstream probe after the split (skipped when the vocabulary exceeds probe_max_terms).",
    )
    probe_loss: str = setting(
        "mnrl",
        Spec("str", choices=("mnrl", "triplet")),
        "Training loss: in-batch softmax with the mined negative as an extra column, or the cosine triplet margin.",
    )
    probe_epochs: int = setting(3, Spec("int", low=1, high=100), "Passes over the train triplets.")
    probe_triplets: int = setting(
        30_000, Spec("int", low=1, high=100_000_000), "Train triplets trained on at most (a seeded sample)."
    )
    probe_anchors: int = setting(
        1000, Spec("int", low=1, high=100_000_000), "Validation anchors scored at most (a seeded sample)."
    )
    probe_max_terms: int = setting(
        300_000,
        Spec("int", low=1, high=1_000_000_000),
        "Skip the probe when the vocabulary has more terms than this (it would take minutes).",
    )

    # Triplet export
    export_formats: tuple[str, ...] = setting(
        ("triplet",),
        Spec("str", many=True, choices=("triplet", "n-tuple", "labeled-pair", "labeled-list")).at_least(1),
        "Training layout to write; repeat for several (each beside the others).",
    )
    export_scores: bool = setting(
        False, Spec("bool"), "Add the mining model's exact cosine of every positive and negative (scores / score)."
    )
    export_license: str = setting(
        "unknown", Spec("license"), "License field of the dataset card, e.g. cc-by-4.0 (a Hugging Face license id)."
    )

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


# Every setting's type and the values it accepts, from its declaration; flags, ETL_* variables and
# etl.toml are all checked against these (etl/settings_check.py), and `etl config` shows them.
SPECS: dict[str, Spec] = {f.name: f.metadata["spec"] for f in dataclasses.fields(Settings)}
HELP: dict[str, str] = {f.name: f.metadata["help"] for f in dataclasses.fields(Settings)}
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

    path = config_path if config_path is not None else settings_check.config_path(env, CONFIG_FILE)
    if path is not None:
        for key, raw in settings_check.read_toml(path, keys()).items():
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
    return Loaded(settings, sources)


def _check_env_names(env: Mapping[str, str]) -> None:
    """An ETL_* variable that names no setting is a typo, as an unknown key in etl.toml is."""
    known = {ENV_PREFIX + key.upper() for key in keys()} | OTHER_ENV
    unknown = sorted(name for name in env if name.startswith(ENV_PREFIX) and name not in known)
    if unknown:
        close = [difflib.get_close_matches(name, known, n=1) for name in unknown]
        hints = "".join(f" (did you mean {c[0]}?)" for c in close if c)
        raise ConfigError(f"unknown setting variable {', '.join(unknown)}{hints}; `etl config` lists the settings")
