"""Steps return data: step, run_id, counts, warnings and outputs, read by fields; the lines are display only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import etl
from etl.output import StepResult
from etl.steps.pipeline import stages


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse the example pipeline ran on, its exports beside it."""
    path = tmp_path_factory.mktemp("results") / "etl.duckdb"
    with etl.open(path) as wh:
        etl.run(wh, example=True)
    return path


def recorded(wh: etl.Warehouse, run_id: int | None) -> tuple[str, dict]:
    step, counts = wh.sql("SELECT step, counts FROM runs WHERE run_id = ?", [run_id]).row(0)
    return step, json.loads(counts)


def test_each_step_returns_its_run_and_the_counts_that_run_recorded(example: Path, tmp_path: Path) -> None:
    with etl.open(example) as wh:
        results = [
            etl.clean(wh),
            etl.embed(wh, embedder="hash"),
            etl.index(wh),
            etl.mine(wh, search="exact"),
            etl.split(wh),
            etl.probe(wh, epochs=1),
            etl.export_triplets(wh, out=tmp_path / "triplets"),
            etl.export_synonyms(wh, out=tmp_path / "synonyms.txt"),
        ]
        for result in results:
            assert isinstance(result, StepResult)
            step, counts = recorded(wh, result.run_id)
            assert result.step == step
            # The result's figures are the run's (the probe adds its figures, stored in probe_results).
            assert {k: v for k, v in result.as_dict()["counts"].items() if k != "figures"} == counts
        mined = results[3]
        triplets = wh.sql("SELECT count(*) AS n FROM triplets")["n"][0]
        negatives = wh.sql("SELECT count(*) AS n FROM negatives")["n"][0]
    assert mined.counts["triplets"] == triplets and mined.counts["negatives"] == negatives
    assert results[4].counts["train"] + results[4].counts["validation"] == triplets
    probe = results[5]
    assert set(probe.counts["figures"]) == {"untrained", "mined", "random"}
    assert 0 <= probe.counts["figures"]["mined"]["target"]["mrr@10"] <= 1
    assert results[6].outputs == [tmp_path / "triplets"] and results[7].outputs == [tmp_path / "synonyms.txt"]
    assert all(path.exists() for result in results for path in result.outputs)
    # The hash embedder's cosines stay low: the hard band is empty for most anchors, and mine says so.
    assert mined.warnings == mined.counts["warnings"] and "hard band" in mined.warnings[0]
    assert all(not result.warnings for result in results if result is not mined)
    json.dumps([result.as_dict() for result in results])  # plain values, for scripts and notebooks


def test_the_pipeline_hands_back_every_stage_result(example: Path) -> None:
    with etl.open(example) as wh:
        run = etl.run(wh, example=True, start="mine")
        results = run.results()
        assert list(results) == ["mine", "split", "probe", "export"]
        assert results["mine"].counts["triplets"] == wh.sql("SELECT count(*) AS n FROM triplets")["n"][0]
    export = results["export"]
    assert set(export.counts) == {"export.triplets", "export.synonyms"}
    assert export.counts["export.triplets"]["train"] == results["split"].counts["train"]
    assert [path.name for path in export.outputs] == ["triplets", "synonyms.txt"]


def test_a_warning_is_a_field_as_well_as_a_line(example: Path, tmp_path: Path) -> None:
    with etl.open(example) as wh:
        etl.mine(wh, search="exact")
        etl.clean(wh, max_length=20)  # the triplets now come from inputs that have changed since
        exported = etl.export_triplets(wh, out=tmp_path / "stale")
    assert len(exported.warnings) == 1 and "changed its inputs since" in exported.warnings[0]
    assert ("warning", exported.warnings[0]) in exported.lines


def test_decisions_read_counts_never_labels(tmp_path: Path) -> None:
    """The pipeline treats synthesis as unfinished by its `failed` count, whatever the lines say."""
    with etl.open(tmp_path / "etl.duckdb") as wh:
        inputs = stages.Inputs(out=tmp_path / "exports")
        synth = stages.plan(wh, wh.settings(), inputs)[0]
    assert synth.name == "synth"
    failed = StepResult("synth", step="synth", counts={"failed": 2}).add("failed", 0)
    finished = StepResult("synth", step="synth", counts={"failed": 0}).add("failed", 2)
    assert not synth.finished(failed) and synth.finished(finished)


def test_render_is_the_title_and_aligned_lines() -> None:
    result = StepResult("mine: 3 triplets", step="mine", run_id=7, counts={"triplets": 3})
    result.add("negatives", 1234).add("  easy", "1 (quota 1)").warn("look")
    assert result.render() == ("mine: 3 triplets\n  negatives  1,234\n    easy     1 (quota 1)\n  warning    look")
    assert result.as_dict() == {
        "step": "mine",
        "run_id": 7,
        "counts": {"triplets": 3},
        "warnings": ["look"],
        "outputs": [],
    }
