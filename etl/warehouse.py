"""The DuckDB warehouse: connect, migrate, run named SQL files, and record every run (lineage)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import duckdb

from etl import config, migrations
from etl.errors import EtlError, ReadOnlyViolation, WarehouseBusy, WarehouseError
from etl.output import plain

if TYPE_CHECKING:
    import polars as pl


def _sql_dir() -> Traversable:
    """Where the named SQL files are: the package etl.sql, installed or editable."""
    # The SQL stays in the checkout's top-level sql/ folder, where people read and run it by hand;
    # pyproject.toml maps that folder to the package etl.sql, so a wheel or sdist carries it too.
    try:
        return resources.files("etl.sql")
    except ModuleNotFoundError:  # a checkout on sys.path that was never pip-installed has no mapping
        return Path(__file__).resolve().parent.parent / "sql"


SQL_DIR = _sql_dir()
READ_ONLY_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA"}
_LOCK_HOLDER = re.compile(r"lock is held in (.+?) \(PID (\d+)\)")


@dataclass
class Run:
    """One execution of a step; every row it lands carries `run_id`."""

    run_id: int
    step: str
    params: dict[str, Any]
    counts: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        """Wall time since the run started."""
        return time.monotonic() - self.started


class Warehouse:
    """An open DuckDB warehouse file with its schema migrated."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.path = path
        self.con = con
        self.read_only = read_only
        self.closed = False
        self.config_path: Path | None = None  # a settings file used instead of ./etl.toml (etl.open's config)

    @classmethod
    def open(cls, path: Path | str, read_only: bool = False) -> Self:
        """Open (creating if needed) and migrate; a read-only open creates nothing and needs no write access."""
        path = Path(path)
        if read_only:
            con = _open_read_only(path)
            return cls(path, con, read_only)
        path.parent.mkdir(parents=True, exist_ok=True)
        con = _connect(path, read_only)
        wh = cls(path, con, read_only)
        if not read_only:
            migrations.apply(con)
            wh._close_abandoned_runs()
        return wh

    def close(self) -> None:
        """Release the file lock."""
        self.con.close()
        self.closed = True

    def check_open(self) -> None:
        """Refuse to use a closed warehouse in words, not with DuckDB's ConnectionException."""
        if self.closed:
            raise WarehouseError(
                f"the warehouse {self.path} is closed; open it again with etl.open({str(self.path)!r})"
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a user reads: settings, tables, read-only SQL ---------------------------------------

    def settings(self, **overrides: Any) -> config.Settings:
        """Effective settings: defaults → etl.toml (or open's `config`) → ETL_* → `overrides`."""
        return config.load(self.config_path, overrides={**overrides, "warehouse": str(self.path)}).settings

    def tables(self) -> list[str]:
        """Names of the warehouse's tables."""
        self.check_open()
        rows = self.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1").fetchall()
        return [name for (name,) in rows]

    def table(self, name: str) -> pl.DataFrame:
        """A whole table as a polars DataFrame, e.g. wh.table("triplets")."""
        known = self.tables()
        if name not in known:
            raise EtlError(f"there is no table {name!r} in {self.path}; its tables are {', '.join(known)}")
        # The name is one of the catalog's, so quoting it is safe (identifiers cannot be bound).
        return self.con.sql('SELECT * FROM "' + name.replace('"', '""') + '"').pl()

    def sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pl.DataFrame:
        """The result of read-only SQL (the last statement's) as a polars DataFrame; writes are refused."""
        import polars as pl

        self.check_open()
        statements = self.read_only_statements(query)
        try:
            for statement in statements[:-1]:
                self.con.execute(statement).fetchall()  # a result left unread blocks the connection
            relation = self.con.sql(statements[-1].query, params=params)
            return pl.DataFrame() if relation is None else relation.pl()
        except duckdb.Error as exc:
            raise EtlError(f"query failed: {first_line(exc)}") from exc

    def read_only_statements(self, sql: str) -> list[Any]:
        """The parsed statements of `sql`, refusing the whole text if any of them writes."""
        try:
            statements = self.con.extract_statements(sql)
        except duckdb.Error as exc:
            raise EtlError(f"cannot parse the query: {first_line(exc)}") from exc
        if not statements:
            raise EtlError("the query is empty")
        for statement in statements:
            if statement.type.name not in READ_ONLY_STATEMENTS:
                raise ReadOnlyViolation(
                    f"`etl sql` only reads; refusing this {statement.type.name} statement (write with the etl "
                    "steps, or open the file with the duckdb CLI when no etl run holds it)"
                )
        return list(statements)

    # -- SQL ---------------------------------------------------------------------------------

    def sql_file(self, name: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Execute `sql/<name>.sql` with bound parameters; returns the cursor for fetching."""
        self.check_open()
        return self.con.execute(read_sql(name), params or [])

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Execute one statement with bound parameters."""
        self.check_open()
        return self.con.execute(sql, params or [])

    def frame(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> pl.DataFrame:
        """A query's result as a polars DataFrame."""
        self.check_open()
        self.con.complete()  # the relational API refuses to start while an execute() result is unread
        return self.con.sql(sql, params=params).pl()

    def scalar(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        self.check_open()
        row = self.con.execute(sql, params or []).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def one(cursor: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
        """The row of a query that always returns one (an aggregate); no row at all is a bug."""
        row = cursor.fetchone()
        if row is None:
            raise WarehouseError("a query that always returns one row returned none; this is a bug, please report it")
        return row

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    @contextmanager
    def staged(self, name: str, frame: Any) -> Iterator[None]:
        """A polars or arrow frame that SQL reads as the view `name` inside the block, unregistered whatever happens."""
        self.con.register(name, frame)
        try:
            yield
        finally:
            self.con.unregister(name)

    def run_checks(self, prefix: str) -> dict[str, int]:
        """Run every `sql/checks/<prefix>*.sql`; each returns the rows that break one rule."""
        broken: dict[str, int] = {}
        for name in check_names(prefix):
            rows = self.con.execute(read_sql(f"checks/{name}")).fetchall()
            if rows:
                broken[name] = len(rows)
        return broken

    # -- lineage -----------------------------------------------------------------------------

    @contextmanager
    def record(self, step: str, params: Mapping[str, Any] | None = None) -> Iterator[Run]:
        """Record a run of `step`: `running` now, then `ok` with its counts, or `failed` with the error.

        The run row is committed on its own, so a failed step still leaves its trace; the step
        itself decides how its writes are grouped (usually one `transaction()`).
        """
        self.check_open()
        if self.read_only:
            raise WarehouseError(
                f"{step} writes to the warehouse, which was opened read-only; open it with etl.open({str(self.path)!r})"
            )
        clean = plain(dict(params or {}))
        run_id = int(self.scalar("SELECT nextval('run_id_seq')"))
        self.execute(
            "INSERT INTO runs (run_id, step, params, started_at, status) VALUES (?, ?, ?, utc_now(), 'running')",
            [run_id, step, json.dumps(clean, ensure_ascii=False, sort_keys=True)],
        )
        run = Run(run_id, step, clean)
        try:
            yield run
        except BaseException as exc:
            message = str(exc) if isinstance(exc, EtlError) else f"{type(exc).__name__}: {exc}"
            if isinstance(exc, KeyboardInterrupt):
                message = "interrupted"
            self._finish(run, "failed", message)
            raise
        self._finish(run, "ok", None)

    def _finish(self, run: Run, status: str, error: str | None) -> None:
        self.execute(
            "UPDATE runs SET finished_at = utc_now(), status = ?, counts = ?, error = ? WHERE run_id = ?",
            [status, json.dumps(plain(run.counts), ensure_ascii=False, sort_keys=True), error, run.run_id],
        )

    def _close_abandoned_runs(self) -> None:
        # We hold the only write lock, so a run still marked running died with its process.
        self.execute(
            "UPDATE runs SET status = 'failed', error = 'process ended before the run finished' "
            "WHERE status = 'running'"
        )

    def last_ok_run(self, step: str) -> dict[str, Any] | None:
        """The most recent successful run of a step, as a dict, or None."""
        cur = self.execute(
            "SELECT run_id, params, counts, finished_at FROM runs WHERE step = ? AND status = 'ok' "
            "ORDER BY run_id DESC LIMIT 1",
            [step],
        )
        row = cur.fetchone()
        if row is None:
            return None
        return {
            "run_id": row[0],
            "params": json.loads(row[1] or "{}"),
            "counts": json.loads(row[2] or "{}"),
            "finished_at": row[3],
        }


def _open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to an existing warehouse, its schema migrated first only when it is behind."""
    if path.is_dir():
        raise WarehouseError(f"{path} is a directory, not a warehouse file; give the .duckdb file inside it")
    if not path.exists():
        raise WarehouseError(f"no warehouse at {path}; `etl import`, `etl synth` or `etl run` creates one")
    con = _connect(path, read_only=True)
    if not _pending_migrations(con):
        return con
    # A read-only connection cannot migrate: upgrade the file once with a writer, unless other
    # read-only connections hold it (they opened it migrated, as mining shards side by side do).
    con.close()
    try:
        with suppress(WarehouseBusy):
            Warehouse.open(path).close()
    except WarehouseError as exc:
        raise WarehouseError(
            f"{path} was written by an older etl and needs a schema upgrade, which needs write access: {exc}"
        ) from exc
    return _connect(path, read_only=True)


def _pending_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the migrations not yet applied; reads only, so it works on a read-only connection."""
    known = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'schema_migrations'"
    ).fetchone()
    if not known or not known[0]:
        return [name for name, _ in sorted(migrations.MIGRATIONS)]
    done = {row[0] for row in con.execute("SELECT name FROM schema_migrations").fetchall()}
    return [name for name, _ in sorted(migrations.MIGRATIONS) if name not in done]


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path), read_only=read_only)
        # DuckDB draws its own progress bar on stdout for long queries, into `etl sql --csv` output too.
        con.execute("SET enable_progress_bar = false")
        return con
    except duckdb.IOException as exc:
        text = str(exc)
        if "Conflicting lock" in text or "Could not set lock" in text:
            holder = _LOCK_HOLDER.search(text)
            who = f"{holder.group(1)}, PID {holder.group(2)}" if holder else "another process"
            raise WarehouseBusy(
                f"warehouse is busy (another etl run holds {path}: {who}); wait for it to finish and try again"
            ) from exc
        if read_only and not path.exists():
            raise WarehouseError(f"no warehouse at {path}") from exc
        raise WarehouseError(f"cannot open warehouse {path}: {text}") from exc
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open warehouse {path}: {exc}") from exc


def read_sql(name: str) -> str:
    """The text of `sql/<name>.sql`."""
    path = SQL_DIR.joinpath(*f"{name}.sql".split("/"))
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise WarehouseError(f"missing SQL file {path}: this installation of etl is incomplete; reinstall it") from exc


def check_names(prefix: str = "") -> list[str]:
    """Names of the check files under `sql/checks/` that start with `prefix`, sorted."""
    checks = SQL_DIR.joinpath("checks")
    return sorted(
        item.name.removesuffix(".sql")
        for item in checks.iterdir()
        if item.name.startswith(prefix) and item.name.endswith(".sql")
    )


def first_line(exc: Exception) -> str:
    """The first line of a DuckDB error, for a one-line message."""
    return str(exc).strip().splitlines()[0]
