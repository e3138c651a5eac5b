"""`etl mine --shard I/N` and `etl mine --merge DIR`: one mining run split over processes or machines.

An anchor's picks depend only on the seed, its own term_id, the vocabulary and the settings
(counter-based draws, per-anchor quotas; see etl/steps/mine/sample.py), never on the anchors mined
beside it. So shard I of N mines the anchors whose hashed term_id is I modulo N, and the shards'
picks put together are exactly a single run's. A shard writes its part under DIR/shard-IIII-of-NNNN/:
its picks, its anchors' quotas and populations, and last a manifest (the resolved plan, a fingerprint
of the warehouse state it read, checksums); etl/steps/mine/parts.py lays parts out and checks them.

The merge refuses, before writing anything, a set of parts that lacks a shard, mixes shard counts,
fails a checksum, was mined from another state of the warehouse or with another plan; otherwise
it lands them as `etl mine` does (etl/steps/mine/__init__.py `land`: triplets, split, checks, one
transaction) and records each shard as a `mine_shard` run. Write mode of the merge: replace.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl import output
from etl.config import Settings
from etl.errors import ConfigError, EtlError
from etl.negatives import BAND_NAMES
from etl.steps import mine
from etl.steps.mine import ann, data
from etl.steps.mine.parts import MANIFEST as MANIFEST  # re-exported with part_name: a part's layout
from etl.steps.mine.parts import (
    Part,
    ShardError,
    check_plan,
    check_state,
    fingerprint,
    load_part,
    read_manifests,
    write,
)
from etl.steps.mine.parts import part_name as part_name
from etl.steps.mine.pools import Slots
from etl.steps.mine.sample import Picks
from etl.streams import STREAM_SHARD, keyed
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np

    from etl.steps.mine.data import MineInputs


def parse(spec: str) -> tuple[int, int]:
    """ "I/N" as (I, N), I counted from 0."""
    try:
        shard, shards = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ConfigError(f"--shard takes I/N (shard I of N, I from 0 to N-1), e.g. 0/4; got {spec!r}") from None
    if shards < 1 or not 0 <= shard < shards:
        raise ConfigError(f"--shard {spec}: I must be between 0 and N-1 and N at least 1, e.g. 0/4 to 3/4")
    return shard, shards


def assignment(anchor_ids: np.ndarray, shards: int) -> np.ndarray:
    """The shard of each anchor: a seed-independent hash of its term_id, modulo the shard count."""
    import numpy as np

    return (keyed(0, STREAM_SHARD, anchor_ids) % np.uint64(shards)).astype(np.int64)


def subset(inputs: MineInputs, shard: int, shards: int) -> np.ndarray:
    """Indices of the anchors shard `shard` of `shards` mines (ascending)."""
    import numpy as np

    return np.flatnonzero(assignment(inputs.anchor_ids, shards) == shard).astype(np.int64)


def compute(
    inputs: MineInputs, plan: mine.Plan, shard: int, shards: int, index: Any = None, workers: int | None = None
) -> Part:
    """Mine shard `shard` of `shards` (plan.search must be resolved: exact or ann)."""
    import time

    if plan.search not in ("exact", "ann"):  # pragma: no cover - callers resolve it
        raise EtlError(f"a shard needs a resolved search mode, not {plan.search!r}; this is a bug, please report it")
    started, clock = _now(), time.perf_counter()
    which = subset(inputs, shard, shards)
    mined = mine.mine(inputs, plan, index, which, workers)
    part = _part(inputs, mined, which, shard, shards)
    part.run = {
        "started_at": started,
        "finished_at": _now(),
        "seconds": round(time.perf_counter() - clock, 3),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    return part


def combine(inputs: MineInputs, parts: list[Part]) -> mine.Mined:
    """The parts as one Mined over every anchor, in the order a single run lands; refuses gaps and overlaps."""
    import numpy as np
    import polars as pl

    n_anchors = len(inputs.anchors)
    quota = np.zeros((n_anchors, 3), dtype=np.int64)
    population = np.zeros((n_anchors, 3), dtype=np.int64)
    estimated = np.zeros((n_anchors, 3), dtype=bool)
    covered = np.zeros(n_anchors, dtype=np.int64)
    for part in parts:
        at = _locate(inputs.anchor_ids, part.anchors["anchor_id"].to_numpy(), part, "anchor")
        np.add.at(covered, at, 1)
        for code, band in enumerate(BAND_NAMES):
            quota[at, code] = part.anchors[f"quota_{band}"].to_numpy()
            population[at, code] = part.anchors[f"population_{band}"].to_numpy()
            estimated[at, code] = part.anchors[f"estimated_{band}"].to_numpy()
    if (covered != 1).any():
        raise ShardError(
            f"the parts cover {int((covered == 1).sum()):,} of the {n_anchors:,} anchors once and "
            f"{int((covered > 1).sum()):,} twice; mine every shard again with one --shard count"
        )
    frame = pl.concat([p.negatives for p in parts]) if parts else pl.DataFrame()
    anchor = _locate(inputs.anchor_ids, frame["anchor_id"].to_numpy(), None, "anchor")
    row = _locate(inputs.ids, frame["negative_id"].to_numpy(), None, "negative")
    picks = mine.canonical(
        Picks(
            anchor=anchor,
            row=row,
            sim=frame["similarity"].to_numpy().astype(np.float32),
            band=frame["band"].to_numpy().astype(np.int8),
            filled=frame["filled"].to_numpy().astype(bool),
            source=frame["source"].to_numpy().astype(np.int8),
        )
    )
    by_band = {band: sum(p.stats["escalated_by_band"][band] for p in parts) for band in BAND_NAMES}
    found = {name: sum(p.stats["found"][name] for p in parts) for name in parts[0].stats["found"]}
    return mine.Mined(
        picks=picks,
        quota=quota,
        population=population,
        estimated=estimated,
        escalated=sum(p.stats["escalated"] for p in parts),
        lost=sum(p.stats["lost"] for p in parts),
        escalated_by_band=by_band,
        found=found,
        slots=_slots(inputs, parts),
    )


def _slot_columns(slots: Slots | None, which: np.ndarray) -> dict[str, Any]:
    """A part's columns for the language pool slots of its anchors (none under mine_language any)."""
    columns: dict[str, Any] = {}
    if slots is None:
        return columns
    for s in range(len(slots.target)):
        columns[f"target_{s}"] = slots.target[s][which]
        for code, band in enumerate(BAND_NAMES):
            columns[f"quota_{band}_{s}"] = slots.quota[s][which, code]
            columns[f"population_{band}_{s}"] = slots.population[s][which, code]
            columns[f"estimated_{band}_{s}"] = slots.estimated[s][which, code]
    return columns


def _slots(inputs: MineInputs, parts: list[Part]) -> Slots | None:
    """The language pool slots the parts recorded, over every anchor (the parts are known to cover them once)."""
    import numpy as np

    n_slots = sum(1 for name in parts[0].anchors.columns if name.startswith("target_")) if parts else 0
    if n_slots == 0:
        return None
    n_anchors = len(inputs.anchors)
    slots = Slots(
        target=np.zeros((n_slots, n_anchors), dtype=np.int8),
        quota=np.zeros((n_slots, n_anchors, 3), dtype=np.int64),
        population=np.zeros((n_slots, n_anchors, 3), dtype=np.int64),
        estimated=np.zeros((n_slots, n_anchors, 3), dtype=bool),
    )
    for part in parts:
        at = _locate(inputs.anchor_ids, part.anchors["anchor_id"].to_numpy(), part, "anchor")
        for s in range(n_slots):
            slots.target[s, at] = part.anchors[f"target_{s}"].to_numpy()
            for code, band in enumerate(BAND_NAMES):
                slots.quota[s, at, code] = part.anchors[f"quota_{band}_{s}"].to_numpy()
                slots.population[s, at, code] = part.anchors[f"population_{band}_{s}"].to_numpy()
                slots.estimated[s, at, code] = part.anchors[f"estimated_{band}_{s}"].to_numpy()
    return slots


def record(wh: Warehouse, parts: list[Part], params: dict[str, Any], merged_by: int) -> list[int]:
    """A `mine_shard` run per part (as it ran, with its counts), pointing at the run that landed it."""
    ids = []
    for part in parts:
        run_id = int(wh.scalar("SELECT nextval('run_id_seq')"))
        counts = {
            "anchors": part.anchors.height,
            "negatives": part.negatives.height,
            **part.stats,
            "seconds": part.run.get("seconds"),
            "host": part.run.get("host"),
            "merged_by": merged_by,
        }
        wh.execute(
            "INSERT INTO runs (run_id, step, params, started_at, finished_at, status, counts) "
            "VALUES (?, 'mine_shard', ?, ?::TIMESTAMP, ?::TIMESTAMP, 'ok', ?)",
            [
                run_id,
                json.dumps({**params, "shard": part.shard, "shards": part.shards}, sort_keys=True, default=str),
                part.run["started_at"],
                part.run["finished_at"],
                json.dumps(counts, sort_keys=True),
            ],
        )
        ids.append(run_id)
    return ids


# -- the two commands ----------------------------------------------------------------------------


def shard(
    wh: Warehouse, settings: Settings, spec: str, out: Path, model: str | None = None, index: Any = None
) -> output.StepResult:
    """Mine one shard of the anchors and write its part under `out` (the warehouse is only read)."""
    shard_no, shards = parse(spec)
    if settings.mine_search == "auto":
        raise ConfigError(
            "a shard needs --search exact or --search ann: auto measures this machine and could choose "
            "differently in each shard, and the two modes may differ in a few picks"
        )
    model = data.choose_model(wh, model)
    inputs = mine.prepare(wh, model, settings.mine_variants)
    plan = mine.make_plan(wh, settings, inputs, model, index)
    if plan.search == "ann" and index is None:
        index = ann.open_index(wh, settings, model)
    part = compute(inputs, plan, shard_no, shards, index)
    where = write(
        part,
        Path(out),
        {
            "fingerprint": fingerprint(wh, model),
            "plan": plan.config(),
            "params": mine.params(settings, model),
            "warehouse": str(wh.path),
        },
    )
    return (
        output.StepResult(
            f"mine shard {shard_no}/{shards}: {part.negatives.height:,} negatives for "
            f"{part.anchors.height:,} of {len(inputs.anchors):,} anchors in {part.run['seconds']:.1f}s",
            step="mine_shard",  # a shard only reads the warehouse: no run of its own until --merge lands it
            counts={"anchors": part.anchors.height, "negatives": part.negatives.height, **part.stats},
            outputs=[Path(where)],
        )
        .add("part", str(where))
        .add("search", plan.search)
        .add("merge", f"etl mine --merge {out} (after all {shards} shards)")
    )


def merge(wh: Warehouse, settings: Settings, directory: Path, model: str | None = None) -> output.StepResult:
    """Check the parts under `directory` and land them as one mine run (replacing the mined tables)."""
    directory = Path(directory)
    manifests = read_manifests(directory)
    model = data.choose_model(wh, model or manifests[0]["plan"]["model"])
    shards = manifests[0]["shards"]
    search = manifests[0]["plan"]["search"]
    if settings.mine_search == "auto":
        settings = dataclasses.replace(settings, mine_search=search)  # the mode the shards resolved
    params = mine.params(settings, model) | {"merged": str(directory), "shards": shards}
    with wh.record("mine", params) as run:
        clock = mine.Clock()
        current = fingerprint(wh, model)  # before loading the inputs: a stale part is refused at once
        for manifest in manifests:
            check_state(manifest, current, directory)
        inputs = mine.prepare(wh, model, settings.mine_variants)
        plan = mine.make_plan(wh, settings, inputs, model)
        for manifest in manifests:
            check_plan(manifest, plan.config(), directory)
        parts = [load_part(directory, manifest) for manifest in manifests]
        clock.lap("load")
        mined = combine(inputs, parts)
        clock.lap("combine")
        mine.land(wh, run, settings, inputs, plan, mined, clock)
        run.counts["shards"] = shard_counts(parts, record(wh, parts, mine.params(settings, model), run.run_id))
    return mine.summary(run.counts, run.seconds, run.run_id).add("shards", f"{shards} parts merged from {directory}")


def shard_counts(parts: list[Part], run_ids: list[int]) -> dict[str, Any]:
    """What the merged run records about its shards."""
    seconds = [float(p.run.get("seconds") or 0.0) for p in parts]
    return {
        "count": len(parts),
        "run_ids": run_ids,
        "anchors": [p.anchors.height for p in parts],
        "seconds": seconds,
        "hosts": sorted({str(p.run.get("host")) for p in parts}),
    }


# -- helpers -------------------------------------------------------------------------------------


def _part(inputs: MineInputs, mined: mine.Mined, which: np.ndarray, shard: int, shards: int) -> Part:
    import polars as pl

    p = mined.picks
    negatives = pl.DataFrame(
        {
            "anchor_id": inputs.anchor_ids[p.anchor],
            "negative_id": inputs.ids[p.row],
            "similarity": p.sim,
            "band": p.band,
            "filled": p.filled,
            "source": p.source,
        }
    )
    columns: dict[str, Any] = {"anchor_id": inputs.anchor_ids[which]}
    for code, band in enumerate(BAND_NAMES):
        columns[f"quota_{band}"] = mined.quota[which, code]
        columns[f"population_{band}"] = mined.population[which, code]
        columns[f"estimated_{band}"] = mined.estimated[which, code]
    columns |= _slot_columns(mined.slots, which)
    stats = {
        "escalated": int(mined.escalated),
        "lost": int(mined.lost),
        "escalated_by_band": {b: int(mined.escalated_by_band.get(b, 0)) for b in BAND_NAMES},
        "found": {k: int(v) for k, v in mined.found.items()},
    }
    return Part(shard, shards, negatives, pl.DataFrame(columns), stats)


def _locate(sorted_ids: np.ndarray, ids: np.ndarray, part: Part | None, what: str) -> np.ndarray:
    """Row of each id in `sorted_ids`; refuses an id the warehouse does not have."""
    import numpy as np

    if len(sorted_ids) == 0:
        at = np.zeros(len(ids), dtype=np.int64)
    else:
        at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    if len(ids) and (len(sorted_ids) == 0 or (sorted_ids[at] != ids).any()):
        where = f" of {part.name}" if part is not None else ""
        raise ShardError(f"a part{where} names a {what} this warehouse does not have; mine the shards again here")
    return at.astype(np.int64)


def _now() -> str:
    """UTC now as an ISO timestamp without zone (the runs table stores UTC TIMESTAMPs)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
