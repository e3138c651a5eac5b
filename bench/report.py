"""Benchmark `etl report` against its 5-second budget, on the bundled example and on a ~30k-triplet run.

    python bench/report.py                 # example + 30k triplets (20,000 terms x 64-d)
    python bench/report.py --anchors 6000  # more anchors, more triplets

Each warehouse is built in a temporary directory: the example with `etl run --example`; the large
one from bench/mine.py's synthetic clustered vectors, mined with `etl mine`, plus 5,000 LLM calls
and 2,000 rejects so every plot has data. `etl report` is then timed as a user runs it (a fresh
`etl` process: interpreter start, imports, queries, figures, writing ~5 MB), three times, and the
best and worst wall times are printed against the budget. Needs the report extra.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BUDGET_S = 5.0
ETL = [sys.executable, "-m", "etl"]


def etl(warehouse: Path, *args: str) -> str:
    """Run one etl command on `warehouse`; returns its stdout."""
    result = subprocess.run(
        [*ETL, "--warehouse", str(warehouse), *args], cwd=warehouse.parent, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"etl {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def example(workdir: Path) -> Path:
    """The bundled example, run end to end."""
    warehouse = workdir / "example" / "etl.duckdb"
    warehouse.parent.mkdir(parents=True)
    etl(warehouse, "run", "--example")
    return warehouse


def large(workdir: Path, n_terms: int, n_anchors: int) -> Path:
    """Synthetic terms, pairs and vectors, mined; plus LLM calls and rejects."""
    from mine import MODEL, generate, land  # bench/mine.py

    from etl.warehouse import Warehouse

    warehouse = workdir / "large" / "etl.duckdb"
    warehouse.parent.mkdir(parents=True)
    land(warehouse, generate(n_terms, 64, n_anchors))
    etl(warehouse, "mine", "--model", MODEL, "--search", "exact")
    with Warehouse.open(warehouse) as wh:
        wh.execute(
            "INSERT INTO llm_calls (call_hash, task, api, model, url, request, response, prompt_tokens, "
            "completion_tokens, duration_s, attempts, status, run_id) "
            "SELECT 'h' || i, ['expand', 'translate', 'sentences'][1 + i % 3], 'ollama', 'bench', 'http://bench', '{}', "
            "'{}', 100 + i % 400, 20 + i % 900, 0.5 + (i % 97) / 10.0, 1 + (i % 50 = 0)::INT, "
            "CASE WHEN i % 40 = 0 THEN 'failed' ELSE 'ok' END, 0 FROM range(5000) t(i)"
        )
        wh.execute(
            "INSERT INTO rejects (run_id, step, rule, reason) "
            "SELECT 0, ['clean', 'synth.translate', 'import.pairs'][1 + i % 3], 'rule_' || (i % 7), 'bench' "
            "FROM range(2000) t(i)"
        )
    return warehouse


def time_report(warehouse: Path, repeats: int = 3) -> list[float]:
    """Wall seconds of `etl report`, one fresh process per try."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        etl(warehouse, "report", "--out", str(warehouse.parent / "report.html"))
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terms", type=int, default=20_000)
    parser.add_argument("--anchors", type=int, default=2_450, help="anchors to mine (~12 triplets each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        workdir = Path(tmp)
        runs = {"example": example(workdir), "large": large(workdir, args.terms, args.anchors)}
        print(
            f"{'warehouse':<10} {'triplets':>9} {'negatives':>9} {'page MB':>8} {'best s':>7} {'worst s':>8} "
            f"{'worst / budget':>15}"
        )
        for name, warehouse in runs.items():
            counts = json.loads(
                etl(
                    warehouse,
                    "sql",
                    "--json",
                    "SELECT (SELECT count(*) FROM triplets) AS t, (SELECT count(*) FROM negatives) AS n",
                )
            )[0]
            times = time_report(warehouse)
            size = (warehouse.parent / "report.html").stat().st_size / 1e6
            print(
                f"{name:<10} {counts['t']:>9,} {counts['n']:>9,} {size:>8.1f} {min(times):>7.2f} {max(times):>8.2f} "
                f"{max(times) / BUDGET_S:>14.0%}"
            )


if __name__ == "__main__":
    main()
