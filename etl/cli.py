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


# -- synthesis -----------------------------------------------------------------------------------

SYNTH_STAGES = ("expand", "translate", "sentences")
_LLM_OPTIONS = {"llm_url": "llm_url", "llm_api": "llm_api", "llm_model": "llm_model",
                "concurrency": "llm_concurrency", "think": "llm_think"}


def _synth_options(fn: Any) -> Any:
    """The options every `etl synth` command takes: where the LLM is, how hard to push it, --refresh."""
    options = [
        click.option("--llm-url", multiple=True,
                     help="LLM server base URL; repeat the option to spread requests over several servers."),
        click.option("--llm-api", type=click.Choice(["ollama", "openai"]),
                     help="Wire format: Ollama native (/api/chat) or OpenAI-compatible (/v1/chat/completions)."),
        click.option("--llm-model", help="Chat model, e.g. gpt-oss:20b."),
        click.option("--concurrency", type=click.IntRange(min=1), help="Requests in flight across all servers."),
        click.option("--think", type=click.Choice(["low", "medium", "high", "none"]),
                     help="Reasoning effort for thinking models; 'none' sends no thinking setting."),
        click.option("--refresh", is_flag=True, help="Send every request again instead of reusing stored answers."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _seeds_option(fn: Any) -> Any:
    return click.option(
        "--seeds", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Seed terms file (TOML or JSON: category = [terms]) instead of the built-in 69 terms.",
    )(fn)


def _synth(ctx: click.Context, stages: tuple[str, ...], options: dict[str, Any]) -> None:
    """Run synthesis stages with this command's options over those given to `etl synth` itself."""
    from etl.steps import synth

    given = dict(ctx.parent.params) if ctx.parent is not None and ctx.parent.command is synth_group else {}
    for key, value in options.items():
        if value not in (None, (), False) or key not in given:
            given[key] = value
    app: App = ctx.obj
    settings = app.settings(**{setting: given.get(option) for option, setting in _LLM_OPTIONS.items()})
    # A new warehouse has nothing cached: check the server before the file is even created. An
    # existing one is checked by the first stage with a request to send, before that stage writes
    # anything, so a rerun answered entirely from llm_calls needs no server.
    client = None if Path(settings.warehouse).exists() else synth.connect(settings)
    with app.warehouse() as wh:
        summary = synth.run(wh, settings, stages, seeds_path=given.get("seeds"), refresh=bool(given.get("refresh")),
                            client=client)
    click.echo(summary.render())


@cli.group("synth", invoke_without_command=True)
@_synth_options
@_seeds_option
@click.pass_context
def synth_group(ctx: click.Context, **options: Any) -> None:
    """Synthesise Korean-English term data with an LLM: expand, translate, sentences.

    Without a subcommand, runs all three stages in order. Every request and answer is stored in
    llm_calls before it is parsed; a rerun (even after kill -9) sends only what has no answer yet.

    \b
    Example:
      etl synth --concurrency 8
      etl synth --llm-api openai --llm-url http://gpu-box:8000/v1 --llm-model openai/gpt-oss-20b
    """
    if ctx.invoked_subcommand is None:
        _synth(ctx, SYNTH_STAGES, options)


@synth_group.command("expand")
@_synth_options
@_seeds_option
@click.pass_context
def synth_expand(ctx: click.Context, **options: Any) -> None:
    """Land the seed terms and ask the LLM for more terms in each category (category_terms).

    \b
    Example:
      etl synth expand --seeds my_terms.toml
    """
    _synth(ctx, ("expand",), options)


@synth_group.command("translate")
@_synth_options
@click.pass_context
def synth_translate(ctx: click.Context, **options: Any) -> None:
    """Translate every planned Korean term once: primary, alternatives, abbreviation (translations).

    \b
    Example:
      etl synth translate --concurrency 8 --llm-url http://gpu1:11434 --llm-url http://gpu2:11434
    """
    _synth(ctx, ("translate",), options)


@synth_group.command("sentences")
@_synth_options
@click.pass_context
def synth_sentences(ctx: click.Context, **options: Any) -> None:
    """Write Korean/English parallel sentences for a seeded sample of translated terms (parallel_sentences).

    \b
    Example:
      ETL_SYNTH_SENTENCES_SAMPLE=1.0 etl synth sentences
    """
    _synth(ctx, ("sentences",), options)


@export_group.command("synth")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for ko_en_terms.jsonl, ko_en_parallel.jsonl, cross_lingual_pairs.jsonl, metadata.json.")
@click.pass_obj
def export_synth(app: App, out: Path) -> None:
    """Write the synthesis results as the seed notebook's files (JSONL and metadata.json).

    \b
    Example:
      etl export synth --out dataset/synonyms
    """
    from etl.steps import synth_export

    with app.warehouse() as wh:
        summary = synth_export.run(wh, app.settings(), out)
    click.echo(summary.render())


def main() -> None:
    """Entry point for `python -m etl`."""
    cli()
