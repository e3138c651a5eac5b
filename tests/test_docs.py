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
