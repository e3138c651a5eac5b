"""Benchmark `etl mine` at the notebook's scale: exact scan vs its BLAS floor, the ANN path, and how close they are.

    python bench/mine.py            # 150,000 terms x 1024-d, 28,371 anchors (~2.5 positives each)
    python bench/mine.py --small    # 20,000 terms x 256-d, 3,800 anchors: a quick run
    python bench/mine.py --crossover 5000,10000,20000,40000  # exact vs ann (build + search) by size
    python bench/mine.py --ray --size 40000,1024,7560  # `etl mine --ray` with 1, 2, 4 shards vs one process
    python bench/mine.py --language any,anchor,positive,mix  # each mine_language policy, variants on, vs any without

One run prints, each measured here and now:
- the BLAS floor: a bare chunked `anchors @ vocab.T` (the exact scan's chunks), nothing else;
- `etl mine --search exact`: time, ratio to the floor, peak memory;
- the index build (timed apart, with the dtype `index_dtype = auto` chose and why), then
  `etl mine --search ann`: time, share of anchors it finished with the exact scan, peak memory;
- how close ann comes to exact: per band, the share of the exact population the ANN path counted,
  both outputs' band shares, and the mean in-band percentile of the picks (0.5 = uniform) on a
  sample of anchors scored in full here;
- the notebook's algorithm (per anchor: cosine against every term, then a Python loop over all of
  them, then random.sample per band) on a 200-anchor sample, projected to all anchors.

Synthetic clustered unit vectors are generated and landed in a fresh warehouse under a temporary
directory. Every step (landing included) runs in its own subprocess, so the parent stays small;
a step's peak memory is its VmHWM from /proc/self/status, cross-checked with ru_maxrss from
os.wait4 (which also counts the parent's RSS at fork time, hence landing in a child too).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import etl  # noqa: E402,F401  - before numpy, as in the `etl` command: it sets OpenBLAS's thread timeout

MODEL = "bench-model"
GROUP_SIZES = (2, 3, 4, 5)
GROUP_SHARES = (0.30, 0.35, 0.25, 0.10)  # by group count: ~2.45 positives per anchor


def generate(n_terms: int, dim: int, n_anchors: int, seed: int = 0) -> dict:
    """Clustered unit vectors, and synonym groups (cliques) covering exactly n_anchors terms."""
    rng = np.random.default_rng(seed)
    # Every vector shares one common direction (embedding models are anisotropic: unrelated terms
    # score ~0.3), then nested topic / subtopic / leaf centres: a term has ~30 leaf mates (~0.78,
    # hard), ~300 subtopic mates (~0.60, medium), and everything else at 0.3-0.45 (easy or below).
    weights = {"common": 1.36, "topic": 0.68, "subtopic": 0.68, "leaf": 0.82}
    leaf = rng.integers(0, max(n_terms // 30, 1), n_terms)
    n_leaves = max(n_terms // 30, 1)
    parents = {
        "common": leaf * 0,
        "topic": leaf * max(n_terms // 3000, 1) // n_leaves,
        "subtopic": leaf * max(n_terms // 300, 1) // n_leaves,
        "leaf": leaf,
    }
    vecs = rng.standard_normal((n_terms, dim), dtype=np.float32) * np.float32(1 / np.sqrt(dim))
    for level, weight in weights.items():
        centres = rng.standard_normal((int(parents[level].max()) + 1, dim), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        vecs += np.float32(np.sqrt(weight)) * centres[parents[level]]
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    order = rng.permutation(n_terms)
    members: list[np.ndarray] = []
    used = 0
    while used < n_anchors:
        left = n_anchors - used
        size = min(int(rng.choice(GROUP_SIZES, p=GROUP_SHARES)), left)
        if left - size == 1:
            size += 1  # never leave a single term that cannot form a group
        members.append(order[used : used + size])
        used += size
    for group in members:
        # Synonyms sit near the group's first term.
        base = vecs[group[0]]
        noise = rng.standard_normal((len(group) - 1, dim), dtype=np.float32) * np.float32(0.3 / np.sqrt(dim))
        vecs[group[1:]] = base + noise
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1, n_terms + 1, dtype=np.int64)
    pairs_a, pairs_b, group_term, group_id = [], [], [], []
    for group in members:
        gid = ids[group]
        a, b = np.triu_indices(len(gid), 1)
        lo, hi = np.minimum(gid[a], gid[b]), np.maximum(gid[a], gid[b])
        pairs_a.append(lo)
        pairs_b.append(hi)
        group_term.append(gid)
        group_id.append(np.full(len(gid), gid.min()))
    return {
        "ids": ids,
        "vecs": vecs,
        "pairs": (np.concatenate(pairs_a), np.concatenate(pairs_b)),
        "groups": (np.concatenate(group_term), np.concatenate(group_id)),
    }


def land(path: Path, data: dict, bilingual: bool = False) -> None:
    """Write the synthetic world into a fresh warehouse (every other term in Hangul when `bilingual`)."""
    import polars as pl
    import pyarrow as pa

    from etl.warehouse import Warehouse

    ids, vecs = data["ids"], data["vecs"]
    with Warehouse.open(path) as wh:
        texts = [f"용어 {i}" if bilingual and i % 2 == 0 else f"term {i}" for i in ids]
        if bilingual:  # every 10th term another form of the one before: work for the variant rules
            for i in range(9, len(texts), 10):
                texts[i] = f"{texts[i - 1]}하다" if texts[i - 1].startswith("용어") else f"the {texts[i - 1]}"
        wh.con.register("b_terms", pl.DataFrame({"term_id": ids, "text": texts}))
        wh.execute(
            "INSERT INTO terms (term_id, text, norm, lang, origins, first_run_id, last_run_id) "
            "SELECT term_id, text, lower(text), 'en', ['bench'], 0, 0 FROM b_terms"
        )
        a, b = data["pairs"]
        wh.con.register("b_pairs", pl.DataFrame({"a": a, "b": b}))
        wh.execute(
            "INSERT INTO synonym_pairs (term_a, term_b, similarity, origins, run_ids, run_id) "
            "SELECT a, b, 1.0, ['bench'], [0], 0 FROM b_pairs"
        )
        t, g = data["groups"]
        wh.con.register("b_groups", pl.DataFrame({"t": t, "g": g}))
        wh.execute("INSERT INTO synonym_groups (term_id, group_id, run_id) SELECT t, g, 0 FROM b_groups")
        dim = vecs.shape[1]
        offsets = pa.array(np.arange(0, len(ids) * dim + 1, dim, dtype=np.int64))
        table = pa.table(
            {"term_id": pa.array(ids), "vec": pa.LargeListArray.from_arrays(offsets, pa.array(vecs.ravel()))}
        )
        wh.con.register("b_vecs", table)
        wh.execute(
            "INSERT INTO term_embeddings (term_id, model, dim, vec, run_id) SELECT term_id, ?, ?, vec::FLOAT[], 0 FROM b_vecs",
            [MODEL, dim],
        )


def child(argv: list[str]) -> dict:
    """Run one bench step in a subprocess; returns its JSON report plus wall time and peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *argv], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench step {argv[0]} failed (exit {os.waitstatus_to_exitcode(status)})")
    report = json.loads(out.strip().splitlines()[-1])
    report["wall_s"] = time.perf_counter() - started
    report["maxrss_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return report


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def step_land(warehouse: str, n_terms: str, dim: str, n_anchors: str, bilingual: str = "") -> dict:
    """Generate the synthetic world and land it in a fresh warehouse."""
    path = Path(warehouse)
    if path.exists():
        path.unlink()
    started = time.perf_counter()
    data = generate(int(n_terms), int(dim), int(n_anchors))
    generated = time.perf_counter() - started
    land(path, data, bilingual == "bilingual")
    return {
        "generate_s": generated,
        "land_s": time.perf_counter() - started - generated,
        "anchors": len(np.unique(np.concatenate(data["pairs"]))),
        "pairs": len(data["pairs"][0]),
        "peak_mib": peak_mib(),
    }


def step_index(warehouse: str, index_path: str) -> dict:
    """Build the ANN index: etl.term_index's when installed, else a usearch index with the same settings."""
    from etl import config, vectors
    from etl.steps.mine import ann
    from etl.warehouse import Warehouse

    settings = config.load(overrides={"warehouse": warehouse}).settings
    started = time.perf_counter()
    with Warehouse.open(warehouse) as wh:
        if ann.ann_available():
            from etl import term_index

            opened = term_index.ensure(wh, settings, MODEL)
            return {
                "seconds": time.perf_counter() - started,
                "via": "etl.term_index",
                "size": len(opened.index),
                "dtype": opened.fingerprint.get("built_dtype"),
                "why": opened.fingerprint.get("dtype_reason"),
                "peak_mib": peak_mib(),
            }
        from usearch.index import Index

        ids, vecs = vectors.load(wh, MODEL)
    loaded = time.perf_counter()
    index = Index(
        ndim=vecs.shape[1],
        metric="cos",
        dtype=settings.index_dtype,
        connectivity=settings.index_connectivity,
        expansion_add=settings.index_expansion_add,
        expansion_search=settings.index_expansion_search,
    )
    index.add(ids.astype(np.uint64), vecs, threads=0)
    index.save(index_path)
    return {
        "seconds": time.perf_counter() - loaded,
        "via": "usearch (bench)",
        "size": len(index),
        "peak_mib": peak_mib(),
    }


def step_floor(warehouse: str) -> dict:
    """The exact scan's floor: its chunked matrix products over the whole vocabulary, and nothing else."""
    from etl.steps.mine import loading as mine_data
    from etl.steps.mine import search as mine_search
    from etl.warehouse import Warehouse

    with Warehouse.open(warehouse) as wh:
        inputs = mine_data.load(wh, MODEL)
    chunk = mine_search.exact_chunk_size(len(inputs.ids))
    started = time.perf_counter()
    for start in range(0, len(inputs.anchors), chunk):
        sims = inputs.vecs[inputs.anchors[start : start + chunk]] @ inputs.vecs.T
        del sims
    return {"seconds": time.perf_counter() - started, "chunk": chunk, "peak_mib": peak_mib()}


def step_mine(
    warehouse: str, search: str, index_path: str, threads_note: str, language: str = "any", variants: str = "on"
) -> dict:
    """`etl mine` as the CLI runs it (same settings resolution and step function); keeps its rows beside the warehouse."""
    from etl import config
    from etl.steps import mine
    from etl.steps.mine import ann
    from etl.warehouse import Warehouse

    overrides = {
        "warehouse": warehouse,
        "mine_search": search,
        "mine_language": language,
        "mine_variants": variants == "on",
    }
    settings = config.load(overrides=overrides).settings
    index = None
    if search == "ann" and not ann.ann_available():
        from usearch.index import Index

        index = Index.restore(index_path, view=True)
    started = time.perf_counter()
    with Warehouse.open(warehouse) as wh:
        summary = mine.run(wh, settings, index=index)
        seconds = time.perf_counter() - started
        counts = wh.last_ok_run("mine")["counts"]  # type: ignore[index]
        peak = peak_mib()
        for table in ("negatives", "anchor_bands"):
            wh.execute(f"COPY {table} TO '{warehouse}.{search}.{table}.parquet' (FORMAT parquet)")
    print(summary.render(), file=sys.stderr)
    return {
        "seconds": seconds,
        "search": counts["search"],
        "triplets": counts["triplets"],
        "anchors": counts["anchors"],
        "bands": counts["bands"],
        "positives": counts["positives_per_anchor"],
        "skipped": counts["skipped_anchors"],
        "escalated": counts.get("escalated"),
        "why": counts["search_reason"],
        "phases": counts["seconds"],
        "threads": threads_note,
        "languages": counts.get("language_shares", {}).get("all"),
        "peak_mib": peak,
    }


def step_ray(warehouse: str, shards: str) -> dict:
    """`etl mine --search exact --ray` with `shards` shards on a local Ray using every core (its start timed apart)."""
    import ray

    from etl import config
    from etl.steps.mine import on_ray as mine_ray
    from etl.warehouse import Warehouse

    started = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    ray.get(ray.remote(lambda: None).remote())  # a first worker is up
    init_s = time.perf_counter() - started
    settings = config.load(overrides={"warehouse": warehouse, "mine_search": "exact"}).settings
    started = time.perf_counter()
    with Warehouse.open(warehouse) as wh:
        mine_ray.run(wh, settings, shards=int(shards))
        seconds = time.perf_counter() - started
        counts = wh.last_ok_run("mine")["counts"]  # type: ignore[index]
    ray.shutdown()
    return {
        "seconds": seconds,
        "init_s": init_s,
        "phases": counts["seconds"],
        "triplets": counts["triplets"],
        "shard_seconds": counts["shards"]["seconds"],
        "peak_mib": peak_mib(),
    }


def step_compare(warehouse: str, sample: str) -> dict:
    """How close ann came to exact: populations counted, band shares, in-band percentiles on scored anchors."""
    import polars as pl

    from etl.steps.mine import loading as mine_data
    from etl.warehouse import Warehouse

    out: dict = {"population_seen": {}, "shares": {}, "percentile": {}}
    bands = {mode: pl.read_parquet(f"{warehouse}.{mode}.anchor_bands.parquet") for mode in ("exact", "ann")}
    joined = bands["exact"].join(bands["ann"], on=["anchor_id", "band"], suffix="_ann")
    for name, part in joined.filter(~pl.col("estimated_ann")).group_by("band"):
        out["population_seen"][name[0]] = round(part["population_ann"].sum() / max(part["population"].sum(), 1), 4)
    negatives = {mode: pl.read_parquet(f"{warehouse}.{mode}.negatives.parquet") for mode in ("exact", "ann")}
    for mode, frame in negatives.items():
        counts = frame["band"].value_counts()
        out["shares"][mode] = {b: round(n / frame.height, 4) for b, n in zip(counts["band"], counts["count"])}
    with Warehouse.open(warehouse) as wh:
        inputs = mine_data.load(wh, MODEL)
    rng = np.random.default_rng(7)
    chosen = np.sort(rng.choice(len(inputs.anchors), size=min(int(sample), len(inputs.anchors)), replace=False))
    edges = {"easy": (0.3, 0.5), "medium": (0.5, 0.7), "hard": (0.7, 0.9)}
    for mode, frame in negatives.items():
        picked = frame.filter(~pl.col("filled"))
        by_anchor = {a: list(zip(g["negative_id"], g["band"])) for (a,), g in picked.group_by("anchor_id")}
        percentiles: dict[str, list[float]] = {b: [] for b in edges}
        for i in chosen:
            row = inputs.anchors[i]
            sims = inputs.vecs[row] @ inputs.vecs.T
            allowed = (inputs.group != inputs.group[row]) & (np.arange(len(sims)) != row)
            for negative, band in by_anchor.get(int(inputs.ids[row]), []):
                low, high = edges[band]
                members = np.sort(sims[allowed & (sims >= low) & (sims < high)])
                if len(members) > 1:
                    at = np.searchsorted(members, sims[np.searchsorted(inputs.ids, negative)])
                    percentiles[band].append(at / (len(members) - 1))
        out["percentile"][mode] = {b: round(float(np.mean(v)), 3) for b, v in percentiles.items() if v}
    return out


def step_notebook(warehouse: str, sample: int) -> dict:
    """The notebook's mine_hard_negatives + sample_balanced_negatives on `sample` anchors."""
    from etl import vectors
    from etl.warehouse import Warehouse

    with Warehouse.open(warehouse) as wh:
        ids, embeddings = vectors.load(wh, MODEL)
        pairs = wh.execute("SELECT term_a, term_b FROM synonym_pairs").fetchall()
    terms = [f"term {i}" for i in ids]
    term_to_idx = {t: i for i, t in enumerate(terms)}
    anchor_to_positives: dict[str, set[str]] = {}
    for a, b in pairs:
        anchor_to_positives.setdefault(f"term {a}", set()).add(f"term {b}")
        anchor_to_positives.setdefault(f"term {b}", set()).add(f"term {a}")
    ranges = {"easy": (0.3, 0.5), "medium": (0.5, 0.7), "hard": (0.7, 0.9)}
    rng = random.Random(42)
    anchors = rng.sample(sorted(anchor_to_positives), sample)
    started = time.perf_counter()
    made = 0
    for anchor in anchors:
        positives = anchor_to_positives[anchor]
        # sklearn's cosine_similarity: normalise both sides on every call, then a dense product.
        a = embeddings[term_to_idx[anchor] : term_to_idx[anchor] + 1]
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
        similarities = (a @ e.T)[0]
        exclude = positives | {anchor}
        found: dict[str, list[tuple[str, float]]] = {"easy": [], "medium": [], "hard": []}
        for idx, sim in enumerate(similarities):
            term = terms[idx]
            if term in exclude:
                continue
            for name, (low, high) in ranges.items():
                if low <= sim < high:
                    found[name].append((term, sim))
                    break
        quota = {"easy": 1, "medium": 1, "hard": 3}
        picked = [x for name, n in quota.items() for x in rng.sample(found[name], min(n, len(found[name])))]
        made += len(picked) * len(positives)
    return {
        "seconds": time.perf_counter() - started,
        "anchors": sample,
        "triplets": made,
        "all_anchors": len(anchor_to_positives),
        "peak_mib": peak_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="20,000 terms x 256-d, 3,800 anchors")
    parser.add_argument("--compare", type=int, default=300, help="anchors scored in full for the in-band percentiles")
    parser.add_argument("--sample", type=int, default=200, help="anchors for the notebook baseline")
    parser.add_argument("--crossover", help="comma-separated vocabulary sizes: time exact vs ann at each")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument(
        "--ray",
        action="store_true",
        help="time `etl mine --ray` with 1, 2 and 4 shards against one process (needs the ray extra)",
    )
    parser.add_argument("--size", help="TERMS,DIM,ANCHORS instead of the default world")
    parser.add_argument(
        "--language",
        help="comma-separated mine_language policies (any, anchor, positive, mix): time the exact scan under each, "
        "with variant exclusion, on a world with every other term in Hangul, against `any` without variant exclusion",
    )
    args = parser.parse_args()
    n_terms, dim, n_anchors = (20_000, 256, 3_800) if args.small else (150_000, 1024, 28_371)
    if args.size:
        n_terms, dim, n_anchors = (int(x) for x in args.size.split(","))
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-mine-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; workdir {workdir}")
    try:
        if args.crossover:
            crossover([int(x) for x in args.crossover.split(",")], dim, workdir)
        elif args.ray:
            on_ray(workdir, n_terms, dim, n_anchors)
        elif args.language:
            languages(workdir, n_terms, dim, n_anchors, args.language.split(","))
        else:
            full(args, workdir, n_terms, dim, n_anchors)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def full(args: argparse.Namespace, workdir: Path, n_terms: int, dim: int, n_anchors: int) -> None:
    """Land the data; time the floor, exact, the index build and ann; compare; time the notebook's algorithm."""
    warehouse = workdir / "bench.duckdb"
    index_path = workdir / "bench.usearch"
    landed = child(["--step-land", str(warehouse), str(n_terms), str(dim), str(n_anchors)])
    print(
        f"data: {n_terms:,} terms x {dim}, {landed['anchors']:,} anchors, {landed['pairs']:,} pairs; "
        f"generated in {landed['generate_s']:.1f}s, landed in {landed['land_s']:.1f}s"
    )

    floor = child(["--step-floor", str(warehouse)])
    print(
        f"BLAS floor (chunked anchors @ vocab.T, {floor['chunk']} anchors a chunk): {floor['seconds']:.1f}s, "
        f"peak {floor['peak_mib']:,.0f} MiB"
    )
    results = {}
    for search in ("exact", "ann"):
        if search == "ann":
            built = child(["--step-index", str(warehouse), str(index_path)])
            print(
                f"index build ({built['via']}): {built['seconds']:.1f}s, dtype {built.get('dtype', '?')} "
                f"({built.get('why', '')}), peak {built['peak_mib']:,.0f} MiB"
            )
        mined = child(
            ["--step-mine", str(warehouse), search, str(index_path), os.environ.get("OMP_NUM_THREADS", "default")]
        )
        results[search] = mined
        line = (
            f"etl mine --search {search}: {mined['seconds']:.1f}s (process {mined['wall_s']:.1f}s), "
            f"peak {mined['peak_mib']:,.0f} MiB, {mined['triplets']:,} triplets, skipped {mined['skipped']}"
        )
        phases = mined["phases"]
        line += "\n  phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in phases.items())
        if search == "exact":
            line += (
                f"\n  the scan (search phase) is {phases['search'] / floor['seconds']:.2f}x the floor; "
                f"the whole step {mined['seconds'] / floor['seconds']:.2f}x"
            )
        else:
            esc = mined["escalated"]
            line += f"; exact scan for {esc['anchors']:,} anchors ({esc['share']:.1%}, short bands {esc['by_band']})"
        print(line)
        print(
            "  bands: "
            + ", ".join(
                f"{k} {v['by_quota'] + v['by_fill']:,} (quota met {v['fill_rate']}, "
                f"members median {v['population']['median']:,.0f})"
                for k, v in mined["bands"].items()
            )
        )
    compared = child(["--step-compare", str(warehouse), str(args.compare)])
    print("ann vs exact:")
    print(
        "  population the ANN path counted itself, share of exact: "
        + ", ".join(f"{b} {v:.3f}" for b, v in sorted(compared["population_seen"].items()))
    )
    for mode in ("exact", "ann"):
        shares = compared["shares"][mode]
        pct = compared["percentile"][mode]
        print(
            f"  {mode:>5}: band shares "
            + ", ".join(f"{b} {shares.get(b, 0):.1%}" for b in ("easy", "medium", "hard"))
            + f"; in-band percentile of picks ({args.compare} anchors) "
            + ", ".join(f"{b} {pct[b]:.3f}" for b in ("easy", "medium", "hard") if b in pct)
        )
    notebook = child(["--step-notebook", str(warehouse), str(args.sample)])
    per_anchor = notebook["seconds"] / notebook["anchors"]
    projected = per_anchor * notebook["all_anchors"]
    print(
        f"notebook algorithm: {notebook['seconds']:.1f}s for {notebook['anchors']} anchors "
        f"({per_anchor * 1000:.0f} ms/anchor), projected {projected:,.0f}s for {notebook['all_anchors']:,}"
    )
    for search, mined in results.items():
        print(f"speed-up of etl mine --search {search} over the notebook: {projected / mined['seconds']:.0f}x")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def on_ray(workdir: Path, n_terms: int, dim: int, n_anchors: int) -> None:
    """The exact scan in one process, then as 1, 2 and 4 Ray shards on this machine's cores."""
    warehouse = workdir / "bench.duckdb"
    landed = child(["--step-land", str(warehouse), str(n_terms), str(dim), str(n_anchors)])
    print(f"data: {n_terms:,} terms x {dim}, {landed['anchors']:,} anchors; {os.cpu_count()} cores")
    floor = child(["--step-floor", str(warehouse)])
    single = child(["--step-mine", str(warehouse), "exact", str(workdir / "unused.usearch"), "default"])
    macs = landed["anchors"] * n_terms * dim
    print(f"BLAS floor: {floor['seconds']:.1f}s ({macs / floor['seconds'] / 1e9:.1f} G multiply-adds/s)")
    print(
        f"one process (etl mine --search exact): {single['seconds']:.1f}s, scan {single['phases']['search']:.1f}s "
        f"({macs / single['phases']['search'] / 1e9:.1f} G multiply-adds/s), peak {single['peak_mib']:,.0f} MiB"
    )
    print(
        f"{'shards':>6} {'total s':>8} {'search s':>9} {'vs one process':>15} {'slowest shard s':>16} {'ray start s':>12} {'peak MiB':>9}"
    )
    for shards in (1, 2, 4):
        got = child(["--step-ray", str(warehouse), str(shards)])
        print(
            f"{shards:>6} {got['seconds']:>8.1f} {got['phases']['search']:>9.1f} {single['seconds'] / got['seconds']:>14.2f}x "
            f"{max(got['shard_seconds']):>16.1f} {got['init_s']:>12.1f} {got['peak_mib']:>9,.0f}",
            flush=True,
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def languages(workdir: Path, n_terms: int, dim: int, n_anchors: int, policies: list[str]) -> None:
    """The exact scan under each mine_language policy with variant exclusion, against `any` without it (run first).

    The baseline is the exact scan as it was before language pools and variant rules: `any`, variants
    off. Every 10th term of the bilingual world is another form of the term before it, so the
    variant rules have keys to build and pairs to exclude."""
    warehouse = workdir / "bench.duckdb"
    landed = child(["--step-land", str(warehouse), str(n_terms), str(dim), str(n_anchors), "bilingual"])
    print(f"data: {n_terms:,} terms x {dim} (half in Hangul, a tenth other forms), {landed['anchors']:,} anchors")
    floor = child(["--step-floor", str(warehouse)])
    print(f"BLAS floor: {floor['seconds']:.1f}s")
    print(
        f"{'policy':>8} {'variants':>8} {'total s':>8} {'search s':>9} {'vs base':>8} {'search vs floor':>16} "
        f"{'peak MiB':>9}  languages"
    )
    base = None
    runs = [("any", "off"), *((policy, "on") for policy in ["any", *(p for p in policies if p != "any")])]
    for policy, variants in runs:
        unused = str(workdir / "unused.usearch")
        got = child(["--step-mine", str(warehouse), "exact", unused, "default", policy, variants])
        search = got["phases"]["search"]
        base = base or got["seconds"]
        shares = "  ".join(f"{k} {v:.0%}" for k, v in (got["languages"] or {}).items())
        print(
            f"{policy:>8} {variants:>8} {got['seconds']:>8.1f} {search:>9.1f} {got['seconds'] / base:>7.2f}x "
            f"{search / floor['seconds']:>15.2f}x {got['peak_mib']:>9,.0f}  {shares}",
            flush=True,
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def crossover(sizes: list[int], dim: int, workdir: Path) -> None:
    """Exact search vs index build + ANN search, at several vocabulary sizes (anchors ~19%)."""
    print(f"{'terms':>8} {'anchors':>8} {'exact s':>8} {'index s':>8} {'ann s':>8} {'ann+index s':>11}")
    for n in sizes:
        warehouse = workdir / f"cross-{n}.duckdb"
        index_path = workdir / f"cross-{n}.usearch"
        child(["--step-land", str(warehouse), str(n), str(dim), str(int(n * 0.189))])
        exact = child(["--step-mine", str(warehouse), "exact", str(index_path), "default"])
        built = child(["--step-index", str(warehouse), str(index_path)])
        ann = child(["--step-mine", str(warehouse), "ann", str(index_path), "default"])
        print(
            f"{n:>8,} {exact['anchors']:>8,} {exact['seconds']:>8.1f} {built['seconds']:>8.1f} {ann['seconds']:>8.1f} "
            f"{built['seconds'] + ann['seconds']:>11.1f}",
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("--step-"):
        step, rest = sys.argv[1], sys.argv[2:]
        if step == "--step-land":
            result = step_land(*rest)
        elif step == "--step-index":
            result = step_index(*rest)
        elif step == "--step-mine":
            result = step_mine(*rest)
        elif step == "--step-floor":
            result = step_floor(*rest)
        elif step == "--step-compare":
            result = step_compare(*rest)
        elif step == "--step-ray":
            result = step_ray(*rest)
        else:
            result = step_notebook(rest[0], int(rest[1]))
        print(json.dumps(result))
    else:
        main()
