"""The keywords each step of etl.api takes, typed: its settings without its prefix, and the others it reads.

A step resolves any setting by its full name too (etl/api/resolve.py); these are the ones it reads, so
help(), an IDE and mypy show them. tests/test_api_keywords.py checks them against the declarations in
etl/config.py: every key names a setting the step resolves, of its type, and a Literal lists its choices.
None, as for a command's option, leaves the setting as the defaults, etl.toml and ETL_* have it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypedDict

LlmApi = Literal["ollama", "openai"]
Think = Literal["low", "medium", "high", "none"]
JsonFormat = Literal["auto", "json_schema", "json_object"]
Embedder = Literal["ollama", "openai", "hash", "import", "e5"]
InputType = Literal["", "query", "passage"]
Dtype = Literal["auto", "f32", "f16", "bf16", "i8"]
Search = Literal["auto", "exact", "ann"]
Language = Literal["any", "anchor", "positive", "mix"]
SplitBy = Literal["group", "triplet"]
Loss = Literal["mnrl", "triplet"]
Format = Literal["triplet", "n-tuple", "labeled-pair", "labeled-list"]
Band = Literal["easy", "medium", "hard"]


class CleanSettings(TypedDict, total=False):
    """The settings clean() takes."""

    max_length: int | None
    ignore_spaces: bool | None


class EmbedSettings(TypedDict, total=False):
    """The settings embed() takes."""

    url: Sequence[str] | None
    model: str | None
    dim: int | None
    batch: int | None
    prefix: str | None
    input_type: InputType | None
    embedder: Embedder | None
    clean_max_length: int | None
    llm_url: Sequence[str] | None
    llm_concurrency: int | None
    llm_timeout: float | None
    llm_max_attempts: int | None
    llm_num_predict: int | None
    llm_backoff: float | None


class IndexSettings(TypedDict, total=False):
    """The settings index() takes."""

    dtype: Dtype | None
    connectivity: int | None
    expansion_add: int | None
    expansion_search: int | None


class MineSettings(TypedDict, total=False):
    """The settings mine() takes."""

    easy: Sequence[float] | None
    medium: Sequence[float] | None
    hard: Sequence[float] | None
    ratios: Sequence[float] | None
    negatives: int | None
    search: Search | None
    top_k: int | None
    max_neg_ratio: float | None
    calibrate: bool | None
    percentiles: Sequence[float] | None
    variants: bool | None
    language: Language | None
    language_mix: float | None
    seed: int | None
    split_by: SplitBy | None
    split_train_ratio: float | None
    index_expansion_search: int | None


class SplitSettings(TypedDict, total=False):
    """The settings split() takes."""

    train_ratio: float | None
    by: SplitBy | None
    seed: int | None


class ProbeSettings(TypedDict, total=False):
    """The settings probe() takes."""

    enabled: bool | None
    loss: Loss | None
    epochs: int | None
    triplets: int | None
    anchors: int | None
    max_terms: int | None
    seed: int | None


class JudgeSettings(TypedDict, total=False):
    """The settings judge() takes: its own and the LLM's."""

    enabled: bool | None
    bands: Sequence[Band] | None
    batch: int | None
    rounds: int | None
    temperature: float | None
    consistency: int | None
    promote: bool | None
    prompt: str | None
    api: LlmApi | None
    url: Sequence[str] | None
    model: str | None
    think: Think | None
    concurrency: int | None
    timeout: float | None
    max_attempts: int | None
    num_predict: int | None
    backoff: float | None
    json_format: JsonFormat | None
    seed: int | None


class ExportTripletsSettings(TypedDict, total=False):
    """The settings export_triplets() takes."""

    formats: Sequence[Format] | None
    scores: bool | None
    license: str | None


class SynthSettings(TypedDict, total=False):
    """The settings synth() and synth_trial() takes."""

    api: LlmApi | None
    url: Sequence[str] | None
    model: str | None
    think: Think | None
    concurrency: int | None
    timeout: float | None
    max_attempts: int | None
    num_predict: int | None
    backoff: float | None
    json_format: JsonFormat | None
    expand_ask: int | None
    expand_keep: int | None
    expand_temperature: float | None
    translate_temperature: float | None
    sentences_temperature: float | None
    sentences_per_term: int | None
    sentences_sample: float | None
    seed: int | None


class NoSettings(TypedDict, total=False):
    """A step that reads no setting (it runs on the warehouse it is given); full names still resolve."""


class RunSettings(TypedDict, total=False):
    """The settings run() takes: every setting by its full name (but the warehouse, which it is given)."""

    seed: int | None
    llm_api: LlmApi | None
    llm_url: Sequence[str] | None
    llm_model: str | None
    llm_think: Think | None
    llm_concurrency: int | None
    llm_timeout: float | None
    llm_max_attempts: int | None
    llm_num_predict: int | None
    llm_backoff: float | None
    llm_json_format: JsonFormat | None
    synth_expand_ask: int | None
    synth_expand_keep: int | None
    synth_expand_temperature: float | None
    synth_translate_temperature: float | None
    synth_sentences_temperature: float | None
    synth_sentences_per_term: int | None
    synth_sentences_sample: float | None
    clean_max_length: int | None
    clean_ignore_spaces: bool | None
    embedder: Embedder | None
    embed_url: Sequence[str] | None
    embed_model: str | None
    embed_dim: int | None
    embed_batch: int | None
    embed_prefix: str | None
    embed_input_type: InputType | None
    index_dtype: Dtype | None
    index_connectivity: int | None
    index_expansion_add: int | None
    index_expansion_search: int | None
    mine_easy: Sequence[float] | None
    mine_medium: Sequence[float] | None
    mine_hard: Sequence[float] | None
    mine_ratios: Sequence[float] | None
    mine_negatives: int | None
    mine_search: Search | None
    mine_top_k: int | None
    mine_max_neg_ratio: float | None
    mine_calibrate: bool | None
    mine_percentiles: Sequence[float] | None
    mine_variants: bool | None
    mine_language: Language | None
    mine_language_mix: float | None
    split_train_ratio: float | None
    split_by: SplitBy | None
    judge_enabled: bool | None
    judge_bands: Sequence[Band] | None
    judge_batch: int | None
    judge_rounds: int | None
    judge_temperature: float | None
    judge_consistency: int | None
    judge_promote: bool | None
    judge_prompt: str | None
    probe_enabled: bool | None
    probe_loss: Loss | None
    probe_epochs: int | None
    probe_triplets: int | None
    probe_anchors: int | None
    probe_max_terms: int | None
    export_formats: Sequence[Format] | None
    export_scores: bool | None
    export_license: str | None
