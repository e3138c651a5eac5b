"""Commands that only read create nothing, and inspect a warehouse the user may only read."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import etl as etl_api
from etl.cli import cli
from etl.errors import WarehouseError
from etl.warehouse import Warehouse


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    "args",
    [("status",), ("sql", "SELECT 1"), ("report", "--out", "r.html")],
    ids=["status", "sql", "report"],
)
def test_reading_a_missing_warehouse_creates_nothing(tmp_path: Path, args: tuple[str, ...]) -> None:
    before = tree(tmp_path)
    result = CliRunner().invoke(cli, ["--warehouse", "typo/x.duckdb", *args])
    assert result.exit_code == 1
    assert result.output.startswith("error: no warehouse at typo/x.duckdb;")
    assert len(result.output.strip().splitlines()) == 1
    assert tree(tmp_path) == before


def test_plain_status_in_any_directory_creates_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 1 and "no warehouse at warehouse/etl.duckdb" in result.output
    assert tree(tmp_path) == []


def test_the_api_opens_read_only_without_creating(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="no warehouse at"):
        etl_api.open(tmp_path / "typo" / "x.duckdb", read_only=True)
    assert tree(tmp_path) == []


def test_a_directory_is_not_a_warehouse(tmp_path: Path) -> None:
    (tmp_path / "wh").mkdir()
    result = CliRunner().invoke(cli, ["--warehouse", "wh", "status"])
    assert result.exit_code in (1, 2) and "directory" in result.output
    assert tree(tmp_path) == ["wh"]


def test_an_older_warehouse_is_upgraded_once_before_reading(warehouse_path: Path) -> None:
    import duckdb

    warehouse_path.parent.mkdir(parents=True)
    duckdb.connect(str(warehouse_path)).close()  # a DuckDB file without the schema, as from an old etl
    with Warehouse.open(warehouse_path, read_only=True) as wh:
        assert wh.scalar("SELECT count(*) FROM runs") == 0


@pytest.fixture
def readable_only(created: Path) -> Iterator[Path]:
    """The test warehouse, with a run in it, copied where any user can reach it and made mode 444 in a 555 folder."""
    with Warehouse.open(created) as wh, wh.record("import.pairs", {"path": "한국어.jsonl"}) as run:
        run.counts["pairs"] = 3
    folder = Path(tempfile.mkdtemp(prefix="etl-ro-"))
    path = folder / "etl.duckdb"
    shutil.copy(created, path)
    path.chmod(0o444)
    folder.chmod(0o555)
    yield path
    folder.chmod(0o755)
    shutil.rmtree(folder)


def as_unprivileged(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m etl ARGS` as a user who may not write the warehouse: `nobody` when we are root.

    As `nobody` the child keeps one capability, reading any file and searching any directory, only
    so that it can reach this interpreter (often under root's private home); writing stays denied.
    """
    command = [sys.executable, "-m", "etl", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            if os.environ.get("CI"):
                pytest.fail("setpriv (util-linux) is needed to run this test as a user other than root")
            pytest.skip("running as root without setpriv (util-linux): cannot act as a non-root user")
        drop = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        keep = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        command = [setpriv, *drop, *keep, *command]
    env = {**os.environ, "PYTHONPATH": str(Path(etl_api.__file__).resolve().parent.parent)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_warehouse_the_user_may_only_read_can_be_inspected(readable_only: Path) -> None:
    folder = readable_only.parent
    status = as_unprivileged("--warehouse", str(readable_only), "status", cwd=folder)
    assert status.returncode == 0 and "import.pairs" in status.stdout, status.stderr
    query = as_unprivileged("--warehouse", str(readable_only), "sql", "SELECT step, params FROM runs", cwd=folder)
    assert query.returncode == 0 and "한국어.jsonl" in query.stdout, query.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["etl.duckdb"]
    assert stat.S_IMODE(readable_only.stat().st_mode) == 0o444


def test_a_write_to_a_read_only_file_says_so_in_one_line(readable_only: Path) -> None:
    result = as_unprivileged("--warehouse", str(readable_only), "clean", cwd=readable_only.parent)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: cannot open warehouse") and len(result.stderr.strip().splitlines()) == 1
