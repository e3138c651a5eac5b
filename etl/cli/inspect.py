"""`etl config`, `etl status`, `etl sql` and `etl show`: settings, tables and runs, read-only queries, rows."""

from __future__ import annotations

import sys
from typing import Any

import click

from etl import config
from etl.cli.app import App


@click.command("config")
@click.pass_obj
def config_cmd(app: App) -> None:
    """Show every setting's effective value and where it came from.

    Settings resolve in this order, later winning: defaults, etl.toml (or --config),
    ETL_<NAME> environment variables, command options. Each is checked against what the
    setting accepts (the last column), wherever it comes from.

    \b
    Example:
      ETL_LLM_MODEL=qwen3:8b etl config
    """
    from etl.output import format_table

    loaded = app.loaded()
    rows = []
    for key in config.keys():  # noqa: SIM118 -- etl.config is a module; keys() names its settings
        value = getattr(loaded.settings, key)
        shown = ",".join(str(v) for v in value) if isinstance(value, tuple) else value
        rows.append((key, shown, loaded.sources[key], config.SPECS[key].describe()))
    click.echo(format_table(["setting", "value", "source", "accepts"], rows, max_width=80))


@click.command()
@click.option(
    "--runs",
    "last_runs",
    type=click.IntRange(0, 1_000_000),
    default=10,
    show_default=True,
    help="How many recent runs to list.",
)
@click.pass_obj
def status(app: App, last_runs: int) -> None:
    """Show the warehouse: its path and size, each table's row count, and the last runs.

    \b
    Example:
      etl status --runs 20
    """
    from etl import api

    with app.warehouse(read_only=True) as wh:
        click.echo(api.status(wh, last_runs))


@click.command()
@click.argument("query", required=False)
@click.option("--file", "query_file", type=click.File("r", encoding="utf-8"), help="Read the query from a file.")
@click.option("--csv", "as_csv", is_flag=True, help="Output CSV with a header row.")
@click.option("--json", "as_json", is_flag=True, help="Output a JSON array of row objects.")
@click.option(
    "--max-rows",
    type=click.IntRange(0, 1_000_000_000),
    default=100,
    show_default=True,
    help="Rows shown in table output.",
)
@click.pass_obj
def sql(app: App, query: str | None, query_file: Any, as_csv: bool, as_json: bool, max_rows: int) -> None:
    """Run a read-only query against the warehouse (statements that write are refused).

    \b
    Examples:
      etl sql "SELECT rule, count(*) FROM rejects GROUP BY rule"
      etl sql --csv --file report.sql > report.csv
    """
    from etl import api
    from etl.output import format_table

    if (query is None) == (query_file is None):
        raise click.UsageError("give a query or --file, not both and not neither")
    if as_csv and as_json:
        raise click.UsageError("choose one of --csv and --json")
    text = query if query is not None else query_file.read()
    with app.warehouse(read_only=True) as wh:
        result = api.query(wh, text)
    if as_json:
        click.echo(result.to_json())
    elif as_csv:
        click.echo(result.to_csv(), nl=False)
    else:
        click.echo(format_table(result.columns, result.rows[:max_rows]))
        hidden = len(result.rows) - max_rows
        noun = "row" if len(result.rows) == 1 else "rows"
        more = f", {hidden:,} not shown; use --csv or --json" if hidden > 0 else ""
        footer = f"({len(result.rows):,} {noun}{more})"
        click.echo(footer, err=sys.stdout.isatty())


@click.command()
@click.argument("what")
@click.option(
    "-n", "--rows", "n", default=10, show_default=True, type=click.IntRange(1, 1_000_000), help="How many rows."
)
@click.option("--first", is_flag=True, help="The first rows in the order they were made, not a random sample.")
@click.option(
    "--seed", type=click.IntRange(0, 2**32 - 1), help="Seed of the random sample.  [default: the seed setting, 42]"
)
@click.option("--category", help="Only this category (terms, translations, sentences, training-pairs).")
@click.option(
    "--band", type=click.Choice(["easy", "medium", "hard", "other"]), help="Only this band (negatives, triplets)."
)
@click.option("--vertical", is_flag=True, help="One block of label/value lines per row, nothing cut short.")
@click.option("--json", "as_json", is_flag=True, help="Output a JSON array of row objects.")
@click.pass_obj
def show(
    app: App,
    what: str,
    n: int,
    first: bool,
    seed: int | None,
    category: str | None,
    band: str | None,
    vertical: bool,
    as_json: bool,
) -> None:
    """Show rows of a table: a seeded random sample (or --first), aligned with Korean two columns wide.

    WHAT is one of terms (the synthesis plan with translations), translations, sentences,
    training-pairs, imported-pairs, synonym-pairs, negatives (with their band), triplets or
    rejects; a table's own name works too. Only reads; a missing warehouse is an error, never created.

    \b
    Example:
      etl show triplets -n 10
      etl show translations --category machine_learning
      etl show imported-pairs --first -n 5
      etl show sentences -n 3 --vertical
      etl show negatives --band hard --json
    """
    from etl import api

    with app.warehouse(read_only=True, create=False) as wh:
        shown = api.show(wh, what, n=n, first=first, seed=seed, category=category, band=band)
    click.echo(shown.to_json() if as_json else shown.render(vertical=vertical))
