"""What a model learns from the mined negatives: the downstream probe per language policy, with and without variants.

Real data, a real model: the Korean→English dictionary pairs and a seeded sample of Korean nouns from
a data folder (`--data`, the layout of ../shared/data: kengdic_ezcorean_6000.tsv, ko_nouns_nng.txt),
embedded once with multilingual-e5-small in-process (the `e5` extra) into a base warehouse. Each
configuration then mines a copy of it with `--calibrate` and runs `etl probe` with each loss, and the
script prints, per configuration: the probe's MRR@10 (target / mixed pools) for the untrained model,
the mined negatives and the random control; the share of negatives in the anchor's language; and the
pairs variant exclusion kept out, per rule. The baseline of every row is the untrained model and the
random control of the same run.

    python bench/negatives.py --data ../shared/data                # policies x variants, both losses
    python bench/negatives.py --data ../shared/data --seeds 42,43,44 --losses triplet
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
import time
from pathlib import Path

import etl

POLICIES = ("any", "anchor", "positive", "mix")
MAX_ENGLISH = 40  # keep dictionary entries whose English side is a short form, not a definition


def inputs(data: Path, work: Path, nouns: int) -> tuple[Path, Path]:
    """The pairs file (source, target) and the noun list, written once into `work`."""
    pairs, terms = work / "kengdic.jsonl", work / f"nouns-{nouns}.txt"
    if not pairs.exists():
        with (data / "kengdic_ezcorean_6000.tsv").open(encoding="utf-8") as f, pairs.open("w") as out:
            for row in csv.DictReader(f, delimiter="\t"):
                ko, en = row["korean"].strip(), row["english"].strip()
                if ko and en and len(en) <= MAX_ENGLISH:
                    out.write(json.dumps({"source": ko, "target": en}, ensure_ascii=False) + "\n")
    if not terms.exists():
        words = [w.strip() for w in (data / "ko_nouns_nng.txt").read_text(encoding="utf-8").splitlines()]
        words = [w for w in words if len(w) >= 2]
        random.Random(7).shuffle(words)
        terms.write_text("\n".join(words[:nouns]) + "\n", encoding="utf-8")
    return pairs, terms


def base_warehouse(work: Path, pairs: Path, terms: Path) -> Path:
    """Import, clean and embed with e5 once; reused by every configuration (and by a rerun of the script)."""
    path = work / f"base-{terms.stem}.duckdb"
    if path.exists():
        return path
    started = time.perf_counter()
    with etl.open(work / "building.duckdb") as wh:
        etl.import_pairs(wh, pairs)
        etl.import_terms(wh, terms)
        etl.clean(wh)
        etl.embed(wh, embedder="e5")
    (work / "building.duckdb").rename(path)
    print(f"base warehouse {path.name}: embedded in {time.perf_counter() - started:.0f}s", flush=True)
    return path


def measure(base: Path, work: Path, policy: str, variants: bool, losses: list[str], seed: int) -> dict:
    """Mine a copy of the base warehouse with one configuration and probe it with each loss."""
    path = work / "trial.duckdb"
    shutil.copyfile(base, path)
    row: dict = {"policy": policy, "variants": variants, "seed": seed}
    with etl.open(path) as wh:
        etl.mine(wh, calibrate=True, language=policy, variants=variants, seed=seed)
        share = wh.sql(
            "SELECT avg((a.lang = n.lang)::INT) AS share FROM negatives g "
            "JOIN terms a ON a.term_id = g.anchor_id JOIN terms n ON n.term_id = g.negative_id"
        )["share"][0]
        row["anchor_language"] = float(share)
        counts = wh.sql("SELECT counts FROM runs WHERE step = 'mine' ORDER BY run_id DESC LIMIT 1")["counts"][0]
        row["excluded"] = json.loads(counts).get("variants", {}).get("excluded", {})
        for loss in losses:
            etl.probe(wh, loss=loss, seed=seed)
            figures = wh.sql(
                "SELECT arm, pool, value FROM probe_results WHERE metric = 'mrr@10' "
                "AND run_id = (SELECT max(run_id) FROM probe_results)"
            ).rows()
            row[loss] = {(arm, pool): float(value) for arm, pool, value in figures}
    path.unlink()
    return row


def show(rows: list[dict], losses: list[str]) -> None:
    """One line per configuration: MRR@10 target / mixed per arm and loss, language share, variant exclusions."""
    head = f"{'policy':<9} {'variants':<8} {'seed':>4}  {'anchor-lang':>11}"
    for loss in losses:
        head += f"  {loss + ': untrained':>20} {'mined':>13} {'random':>13}"
    print(head)
    for row in rows:
        line = f"{row['policy']:<9} {'on' if row['variants'] else 'off':<8} {row['seed']:>4}  {row['anchor_language']:>11.1%}"
        for loss in losses:
            fig = row[loss]
            for arm, width in (("untrained", 20), ("mined", 13), ("random", 13)):
                cell = f"{fig[arm, 'target']:.3f}/{fig[arm, 'mixed']:.3f}"
                line += f"  {cell:>{width}}" if arm == "untrained" else f" {cell:>{width}}"
        print(line, flush=True)
    print("\nMRR@10 as target/mixed. Variant exclusions per rule (in-band pairs kept out):")
    for row in rows:
        if row["variants"]:
            print(f"  {row['policy']:<9} seed {row['seed']}: {row['excluded']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data", type=Path, required=True, help="folder with kengdic_ezcorean_6000.tsv and ko_nouns_nng.txt"
    )
    parser.add_argument(
        "--work", type=Path, default=Path("bench-negatives"), help="scratch folder (the base warehouse is kept)"
    )
    parser.add_argument("--nouns", type=int, default=20_000, help="Korean nouns added to the vocabulary")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--losses", default="mnrl,triplet")
    parser.add_argument("--seeds", default="42")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    pairs, terms = inputs(args.data, args.work, args.nouns)
    base = base_warehouse(args.work, pairs, terms)
    losses = args.losses.split(",")
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        for policy in args.policies.split(","):
            for variants in (True, False):
                started = time.perf_counter()
                rows.append(measure(base, args.work, policy, variants, losses, seed))
                print(f"  {policy} variants={variants} seed={seed}: {time.perf_counter() - started:.0f}s", flush=True)
    show(rows, losses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
