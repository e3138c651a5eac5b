"""What a judge run says: its figures per band, the replacements, the self-consistency, and what to do next."""

from __future__ import annotations

from typing import Any

from etl.llm import Client
from etl.output import StepResult
from etl.warehouse import Run


def summary(run: Run, client: Client) -> StepResult:
    """A judge run's result from its counts (as `runs.counts` holds them)."""
    counts = run.counts
    judged = sum(b["judged"] for b in counts["bands"].values())
    same = sum(b["same"] for b in counts["bands"].values())
    if judged:
        title = f"judge: {judged:,} negatives judged, {same:,} found to mean the same as their anchor"
    else:
        held = sum(b["judged"] for b in counts["all_runs"].values())
        title = f"judge: nothing new to judge ({held:,} verdicts of record)"
    result = StepResult.of(run, title)
    result.add("model", f"{client.model} ({client.api})")
    for band, figures in counts["bands"].items():
        result.add(f"  {band}", band_line(figures))
    result.add(
        "rounds", f"{counts['rounds']} ({counts['mine_runs']} mine runs replaced {counts['replaced']:,} negatives)"
    )
    dry = ", ".join(f"{band} {n:,}" for band, n in counts["dry"].items()) or "none"
    result.add("bands run dry", f"{dry} (anchors whose band, less the judged-out terms, fell short of its quota)")
    if counts["promoted"]:
        result.add("promoted", f"{counts['promoted']:,} pairs judged same (run `etl clean` to land them as synonyms)")
    result.add("self-consistency", consistency_line(counts["consistency"]))
    result.add("calls made", counts["calls"]).add("served from cache", counts["cached"])
    result.add("failed", counts["failed"]).add("rejected", f"{counts['rejected']:,} pairs (see rejects, step judge)")
    result.add("tokens (prompt / completion)", f"{counts['prompt_tokens']:,} / {counts['completion_tokens']:,}")
    if counts["failed"]:
        result.warn(f"{counts['failed']:,} calls failed; the next run retries them (answered ones are kept)")
    if counts["unjudged"]:
        result.warn(
            f"{counts['unjudged']:,} negatives of the judged bands have no verdict yet "
            "(judge_rounds reached, or calls failed); run `etl judge` again to judge them"
        )
    return result


def band_line(figures: dict[str, int]) -> str:
    """`judged N: same a, related b, different c` for one band."""
    return (
        f"{figures['judged']:,} judged: same {figures['same']:,}, related {figures['related']:,}, "
        f"different {figures['different']:,}"
    )


def consistency_line(consistency: dict[str, Any]) -> str:
    """How often a second verdict matched the first, on the seeded sample."""
    if not consistency["sample"]:
        return "off (judge_consistency = 0)" if consistency.get("off") else "nothing judged yet"
    if not consistency["asked_twice"]:
        return f"not measured (the {consistency['sample']:,} sampled verdicts were not answered again)"
    return (
        f"{consistency['agreed']:,} of {consistency['asked_twice']:,} sampled verdicts agreed when asked again "
        f"({consistency['agreement']:.0%})"
    )
