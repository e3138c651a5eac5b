"""Mining a set of anchors chunk by chunk, with or without language pools, and the tally of what it learnt.

`search_chunks` runs the exact scan or the ANN search over anchors in chunks; `mine_pools` runs it per
language pool slot (etl/steps/mine/pools.py), in groups of anchors that share their pools and bands
(the other pool's terms blanked in the similarity matrix like exclusions), and picks per slot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
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
    def of(cls, n_anchors: int) -> Tally:
        """Nothing learnt yet about `n_anchors` anchors (one slot)."""
        import numpy as np

        return cls(
            population=np.zeros((1, n_anchors, 3), dtype=np.int64),
            estimated=np.zeros((1, n_anchors, 3), dtype=bool),
            by_band=np.zeros(3, dtype=np.int64),
            sources=np.zeros(0, dtype=np.int8),
        )


def search_chunks(
    ctxs: Sequence[tuple[Context, int]],
    plan: Plan,
    index: Any,
    which: np.ndarray,
    tally: Tally,
    progress: output.Progress,
) -> list[Members]:
    """The band members of the anchors `which` under each (context, slot), chunk by chunk.

    The contexts differ only in their pools and bands (each scores its own pool's terms: `mix`'s two
    pools split the product's columns between them). Populations go to `tally` under each context's slot."""
    import numpy as np

    ctx = ctxs[0][0]
    chunk = exact_chunk_size(len(ctx.inputs.ids)) if plan.search == "exact" else ANN_CHUNK
    parts: list[list[Members]] = [[] for _ in ctxs]
    for start in range(0, len(which), chunk):
        anchors = which[start : start + chunk]
        # Pools are mined by the exact scan only (make_plan): under ann there is one context.
        exact = plan.search == "exact"
        founds = [scan(c, anchors) for c, _ in ctxs] if exact else [ann.search(ctx, index, anchors)]
        for (_, slot), found, part in zip(ctxs, founds, parts, strict=True):
            part.append(found.members)
            tally.population[slot, anchors] = found.population
            tally.estimated[slot, anchors] = found.estimated
            tally.escalated += int(found.escalated.sum())
            tally.by_band += found.escalated_by_band
            tally.lost += found.lost
        progress.advance(len(anchors) * len(ctxs))
    members = [Members.concat(part) for part in parts]
    tally.sources = np.concatenate([tally.sources, *(part.source for part in members)])
    return members


def mine_pools(
    ctx: Context,
    plan: Plan,
    which: np.ndarray,
    quota: np.ndarray,
    target: np.ndarray,
    tally: Tally,
    progress: output.Progress,
) -> tuple[Picks, pools.Slots]:
    """Each slot's picks (etl/steps/mine/pools.py): anchors mined in groups that share their language and
    every slot's pools, so that a group's bands and scored terms are its own."""
    import numpy as np

    inputs = ctx.inputs
    own = inputs.lang[inputs.anchors]
    slot_quota = pools.slot_quotas(plan.seed, inputs.anchor_ids, quota, target, plan.language_mix)
    tally.population = np.zeros((len(target), *quota.shape), dtype=np.int64)
    tally.estimated = np.zeros((len(target), *quota.shape), dtype=bool)
    key = own[which].astype(np.int64)
    for pool in target:
        key = key * 4 + pool[which]
    found: list[list[Members]] = [[] for _ in target]
    of = {t: pools.Pool.of(inputs, t) for t in (pools.KO, pools.EN, pools.BOTH)}  # each pool's vectors, once
    for code in np.unique(key):
        group = which[key == code]
        a = group[0]
        ctxs = [
            (
                dataclasses.replace(
                    ctx, bands=plan.bands_of(pools.kind(int(own[a]), int(pool[a]))), pool=of[int(pool[a])]
                ),
                slot,
            )
            for slot, pool in enumerate(target)
            if pool[a]
        ]
        for (_, slot), members in zip(ctxs, search_chunks(ctxs, plan, None, group, tally, progress), strict=True):
            found[slot].append(members)
    picks = [sample.pick(Members.concat(found[slot]), slot_quota[slot], plan.negatives) for slot in range(len(target))]
    joined = Picks(**{f: np.concatenate([getattr(p, f) for p in picks]) for f in Picks.__dataclass_fields__})
    slots = pools.Slots(target=target, quota=slot_quota, population=tally.population, estimated=tally.estimated)
    return joined, slots


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
