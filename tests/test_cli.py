"""The command line as a user meets it: help, config, status, sql, errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from etl import __version__
from etl.cli import cli
from etl.warehouse import Warehouse


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, prefix + name + " "))
    return found


@pytest.mark.parametrize(("name", "command"), _commands(cli))
def test_every_command_has_help_with_an_example(name: str, command: click.Command) -> None:
    assert command.help, f"`etl {name}` has no docstring"
    if not isinstance(command, click.Group):
        assert "Example" in command.help, f"`etl {name}` --help shows no example"
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"`etl {name}` option {param.opts} has no help"


def test_help_and_version(etl) -> None:
    assert "Usage: etl" in etl("-h").output
    assert __version__ in etl("--version").output


def test_config_shows_values_and_sources(etl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "etl.toml").write_text("[llm]\nmodel = 'qwen3:8b'\n", encoding="utf-8")
    monkeypatch.setenv("ETL_SEED", "7")
    lines = {line.split()[0]: line.split()[1:3] for line in etl("config").output.splitlines()[2:]}
    assert lines["llm_model"] == ["qwen3:8b", "etl.toml"]
    assert lines["seed"] == ["7", "ETL_SEED"]
    assert lines["mine_negatives"] == ["5", "default"]
    assert lines["warehouse"][1] == "option"


def test_status_lists_tables_and_runs(etl, warehouse_path: Path) -> None:
    with Warehouse.open(warehouse_path) as wh, wh.record("demo") as run:
        run.counts["rows"] = 3
    out = etl("status").output
    assert str(warehouse_path) in out
    assert "triplets" in out and "schema_migrations" in out
    assert "demo" in out and '{"rows": 3}' in out


def test_sql_prints_an_aligned_table(etl, created) -> None:
    out = etl("sql", "SELECT 42 AS answer, 'x' AS label").output.splitlines()
    assert out[0].split() == ["answer", "label"]
    assert out[2].split() == ["42", "x"]
    assert out[3] == "(1 row)"


def test_sql_csv_json_and_file(etl, created, tmp_path: Path) -> None:
    assert etl("sql", "--csv", "SELECT 1 AS a, 'x,y' AS b").output == 'a,b\n1,"x,y"\n'
    assert json.loads(etl("sql", "--json", "SELECT 1 AS a").output) == [{"a": 1}]
    query = tmp_path / "q.sql"
    query.write_text("SELECT count(*) AS n FROM runs", encoding="utf-8")
    assert etl("sql", "--csv", "--file", str(query)).output == "n\n0\n"


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO runs (run_id, step, started_at, status) VALUES (1, 'x', now(), 'ok')",
        "DELETE FROM runs",
        "DROP TABLE triplets",
        "CREATE TABLE t AS SELECT 1",
        "COPY runs TO 'out.csv'",
        "SELECT 1; DELETE FROM runs",
    ],
)
def test_sql_refuses_writes_and_changes_nothing(etl, warehouse_path: Path, statement: str) -> None:
    with Warehouse.open(warehouse_path) as wh, wh.record("demo"):
        pass
    result = etl("sql", statement, ok=False)
    assert result.exit_code == 1
    assert "only reads" in result.output
    with Warehouse.open(warehouse_path) as wh:
        assert wh.scalar("SELECT count(*) FROM runs") == 1
        assert wh.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = 't'") == 0
    assert not Path("out.csv").exists()


def test_sql_errors_are_one_line(etl, created) -> None:
    result = etl("sql", "SELECT * FROM no_such_table", ok=False)
    assert result.exit_code == 1
    assert result.output.startswith("error: query failed: Catalog Error")
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(etl, created) -> None:
    result = etl("--debug", "sql", "SELECT * FROM no_such_table", ok=False)
    assert result.exception is not None and "Catalog Error" in str(result.exception)


def test_busy_warehouse_is_one_clear_line(etl, warehouse_path: Path) -> None:
    Warehouse.open(warehouse_path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse_path)!r}); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = etl("status", ok=False)
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert result.output.startswith("error: warehouse is busy (another etl run holds")
    assert f"PID {holder.pid}" in result.output
    assert "Traceback" not in result.output


def test_bad_config_exits_2(etl, tmp_path: Path) -> None:
    (tmp_path / "etl.toml").write_text("[llm]\nconcurrency = 'lots'\n", encoding="utf-8")
    result = etl("config", ok=False)
    assert result.exit_code == 2
    assert "llm_concurrency" in result.output


def test_korean_columns_line_up_by_display_width(etl, created) -> None:
    from etl.output import display_width as width

    query = "SELECT * FROM (VALUES ('딥러닝', 'deep learning', 1), ('ab', '머신 러닝', 22), ('배치정규화', 'x', 3)) t(ko, en, n)"
    lines = etl("sql", query).output.splitlines()[:5]
    assert width("딥러닝") == 6 and width("a") == 1

    def columns(line: str) -> list[int]:
        """Display columns where each cell after the first starts (cells are two or more spaces apart)."""
        return [width(line[: m.end()]) for m in re.finditer(r"\S  +(?=\S)", line)]

    assert columns(lines[0]) == columns(lines[2]) == columns(lines[3]) == columns(lines[4]), lines
    assert columns(lines[0])[0] == width("배치정규화") + 2


def test_ctrl_c_exits_130_and_marks_the_run_failed(etl, warehouse_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from etl.steps.pipeline import EXAMPLE_PAIRS
    from etl.warehouse import Warehouse

    etl("import", "pairs", str(EXAMPLE_PAIRS))

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Warehouse, "run_checks", interrupted)
    result = etl("clean", ok=False)
    assert result.exit_code == 130 and result.output.strip() == "interrupted"
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        assert wh.execute("SELECT status, error FROM runs WHERE step = 'clean'").fetchall() == [
            ("failed", "interrupted")
        ]


@pytest.mark.parametrize(
    ("direct_url", "hint"),
    [
        ('{"url": "file:///src/etl", "dir_info": {"editable": true}}', 'pip install -e ".[report]"'),
        (
            '{"url": "file:///w/ko_synonym_etl-0.1-py3-none-any.whl", "archive_info": {}}',
            'pip install "ko-synonym-etl[report]"',
        ),
        (None, 'pip install "ko-synonym-etl[report]"'),  # installed from an index: no direct_url.json
    ],
)
def test_missing_extra_hints_fit_the_installation(
    monkeypatch: pytest.MonkeyPatch, direct_url: str | None, hint: str
) -> None:
    import importlib.metadata

    import etl

    class Installed:
        def read_text(self, name: str) -> str | None:
            return direct_url if name == "direct_url.json" else None

    monkeypatch.setattr(importlib.metadata, "distributions", lambda name: [Installed()])
    assert etl.install_hint("report") == hint
