"""Design arrays -> padded, bucketed per-subject blocks (the last place numpy
bookkeeping happens; everything after is pure JAX).

Blocks are the connected components of the graph that joins rows sharing a
level of any RANDOM or REPEATED subject.  For nested subjects this is the
coarsest subject factor, so V is block-diagonal by it; crossed subjects give
one large component, which the dense per-block path handles only while it is
small.  Blocks are padded to a few sizes (a geometric ladder) and grouped by
size, so ragged data compile once per size class and padding wastes at most
about a third.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .covariance import Structure, lookup
from .design import Design, effect_label
from .errors import UnsupportedOptionError

#: rows in one block beyond which the dense per-block path is refused (crossed designs)
MAX_DENSE_BLOCK = 4000


def size_class(n: int) -> int:
    """Smallest ladder value >= n (1, 2, 3, 4, 6, 8, 12, 16, 24, ...)."""
    if n <= 4:
        return max(n, 1)
    k = 4
    while True:
        if n <= k:
            return k
        if n <= k * 3 // 2:
            return k * 3 // 2
        k *= 2


#: blocks per chunk of the likelihood's scan over a size class
CHUNK = 256


def padded_count(b: int) -> int:
    """Blocks in a size class, padded with empty blocks to the size ladder (up to
    one chunk) or to whole chunks, so that data sets of similar size share
    compiled programs and the likelihood can scan over equal chunks."""
    if b <= CHUNK:
        return size_class(b)
    return -(-b // CHUNK) * CHUNK


@dataclass(frozen=True)
class GKind:
    """One G-side covariance block: a RANDOM statement at one GROUP= level."""

    structure: Structure
    statement: int
    group_level: str
    subject: str


@dataclass(frozen=True)
class Layout:
    """Static description of the model (hashable: a ``jit`` static argument)."""

    g_kinds: tuple[GKind, ...]
    r_structures: tuple[Structure, ...]  # one per REPEATED GROUP= level
    r_group_levels: tuple[str, ...]
    r_subject: str
    profile: bool  # residual scale profiled out of the likelihood
    method: str  # "REML" or "ML"

    @property
    def structures(self) -> tuple[Structure, ...]:
        return tuple(k.structure for k in self.g_kinds) + self.r_structures

    @property
    def offsets(self) -> np.ndarray:
        return np.cumsum([0] + [s.n_params for s in self.structures])

    @property
    def n_params(self) -> int:
        return int(self.offsets[-1])

    @property
    def g_dmax(self) -> int:
        return max([k.structure.dim for k in self.g_kinds], default=1)

    def slices(self):
        off = self.offsets
        return [slice(int(off[i]), int(off[i + 1])) for i in range(len(off) - 1)]

    @property
    def scale_param(self) -> int | None:
        """Position in θ of the profiled residual scale, if any."""
        if not self.profile:
            return None
        s = self.r_structures[0]
        return int(self.offsets[len(self.g_kinds)]) + s.scale_index

    def scale_mask(self) -> np.ndarray:
        return np.concatenate([s.scale_mask() for s in self.structures])

    def variance_mask(self) -> np.ndarray:
        return np.concatenate([s.variance_mask() for s in self.structures])


def _structure(cls, dim, labels):
    return cls(dim=dim, labels=tuple(labels))


def make_layout(design: Design, method: str, noprofile: bool = False) -> Layout:
    g_kinds = []
    for k, r in enumerate(design.randoms):
        cls = lookup(r.statement.type, "RANDOM")
        labels = [effect_label(n) for n in r.names]
        if r.statement.subject is None and len(labels) == 1 and labels[0] != "Intercept":
            labels = [r.statement.effects.strip()]
        for g in r.group_levels:
            g_kinds.append(GKind(_structure(cls, len(r.names), labels), k, g, r.statement.subject or ""))
    rep = design.repeated
    cls = lookup(rep.statement.type, "REPEATED")
    dim = 1 if rep.statement.type == "VC" else rep.dim
    r_structs = tuple(_structure(cls, dim, rep.index_levels[:dim]) for _ in rep.group_levels)
    for s in r_structs:
        if s.n_coords and design.repeated.coords.shape[1] < s.n_coords:
            raise UnsupportedOptionError(f"type={s.name!r} needs coordinate= with at least {s.n_coords} column(s)")
    profile = (not noprofile) and len(r_structs) == 1 and r_structs[0].scale_index is not None
    return Layout(
        g_kinds=tuple(g_kinds),
        r_structures=r_structs,
        r_group_levels=rep.group_levels,
        r_subject=rep.statement.subject or "",
        profile=profile,
        method=method,
    )


def _first_appearance_codes(labels: np.ndarray) -> np.ndarray:
    """Relabel 0..k-1 in order of first appearance."""
    uniq, first, inv = np.unique(labels, return_index=True, return_inverse=True)
    remap = np.empty(len(uniq), np.int64)
    remap[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    return remap[inv.ravel()]


def block_ids(design: Design) -> np.ndarray:
    """Component label per row: rows sharing any subject level are joined."""
    n = design.n_used
    subjects = [r.subject for r in design.randoms]
    rep = design.repeated
    if rep.subject_levels:  # a REPEATED subject joins its rows
        subjects.append(rep.subject)
    if not subjects:
        return np.arange(n)
    if all(np.array_equal(subjects[0], s) for s in subjects[1:]):
        return _first_appearance_codes(subjects[0])  # one subject factor: its levels are the blocks
    rows, cols, base = [], [], n
    for codes in subjects:
        rows.append(np.arange(n))
        cols.append(base + codes)
        base += int(codes.max()) + 1
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    graph = sp.coo_matrix((np.ones(len(r)), (r, c)), shape=(base, base)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return _first_appearance_codes(labels[:n])


class _Split:
    """``parts[b]`` = ``values[starts[b]:starts[b+1]]``, made on demand (a
    million blocks need no million small arrays up front)."""

    def __init__(self, values, starts, convert=None):
        self._values, self._starts, self._convert = values, starts, convert

    def __len__(self):
        return len(self._starts) - 1

    def __getitem__(self, b):
        if b < 0:
            b += len(self)
        if not 0 <= b < len(self):
            raise IndexError(b)
        part = self._values[self._starts[b] : self._starts[b + 1]]
        return self._convert(part) if self._convert else part

    def __iter__(self):
        return (self[b] for b in range(len(self)))

    def __bool__(self):
        return len(self) > 0


@dataclass(frozen=True)
class Blocks:
    """Bucketed arrays plus what is needed to map back to rows."""

    buckets: tuple[dict, ...]  # each: arrays with a leading block axis
    block_of_row: np.ndarray
    rows_of_block: object  # sequence: block -> its rows (in data order)
    bucket_members: tuple[np.ndarray, ...]  # block ids in each bucket, in order
    n_blocks: int
    max_rows: int
    max_cols: int
    z_columns: int  # columns of Z over all blocks
    #: per block, per slot: (RANDOM statement, subject code, group code) of its Z columns
    slots: object = ()


def _slot_table(design: Design, ids: np.ndarray, order: np.ndarray, n_blocks: int):
    """Z slots: one per (RANDOM statement, subject level present in a block),
    statement by statement, levels in order of first appearance in the block.

    Returns per slot (block, statement, level, group code, first column),
    sorted by block then slot order, the slot of each (row, statement) and the
    Z column count per block."""
    blk_sorted = ids[order]
    per_stmt = []
    for s, r in enumerate(design.randoms):
        lev_sorted = r.subject[order]
        nlev = int(r.subject.max()) + 1
        key = blk_sorted * nlev + lev_sorted
        uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
        inv = inv.ravel()
        sblk = uniq // nlev
        # first appearance order within block: sort pairs by (block, first position)
        o = np.lexsort((first, sblk))
        per_stmt.append((s, sblk[o], uniq[o] % nlev, r.group[order[first[o]]], o, inv))
    counts = [np.bincount(t[1], minlength=n_blocks) for t in per_stmt]
    widths = [design.randoms[s].z.shape[1] for s, *_ in per_stmt]
    qs = sum((c * w for c, w in zip(counts, widths)), np.zeros(n_blocks, np.int64))
    # slot and column offset of each statement's first slot in each block
    slot_base = np.zeros(n_blocks, np.int64)
    col_base = np.zeros(n_blocks, np.int64)
    blocks_, stmts, levs, grps, slot_no, col0 = [], [], [], [], [], []
    row_slot = []
    for (s, sblk, slev, sgrp, o, inv), cnt, w in zip(per_stmt, counts, widths):
        start = np.concatenate([[0], np.cumsum(cnt)])
        rank = np.arange(len(sblk)) - start[sblk]  # position among this statement's slots in the block
        blocks_.append(sblk)
        stmts.append(np.full(len(sblk), s))
        levs.append(slev)
        grps.append(sgrp)
        slot_no.append(slot_base[sblk] + rank)
        col0.append(col_base[sblk] + rank * w)
        where = np.empty(len(o), np.int64)
        where[o] = np.arange(len(o))
        row_slot.append(where[inv])  # index into this statement's slot list, rows in sorted order
        slot_base += cnt
        col_base += cnt * w
    if per_stmt:
        table = {k: np.concatenate(v) for k, v in
                 dict(block=blocks_, stmt=stmts, level=levs, group=grps, slot=slot_no, col0=col0).items()}
        o = np.lexsort((table["slot"], table["block"]))
        offsets = np.cumsum([0] + [len(b) for b in blocks_])
        inv_o = np.empty(len(o), np.int64)
        inv_o[o] = np.arange(len(o))
        table = {k: v[o] for k, v in table.items()}
        row_slot = [inv_o[offsets[i] + rs] for i, rs in enumerate(row_slot)]  # rows (sorted order) -> slot index
    else:
        table = {k: np.zeros(0, np.int64) for k in ("block", "stmt", "level", "group", "slot", "col0")}
    return table, row_slot, qs


def make_blocks(design: Design, layout: Layout) -> Blocks:
    ids = block_ids(design)
    n_blocks = int(ids.max()) + 1
    order = np.argsort(ids, kind="stable")
    starts = np.searchsorted(ids[order], np.arange(n_blocks + 1))
    sizes = np.diff(starts)
    if sizes.max() > MAX_DENSE_BLOCK:
        raise UnsupportedOptionError(
            f"the random-effect subjects are crossed (not nested in one factor), which joins {sizes.max()} rows "
            f"into one block; the dense per-block path handles at most {MAX_DENSE_BLOCK} rows per block, and the "
            "sparse mixed-model-equations path for large crossed designs is not implemented yet"
        )
    blk_sorted = ids[order]
    pos_sorted = np.arange(len(order)) - starts[blk_sorted]  # position of each row in its block

    kind_of = {}
    for kk, gk in enumerate(layout.g_kinds):
        kind_of[(gk.statement, gk.group_level)] = kk
    table, row_slot, qs = _slot_table(design, ids, order, n_blocks)
    slot_kind = np.array([kind_of[(int(s), design.randoms[int(s)].group_levels[int(g)])]
                          for s, g in zip(table["stmt"], table["group"])], np.int64).reshape(-1)
    slot_starts = np.searchsorted(table["block"], np.arange(n_blocks + 1))
    z_columns = int(qs.sum())

    p = design.x.shape[1]
    kcoord = design.repeated.coords.shape[1]
    ncls = np.array([size_class(int(m)) for m in range(int(sizes.max()) + 1)])
    qmax = int(qs.max()) if len(qs) else 0
    qcls = np.array([size_class(int(q)) if q else 0 for q in range(qmax + 1)])
    key_n, key_q = ncls[sizes], qcls[qs]

    buckets, members = [], []
    rep = design.repeated
    weights = getattr(design, "weights", None)
    for n, q in sorted(set(zip(key_n.tolist(), key_q.tolist()))):
        bl = np.flatnonzero((key_n == n) & (key_q == q))
        B = padded_count(len(bl))
        slot_in = np.full(n_blocks, -1, np.int64)
        slot_in[bl] = np.arange(len(bl))
        sel = np.flatnonzero(slot_in[blk_sorted] >= 0)  # sorted-order rows of these blocks
        rows = order[sel]
        i, j = slot_in[blk_sorted[sel]], pos_sorted[sel]
        arr = {
            "y": np.zeros((B, n)),
            "x": np.zeros((B, n, p)),
            "mask": np.zeros((B, n)),
            "z": np.zeros((B, n, q)),
            "zkind": np.zeros((B, q), np.int32),
            "zeff": np.zeros((B, q), np.int32),
            "zslot": np.full((B, q), -1, np.int32),
            "zvalid": np.zeros((B, q)),
            "rpos": np.zeros((B, n), np.int32),
            # Padded rows get distinct subject/positions so they never correlate with real ones.
            "rsub": np.broadcast_to(-1 - np.arange(n, dtype=np.int32), (B, n)).copy(),
            "rgrp": np.zeros((B, n), np.int32),
            "coords": np.zeros((B, n, kcoord)),
            "w": np.ones((B, n)),  # WEIGHT statement: R_i -> W^-1/2 R_i W^-1/2
        }
        arr["y"][i, j] = design.y[rows]
        arr["x"][i, j] = design.x[rows]
        arr["mask"][i, j] = 1.0
        arr["rpos"][i, j] = rep.pos[rows]
        if rep.subject_levels:
            arr["rsub"][i, j] = rep.subject[rows]
        arr["rgrp"][i, j] = rep.group[rows]
        arr["coords"][i, j] = rep.coords[rows]
        if weights is not None:
            arr["w"][i, j] = weights[rows]
        for s, r in enumerate(design.randoms):
            d = r.z.shape[1]
            c0 = table["col0"][row_slot[s][sel]]
            for e in range(d):
                arr["z"][i, j, c0 + e] = r.z[rows, e]
        # per-column attributes of each slot of these blocks
        sl = np.flatnonzero(slot_in[table["block"]] >= 0)
        si = slot_in[table["block"][sl]]
        for s, r in enumerate(design.randoms):
            d = r.z.shape[1]
            mine = sl[table["stmt"][sl] == s]
            bi = slot_in[table["block"][mine]]
            for e in range(d):
                col = table["col0"][mine] + e
                arr["zkind"][bi, col] = slot_kind[mine]
                arr["zeff"][bi, col] = e
                arr["zslot"][bi, col] = table["slot"][mine]
                arr["zvalid"][bi, col] = 1.0
        del si
        buckets.append(arr)
        members.append(bl)
    slot_triples = np.stack([table["stmt"], table["level"], table["group"]], axis=1) if len(table["block"]) else np.zeros((0, 3), np.int64)
    return Blocks(
        buckets=tuple(buckets),
        block_of_row=ids,
        rows_of_block=_Split(order, starts),
        bucket_members=tuple(members),
        n_blocks=n_blocks,
        max_rows=int(sizes.max()),
        max_cols=qmax,
        z_columns=z_columns,
        slots=_Split(slot_triples, slot_starts, lambda a: tuple(tuple(int(v) for v in t) for t in a)),
    )
