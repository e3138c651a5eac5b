"""`etl run`: the whole pipeline in one command, skipping steps whose inputs are unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from etl.cli.app import App
from etl.cli.synth import LLM_OPTIONS, seeds_option, synth_options

STAGES_OF_RUN = ("synth", "import", "clean", "embed", "index", "mine", "split", "probe", "export")


@click.command("run")
@click.option(
    "--pairs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Synonym pairs to import (JSONL/CSV/TSV/Parquet) instead of synthesising them with an LLM.",
)
@click.option(
    "--terms",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Extra vocabulary to import: terms in no pair that may still be negatives.",
)
@click.option(
    "--vectors",
    type=click.Path(exists=True, path_type=Path),
    help="Precomputed vectors (term_embeddings.npy, its directory, or .parquet); implies --embedder import.",
)
@click.option(
    "--example",
    is_flag=True,
    help="Use the bundled example pairs and vocabulary with the hash embedder (or --embedder e5): no model server needed.",
)
@click.option(
    "--embedder",
    type=click.Choice(["ollama", "openai", "hash", "import", "e5"]),
    help="How terms get vectors (hash is offline and lexical; e5 is offline and semantic).  [embedder]",
)
@click.option("--embed-model", help="Embedding model for ollama/openai/import vectors, e.g. bge-m3.  [embed_model]")
@click.option("--embed-prefix", help="Text put before every term the model embeds (see etl embed).  [embed_prefix]")
@click.option(
    "--embed-input-type",
    type=click.Choice(["query", "passage"]),
    help="The role for e5 or a server that takes input_type (see etl embed).  [embed_input_type]",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Export directory (triplets/, synonyms.txt and, after synthesis, synonyms/ inside).  [default: exports/ beside the warehouse]",
)
@click.option(
    "--from",
    "start",
    type=click.Choice(STAGES_OF_RUN),
    help="Run this step and every step after it, even when their inputs are unchanged.",
)
@click.option(
    "--only", type=click.Choice(STAGES_OF_RUN), help="Run just this step, even when its inputs are unchanged."
)
@click.option("--skip-bad-lines", is_flag=True, help="Send bad lines of --pairs/--terms to rejects instead of failing.")
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Mine as shards on Ray: a local Ray, or the cluster at ADDRESS (same rows as without). Needs the ray extra.",
)
@click.option(
    "--ray-shards",
    type=click.IntRange(min=1),
    help="With --ray: how many mining shards.  [default: the cluster's CPUs]",
)
@click.option(
    "--probe/--no-probe",
    default=None,
    help="Run the downstream probe after the split (skipped when the vocabulary exceeds probe_max_terms).  [probe_enabled; default on]",
)
@click.option(
    "--language",
    type=click.Choice(["any", "anchor", "positive", "mix"]),
    help="Language of the mined negatives (see `etl mine --help`).  [mine_language]",
)
@synth_options
@seeds_option
@click.pass_obj
def run_cmd(app: App, **options: Any) -> None:
    """Run the whole pipeline: synth (or import) → clean → embed → index → mine → split → probe → export.

    Steps whose inputs have not changed since they last succeeded are skipped, so a second run
    with nothing new finishes in seconds and sends no request. Without --pairs/--terms/--example
    the pairs come from an LLM (Ollama on localhost by default), which must answer first.

    \b
    Example:
      etl run --example
      etl run --example --embedder e5
      etl run --pairs pairs.jsonl --terms vocabulary.txt --embedder hash
      etl run --concurrency 8 --embedder ollama
      etl run --from mine
      etl run --example --language anchor
      etl run --example --ray
      etl run --example --no-probe
    """
    from etl import api

    inputs = {
        key: options[key]
        for key in ("example", "pairs", "terms", "vectors", "out", "skip_bad_lines", "seeds", "refresh")
    }
    llm = {setting: options[option] for option, setting in LLM_OPTIONS.items()}
    embedding = ("embedder", "embed_model", "embed_prefix", "embed_input_type")
    settings = {key: options[key] for key in embedding} | llm
    settings["probe_enabled"] = options["probe"]
    settings["mine_language"] = options["language"]
    start, only = options["start"], options["only"]
    # Before the warehouse is opened: a new one that this run would synthesise into needs the LLM server.
    client = api.run_client(app.settings(**llm), start=start, only=only, **inputs)
    ray = True if options["ray_address"] == "local" else options["ray_address"]
    api.check_ray(ray)  # before the warehouse is opened: say what to install
    with app.warehouse() as wh:
        result = api.run(
            wh,
            start=start,
            only=only,
            notify=lambda line: click.echo(line, err=True),
            client=client,
            ray=ray,
            ray_shards=options["ray_shards"],
            **inputs,
            **settings,
        )
    click.echo(result.render())
