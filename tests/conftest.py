"""Fixtures: a real DuckDB warehouse under tmp_path, the CLI, and a loopback LLM server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from etl.cli import cli
from etl.warehouse import Warehouse
from tests.fakeserver import FakeLLMServer
from tests.llm_answers import answer

SEEDS = {"ml": ["딥러닝", "신경망", "컨테이너"], "infra": ["컨테이너", "도커"]}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's ETL_* variables and ./etl.toml out of every test."""
    import os

    for name in list(os.environ):
        if name.startswith("ETL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _fresh_json_forms() -> None:
    """Servers' structured-output forms are remembered per URL for the process; each test starts afresh."""
    from etl.llm import forget_json_forms

    forget_json_forms()


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    """Where the test's warehouse file lives."""
    return tmp_path / "warehouse" / "etl.duckdb"


@pytest.fixture
def wh(warehouse_path: Path) -> Iterator[Warehouse]:
    """An open, migrated warehouse (closed after the test)."""
    warehouse = Warehouse.open(warehouse_path)
    yield warehouse
    warehouse.close()


@pytest.fixture
def created(warehouse_path: Path) -> Path:
    """An empty, migrated warehouse file, closed (commands that only read need one to exist)."""
    Warehouse.open(warehouse_path).close()
    return warehouse_path


class Etl:
    """Runs `etl --warehouse <test warehouse> ...` in-process, like a user at a terminal."""

    def __init__(self, warehouse_path: Path) -> None:
        self.warehouse_path = warehouse_path
        self.runner = CliRunner()

    def __call__(
        self, *args: str, ok: bool = True, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        result = self.runner.invoke(
            cli, ["--warehouse", str(self.warehouse_path), *args], input=input, env=env, prog_name="etl"
        )
        if ok and result.exit_code != 0:
            raise AssertionError(
                f"etl {' '.join(args)} exited {result.exit_code}:\n{result.output}"
            ) from result.exception
        return result


@pytest.fixture
def etl(warehouse_path: Path) -> Etl:
    """Invoke the CLI against the test warehouse; `ok=False` to expect failure."""
    return Etl(warehouse_path)


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    """A started loopback server speaking the Ollama and OpenAI-compatible APIs."""
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def server(llm_server: FakeLLMServer) -> FakeLLMServer:
    """The loopback server, answering every synthesis prompt correctly."""
    llm_server.responder = answer
    return llm_server


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A small seeds file: two categories sharing one term (컨테이너)."""
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps(SEEDS, ensure_ascii=False), encoding="utf-8")
    return path
