"""Model terms as PROC MIXED sees effects: which variables, which are
classification (CLASS) variables, which columns, and which effect contains which.

Containment follows SAS ("The Four Types of Estimable Functions"), as lmerTest
does: effect F1 is contained in F2 when

1. both involve the same continuous variables (if any),
2. F2 has more classification variables than F1, and
3. every classification variable of F1 is in F2.

So the intercept is contained in every effect made of classification variables
only, and in no effect that involves a continuous variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import formulaic
import numpy as np

_CALL = re.compile(r"^C\((?P<inner>[^,()]+)(?:,.*)?\)$")


@dataclass(frozen=True)
class Term:
    """One effect: ``label`` as R/lmerTest print it (``nitro_f:Variety``),
    ``columns`` its positions among the model's columns, ``factors`` the
    formulaic factor expressions, their kinds, and the data variables."""

    label: str
    factors: tuple[str, ...]
    categorical: tuple[bool, ...]
    columns: tuple[int, ...]
    class_vars: frozenset
    cont_vars: frozenset

    @property
    def is_intercept(self) -> bool:
        return not self.factors

    @property
    def order(self) -> int:
        return len(self.factors)


def contains(big: Term, small: Term) -> bool:
    """Whether effect ``big`` contains effect ``small`` (SAS's definition)."""
    return (
        big.cont_vars == small.cont_vars
        and len(big.class_vars) > len(small.class_vars)
        and small.class_vars <= big.class_vars
    )


def _factor_label(expr: str) -> str:
    m = _CALL.match(expr.strip())
    return m.group("inner").strip() if m else expr


def _kind_is_categorical(spec, expr: str) -> bool:
    state = spec.encoder_state.get(expr)
    if state is None:
        return False
    return str(getattr(state[0], "value", state[0])) == "categorical"


def spec_terms(spec, extra_class=frozenset()) -> list[Term]:
    """Terms of a formulaic ModelSpec, with ``extra_class`` added to every term's
    classification variables (the SUBJECT= effect of a RANDOM statement)."""
    data_vars = set(spec.variables_by_source.get("data", set()))
    out = []
    for term, cols in spec.term_indices.items():
        factors = tuple(f.expr for f in term.factors if f.expr != "1")
        cat = tuple(_kind_is_categorical(spec, f) for f in factors)
        cls, cont = set(extra_class), set()
        for f, c in zip(factors, cat):
            vars_ = set(spec.factor_variables.get(_factor_of(spec, f), set())) & data_vars
            if not vars_:
                vars_ = {f}
            (cls if c else cont).update(vars_)
        label = ":".join(_factor_label(f) for f in factors) if factors else "Intercept"
        out.append(Term(label, factors, cat, tuple(int(i) for i in cols), frozenset(cls), frozenset(cont)))
    return out


def _factor_of(spec, expr):
    for f in spec.factor_variables:
        if getattr(f, "expr", f) == expr:
            return f
    return expr


def fixed_terms(design) -> list[Term]:
    """The fixed-effect terms, columns indexing ``design.fixed_names``."""
    return spec_terms(design.model_spec)


@dataclass(frozen=True)
class RandomTerm:
    """One random effect: a term of a RANDOM statement crossed with its SUBJECT=."""

    statement: int
    term: Term  # columns index the statement's z


def random_terms(design) -> list[RandomTerm]:
    out = []
    for k, r in enumerate(design.randoms):
        mm = formulaic.model_matrix(r.statement.effects, design.frame, na_action="ignore")
        subject = frozenset(r.statement.subject_parts)
        for t in spec_terms(mm.model_spec, extra_class=subject):
            out.append(RandomTerm(k, t))
    return out


def term_of_column(terms: list[Term], n_columns: int) -> np.ndarray:
    """Index of the term each model column belongs to."""
    owner = np.full(n_columns, -1)
    for i, t in enumerate(terms):
        owner[list(t.columns)] = i
    return owner


def factor_matrix(spec, expr: str, frame) -> np.ndarray:
    """One factor evaluated on ``frame``: full indicator coding (every level) for a
    classification factor, the values for a continuous one."""
    if _kind_is_categorical(spec, expr):
        levels = list(spec.encoder_state[expr][1]["categories"])
        values = formulaic.model_matrix(f"0 + {expr}", frame, na_action="ignore")
        # Identify each indicator column with its level by name; fall back to order.
        names = list(values.columns)
        mat = np.zeros((len(frame), len(levels)))
        arr = np.asarray(values, float)
        for j, name in enumerate(names):
            lvl = name[name.rfind("[") + 1 : -1] if name.endswith("]") else name
            lvl = lvl[2:] if lvl.startswith("T.") else lvl
            k = levels.index(lvl) if lvl in levels else j
            mat[:, k] = arr[:, j]
        return mat
    values = formulaic.model_matrix(f"0 + {expr}", frame, na_action="ignore")
    return np.asarray(values, float).reshape(len(frame), -1)


def overparameterized(design) -> tuple[np.ndarray, list[slice]]:
    """R's "rank-deficient" design: per term, every cell of its classification
    factors (times its continuous factors), as ``model.matrix(~ 0 + term)``
    gives it; the intercept is a column of ones.  Returns the matrix and the
    column slice of each term."""
    spec = design.model_spec
    frame = design.frame
    blocks, slices, at = [], [], 0
    cache: dict[str, np.ndarray] = {}
    for t in fixed_terms(design):
        if t.is_intercept:
            m = np.ones((len(frame), 1))
        else:
            m = np.ones((len(frame), 1))
            for f in t.factors:
                if f not in cache:
                    cache[f] = factor_matrix(spec, f, frame)
                fm = cache[f]
                m = (m[:, :, None] * fm[:, None, :]).reshape(len(frame), -1)
        blocks.append(m)
        slices.append(slice(at, at + m.shape[1]))
        at += m.shape[1]
    return np.hstack(blocks) if blocks else np.zeros((len(frame), 0)), slices
