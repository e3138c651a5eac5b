"""Throughput of `etl synth translate` for the 69 seed terms against a loopback server.

The server answers every translation after a fixed latency, with N parallel slots (further requests
queue, as on an Ollama server started with OLLAMA_NUM_PARALLEL=N). For each concurrency N the bench
prints the command's wall time as a ratio to the ideal (distinct terms × latency / N) and as a
speed-up over the seed notebook's sequential loop (one /api/generate call per listed term, then its
0.1 s pause), measured in the same run.

    python bench/llm_throughput.py [--small]

Target: within 1.3× of ideal at concurrency 8.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from etl.cli import cli  # noqa: E402
from etl.steps.synth.tasks import load_seeds, translation_request  # noqa: E402
from tests.fakeserver import FakeLLMServer  # noqa: E402

TARGET = 1.3


def translation(prompt: str) -> str:
    """A well-formed translation answer for whatever term the prompt names."""
    term = re.search(r"Korean term: (.+)", prompt)
    word = hashlib.sha1((term.group(1) if term else prompt).encode()).hexdigest()[:8]
    return json.dumps({"primary": f"term {word}", "alternatives": [f"{word} alt"], "abbreviation": None})


def serve(latency: float, slots: int) -> FakeLLMServer:
    """A started loopback server: `slots` answers at a time, each after `latency` seconds."""
    server = FakeLLMServer().start()
    gate = threading.BoundedSemaphore(slots)

    def responder(kind: str, body: dict[str, Any]) -> str:
        with gate:
            time.sleep(latency)
        prompt = body.get("prompt") or body["messages"][-1]["content"]
        return translation(prompt)

    server.responder = responder
    return server


def notebook_loop(url: str, terms: list[str]) -> float:
    """The notebook's translation loop: sequential /api/generate calls, each followed by a 0.1 s pause."""
    started = time.monotonic()
    for term in terms:
        prompt = translation_request(term, 0.3).messages[0]["content"]
        payload = {"model": "gpt-oss:20b", "prompt": prompt, "stream": False, "options": {"temperature": 0.3}}
        response = requests.post(f"{url}/api/generate", json=payload, timeout=120)
        response.raise_for_status()
        json.loads(response.json().get("response", ""))
        time.sleep(0.1)
    return time.monotonic() - started


def etl_translate(url: str, concurrency: int, workdir: Path) -> tuple[float, int]:
    """Wall time of `etl synth translate` on a fresh warehouse holding the seed terms; and calls made."""
    warehouse = workdir / f"c{concurrency}.duckdb"
    env = {"ETL_LLM_URL": url, "ETL_SYNTH_EXPAND_ASK": "0"}
    runner = CliRunner()
    # Seeds only (expansion asks for nothing), so the timed command is translation alone.
    prepared = runner.invoke(cli, ["--warehouse", str(warehouse), "synth", "expand"], env=env)
    assert prepared.exit_code == 0, prepared.output
    started = time.monotonic()
    result = runner.invoke(
        cli, ["--warehouse", str(warehouse), "synth", "translate", "--concurrency", str(concurrency)], env=env
    )
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    calls = int(re.search(r"calls made\s+(\d+)", result.output).group(1))  # type: ignore[union-attr]
    failed = int(re.search(r"failed\s+(\d+)", result.output).group(1))  # type: ignore[union-attr]
    assert failed == 0, result.output
    return elapsed, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="shorter latency, for a quick look")
    args = parser.parse_args()
    latency = 0.05 if args.small else 0.2
    seeds = load_seeds()
    listed = [term for terms in seeds.values() for term in terms]
    for name in list(os.environ):
        if name.startswith("ETL_"):
            del os.environ[name]

    load = os.getloadavg()[0]
    print(
        f"llm_throughput: {len(listed)} listed seed terms ({len(set(listed))} distinct), "
        f"latency {latency:.3f} s per request; load average {load:.2f} on {os.cpu_count()} cores"
    )

    server = serve(latency, slots=1)
    try:
        baseline = notebook_loop(server.url, listed)
    finally:
        server.stop()
    print(f"notebook loop (sequential, {len(listed)} calls, 0.1 s pause each): {baseline:.2f} s")
    print()
    print(
        f"{'concurrency':>11}  {'slots':>5}  {'calls':>5}  {'wall s':>7}  {'ideal s':>7}  {'× ideal':>7}  {'vs notebook':>11}"
    )
    verdict = None
    with tempfile.TemporaryDirectory() as tmp:
        for concurrency in (1, 4, 8):
            server = serve(latency, slots=concurrency)
            try:
                elapsed, calls = etl_translate(server.url, concurrency, Path(tmp))
            finally:
                server.stop()
            ideal = calls * latency / concurrency
            ratio = elapsed / ideal
            print(
                f"{concurrency:>11}  {concurrency:>5}  {calls:>5}  {elapsed:>7.2f}  {ideal:>7.2f}  {ratio:>7.2f}  "
                f"{baseline / elapsed:>9.1f}× faster"
            )
            if concurrency == 8:
                verdict = ratio
    assert verdict is not None
    status = "met" if verdict <= TARGET else "MISSED"
    print(f"\ntarget: within {TARGET}× of ideal at concurrency 8: {status} ({verdict:.2f}×)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
