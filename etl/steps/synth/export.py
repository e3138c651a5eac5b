"""`etl export synth`: the seed notebook's four files, written from the synthesis tables.

Write mode: replace. Each file in the output directory is written beside its final name and then
renamed over it, so a reader never sees half a file and a rerun rewrites the same content.
- ko_en_terms.jsonl          {ko, en_primary, en_alternatives, abbreviation, category}
- ko_en_parallel.jsonl       {ko, en, term_ko, term_en, category}
- cross_lingual_pairs.jsonl  {ko_term, en_terms, category}; en_terms = primary + alternatives +
                             abbreviation, deduplicated ignoring case, in that order
- metadata.json              totals, categories, generation_model, created_at (UTC)
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from etl import manifest
from etl.config import Settings
from etl.errors import EtlError
from etl.output import StepResult
from etl.warehouse import Warehouse

FILES = ("ko_en_terms.jsonl", "ko_en_parallel.jsonl", "cross_lingual_pairs.jsonl", "metadata.json")


def default_dir(settings: Settings) -> Path:
    """Where the files go when no --out is given: beside the warehouse, as the other exports."""
    return Path(settings.warehouse).parent / "exports" / "synonyms"  # where `etl run` puts them too


def run(wh: Warehouse, settings: Settings, out: Path) -> StepResult:
    """Write the four files into `out` (created if missing) and return what was written."""
    with wh.record("export.synth", {"out": str(out)}) as run:
        terms = [
            dict(zip(("ko", "en_primary", "en_alternatives", "abbreviation", "category"), row))
            for row in wh.sql_file("synth_export_terms").fetchall()
        ]
        if not terms:
            raise EtlError("there are no translations to export; run `etl synth` first")
        sentences = [
            dict(zip(("ko", "en", "term_ko", "term_en", "category"), row))
            for row in wh.sql_file("synth_export_sentences").fetchall()
        ]
        pairs = [training_pair(t) for t in terms]
        models = [row[0] for row in wh.sql_file("synth_export_models").fetchall()]
        categories = list(dict.fromkeys(t["category"] for t in terms))
        metadata = {
            "total_synonyms": len(terms),
            "total_parallel_sentences": len(sentences),
            "total_training_pairs": len(pairs),
            "categories": categories,
            "generation_model": ", ".join(models),
            "created_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        }
        manifest.check_files(out, FILES)
        out.mkdir(parents=True, exist_ok=True)
        _write(out / FILES[0], _jsonl(terms))
        _write(out / FILES[1], _jsonl(sentences))
        _write(out / FILES[2], _jsonl(pairs))
        _write(out / FILES[3], json.dumps(metadata, ensure_ascii=False, indent=2) + "\n")
        manifest.write(out, manifest.SYNTH, FILES)
        run.counts = {"terms": len(terms), "sentences": len(sentences), "pairs": len(pairs)}
    return (
        StepResult.of(run, f"export synth → {out}", outputs=[out / name for name in FILES])
        .add(FILES[0], f"{len(terms):,} terms")
        .add(FILES[1], f"{len(sentences):,} sentence pairs")
        .add(FILES[2], f"{len(pairs):,} training pairs")
        .add(FILES[3], f"{len(categories)} categories, model {metadata['generation_model'] or 'unknown'}")
    )


def training_pair(term: dict[str, Any]) -> dict[str, Any]:
    """The notebook's training format: one Korean term and all its English forms, deduplicated."""
    forms = [term["en_primary"], *(term["en_alternatives"] or []), term["abbreviation"]]
    seen: set[str] = set()
    en_terms = []
    for form in forms:
        if isinstance(form, str) and form.strip() and form.casefold() not in seen:
            seen.add(form.casefold())
            en_terms.append(form)
    return {"ko_term": term["ko"], "en_terms": en_terms, "category": term["category"] or "unknown"}


def _jsonl(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
