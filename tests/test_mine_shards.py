"""Sharded mining: `etl mine --shard I/N` parts merged with `--merge` land what a plain `etl mine` lands, byte for byte."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from etl.steps.mine import shards as mine_shards
from etl.warehouse import Warehouse
from tests import minedata
from tests.conftest import Etl

TABLES = {
    "negatives": "anchor_id, negative_id",
    "triplets": "anchor_id, positive_id, negative_id",
    "anchor_bands": "anchor_id, band",
}
# The dataset card names the mine run's id, which differs when the shards' runs were recorded first.
CARD_FILES = {"README.md", "dataset_card.json"}


def make_world(path: Path, **kwargs: object) -> None:
    """A synthetic vocabulary with synonym groups in a fresh warehouse at `path`."""
    with Warehouse.open(path) as wh:
        minedata.build(wh, **kwargs)  # type: ignore[arg-type]


def dump(path: Path, out: Path) -> dict[str, bytes]:
    """Each mined table (less run_id, in the order it landed) as Parquet bytes, and every exported file's bytes."""
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    with Warehouse.open(path) as wh:
        for table in TABLES:
            target = out / f"{table}.parquet"
            wh.execute(f"COPY (SELECT * EXCLUDE (run_id) FROM {table}) TO '{target}' (FORMAT parquet)")
            files[f"table/{table}"] = target.read_bytes()
    Etl(path)("export", "triplets", "--out", str(out / "export"))
    for file in sorted((out / "export").rglob("*")):
        if file.is_file() and file.name not in CARD_FILES:
            files[f"export/{file.relative_to(out / 'export')}"] = file.read_bytes()
    return files


def same_but_lineage(got: dict[str, bytes], plain: dict[str, bytes]) -> None:
    """Equal bytes, except the stats file's lineage (run ids) when both runs share one warehouse."""
    assert got.keys() == plain.keys()
    for name in plain:
        if name.endswith("data_preparation_stats.json"):
            a, b = json.loads(got[name]), json.loads(plain[name])
            assert a.pop("lineage")["mine_run_id"] != b.pop("lineage")["mine_run_id"]
            assert a == b, name
        else:
            assert got[name] == plain[name], name


@pytest.fixture
def plain(tmp_path: Path) -> dict[str, bytes]:
    """What a single-process `etl mine --search exact` lands and exports on the world."""
    path = tmp_path / "plain" / "etl.duckdb"
    make_world(path)
    Etl(path)("mine", "--search", "exact")
    return dump(path, tmp_path / "plain-dump")


@pytest.mark.parametrize("shards", [1, 2, 3, 4])
def test_merged_shards_equal_a_plain_run_byte_for_byte(tmp_path: Path, plain: dict[str, bytes], shards: int) -> None:
    path = tmp_path / "sharded" / "etl.duckdb"
    make_world(path)
    etl = Etl(path)
    parts = tmp_path / "parts"
    for i in range(shards):
        result = etl("mine", "--search", "exact", "--shard", f"{i}/{shards}", "--out", str(parts))
        assert f"mine shard {i}/{shards}" in result.output
    with Warehouse.open(path) as wh:
        assert wh.scalar("SELECT count(*) FROM negatives") == 0  # shards only read the warehouse
    etl("mine", "--merge", str(parts))
    merged = dump(path, tmp_path / "merged-dump")
    assert merged.keys() == plain.keys() and any(k.startswith("export/") for k in merged)
    for name in plain:
        assert merged[name] == plain[name], name
    with Warehouse.open(path) as wh:
        runs = wh.execute("SELECT step, status, params, counts FROM runs ORDER BY run_id").fetchall()
    shard_runs = [
        (json.loads(p), json.loads(c)) for step, status, p, c in runs if step == "mine_shard" and status == "ok"
    ]
    assert sorted(p["shard"] for p, _ in shard_runs) == list(range(shards))
    mine_run = [json.loads(c) for step, status, _, c in runs if step == "mine" and status == "ok"][-1]
    assert mine_run["shards"]["count"] == shards
    assert sum(c["anchors"] for _, c in shard_runs) == mine_run["anchors"]
    assert {c["merged_by"] for _, c in shard_runs} == {runs_id(path, "mine")}


def runs_id(path: Path, step: str) -> int:
    with Warehouse.open(path) as wh:
        return int(wh.scalar("SELECT max(run_id) FROM runs WHERE step = ? AND status = 'ok'", [step]))


def test_shards_split_the_anchors_by_a_hash_of_their_id() -> None:
    ids = np.arange(1, 20_001, dtype=np.int64) * 10
    assigned = mine_shards.assignment(ids, 4)
    assert set(np.unique(assigned)) == {0, 1, 2, 3}
    assert np.bincount(assigned).min() > 4_500  # about a quarter each
    # An anchor's shard is its own: the same id gets the same shard in any company.
    assert (mine_shards.assignment(ids[::7], 4) == assigned[::7]).all()


@pytest.fixture
def sharded(tmp_path: Path) -> tuple[Etl, Path]:
    """A world mined as three shards (not merged yet), with its previous plain run landed."""
    path = tmp_path / "w" / "etl.duckdb"
    make_world(path)
    etl = Etl(path)
    etl("mine", "--search", "exact")
    parts = tmp_path / "parts"
    for i in range(3):
        etl("mine", "--search", "exact", "--shard", f"{i}/3", "--out", str(parts))
    return etl, parts


def landed(etl: Etl) -> tuple[int, int]:
    """The mine run the triplets come from, and how many there are."""
    with Warehouse.open(etl.warehouse_path) as wh:
        return wh.scalar("SELECT max(run_id) FROM triplets"), wh.scalar("SELECT count(*) FROM triplets")


def refused(etl: Etl, parts: Path, *options: str) -> str:
    """Merge, expecting a one-line refusal that leaves the landed rows alone."""
    before = landed(etl)
    result = etl("mine", "--merge", str(parts), *options, ok=False)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert landed(etl) == before
    return lines[0]


def test_a_merge_with_a_missing_part_is_refused(sharded: tuple[Etl, Path]) -> None:
    etl, parts = sharded
    shutil.rmtree(parts / mine_shards.part_name(1, 3))
    assert "lacks shard 1/3 of 3" in refused(etl, parts)


def test_a_half_written_part_counts_as_missing(sharded: tuple[Etl, Path]) -> None:
    etl, parts = sharded
    (parts / mine_shards.part_name(2, 3) / mine_shards.MANIFEST).unlink()
    assert "lacks shard 2/3" in refused(etl, parts)


def test_a_damaged_part_is_refused(sharded: tuple[Etl, Path]) -> None:
    etl, parts = sharded
    target = parts / mine_shards.part_name(0, 3) / "negatives.parquet"
    target.write_bytes(target.read_bytes()[:-20] + b"\0" * 20)
    assert "not the file its manifest describes" in refused(etl, parts)


def test_a_stale_part_is_refused(sharded: tuple[Etl, Path]) -> None:
    etl, parts = sharded
    with Warehouse.open(etl.warehouse_path) as wh:  # the vectors change after the shards ran
        wh.execute("UPDATE term_embeddings SET vec = list_reverse(vec) WHERE term_id = 10")
    message = refused(etl, parts)
    assert "another state of the warehouse" in message and "vectors" in message


def test_a_part_mined_with_other_settings_is_refused(sharded: tuple[Etl, Path], tmp_path: Path) -> None:
    etl, parts = sharded
    etl("mine", "--search", "exact", "--negatives", "3", "--shard", "1/3", "--out", str(parts))
    message = refused(etl, parts)
    assert "other settings" in message and "negatives 3 there, 5 here" in message
    # The merge's own settings must agree with the shards' too.
    etl("mine", "--search", "exact", "--shard", "1/3", "--out", str(parts))
    assert "other settings" in refused(etl, parts, "--seed", "7")


def test_a_foreign_part_is_refused(sharded: tuple[Etl, Path], tmp_path: Path) -> None:
    etl, parts = sharded
    other = tmp_path / "other" / "etl.duckdb"
    make_world(other, seed=5)
    foreign = tmp_path / "foreign"
    Etl(other)("mine", "--search", "exact", "--shard", "2/3", "--out", str(foreign))
    shutil.rmtree(parts / mine_shards.part_name(2, 3))
    shutil.copytree(foreign / mine_shards.part_name(2, 3), parts / mine_shards.part_name(2, 3))
    assert "another state of the warehouse" in refused(etl, parts)


def test_mixed_shard_counts_are_refused(sharded: tuple[Etl, Path]) -> None:
    etl, parts = sharded
    etl("mine", "--search", "exact", "--shard", "0/2", "--out", str(parts))
    assert "mixes parts of 2 and 3 shards" in refused(etl, parts)


def test_a_shard_needs_a_resolved_search_mode(etl: Etl, warehouse_path: Path, tmp_path: Path) -> None:
    make_world(warehouse_path)
    result = etl("mine", "--shard", "0/2", "--out", str(tmp_path / "p"), ok=False)
    assert result.exit_code != 0 and "--search exact or --search ann" in result.output
    result = etl("mine", "--search", "exact", "--shard", "2/2", "--out", str(tmp_path / "p"), ok=False)
    assert "between 0 and N-1" in result.output
    result = etl("mine", "--search", "exact", "--shard", "0/2", ok=False)
    assert "out" in result.output


def test_ray_flags_say_what_to_install_without_ray(
    etl: Etl, warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from etl import install_hint

    make_world(warehouse_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    for command in (["mine", "--ray"], ["run", "--example", "--ray"]):
        result = etl(*command, ok=False)
        assert result.exit_code != 0 and install_hint("ray") in result.output, result.output


def test_ann_shards_merged_equal_a_plain_ann_run(tmp_path: Path) -> None:
    """With a given (deliberately coarse) index: the ANN path's walks and escalations are per anchor too."""
    from usearch.index import Index

    from etl import config, vectors
    from etl.steps import mine

    def rows(wh: Warehouse) -> dict[str, list[tuple]]:
        return {t: wh.execute(f"SELECT * EXCLUDE (run_id) FROM {t} ORDER BY {k}").fetchall() for t, k in TABLES.items()}

    path = tmp_path / "w" / "etl.duckdb"
    make_world(path, n_terms=900, n_groups=90)
    settings = config.load(overrides={"mine_search": "ann", "mine_top_k": 8}).settings
    with Warehouse.open(path) as wh:
        ids, vecs = vectors.load(wh, minedata.MODEL)
        index = Index(
            ndim=vecs.shape[1], metric="cos", dtype="f16", connectivity=4, expansion_add=8, expansion_search=8
        )
        index.add(ids.astype(np.uint64), vecs, threads=1)
        mine.run(wh, settings, index=index)
        counts = wh.last_ok_run("mine")["counts"]
        assert counts["search"] == "ann" and counts["found"]["search"] > 0
        plain = rows(wh)
        for i in range(3):
            mine_shards.shard(wh, settings, f"{i}/3", tmp_path / "parts", index=index)
        wh.execute("DELETE FROM negatives")
        mine_shards.merge(wh, settings, tmp_path / "parts")
        assert rows(wh) == plain


def test_ann_shards_through_the_cli_use_the_saved_index(etl: Etl, warehouse_path: Path, tmp_path: Path) -> None:
    make_world(warehouse_path)
    etl("index")
    etl("mine", "--search", "ann")
    plain = dump(warehouse_path, tmp_path / "plain")
    for i in range(2):
        etl("mine", "--search", "ann", "--shard", f"{i}/2", "--out", str(tmp_path / "parts"))
    etl("mine", "--merge", str(tmp_path / "parts"))  # --search auto takes the shards' mode
    with Warehouse.open(warehouse_path) as wh:
        assert wh.last_ok_run("mine")["counts"]["search"] == "ann"
    same_but_lineage(dump(warehouse_path, tmp_path / "merged"), plain)


def test_shards_run_side_by_side_on_one_warehouse(etl: Etl, warehouse_path: Path, tmp_path: Path) -> None:
    """A shard only reads: it opens the warehouse while another process holds it read-only."""
    import subprocess
    import sys

    make_world(warehouse_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print('ready', flush=True); sys.stdin.read()",
            str(warehouse_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        etl("mine", "--search", "exact", "--shard", "0/2", "--out", str(tmp_path / "parts"))
        assert "busy" in etl("mine", "--merge", str(tmp_path / "parts"), ok=False).output  # writing must wait
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert (tmp_path / "parts" / mine_shards.part_name(0, 2) / mine_shards.MANIFEST).exists()


def test_calibrated_bands_are_the_same_in_every_shard(etl: Etl, warehouse_path: Path, tmp_path: Path) -> None:
    make_world(warehouse_path)
    etl("mine", "--search", "exact", "--calibrate", "--percentiles", "0.5,0.9,0.97,0.999")
    plain = dump(warehouse_path, tmp_path / "plain")
    for i in range(3):
        etl(
            "mine",
            "--search",
            "exact",
            "--calibrate",
            "--percentiles",
            "0.5,0.9,0.97,0.999",
            "--shard",
            f"{i}/3",
            "--out",
            str(tmp_path / "parts"),
        )
    assert "other settings" in etl("mine", "--merge", str(tmp_path / "parts"), ok=False).output  # uncalibrated here
    etl("mine", "--merge", str(tmp_path / "parts"), "--calibrate", "--percentiles", "0.5,0.9,0.97,0.999")
    same_but_lineage(dump(warehouse_path, tmp_path / "merged"), plain)


@pytest.mark.parametrize("language", ["anchor", "mix"])
def test_merged_shards_equal_a_plain_run_under_a_language_policy(tmp_path: Path, language: str) -> None:
    """Each anchor's pools, quotas per pool and populations per pool travel in the parts."""
    landed = {}
    for name in ("plain", "sharded"):
        path = tmp_path / name / "etl.duckdb"
        with Warehouse.open(path) as wh:
            minedata.korean(wh, minedata.build(wh))
        etl = Etl(path)
        if name == "plain":
            etl("mine", "--search", "exact", "--language", language)
        else:
            for i in range(3):
                etl(
                    "mine",
                    "--search",
                    "exact",
                    "--language",
                    language,
                    "--shard",
                    f"{i}/3",
                    "--out",
                    str(tmp_path / "parts"),
                )
            etl("mine", "--merge", str(tmp_path / "parts"), "--language", language)
        landed[name] = dump(path, tmp_path / f"{name}-dump")
        with Warehouse.open(path) as wh:
            pools = {p for (p,) in wh.execute("SELECT DISTINCT pool FROM anchor_bands").fetchall()}
        assert pools == {"ko", "en"}, pools
    assert landed["sharded"].keys() == landed["plain"].keys()
    for name in landed["plain"]:
        assert landed["sharded"][name] == landed["plain"][name], name
