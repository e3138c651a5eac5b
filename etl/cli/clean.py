"""`etl clean`: rebuild terms, synonym_pairs and synonym_groups from everything landed."""

from __future__ import annotations

from typing import Any

import click

from etl.cli import options
from etl.cli.app import App


@click.command()
@options.setting("clean_max_length", "--max-length")
@options.setting("clean_ignore_spaces", "--ignore-spaces/--keep-spaces")
@click.pass_obj
def clean(app: App, **settings: Any) -> None:
    """Rebuild terms, synonym_pairs and synonym_groups from everything landed.

    Reads imported pairs, translations and imported vocabularies; applies the cleaning rules in
    order and prints rows in/out per rule; refused rows go to `rejects` (step clean, replacing the
    previous clean's). Running it twice changes nothing. Fails, replacing nothing, if a check in
    sql/checks/clean_*.sql finds rows.

    \b
    Example:
      etl import pairs filtered_synonym_pairs.jsonl && etl clean
      etl clean --max-length 40 --keep-spaces
    """
    from etl import api

    with app.warehouse() as wh:
        click.echo(api.clean(wh, **settings).render())
