"""The dataset card in every exported DatasetDict: Hugging Face metadata that loads, figures true to the warehouse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from etl.warehouse import Warehouse
from tests.test_export_layouts import LAYOUTS, export, mine_world

DIRS = {"triplet": "triplet_dataset", **{name: f"{name}/dataset" for name in LAYOUTS[1:]}}


@pytest.fixture
def out(etl, warehouse_path: Path, tmp_path: Path) -> Path:
    mine_world(etl, warehouse_path)
    return export(etl, tmp_path / "out", "--with-scores")


def front_matter(path: Path) -> tuple[dict[str, Any], str]:
    """(YAML metadata, Markdown body) of a card, split as the Hub splits it."""
    import yaml

    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


@pytest.mark.parametrize("layout", LAYOUTS)
def test_metadata_matches_the_files_and_the_warehouse(layout: str, out: Path, warehouse_path: Path) -> None:
    import datasets

    meta, _ = front_matter(out / DIRS[layout] / "README.md")
    loaded = datasets.load_from_disk(str(out / DIRS[layout]))
    assert meta["license"] == "unknown"
    assert "sentence-similarity" in meta["task_categories"]
    assert meta["configs"] == [
        {
            "config_name": layout,
            "default": True,
            "data_files": [
                {"split": "train", "path": "train/data-*.arrow"},
                {"split": "validation", "path": "validation/data-*.arrow"},
            ],
        }
    ]
    info = meta["dataset_info"]
    assert info["config_name"] == layout
    assert [f["name"] for f in info["features"]] == loaded["train"].column_names
    assert datasets.Features._from_yaml_list(info["features"]) == loaded["train"].features
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == {split: loaded[split].num_rows for split in loaded}
    assert info["dataset_size"] == sum(s["num_bytes"] for s in info["splits"]) > 0
    shards = sum(p.stat().st_size for p in (out / DIRS[layout]).glob("*/data-*.arrow"))
    assert info["download_size"] == shards
    total = sum(loaded[split].num_rows for split in loaded)
    assert meta["size_categories"] == ["n<1K" if total < 1000 else "1K<n<10K"]
    if layout == "triplet":
        with Warehouse.open(warehouse_path) as wh:
            by_split = dict(wh.execute("SELECT split, count(*) FROM triplets GROUP BY split").fetchall())
        assert {s["name"]: s["num_examples"] for s in info["splits"]} == by_split


@pytest.mark.parametrize("layout", ["triplet", "labeled-list"])
def test_the_card_loads_the_same_rows_as_load_from_disk(
    layout: str, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets
    from huggingface_hub import DatasetCard

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    directory = out / DIRS[layout]
    card = DatasetCard.load(directory / "README.md")
    assert card.data.configs[0]["config_name"] == layout
    via_card = datasets.load_dataset(str(directory), cache_dir=str(tmp_path / "hf-cache"))
    on_disk = datasets.load_from_disk(str(directory))
    for split in ("train", "validation"):
        assert via_card[split].features == on_disk[split].features
        assert via_card[split].to_list() == on_disk[split].to_list()


def test_the_summary_is_built_from_the_stats(out: Path, warehouse_path: Path) -> None:
    stats = json.loads((out / "data_preparation_stats.json").read_text(encoding="utf-8"))
    _, body = front_matter(out / "triplet_dataset" / "README.md")
    config, data = stats["config"], stats["dataset"]
    assert f"`{config['model']}`" in body
    assert "imported pairs file" not in body  # this world was inserted directly, not imported
    for band in ("easy", "medium", "hard"):
        lo, hi = config[f"{band}_range"]
        fill = stats["band_fill"][band]
        assert (
            f"| {band} | [{lo:g}, {hi:g}) | {config[f'{band}_ratio']:g} | {fill['quota']:,} | {fill['by_quota']:,} | {fill['by_fill']:,} |"
            in body
        )
    with Warehouse.open(warehouse_path) as wh:
        total = wh.scalar("SELECT count(*) FROM triplets")
        shares = {
            band: n / total for band, n in wh.execute("SELECT difficulty, count(*) FROM triplets GROUP BY 1").fetchall()
        }
        train = wh.scalar("SELECT count(*) FROM triplets WHERE split = 'train'")
    for band, share in shares.items():
        assert body.count(f"| {band} | {share:.1%} |") == 1
    assert f"- triplets: {total:,} (train {train:,}, validation {total - train:,};" in body
    assert (
        f"anchors on both sides: {data['anchors_on_both_sides']:,}; synonym groups on both sides: {data['groups_on_both_sides']:,}"
        in body
    )
    assert "no anchor and no synonym group is in both splits" in body
    assert "| `scores` |" in body and "MarginMSELoss" in body


def test_license_option_and_sources(etl, tmp_path: Path) -> None:
    etl("run", "--example")
    etl("export", "triplets", "--out", str(tmp_path / "cc"), "--license", "cc-by-4.0")
    meta, body = front_matter(tmp_path / "cc" / "triplet_dataset" / "README.md")
    assert meta["license"] == "cc-by-4.0"
    from etl.steps.pipeline import EXAMPLE_PAIRS

    lines = len(Path(EXAMPLE_PAIRS).read_text(encoding="utf-8").splitlines())
    assert f"- imported pairs file `example_pairs.jsonl` ({lines:,} lines)" in body
    # The card has no clock in it: the same warehouse exports the same card.
    etl("export", "triplets", "--out", str(tmp_path / "again"), "--license", "cc-by-4.0")
    assert (tmp_path / "again" / "triplet_dataset" / "README.md").read_bytes() == (
        tmp_path / "cc" / "triplet_dataset" / "README.md"
    ).read_bytes()


def test_an_export_after_the_inputs_changed_warns_and_names_the_mined_sources(etl, tmp_path: Path) -> None:
    """A new import and clean after mining: the export says the triplets predate them, and the card does not claim the new file."""
    etl("run", "--example")
    newer = tmp_path / "kengdic.jsonl"
    newer.write_text('{"source": "신경망", "target": "neural network"}\n', encoding="utf-8")
    etl("import", "pairs", str(newer))
    etl("clean")
    result = etl("export", "triplets", "--out", str(tmp_path / "stale"))
    warning = [line for line in result.output.splitlines() if line.strip().startswith("warning")]
    assert len(warning) == 1 and "import.pairs run" in warning[0] and "clean run" in warning[0]
    assert "run `etl mine`" in warning[0]
    _, body = front_matter(tmp_path / "stale" / "triplet_dataset" / "README.md")
    assert "example_pairs.jsonl" in body and "kengdic.jsonl" not in body
    assert "the inputs changed after mine run" in body
    etl("mine")
    fresh = etl("export", "triplets", "--out", str(tmp_path / "fresh"))
    assert "warning" not in fresh.output
    _, body = front_matter(tmp_path / "fresh" / "triplet_dataset" / "README.md")
    assert "kengdic.jsonl" in body and "the inputs changed" not in body
