"""The immutable result of a BY-group fit: every table for all groups at once,
from the batched arrays, with the BY columns in front; ``res[key]`` is that
group's full :class:`MixedResult`, built on demand."""

from __future__ import annotations

import dataclasses
from functools import cached_property

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from .errors import DataError
from .results import BOUND_TOL, _covparm_table, build_result


def _by_frame(keys: pd.DataFrame, index: np.ndarray) -> pd.DataFrame:
    return keys.iloc[index].reset_index(drop=True)


class ByResult:
    """Results of ``jm.mixed(..., by=...)``.

    Tables: ``covparms``, ``fixed``, ``fit_stats``, ``converged``, ``groups``
    (each row led by the BY columns).  ``res[key]`` (a value, or a tuple for
    several BY columns) is the group's :class:`MixedResult`; iterating gives
    ``(key, MixedResult)`` for every fitted group.  A group that could not be
    fitted is listed with its reason and raises on ``res[key]``.  Rows with a
    missing BY value are not used (``n_missing_by``)."""

    def __init__(self, state: dict):
        self._s = state
        self._cache: dict[int, object] = {}

    # ------------------------------------------------------------------ building
    @classmethod
    def _build(cls, **st):
        return cls(st)

    @property
    def by(self) -> tuple[str, ...]:
        return tuple(self._s["by"])

    @property
    def n_missing_by(self) -> int:
        """Rows not used because a BY column is missing there."""
        return self._s["n_missing_by"]

    def __len__(self) -> int:
        return len(self._s["keys"])

    def _key_tuple(self, g: int):
        row = self._s["keys"].iloc[g]
        vals = tuple(row[c] for c in self.by)
        return vals[0] if len(vals) == 1 else vals

    def keys(self) -> list:
        return [self._key_tuple(g) for g in range(len(self))]

    def __iter__(self):
        for g in range(len(self)):
            if self._s["fitted"][g]:
                yield self._key_tuple(g), self[self._key_tuple(g)]

    def _locate(self, key) -> int:
        keys = self._s["keys"]
        want = key if isinstance(key, tuple) else (key,)
        if len(want) != len(self.by):
            raise KeyError(f"a BY key has {len(self.by)} value(s) ({', '.join(self.by)}), got {key!r}")
        hit = np.ones(len(keys), bool)
        for c, v in zip(self.by, want):
            hit &= (keys[c] == v).to_numpy() | (keys[c].astype(str) == str(v)).to_numpy()
        if not hit.any():
            raise KeyError(f"no BY group {key!r}")
        return int(np.flatnonzero(hit)[0])

    # ------------------------------------------------------------------ tables
    @cached_property
    def _bound(self):
        s = self._s
        layout = s["layout"]
        var = layout.variance_mask()
        theta = s["theta"]
        ref = np.max(np.where(var, np.abs(theta), 0.0), axis=1, initial=0.0)
        at_bound = var[None, :] & (theta <= BOUND_TOL * np.maximum(ref, 1e-300)[:, None])
        theta = np.where(at_bound, 0.0, theta)
        k = theta.shape[1]
        asy = np.full((len(theta), k, k), np.nan)
        for g in np.flatnonzero(s["fitted"] & np.isfinite(s["m2ll"])):
            free = ~at_bound[g]
            hf = s["hess"][g][np.ix_(free, free)]
            if not free.any() or not np.all(np.isfinite(hf)):
                continue
            vals = np.linalg.eigvalsh(hf)
            if vals.min() > 1e-10 * max(abs(vals).max(), 1e-300):
                asy[g][np.ix_(free, free)] = 2.0 * np.linalg.inv(hf)
        return theta, at_bound, asy

    @cached_property
    def _covparms(self) -> pd.DataFrame:
        s = self._s
        theta, at_bound, asy = self._bound
        k = theta.shape[1]
        template, order = _covparm_table(s["layout"], s["design"], np.zeros(k), np.zeros(k), np.zeros(k, bool))
        G = len(theta)
        se = np.sqrt(np.where(np.diagonal(asy, axis1=1, axis2=2) >= 0, np.diagonal(asy, axis1=1, axis2=2), np.nan))
        table = pd.concat([_by_frame(s["keys"], np.repeat(np.arange(G), k)),
                           pd.concat([template.drop(columns=["Estimate", "StdErr", "Bound"])] * G, ignore_index=True)],
                          axis=1)
        table["Estimate"] = theta[:, order].ravel()
        table["StdErr"] = se[:, order].ravel()
        table["Bound"] = at_bound[:, order].ravel()
        if s["covtest"]:
            z = table["Estimate"].to_numpy() / table["StdErr"].to_numpy()
            var_o = np.tile(s["layout"].variance_mask()[order], G)
            table["ZValue"] = z
            table["ProbZ"] = np.where(var_o, stats.norm.sf(z), 2 * stats.norm.sf(np.abs(z)))
        return table[np.repeat(s["fitted"], k)].reset_index(drop=True)

    @cached_property
    def _fixed_arrays(self):
        s = self._s
        active = s["active"]
        xvx = np.where(active[:, :, None] & active[:, None, :], s["xvx"], 0.0)
        xvx = xvx + np.einsum("gi,ij->gij", (~active).astype(float), np.eye(active.shape[1]))
        ok = np.all(np.isfinite(xvx), axis=(1, 2))
        cov = np.full_like(xvx, np.nan)
        cov[ok] = np.linalg.inv(xvx[ok])
        cov = np.where(active[:, :, None] & active[:, None, :], cov, 0.0)
        beta = np.einsum("gij,gj->gi", cov, np.where(active, s["xvy"], 0.0))
        se = np.sqrt(np.where(active, np.diagonal(cov, axis1=1, axis2=2), np.nan))
        return beta, se

    def _df(self) -> np.ndarray:
        """DF per group and estimated column (design.x columns)."""
        s = self._s
        n_resid = (s["n_used"] - s["rank_x"]).astype(float)
        p = s["active"].shape[1]
        if s["ddfm"] == "residual":
            return np.repeat(n_resid[:, None], p, axis=1)
        from .inference.ddf import _random_piece, grouped_cumulative_ranks
        from .inference.terms import contains, fixed_terms, random_terms, term_of_column

        design, fit_design = s["design"], s["fit_design"]
        rterms = random_terms(design)
        fterms = fixed_terms(design)
        split = s["blocks"].rows_of_block
        ranks = grouped_cumulative_ranks(fit_design.x, split._values, split._starts,
                                         [_random_piece(fit_design, rt) for rt in rterms],
                                         s["block_group"], len(self))
        contrib = np.diff(ranks, axis=1)
        resid = s["n_used"] - ranks[:, -1]
        term_df = np.empty((len(self), len(fterms)))
        for i, t in enumerate(fterms):
            cand = np.array([contains(rt.term, t) for rt in rterms], bool)
            c = np.where(cand[None, :] & (contrib > 0), contrib, np.iinfo(np.int64).max)
            best = c.min(axis=1, initial=np.iinfo(np.int64).max)
            term_df[:, i] = np.where(best < np.iinfo(np.int64).max, best, resid)
        owner = np.asarray(term_of_column(fterms, len(design.fixed_names)))[np.flatnonzero(~design.aliased)]
        return np.where(owner[None, :] >= 0, term_df[:, np.maximum(owner, 0)], n_resid[:, None])

    @cached_property
    def _fixed(self) -> pd.DataFrame:
        s = self._s
        design = s["design"]
        names = list(design.fixed_names)
        kept = np.flatnonzero(~design.aliased)
        G, P = len(self), len(names)
        beta, se = self._fixed_arrays
        df = np.where(s["active"], self._df(), np.nan)
        est_all = np.zeros((G, P))
        se_all = np.full((G, P), np.nan)
        df_all = np.full((G, P), np.nan)
        est_all[:, kept], se_all[:, kept], df_all[:, kept] = beta, se, df
        with np.errstate(divide="ignore", invalid="ignore"):
            t = est_all / se_all
        table = _by_frame(s["keys"], np.repeat(np.arange(G), P))
        table["Effect"] = np.tile(names, G)
        table["Estimate"] = est_all.ravel()
        table["StdErr"] = se_all.ravel()
        table["DF"] = df_all.ravel()
        table["tValue"] = t.ravel()
        table["Probt"] = 2 * stats.t.sf(np.abs(t.ravel()), df_all.ravel())
        return table[np.repeat(s["fitted"], P)].reset_index(drop=True)

    @cached_property
    def _fit_stats(self) -> pd.DataFrame:
        s = self._s
        layout = s["layout"]
        _, at_bound, _ = self._bound
        m2ll = s["m2ll"]
        reml = layout.method == "REML"
        rank_x = s["rank_x"]
        n_star = s["n_used"] - (rank_x if reml else 0)
        d = (~at_bound).sum(axis=1) + (0 if reml else rank_x)
        subjects = np.bincount(s["block_group"], minlength=len(self))
        with np.errstate(divide="ignore", invalid="ignore"):
            aicc = np.where(n_star - d - 1 > 0, m2ll + 2 * d * n_star / (n_star - d - 1), np.nan)
            bic = m2ll + d * np.log(subjects)
        label = "-2 Res Log Likelihood" if reml else "-2 Log Likelihood"
        G = len(self)
        table = _by_frame(s["keys"], np.repeat(np.arange(G), 4))
        table["Descr"] = np.tile([label, "AIC (Smaller is Better)", "AICC (Smaller is Better)",
                                  "BIC (Smaller is Better)"], G)
        table["Value"] = np.stack([m2ll, m2ll + 2 * d, aicc, bic], axis=1).ravel()
        return table[np.repeat(s["fitted"], 4)].reset_index(drop=True)

    @property
    def covparms(self) -> pd.DataFrame:
        """Covariance Parameter Estimates per group (fitted groups)."""
        return self._covparms.copy()

    @property
    def fixed(self) -> pd.DataFrame:
        """Solution for Fixed Effects per group: Effect, Estimate, StdErr, DF, tValue, Probt
        (a column aliased within a group: estimate 0, DF NaN)."""
        return self._fixed.copy()

    @property
    def fit_stats(self) -> pd.DataFrame:
        return self._fit_stats.copy()

    @property
    def converged(self) -> pd.DataFrame:
        """Per group: Converged, Status, Iterations, NObsUsed and the reason a group failed."""
        s = self._s
        from .optimize.newton import CONVERGED, STATUS_TEXT

        table = s["keys"].copy()
        table["Converged"] = s["fitted"] & (s["status"] == CONVERGED) & np.isfinite(s["m2ll"])
        table["Status"] = [STATUS_TEXT.get(int(v), "") if f else "not fitted" for v, f in zip(s["status"], s["fitted"])]
        table["Iterations"] = s["iterations"]
        table["NObsUsed"] = s["n_used"]
        table["Reason"] = s["reason"]
        return table

    @property
    def groups(self) -> pd.DataFrame:
        """Per group: NObsRead, NObsUsed, Subjects, Fitted, Reason."""
        s = self._s
        table = s["keys"].copy()
        table["NObsRead"] = s["n_read"]
        table["NObsUsed"] = s["n_used"]
        table["Subjects"] = np.bincount(s["block_group"], minlength=len(self))
        table["Fitted"] = s["fitted"]
        table["Reason"] = s["reason"]
        return table

    # ------------------------------------------------------------------ one group
    def __getitem__(self, key):
        g = self._locate(key)
        if g not in self._cache:
            self._cache[g] = self._group_result(g)
        return self._cache[g]

    def _group_result(self, g: int):
        from .blocks import make_blocks
        from .optimize.newton import STATUS_TEXT

        s = self._s
        if not s["fitted"][g]:
            raise DataError(f"BY group {self._key_tuple(g)!r} was not fitted: {s['reason'][g]}")
        design, layout = s["design"], s["layout"]
        rows = np.flatnonzero(s["gcode"] == g)
        act = s["active"][g]
        aliased = design.aliased.copy()
        aliased[np.flatnonzero(~design.aliased)[~act]] = True
        sub = dataclasses.replace(
            design,
            y=design.y[rows], x=design.x[rows][:, act], aliased=aliased,
            randoms=tuple(dataclasses.replace(r, z=r.z[rows], subject=r.subject[rows], group=r.group[rows])
                          for r in design.randoms),
            repeated=dataclasses.replace(design.repeated, subject=design.repeated.subject[rows],
                                         pos=design.repeated.pos[rows], coords=design.repeated.coords[rows],
                                         group=design.repeated.group[rows]),
            n_read=int(s["n_read"][g]), n_used=len(rows),
            used_rows=s["kept_rows"][design.used_rows[rows]],
            frame=design.frame.iloc[rows].reset_index(drop=True),
            weights=None if design.weights is None else design.weights[rows],
        )
        blocks = make_blocks(sub, layout)
        buckets = tuple({k: jnp.asarray(v) for k, v in b.items()} for b in blocks.buckets)
        opt, i = s["opts"][g]
        opt = jax.tree.map(lambda a: a[i], opt)
        gls = [np.asarray(opt.gls[0]), np.asarray(opt.gls[1])[np.ix_(act, act)], np.asarray(opt.gls[2])[act],
               np.asarray(opt.gls[3])]
        return build_result(
            design=sub, layout=layout, blocks=blocks, buckets=buckets, theta=np.asarray(s["theta"][g]),
            minus2ll=float(s["m2ll"][g]), opt=opt, status_text=STATUS_TEXT[int(s["status"][g])],
            start_source="MIVQUE0", theta_start=s["theta_start"][g], natural_hessian=np.asarray(s["hess"][g]),
            gls_sums=gls, ddfm=s["ddfm"], covtest=s["covtest"],
        )

    def __repr__(self) -> str:
        n_fit = int(np.sum(self._s["fitted"]))
        return f"<ByResult by {', '.join(self.by)}: {len(self)} groups, {n_fit} fitted>"
