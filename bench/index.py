"""Build time, search throughput and recall@10 of the usearch index per scalar type (f32, f16, bf16, i8).

Synthetic vectors shaped like sentence embeddings: every vector shares a common direction (so
unrelated terms sit near cosine 0.35, as in the seed notebook's 1024-d vectors), belongs to one of
many clusters (near neighbours around cosine 0.75) and carries its own noise. Held-out queries from
the same clusters are searched for their 10 nearest neighbours; the baseline is exact search with
numpy (chunked matrix products, measured in the same run), which also gives the true top 10.

    python bench/index.py [--small] [--dtypes f32,f16,bf16,i8] [--queries N]

The index uses the `etl index` defaults (connectivity, expansion_add, expansion_search).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from usearch.index import Index  # noqa: E402

from etl.config import Settings  # noqa: E402

K = 10
CHUNK = 8_192  # rows per block when generating data and in exact search: bounds scratch memory
COMMON, CLUSTER, NOISE = 0.35, 0.40, 0.25  # shares of squared norm; unrelated cos ~0.35, same cluster ~0.75


def unit_rows(m: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, in place."""
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m


def synthetic(n: int, queries: int, dim: int, clusters: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """(n x dim corpus, queries x dim held-out queries), float32, unit rows, generated in blocks."""
    rng = np.random.default_rng(seed)
    common = unit_rows(rng.standard_normal((1, dim), dtype=np.float32))
    centers = unit_rows(rng.standard_normal((clusters, dim), dtype=np.float32))

    def block(rows: int) -> np.ndarray:
        noise = unit_rows(rng.standard_normal((rows, dim), dtype=np.float32))
        picked = centers[rng.integers(0, clusters, rows)]
        out = np.sqrt(COMMON) * common + np.sqrt(CLUSTER) * picked + np.sqrt(NOISE) * noise
        return unit_rows(out.astype(np.float32))

    corpus = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, CHUNK):
        corpus[start : start + CHUNK] = block(min(CHUNK, n - start))
    return corpus, block(queries)


def exact_top_k(corpus: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cosines) of the k most similar corpus rows per query (vectors are unit length)."""
    best_sim = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_row = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(corpus), CHUNK):
        sims = queries @ corpus[start : start + CHUNK].T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        merged_sim = np.concatenate([best_sim, np.take_along_axis(sims, top, axis=1)], axis=1)
        merged_row = np.concatenate([best_row, top + start], axis=1)
        keep = np.argpartition(-merged_sim, k - 1, axis=1)[:, :k]
        best_sim = np.take_along_axis(merged_sim, keep, axis=1)
        best_row = np.take_along_axis(merged_row, keep, axis=1)
    return best_row, best_sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="20,000 x 256 vectors: a quick run")
    parser.add_argument("--dtypes", default="f32,f16,bf16,i8", help="comma-separated scalar types to measure")
    parser.add_argument("--queries", type=int, default=None, help="held-out queries (default 1,000; 300 with --small)")
    args = parser.parse_args()
    n, dim = (20_000, 256) if args.small else (150_000, 1024)
    queries_n = args.queries or (300 if args.small else 1_000)
    defaults = Settings()
    threads = os.cpu_count() or 1

    print(f"vectors {n:,} x {dim}, {n // 50:,} clusters, {queries_n:,} held-out queries, k={K}, threads {threads}")
    print(
        f"index: cos, connectivity {defaults.index_connectivity}, expansion_add {defaults.index_expansion_add}, "
        f"expansion_search {defaults.index_expansion_search}; load average {os.getloadavg()[0]:.2f} at start"
    )
    started = time.perf_counter()
    corpus, queries = synthetic(n, queries_n, dim, clusters=max(1, n // 50))
    print(f"generated in {time.perf_counter() - started:.1f} s")
    sample = corpus[:2_000] @ corpus[:2_000].T
    median, top = np.median(sample), np.quantile(sample, 0.99)
    print(f"cosine between corpus vectors: median {median:.2f}, 99th percentile {top:.2f}")

    started = time.perf_counter()
    truth, truth_sims = exact_top_k(corpus, queries, K)
    exact_seconds = time.perf_counter() - started
    exact_qps = queries_n / exact_seconds
    print(f"cosine of a query's 10th nearest neighbour: median {np.median(truth_sims.min(axis=1)):.2f}")
    print(f"exact search (numpy, baseline): {exact_seconds:.2f} s, {exact_qps:,.0f} queries/s\n")

    header = (
        f"{'dtype':<6}{'build s':>9}{'vectors/s':>11}{'index MiB':>11}{'queries/s':>11}{'x exact':>9}{'recall@10':>11}"
    )
    print(header)
    print("-" * len(header))
    keys = np.arange(n, dtype=np.uint64)
    for dtype in args.dtypes.split(","):
        index = Index(
            ndim=dim,
            metric="cos",
            dtype=dtype,
            connectivity=defaults.index_connectivity,
            expansion_add=defaults.index_expansion_add,
            expansion_search=defaults.index_expansion_search,
        )
        started = time.perf_counter()
        index.add(keys, corpus, threads=threads)
        build = time.perf_counter() - started
        started = time.perf_counter()
        found = index.search(queries, K, threads=threads)
        search = time.perf_counter() - started
        hits = [len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found.keys, truth)]
        recall = sum(hits) / (K * queries_n)
        qps = queries_n / search
        mib = index.serialized_length / 2**20  # the saved file's size: what `etl index` writes
        print(
            f"{dtype:<6}{build:>9.1f}{n / build:>11,.0f}{mib:>11,.0f}"
            f"{qps:>11,.0f}{qps / exact_qps:>9.1f}{recall:>11.3f}",
            flush=True,
        )
        del index, found
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"\npeak memory {peak:,.0f} MiB; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
