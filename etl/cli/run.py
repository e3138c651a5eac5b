"""`etl run`: the whole pipeline in one command, skipping steps whose inputs are unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from etl.cli import options
from etl.cli.app import App
from etl.cli.synth import LLM_SETTINGS, seeds_option, synth_options

STAGES_OF_RUN = ("synth", "import", "clean", "embed", "index", "mine", "judge", "split", "probe", "export")


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
@options.setting("embedder", "--embedder")
@options.setting("embed_model", "--embed-model")
@options.setting("embed_prefix", "--embed-prefix", context="See etl embed.")
@options.setting("embed_input_type", "--embed-input-type", context="See etl embed.")
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
@options.ray
@options.ray_shards
@options.setting("judge_enabled", "--judge/--no-judge", context="With the LLM options below; see `etl judge --help`.")
@options.setting("probe_enabled", "--probe/--no-probe")
@options.setting("mine_language", "--language", context="See `etl mine --help`.")
@synth_options
@seeds_option
@click.pass_obj
def run_cmd(app: App, **given: Any) -> None:
    """Run the whole pipeline: synth (or import) → clean → embed → index → mine → judge → split → probe → export.

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
      etl run --example --judge --llm-url http://gpu-box:11434
    """
    from etl import api
    from etl.api.pipeline import run_client
    from etl.api.steps import check_ray

    inputs = {
        key: given[key] for key in ("example", "pairs", "terms", "vectors", "out", "skip_bad_lines", "seeds", "refresh")
    }
    settings = options.given(given)
    llm = {key: settings[key] for key in LLM_SETTINGS}
    start, only = given["start"], given["only"]
    # Before the warehouse is opened: a new one that this run would synthesise into needs the LLM server.
    client = run_client(app.settings(**llm), start=start, only=only, **inputs)
    ray = given["ray"]
    check_ray(ray)  # before the warehouse is opened: say what to install
    with app.warehouse() as wh:
        result = api.run(
            wh,
            start=start,
            only=only,
            notify=lambda line: click.echo(line, err=True),
            client=client,
            ray=ray,
            ray_shards=given["ray_shards"],
            **inputs,
            **settings,
        )
    click.echo(result.render())
