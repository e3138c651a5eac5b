"""`etl probe`: whether the mined negatives help a model, measured by a small adapter trained on them."""

from __future__ import annotations

import click

from etl.cli.app import App


@click.command("probe")
@click.option(
    "--loss",
    type=click.Choice(["mnrl", "triplet"]),
    help="Training loss: in-batch softmax with the mined negative as an extra column, or the cosine triplet margin.  [default mnrl]",
)
@click.option("--epochs", type=int, help="Passes over the train triplets.  [default 3]")
@click.option("--triplets", type=int, help="Train triplets trained on at most (a seeded sample).  [default 30000]")
@click.option("--anchors", type=int, help="Validation anchors scored at most (a seeded sample).  [default 1000]")
@click.option(
    "--max-terms",
    type=int,
    help="Skip the probe when the vocabulary has more terms than this (it would take minutes).  [default 300000]",
)
@click.option(
    "--seed",
    type=int,
    help="Seed for the adapter's projection, the samples, the batch order and the random negatives.  [default 42]",
)
@click.pass_obj
def probe(
    app: App,
    loss: str | None,
    epochs: int | None,
    triplets: int | None,
    anchors: int | None,
    max_terms: int | None,
    seed: int | None,
) -> None:
    """Train a small adapter on the triplets and measure retrieval on the validation anchors.

    A linear adapter over the mining model's frozen vectors is trained on the train split's
    triplets; the validation anchors (unseen synonym groups) then rank the vocabulary, and MRR@10,
    recall@1 and recall@10 of their positives are reported in the positive's language (target) and
    among all terms (mixed), for three arms: untrained, mined negatives, and random negatives.
    Figures go to `probe_results`; `etl export triplets` and `etl report` show the newest.

    \b
    Example:
      etl probe
      etl probe --loss triplet --epochs 5 --anchors 5000
    """
    from etl import api

    with app.warehouse() as wh:
        click.echo(
            api.probe(
                wh,
                probe_loss=loss,
                probe_epochs=epochs,
                probe_triplets=triplets,
                probe_anchors=anchors,
                probe_max_terms=max_terms,
                seed=seed,
            ).render()
        )
