"""Shard parts on disk: their layout, their manifests, and the checks a merge makes before it lands them.

A shard writes its part under DIR/shard-IIII-of-NNNN/: `negatives.parquet` (its picks),
`anchors.parquet` (quota and population per anchor and band) and, last, `manifest.json` (the
resolved plan, a `fingerprint` of the warehouse state it read, counts, checksums of the two files,
and when and where it ran). A part without its manifest is missing. Reading the parts back refuses a
set that lacks a shard or mixes shard counts (`read_manifests`), a part mined from another state of
the warehouse (`check_state`) or with another plan (`check_plan`), and a file that fails its
checksum (`load_part`). etl/steps/mine/shards.py mines the parts and merges them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.errors import EtlError

if TYPE_CHECKING:
    import polars as pl

    from etl.warehouse import Warehouse

FORMAT = 1  # version of the part layout; the merge refuses others
MANIFEST = "manifest.json"
FILES = ("negatives.parquet", "anchors.parquet")


class ShardError(EtlError):
    """A shard part is missing, damaged, or was mined from another warehouse state or with other settings."""


@dataclass
class Part:
    """What one shard mined: its picks, its anchors' quotas and populations, its search counts and its run."""

    shard: int
    shards: int
    negatives: pl.DataFrame  # anchor_id, negative_id, similarity, band, filled, source (codes)
    anchors: pl.DataFrame  # anchor_id, quota_<band>, population_<band>, estimated_<band>
    stats: dict[str, Any]  # escalated, lost, escalated_by_band, found
    run: dict[str, Any] = field(default_factory=dict)  # started_at, finished_at, seconds, host, pid

    @property
    def name(self) -> str:
        """The part's directory name, e.g. shard-0001-of-0004."""
        return part_name(self.shard, self.shards)


def part_name(shard: int, shards: int) -> str:
    """Directory of shard `shard` of `shards` inside the output directory."""
    return f"shard-{shard:04d}-of-{shards:04d}"


def fingerprint(wh: Warehouse, model: str) -> dict[str, int]:
    """Counts and digests of the model's vectors, the terms, pairs and groups: what a shard's picks depend on."""
    cursor = wh.sql_file("mine_shard_fingerprint", {"model": model})
    row = cursor.fetchone()
    names = [d[0] for d in cursor.description]
    return {name: int(value or 0) for name, value in zip(names, row or ())}


def write(part: Part, out: Path, meta: dict[str, Any]) -> Path:
    """Write a part's files, then its manifest (written last, by rename: a part without it is missing)."""
    where = out / part.name
    where.mkdir(parents=True, exist_ok=True)
    (where / MANIFEST).unlink(missing_ok=True)
    part.negatives.write_parquet(where / FILES[0])
    part.anchors.write_parquet(where / FILES[1])
    manifest = {
        "format": FORMAT,
        "shard": part.shard,
        "shards": part.shards,
        **meta,
        "counts": {"anchors": part.anchors.height, "negatives": part.negatives.height},
        "stats": part.stats,
        "run": part.run,
        "files": {name: _sha256(where / name) for name in FILES},
    }
    tmp = where / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str), encoding="utf-8")
    tmp.replace(where / MANIFEST)
    return where


def read_manifests(directory: Path) -> list[dict[str, Any]]:
    """Every part's manifest under `directory`, by shard; refuses a missing shard or mixed shard counts."""
    found = sorted(directory.glob(f"shard-*-of-*/{MANIFEST}")) if directory.is_dir() else []
    if not found:
        raise ShardError(f"no shard parts in {directory}; write them with `etl mine --shard I/N --out {directory}`")
    manifests = []
    for path in found:
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ShardError(f"cannot read {path} ({exc}); mine that shard again") from exc
        if manifest.get("format") != FORMAT:
            raise ShardError(
                f"{path} is a part of format {manifest.get('format')!r}, not {FORMAT}; mine that shard again"
            )
        manifests.append(manifest)
    counts = sorted({m["shards"] for m in manifests})
    if len(counts) > 1:
        raise ShardError(
            f"{directory} mixes parts of {' and '.join(map(str, counts))} shards; keep one set of parts there"
        )
    shards = counts[0]
    have = {m["shard"] for m in manifests}
    missing = [i for i in range(shards) if i not in have]
    if missing:
        listed = ", ".join(f"{i}/{shards}" for i in missing)
        raise ShardError(
            f"{directory} lacks shard {listed} of {shards}; run `etl mine --shard {missing[0]}/{shards} "
            f"--out {directory}` (and any other missing one) before merging"
        )
    return sorted(manifests, key=lambda m: m["shard"])


def check_state(manifest: dict[str, Any], current: dict[str, int], directory: Path) -> None:
    """Refuse a part mined from another state of the warehouse (stale, or another warehouse's)."""
    theirs = manifest.get("fingerprint", {})
    differs = [
        key.removesuffix("_digest") for key in current if key.endswith("_digest") and theirs.get(key) != current[key]
    ]
    if differs:
        raise ShardError(
            f"{_label(manifest, directory)} was mined from another state of the warehouse (its "
            f"{' and '.join(differs)} differ from this warehouse's); mine it again here, or merge it "
            "where it was mined"
        )


def check_plan(manifest: dict[str, Any], plan: dict[str, Any], directory: Path) -> None:
    """Refuse a part mined with another plan (bands, seed, search mode, ...) than this merge's."""
    plan = json.loads(json.dumps(plan))  # as the manifest holds it: tuples as lists
    other = {k: (manifest["plan"].get(k), v) for k, v in plan.items() if manifest["plan"].get(k) != v}
    if other:
        shown = ", ".join(f"{k} {a!r} there, {b!r} here" for k, (a, b) in sorted(other.items()))
        raise ShardError(
            f"{_label(manifest, directory)} was mined with other settings ({shown}); merge with the "
            "settings the shards used, or mine them again"
        )


def _label(manifest: dict[str, Any], directory: Path) -> str:
    return f"shard {manifest['shard']}/{manifest['shards']} in {directory}"


def load_part(directory: Path, manifest: dict[str, Any]) -> Part:
    """Read one part's files, refusing any whose checksum is not the manifest's."""
    import polars as pl

    where = directory / part_name(manifest["shard"], manifest["shards"])
    for name in FILES:
        path = where / name
        if not path.exists() or _sha256(path) != manifest["files"].get(name):
            raise ShardError(
                f"{path} is missing or not the file its manifest describes; mine shard "
                f"{manifest['shard']}/{manifest['shards']} again"
            )
    return Part(
        manifest["shard"],
        manifest["shards"],
        pl.read_parquet(where / FILES[0]),
        pl.read_parquet(where / FILES[1]),
        manifest["stats"],
        manifest["run"],
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
