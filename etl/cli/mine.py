"""`etl mine` and `etl split`: negatives by cosine band, triplets, and their train/validation split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from etl.cli import options
from etl.cli.app import App


@click.command()
@click.option("--model", help="Embedding model whose vectors to mine.  [default: the only model with vectors]")
@options.setting("mine_search", "--search")
@options.setting("mine_top_k", "--top-k")
@options.setting("mine_negatives", "--negatives")
@options.setting("mine_easy", "--easy")
@options.setting("mine_medium", "--medium")
@options.setting("mine_hard", "--hard")
@options.setting(
    "mine_ratios",
    "--ratios",
    context="5 at the default: 1.65/1.65/1.70 per anchor on average. The notebook's int() gave every anchor "
    "1/1/3: --ratios 0.2,0.2,0.6 reproduces it.",
)
@options.setting("mine_max_neg_ratio", "--max-neg-ratio")
@options.setting("mine_calibrate", "--calibrate/--no-calibrate", context="See --percentiles.")
@options.setting("mine_percentiles", "--percentiles")
@options.setting("mine_variants", "--variants/--no-variants")
@options.setting("mine_language", "--language", context="See --language-mix.")
@options.setting("mine_language_mix", "--language-mix")
@options.setting("seed", "--seed")
@options.setting("split_by", "--split-by")
@options.setting("split_train_ratio", "--train-ratio")
@click.option(
    "--shard",
    metavar="I/N",
    help="Mine only shard I of N (I from 0) and write its part under --out; the warehouse is only read. Needs --search exact or ann.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --shard: the directory the parts go to (one subdirectory per shard).",
)
@click.option(
    "--merge",
    "merge_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Land the parts of every shard under this directory as one mine run (refused if one is missing, stale or foreign).",
)
@options.ray
@options.ray_shards
@click.option(
    "--ray-vectors",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --ray: share the inputs as .npy files in this directory (storage every node mounts) instead of the object store.",
)
@click.pass_obj
def mine(
    app: App,
    model: str | None,
    shard: str | None,
    out: Path | None,
    merge_dir: Path | None,
    ray: str | bool | None,
    ray_shards: int | None,
    ray_vectors: Path | None,
    **settings: Any,
) -> None:
    """Mine negatives by cosine band for every anchor, build triplets and split them train/validation.

    Anchors are both sides of every synonym pair with vectors; negatives never come from the
    anchor's synonym group, share a normalised text with the anchor or a positive, or are another
    form of one of them (수출 / 수출하다, "To help" / "Help", "Answer, reply" / "An answer"; off with
    --no-variants). Each band's
    picks are a seeded uniform sample of every term whose exact cosine lies in it; a band is filled
    from the others only when it has fewer members than its quota. Replaces `negatives`, `triplets`
    and `anchor_bands` (each anchor's band sizes); anchors left without any negative are listed in
    `rejects`, and a run where no anchor gets one fails with the model's cosine range.

    Beyond one machine: `--shard I/N --out DIR` mines a deterministic share of the anchors (run
    every I from 0 to N-1, anywhere the warehouse is), `--merge DIR` lands the parts; `--ray` does
    both on a Ray cluster. Either way the rows equal a plain `etl mine`'s (see docs/scale.md).

    \b
    Example:
      etl mine
      etl mine --model bge-m3 --search exact --max-neg-ratio 0.95
      etl mine --calibrate --split-by triplet
      etl mine --ratios 0.2,0.2,0.6     # the notebook's 1 easy / 1 medium / 3 hard per anchor
      etl mine --no-variants
      etl mine --language anchor --calibrate
      etl mine --search exact --shard 0/4 --out parts && etl mine --merge parts
      etl mine --ray --ray-shards 8
    """
    from etl import api
    from etl.api.steps import check_ray

    check_ray(ray)  # before the warehouse is opened: say what to install
    # A shard only reads the warehouse, so shards of one warehouse can run side by side.
    with app.warehouse(read_only=shard is not None) as wh:
        click.echo(
            api.mine(
                wh,
                model=model,
                shard=shard,
                out=out,
                merge=merge_dir,
                ray=ray,
                ray_shards=ray_shards,
                ray_vectors=ray_vectors,
                **settings,
            ).render()
        )


@click.command("split")
@options.setting("split_by", "--split-by")
@options.setting("split_train_ratio", "--train-ratio")
@options.setting("seed", "--seed")
@click.pass_obj
def split_cmd(app: App, **settings: Any) -> None:
    """Re-split the existing triplets into train and validation (`etl mine` already splits).

    \b
    Example:
      etl split --split-by triplet     # the notebook's split, to measure its leak
      etl split --train-ratio 0.8
    """
    from etl import api

    with app.warehouse() as wh:
        click.echo(api.split(wh, **settings).render())
