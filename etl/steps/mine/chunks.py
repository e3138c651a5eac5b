"""Mining a set of anchors chunk by chunk, with or without language pools, and the tally of what it learnt.

`search_chunks` runs the exact scan or the ANN search over anchors in chunks; `mine_pools` runs it per
language pool slot (etl/steps/mine/pools.py), in groups of anchors that share their pools and bands
(the other pool's terms blanked in the similarity matrix like exclusions), and picks per slot.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from etl import output
from etl.steps.mine import ann, pools, sample
from etl.steps.mine.sample import Members, Picks
from etl.steps.mine.search import Context, exact_chunk_size, scan

if TYPE_CHECKING:
    import numpy as np

    from etl.steps.mine import Plan
    from etl.steps.mine.data import MineInputs

ANN_CHUNK = 1024  # anchors per index search batch


@dataclass
class Tally:
    """What the searches of one `mine` call learnt besides members, per slot where populations are concerned."""

    population: np.ndarray  # int64[slots, m, 3]
    estimated: np.ndarray  # bool[slots, m, 3]
    by_band: np.ndarray  # int64[3] anchors the ANN path escalated, per band
    sources: np.ndarray  # int8 SOURCES code of every member found
    escalated: int = 0
    lost: int = 0

    @classmethod
    def of(cls, m: int) -> Tally:
        """Nothing learnt yet about m anchors (one slot)."""
        import numpy as np

        return cls(np.zeros((1, m, 3), dtype=np.int64), np.zeros((1, m, 3), dtype=bool), np.zeros(3, dtype=np.int64),
                   np.zeros(0, dtype=np.int8))  # fmt: skip


def search_chunks(ctx: Context, plan: Plan, index: Any, which: np.ndarray, tally: Tally, slot: int,
            progress: output.Progress) -> Members:  # fmt: skip
    """The band members of the anchors `which`, chunk by chunk; their populations go to `tally`'s slot."""
    import numpy as np

    chunk = exact_chunk_size(len(ctx.inputs.ids)) if plan.search == "exact" else ANN_CHUNK
    parts: list[Members] = []
    for start in range(0, len(which), chunk):
        anchors = which[start : start + chunk]
        found = scan(ctx, anchors) if plan.search == "exact" else ann.search(ctx, index, anchors)
        parts.append(found.members)
        tally.population[slot, anchors] = found.population
        tally.estimated[slot, anchors] = found.estimated
        tally.escalated += int(found.escalated.sum())
        tally.by_band += found.escalated_by_band
        tally.lost += found.lost
        progress.advance(len(anchors))
    members = Members.concat(parts)
    tally.sources = np.concatenate([tally.sources, members.source])
    return members


def mine_pools(ctx: Context, plan: Plan, which: np.ndarray, quota: np.ndarray, target: np.ndarray, tally: Tally,
                progress: output.Progress) -> tuple[Picks, pools.Slots]:  # fmt: skip
    """Each slot's picks (etl/steps/mine/pools.py): its anchors mined in groups sharing pools and bands."""
    import numpy as np

    inputs = ctx.inputs
    own = inputs.lang[inputs.anchors]
    slot_quota = pools.slot_quotas(plan.seed, inputs.anchor_ids, quota, target, plan.language_mix)
    tally.population = np.zeros((len(target), *quota.shape), dtype=np.int64)
    tally.estimated = np.zeros((len(target), *quota.shape), dtype=bool)
    picks = []
    for slot, pool in enumerate(target):
        parts = []
        for t, o in ((pools.KO, pools.KO), (pools.KO, pools.EN), (pools.EN, pools.EN), (pools.EN, pools.KO),
                     (pools.BOTH, 0)):  # fmt: skip
            group = which[(pool[which] == t) & ((own[which] == o) | (o == 0))]
            if group.size:
                bands = plan.bands_of(pools.kind(o, t))
                sub = dataclasses.replace(ctx, bands=bands, off=(inputs.lang & t) == 0)
                parts.append(search_chunks(sub, plan, None, group, tally, slot, progress))
        picks.append(sample.pick(Members.concat(parts), slot_quota[slot], plan.negatives))
    joined = Picks(*(np.concatenate([getattr(p, f) for p in picks]) for f in Picks.__dataclass_fields__))
    return joined, pools.Slots(target, slot_quota, tally.population, tally.estimated)


def moved_band(inputs: MineInputs, plan: Plan, picks: Picks, target: np.ndarray | None) -> bool:
    """True when a pick's exact cosine puts it in another band than the one it was picked from."""
    if target is None or not plan.pool_bands:
        return bool((plan.bands.classify(picks.sim) != picks.band).any())
    own = inputs.lang[inputs.anchors[picks.anchor]]
    both = target[0][picks.anchor] == pools.BOTH
    same = inputs.lang[picks.row] == own
    moved = False
    for kind, mask in (("all", both), ("same", ~both & same), ("cross", ~both & ~same)):
        moved |= bool((plan.bands_of(kind).classify(picks.sim[mask]) != picks.band[mask]).any())
    return moved
