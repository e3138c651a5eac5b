"""`etl export synonyms`: the synonym groups as a Solr-format file for OpenSearch / Elasticsearch.

The file is what the `synonym` and `synonym_graph` token filters load (`synonyms_path`): UTF-8,
`#` comment lines, then one line per group of two or more terms.
- equivalent (default): `머신러닝, 기계 학습, machine learning, ML` — every term matches every other.
- explicit: `머신러닝, 기계 학습 => machine learning, ML` — every term that is not plain English
  (lang ko or mixed) is replaced by the group's English terms (lang en). A group with no English
  term, or nothing but English terms, has no direction and is left out (counted as one-sided).

Escaping follows the format's parser (Lucene's SolrSynonymParser): a backslash makes the next
character literal, so a `\\`, `,` or `#` inside a term is written `\\\\`, `\\,`, `\\#`, and an `=>`
inside a term `\\=>`. What the format cannot hold is left out and counted, never written: a term
with a line break or another control character (lines are split before anything is unescaped), or
with leading or trailing whitespace (the parser trims every term, escaped or not). Inner spaces
stay: multi-word synonyms are allowed.

A group of more than `max_group_size` terms is either split into its synonym pairs (one two-term
line per pair: the pairs are the evidence, the group is only their transitive closure) or skipped.
With `categories`, only groups holding a term that synthesis listed or translated under one of them
are written; imported pairs carry no category, so a group made of imported pairs alone is left out.

Write mode: replace the file (written beside it, then renamed over it).
"""

from __future__ import annotations

import itertools
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from etl.config import Settings
from etl.errors import ConfigError, EtlError
from etl.output import StepResult
from etl.warehouse import Run, Warehouse, read_sql

OVERSIZE = ("split", "skip")
DEFAULT_MAX_GROUP_SIZE = 20
# Characters no term may hold: controls (tab, newline, NEL...), line and paragraph separators,
# surrogates. Python's str.splitlines breaks on some of these, Java's readLine on others.
_FORBIDDEN = {"Cc", "Cs", "Zl", "Zp"}

Term = tuple[int, str, str]  # (term_id, text, lang)


@dataclass
class Tally:
    """What was written and what was left out, and why."""

    lines: int = 0
    groups: int = 0  # groups written whole, one line each
    split_groups: int = 0  # groups over the size limit, written as their pairs
    split_lines: int = 0  # lines those groups became
    oversize_skipped: int = 0  # groups over the size limit, left out
    one_sided: int = 0  # explicit lines with no English side, or nothing but English
    unwritable_terms: int = 0  # terms the format cannot hold (line breaks, controls, outer whitespace)
    too_few_terms: int = 0  # groups left with fewer than two writable terms
    other_categories: int = 0  # groups outside the chosen categories


def default_path(settings: Settings) -> Path:
    """Where the file goes when no --out is given: beside the warehouse, with the other exports."""
    return Path(settings.warehouse).parent / "exports" / "synonyms.txt"


def writable(term: str) -> bool:
    """True when the format can hold `term`: not empty, no control character, no outer whitespace."""
    if not term or term != term.strip():
        return False
    return not any(unicodedata.category(ch) in _FORBIDDEN for ch in term)


def escape(term: str) -> str:
    """`term` as the format writes it: backslash before `\\`, `,`, `#` and the `=` of `=>`."""
    return term.replace("\\", "\\\\").replace(",", "\\,").replace("#", "\\#").replace("=>", "\\=>")


def line(left: Sequence[str], right: Sequence[str] | None = None) -> str:
    """One synonym line: equivalent terms, or with `right` an explicit mapping left => right."""
    text = ", ".join(escape(term) for term in left)
    return text if right is None else f"{text} => {', '.join(escape(term) for term in right)}"


def run(
    wh: Warehouse,
    settings: Settings,
    out: Path | None = None,
    explicit: bool = False,
    max_group_size: int = DEFAULT_MAX_GROUP_SIZE,
    oversize: str = "split",
    categories: Sequence[str] = (),
) -> StepResult:
    """Write the synonym file to `out` and return what was written and left out."""
    if max_group_size < 2:
        raise ConfigError(f"--max-group-size must be at least 2 (a line needs two terms), not {max_group_size}")
    if oversize not in OVERSIZE:
        raise ConfigError(f"oversize must be one of {', '.join(OVERSIZE)}, not {oversize!r}")
    path = Path(out) if out is not None else default_path(settings)
    if path.is_dir():
        raise EtlError(f"{path} is a directory; give --out a file name such as {path / 'synonyms.txt'}")
    params = {
        "out": str(path),
        "explicit": explicit,
        "max_group_size": max_group_size,
        "oversize": oversize,
        "categories": list(categories),
    }
    with wh.record("export.synonyms", params) as run:
        if not wh.scalar("SELECT count(*) FROM synonym_pairs"):
            raise EtlError("there are no synonym pairs to export; run `etl clean` first")
        rows = wh.execute(read_sql("export_synonym_terms")).fetchall()
        groups = {
            gid: [(tid, text, lang) for _, tid, text, lang in members]
            for gid, members in itertools.groupby(rows, key=lambda r: r[0])
        }
        tally = Tally()
        if categories:
            kept = _in_categories(wh, groups, categories)
            tally.other_categories = len(groups) - len(kept)
            groups = {gid: groups[gid] for gid in kept}
        pairs = _pairs(wh, groups, max_group_size) if oversize == "split" else {}
        body = list(lines(groups, pairs, tally, explicit=explicit, max_group_size=max_group_size))
        clean_run = wh.last_ok_run("clean")
        header = [
            "# Synonyms for OpenSearch / Elasticsearch (Solr format, for the synonym and synonym_graph filters).",
            f"# etl export synonyms: {'explicit' if explicit else 'equivalent'} lines; groups over "
            f"{max_group_size} terms {'split into their pairs' if oversize == 'split' else 'skipped'}; "
            f"categories: {', '.join(categories) if categories else 'all'}; "
            f"clean run {clean_run['run_id'] if clean_run else 'unknown'}.",
        ]
        _write(path, [*header, *body])
        run.counts.update(asdict(tally))
    return _summary(run, path, tally, explicit, max_group_size)


def lines(
    groups: dict[int, list[Term]],
    pairs: dict[int, list[tuple[int, int]]],
    tally: Tally,
    explicit: bool,
    max_group_size: int,
) -> Iterable[str]:
    """The synonym lines of these groups, counting into `tally` what is written and left out.

    `pairs` holds the synonym pairs of the groups to split; a group over the size limit that has
    no entry there is skipped.
    """
    for gid, members in groups.items():
        terms = [t for t in members if writable(t[1])]
        tally.unwritable_terms += len(members) - len(terms)
        if len(terms) < 2:
            tally.too_few_terms += 1
            continue
        if len(terms) <= max_group_size:
            text = _line(terms, explicit, tally)
            if text is not None:
                tally.groups += 1
                tally.lines += 1
                yield text
            continue
        if gid not in pairs:
            tally.oversize_skipped += 1
            continue
        tally.split_groups += 1
        known = {t[0]: t for t in terms}
        for a, b in pairs[gid]:
            if a in known and b in known:
                text = _line([known[a], known[b]], explicit, tally)
                if text is not None:
                    tally.split_lines += 1
                    tally.lines += 1
                    yield text


def _line(terms: list[Term], explicit: bool, tally: Tally) -> str | None:
    """The line for these terms, or None (counted) when an explicit mapping has no direction."""
    if not explicit:
        return line([t[1] for t in terms])
    left = [t[1] for t in terms if t[2] != "en"]
    right = [t[1] for t in terms if t[2] == "en"]
    if not left or not right:
        tally.one_sided += 1
        return None
    return line(left, right)


def _in_categories(wh: Warehouse, groups: dict[int, list[Term]], categories: Sequence[str]) -> set[int]:
    """The groups holding a term that synthesis listed or translated under one of `categories`."""
    import polars as pl

    from etl.vocab import normalize_expr

    links = wh.frame(read_sql("export_synonym_categories"))
    known = set(links["category"].to_list()) if links.height else set()
    unknown = [c for c in categories if c not in known]
    if unknown:
        listed = ", ".join(sorted(known)) if known else "none: imported pairs carry no category"
        raise ConfigError(f"no synthesis category {', '.join(map(repr, unknown))}; the categories here are {listed}")
    # Landed texts are raw; terms hold them normalised, the way `etl clean` does it.
    wanted = links.filter(pl.col("category").is_in(list(categories))).select(
        normalize_expr(pl.col("raw")).alias("text")
    )
    texts = set(wanted["text"].to_list())
    return {gid for gid, members in groups.items() if any(t[1] in texts for t in members)}


def _pairs(wh: Warehouse, groups: dict[int, list[Term]], max_group_size: int) -> dict[int, list[tuple[int, int]]]:
    """The synonym pairs of every group over the size limit, by group, in term order."""
    big = {gid for gid, members in groups.items() if len(members) > max_group_size}
    if not big:
        return {}
    group_of = {t[0]: gid for gid in big for t in groups[gid]}
    out: dict[int, list[tuple[int, int]]] = {gid: [] for gid in big}
    for a, b in wh.execute("SELECT term_a, term_b FROM synonym_pairs ORDER BY term_a, term_b").fetchall():
        if a in group_of:
            out[group_of[a]].append((a, b))
    return out


def _write(path: Path, text_lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write("".join(f"{text}\n" for text in text_lines))
    os.replace(partial, path)


def _summary(run: Run, path: Path, tally: Tally, explicit: bool, max_group_size: int) -> StepResult:
    title = f"export synonyms: {tally.lines:,} {'explicit' if explicit else 'equivalent'} lines to {path}"
    summary = StepResult.of(run, title, outputs=[path])
    summary.add("groups", f"{tally.groups:,} written whole")
    summary.add(
        f"over {max_group_size} terms",
        f"{tally.split_groups:,} split into {tally.split_lines:,} pair lines, {tally.oversize_skipped:,} skipped",
    )
    if explicit:
        summary.add("one-sided", f"{tally.one_sided:,} left out (no English term, or only English terms)")
    summary.add(
        "unwritable terms", f"{tally.unwritable_terms:,} left out (line break, control character or outer space)"
    )
    summary.add("too few terms", f"{tally.too_few_terms:,} groups left with one writable term")
    if tally.other_categories:
        summary.add("other categories", f"{tally.other_categories:,} groups left out")
    return summary
