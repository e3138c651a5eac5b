"""Migrations, lineage and atomic steps against real DuckDB files."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from etl import migrations
from etl.errors import EtlError
from etl.warehouse import Warehouse


def test_blank_warehouse_gets_every_migration_recorded(warehouse_path: Path) -> None:
    with Warehouse.open(warehouse_path) as wh:
        names = [r[0] for r in wh.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]
        tables = {r[0] for r in wh.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert names == sorted(name for name, _ in migrations.MIGRATIONS)
    assert {"runs", "rejects", "llm_calls", "terms", "synonym_pairs", "term_embeddings", "triplets"} <= tables


def test_reopening_applies_nothing_twice(warehouse_path: Path) -> None:
    Warehouse.open(warehouse_path).close()
    con = duckdb.connect(str(warehouse_path))
    before = con.execute("SELECT name, applied_at FROM schema_migrations ORDER BY name").fetchall()
    assert migrations.apply(con) == []
    con.close()
    with Warehouse.open(warehouse_path) as wh:
        after = wh.execute("SELECT name, applied_at FROM schema_migrations ORDER BY name").fetchall()
    assert after == before


def test_new_migration_applies_to_existing_warehouse(warehouse_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Warehouse.open(warehouse_path).close()

    def m999_extra(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("CREATE TABLE extra (x INTEGER)")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, ("m999_extra", m999_extra)])
    with Warehouse.open(warehouse_path) as wh:
        assert wh.scalar("SELECT count(*) FROM schema_migrations WHERE name = 'm999_extra'") == 1
        assert wh.scalar("SELECT count(*) FROM extra") == 0


def test_failing_migration_leaves_no_trace(warehouse_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Warehouse.open(warehouse_path).close()

    def m999_broken(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("CREATE TABLE half (x INTEGER)")
        con.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, ("m999_broken", m999_broken)])
    with pytest.raises(duckdb.CatalogException):
        Warehouse.open(warehouse_path)
    con = duckdb.connect(str(warehouse_path))
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'half'").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM schema_migrations WHERE name = 'm999_broken'").fetchone() == (0,)
    con.close()


def test_successful_run_is_recorded_with_counts(wh: Warehouse) -> None:
    with wh.record("demo", {"path": Path("x.jsonl"), "n": 3}) as run:
        with wh.transaction():
            wh.execute(
                "INSERT INTO imported_terms VALUES ('용어', 'x', 1, ?), ('term', 'x', 2, ?)", [run.run_id, run.run_id]
            )
        run.counts["landed"] = 2
    row = wh.execute("SELECT step, status, params, counts, finished_at IS NOT NULL, error FROM runs").fetchone()
    assert row[0:2] == ("demo", "ok")
    assert json.loads(row[2]) == {"path": "x.jsonl", "n": 3}
    assert json.loads(row[3]) == {"landed": 2}
    assert row[4] is True and row[5] is None
    assert wh.scalar("SELECT count(*) FROM imported_terms WHERE run_id = ?", [run.run_id]) == 2


def test_failed_run_is_marked_and_leaves_no_rows(wh: Warehouse) -> None:
    with pytest.raises(EtlError, match="bad line 7"), wh.record("demo") as run, wh.transaction():
        wh.execute("INSERT INTO imported_terms VALUES ('용어', 'x', 1, ?)", [run.run_id])
        raise EtlError("bad line 7")
    assert wh.execute("SELECT status, error FROM runs").fetchall() == [("failed", "bad line 7")]
    assert wh.scalar("SELECT count(*) FROM imported_terms") == 0


def test_run_left_running_by_a_dead_process_is_closed_on_next_open(warehouse_path: Path) -> None:
    with Warehouse.open(warehouse_path) as wh:
        wh.execute("INSERT INTO runs (run_id, step, started_at, status) VALUES (99, 'synth', utc_now(), 'running')")
    with Warehouse.open(warehouse_path) as wh:
        status, error = wh.execute("SELECT status, error FROM runs WHERE run_id = 99").fetchone()
    assert status == "failed"
    assert "ended before the run finished" in error


def test_run_ids_increase_across_reopen(warehouse_path: Path) -> None:
    ids = []
    for _ in range(2):
        with Warehouse.open(warehouse_path) as wh, wh.record("demo") as run:
            ids.append(run.run_id)
    assert ids[1] > ids[0]


def test_sql_file_binds_parameters(wh: Warehouse) -> None:
    for _ in range(3):
        with wh.record("demo"):
            pass
    rows = wh.sql_file("status_runs", [2]).fetchall()
    assert [r[0] for r in rows] == [3, 2]
