"""`etl mine --ray` on a local 2-CPU Ray: the same bytes as a plain `etl mine`, also when a worker dies mid-task.

One Ray session serves the whole module (starting Ray takes seconds). Install with
`pip install -e ".[ray]"`; without it these tests skip locally and fail in CI.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etl import api
from tests import minedata
from tests.conftest import Etl
from tests.test_mine_shards import dump, make_world, same_but_lineage

pytestmark = pytest.mark.ray
INSTALL = 'pip install -e ".[ray]"'


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    """A local Ray with 2 CPUs for the module, shut down after it."""
    if importlib.util.find_spec("ray") is None:
        message = f"the Ray tests need ray: run `{INSTALL}`"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{message} (CI must run them, so this is a failure, not a skip)", pytrace=False)
        pytest.skip(message)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """What a single-process `etl mine --search exact` lands and exports on the test world."""
    root = tmp_path_factory.mktemp("plain")
    make_world(root / "etl.duckdb")
    Etl(root / "etl.duckdb")("mine", "--search", "exact")
    return dump(root / "etl.duckdb", root / "dump")


def mine_counts(path: Path) -> dict[str, Any]:
    """The counts of the last successful mine run."""
    with api.open(path) as wh:
        return wh.last_ok_run("mine")["counts"]  # type: ignore[index]


@pytest.mark.parametrize("shards,shared", [(1, "store"), (3, "store"), (4, "files")])
def test_ray_equals_a_plain_run_byte_for_byte(
    ray_session: Any, plain: dict[str, bytes], tmp_path: Path, shards: int, shared: str
) -> None:
    path = tmp_path / "w" / "etl.duckdb"
    make_world(path)
    options = ["--ray-vectors", str(tmp_path / "shared")] if shared == "files" else []
    result = Etl(path)("mine", "--search", "exact", "--ray", "--ray-shards", str(shards), *options)
    assert f"{shards} shards on Ray" in result.output
    got = dump(path, tmp_path / "dump")
    assert got.keys() == plain.keys()
    for name in plain:
        assert got[name] == plain[name], name
    counts = mine_counts(path)
    assert counts["shards"]["count"] == shards and sum(counts["shards"]["anchors"]) == counts["anchors"]
    assert counts["ray"]["shared_by"] == ("files" if shared == "files" else "object store")
    with api.open(path) as wh:
        assert wh.scalar("SELECT count(*) FROM runs WHERE step = 'mine_shard' AND status = 'ok'") == shards


def test_a_worker_that_dies_is_retried_and_the_result_is_the_same(
    ray_session: Any, plain: dict[str, bytes], tmp_path: Path
) -> None:
    from etl.steps.mine import on_ray as mine_ray

    path = tmp_path / "w" / "etl.duckdb"
    make_world(path)
    marker = tmp_path / "crashed"
    with api.open(path) as wh:
        mine_ray.run(wh, wh.settings(mine_search="exact"), shards=2, crash_once=marker)
    assert marker.exists()  # shard 0's first attempt killed its worker
    got = dump(path, tmp_path / "dump")
    for name in plain:
        assert got[name] == plain[name], name
    counts = mine_counts(path)
    assert counts["shards"]["count"] == 2 and sum(counts["shards"]["anchors"]) == counts["anchors"]
    with api.open(path) as wh:  # one run per shard, not one per attempt
        shards = [
            json.loads(p)["shard"]
            for (p,) in wh.execute("SELECT params FROM runs WHERE step = 'mine_shard'").fetchall()
        ]
    assert sorted(shards) == [0, 1]


def test_etl_run_mines_on_ray_with_the_same_exports(ray_session: Any, tmp_path: Path) -> None:
    exports = {}
    for name, extra in (("plain", []), ("ray", ["--ray", "--ray-shards", "2"])):
        path = tmp_path / name / "etl.duckdb"
        Etl(path)("run", "--example", "--out", str(tmp_path / name / "out"), *extra, env={"ETL_MINE_SEARCH": "exact"})
        files = sorted(
            p
            for p in (tmp_path / name / "out").rglob("*")
            if p.is_file() and p.suffix in (".parquet", ".jsonl", ".txt")
        )
        exports[name] = {str(p.relative_to(tmp_path / name / "out")): p.read_bytes() for p in files}
    assert exports["plain"] and exports["plain"] == exports["ray"]
    assert mine_counts(tmp_path / "ray" / "etl.duckdb")["shards"]["count"] == 2


def test_ray_with_the_index_equals_a_plain_ann_run(ray_session: Any, tmp_path: Path) -> None:
    path = tmp_path / "w" / "etl.duckdb"
    make_world(path)
    etl = Etl(path)
    etl("mine", "--search", "ann")  # builds the index the tasks then open from its file
    plain = dump(path, tmp_path / "plain")
    etl("mine", "--search", "ann", "--ray", "--ray-shards", "2")
    assert mine_counts(path)["search"] == "ann"
    same_but_lineage(dump(path, tmp_path / "ray"), plain)


def test_ray_under_a_language_policy_equals_a_plain_run(ray_session: Any, tmp_path: Path) -> None:
    """The terms' languages travel to the tasks (here as .npy files) and each anchor's pools come back."""
    landed = {}
    for name, extra in (("plain", []), ("ray", ["--ray", "--ray-shards", "2", "--ray-vectors", str(tmp_path / "npy")])):
        path = tmp_path / name / "etl.duckdb"
        with api.open(path) as wh:
            minedata.korean(wh, minedata.build(wh))
        Etl(path)("mine", "--search", "exact", "--language", "mix", *extra)
        landed[name] = dump(path, tmp_path / f"{name}-dump")
    assert landed["plain"].keys() == landed["ray"].keys()
    for name in landed["plain"]:
        assert landed["ray"][name] == landed["plain"][name], name
    assert mine_counts(tmp_path / "ray" / "etl.duckdb")["language"] == "mix"
