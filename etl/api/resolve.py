"""How a step's keyword settings resolve: full names or without the step's prefix, over the loaded settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from etl import config
from etl import warehouse as store
from etl.config import Settings
from etl.errors import ConfigError

PathLike = str | Path


def step_settings(
    wh: store.Warehouse,
    step: str,
    given: Mapping[str, Any],
    prefixes: tuple[str, ...],
    params: tuple[str, ...] = (),
) -> Settings:
    """Resolve a step's keyword settings (full names, or without the step's prefix) over the loaded ones."""
    names = config.keys()
    overrides: dict[str, Any] = {}
    for key, value in given.items():
        full = key if key in names else next((p + key for p in prefixes if p + key in names), None)
        if full == "warehouse":
            raise ConfigError(f"{step}() runs on the warehouse it is given; open another with etl.open(path)")
        if full is None:
            short = [name.removeprefix(p) for p in prefixes for name in names if name.startswith(p)]
            takes = ", ".join([*params, *short]) or "no options of its own"
            raise ConfigError(
                f"{step}() has no setting {key!r}; it takes {takes}, or any setting by its full name "
                "(`etl config` lists them)"
            )
        if full in overrides:
            raise ConfigError(f"{step}() was given {full} twice (as {key!r} and by another name); give it once")
        overrides[full] = value
    return wh.settings(**overrides)


def read_settings(config_path: Path | None, overrides: Mapping[str, Any]) -> Settings:
    return config.load(config_path, overrides=overrides).settings


def as_path(value: PathLike | None) -> Path | None:
    return Path(value) if value is not None else None


def not_blank(**given: Any) -> None:
    """Refuse an empty name (a model, a column, an address): leaving it out is how to ask for the default."""
    for name, value in given.items():
        if isinstance(value, str) and not value.strip():
            raise ConfigError(f"{name} (--{name.replace('_', '-')}) must not be empty; leave it out for the default")
