"""Mining inputs as numpy arrays: the vocabulary with vectors, groups and spellings, anchors and positives."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from etl import vectors
from etl.errors import EtlError
from etl.steps.mine.sample import expand
from etl.steps.mine.variants import variant_bound
from etl.warehouse import Warehouse

if TYPE_CHECKING:
    import numpy as np


def choose_model(wh: Warehouse, requested: str | None) -> str:
    """The embedding model to mine: the one asked for, else the only one with vectors."""
    found = {name: count for name, _dim, count in vectors.models(wh)}
    if requested:
        if requested not in found:
            have = ", ".join(sorted(found)) or "none"
            raise EtlError(
                f"no vectors for model {requested!r} in term_embeddings (models with vectors: {have}); "
                f"run `etl embed` for it or pick one of those with --model"
            )
        return requested
    if not found:
        raise EtlError("term_embeddings is empty; run `etl embed` before `etl mine`")
    if len(found) > 1:
        raise EtlError(
            f"term_embeddings holds vectors of several models ({', '.join(sorted(found))}); choose one with --model"
        )
    return next(iter(found))


@dataclass
class MineInputs:
    """The vocabulary (terms with a vector, ordered by term_id) and the anchors mined over it."""

    model: str
    ids: np.ndarray  # int64 term_id per vocabulary row, ascending
    vecs: np.ndarray  # float32[n, dim], L2-normalised
    group: np.ndarray  # int64 group_id per row, -1 when the term has none
    spelling: np.ndarray  # int64 code per row of the term's normalised spelling (terms.norm): equal codes, equal norms
    anchors: np.ndarray  # int64 vocabulary rows of the anchors, ascending
    pos_ptr: np.ndarray  # int64[m + 1]: positives of anchor i are pos_rows[pos_ptr[i]:pos_ptr[i+1]]
    pos_rows: np.ndarray  # int64 vocabulary rows of positives, ascending within an anchor
    excluded_spellings: np.ndarray  # sorted int64 keys anchor * n_spellings + spelling of the anchor and its positives
    group_spellings: np.ndarray  # sorted int64 keys group index * n_spellings + spelling of every group member
    group_index: np.ndarray  # int64 dense index of each row's group, -1 when none
    n_spellings: int  # distinct spellings: spelling codes are 0 .. n_spellings - 1
    # Variant keys (etl/steps/mine/variants.py): row i's are variant_keys[variant_ptr[i]:variant_ptr[i+1]].
    variant_ptr: np.ndarray  # int64[n + 1]
    variant_keys: np.ndarray  # int64 dense key codes
    variant_rules: np.ndarray  # uint8 bits of variants.RULES that made each entry
    excluded_variants: np.ndarray  # sorted int64 keys anchor * n_variant_keys + key of the anchor and its positives
    group_variants: np.ndarray  # sorted int64 keys group index * n_variant_keys + key of every group member
    n_variant_keys: int
    lang: np.ndarray  # int8 language pool per row: etl/steps/mine/pools.py's KO or EN
    # Negatives the judge found to mean the same as their anchor (etl/steps/judge): anchor i's are
    # judged_rows[judged_ptr[i]:judged_ptr[i+1]], ascending; mining never picks them again.
    judged_ptr: np.ndarray
    judged_rows: np.ndarray
    counts: dict[str, Any] = field(default_factory=dict)
    variants_on: bool = True  # False: --no-variants, the key arrays are empty

    @property
    def anchor_ids(self) -> np.ndarray:
        """term_id of each anchor."""
        return self.ids[self.anchors]

    def positive_counts(self) -> np.ndarray:
        """Number of positives per anchor."""
        import numpy as np

        return np.diff(self.pos_ptr)

    def pair_anchor(self) -> np.ndarray:
        """Anchor index of each entry of pos_rows."""
        import numpy as np

        return np.repeat(np.arange(len(self.anchors), dtype=np.int64), self.positive_counts())

    def excluded(self, anchor: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """True where `rows[i]` may not be a negative of anchor index `anchor[i]` (a possible synonym)."""
        out = self._excluded_by_spelling(anchor, rows)
        if self.n_variant_keys:
            out |= self._excluded_as_variant(anchor, rows)
        if len(self.judged_rows):
            out |= member(self._judged_keys, anchor * len(self.ids) + rows)
        return out

    @cached_property
    def _judged_keys(self) -> np.ndarray:
        """Sorted keys anchor * n + row of the judged-out negatives."""
        import numpy as np

        owner = np.repeat(np.arange(len(self.anchors), dtype=np.int64), np.diff(self.judged_ptr))
        return owner * len(self.ids) + self.judged_rows

    def _excluded_by_spelling(self, anchor: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """`excluded` less the variant keys: the anchor, its group, and terms spelled like them."""
        anchor_rows = self.anchors[anchor]
        out = rows == anchor_rows
        anchor_group = self.group[anchor_rows]
        out |= (anchor_group >= 0) & (self.group[rows] == anchor_group)
        out |= member(self.excluded_spellings, anchor * self.n_spellings + self.spelling[rows])
        # Spelled like any member of the anchor's group (not only its direct pair partners).
        group = self.group_index[anchor_rows]
        out |= (group >= 0) & member(self.group_spellings, group * self.n_spellings + self.spelling[rows])
        return out

    def _excluded_as_variant(self, anchor: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """True where `rows[i]` shares a variant key with anchor index `anchor[i]`, a positive or a group member."""
        import numpy as np

        n_keys = self.n_variant_keys
        which, key = expand(np.arange(len(rows)), self.variant_ptr[rows], self.variant_ptr[rows + 1], self.variant_keys)
        hit = member(self.excluded_variants, anchor[which] * n_keys + key)
        group = self.group_index[self.anchors[anchor[which]]]
        hit |= (group >= 0) & member(self.group_variants, group * n_keys + key)
        return np.bincount(which[hit], minlength=len(rows)) > 0

    def exclusions(self, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (i, row) that `excluded` forbids for anchor index anchors[i]: the pairs to blank out."""
        import numpy as np

        # The anchor, its positives and its group's members; then every row spelled like one of them
        # and every row sharing a variant key with one of them.
        seed_which, seed_rows = self._seeds(anchors)
        code = np.unique(seed_which * self.n_spellings + self.spelling[seed_rows])
        spelled_which, spelled = code // self.n_spellings, code % self.n_spellings
        which, rows = expand(
            spelled_which, self._by_spelling[1][spelled], self._by_spelling[1][spelled + 1], self._by_spelling[0]
        )
        found_which, found_rows = [seed_which, which], [seed_rows, rows]
        if self.n_variant_keys:
            which, rows, _ = self._variant_rows(seed_which, seed_rows)
            found_which.append(which)
            found_rows.append(rows)
        local = np.arange(len(anchors), dtype=np.int64)
        which, rows = expand(local, self.judged_ptr[anchors], self.judged_ptr[anchors + 1], self.judged_rows)
        found_which.append(which)
        found_rows.append(rows)
        pair = np.unique(np.concatenate(found_which) * len(self.ids) + np.concatenate(found_rows))
        return pair // len(self.ids), pair % len(self.ids)

    def variant_pairs(self, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The (i, row) that only a variant key excludes for anchor index anchors[i], with the rules that link them."""
        import numpy as np

        if not self.n_variant_keys:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.uint8)
        which, rows, bits = self._variant_rows(*self._seeds(anchors))
        pair = which * len(self.ids) + rows
        order = np.argsort(pair, kind="stable")
        pair, bits = pair[order], bits[order]
        first = np.flatnonzero(np.diff(pair, prepend=-1))
        pair, bits = pair[first], np.bitwise_or.reduceat(bits, first) if len(first) else bits[:0]
        which, rows = pair // len(self.ids), pair % len(self.ids)
        only = ~self._excluded_by_spelling(anchors[which], rows)
        return which[only], rows[only], bits[only]

    def _seeds(self, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(i, row) of anchor index anchors[i] itself, its positives and its group's members."""
        import numpy as np

        anchor_rows = self.anchors[anchors]
        local = np.arange(len(anchors), dtype=np.int64)
        seeds_w, seeds_r = [local], [anchor_rows]
        which, rows = expand(local, self.pos_ptr[anchors], self.pos_ptr[anchors + 1], self.pos_rows)
        seeds_w.append(which)
        seeds_r.append(rows)
        group = self.group_index[anchor_rows]
        grouped = group >= 0
        which, rows = expand(
            local[grouped], self._by_group[1][group[grouped]], self._by_group[1][group[grouped] + 1], self._by_group[0]
        )
        seeds_w.append(which)
        seeds_r.append(rows)
        return np.concatenate(seeds_w), np.concatenate(seeds_r)

    def _variant_rows(self, seed_which: np.ndarray, seed_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(which, row, rules) for every row sharing a variant key with a seed (seed_which, seed_rows); rules: both bits."""
        import numpy as np

        entries = np.arange(len(self.variant_keys), dtype=np.int64)
        which, seed_entry = expand(seed_which, self.variant_ptr[seed_rows], self.variant_ptr[seed_rows + 1], entries)
        key = self.variant_keys[seed_entry]
        by_key, key_ptr = self._by_variant
        which, entry = expand(which, key_ptr[key], key_ptr[key + 1], by_key)
        bits = self.variant_rules[np.repeat(seed_entry, (key_ptr[key + 1] - key_ptr[key]))] | self.variant_rules[entry]
        return which, self.variant_owner[entry], bits

    @cached_property
    def _by_group(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows ordered by dense group index, and each group's start in them."""
        return _index_by(self.group_index, int(self.group_index.max()) + 1 if len(self.group_index) else 0)

    @cached_property
    def _by_spelling(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows ordered by spelling code, and each code's start in them."""
        return _index_by(self.spelling, self.n_spellings)

    @cached_property
    def _by_variant(self) -> tuple[np.ndarray, np.ndarray]:
        """Key entries ordered by key code, and each key's start in them."""
        return _index_by(self.variant_keys, self.n_variant_keys)

    @cached_property
    def variant_owner(self) -> np.ndarray:
        """The vocabulary row of each key entry."""
        import numpy as np

        return np.repeat(np.arange(len(self.ids), dtype=np.int64), np.diff(self.variant_ptr))

    def exclusion_bound(self) -> np.ndarray:
        """Per anchor, at most how many vocabulary rows `excluded` removes (sizes its search shortlist)."""
        import numpy as np

        groups, group_size = np.unique(self.group, return_counts=True)
        size = np.ones(len(self.anchors), dtype=np.int64)
        anchor_group = self.group[self.anchors]
        grouped = anchor_group >= 0
        size[grouped] = group_size[np.searchsorted(groups, anchor_group[grouped])]
        per_spelling = np.bincount(self.spelling, minlength=self.n_spellings)
        same_spelling = per_spelling[self.spelling[self.anchors]]
        np.add.at(same_spelling, self.pair_anchor(), per_spelling[self.spelling[self.pos_rows]])
        return size + same_spelling + variant_bound(self) + np.diff(self.judged_ptr)


def _index_by(codes: np.ndarray, n_spellings: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by a non-negative code (negative codes left out), and each code's start."""
    import numpy as np

    rows = np.flatnonzero(codes >= 0)
    rows = rows[np.argsort(codes[rows], kind="stable")]
    ptr = np.searchsorted(codes[rows], np.arange(n_spellings + 1))
    return rows.astype(np.int64), ptr.astype(np.int64)


def member(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values[i] in sorted_values, vectorised."""
    import numpy as np

    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[at] == values
