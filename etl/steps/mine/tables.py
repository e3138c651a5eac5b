"""The tables a mine run lands, built from its picks, and their write inside the run's transaction.

`frames` gives the negatives (one row per pick), the triplets (one per pick and positive of its
anchor: ids only, texts are joined in SQL) and the anchors left without a negative; `anchor_bands`
one row per anchor and band. `write_tables` replaces negatives, triplets and anchor_bands, records the
anchors without negatives as `rejects`, and runs the mined rows' checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.errors import CheckFailed, EtlError
from etl.negatives import BAND_NAMES
from etl.steps.mine.sample import SOURCES

if TYPE_CHECKING:
    import polars as pl

    from etl.steps.mine import Mined, Plan
    from etl.steps.mine.data import MineInputs
    from etl.warehouse import Warehouse


def frames(inputs: MineInputs, mined: Mined, plan: Plan) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The negatives, the triplets (ids; texts are joined in SQL) and the anchors left without negatives."""
    import numpy as np
    import polars as pl

    p = mined.picks
    names = np.array(BAND_NAMES)
    anchor_rows = inputs.anchors[p.anchor]
    negatives = pl.DataFrame(
        {
            "anchor_id": inputs.ids[anchor_rows],
            "negative_id": inputs.ids[p.row],
            "similarity": p.sim,
            "band": names[p.band],
            "filled": p.filled,
            "source": np.array(SOURCES)[p.source],
        }
    )
    per = inputs.positive_counts()[p.anchor]
    pick = np.repeat(np.arange(len(p.row)), per)
    first = np.repeat(inputs.pos_ptr[p.anchor], per)
    offset = np.arange(len(pick)) - np.repeat(np.cumsum(per) - per, per)
    group = inputs.group[anchor_rows[pick]]
    triplets = pl.DataFrame(
        {
            "anchor_id": inputs.ids[anchor_rows[pick]],
            "positive_id": inputs.ids[inputs.pos_rows[first + offset]],
            "negative_id": inputs.ids[p.row[pick]],
            "negative_similarity": p.sim[pick],
            "difficulty": names[p.band[pick]],
            "group_id": group,
        }
    )
    got = np.bincount(p.anchor, minlength=len(inputs.anchors))
    lonely = np.flatnonzero(got == 0)
    skipped = pl.DataFrame(
        {
            "anchor_id": inputs.anchor_ids[lonely],
            "positives": inputs.positive_counts()[lonely],
            "eligible": mined.population.sum(axis=1)[lonely],
        }
    )
    return negatives, triplets, skipped


def anchor_bands(inputs: MineInputs, mined: Mined) -> pl.DataFrame:
    """One row per (anchor, band, language pool): its population, whether estimated, its quota and its quota picks.

    The pool is `any` unless mine_language restricts it; `mix` gives an anchor a row per pool it mines."""
    import numpy as np
    import polars as pl

    from etl.negatives import POOL_NAMES

    m = len(inputs.anchors)
    p = mined.picks
    by_quota = ~p.filled
    if mined.slots is None:
        slots = [(np.full(m, "any"), mined.population, mined.estimated, mined.quota, np.ones(len(p.row), dtype=bool))]
    else:
        pool_names = np.array([POOL_NAMES.get(code, "") for code in range(4)])
        slots = [
            (
                pool_names[target],
                mined.slots.population[s],
                mined.slots.estimated[s],
                mined.slots.quota[s],
                (inputs.lang[p.row] & target[p.anchor]) > 0,
            )
            for s, target in enumerate(mined.slots.target)
        ]
    frames = []
    for pool, population, estimated, quota, in_slot in slots:
        picked = np.zeros((m, 3), dtype=np.int64)
        np.add.at(picked, (p.anchor[by_quota & in_slot], p.band[by_quota & in_slot]), 1)
        frame = pl.DataFrame(
            {
                "anchor_id": np.repeat(inputs.anchor_ids, 3),
                "band": np.tile(np.array(BAND_NAMES), m),
                "pool": np.repeat(pool, 3),
                "population": population.ravel(),
                "estimated": estimated.ravel(),
                "quota": quota.ravel().astype(np.int32),
                "picked": picked.ravel().astype(np.int32),
            }
        )
        frames.append(frame.filter(pl.col("pool") != ""))
    return pl.concat(frames)


def write_tables(wh: Warehouse, run_id: int, frames: dict[str, pl.DataFrame]) -> None:
    """Replace negatives, triplets and anchor_bands; record skipped anchors in rejects. Call inside a transaction."""
    for table in ("negatives", "triplets", "anchor_bands"):
        wh.execute(f"DELETE FROM {table}")  # a fixed list of names: identifiers cannot be bound
    for name, frame in frames.items():
        with wh.staged(f"mined_{name}", frame):
            wh.sql_file(f"mine_insert_{name}", {"run_id": run_id}).fetchall()
    landed = wh.scalar("SELECT count(*) FROM triplets")
    if landed != frames["triplets"].height:
        raise EtlError(
            f"landed {landed:,} of {frames['triplets'].height:,} triplets (a term lost its text); run `etl clean` and retry"
        )
    broken = wh.run_checks("mine_output_")
    if broken:
        raise CheckFailed(
            f"mined rows break {', '.join(f'{k} ({v} rows)' for k, v in broken.items())}; this is a bug, please report it"
        )
