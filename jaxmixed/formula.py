"""Data-free model specification: RANDOM and REPEATED statements and lme4 bars.

``jm.Random`` and ``jm.Repeated`` mirror PROC MIXED's RANDOM and REPEATED
statements.  lme4's bar syntax inside the fixed formula, ``(x | g)``,
``(x || g)`` and ``(1 | a/b)``, is split off here before formulaic sees the
rest, because formulaic gives ``|`` a meaning of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import FormulaError, SpecificationError


def _norm_type(type_: str) -> str:
    return re.sub(r"\s+", "", str(type_)).upper()


def _subject_parts(subject: str | None) -> tuple[str, ...]:
    if subject is None:
        return ()
    if not isinstance(subject, str) or not subject.strip():
        raise SpecificationError(f"subject= must be a column name or an interaction like 'a:b', got {subject!r}")
    parts = tuple(p.strip() for p in subject.split(":"))
    if any(not p for p in parts):
        raise SpecificationError(f"subject={subject!r} has an empty part; write an interaction as 'a:b'")
    return parts


@dataclass(frozen=True)
class Random:
    """One RANDOM statement: ``effects`` (a formula right-hand side) by ``subject``.

    ``type`` names the covariance structure of G for one subject (PROC MIXED's
    TYPE=, e.g. ``"VC"``, ``"UN"``, ``"CS"``, ``"UN(1)"``); ``group`` names a
    column whose levels get separate parameters (GROUP=).
    """

    effects: str = "1"
    subject: str | None = None
    type: str = "VC"
    group: str | None = None

    def __post_init__(self):
        if not isinstance(self.effects, str) or not self.effects.strip():
            raise SpecificationError(f"Random effects must be a formula such as '1 + Days', got {self.effects!r}")
        object.__setattr__(self, "type", _norm_type(self.type))
        _subject_parts(self.subject)

    @property
    def subject_parts(self) -> tuple[str, ...]:
        return _subject_parts(self.subject)


@dataclass(frozen=True)
class Repeated:
    """The REPEATED statement: the R-side covariance of the errors within ``subject``.

    ``index`` is the column that places an observation within its subject
    (PROC MIXED's repeated effect), or two or more columns (``["var",
    "time"]``, PROC MIXED's ``REPEATED var time``) whose level ranks place it
    at position (i₁, i₂) -> i₁ n₂ + i₂, row-major, as the Kronecker-product
    structures (``UN@AR(1)``, ``UN@CS``, ``UN@UN``) expect; ``coordinate`` the column(s) of the
    spatial structures; ``group`` a column whose levels get separate
    parameters.
    """

    subject: str | None = None
    type: str = "VC"
    index: str | tuple[str, ...] | None = None
    coordinate: str | tuple[str, ...] | None = None
    group: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "type", _norm_type(self.type))
        if isinstance(self.coordinate, list):
            object.__setattr__(self, "coordinate", tuple(self.coordinate))
        if isinstance(self.index, list):
            object.__setattr__(self, "index", tuple(self.index))
        if isinstance(self.index, tuple) and (not self.index or not all(isinstance(c, str) and c for c in self.index)):
            raise SpecificationError(f"index= takes a column name or a list of column names, got {self.index!r}")
        _subject_parts(self.subject)

    @property
    def subject_parts(self) -> tuple[str, ...]:
        return _subject_parts(self.subject)

    @property
    def index_columns(self) -> tuple[str, ...]:
        """The columns of the repeated effect (none, one, or several)."""
        if not self.index:
            return ()
        return (self.index,) if isinstance(self.index, str) else tuple(self.index)

    @property
    def coordinates(self) -> tuple[str, ...]:
        if self.coordinate is None:
            return ()
        if isinstance(self.coordinate, str):
            return tuple(c.strip() for c in self.coordinate.split(",") if c.strip())
        return tuple(self.coordinate)


def _find_bars(formula: str) -> list[tuple[int, int]]:
    """Spans (start, end) of top-level parenthesised groups that contain a bar."""
    spans, depth, start = [], 0, None
    for i, ch in enumerate(formula):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise FormulaError(f"unbalanced ')' in formula:\n  {formula}\n  {' ' * i}^")
            if depth == 0 and "|" in formula[start + 1 : i]:
                spans.append((start, i + 1))
    if depth != 0:
        raise FormulaError(f"unbalanced '(' in formula:\n  {formula}\n  {' ' * (start or 0)}^")
    return spans


def _bar_to_random(inner: str, formula: str, at: int) -> list[Random]:
    double = "||" in inner
    lhs, _, rhs = inner.partition("||" if double else "|")
    lhs, rhs = lhs.strip(), rhs.strip()
    if not lhs or not rhs:
        raise FormulaError(
            f"random-effects term '({inner})' needs effects and a grouping factor, as in (1 + x | g):\n"
            f"  {formula}\n  {' ' * at}^"
        )
    terms = [t.strip() for t in re.split(r"\+", lhs) if t.strip()]
    no_intercept = any(t in ("0", "-1") for t in terms) or re.search(r"-\s*1\b", lhs)
    terms = [t for t in terms if t not in ("0", "1", "-1")]
    effects = " + ".join((["0"] if no_intercept else ["1"]) + terms)
    # lme4: (expr | g) is unstructured over every column expr makes (a factor
    # gives several), (expr || g) independent; (1 | g) reads best as VC.
    type_ = "VC" if (double or (not terms and not no_intercept)) else "UN"
    # (1 | a/b) is (1 | a) + (1 | a:b): nesting spelled by its coarsest-first chain.
    levels = [p.strip() for p in rhs.split("/")]
    if any(not p for p in levels):
        raise FormulaError(f"empty grouping factor in '({inner})':\n  {formula}\n  {' ' * at}^")
    return [Random(effects, ":".join(levels[: k + 1]), type_) for k in range(len(levels))]


def split_bars(formula: str) -> tuple[str, list[Random]]:
    """Split ``"y ~ x + (x | g)"`` into the fixed formula and RANDOM statements."""
    if not isinstance(formula, str) or "~" not in formula:
        raise FormulaError(f"the fixed formula must look like 'y ~ x1 + x2', got {formula!r}")
    randoms: list[Random] = []
    fixed, last = [], 0
    for start, end in _find_bars(formula):
        fixed.append(formula[last:start])
        randoms.extend(_bar_to_random(formula[start + 1 : end - 1], formula, start))
        last = end
    fixed.append(formula[last:])
    text = "".join(fixed)
    # Drop the '+' left dangling where a bar term was cut out.
    text = re.sub(r"\+\s*(?=\+|$)", "", text.strip())
    text = re.sub(r"~\s*\+", "~ ", text).strip()
    lhs, _, rhs = text.partition("~")
    if not lhs.strip():
        raise FormulaError(f"the fixed formula needs a response on the left of '~':\n  {formula}\n  ^")
    if not rhs.strip():
        rhs = "1"
    return f"{lhs.strip()} ~ {rhs.strip()}", randoms
