"""Throughput of `etl judge` against a loopback server, by pairs per request, at concurrency 8.

The example data is mined once (`etl run --example`); each row of the table judges its medium and
hard negatives (one round, no self-consistency re-ask) on a fresh copy of that warehouse. The server
answers every request after a latency of BASE + PER_PAIR × pairs (prompt processing, then about 25
output tokens per verdict), with 8 parallel slots (further requests queue, as on an Ollama server
started with OLLAMA_NUM_PARALLEL=8). The ideal is the shortest time in which any client could have
those requests answered: the requests placed longest first on the slot free soonest (optimal here,
where all requests but the last are the same size), at least their busy time spread over 8 slots. With
few large requests the slots cannot all be kept busy, which the ideal counts and the wall time shows
against the other rows. The table prints the wall time of `etl judge` (loading, the one mine run
that replaces the judged-out negatives, and landing included), its ratio to the ideal, and pairs
judged per second, so the gain of batching is read against the one-pair-per-request row measured in
the same run.

    python bench/judge_throughput.py [--small] [--base 0.4] [--per-pair 0.05]

Target: within 1.3× of the ideal at concurrency 8 for every batch size.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402

from etl.cli import cli  # noqa: E402
from tests.fakeserver import FakeLLMServer  # noqa: E402
from tests.llm_answers import judge_items, verdict_by_hash  # noqa: E402

TARGET = 1.3
SLOTS = CONCURRENCY = 8
BATCHES = (1, 2, 4, 8, 16, 32)


def serve(base: float, per_pair: float) -> FakeLLMServer:
    """A started loopback server: SLOTS answers at a time, each after base + per_pair × pairs seconds."""
    server = FakeLLMServer().start()
    gate = threading.BoundedSemaphore(SLOTS)

    def responder(kind: str, body: dict[str, Any]) -> str:
        items = judge_items(body)
        with gate:
            time.sleep(base + per_pair * len(items))
        verdicts = [{"item": n, "verdict": verdict_by_hash(a, c), "reason": "bench"} for n, a, c in items]
        return json.dumps({"verdicts": verdicts})

    server.responder = responder
    return server


def ideal_seconds(latencies: list[float], slots: int) -> float:
    """The makespan of the requests on `slots` parallel slots, longest first onto the least busy slot."""
    free = [0.0] * slots
    for latency in sorted(latencies, reverse=True):
        free.sort()
        free[0] += latency
    return max(free, default=0.0)


def etl(warehouse: Path, *args: str) -> str:
    """`etl --warehouse WAREHOUSE args...` in-process; fails loudly."""
    result = CliRunner().invoke(cli, ["--warehouse", str(warehouse), *args], catch_exceptions=False)
    if result.exit_code != 0:
        raise SystemExit(f"etl {' '.join(args)} exited {result.exit_code}:\n{result.output}")
    return result.output


def judge(mined: Path, workdir: Path, url: str, batch: int) -> tuple[float, int, int]:
    """Judge a fresh copy of the mined warehouse with `batch` pairs per request: (seconds, requests, pairs)."""
    warehouse = workdir / f"batch-{batch}.duckdb"
    shutil.copy(mined, warehouse)
    started = time.perf_counter()
    out = etl(
        warehouse,
        "judge",
        "--llm-url",
        url,
        "--concurrency",
        str(CONCURRENCY),
        "--batch",
        str(batch),
        "--band",
        "medium",
        "--band",
        "hard",
        "--rounds",
        "1",
        "--consistency",
        "0",
    )
    seconds = time.perf_counter() - started
    requests = int(re.search(r"calls made\s+([\d,]+)", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    pairs = int(re.search(r"judge: ([\d,]+) negatives judged", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    return seconds, requests, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tenth of the latency, for a quick look")
    parser.add_argument("--base", type=float, default=0.4, help="seconds per request before its first verdict")
    parser.add_argument("--per-pair", type=float, default=0.05, help="seconds per verdict in a request")
    args = parser.parse_args()
    scale = 0.1 if args.small else 1.0
    base, per_pair = args.base * scale, args.per_pair * scale
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        mined = workdir / "mined.duckdb"
        etl(mined, "run", "--example", "--no-probe", "--out", str(workdir / "exports"))
        server = serve(base, per_pair)
        try:
            print(f"etl judge, medium + hard bands of the example, {SLOTS} server slots, concurrency {CONCURRENCY}")
            print(f"server latency {base:.3f} s + {per_pair:.3f} s per pair")
            print(
                f"{'pairs/req':>9}  {'requests':>8}  {'pairs':>6}  {'wall s':>7}  {'ideal s':>7}  {'ratio':>6}  "
                f"{'pairs/s':>8}  {'vs 1/req':>8}"
            )
            first_rate = None
            worst = 0.0
            for batch in BATCHES:
                seconds, requests, pairs = judge(mined, workdir, server.url, batch)
                sizes = [min(batch, pairs - i) for i in range(0, pairs, batch)]
                ideal = ideal_seconds([base + per_pair * size for size in sizes], SLOTS)
                rate = pairs / seconds
                first_rate = first_rate or rate
                worst = max(worst, seconds / ideal)
                print(
                    f"{batch:>9}  {requests:>8,}  {pairs:>6,}  {seconds:>7.2f}  {ideal:>7.2f}  "
                    f"{seconds / ideal:>5.2f}x  {rate:>8.1f}  {rate / first_rate:>7.2f}x"
                )
                assert requests == math.ceil(pairs / batch), (requests, pairs, batch)
        finally:
            server.stop()
    verdict = "met" if worst <= TARGET else "missed"
    print(f"worst ratio to ideal {worst:.2f}x (target {TARGET}x: {verdict})")


if __name__ == "__main__":
    main()
