"""The dataset card's sections about the mined data: bands, band shares, languages, counts, leaks, the probe.

Each takes the stats file's content (etl/steps/export/stats.py) and returns Markdown lines; card.py
puts them in order between the card's intro and its training snippet.
"""

from __future__ import annotations

from typing import Any

from etl.steps.export.layouts import SPLITS

LANGUAGE_POLICIES = {
    "any": "from every term, whatever its language",
    "anchor": "only from terms in the anchor's language",
    "positive": "only from terms in the language(s) of the anchor's positives",
    "mix": "each band's quota split between the anchor's language and its positives' other language",
}


def bands_section(config: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    """Each band's cosine range, share asked, quota, and how it was met; calibration if any."""
    lines = [
        "## Bands as used",
        "",
        "| band | cosine range | share asked | quota | met by quota | taken as fill for a short band |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for band in ("easy", "medium", "hard"):
        lo, hi = config[f"{band}_range"]
        fill = stats["band_fill"][band]
        lines.append(
            f"| {band} | [{lo:g}, {hi:g}) | {config[f'{band}_ratio']:g} | {fill['quota']:,} | {fill['by_quota']:,} | {fill['by_fill']:,} |"
        )
    if config["calibrated"]:
        lines += ["", f"Bands calibrated at percentiles {config['percentiles']} of the model's anchor-to-term cosines."]
    variants = stats.get("variant_exclusion")
    if variants and variants.get("on"):
        rules = ", ".join(f"{name} {n:,}" for name, n in variants["excluded"].items() if n) or "none"
        lines += [
            "",
            f"Other forms of the anchor and its synonyms (inflections, derivations, gloss-list alternatives) "
            f"were kept out of the negatives: {variants['excluded_pairs']:,} in-band pairs (by rule: {rules}).",
        ]
    elif variants is not None:
        lines += ["", "Mined with variant exclusion off: a negative may be another form of its anchor or a positive."]
    for kind, bands in (config.get("pool_bands") or {}).items():
        if kind != "all":  # same-language and cross-language pairs got their own edges
            shown = ", ".join(f"{band} [{lo:g}, {hi:g})" for band, (lo, hi) in bands.items())
            lines.append(f"{kind.capitalize()}-language negatives: {shown}.")
    return lines


def languages_section(config: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    """Each band's negatives by language pair (anchor's language → negative's), and the policy that chose them."""
    shares = stats["language_pairs"]["shares"]
    pairs = list(shares["all"])
    lines = [
        "## Negatives by language",
        "",
        "| band | " + " | ".join(pairs) + " |",
        "|---|" + "---:|" * len(pairs),
    ]
    for band in ("easy", "medium", "hard", "all"):
        lines.append(f"| {band} | " + " | ".join(f"{shares[band][pair]:.1%}" for pair in pairs) + " |")
    policy = config["language"]
    mix = f", {config['language_mix']:g} of them from the anchor's language" if policy == "mix" else ""
    lines += [
        "",
        f"A term's language is ko when its text holds Hangul, else en. Negatives mined with "
        f"`mine_language = {policy}`{mix} ({LANGUAGE_POLICIES[policy]}).",
    ]
    return lines


def shares_section(stats: dict[str, Any]) -> list[str]:
    """Each band's share of the triplets, overall and per split."""
    lines = ["## Band shares", "", "| band | all | train | validation |", "|---|---:|---:|---:|"]
    by_split = stats["difficulty_distribution_by_split"]
    for band in ("easy", "medium", "hard"):
        cells = [_share(stats["difficulty_distribution"], band)] + [
            _share(by_split.get(split, {}), band) for split in SPLITS
        ]
        lines.append(f"| {band} | " + " | ".join(cells) + " |")
    return lines


def counts_section(config: dict[str, Any], data: dict[str, Any], pos: dict[str, Any]) -> list[str]:
    """Triplets, anchors, negatives and positives per anchor, as counted."""
    return [
        "## Counts",
        "",
        f"- triplets: {data['total_triplets']:,} (train {data['train_triplets']:,}, validation {data['val_triplets']:,}; "
        f"achieved train ratio {data['achieved_train_ratio']}, asked {config['train_ratio']})",
        f"- anchors: {data['unique_anchors']:,}, with triplets {data['anchors_with_triplets']:,}; "
        f"skipped (no negative) {data['skipped_anchors']:,}; short (fewer than {config['negatives_per_anchor']} negatives) {data['short_anchors']:,}",
        f"- negatives: {data['negatives']:,} ({config['negatives_per_anchor']} asked per anchor)",
        f"- positives per anchor: mean {pos['mean']}, min {pos['min']}, median {pos['median']}, max {pos['max']}",
    ]


def leaks_section(config: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """What the split was by, and whether any anchor or synonym group is on both sides."""
    return [
        "## Leak checks",
        "",
        f"- split by `{config['split_by']}`: train groups {data['train_groups']:,}, validation groups {data['val_groups']:,}",
        f"- anchors on both sides: {data['anchors_on_both_sides']:,}; synonym groups on both sides: {data['groups_on_both_sides']:,}",
        "- "
        + (
            "no anchor and no synonym group is in both splits"
            if data["anchors_on_both_sides"] == data["groups_on_both_sides"] == 0
            else "**the split leaks**: the same anchors or groups are in train and validation (a row split)"
        ),
    ]


def probe_section(probe: dict[str, Any] | None) -> list[str]:
    """How a small adapter trained on these triplets retrieves the validation anchors' positives, per arm."""
    lines = ["## Downstream probe", ""]
    if probe is None:
        return [*lines, "No probe ran on these triplets (`etl probe` measures whether their negatives help a model)."]
    lines += [
        f"A linear adapter over the mining model's frozen vectors, trained {probe['epochs']} epochs ({probe['loss']} "
        f"loss) on {probe['train_triplets']:,} train triplets, ranks the vocabulary for {probe['validation_anchors']:,} "
        "validation anchors (unseen synonym groups). MRR@10 of the best positive; recall@k: share of positives in the "
        "top k. target: terms in the positive's language; mixed: every term.",
        "",
        "| arm | target MRR@10 | target R@1 | target R@10 | mixed MRR@10 | mixed R@1 | mixed R@10 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    cells = [(pool, metric) for pool in ("target", "mixed") for metric in ("mrr@10", "recall@1", "recall@10")]
    for arm, pools in probe["arms"].items():
        lines.append(f"| {arm} | " + " | ".join(f"{pools[pool][metric]:.3f}" for pool, metric in cells) + " |")
    lifts = [
        f"over {base.removeprefix('over_')} {pools['target']:+.3f} (target), {pools['mixed']:+.3f} (mixed)"
        for base, pools in probe["mrr@10_lift_of_mined"].items()
    ]
    return [*lines, "", f"MRR@10 lift of the mined negatives: {'; '.join(lifts)}."]


def judge_section(judge: dict[str, Any] | None) -> list[str]:
    """What the LLM judge found among the mined negatives (no section when it never ran)."""
    if judge is None:
        return []
    models = ", ".join(f"`{m}`" for m in judge["models"]) or "an LLM"
    lines = [
        "## Negatives checked by an LLM",
        "",
        f"{models} judged mined negatives: does the negative mean the same as its anchor or one of its synonyms? "
        "Negatives judged `same` were replaced by the next member of their band in the anchor's seeded order "
        "(`etl judge`).",
        "",
        "| band | judged | same (removed) | related | different | promoted to synonyms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for band, n in judge["bands"].items():
        lines.append(
            f"| {band} | {n['judged']:,} | {n['same']:,} | {n['related']:,} | {n['different']:,} | {n['promoted']:,} |"
        )
    dry = ", ".join(f"{band} {n:,}" for band, n in judge["dry"].items()) or "none"
    consistency = judge["consistency"]
    agreed = (
        f"{consistency['agreed']:,} of {consistency['asked_twice']:,} verdicts asked twice agreed"
        if consistency["asked_twice"]
        else "not measured"
    )
    lines += ["", f"Bands that ran short of their quota after removals: {dry}. Self-consistency: {agreed}."]
    return lines


def _share(counts: dict[str, int], band: str) -> str:
    total = sum(counts.values())
    return f"{counts.get(band, 0) / total:.1%}" if total else "-"
