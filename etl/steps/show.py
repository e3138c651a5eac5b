"""`etl show`: rows of the tables a user looks at, as the notebooks printed them.

A seeded random sample (the notebooks' `df.sample`, `random.sample`) or the first rows in the order
they were made, filtered by category or band, as an aligned table (Korean counted two columns wide),
one block per row, or JSON. Reads the warehouse only and records no run, like `etl status`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from etl.errors import ConfigError
from etl.output import display_width
from etl.warehouse import Warehouse


@dataclass(frozen=True)
class View:
    """One thing `etl show` can show: its SQL file (sql/show_<name>.sql), what it is, how it filters."""

    sql: str
    about: str
    table: str
    filters: tuple[str, ...] = ()


VIEWS = {
    "terms": View(
        "show_terms", "the synthesis plan: each category's terms and their translation", "category_terms", ("category",)
    ),
    "translations": View(
        "show_translations", "synthesised terms with alternatives and abbreviation", "translations", ("category",)
    ),
    "sentences": View("show_sentences", "parallel sentences with their term", "parallel_sentences", ("category",)),
    "training-pairs": View(
        "show_training_pairs", "a Korean term and all its English forms", "translations", ("category",)
    ),
    "imported-pairs": View("show_imported_pairs", "synonym pairs as imported, with their similarity", "imported_pairs"),
    "synonym-pairs": View("show_synonym_pairs", "the clean synonym pairs", "synonym_pairs"),
    "negatives": View("show_negatives", "mined negatives with their band", "negatives", ("band",)),
    "triplets": View("show_triplets", "triplets with the negative's similarity and band", "triplets", ("band",)),
    "rejects": View("show_rejects", "refused input with the rule it broke and why", "rejects"),
}
# The tables' own names work too.
ALIASES = {
    "category_terms": "terms",
    "parallel_sentences": "sentences",
    "imported_pairs": "imported-pairs",
    "synonym_pairs": "synonym-pairs",
    "training_pairs": "training-pairs",
}
BANDS = ("easy", "medium", "hard", "other")


@dataclass
class Shown:
    """Rows of one view: its columns, the rows shown, how many matched, and how they were chosen."""

    view: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    total: int
    random: bool
    seed: int

    def records(self) -> list[dict[str, Any]]:
        """The rows as column → value dicts."""
        return [dict(zip(self.columns, row)) for row in self.rows]

    def to_json(self) -> str:
        """The rows as a JSON array of objects (`etl show --json`)."""
        return json.dumps(self.records(), ensure_ascii=False, indent=2, default=str)

    def footer(self) -> str:
        """How many rows matched and how these were chosen."""
        noun = "row" if self.total == 1 else "rows"
        how = f"a random sample (seed {self.seed}; --first for the first rows)" if self.random else "the first rows"
        return f"{self.view}: {len(self.rows):,} of {self.total:,} {noun}, {how}"

    def render(self, vertical: bool = False, max_width: int = 48) -> str:
        """An aligned table (cells cut at `max_width` columns), or one block of label: value lines per row."""
        if not self.rows:
            return f"{self.view}: no rows"
        cells = [[cell(v) for v in row] for row in self.rows]
        if vertical:
            width = max(display_width(c) for c in self.columns)
            blocks = ["\n".join(f"{pad(c, width)}  {v}".rstrip() for c, v in zip(self.columns, row)) for row in cells]
            return "\n\n".join(blocks) + "\n\n" + self.footer()
        cut = [[shorten(v, max_width) for v in row] for row in cells]
        widths = [max(display_width(c), *(display_width(row[i]) for row in cut)) for i, c in enumerate(self.columns)]
        lines = ["  ".join(pad(c, w) for c, w in zip(self.columns, widths)).rstrip()]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(pad(v, w) for v, w in zip(row, widths)).rstrip() for row in cut]
        return "\n".join([*lines, "", self.footer()])


def show(
    wh: Warehouse,
    view: str,
    n: int = 10,
    random: bool = True,
    seed: int = 42,
    category: str | None = None,
    band: str | None = None,
) -> Shown:
    """`n` rows of `view` (a name in VIEWS or its table's name), sampled with `seed` or the first ones."""
    name = ALIASES.get(view, view)
    if name not in VIEWS:
        raise ConfigError(f"cannot show {view!r}; choose from {', '.join(VIEWS)}")
    spec = VIEWS[name]
    if n < 1:
        raise ConfigError(f"show at least one row, not {n}")
    given = {"category": category, "band": band}
    for key, value in given.items():
        if value is not None and key not in spec.filters:
            takes = f"only --{spec.filters[0]}" if spec.filters else "no filter"
            raise ConfigError(f"`etl show {name}` has no {key}; it takes {takes}")
    if band is not None and band not in BANDS:
        raise ConfigError(f"unknown band {band!r}; choose from {', '.join(BANDS)}")
    params: dict[str, Any] = {"random": random, "seed": seed, "n": n}
    params.update({key: given[key] for key in spec.filters})
    cursor = wh.sql_file(spec.sql, params)
    columns = [d[0] for d in cursor.description or []]
    rows = cursor.fetchall()
    total = int(rows[0][-1]) if rows else 0
    rows = [row[:-1] for row in rows]
    if name == "training-pairs":
        rows = [(ko, english_forms(forms), category) for ko, forms, category in rows]
    return Shown(name, columns[:-1], rows, total, random, seed)


def english_forms(forms: list[str | None]) -> list[str]:
    """Primary, alternatives and abbreviation without blanks or repeats (ignoring case), as the export writes them."""
    seen: set[str] = set()
    out = []
    for form in forms:
        if form and form.strip() and form.casefold() not in seen:
            seen.add(form.casefold())
            out.append(form)
    return out


def cell(value: Any) -> str:
    """A value as terminal text: lists joined by commas, similarities to four places, nothing for NULL."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("\n", " ")


def pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns."""
    return text + " " * max(width - display_width(text), 0)


def shorten(text: str, width: int) -> str:
    """`text` cut to at most `width` terminal columns, ending in … when cut."""
    if display_width(text) <= width:
        return text
    out, used = [], 1
    for char in text:
        used += display_width(char)
        if used > width:
            break
        out.append(char)
    return "".join(out) + "…"
