"""Options that set a setting, derived from its declaration (etl/config.py), and the options commands share.

`setting("mine_search", "--search")` is `--search` with the setting's type, choices and one-line help,
ending in `[mine_search; default: auto]` (click's own `[default: X]` with the setting's name before it);
a command may add a sentence on what the setting means there. Numbers and words are one value; a list
of numbers is one comma-separated value (`--easy 0.3,0.5`), a list of URLs or choices repeats the
option (`--format triplet --format n-tuple`); a true/false setting is a pair of flags the command
names (`--calibrate/--no-calibrate`). An option left out is None (or empty), which leaves the setting
as etl.toml and ETL_* have it. The parameter is named after the setting (`mine_search`), so a
command hands its settings on by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from etl import config
from etl.settings_check import Spec

F = TypeVar("F", bound=Callable[..., Any])


def setting(key: str, *decls: str, context: str = "", **attrs: Any) -> Callable[[F], F]:
    """The option `decls` that sets `key`: its type, choices and help from the declaration; `context` adds what it means here."""
    spec = config.SPECS[key]
    if spec.kind == "bool":
        attrs.setdefault("default", None)
    else:
        attrs.setdefault("type", _type(spec))
        if spec.many and spec.kind != "float":
            attrs.setdefault("multiple", True)
    help = " ".join(text for text in (config.HELP[key], context) if text)
    # The parameter is named after the setting, so a command passes its settings on as they arrive.
    return click.option(key, *decls, help=f"{help}  [{key}; default: {shown(key)}]", **attrs)


def shown(key: str) -> str:
    """A setting's default as its option's help shows it: lists comma-joined, true/false as on/off, '' as none."""
    value = next(f.default for f in dataclasses.fields(config.Settings) if f.name == key)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return str(value) if value != "" else "none"


def given(params: Mapping[str, Any]) -> dict[str, Any]:
    """The settings among a command's parameters (None or empty where an option was left out)."""
    return {key: value for key, value in params.items() if key in config.SPECS}


def _type(spec: Spec) -> click.ParamType:
    if spec.choices:
        return click.Choice([choice for choice in spec.choices if choice])  # '' is the option left out
    types: dict[str, click.ParamType] = {
        "int": click.INT,
        "float": click.FLOAT,
        "path": click.Path(dir_okay=False, path_type=Path),
    }
    return types.get("" if spec.many else spec.kind, click.STRING)


def ray(fn: F) -> F:
    """`--ray [ADDRESS]`: where the mining shards run, True for a local Ray; None without the option."""
    option = click.option(
        "--ray",
        is_flag=False,
        flag_value="local",
        default=None,
        metavar="[ADDRESS]",
        callback=lambda _ctx, _param, value: True if value == "local" else value,
        help="Mine as shards on Ray tasks: a local Ray, or the cluster at ADDRESS (e.g. auto, ray://head:10001); "
        "the rows equal a plain run's. Needs the ray extra.",
    )
    return option(fn)


def ray_shards(fn: F) -> F:
    """`--ray-shards N`: how many shards `--ray` mines in."""
    option = click.option(
        "--ray-shards", type=click.IntRange(min=1), help="With --ray: how many shards.  [default: the cluster's CPUs]"
    )
    return option(fn)
