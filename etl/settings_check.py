"""How a setting's declaration checks a value (type, range, choices, URL scheme; one line naming the setting), and reading settings files."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from etl.errors import ConfigError

if TYPE_CHECKING:
    from etl.config import Settings

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})
LICENSE_ID = re.compile(r"[a-z0-9][a-z0-9.+-]{0,63}")
WHOLE = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Spec:
    """What one setting accepts. kind: int, float, bool, str, url, path or license; `many`: a list of them."""

    kind: str
    many: bool = False
    count: int | None = None  # a list of exactly this many items
    min_items: int = 0
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the range excludes `low` itself
    high_open: bool = False
    nonempty: bool = False

    def at_least(self, items: int) -> Spec:
        """The same list, needing at least `items` items."""
        return dataclasses.replace(self, min_items=items)

    def describe(self) -> str:
        """What the setting accepts, in words (`etl config` shows it; errors say it)."""
        one = self._one()
        if not self.many:
            return one
        if self.count:
            return f"{self.count} comma-separated values, each {one}"
        least = "one or more " if self.min_items else ""
        return f"{least}comma-separated values, each {one}"

    def _one(self) -> str:
        if self.choices:
            return "one of " + ", ".join(choice or "'' (none)" for choice in self.choices)
        words = {
            "int": "a whole number",
            "float": "a number",
            "bool": "true or false",
            "str": "text",
            "url": "an http:// or https:// URL with a host",
            "path": "a file path",
            "license": "a license id such as cc-by-4.0, mit, other or unknown",
        }[self.kind]
        if self.low is not None and self.high is not None:
            left, right = ("<" if self.low_open else "<="), ("<" if self.high_open else "<=")
            return f"{words} {_num(self.low)} {left} x {right} {_num(self.high)}"
        if self.low is not None:
            return f"{words} {'>' if self.low_open else '>='} {_num(self.low)}"
        return words


def coerce(spec: Spec, key: str, raw: Any, origin: str) -> Any:
    """The value `raw` (a TOML value, an ETL_* string or an option's value) as the setting's type, or a ConfigError."""
    shown = repr(raw) if len(repr(raw)) <= 60 else repr(raw)[:57] + "..."
    try:
        if not spec.many:
            return _one(spec, raw)
        if isinstance(raw, str):
            items: list[Any] = [item.strip() for item in raw.split(",")]
            items = [item for item in items if item]
        elif isinstance(raw, (list, tuple)):
            items = list(raw)
        else:
            raise ValueError
        if (spec.count and len(items) != spec.count) or len(items) < spec.min_items:
            raise ValueError
        return tuple(_one(spec, item) for item in items)
    except (ValueError, TypeError):
        raise ConfigError(f"{key} must be {spec.describe()}, not {shown} (from {origin})") from None


def _one(spec: Spec, raw: Any) -> Any:
    """One value of the declared kind, or ValueError."""
    if spec.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower() if isinstance(raw, (str, int)) else ""
        if text in TRUE | FALSE:
            return text in TRUE
        raise ValueError
    if spec.kind in ("int", "float"):
        value = _number(spec.kind, raw)
        _in_range(spec, value)
        return value
    if not isinstance(raw, str):
        raise ValueError
    if spec.kind == "str" and spec.choices and raw not in spec.choices:
        raise ValueError
    if (spec.nonempty or spec.kind != "str") and not raw.strip():
        raise ValueError
    if spec.kind == "url":
        return _url(raw.strip())
    if spec.kind == "license" and not LICENSE_ID.fullmatch(raw):
        raise ValueError
    if spec.kind == "path" and ("\0" in raw or Path(raw).is_dir()):
        raise ValueError
    return raw


def _number(kind: str, raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise ValueError
    if kind == "int":
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and WHOLE.fullmatch(raw.strip()):
            return int(raw.strip())
        raise ValueError
    if isinstance(raw, (int, float, str)):
        value = float(raw)
        if math.isfinite(value):
            return value
    raise ValueError


def _in_range(spec: Spec, value: float) -> None:
    if spec.low is not None and (value < spec.low or (spec.low_open and value == spec.low)):
        raise ValueError
    if spec.high is not None and (value > spec.high or (spec.high_open and value == spec.high)):
        raise ValueError


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", text):
        raise ValueError
    _ = parts.port  # a port that is not a number raises ValueError
    return text


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def check_together(s: Settings, sources: Mapping[str, str]) -> None:
    """Rules that span settings (each alone was checked by its declaration)."""

    def origin(*keys: str) -> str:
        given = [sources[k] for k in keys if sources.get(k, "default") != "default"]
        given = ["an option" if where == "option" else where for where in given]
        return f" (from {', '.join(dict.fromkeys(given))})" if given else ""

    for key in ("mine_easy", "mine_medium", "mine_hard"):
        low, high = getattr(s, key)
        if not low < high:
            raise ConfigError(f"{key} must be two cosines low,high with low < high, not {low},{high}{origin(key)}")
    if sum(s.mine_ratios) <= 0:
        raise ConfigError(
            f"mine_ratios must give at least one band a share above 0 (easy,medium,hard), "
            f"not {','.join(_num(r) for r in s.mine_ratios)}{origin('mine_ratios')}"
        )
    bands = sorted((s.mine_easy, s.mine_medium, s.mine_hard))
    if any(low[1] > high[0] for low, high in itertools.pairwise(bands)):
        raise ConfigError(
            "mine_easy, mine_medium and mine_hard must not overlap; give each band its own [low, high)"
            + origin("mine_easy", "mine_medium", "mine_hard")
        )
    pct = s.mine_percentiles
    if not all(a < b for a, b in itertools.pairwise(pct)):
        raise ConfigError(
            f"mine_percentiles must be four increasing fractions in [0, 1] (band edges), "
            f"not {','.join(map(str, pct))}{origin('mine_percentiles')}"
        )
    _check_embed_convention(s)


def _check_embed_convention(s: Settings) -> None:
    """Refuse a prefix or input type the embedder would not apply as asked."""
    if s.embedder == "ollama" and s.embed_input_type:
        raise ConfigError(
            "Ollama's embed API has no input_type; put the instruction in the text instead, e.g. --prefix 'query: '"
        )
    adds_role = s.embedder == "e5" or (s.embedder == "openai" and s.embed_input_type)
    if adds_role and s.embed_prefix.lstrip().lower().startswith(("query:", "passage:")):
        who = "the e5 embedder" if s.embedder == "e5" else "a server given input_type"
        raise ConfigError(
            f"{who} puts e5's 'query: ' or 'passage: ' before the text itself, so embed_prefix "
            f"{s.embed_prefix!r} would be doubled; choose the role with --input-type query|passage instead"
        )


def config_path(env: Mapping[str, str], default_name: str) -> Path | None:
    """The settings file: $ETL_CONFIG (which must exist), else `default_name` in the working directory if there."""
    explicit = env.get("ETL_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"ETL_CONFIG points at {path}, which does not exist")
        return path
    path = Path(default_name)
    return path if path.is_file() else None


def read_toml(path: Path, keys: list[str]) -> dict[str, Any]:
    """A settings file's values, `[section] key = v` flattened to `section_key`; refuses keys not in `keys`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    flat: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                flat[f"{name}_{sub}"] = inner
        else:
            flat[name] = value
    known = set(keys)
    unknown = sorted(set(flat) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; `etl config` lists the valid ones")
    return flat
