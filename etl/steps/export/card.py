"""The dataset card (README.md) of an exported DatasetDict: Hugging Face YAML metadata and a human summary.

The card sits in the DatasetDict's own directory and its `configs` point at the Arrow shards
`save_to_disk` wrote there, so that directory alone is a publishable Hugging Face dataset repo:
`datasets.load_dataset(DIR)` and `datasets.load_from_disk(DIR)` give the same rows. Everything in
it is counted from the stats file and the layout's own rows; it carries no timestamp, so an
unchanged warehouse exports an unchanged card.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl import __version__
from etl.steps.export import sections
from etl.steps.export import stats as export_stats
from etl.steps.export.layouts import LOSSES, SCORE_LOSSES, SPLITS
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import pyarrow as pa

CARD_FILE = "README.md"
SNIPPETS = {
    "triplet": (
        "from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer",
        "from sentence_transformers.sentence_transformer import losses",
        'model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")',
        'train = datasets.load_from_disk("{dir}")["train"].select_columns(["anchor", "positive", "negative"])',
        "SentenceTransformerTrainer(model=model, train_dataset=train, loss=losses.MultipleNegativesRankingLoss(model)).train()",
    ),
    "n-tuple": (
        "from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer",
        "from sentence_transformers.sentence_transformer import losses",
        'model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")',
        'train = datasets.load_from_disk("{dir}")["train"]',
        "SentenceTransformerTrainer(model=model, train_dataset=train, loss=losses.CachedMultipleNegativesRankingLoss(model)).train()",
    ),
    "labeled-pair": (
        "from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, losses",
        'model = CrossEncoder("sentence-transformers/all-MiniLM-L6-v2", num_labels=1)',
        'train = datasets.load_from_disk("{dir}")["train"]',
        "CrossEncoderTrainer(model=model, train_dataset=train, loss=losses.BinaryCrossEntropyLoss(model)).train()",
    ),
    "labeled-list": (
        "from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, losses",
        'model = CrossEncoder("sentence-transformers/all-MiniLM-L6-v2", num_labels=1)',
        'train = datasets.load_from_disk("{dir}")["train"]',
        "CrossEncoderTrainer(model=model, train_dataset=train, loss=losses.ListNetLoss(model)).train()",
    ),
}
COLUMN_MEANINGS = {
    "anchor": "the query term",
    "positive": "a synonym of the anchor (the other side of a synonym pair)",
    "negative": "a mined negative: not in the anchor's synonym group, never spelled like it nor another form of it",
    "negative_similarity": "cosine of anchor and negative under the mining model (float32)",
    "difficulty": "the band the negative's cosine falls in: easy, medium or hard",
    "group_id": "the anchor's synonym group (the unit of the train/validation split)",
    "text": "a positive (label 1) or a negative (label 0) of the anchor",
    "label": "1 for a positive, 0 for a negative",
    "score": "cosine of anchor and text under the mining model (float32)",
    "texts": "the positive first, then the anchor's negatives hardest first",
    "labels": "1 for the positive, 0 for each negative, in the order of texts",
    "scores": "cosines under the mining model: the positive's first, then each negative's, in column order",
}


def write(
    directory: Path,
    layout: str,
    parts: dict[str, pa.Table],
    stats: dict[str, Any],
    sources: list[str],
    license_id: str,
    dropped: dict[str, Any] | None = None,
) -> None:
    """Write the card of the DatasetDict saved in `directory` (layout `layout`, rows `parts`)."""
    text = render(directory, layout, parts, stats, sources, license_id, dropped)
    (directory / CARD_FILE).write_text(text, encoding="utf-8")


def render(
    directory: Path,
    layout: str,
    parts: dict[str, pa.Table],
    stats: dict[str, Any],
    sources: list[str],
    license_id: str,
    dropped: dict[str, Any] | None = None,
) -> str:
    """The card's text: YAML front matter, then the summary in Markdown."""
    import yaml

    meta = metadata(directory, layout, parts, license_id)
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front}---\n\n{_summary(layout, parts, stats, sources, dropped)}"


def metadata(directory: Path, layout: str, parts: dict[str, pa.Table], license_id: str) -> dict[str, Any]:
    """Hugging Face dataset card metadata: license, task, configs with data files, features, splits, sizes."""
    import datasets

    total = sum(part.num_rows for part in parts.values())
    features = datasets.Features.from_arrow_schema(next(iter(parts.values())).schema)
    splits = [
        {"name": split, "num_bytes": int(part.nbytes), "num_examples": part.num_rows} for split, part in parts.items()
    ]
    shards = {split: sorted(p.name for p in (directory / split).glob("*.arrow")) for split in parts}
    download = sum((directory / split / name).stat().st_size for split, names in shards.items() for name in names)
    return {
        "license": license_id,
        "language": ["ko", "en"],
        "multilinguality": "multilingual",
        "task_categories": ["sentence-similarity", "text-retrieval"],
        "tags": ["sentence-transformers", "hard-negatives", layout],
        "size_categories": [_size_category(total)],
        "pretty_name": f"Korean-English synonym hard negatives ({layout})",
        "configs": [
            {
                "config_name": layout,
                "default": True,
                "data_files": [{"split": split, "path": f"{split}/data-*.arrow"} for split in parts],
            }
        ],
        "dataset_info": {
            "config_name": layout,
            "features": features._to_yaml_list(),
            "splits": splits,
            "download_size": download,
            "dataset_size": sum(s["num_bytes"] for s in splits),
        },
    }


def sources(wh: Warehouse, mined_by: int) -> list[str]:
    """Where the mined pairs came from: files imported and translations synthesised before mine run `mined_by`."""
    found = [
        f"imported pairs file `{Path(file).name}` ({n:,} lines)"
        for file, n in wh.execute(
            "SELECT file, count(*) FROM imported_pairs WHERE run_id < ? GROUP BY file ORDER BY file", [mined_by]
        ).fetchall()
    ]
    translated = wh.scalar("SELECT count(*) FROM translations WHERE run_id < ?", [mined_by])
    if translated:
        models = [
            r[0]
            for r in wh.execute(
                "SELECT DISTINCT model FROM llm_calls WHERE task = 'translate' AND status = 'ok' ORDER BY model"
            ).fetchall()
        ]
        found.append(f"{translated:,} Korean terms translated by {', '.join(f'`{m}`' for m in models) or 'an LLM'}")
    promoted = wh.scalar("SELECT count(*) FROM synonym_pairs WHERE list_contains(origins, 'judge')")
    if promoted:
        found.append(f"{promoted:,} pairs of mined negatives an LLM judged to mean the same as their anchor (promoted)")
    later = export_stats.changed_since(wh, mined_by)
    if later:
        found.append(f"(the inputs changed after mine run {mined_by}, by {', '.join(later)}; these rows predate that)")
    return found or ["no recorded source"]


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M" if n < 10_000_000 else "10M<n<100M"


def _summary(
    layout: str, parts: dict[str, pa.Table], stats: dict[str, Any], sources: list[str], dropped: dict[str, Any] | None
) -> str:
    """The card's Markdown: a title and what the rows are for, then one section after another."""
    config, data = stats["config"], stats["dataset"]
    names = parts[SPLITS[0]].schema.names
    scored = "scores" in names or "score" in names
    parts_of_card = [
        _intro(layout, scored),
        _source_section(config, stats, sources),
        _rows_section(parts, data, dropped),
        _columns_section(parts[SPLITS[0]].schema),
        sections.bands_section(config, stats),
        sections.shares_section(stats),
        sections.languages_section(config, stats),
        sections.counts_section(config, data, stats["positives_per_anchor"]),
        sections.leaks_section(config, data),
        sections.judge_section(stats.get("judge")),
        sections.probe_section(stats.get("probe")),
        _use_section(layout),
    ]
    return "\n\n".join("\n".join(section) for section in parts_of_card if section)


def _intro(layout: str, scored: bool) -> list[str]:
    """The title and a paragraph: what the rows are, which `etl` wrote them, which losses they suit."""
    return [
        f"# Korean-English synonym hard negatives: the `{layout}` layout",
        "",
        f"Synonym pairs with mined hard negatives for training retrieval models, exported by `etl` {__version__} "
        f"(`etl export triplets --format {layout}`). Columns in the order sentence-transformers' losses take them; "
        f"suited to {SCORE_LOSSES[layout] if scored else LOSSES[layout]}.",
    ]


def _source_section(config: dict[str, Any], stats: dict[str, Any], sources: list[str]) -> list[str]:
    """Where the pairs came from, the model that mined the negatives, and the runs behind the rows."""
    return [
        "## Source",
        "",
        *[f"- {line}" for line in sources],
        f"- embedding model (mining and scores): `{config['model']}`, {config['search']} search, top {config['top_k']}, seed {config['seed']}",
        f"- lineage: mine run {stats['lineage']['mine_run_id']}, split run {stats['lineage']['split_run_id'] or '(the mine run)'}",
    ]


def _rows_section(parts: dict[str, pa.Table], data: dict[str, Any], dropped: dict[str, Any] | None) -> list[str]:
    """Rows per split beside the triplets they come from, and what the n-tuple layout dropped."""
    lines = [
        "## Rows",
        "",
        "| split | rows | triplets they come from |",
        "|---|---:|---:|",
    ]
    triplets = {"train": data["train_triplets"], "validation": data["val_triplets"]}
    lines += [f"| {split} | {part.num_rows:,} | {triplets[split]:,} |" for split, part in parts.items()]
    if dropped is not None:
        per_split = ", ".join(f"{split} {n:,}" for split, n in dropped["rows"].items())
        lines += [
            "",
            f"Dropped: {sum(dropped['rows'].values()):,} (anchor, positive) rows ({per_split}) of "
            f"{dropped['anchors']:,} anchors with fewer than {dropped['width']} negatives; an n-tuple row needs all of them.",
        ]
    return lines


def _columns_section(schema: pa.Schema) -> list[str]:
    """Each column with its type and meaning (negative_1, negative_2, ... named from `negative`)."""
    lines = [
        "## Columns",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
    ]
    for f in schema:
        meaning = COLUMN_MEANINGS.get(f.name) or COLUMN_MEANINGS["negative"].replace(
            "a mined negative", f"mined negative {f.name.split('_')[-1]} (hardest first)"
        )
        lines.append(f"| `{f.name}` | {_type_name(f.type)} | {meaning} |")
    return lines


def _use_section(layout: str) -> list[str]:
    """A snippet that trains on the layout, and where the figures come from (ends with a newline)."""
    return [
        "## Use",
        "",
        "```python",
        "import datasets",
        *(line.format(dir=".") for line in SNIPPETS[layout]),
        "```",
        "",
        '`datasets.load_dataset(".")` reads the same rows through the `configs` above. '
        "`data_preparation_stats.json` in the export's top directory has every figure here.",
        "",
    ]


def _type_name(kind: pa.DataType) -> str:
    """An Arrow type as the card shows it: float32 rather than Arrow's `float`, lists by their items."""
    import pyarrow as pa

    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"list<{_type_name(kind.value_type)}>"
    return {"float": "float32", "double": "float64"}.get(str(kind), str(kind))
