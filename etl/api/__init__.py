"""The Python API the `etl` command is a skin over: open a warehouse, run steps, read tables as polars.

    import etl
    wh = etl.open("warehouse/etl.duckdb")
    etl.import_pairs(wh, "filtered_synonym_pairs.jsonl")
    etl.clean(wh)
    etl.embed(wh, embedder="hash")
    etl.mine(wh, search="exact")
    wh.table("triplets")

Every step takes its settings as keyword arguments, named as in `etl config`; the step's own prefix
may be left out (`etl.mine(wh, search="exact")` sets `mine_search`). They apply on top of the
defaults, etl.toml and ETL_* variables, as command options do, and each step returns a StepResult
(step, run_id, counts, warnings, outputs; print() shows what the command prints). Failures raise
the `EtlError` family with the messages the command shows.

The step functions live in etl.api.steps (those that ask the chat model in etl.api.llm_steps) and
run() in etl.api.pipeline, each step's keywords typed in etl.api.keywords; the user's verbs are
imported here. status(), query() and show() are what
`etl status`, `etl sql` and `etl show` print. The checks a command makes before it opens, and may
create, the warehouse file (synth_client, run_client, check_ray) stay in the modules that define them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from etl import warehouse as store
from etl.api.llm_steps import judge, synth, synth_trial
from etl.api.pipeline import run
from etl.api.resolve import PathLike, read_settings
from etl.api.steps import (
    clean,
    drop_import,
    embed,
    export_synonyms,
    export_synth,
    export_triplets,
    import_pairs,
    import_sources,
    import_terms,
    index,
    mine,
    probe,
    report,
    split,
)
from etl.errors import WarehouseError
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    from etl.steps.inspect import Result
    from etl.steps.show import Shown

__all__ = [
    "PathLike",
    "Warehouse",
    "clean",
    "drop_import",
    "embed",
    "export_synonyms",
    "export_synth",
    "export_triplets",
    "import_pairs",
    "import_sources",
    "import_terms",
    "index",
    "judge",
    "mine",
    "open",
    "probe",
    "query",
    "report",
    "run",
    "show",
    "split",
    "status",
    "synth",
    "synth_trial",
]


def open(
    path: PathLike | None = None, *, config: PathLike | None = None, read_only: bool = False, create: bool = True
) -> Warehouse:
    """Open (creating and migrating if needed) the warehouse at `path`, else the one the settings name.

    With `read_only`, nothing is created: a missing file is a WarehouseError ("no warehouse at …").
    `config` is a settings file used instead of ./etl.toml; `create=False` refuses a missing file
    instead of creating it. Close it (or use `with`) to release the file lock, so that an `etl`
    command can open it too.
    """
    config_path = Path(config) if config is not None else None
    where = Path(path) if path is not None else Path(read_settings(config_path, {}).warehouse)
    if not create and not where.exists():
        raise WarehouseError(f"no warehouse at {where}")
    wh = Warehouse.open(where, read_only=read_only)
    wh.config_path = config_path
    return wh


# -- what `etl status`, `etl sql` and `etl show` show --------------------------------------------------------


def status(wh: store.Warehouse, last_runs: int = 10) -> str:
    """The warehouse's path and size, every table with its row count, and the last `last_runs` runs."""
    from etl.steps import inspect

    return inspect.status(wh, last_runs)


def query(wh: store.Warehouse, sql: str) -> Result:
    """The columns and rows (as Python values) of the last statement of read-only `sql`; writes are refused."""
    from etl.steps import inspect

    return inspect.query(wh, sql)


def show(
    wh: Warehouse,
    what: str,
    *,
    n: int = 10,
    first: bool = False,
    seed: int | None = None,
    category: str | None = None,
    band: str | None = None,
) -> Shown:
    """`n` rows of a table a user looks at (`etl show` lists them): a seeded sample, or the `first` rows.

    `seed` defaults to the `seed` setting; `category` filters the synthesis views, `band` negatives
    and triplets. The result renders as a table, as blocks, or as JSON.
    """
    from etl.steps import show as step

    chosen = wh.settings().seed if seed is None else seed
    return step.show(wh, what, n=n, random=not first, seed=chosen, category=category, band=band)
