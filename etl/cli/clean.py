"""`etl clean`: rebuild terms, synonym_pairs and synonym_groups from everything landed."""

from __future__ import annotations

import click

from etl.cli.app import App


@click.command()
@click.option("--max-length", type=int, help="Longest term kept, in characters.  [setting clean_max_length]")
@click.option(
    "--ignore-spaces/--keep-spaces",
    default=None,
    help="Compare Korean terms without their spaces (배치 정규화 = 배치정규화).  [setting clean_ignore_spaces]",
)
@click.pass_obj
def clean(app: App, max_length: int | None, ignore_spaces: bool | None) -> None:
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
        click.echo(api.clean(wh, clean_max_length=max_length, clean_ignore_spaces=ignore_spaces).render())
