"""`etl mine` and `etl split`: negatives by cosine band, triplets, and their train/validation split."""

from __future__ import annotations

from pathlib import Path

import click

from etl.cli.app import App


@click.command()
@click.option("--model", help="Embedding model whose vectors to mine.  [default: the only model with vectors]")
@click.option(
    "--search",
    type=click.Choice(["auto", "exact", "ann"]),
    help="How bands are searched: an exact scan of the vocabulary, the usearch index (scanning what it cannot show), or auto: the cheaper, estimated on this machine.  [default auto]",
)
@click.option(
    "--top-k",
    type=int,
    help="ANN shortlist per anchor (plus margins); bands below its last score are walked or scanned.  [default 100]",
)
@click.option("--negatives", type=int, help="Negatives per anchor.  [default 5]")
@click.option("--easy", help="Easy band as LOW,HIGH cosines ([low, high)).  [default 0.3,0.5]")
@click.option("--medium", help="Medium band as LOW,HIGH.  [default 0.5,0.7]")
@click.option("--hard", help="Hard band as LOW,HIGH.  [default 0.7,0.9]")
@click.option(
    "--ratios",
    help="Shares of easy,medium,hard negatives, rounded per anchor so the totals keep them (5 at the default: "
    "1.65/1.65/1.70 per anchor on average). The notebook's int() gave every anchor 1/1/3: --ratios 0.2,0.2,0.6 "
    "reproduces it.  [default 0.33,0.33,0.34]",
)
@click.option(
    "--max-neg-ratio",
    type=float,
    help="Cap: a negative scores at most this x the anchor's lowest positive cosine (0 = off).  [default 0]",
)
@click.option(
    "--calibrate/--no-calibrate",
    default=None,
    help="Place the bands at percentiles of this model's anchor-to-term cosines (see --percentiles).",
)
@click.option(
    "--percentiles",
    help="With --calibrate: four band edges as fractions (easy low, medium low, hard low, hard high).  [default 0.5,0.999,0.9999,0.99999]",
)
@click.option(
    "--variants/--no-variants",
    default=None,
    help="Also exclude other forms of the anchor and its synonyms: Korean endings (수출하다), articles and 'to', plurals, -ed, -ing, -ly, gloss-list alternatives.  [default: on]",
)
@click.option(
    "--language",
    type=click.Choice(["any", "anchor", "positive", "mix"]),
    help="Language of the negatives: any term, the anchor's language, its positives' language(s), or a mix of the two (see --language-mix).  [default any]",
)
@click.option(
    "--language-mix",
    type=float,
    help="With --language mix: the share of negatives from the anchor's language; the rest from its positives' other language.  [default 0.5]",
)
@click.option("--seed", type=int, help="Seed for sampling, picks and the split.  [default 42]")
@click.option(
    "--split-by",
    type=click.Choice(["group", "triplet"]),
    help="Split by synonym group (no leaks) or by triplet (the notebook's leaky split).  [default group]",
)
@click.option("--train-ratio", type=float, help="Share of triplets for train.  [default 0.9]")
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
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Run the shards as Ray tasks: on a local Ray, or on the cluster at ADDRESS (e.g. auto, ray://head:10001). Needs the ray extra.",
)
@click.option(
    "--ray-shards", type=click.IntRange(min=1), help="With --ray: how many shards.  [default: the cluster's CPUs]"
)
@click.option(
    "--ray-vectors",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --ray: share the inputs as .npy files in this directory (storage every node mounts) instead of the object store.",
)
@click.pass_obj
def mine(
    app: App,
    model: str | None,
    search: str | None,
    top_k: int | None,
    negatives: int | None,
    easy: str | None,
    medium: str | None,
    hard: str | None,
    ratios: str | None,
    max_neg_ratio: float | None,
    calibrate: bool | None,
    percentiles: str | None,
    variants: bool | None,
    language: str | None,
    language_mix: float | None,
    seed: int | None,
    split_by: str | None,
    train_ratio: float | None,
    shard: str | None,
    out: Path | None,
    merge_dir: Path | None,
    ray_address: str | None,
    ray_shards: int | None,
    ray_vectors: Path | None,
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

    settings = {
        "mine_search": search,
        "mine_top_k": top_k,
        "mine_negatives": negatives,
        "mine_easy": easy,
        "mine_medium": medium,
        "mine_hard": hard,
        "mine_ratios": ratios,
        "mine_max_neg_ratio": max_neg_ratio,
        "mine_calibrate": calibrate,
        "mine_percentiles": percentiles,
        "mine_variants": variants,
        "mine_language": language,
        "mine_language_mix": language_mix,
        "seed": seed,
        "split_by": split_by,
        "split_train_ratio": train_ratio,
    }
    ray: str | bool | None = True if ray_address == "local" else ray_address
    api.check_ray(ray)  # before the warehouse is opened: say what to install
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
@click.option(
    "--split-by",
    type=click.Choice(["group", "triplet"]),
    help="By synonym group (no leaks) or by triplet (the notebook's leaky split).  [default group]",
)
@click.option("--train-ratio", type=float, help="Share of triplets for train.  [default 0.9]")
@click.option("--seed", type=int, help="Seed for the order of groups or triplets.  [default 42]")
@click.pass_obj
def split_cmd(app: App, split_by: str | None, train_ratio: float | None, seed: int | None) -> None:
    """Re-split the existing triplets into train and validation (`etl mine` already splits).

    \b
    Example:
      etl split --split-by triplet     # the notebook's split, to measure its leak
      etl split --train-ratio 0.8
    """
    from etl import api

    with app.warehouse() as wh:
        click.echo(api.split(wh, split_by=split_by, split_train_ratio=train_ratio, seed=seed).render())
