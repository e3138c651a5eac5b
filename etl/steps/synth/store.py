"""What synthesis keeps beside the LLM call ledger (etl/llm/ledger.py): its table checks and per-category figures."""

from __future__ import annotations

from etl.errors import CheckFailed
from etl.warehouse import Warehouse


def check(wh: Warehouse) -> None:
    """Fail the stage when a synthesis table breaks one of its rules (sql/checks/synth_*.sql)."""
    broken = wh.run_checks("synth_")
    if broken:
        listed = ", ".join(f"{name} ({n} rows)" for name, n in broken.items())
        raise CheckFailed(f"synthesis checks failed: {listed}; see sql/checks/ for the rules")


def per_category(wh: Warehouse) -> list[tuple[str, str]]:
    """A summary line per category, as the notebook printed them: seeds + expanded, translated, sentences."""
    rows = wh.sql_file("synth_per_category").fetchall()
    return [
        (
            f"  {category}",
            f"{seeds:,} seeds + {expanded:,} expanded, {translated:,} translated, {sentences:,} sentences",
        )
        for category, seeds, expanded, translated, sentences in rows
    ]
