"""The Python API: the whole pipeline gives the CLI's tables, settings resolve as for commands, errors match."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import etl
from etl.errors import ConfigError, EtlError, ReadOnlyViolation
from etl.steps import pipeline

COMPARED = ("terms", "synonym_pairs", "synonym_groups", "term_embeddings", "negatives", "triplets")
EXPORTS = (
    "train.parquet",
    "validation.parquet",
    "train_triplets.jsonl",
    "val_triplets.jsonl",
    "data_preparation_stats.json",
)


def content(wh: etl.Warehouse, table: str) -> list[tuple[Any, ...]]:
    """A table's rows without the run ids (which count every run, so differ between warehouses), sorted."""
    frame = wh.table(table)
    frame = frame.select([name for name in frame.columns if "run_id" not in name])
    return sorted(frame.rows(), key=repr)


def cli_tables(warehouse_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with etl.open(warehouse_path, read_only=True) as wh:
        return {name: content(wh, name) for name in COMPARED}


def test_run_on_the_example_lands_what_the_cli_lands(etl_cli, tmp_path: Path) -> None:
    etl_cli("run", "--example")
    with etl.open(tmp_path / "api" / "etl.duckdb") as wh:
        result = etl.run(wh, example=True)
        assert {stage: o["status"] for stage, o in result.as_dict().items()} == dict.fromkeys(
            ("import", "clean", "embed", "index", "mine", "split", "probe", "export"), "ran"
        )
        ours = {name: content(wh, name) for name in COMPARED}
        triplets = wh.table("triplets")
    theirs = cli_tables(etl_cli.warehouse_path)
    assert all(ours[name] for name in COMPARED)
    assert ours == theirs
    exported = pl.read_parquet(tmp_path / "api" / "exports" / "triplets" / "train.parquet")
    assert exported.height == triplets.filter(pl.col("split") == "train").height
    for name in EXPORTS:
        assert (tmp_path / "api" / "exports" / "triplets" / name).is_file(), name


def test_steps_one_by_one_match_the_commands(etl_cli, tmp_path: Path) -> None:
    """The triplet notebook's cells as API calls, against the same commands in another warehouse."""
    pairs, terms = pipeline.EXAMPLE_PAIRS, pipeline.EXAMPLE_TERMS
    for args in (
        ("import", "pairs", str(pairs)),
        ("import", "terms", str(terms)),
        ("clean",),
        ("embed", "--embedder", "hash", "--dim", "128"),
        ("index",),
        ("mine", "--search", "exact", "--negatives", "3", "--easy", "0.2,0.4"),
        ("split", "--split-by", "triplet", "--train-ratio", "0.8"),
        ("export", "triplets", "--out", str(tmp_path / "cli-out")),
    ):
        etl_cli(*args)
    with etl.open(tmp_path / "api" / "etl.duckdb") as wh:
        landed = etl.import_pairs(wh, pairs)
        etl.import_terms(wh, terms)
        etl.clean(wh)
        embedded = etl.embed(wh, embedder="hash", dim=128)
        etl.index(wh)
        etl.mine(wh, search="exact", negatives=3, easy=(0.2, 0.4))
        etl.split(wh, by="triplet", train_ratio=0.8)
        etl.export_triplets(wh, out=tmp_path / "api-out")
        ours = {name: content(wh, name) for name in COMPARED}
        models = wh.sql("SELECT DISTINCT model FROM term_embeddings")["model"].to_list()
    assert landed.counts["rows"] == len(pairs.read_text(encoding="utf-8").splitlines())
    assert embedded.title == "embed: hash -> hash-128" and models == ["hash-128"]
    assert ours == cli_tables(etl_cli.warehouse_path)
    for name in ("train.parquet", "validation.parquet"):
        assert (
            pl.read_parquet(tmp_path / "api-out" / name)
            .sort(pl.all())
            .equals(pl.read_parquet(tmp_path / "cli-out" / name).sort(pl.all()))
        )


def test_settings_resolve_defaults_then_toml_then_env_then_keywords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "etl.toml").write_text("seed = 7\n[mine]\nnegatives = 3\ntop_k = 20\n", encoding="utf-8")
    monkeypatch.setenv("ETL_MINE_NEGATIVES", "2")
    with etl.open(tmp_path / "w" / "etl.duckdb") as wh:
        settings = wh.settings(mine_top_k=10)
        assert (settings.seed, settings.mine_negatives, settings.mine_top_k, settings.mine_search) == (7, 2, 10, "auto")
        assert settings.warehouse == str(tmp_path / "w" / "etl.duckdb")
        etl.run(wh, example=True, only=None)
        etl.mine(wh, negatives=1, top_k=None)
        params = json.loads(
            wh.sql("SELECT params FROM runs WHERE step = 'mine' ORDER BY run_id DESC LIMIT 1")["params"][0]
        )
    assert (params["mine_negatives"], params["mine_top_k"], params["seed"]) == (1, 20, 7)


def test_open_without_a_path_uses_the_configured_warehouse(tmp_path: Path) -> None:
    (tmp_path / "other.toml").write_text(f"warehouse = '{tmp_path / 'elsewhere' / 'w.duckdb'}'\n", encoding="utf-8")
    with etl.open(config=tmp_path / "other.toml") as wh:
        assert wh.path == tmp_path / "elsewhere" / "w.duckdb"
        assert "runs" in wh.tables()
    with etl.open() as wh:
        assert wh.path == Path("warehouse/etl.duckdb")


def test_tables_and_queries_come_back_as_polars(tmp_path: Path) -> None:
    with etl.open(tmp_path / "etl.duckdb") as wh:
        etl.import_terms(wh, pipeline.EXAMPLE_TERMS)
        etl.clean(wh)
        terms = wh.table("terms")
        korean = wh.sql("SELECT text FROM terms WHERE lang = ? ORDER BY text", ["ko"])
        count = wh.scalar("SELECT count(*) FROM terms")
    assert isinstance(terms, pl.DataFrame) and terms.height == count > 0
    assert terms.schema["origins"] == pl.List(pl.String)
    assert korean["text"].to_list() == sorted(terms.filter(pl.col("lang") == "ko")["text"].to_list())


def test_unknown_keywords_name_the_valid_ones(wh_api: etl.Warehouse) -> None:
    with pytest.raises(
        ConfigError, match=r"mine\(\) has no setting 'serch'; it takes model, shard, out, merge, ray, .*easy, .*search"
    ) as err:
        etl.mine(wh_api, serch="exact")
    assert "`etl config` lists them" in str(err.value)
    with pytest.raises(ConfigError, match=r"clean\(\) has no setting 'negatives'"):
        etl.clean(wh_api, negatives=3)
    with pytest.raises(ConfigError, match="given mine_search twice"):
        etl.mine(wh_api, search="exact", mine_search="ann")
    with pytest.raises(ConfigError, match="runs on the warehouse it is given"):
        etl.clean(wh_api, warehouse="other.duckdb")


def test_errors_are_the_commands_errors(etl_cli, tmp_path: Path) -> None:
    def cli_error(*args: str) -> str:
        result = etl_cli(*args, ok=False)
        assert result.exit_code != 0
        return result.output.strip().removeprefix("error: ")

    with etl.open(tmp_path / "api.duckdb") as wh:
        with pytest.raises(ConfigError) as bad_band:
            etl.mine(wh, easy="0.9,0.1")
        assert str(bad_band.value) == cli_error("mine", "--easy", "0.9,0.1")
        with pytest.raises(EtlError) as unmined:
            etl.export_triplets(wh)
        assert type(unmined.value).__name__ and str(unmined.value) == cli_error("export", "triplets")
        with pytest.raises(EtlError) as missing:
            etl.import_pairs(wh, tmp_path / "nope.jsonl")
        assert str(missing.value) == cli_error("import", "pairs", str(tmp_path / "nope.jsonl"))
        with pytest.raises(ReadOnlyViolation):
            wh.sql("DELETE FROM runs")
        with pytest.raises(EtlError, match=r"there is no table 'triplet' in .*; its tables are .*triplets"):
            wh.table("triplet")


def test_version_and_a_light_import() -> None:
    assert etl.__version__ == version("ko-synonym-etl")
    code = (
        "import sys, etl; heavy = {'duckdb', 'polars', 'numpy', 'click'} & set(sys.modules); "
        "print(sorted(heavy), callable(etl.open), 'duckdb' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "True", "True"]  # nothing heavy until the API is touched; then it loads


def test_cli_version_is_the_distributions(etl_cli) -> None:
    assert etl_cli("--version").output.strip() == f"etl, version {version('ko-synonym-etl')}"


@pytest.fixture
def etl_cli(etl):  # type: ignore[no-untyped-def]
    """The CLI against tests' warehouse (tmp_path/warehouse/etl.duckdb)."""
    return etl


@pytest.fixture
def wh_api(tmp_path: Path):  # type: ignore[no-untyped-def]
    with etl.open(tmp_path / "api.duckdb") as wh:
        yield wh


def test_a_failing_query_is_one_sentence(wh_api: etl.Warehouse) -> None:
    with pytest.raises(EtlError, match=r"^query failed: .*no_such_column"):
        wh_api.sql("SELECT no_such_column FROM runs")
    with pytest.raises(EtlError, match=r"^query failed: "):
        wh_api.sql("SELECT CAST('x' AS INTEGER)")
    assert wh_api.sql("SELECT 1 AS a; SELECT 2 AS b").to_dicts() == [{"b": 2}]


def test_a_step_on_a_read_only_handle_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    etl.open(path).close()
    with etl.open(path, read_only=True) as wh:
        with pytest.raises(EtlError, match=r"clean writes to the warehouse, which was opened read-only; open it with"):
            etl.clean(wh)
        assert wh.table("runs").height == 0


def test_a_closed_handle_says_so(tmp_path: Path) -> None:
    wh = etl.open(tmp_path / "w.duckdb")
    wh.close()
    for use in (lambda: wh.table("runs"), lambda: wh.sql("SELECT 1"), lambda: etl.clean(wh), wh.tables):
        with pytest.raises(EtlError, match=r"is closed; open it again with etl.open"):
            use()
