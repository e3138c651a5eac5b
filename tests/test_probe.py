"""`etl probe`: an adapter trained on the triplets tells good negatives from bad, deterministically, everywhere shown.

The constructed vocabulary has Korean and English terms whose vectors share a meaning part (a
cluster centre plus a group offset) and carry term-specific noise, so an adapter that learns to
weigh meaning over noise retrieves a validation anchor's translation better than the raw vectors.
Negatives that are near-copies of the positive (another term with the same meaning) teach the
opposite, and must score below the untrained model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from etl.config import load
from etl.errors import ConfigError
from etl.warehouse import Warehouse
from tests.minedata import MODEL, insert

ARMS = ("untrained", "mined", "random")


def _korean(i: int) -> str:
    return "".join(chr(0xAC00 + (i * 7 + k * 131) % 11172) for k in range(3))


def _english(i: int, prefix: str = "term") -> str:
    return prefix + "".join(chr(ord("a") + (i // 26**k) % 26) for k in range(3))


def build(wh: Warehouse, groups: int = 300, dim: int = 48, noise: float = 0.8, twins: bool = False) -> dict[int, int]:
    """Pairs of a Korean and an English term per synonym group; with `twins`, an English near-synonym
    per group outside it (same meaning part, its own noise). Returns positive term_id -> its twin's."""
    rng = np.random.default_rng(7)
    meaning = dim // 3
    centres = rng.standard_normal((groups // 6, meaning))
    sense = centres[np.arange(groups) * (groups // 6) // groups] + 0.7 * rng.standard_normal((groups, meaning))
    sense /= np.linalg.norm(sense, axis=1, keepdims=True)

    def terms() -> np.ndarray:
        out = np.zeros((groups, dim))
        out[:, :meaning] = sense
        out[:, meaning:] = noise * rng.standard_normal((groups, dim - meaning)) / np.sqrt(dim - meaning)
        return out

    blocks = [terms(), terms()] + ([terms()] if twins else [])
    vecs = np.concatenate(blocks).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1, len(vecs) + 1, dtype=np.int64)
    texts = [_korean(i) for i in range(groups)] + [_english(i) for i in range(groups)]
    texts += [_english(i, "twin") for i in range(groups)] if twins else []
    pairs = [(int(ids[g]), int(ids[groups + g])) for g in range(groups)]
    group_of = {term: a for a, b in pairs for term in (a, b)}
    insert(wh, ids, texts, [t.casefold() for t in texts], vecs, pairs, group_of)
    wh.execute("UPDATE terms SET lang = CASE WHEN term_id <= ? THEN 'ko' ELSE 'en' END", [groups])
    twin_of = {int(ids[groups + g]): int(ids[2 * groups + g]) for g in range(groups)} if twins else {}
    twin_of.update({int(ids[g]): int(ids[2 * groups + g]) for g in range(groups)} if twins else {})
    return twin_of


def figures(warehouse_path: Path, run_id: int | None = None) -> dict[tuple[str, str, str], float]:
    """(arm, pool, metric) -> value of one probe run (the newest by default)."""
    with Warehouse.open(warehouse_path) as wh:
        run_id = run_id or wh.scalar("SELECT max(run_id) FROM probe_results")
        rows = wh.execute("SELECT arm, pool, metric, value FROM probe_results WHERE run_id = ?", [run_id]).fetchall()
    return {(arm, pool, metric): value for arm, pool, metric, value in rows}


@pytest.fixture
def mined(etl, warehouse_path: Path) -> Path:
    """The constructed vocabulary, mined with calibrated bands and split by group."""
    with Warehouse.open(warehouse_path) as wh:
        build(wh)
    etl("mine", "--model", MODEL, "--search", "exact", "--calibrate")
    return warehouse_path


def test_probe_lands_every_figure_and_is_deterministic(etl, mined: Path) -> None:
    out = etl("probe", "--loss", "triplet").output
    assert "untrained" in out and "mined vs random" in out and "target mrr@10" in out
    etl("probe", "--loss", "triplet")
    with Warehouse.open(mined) as wh:
        runs = [r for (r,) in wh.execute("SELECT DISTINCT run_id FROM probe_results ORDER BY 1").fetchall()]
        mine_run = wh.scalar("SELECT max(run_id) FROM triplets")
        assert wh.scalar("SELECT count(DISTINCT mine_run_id) FROM probe_results") == 1
        assert wh.scalar("SELECT max(mine_run_id) FROM probe_results") == mine_run
        params = json.loads(wh.scalar("SELECT params FROM runs WHERE run_id = ?", [runs[0]]))
    first, second = figures(mined, runs[0]), figures(mined, runs[1])
    assert len(first) == 3 * 2 * 3 and first == second
    assert params["probe_loss"] == "triplet" and params["probe_epochs"] == 3
    # The adapter learns: trained on the mined negatives it retrieves better than the raw vectors.
    assert first["mined", "target", "mrr@10"] > first["untrained", "target", "mrr@10"] + 0.03
    assert all(0.0 <= v <= 1.0 for v in first.values())


@pytest.mark.parametrize("loss", ["triplet", "mnrl"])
def test_mined_negatives_do_at_least_as_well_as_random_ones(etl, mined: Path, loss: str) -> None:
    etl("probe", "--loss", loss)
    got = figures(mined)
    assert got["mined", "target", "mrr@10"] >= got["random", "target", "mrr@10"] - 0.01
    assert got["mined", "mixed", "mrr@10"] > got["untrained", "mixed", "mrr@10"]


def test_negatives_that_copy_the_positive_score_below_the_untrained_model(etl, warehouse_path: Path) -> None:
    with Warehouse.open(warehouse_path) as wh:
        twin_of = build(wh, twins=True)
    etl("mine", "--model", MODEL, "--search", "exact", "--calibrate")
    with Warehouse.open(warehouse_path) as wh:
        # Every negative becomes the positive's twin: a term with the positive's meaning, outside its group.
        wh.con.executemany(
            "UPDATE triplets SET negative_id = ? WHERE positive_id = ?", [(t, p) for p, t in twin_of.items()]
        )
    etl("probe", "--loss", "triplet")
    got = figures(warehouse_path)
    for pool in ("target", "mixed"):
        assert got["mined", pool, "mrr@10"] < got["untrained", pool, "mrr@10"] - 0.05
        assert got["mined", pool, "mrr@10"] < got["random", pool, "mrr@10"]


@pytest.mark.parametrize("side", ["train", "validation"])
def test_an_empty_side_skips_with_a_reason(etl, mined: Path, side: str) -> None:
    other = "validation" if side == "train" else "train"
    with Warehouse.open(mined) as wh:
        wh.execute("UPDATE triplets SET split = ?", [other])
    out = etl("probe").output
    assert "probe: skipped" in out and f"the {side} side has no triplets" in out
    with Warehouse.open(mined) as wh:
        assert wh.scalar("SELECT count(*) FROM probe_results") == 0
        counts = json.loads(wh.scalar("SELECT counts FROM runs WHERE step = 'probe'"))
    assert f"the {side} side" in counts["skipped"]


def test_a_vocabulary_over_the_budget_skips(etl, mined: Path) -> None:
    out = etl("probe", "--max-terms", "100").output
    assert "probe: skipped" in out and "over probe_max_terms (100)" in out
    assert figures(mined) == {}


def test_vectors_gone_since_mining_skip(etl, mined: Path) -> None:
    with Warehouse.open(mined) as wh:
        wh.execute("DELETE FROM term_embeddings")
    out = etl("probe").output
    assert "probe: skipped" in out and f"no term has a vector of the mining model {MODEL}" in out
    assert figures(mined) == {}


def test_without_triplets_the_probe_says_what_to_run(etl) -> None:
    result = etl("probe", ok=False)
    assert result.exit_code != 0 and "no triplets to probe; run `etl mine` first" in result.output


def test_samples_bound_the_work(etl, mined: Path) -> None:
    out = etl("probe", "--triplets", "200", "--anchors", "10").output
    assert "probe: 3 arms on 10 validation anchors" in out and "200 of " in out
    with Warehouse.open(mined) as wh:
        counts = json.loads(wh.scalar("SELECT counts FROM runs WHERE step = 'probe'"))
    assert counts["trained_on"] == 200 and counts["anchors_scored"] == 10 and counts["queries"]["mixed"] == 10


def test_export_card_and_report_carry_the_figures_of_these_triplets_only(etl, mined: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    etl("export", "triplets", "--out", str(out))
    stats = json.loads((out / "data_preparation_stats.json").read_text(encoding="utf-8"))
    assert stats["probe"] is None
    assert "No probe ran on these triplets" in (out / "triplet_dataset" / "README.md").read_text(encoding="utf-8")

    etl("probe")
    got = figures(mined)
    etl("export", "triplets", "--out", str(out))
    stats = json.loads((out / "data_preparation_stats.json").read_text(encoding="utf-8"))
    probe = stats["probe"]
    assert list(probe["arms"]) == list(ARMS)
    for (arm, pool, metric), value in got.items():
        assert probe["arms"][arm][pool][metric] == round(value, 4)
    lift = got["mined", "target", "mrr@10"] - got["random", "target", "mrr@10"]
    assert probe["mrr@10_lift_of_mined"]["over_random"]["target"] == pytest.approx(lift, abs=1e-3)
    card = (out / "triplet_dataset" / "README.md").read_text(encoding="utf-8")
    row = f"| mined | {got['mined', 'target', 'mrr@10']:.3f} | {got['mined', 'target', 'recall@1']:.3f} |"
    assert "## Downstream probe" in card and row in card

    # A re-split makes those figures someone else's: they are no longer shown as the triplets'.
    etl("split", "--train-ratio", "0.8")
    etl("export", "triplets", "--out", str(out))
    assert json.loads((out / "data_preparation_stats.json").read_text(encoding="utf-8"))["probe"] is None


def test_report_shows_the_probe(etl, mined: Path, tmp_path: Path) -> None:
    try:
        import plotly  # noqa: F401
    except ImportError:
        if _ci():
            pytest.fail("etl report needs plotly (CI must run this test)", pytrace=False)
        pytest.skip('etl report needs plotly: run `pip install -e ".[report]"`')
    page = tmp_path / "report.html"
    etl("report", "--out", str(page))
    assert "No probe of these triplets" in page.read_text(encoding="utf-8")
    etl("probe")
    got = figures(mined)
    etl("report", "--out", str(page))
    html = page.read_text(encoding="utf-8")
    assert 'id="probe"' in html and "No probe of these triplets" not in html
    assert f'<td>mined</td><td class="num">{got["mined", "target", "mrr@10"]:.3f}</td>' in html


def test_run_probes_the_example_before_exporting(etl, warehouse_path: Path) -> None:
    result = etl("run", "--example")
    assert _outcome(result.output, "probe") == "ran"
    stats_file = warehouse_path.parent / "exports" / "triplets" / "data_preparation_stats.json"
    probe = json.loads(stats_file.read_text(encoding="utf-8"))["probe"]
    assert probe is not None and set(probe["arms"]) == set(ARMS)
    assert len(figures(warehouse_path)) == 18
    assert _outcome(etl("run", "--example").output, "probe") == "skipped"
    # A new probe of the same triplets (another loss) is exported by the next run.
    rerun = etl("run", "--example", env={"ETL_PROBE_LOSS": "triplet"}).output
    assert _outcome(rerun, "probe") == _outcome(rerun, "export") == "ran"
    probe = json.loads(stats_file.read_text(encoding="utf-8"))["probe"]
    assert probe["loss"] == "triplet" and {k: round(v, 4) for k, v in figures(warehouse_path).items()} == {
        (arm, pool, metric): value
        for arm, pools in probe["arms"].items()
        for pool, values in pools.items()
        for metric, value in values.items()
    }


def test_run_without_the_probe(etl, warehouse_path: Path) -> None:
    result = etl("run", "--example", "--no-probe")
    assert "probe: off" in result.output
    assert figures(warehouse_path) == {}
    stats_file = warehouse_path.parent / "exports" / "triplets" / "data_preparation_stats.json"
    assert json.loads(stats_file.read_text(encoding="utf-8"))["probe"] is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ETL_PROBE_LOSS": "cosine"}, "probe_loss must be one of mnrl, triplet"),
        ({"ETL_PROBE_EPOCHS": "0"}, "probe_epochs must be a whole number 1 <= x <= 100,"),
        ({"ETL_PROBE_ANCHORS": "0"}, "probe_anchors must be a whole number 1 <= x <="),
    ],
)
def test_settings_are_checked(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(env=env)


def _outcome(output: str, stage: str) -> str | None:
    """A stage's outcome in `etl run`'s closing table."""
    rows = [line.split() for line in output.splitlines()]
    return next((row[1] for row in rows if len(row) >= 2 and row[0] == stage and row[1] in ("ran", "skipped")), None)


def _ci() -> bool:
    import os

    return os.environ.get("CI", "").lower() not in ("", "0", "false")
