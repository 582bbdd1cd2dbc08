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
    #: "blocks": V block-diagonal by subject, dense per block; "mme": the sparse
    #: mixed model equations over all of Z (crossed random effects)
    path: str = "blocks"

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


PATHS = ("auto", "blocks", "mme")


def choose_path(design: Design, path: str = "auto") -> str:
    """The likelihood path: ``"blocks"`` when the subjects nest in one coarsest
    factor (V block-diagonal by it) and its blocks are small enough for dense
    algebra, else ``"mme"`` (crossed subjects: one component joins them all)."""
    from .errors import SpecificationError

    key = str(path).lower()
    if key not in PATHS:
        raise SpecificationError(f"path={path!r} is not known; use one of {', '.join(PATHS)}")
    if key != "auto":
        return key
    if not design.randoms:
        return "blocks"
    ids = block_ids(design)
    n_comp = int(ids.max()) + 1
    factors = [r.subject for r in design.randoms]
    if design.repeated.subject_levels:
        factors.append(design.repeated.subject)
    nested = any(len(np.unique(f)) == n_comp for f in factors)
    largest = int(np.bincount(ids).max())
    return "blocks" if nested and largest <= MAX_DENSE_BLOCK else "mme"


def make_layout(design: Design, method: str, noprofile: bool = False, path: str = "blocks") -> Layout:
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
        path=path,
    )


def block_ids(design: Design) -> np.ndarray:
    """Component label per row: rows sharing any subject level are joined."""
    n = design.n_used
    rows, cols, base = [], [], n
    for r in design.randoms:
        rows.append(np.arange(n))
        cols.append(base + r.subject)
        base += int(r.subject.max()) + 1
    rep = design.repeated
    if rep.subject_levels:  # a REPEATED subject joins its rows
        rows.append(np.arange(n))
        cols.append(base + rep.subject)
        base += int(rep.subject.max()) + 1
    if not rows:
        return np.arange(n)
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    graph = sp.coo_matrix((np.ones(len(r)), (r, c)), shape=(base, base)).tocsr()
    _, labels = connected_components(graph, directed=False)
    # Renumber the components in order of first appearance.
    _, first = np.unique(labels[:n], return_index=True)
    order = np.argsort(first)
    remap = np.empty(len(order), np.int64)
    remap[order] = np.arange(len(order))
    return remap[np.searchsorted(np.unique(labels[:n]), labels[:n])]


@dataclass(frozen=True)
class Blocks:
    """Bucketed arrays plus what is needed to map back to rows."""

    buckets: tuple[dict, ...]  # each: arrays with a leading block axis
    block_of_row: np.ndarray
    rows_of_block: tuple[np.ndarray, ...]
    bucket_members: tuple[np.ndarray, ...]  # block ids in each bucket, in order
    n_blocks: int
    max_rows: int
    max_cols: int
    z_columns: int  # columns of Z over all blocks
    #: per block, per slot: (RANDOM statement, subject code, group code) of its Z columns
    slots: tuple = ()


def make_blocks(design: Design, layout: Layout) -> Blocks:
    ids = block_ids(design)
    n_blocks = int(ids.max()) + 1
    order = np.argsort(ids, kind="stable")
    starts = np.searchsorted(ids[order], np.arange(n_blocks + 1))
    rows_of_block = tuple(order[starts[b] : starts[b + 1]] for b in range(n_blocks))
    sizes = np.diff(starts)
    if sizes.max() > MAX_DENSE_BLOCK:
        raise UnsupportedOptionError(
            f"the random-effect subjects are crossed (not nested in one factor), which joins {sizes.max()} rows "
            f"into one block; the dense per-block path handles at most {MAX_DENSE_BLOCK} rows per block, and the "
            "sparse mixed-model-equations path (path='mme', the default for crossed subjects) handles such designs"
        )

    # Z columns per block: one set of effect columns per (statement, subject level) present.
    kind_of = {}
    for kk, gk in enumerate(layout.g_kinds):
        kind_of[(gk.statement, gk.group_level)] = kk
    per_block = []
    for rows in rows_of_block:
        cols = []  # (statement, subject level, group level idx) per slot
        for s, r in enumerate(design.randoms):
            levels, first = np.unique(r.subject[rows], return_index=True)
            for lev, f in sorted(zip(levels, first), key=lambda t: t[1]):
                grp = r.group[rows[f]]
                cols.append((s, lev, grp))
        per_block.append(cols)
    qs = np.array([sum(design.randoms[s].z.shape[1] for s, _, _ in cols) for cols in per_block])
    z_columns = int(qs.sum())

    p = design.x.shape[1]
    kcoord = design.repeated.coords.shape[1]
    classes = {}
    for b in range(n_blocks):
        key = (size_class(int(sizes[b])), size_class(int(qs[b])) if qs[b] else 0)
        classes.setdefault(key, []).append(b)

    buckets, members = [], []
    rep = design.repeated
    for (n, q), bl in sorted(classes.items()):
        B = padded_count(len(bl))
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
            "rsub": np.zeros((B, n), np.int32),
            "rgrp": np.zeros((B, n), np.int32),
            "coords": np.zeros((B, n, kcoord)),
            "w": np.ones((B, n)),  # WEIGHT statement: R_i -> W^-1/2 R_i W^-1/2
        }
        for i, b in enumerate(bl):
            rows = rows_of_block[b]
            m = len(rows)
            arr["y"][i, :m] = design.y[rows]
            arr["x"][i, :m] = design.x[rows]
            arr["mask"][i, :m] = 1.0
            # Padded rows get distinct subject/positions so they never correlate with real ones.
            arr["rpos"][i, :m] = rep.pos[rows]
            arr["rsub"][i, :] = -1 - np.arange(n)
            arr["rsub"][i, :m] = rep.subject[rows] if rep.subject_levels else -1 - np.arange(m)
            arr["rgrp"][i, :m] = rep.group[rows]
            arr["coords"][i, :m] = rep.coords[rows]
            if getattr(design, "weights", None) is not None:
                arr["w"][i, :m] = design.weights[rows]
            col = 0
            for slot, (s, lev, grp) in enumerate(per_block[b]):
                r = design.randoms[s]
                d = r.z.shape[1]
                hit = r.subject[rows] == lev
                arr["z"][i, :m, col : col + d] = r.z[rows] * hit[:, None]
                arr["zkind"][i, col : col + d] = kind_of[(s, r.group_levels[grp])]
                arr["zeff"][i, col : col + d] = np.arange(d)
                arr["zslot"][i, col : col + d] = slot
                arr["zvalid"][i, col : col + d] = 1.0
                col += d
        buckets.append(arr)
        members.append(np.array(bl))
    return Blocks(
        buckets=tuple(buckets),
        block_of_row=ids,
        rows_of_block=rows_of_block,
        bucket_members=tuple(members),
        n_blocks=n_blocks,
        max_rows=int(sizes.max()),
        max_cols=int(qs.max()) if len(qs) else 0,
        z_columns=z_columns,
        slots=tuple(tuple(cols) for cols in per_block),
    )
