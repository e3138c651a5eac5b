"""Every option of every command, every ETL_* variable and etl.toml key, fed values of the wrong kind.

The commands are found by walking the Click tree and the settings from their declarations, so a new
option or setting is covered without editing this file. Each bad value must end in exit 1 or 2 with
one error line naming the option or setting, no traceback, and the warehouse and files as they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from etl import config
from etl.cli import cli
from etl.steps.pipeline import EXAMPLE_PAIRS
from etl.warehouse import Warehouse

HUGE = "99999999999999999999"
# Values no option of the kind may accept, and values some accept ("0" is a fine seed or row count).
REFUSED = {
    "int": ["-1", HUGE, "", "abc", "1.5"],
    "float": ["-1", "nan", "inf", "1e999", "", "abc"],
    "choice": ["", "nope"],
    "str": [""],
    "url": ["", "localhost:11434", "http://", "not a url", "ftp://host"],
}
TOLERATED = {"int": ["0"], "float": ["0"], "str": ["-1", "not a url", "x" * 5000]}
# A valid value for an argument the generic guess ("SELECT 1", or a pairs file for a path) does not fit.
ARGUMENTS = {("show", "what"): "triplets"}
QUIET_ENV = {"ETL_LLM_URL": "http://127.0.0.1:9", "ETL_LLM_MAX_ATTEMPTS": "1", "ETL_LLM_TIMEOUT": "2"}


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every leaf command under `group`, with the words that invoke it."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def kind(option: click.Option) -> str:
    """Which family of bad values fits the option."""
    if "url" in option.name:  # type: ignore[operator]
        return "url"
    if isinstance(option.type, (click.IntRange, type(click.INT))):
        return "int"
    if isinstance(option.type, (click.FloatRange, type(click.FLOAT))):
        return "float"
    if isinstance(option.type, click.Choice):
        return "choice"
    if isinstance(option.type, (click.Path, click.File)):
        return "path"
    return "str"


def path_values(option: click.Option, files: dict[str, Path]) -> list[str]:
    """A directory where a file is wanted and the reverse; a file that is missing where it must exist."""
    kind_ = option.type
    refused = []
    if isinstance(kind_, click.File) or (isinstance(kind_, click.Path) and not kind_.dir_okay):
        refused.append(str(files["dir"]))
    if isinstance(kind_, click.Path) and not kind_.file_okay:
        refused.append(str(files["file"]))
    if isinstance(kind_, click.File) or (isinstance(kind_, click.Path) and kind_.exists):
        refused.append(str(files["dir"] / "missing" / "x.jsonl"))
    return refused


def setting_names(option: click.Option) -> list[str]:
    """The names an error about this option may use: its own, and the setting its help or name points at."""
    name = option.name or ""
    stems = {name, name.removesuffix("s")}
    return [
        name,
        *(
            key
            for key in config.SPECS
            if key in (option.help or "") or any(key == stem or key.endswith("_" + stem) for stem in stems)
        ),
    ]


def may_be_empty(key: str) -> bool:
    """Whether the setting `key` (if it is one) accepts an empty text."""
    spec = config.SPECS.get(key)
    return spec is not None and spec.kind == "str" and not spec.nonempty and ("" in spec.choices or not spec.choices)


def arguments(command: click.Command, files: dict[str, Path]) -> list[str]:
    """Valid values for the command's arguments, so that only the option under test is wrong."""
    words = []
    for param in command.params:
        if not isinstance(param, click.Argument):
            continue
        if (command.name, param.name) in ARGUMENTS:
            words.append(ARGUMENTS[command.name, param.name])  # type: ignore[index]
        elif isinstance(param.type, click.Choice):
            words.append(str(param.type.choices[0]))
        else:
            words.append(str(files["pairs"]) if isinstance(param.type, (click.Path, click.File)) else "SELECT 1")
    return words


def snapshot(root: Path, warehouse: Path) -> tuple[list[tuple[str, int]], list[Any], dict[str, int]]:
    """The warehouse's row counts and runs, and every file under `root` but the warehouse's own."""
    with Warehouse.open(warehouse, read_only=True) as wh:
        tables = [r[0] for r in wh.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        counts = [(t, int(wh.scalar('SELECT count(*) FROM "' + t + '"'))) for t in tables]
        runs = wh.execute("SELECT run_id, step, status FROM runs ORDER BY run_id").fetchall()
    files = {
        str(p.relative_to(root)): p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(warehouse.name)
    }
    return counts, runs, files


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A warehouse with imported pairs, a file and a folder to misuse, and an LLM that answers nowhere."""
    for name, value in QUIET_ENV.items():
        monkeypatch.setenv(name, value)
    warehouse = tmp_path / "warehouse" / "etl.duckdb"
    result = CliRunner().invoke(cli, ["--warehouse", str(warehouse), "import", "pairs", str(EXAMPLE_PAIRS)])
    assert result.exit_code == 0, result.output
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "a_file.txt").write_text("x\n", encoding="utf-8")
    return {"warehouse": warehouse, "dir": tmp_path / "a_dir", "file": tmp_path / "a_file.txt", "pairs": EXAMPLE_PAIRS}


def check_refused(result: Result, names: tuple[str, ...], where: str) -> None:
    """Exit 1 or 2, no traceback, and one error line that names the option or setting."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (where, repr(result.exception))
    assert result.exit_code in (1, 2), (where, result.exit_code, result.output)
    assert "Traceback" not in result.output, (where, result.output)
    errors = [line for line in result.output.splitlines() if line.lower().startswith("error:")]
    assert len(errors) == 1, (where, result.output)
    assert any(name in errors[0] for name in names), (where, errors[0])


def check_calm(result: Result, where: str) -> None:
    """A value some options accept: whatever the outcome, no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (where, repr(result.exception))
    assert result.exit_code in (0, 1, 2), (where, result.output)
    if result.exit_code:
        errors = [line for line in result.output.splitlines() if line.lower().startswith("error:")]
        assert len(errors) == 1, (where, result.output)


COMMANDS = list(commands())


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"status", "sql", "import pairs", "export triplets", "mine", "run"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_option_refuses_bad_values_in_one_line(
    path: tuple[str, ...], command: click.Command, world: dict[str, Path], tmp_path: Path
) -> None:
    warehouse = world["warehouse"]
    before = snapshot(tmp_path, warehouse)
    runner = CliRunner()
    base = ["--warehouse", str(warehouse), *path, *arguments(command, world)]
    options = [p for p in command.params if isinstance(p, click.Option) and not p.is_flag and p.name != "help"]
    for option in options:
        family = kind(option)
        refused = path_values(option, world) if family == "path" else REFUSED[family]
        if family == "str" and any(may_be_empty(key) for key in setting_names(option)):
            refused = [v for v in refused if v != ""]  # an empty embed_prefix is the default, not a mistake
        flag = option.opts[0]
        names = (flag, *setting_names(option))
        for value in refused:
            result = runner.invoke(cli, [*base, flag, value])
            check_refused(result, names, f"etl {' '.join(path)} {flag} {value[:40]!r}")
            assert snapshot(tmp_path, warehouse) == before, f"etl {' '.join(path)} {flag} {value[:40]!r} changed things"
        for value in TOLERATED.get(family, []):
            # A value the option may take: the command runs, and may fail (recording a failed run) for
            # other reasons, such as this warehouse having no triplets yet; it must not crash.
            check_calm(runner.invoke(cli, [*base, flag, value]), f"etl {' '.join(path)} {flag} {value[:40]!r}")
            before = snapshot(tmp_path, warehouse)


def bad_setting_values(key: str, files: dict[str, Path]) -> list[Any]:
    """Values of the wrong kind for one setting, from its declaration."""
    spec = config.SPECS[key]
    one: list[Any] = {
        "int": ["abc", "1.5", True],
        "float": ["abc", "nan", True],
        "bool": ["maybe", "2", 1.5],
        "str": [7],
        "url": ["localhost:11434", "http://", "not a url", "ftp://host"],
        "path": [str(files["dir"]), ""],
        "license": ["not a license", ""],
    }[spec.kind]
    if spec.choices:
        one += ["nope"]
    if spec.nonempty:
        one += [" "]
    if spec.low is not None:
        one += [spec.low - 1]
    if spec.high is not None:
        one += [spec.high * 10 + 1]
    if not spec.many:
        return one
    if spec.count:
        return [[v] * spec.count for v in one] + [[one[0]] * (spec.count + 1)]
    return [[v] for v in one] + ([[]] if spec.min_items else [])


def as_env(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(as_env(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize("key", config.keys())
def test_every_setting_refuses_bad_values_from_env_and_toml(key: str, world: dict[str, Path], tmp_path: Path) -> None:
    warehouse = world["warehouse"]
    before = snapshot(tmp_path, warehouse)
    runner = CliRunner()
    name = config.ENV_PREFIX + key.upper()
    for value in bad_setting_values(key, world):
        spec = config.SPECS[key]
        text_only = spec.kind == "str" and not isinstance(value, str)  # 7 is wrong in TOML, fine as ETL_ text
        for args in [] if text_only else (["config"], ["--warehouse", str(warehouse), "status"]):
            result = runner.invoke(cli, args, env={name: as_env(value)})
            check_refused(result, (key, name), f"{name}={as_env(value)[:40]!r} etl {args[-1]}")
            assert snapshot(tmp_path, warehouse) == before, f"{name}={as_env(value)!r} changed things"
        toml = tmp_path / "etl.toml"
        toml.write_text(f"{key} = {json.dumps(value)}\n", encoding="utf-8")
        try:
            result = runner.invoke(cli, ["--warehouse", str(warehouse), "status"])
        finally:
            toml.unlink()
        check_refused(result, (key,), f"etl.toml {key} = {json.dumps(value)[:40]}")
        assert snapshot(tmp_path, warehouse) == before, f"etl.toml {key} = {value!r} changed things"
