"""The `etl` command line: parse options, open the warehouse, call one step, print its summary."""

from __future__ import annotations

import csv
import io
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from etl import __version__, config
from etl.errors import EtlError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class App:
    """What every command needs: the settings as resolved so far, and a way to open the warehouse."""

    def __init__(self, config_path: Path | None, warehouse: Path | None) -> None:
        self.config_path = config_path
        self.base_overrides: dict[str, Any] = {"warehouse": str(warehouse) if warehouse else None}

    def loaded(self, **overrides: Any) -> config.Loaded:
        """Settings with this command's options applied on top."""
        return config.load(self.config_path, overrides={**self.base_overrides, **overrides})

    def settings(self, **overrides: Any) -> config.Settings:
        """Effective settings for this command."""
        return self.loaded(**overrides).settings

    @contextmanager
    def warehouse(self, read_only: bool = False) -> Iterator[Any]:
        """The open warehouse, closed (lock released) when the command ends."""
        from etl.warehouse import Warehouse

        wh = Warehouse.open(Path(self.settings().warehouse), read_only=read_only)
        try:
            yield wh
        finally:
            wh.close()


class EtlGroup(click.Group):
    """Turns an EtlError into one line on stderr and an exit code; `--debug` shows the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EtlError as exc:
            if ctx.params.get("debug"):
                raise
            click.secho(f"error: {exc}", err=True, fg="red")
            ctx.exit(exc.exit_code)


@click.group(cls=EtlGroup, context_settings=CONTEXT)
@click.option(
    "--warehouse",
    type=click.Path(dir_okay=False, path_type=Path),
    help="DuckDB warehouse file.  [env ETL_WAREHOUSE; default warehouse/etl.duckdb]",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Settings file.  [env ETL_CONFIG; default ./etl.toml when present]",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(__version__, "--version", prog_name="etl")
@click.pass_context
def cli(ctx: click.Context, warehouse: Path | None, config_path: Path | None, debug: bool) -> None:
    """Manufacture Korean-English synonym pairs and hard-negative triplets for retrieval models.

    Each step lands its output in a DuckDB warehouse; every row carries the run_id of the step
    that wrote it (see the `runs` table).

    \b
    Example:
      etl status
      etl sql "SELECT step, status FROM runs ORDER BY run_id DESC LIMIT 5"
    """
    ctx.obj = App(config_path, warehouse)


# -- inspection ----------------------------------------------------------------------------------


@cli.command("config")
@click.pass_obj
def config_cmd(app: App) -> None:
    """Show every setting's effective value and where it came from.

    Settings resolve in this order, later winning: defaults, etl.toml (or --config),
    ETL_<NAME> environment variables, command options.

    \b
    Example:
      ETL_LLM_MODEL=qwen3:8b etl config
    """
    from etl.report import format_table

    loaded = app.loaded()
    rows = []
    for key in config.keys():
        value = getattr(loaded.settings, key)
        shown = ",".join(str(v) for v in value) if isinstance(value, tuple) else value
        rows.append((key, shown, loaded.sources[key]))
    click.echo(format_table(["setting", "value", "source"], rows, max_width=80))


@cli.command()
@click.option("--runs", "last_runs", default=10, show_default=True, help="How many recent runs to list.")
@click.pass_obj
def status(app: App, last_runs: int) -> None:
    """Show the warehouse: its path and size, each table's row count, and the last runs.

    \b
    Example:
      etl status --runs 20
    """
    from etl.steps import inspect

    with app.warehouse(read_only=True) as wh:
        click.echo(inspect.status(wh, last_runs))


@cli.command()
@click.argument("query", required=False)
@click.option("--file", "query_file", type=click.File("r", encoding="utf-8"), help="Read the query from a file.")
@click.option("--csv", "as_csv", is_flag=True, help="Output CSV with a header row.")
@click.option("--json", "as_json", is_flag=True, help="Output a JSON array of row objects.")
@click.option("--max-rows", default=100, show_default=True, help="Rows shown in table output.")
@click.pass_obj
def sql(app: App, query: str | None, query_file: Any, as_csv: bool, as_json: bool, max_rows: int) -> None:
    """Run a read-only query against the warehouse (statements that write are refused).

    \b
    Examples:
      etl sql "SELECT rule, count(*) FROM rejects GROUP BY rule"
      etl sql --csv --file report.sql > report.csv
    """
    from etl.report import format_table
    from etl.steps import inspect

    if (query is None) == (query_file is None):
        raise click.UsageError("give a query or --file, not both and not neither")
    if as_csv and as_json:
        raise click.UsageError("choose one of --csv and --json")
    text = query if query is not None else query_file.read()
    with app.warehouse(read_only=True) as wh:
        result = inspect.query(wh, text)
    if as_json:
        click.echo(inspect.to_json(result))
    elif as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        click.echo(format_table(result.columns, result.rows[:max_rows]))
        hidden = len(result.rows) - max_rows
        noun = "row" if len(result.rows) == 1 else "rows"
        more = f", {hidden:,} not shown; use --csv or --json" if hidden > 0 else ""
        footer = f"({len(result.rows):,} {noun}{more})"
        click.echo(footer, err=sys.stdout.isatty())


# -- landing input -------------------------------------------------------------------------------


@cli.group("import")
def import_group() -> None:
    """Land existing data files (synonym pairs, vocabularies) in the warehouse."""


# -- exports -------------------------------------------------------------------------------------


@cli.group("export")
def export_group() -> None:
    """Write files for training jobs and for the notebooks' consumers."""


# -- mining, split and triplet export ------------------------------------------------------------


@cli.command()
@click.option("--model", help="Embedding model whose vectors to mine.  [default: the only model with vectors]")
@click.option("--search", type=click.Choice(["auto", "exact", "ann"]), help="Candidate search: exact matrix product, the usearch index, or by vocabulary size.  [default auto]")
@click.option("--top-k", type=int, help="Nearest terms shortlisted per anchor for the medium and hard bands.  [default 100]")
@click.option("--negatives", type=int, help="Negatives per anchor.  [default 5]")
@click.option("--easy", help="Easy band as LOW,HIGH cosines ([low, high)).  [default 0.3,0.5]")
@click.option("--medium", help="Medium band as LOW,HIGH.  [default 0.5,0.7]")
@click.option("--hard", help="Hard band as LOW,HIGH.  [default 0.7,0.9]")
@click.option("--ratios", help="Shares of easy,medium,hard negatives.  [default 0.33,0.33,0.34]")
@click.option("--max-neg-ratio", type=float, help="Cap: a negative scores at most this x the anchor's lowest positive cosine (0 = off).  [default 0]")
@click.option("--calibrate/--no-calibrate", default=None, help="Place the bands at percentiles of this model's anchor-to-term cosines (see --percentiles).")
@click.option("--percentiles", help="With --calibrate: four band edges as fractions (easy low, medium low, hard low, hard high).  [default 0.5,0.999,0.9999,0.99999]")
@click.option("--seed", type=int, help="Seed for sampling, picks and the split.  [default 42]")
@click.option("--split-by", type=click.Choice(["group", "triplet"]), help="Split by synonym group (no leaks) or by triplet (the notebook's leaky split).  [default group]")
@click.option("--train-ratio", type=float, help="Share of triplets for train.  [default 0.9]")
@click.pass_obj
def mine(app: App, model: str | None, search: str | None, top_k: int | None, negatives: int | None, easy: str | None,
         medium: str | None, hard: str | None, ratios: str | None, max_neg_ratio: float | None, calibrate: bool | None,
         percentiles: str | None, seed: int | None, split_by: str | None, train_ratio: float | None) -> None:  # fmt: skip
    """Mine negatives by cosine band for every anchor, build triplets and split them train/validation.

    Anchors are both sides of every synonym pair with vectors; negatives never come from the
    anchor's synonym group or share a normalised text with the anchor or a positive. Replaces
    `negatives` and `triplets`; anchors left without any negative are listed in `rejects`.

    \b
    Example:
      etl mine
      etl mine --model bge-m3 --search exact --max-neg-ratio 0.95
      etl mine --calibrate --split-by triplet
    """
    from etl.steps import mine as mine_step

    settings = app.settings(
        mine_search=search, mine_top_k=top_k, mine_negatives=negatives, mine_easy=easy, mine_medium=medium,
        mine_hard=hard, mine_ratios=ratios, mine_max_neg_ratio=max_neg_ratio, mine_calibrate=calibrate,
        mine_percentiles=percentiles, seed=seed, split_by=split_by, split_train_ratio=train_ratio,
    )  # fmt: skip
    with app.warehouse() as wh:
        click.echo(mine_step.run(wh, settings, model=model).render())


@cli.command("split")
@click.option("--split-by", type=click.Choice(["group", "triplet"]), help="By synonym group (no leaks) or by triplet (the notebook's leaky split).  [default group]")
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
    from etl.steps import split

    settings = app.settings(split_by=split_by, split_train_ratio=train_ratio, seed=seed)
    with app.warehouse() as wh:
        click.echo(split.run(wh, settings).render())


@export_group.command("triplets")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Directory to (re)write.  [default exports/triplets beside the warehouse]")
@click.pass_obj
def export_triplets_cmd(app: App, out_dir: Path | None) -> None:
    """Write the triplets as Parquet, JSONL, a Hugging Face DatasetDict and a stats file.

    Files: train.parquet, validation.parquet, triplet_dataset/, train_triplets.jsonl,
    val_triplets.jsonl, data_preparation_stats.json. The directory is replaced as a whole.

    \b
    Example:
      etl export triplets --out dataset/v21.3
      python -c "import datasets; print(datasets.load_from_disk('dataset/v21.3/triplet_dataset'))"
    """
    from etl.steps import export_triplets

    settings = app.settings()
    with app.warehouse() as wh:
        click.echo(export_triplets.run(wh, settings, out_dir).render())


def main() -> None:
    """Entry point for `python -m etl`."""
    cli()
