"""`mine_language`: the language pools negatives come from, and the language pairs a run reports.

Every vocabulary term is in one of two pools: Korean when its text holds Hangul (terms.lang `ko`,
and `mixed` terms with Hangul such as "API 키", since Korean writing borrows Latin words freely),
English otherwise (`en`, and `mixed` terms without Hangul: digits, symbols, other scripts). An
anchor's language is its own pool.

A policy gives each anchor one or two slots, each a set of pools (bits KO | EN) with its own quota:
- any: one slot of every term (no restriction: the scan runs as it does without pools);
- anchor: one slot, the anchor's pool;
- positive: one slot, the pools of the anchor's positives (both when they are in both);
- mix: the anchor's pool, and the other pool when one of its positives is in it; each band's quota is
  split between them, `share` of it to the anchor's pool, by seeded systematic rounding per anchor.
Within a slot the search contract holds as it is: the population is the slot's members in the band,
the picks are the first of them in the anchor's permutation, and fills come from the slot's other bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from etl.negatives import BAND_NAMES, BOTH, EN, KO, LANGUAGE_PAIRS
from etl.streams import STREAM_MIX, uniform

if TYPE_CHECKING:
    import numpy as np

    from etl.steps.mine.data import MineInputs
    from etl.steps.mine.sample import Picks
    from etl.warehouse import Warehouse


@dataclass
class Slots:
    """Per slot (see the module docstring) and anchor: its pools, and per band its quota and population."""

    target: np.ndarray  # int8[slots, m]: pool bits (0: the anchor has no such slot)
    quota: np.ndarray  # int64[slots, m, 3]
    population: np.ndarray  # int64[slots, m, 3]
    estimated: np.ndarray  # bool[slots, m, 3]


def load(wh: Warehouse, ids: np.ndarray) -> np.ndarray:
    """The pool bit (KO or EN) of each vocabulary term_id in `ids` (ascending)."""
    import numpy as np

    from etl.vocab import HANGUL_CLASS

    sql = "SELECT term_id, regexp_matches(text, ?) AS hangul FROM terms ORDER BY term_id"
    table = wh.con.sql(sql, params=[HANGUL_CLASS]).to_arrow_table()
    term_ids = table.column(0).to_numpy().astype(np.int64)
    hangul = table.column(1).to_numpy(zero_copy_only=False).astype(bool)
    return np.where(hangul[np.searchsorted(term_ids, ids)], KO, EN).astype(np.int8)


def targets(inputs: MineInputs, policy: str) -> np.ndarray | None:
    """int8[slots, m]: the pools each anchor's slot may take negatives from (0: no such slot); None for `any`."""
    import numpy as np

    if policy == "any":
        return None
    own = inputs.lang[inputs.anchors]
    positives = np.zeros(len(inputs.anchors), dtype=np.int8)
    np.bitwise_or.at(positives, inputs.pair_anchor(), inputs.lang[inputs.pos_rows])
    if policy == "anchor":
        return own[None, :]
    if policy == "positive":
        return positives[None, :]
    return np.stack([own, positives & ~own])


@dataclass
class Pool:
    """The terms of one language pool, which the exact scan scores alone (the product's columns are its rows)."""

    rows: np.ndarray  # int64 vocabulary rows of the pool, ascending
    column: np.ndarray  # int64 per vocabulary row: its column in the product, -1 outside the pool
    vecs: np.ndarray  # float32 vectors of `rows`, contiguous

    @classmethod
    def of(cls, inputs: MineInputs, target: int) -> Pool | None:
        """The pool of the terms in the languages `target`; None when that is every term."""
        import numpy as np

        inside = (inputs.lang & target) > 0
        if inside.all():
            return None
        rows = np.flatnonzero(inside).astype(np.int64)
        column = np.full(len(inside), -1, dtype=np.int64)
        column[rows] = np.arange(len(rows))
        return cls(rows, column, np.ascontiguousarray(inputs.vecs[rows]))

    def gather(self, sims: np.ndarray, which: np.ndarray, rows: np.ndarray, blank: float) -> np.ndarray:
        """sims of the (product row `which_anchor`, vocabulary row `rows`) pairs; `blank` for a term outside the pool."""
        import numpy as np

        column = self.column[rows]
        inside = column >= 0
        out = np.full(len(rows), blank, dtype=np.float32)
        out[inside] = sims[which[inside], column[inside]]
        return out


def kind(own: int, target: int) -> str:
    """Which calibration a slot uses: `same` (the anchor's language), `cross` (the other) or `all` (both)."""
    return "all" if target == BOTH else "same" if target == own else "cross"


def slot_quotas(seed: int, anchor_ids: np.ndarray, quota: np.ndarray, target: np.ndarray, share: float) -> np.ndarray:
    """int64[slots, m, 3]: each slot's quota per band; `mix` splits every band by `share` (systematic rounding)."""
    import numpy as np

    if target.shape[0] == 1:
        return quota[None, :, :]
    cum = np.cumsum(quota * share, axis=1)
    offset = uniform(seed, STREAM_MIX, anchor_ids)[:, None]
    upper = np.floor(cum + offset)
    lower = np.concatenate([np.floor(offset), upper[:, :-1]], axis=1)
    own = np.where(target[1][:, None] == 0, quota, (upper - lower).astype(np.int64))
    return np.stack([own, quota - own])


def pair_counts(inputs: MineInputs, picks: Picks) -> dict[str, dict[str, int]]:
    """Negatives per band and language pair (anchor's language → negative's), e.g. {"hard": {"ko→en": 3}}."""
    import numpy as np

    own = inputs.lang[inputs.anchors[picks.anchor]]
    neg = inputs.lang[picks.row]
    code = (own.astype(np.int64) - 1) * 2 + (neg.astype(np.int64) - 1)
    out = {}
    for band, name in enumerate(BAND_NAMES):
        counts = np.bincount(code[picks.band == band], minlength=4)
        out[name] = {pair: int(c) for pair, c in zip(LANGUAGE_PAIRS, counts, strict=True)}
    return out


def describe(shares: dict[str, float]) -> str:
    """One line: "ko→ko 45%  ko→en 5%  en→en 40%  en→ko 10%"."""
    return "  ".join(f"{pair} {share:.0%}" for pair, share in shares.items())
