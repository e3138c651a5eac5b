"""The README documents every command and every setting."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from etl import config
from etl.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "etl ") -> list[str]:
    names = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{prefix}{name} "))
        else:
            names.append(prefix + name)
    return names


@pytest.mark.parametrize("command", _commands(cli))
def test_readme_documents_every_command(command: str) -> None:
    assert f"`{command}" in README, f"README.md does not mention `{command}`"


@pytest.mark.parametrize("key", config.keys())
def test_readme_documents_every_setting(key: str) -> None:
    assert f"| `{key}` |" in README, f"README.md's settings table has no row for {key}"


def _all_commands(group: click.Group, path: str = "etl") -> list[tuple[str, click.Command]]:
    """Every command and group under `group`, groups included."""
    found: list[tuple[str, click.Command]] = [(path, group)]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found.extend(_all_commands(command, f"{path} {name}"))
        else:
            found.append((f"{path} {name}", command))
    return found


@pytest.mark.parametrize(("name", "command"), _all_commands(cli), ids=[n for n, _ in _all_commands(cli)])
def test_every_command_and_group_has_a_help_example(name: str, command: click.Command) -> None:
    assert "Example" in (command.help or ""), f"`{name} --help` shows no example"
