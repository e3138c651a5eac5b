"""`etl import pairs` and `etl import terms`: land existing data files in the warehouse."""

from __future__ import annotations

from pathlib import Path

import click

from etl.cli.app import App


@click.group("import")
def import_group() -> None:
    """Land existing data files (synonym pairs, vocabularies) in the warehouse.

    \b
    Example:
      etl import pairs filtered_synonym_pairs.jsonl
      etl import terms nouns.txt
    """


_PAIR_FORMATS = click.Choice(["jsonl", "csv", "tsv", "parquet"])
_TERM_FORMATS = click.Choice(["txt", "json", "jsonl", "csv", "tsv", "parquet"])


@import_group.command("pairs")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=_PAIR_FORMATS, help="File format.  [default: from the extension]")
@click.option(
    "--skip-bad-lines", is_flag=True, help="Send bad lines to `rejects` and land the rest, instead of failing."
)
@click.pass_obj
def import_pairs(app: App, file: Path, fmt: str | None, skip_bad_lines: bool) -> None:
    """Land synonym pairs: columns source, target and optional similarity (others kept in `extra`).

    Reads JSONL (the notebook's filtered_synonym_pairs.jsonl), CSV, TSV or Parquet. Importing the
    same file again replaces what it landed before. A bad line fails the import with file:line and
    the reason, and nothing is written; `etl clean` turns landed pairs into synonym_pairs.

    \b
    Example:
      etl import pairs filtered_synonym_pairs.jsonl
      etl import pairs pairs.csv --skip-bad-lines
    """
    from etl import api

    with app.warehouse() as wh:
        click.echo(api.import_pairs(wh, file, format=fmt, skip_bad_lines=skip_bad_lines).render())


@import_group.command("terms")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=_TERM_FORMATS, help="File format.  [default: from the extension]")
@click.option(
    "--column",
    help="Column holding the terms (CSV, TSV, Parquet, JSONL objects).  [default: text, term, or the only one]",
)
@click.option(
    "--skip-bad-lines", is_flag=True, help="Send bad lines to `rejects` and land the rest, instead of failing."
)
@click.pass_obj
def import_terms(app: App, file: Path, fmt: str | None, column: str | None, skip_bad_lines: bool) -> None:
    """Land a vocabulary: terms in no pair that must still be candidates for negatives.

    Reads one term per line (.txt), a JSON list (the notebook's term_list.json), JSONL, or a
    CSV/TSV/Parquet column. Importing the same file again replaces what it landed before.

    \b
    Example:
      etl import terms term_list.json
      etl import terms vocabulary.parquet --column word
    """
    from etl import api

    with app.warehouse() as wh:
        summary = api.import_terms(wh, file, format=fmt, column=column, skip_bad_lines=skip_bad_lines)
        click.echo(summary.render())


@import_group.command("list")
@click.pass_obj
def import_list(app: App) -> None:
    """List every landed file: pairs or terms, its path, rows and the run that landed it.

    \b
    Example:
      etl import list
    """
    from etl import api
    from etl.output import format_table

    with app.warehouse(read_only=True) as wh:
        rows = api.import_sources(wh)
    click.echo(format_table(["kind", "file", "rows", "run_id"], rows, max_width=100))


@import_group.command("drop")
@click.argument("file")
@click.pass_obj
def import_drop(app: App, file: str) -> None:
    """Remove what one landed file brought (by path, or by name when unique); run `etl clean` after.

    \b
    Example:
      etl import drop example_pairs.jsonl && etl clean
    """
    from etl import api

    with app.warehouse() as wh:
        click.echo(api.drop_import(wh, file).render())
