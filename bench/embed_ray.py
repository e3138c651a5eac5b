"""Benchmark embedding over several servers: etl's thread pool vs Ray (one actor per server URL, batches as calls).

    python bench/embed_ray.py                        # 4 servers, 1024-d, 100 ms per batch, 8,192 texts
    python bench/embed_ray.py --latency 0 --texts 4096   # servers answer at once: what the client side costs

Each loopback server (tests/fakeserver.py, speaking Ollama's /api/embed) runs in its own process,
as real embedding servers would, and sleeps `--latency` seconds per request (a GPU's time for one
batch). Both clients keep the same number of requests in flight (`--concurrency`, spread over the
servers), parse the JSON and build float32 rows; the ideal is batches x latency / in-flight.
Needs the ray extra.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve(latency: float, dim: int) -> None:
    """Run one loopback embedding server until stdin closes; print its URL first."""
    from tests.fakeserver import FakeLLMServer

    vector = [1.0 / dim**0.5] * dim
    server = FakeLLMServer(models=("bge-m3",), embed_dim=dim)
    server.embedder = lambda text: vector  # the server's own cost stays small: the latency stands for the GPU
    server.latency = latency
    server.seen = _Forgetful()
    with server:
        print(server.url, flush=True)
        sys.stdin.read()


class _Forgetful(list):  # type: ignore[type-arg]
    """A `seen` list that keeps nothing (a long benchmark would otherwise hold every request body)."""

    def append(self, item: object) -> None:
        pass


def thread_pool(urls: list[str], texts: list[str], batch: int, concurrency: int) -> float:
    """Seconds for etl's embedding client (its thread pool over every URL) to embed `texts`."""
    import numpy as np

    from etl import config
    from etl.output import Progress
    from etl.steps.embed import remote as embed_http

    settings = config.load(
        overrides={
            "embedder": "ollama",
            "embed_model": "bge-m3",
            "embed_url": ",".join(urls),
            "llm_concurrency": concurrency,
            "embed_batch": batch,
        }
    ).settings
    client = embed_http.connect(settings)
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        vectors = embed_http.embed(client, settings, texts, Progress("embed", len(texts), stream=quiet))
    matrix = np.stack(vectors)
    assert matrix.shape[0] == len(texts)
    return time.perf_counter() - started


def on_ray(urls: list[str], texts: list[str], batch: int, concurrency: int) -> tuple[float, float]:
    """(start-up seconds, seconds) for Ray: an actor per URL taking batches, `concurrency` in flight in all."""
    import numpy as np
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)

    @ray.remote(num_cpus=0, max_concurrency=max(1, concurrency // len(urls)))
    class Server:
        def __init__(self, url: str) -> None:
            import requests

            self.url, self.session = url, requests.Session()

        def embed(self, batch: list[str]) -> np.ndarray:
            reply = self.session.post(self.url + "/api/embed", json={"model": "bge-m3", "input": batch}, timeout=60)
            reply.raise_for_status()
            return np.asarray(reply.json()["embeddings"], dtype=np.float32)

    actors = [Server.remote(url) for url in urls]
    ray.get([a.embed.remote(["warm up"]) for a in actors])
    ready = time.perf_counter() - started
    started = time.perf_counter()
    batches = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    parts = ray.get([actors[i % len(actors)].embed.remote(b) for i, b in enumerate(batches)])
    matrix = np.concatenate(parts)
    assert matrix.shape[0] == len(texts)
    seconds = time.perf_counter() - started
    ray.shutdown()
    return ready, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request (one batch)")
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--texts", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight in all")
    args = parser.parse_args()
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--serve", str(args.latency), str(args.dim)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(args.servers)
    ]
    try:
        urls = [p.stdout.readline().strip() for p in procs]  # type: ignore[union-attr]
        texts = [f"term {i}" for i in range(args.texts)]
        batches = -(-args.texts // args.batch)
        ideal = batches * args.latency / args.concurrency
        print(
            f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.servers} servers, {args.dim}-d, "
            f"{args.latency * 1000:.0f} ms per batch of {args.batch}, {args.concurrency} in flight, {args.texts:,} texts"
        )
        print(f"ideal (latency-bound): {ideal:.2f}s")
        pool = thread_pool(urls, texts, args.batch, args.concurrency)
        print(f"thread pool (etl embed): {pool:.2f}s, {args.texts / pool:,.0f} texts/s, {ideal / pool:.0%} of ideal")
        ready, seconds = on_ray(urls, texts, args.batch, args.concurrency)
        print(
            f"ray actors: {seconds:.2f}s, {args.texts / seconds:,.0f} texts/s, {ideal / seconds:.0%} of ideal "
            f"(plus {ready:.1f}s to start Ray and the actors); thread pool / ray = {pool / seconds:.2f}"
        )
        print(json.dumps({"ideal_s": ideal, "pool_s": pool, "ray_s": seconds, "ray_start_s": ready}))
    finally:
        for p in procs:
            p.stdin.close()  # type: ignore[union-attr]
            p.wait(timeout=10)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(float(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
