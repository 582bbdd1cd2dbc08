# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # jaxmixed walkthrough
#
# A random-intercept-and-slope model for lme4's `sleepstudy` from fit to diagnostics, a REPEATED
# (R-side) model, a BY-group job, and a note on GPUs. This file is a Jupyter notebook in
# jupytext's percent format: open it with Jupyter (with jupytext installed) or run it as a script.
# The first fit in a process compiles the likelihood (a few seconds); later fits of the same
# shapes reuse it.

# %%
import jaxmixed as jm
from jaxmixed import plots

df = jm.datasets.load("sleepstudy")
fit = jm.mixed("Reaction ~ Days", data=df,
               random=[jm.Random("1 + Days", subject="Subject", type="UN")],  # RANDOM INTERCEPT DAYS / SUBJECT=SUBJECT TYPE=UN
               method="REML", ddfm="kr")
fit  # in a notebook: the headline and the main tables as HTML

# %% [markdown]
# The PROC MIXED-style report: Model Information, Class Level Information, Dimensions, Number of
# Observations, Iteration History, Convergence status, Covariance Parameter Estimates, Fit
# Statistics, Solution for Fixed Effects, Type 3 Tests.

# %%
print(fit.summary())

# %% [markdown]
# The same fit as lme4 prints it (`summary(lmer(Reaction ~ Days + (Days | Subject), sleepstudy))`):

# %%
print(fit.lme4())

# %% [markdown]
# Tables are pandas DataFrames.

# %%
fit.covparms

# %%
fit.fixed

# %%
fit.random_effects.head()

# %% [markdown]
# ## Diagnostics
#
# Findings about the fit (a variance on its bound, a Hessian that is not positive definite, no
# convergence, aliased columns) come as structured objects; the plots are matplotlib Figures.

# %%
print(fit.converged, fit.status)
print(fit.diagnostics or "no findings")

# %%
plots.residuals_vs_fitted(fit)

# %%
plots.qq(fit)

# %%
plots.caterpillar(fit)

# %% [markdown]
# The profile likelihood of the slope variance UN(2,2): −2ℓ minimised over the other covariance
# parameters with UN(2,2) held at each grid value; the 95% interval is where the profile crosses
# its minimum plus χ²₁(0.95) = 3.84.

# %%
prof = plots.profile_table(fit, "UN(2,2)", n=11)
print({k: prof.attrs[k] for k in ("estimate", "lower", "upper")})
plots.profile(fit, "UN(2,2)", n=11)

# %% [markdown]
# ## A REPEATED model
#
# Orthodontic growth: an unstructured R matrix over the four ages within each child
# (`REPEATED age / SUBJECT=Subject TYPE=UN`), no RANDOM statement. `verbose=True` shows each Newton
# iteration as it happens.

# %%
ortho = jm.mixed("distance ~ age * Sex", data=jm.datasets.load("orthodont"),
                 repeated=jm.Repeated(subject="Subject", type="UN", index="age"), verbose=True)
print(ortho.iteration_history)
ortho.rcorr(0)

# %%
plots.iteration_history(ortho)

# %% [markdown]
# ## A BY-group job
#
# `by="col"` fits the model separately in every level of a column (PROC MIXED's BY statement) and
# returns a `ByResult` whose tables carry the BY column first; `res[level]` is one group's fit.
# Here the 18 subjects are split into two halves of 9 (groups of the same shape share one compiled
# program).

# %%
import inspect

first = sorted(df["Subject"].unique())[:9]
df["half"] = df["Subject"].isin(first).map({True: "first", False: "second"})
if "by" in inspect.signature(jm.mixed).parameters:
    res = jm.mixed("Reaction ~ Days", data=df, random=[jm.Random("1 + Days", subject="Subject", type="UN")],
                   by="half")
    print(res.fixed)
    print(res.converged)
    fig = plots.forest(res, "Days")
else:  # a build without the BY path: the same table by hand
    import pandas as pd

    tables = [jm.mixed("Reaction ~ Days", data=part,
                       random=[jm.Random("1 + Days", subject="Subject", type="UN")]).fixed.reset_index().assign(half=h)
              for h, part in df.groupby("half")]
    by_fixed = pd.concat(tables, ignore_index=True)[["half", "Effect", "Estimate", "StdErr", "DF", "tValue", "Probt"]]
    print(by_fixed)
    fig = plots.forest(by_fixed, "Days")
fig

# %% [markdown]
# The command line does the same and writes every table (ODS OUTPUT style) and the plots:
#
# ```
# jaxmixed fit sleep.csv --fixed "Reaction ~ Days" --random "1 + Days | Subject : UN" \
#     --by half --out tables/ --plots plots/
# ```
#
# ## On a GPU
#
# Nothing in a model changes: install JAX with CUDA support (`pip install -U "jax[cuda12]"`) and
# jaxmixed runs its likelihood, derivatives and Newton loop on the GPU (`jax.devices()` shows which
# device is in use). Subjects of the same size are batched, so the GPU pays off for many subjects or
# many BY groups; small fits like the ones above are quicker on the CPU, where there is no transfer
# and launch overhead. Double precision is used on every device.

# %%
import jax

jax.devices()
