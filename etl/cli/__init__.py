"""The `etl` command line: parse options, open the warehouse, call one step of etl.api, print its summary.

Each command group lives in its own module; this one defines the `etl` group and adds them, in the
order data flows through the pipeline.
"""

from __future__ import annotations

from pathlib import Path

import click

from etl import DISTRIBUTION
from etl.cli import clean, embed, export, imports, inspect, judge, mine, options, probe, run, synth
from etl.cli.app import CONTEXT, App, EtlGroup


@click.group(cls=EtlGroup, context_settings=CONTEXT)
@options.setting("warehouse", "--warehouse")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Settings file.  [env ETL_CONFIG; default ./etl.toml when present]",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name=DISTRIBUTION, prog_name="etl")
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


# -- inspection: settings, the warehouse's tables and runs, read-only SQL --------------------------

cli.add_command(inspect.config_cmd)
cli.add_command(inspect.status)
cli.add_command(inspect.sql)
cli.add_command(inspect.show)

# -- the steps, in pipeline order: synth (or import), clean, embed, index, mine, judge, split, probe, export

cli.add_command(synth.synth_group)  # etl synth [expand | translate | sentences]
cli.add_command(imports.import_group)  # etl import pairs | terms
cli.add_command(clean.clean)
cli.add_command(embed.embed)
cli.add_command(embed.index)
cli.add_command(mine.mine)
cli.add_command(judge.judge)
cli.add_command(mine.split_cmd)
cli.add_command(probe.probe)
cli.add_command(export.export_group)  # etl export triplets | synonyms | synth
cli.add_command(export.report_cmd)

# -- the whole pipeline ----------------------------------------------------------------------------

cli.add_command(run.run_cmd)


def main() -> None:
    """Entry point for `python -m etl`."""
    cli()
