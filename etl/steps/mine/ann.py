"""Finding band members for mining with the usearch index, finished by the exact scan where it falls short.

The contract is the exact scan's (etl/steps/mine/search.py): per anchor and band, the min(n,
population) eligible members that come first in the anchor's permutation, and the population's
size. `search` takes the index's shortlist for the bands it provably covers (every term scoring
above the shortlist's last score, less a slack for the index's rounding), walks the permutation for
the others, and hands the anchors where both fall short to `scan`. Members are kept on their exact
cosine (`exact_cosine`), never on the index's score.

The index itself is etl/term_index.py's (the one `etl index` builds), opened through `open_index`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etl.errors import EtlError
from etl.steps.mine.sample import Found, Members
from etl.steps.mine.search import SAMPLE, SEARCH, Context, exact_chunk_size, scan
from etl.vectors import exact_cosine

if TYPE_CHECKING:
    import numpy as np

    from etl.config import Settings
    from etl.warehouse import Warehouse

ANN_DRAWS = 64  # positions walked per anchor (scored one pair at a time) for bands the shortlist misses
ANN_SLACK = 0.03  # index quantisation (f16 / bf16 / i8) and HNSW distance rounding


def shortlist_size(ctx: Context, anchors: np.ndarray) -> int:
    """Index results asked per anchor: top_k, a margin for near-ties, and room for the exclusions."""
    margin = 16
    return int(ctx.top_k + margin + ctx.inputs.exclusion_bound()[anchors].max())


def search(ctx: Context, index: Any, anchors: np.ndarray) -> Found:
    """Members from the index's shortlist where it covers a band, permutation draws where it does not, else `scan`."""
    import numpy as np

    n_rows = len(ctx.inputs.ids)
    keys = ctx.perm.round_keys(ctx.inputs.anchor_ids[anchors])
    listed, population, covered, lost = _shortlisted(ctx, index, anchors, keys)
    # Bands the shortlist does not cover: walk the permutation, scoring pair by pair.
    estimated = ~covered
    drawn, hits = _drawn(ctx, anchors, keys, estimated, population)
    # Where the draws found fewer members than needed, only a scan of the whole vocabulary can tell.
    short = estimated & (hits < ctx.n) & ~lost[:, None]
    escalate = short.any(axis=1) | lost
    members = Members.concat([listed, *drawn])
    found = Found(
        members=members,
        population=population,
        estimated=estimated,
        escalated=escalate,
        escalated_by_band=short.sum(axis=0).astype(np.int64),
        lost=int(lost.sum()),
    )
    if escalate.any():
        todo = anchors[escalate]
        step = exact_chunk_size(n_rows)  # the scan's own chunks: its similarity matrix stays as small
        scans = [scan(ctx, todo[i : i + step]) for i in range(0, len(todo), step)]
        kept = members.take(~escalate[np.searchsorted(anchors, members.anchor)])
        found.members = Members.concat([kept, *(part.members for part in scans)])
        found.population[escalate] = np.concatenate([part.population for part in scans])
        found.estimated[escalate] = False
    return found


def _shortlisted(
    ctx: Context, index: Any, anchors: np.ndarray, keys: np.ndarray
) -> tuple[Members, np.ndarray, np.ndarray, np.ndarray]:
    """The index's shortlist: its members in the bands it covers, their counts, the bands covered, the anchors lost."""
    import numpy as np

    inputs, bands = ctx.inputs, ctx.bands
    vecs, ids = inputs.vecs, inputs.ids
    n_anchors, n_rows = len(anchors), len(ids)
    count = min(shortlist_size(ctx, anchors), n_rows)
    query = inputs.anchors[anchors]
    result = index.search(vecs[query], count, threads=0)
    found_keys = np.asarray(result.keys).reshape(n_anchors, -1).astype(np.int64)
    approx = 1.0 - np.asarray(result.distances, dtype=np.float64).reshape(found_keys.shape)
    returned = np.asarray(result.counts).reshape(-1)
    lows = bands.edges[:, 0].astype(np.float64)
    # The shortlist holds every term above its last score (up to the index's recall): a band whose
    # low edge lies above that is covered. Only an index holding no more terms than were asked has
    # returned everything; HNSW may return fewer than asked, and then its last score still bounds it.
    last = np.where(returned > 0, approx[np.arange(n_anchors), np.maximum(returned - 1, 0)], np.inf)
    if len(index) <= count:
        last[:] = -np.inf
    covered = lows[None, :] >= last[:, None] + ANN_SLACK

    valid_slot = np.arange(found_keys.shape[1])[None, :] < returned[:, None]
    # An anchor is in the index, so its own vector comes back first; when it does not, the graph
    # search got lost in another neighbourhood and every band it claims to cover is suspect.
    lost = ~((found_keys == inputs.anchor_ids[anchors][:, None]) & valid_slot).any(axis=1)
    which, slot = np.nonzero(valid_slot)
    rows = np.minimum(np.searchsorted(ids, found_keys[which, slot]), n_rows - 1)
    keep = ids[rows] == found_keys[which, slot]  # the index may hold terms that left the vocabulary
    which, rows = which[keep], rows[keep]
    keep = ~inputs.excluded(anchors[which], rows)
    which, rows = which[keep], rows[keep]
    sim = exact_cosine(vecs, query[which], rows)
    code = ctx.eligible(anchors, which, sim)
    keep = code >= 0
    keep[keep] = covered[which[keep], code[keep]]
    which, rows, sim, code = which[keep], rows[keep], sim[keep], code[keep]
    population = np.zeros((n_anchors, 3), dtype=np.int64)
    np.add.at(population, (which, code), 1)
    listed = Members(
        anchor=anchors[which],
        row=rows,
        sim=sim,
        band=code,
        key=ctx.perm.inverse(keys, which, rows),
        source=np.full(len(which), SEARCH, np.int8),
    )
    return listed.first(ctx.n), population, covered, lost


def _drawn(
    ctx: Context, anchors: np.ndarray, keys: np.ndarray, estimated: np.ndarray, population: np.ndarray
) -> tuple[list[Members], np.ndarray]:
    """Members of the `estimated` bands from ANN_DRAWS permutation draws, and the hits per anchor and band.

    Sets `population` of those bands to the estimate the draws give."""
    import numpy as np

    inputs = ctx.inputs
    vecs = inputs.vecs
    n_anchors, n_rows = len(anchors), len(inputs.ids)
    query = inputs.anchors[anchors]
    parts: list[Members] = []
    draws = min(ANN_DRAWS, n_rows)
    todo = np.flatnonzero(estimated.any(axis=1))
    hits = np.zeros((n_anchors, 3), dtype=np.int64)
    if todo.size:
        which = np.repeat(todo, draws)
        position = np.tile(np.arange(draws, dtype=np.int64), todo.size)
        rows = ctx.perm.forward(keys, which, position)
        keep = ~inputs.excluded(anchors[which], rows)
        which, rows, position = which[keep], rows[keep], position[keep]
        sim = exact_cosine(vecs, query[which], rows)
        code = ctx.eligible(anchors, which, sim)
        keep = code >= 0
        keep[keep] = estimated[which[keep], code[keep]]
        which, rows, sim, code, position = which[keep], rows[keep], sim[keep], code[keep], position[keep]
        np.add.at(hits, (which, code), 1)
        drawn = Members(
            anchor=anchors[which],
            row=rows,
            sim=sim,
            band=code,
            key=position,
            source=np.full(len(which), SAMPLE, np.int8),
        )
        parts.append(drawn.first(ctx.n))
        population[estimated] = np.rint(hits[estimated] * (n_rows / draws)).astype(np.int64)
    return parts, hits


def open_index(wh: Warehouse, settings: Settings, model: str, built: list[bool] | None = None) -> Any:
    """The model's usearch index (built or refreshed when stale; `built`, when given, gets whether it was)."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("etl.term_index") is None:
        raise EtlError(
            "the ANN search needs the usearch index (etl.term_index), which this installation lacks; use --search exact"
        )
    term_index = importlib.import_module("etl.term_index")
    opened = term_index.ensure(wh, settings, model)
    if built is not None:
        built.append(bool(opened.rebuilt))
    return opened.index


def ann_available() -> bool:
    """Whether the usearch index module is installed."""
    import importlib.util

    return importlib.util.find_spec("etl.term_index") is not None
