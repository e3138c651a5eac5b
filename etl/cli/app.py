"""What every `etl` command shares: the App it is passed, and the group's one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from etl import config
from etl.errors import EtlError

INTERRUPTED = 130
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class App:
    """What every command needs: the settings as resolved so far, and a way to open the warehouse."""

    def __init__(self, config_path: Path | None, warehouse: Path | None) -> None:
        self.config_path = config_path
        self.base_overrides: dict[str, Any] = {"warehouse": str(warehouse) if warehouse else None}

    def loaded(self, **overrides: Any) -> config.Loaded:
        """Settings with this command's options applied on top."""
        return config.load(self.config_path, overrides={**self.base_overrides, **overrides})

    def settings(self, **overrides: Any) -> config.Settings:
        """Effective settings for this command."""
        return self.loaded(**overrides).settings

    def path(self) -> Path:
        """Where the warehouse file is (or will be)."""
        return Path(self.settings().warehouse)

    @contextmanager
    def warehouse(self, read_only: bool = False, create: bool = True) -> Iterator[Any]:
        """The open warehouse (an etl.Warehouse), closed (lock released) when the command ends."""
        from etl import api

        wh = api.open(self.path(), config=self.config_path, read_only=read_only, create=create)
        try:
            yield wh
        finally:
            wh.close()


class EtlGroup(click.Group):
    """Turns an EtlError into one line on stderr and an exit code, Ctrl-C into exit 130; `--debug` shows the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EtlError as exc:
            if ctx.params.get("debug"):
                raise
            click.secho(f"error: {exc}", err=True, fg="red")
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            if ctx.params.get("debug"):
                raise
            # 128 + SIGINT, as a shell reports a command it interrupted; the step's run is marked failed.
            click.secho("interrupted", err=True, fg="red")
            ctx.exit(INTERRUPTED)
