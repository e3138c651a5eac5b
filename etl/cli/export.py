"""`etl export` (triplets, synonyms, synth) and `etl report`: the files the warehouse is turned into.

`etl export synth` is here rather than beside `etl synth`: each module holds whole branches of the
command tree, so every `etl export` command is in this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from etl.cli import options
from etl.cli.app import App


@click.group("export")
def export_group() -> None:
    """Write files for training jobs and for the notebooks' consumers.

    \b
    Example:
      etl export triplets --out dataset/v1
      etl export synonyms
    """


@export_group.command("triplets")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to (re)write.  [default: exports/triplets beside the warehouse]",
)
@options.setting("export_formats", "--format")
@options.setting("export_scores", "--with-scores/--without-scores")
@options.setting("export_license", "--license")
@click.pass_obj
def export_triplets_cmd(app: App, out_dir: Path | None, **settings: Any) -> None:
    """Write the triplets as Parquet, JSONL, a Hugging Face DatasetDict with its card, and a stats file.

    Files for the default triplet layout: train.parquet, validation.parquet, triplet_dataset/
    (with README.md, its dataset card), train_triplets.jsonl, val_triplets.jsonl,
    data_preparation_stats.json. Each other layout goes to DIR/<layout>/: train.parquet,
    validation.parquet, train.jsonl, validation.jsonl, dataset/. The directory is replaced as a whole.

    \b
    Example:
      etl export triplets --out dataset/v21.3
      etl export triplets --format triplet --format n-tuple --format labeled-list --with-scores
      python -c "import datasets; print(datasets.load_from_disk('dataset/v21.3/triplet_dataset'))"
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.export_triplets(wh, out_dir, **settings)
        click.echo(summary.render())


@export_group.command("synonyms")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to (re)write.  [default: exports/synonyms.txt beside the warehouse]",
)
@click.option(
    "--explicit",
    is_flag=True,
    help="Write mappings (머신러닝 => machine learning, ML): Korean and mixed-script terms to the group's English terms.",
)
@click.option(
    "--max-group-size",
    type=click.IntRange(2, 1_000_000),
    default=20,
    show_default=True,
    help="Largest group written as one line.",
)
@click.option(
    "--oversize",
    type=click.Choice(["split", "skip"]),
    default="split",
    show_default=True,
    help="What to do with a larger group: write its synonym pairs, one per line, or leave it out.",
)
@click.option(
    "--category",
    "categories",
    multiple=True,
    help="Only groups with a term synthesised under this category (repeatable); imported-only groups have none.",
)
@click.pass_obj
def export_synonyms_cmd(
    app: App, out: Path | None, explicit: bool, max_group_size: int, oversize: str, categories: tuple[str, ...]
) -> None:
    """Write the synonym groups as a Solr-format synonym file for OpenSearch / Elasticsearch.

    One line per group of equivalent terms (머신러닝, machine learning, ML), for the `synonym` and
    `synonym_graph` token filters' synonyms_path. Terms are escaped as the format requires; terms it
    cannot hold and groups left out are counted in the summary.

    \b
    Example:
      etl export synonyms --out config/analysis/ko_en_synonyms.txt
      etl export synonyms --explicit --category machine_learning --max-group-size 10 --oversize skip
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.export_synonyms(
            wh, out, explicit=explicit, max_group_size=max_group_size, oversize=oversize, categories=categories
        )
    click.echo(summary.render())


@export_group.command("synth")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for ko_en_terms.jsonl, ko_en_parallel.jsonl, cross_lingual_pairs.jsonl, metadata.json.  "
    "[default: exports/synonyms beside the warehouse, as etl run writes them]",
)
@click.pass_obj
def export_synth(app: App, out: Path | None) -> None:
    """Write the synthesis results as the seed notebook's files (JSONL and metadata.json).

    \b
    Example:
      etl export synth --out dataset/synonyms
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.export_synth(wh, out)
    click.echo(summary.render())


@click.command("report")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to (re)write.  [default: exports/report.html beside the warehouse]",
)
@click.pass_obj
def report_cmd(app: App, out: Path | None) -> None:
    """Write one self-contained HTML page with plots of the warehouse (needs the `report` extra).

    Negatives' similarity with the band edges, band shares per split, positives per anchor,
    population per band, rejects, LLM calls with latency and token percentiles, the last runs.
    The page embeds plotly.js, so it opens without a network.

    \b
    Example:
      pip install "ko-synonym-etl[report]" && etl report --out report.html && xdg-open report.html
    """
    from etl import api

    with app.warehouse(read_only=True) as wh:
        click.echo(api.report(wh, out).render())
