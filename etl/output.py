"""What steps return and how it prints: step results, aligned tables and a progress line on stderr."""

from __future__ import annotations

import sys
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], max_width: int = 60) -> str:
    """Rows under their headers, columns padded to the widest cell in terminal columns (Hangul takes two)."""
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], display_width(value))
    lines = ["  ".join(_pad(h, w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(_pad(v, w) for v, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def display_width(text: str) -> int:
    """Terminal columns `text` takes: wide and fullwidth characters (Hangul, CJK) two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def human_bytes(n: int) -> str:
    """A byte count in B, KiB, MiB or GiB: 1024 is "1.0 KiB"."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _pad(text: str, columns: int) -> str:
    return text + " " * (columns - display_width(text))


def _cell(value: Any, max_width: int) -> str:
    text = "NULL" if value is None else str(value)
    text = text.replace("\n", " ")
    if display_width(text) <= max_width:
        return text
    cut, used = [], 0
    for ch in text:
        used += display_width(ch)
        if used > max_width - 1:
            break
        cut.append(ch)
    return "".join(cut) + "…"


class Recorded(Protocol):
    """A step's run as the warehouse records it (etl.warehouse.Run)."""

    run_id: int
    step: str
    counts: dict[str, Any]


@dataclass
class StepResult:
    """What one step did: its figures as data, and the lines `etl` prints for people.

    `step` and `run_id` name the run in the `runs` table; `counts` are the figures that run recorded
    (`runs.counts`: numbers as numbers, grouped by topic where a step has many); `warnings` say what
    a user should act on; `outputs` are the files the step wrote. Code reads these fields. `title`
    and `lines` (label, value pairs added with `add`) are the display only: `render` aligns them,
    and nothing decides anything by a label.
    """

    title: str
    step: str = ""
    run_id: int | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    lines: list[tuple[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, run: Recorded, title: str, outputs: Sequence[Path] = ()) -> StepResult:
        """The result of a recorded run: its step, run_id and counts (the dict the run records, shared)."""
        return cls(title, step=run.step, run_id=run.run_id, counts=run.counts, outputs=list(outputs))

    def add(self, label: str, value: Any) -> StepResult:
        """Append one display line and return self."""
        self.lines.append((label, value))
        return self

    def warn(self, message: str) -> StepResult:
        """Record a warning, shown as a `warning` line, and return self."""
        self.warnings.append(message)
        return self.add("warning", message)

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values (for scripts and notebooks): step, run_id, counts, warnings, outputs."""
        return {
            "step": self.step,
            "run_id": self.run_id,
            "counts": plain(self.counts),
            "warnings": list(self.warnings),
            "outputs": [str(path) for path in self.outputs],
        }

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        """The title and the display lines as an indented, aligned block."""
        span = max((display_width(label) for label, _ in self.lines), default=0)
        body = [f"  {_pad(label, span)}  {_fmt(value)}" for label, value in self.lines]
        return "\n".join([self.title, *body])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def plain(value: Any) -> Any:
    """`value` as plain JSON values: tuples and sets as lists, paths as text, numpy scalars as numbers."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


class Progress:
    """A one-line progress bar on stderr: done/total, failures and rate; silent when not a terminal."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.started = time.monotonic()
        self._shown = 0.0

    def advance(self, n: int = 1, failed: int = 0) -> None:
        """Count `n` finished items, `failed` of which failed."""
        self.done += n
        self.failed += failed
        now = time.monotonic()
        if self.live and (now - self._shown >= 0.1 or self.done >= self.total):
            self._shown = now
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def line(self) -> str:
        """The bar as text."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        share = self.done / self.total if self.total else 1.0
        bar = ("#" * int(share * 24)).ljust(24)
        fails = f"  failed {self.failed}" if self.failed else ""
        return f"{self.label} [{bar}] {self.done:,}/{self.total:,}{fails}  {self.done / elapsed:,.1f}/s"

    def close(self) -> None:
        """End the line."""
        if self.live:
            self.stream.write("\r" + self.line() + "\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
