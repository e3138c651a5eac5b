"""`etl probe`: whether the mined negatives help a model, measured by a small adapter trained on them."""

from __future__ import annotations

from typing import Any

import click

from etl.cli import options
from etl.cli.app import App


@click.command("probe")
@options.setting("probe_loss", "--loss")
@options.setting("probe_epochs", "--epochs")
@options.setting("probe_triplets", "--triplets")
@options.setting("probe_anchors", "--anchors")
@options.setting("probe_max_terms", "--max-terms")
@options.setting(
    "seed", "--seed", context="Here: the adapter's projection, the samples, the batch order and the random negatives."
)
@click.pass_obj
def probe(app: App, **settings: Any) -> None:
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
        click.echo(api.probe(wh, **settings).render())
