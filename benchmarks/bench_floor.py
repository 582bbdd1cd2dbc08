"""How far one Newton iteration of scenario 1 is from what the CPU could do.

Counts the floating-point operations and the bytes one −2ℓ evaluation of the
longitudinal model needs (per subject, t visits, q = 2 random effects, p = 3
fixed columns plus y), measures this machine's achievable GFLOP/s (a large
float64 matmul, and a batched t x t matmul as small-matrix reference) and its
memory bandwidth (a large array copy), and times jaxmixed's compiled −2ℓ,
its gradient + Hessian program (what a Newton iteration runs, plus at least one
−2ℓ for the step) and a whole fit.

    python benchmarks/bench_floor.py               # 50,000 subjects x 8
    python benchmarks/bench_floor.py 10000 --record
"""

from __future__ import annotations

import os
import sys

# One thread for every measurement when jaxmixed itself runs on one CPU (<= 2 CPUs).
if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) <= 2 and "--all-cpus" not in sys.argv:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    os.environ["JAXMIXED_ALL_CPUS"] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import _harness as h  # noqa: E402

T, Q, P = 8, 2, 3


def flops_per_subject(t=T, q=Q, p=P) -> dict:
    """Multiply-adds counted as 2 flops.  V_i = Z G Z' + σ²I, its Cholesky, the
    triangular solve with [X y] and the cross-products [X y]'V⁻¹[X y]."""
    c = p + 1
    parts = {"V = Z G Z' + s2 I": 2 * t * q * q + 2 * t * t * q + t,
             "Cholesky (t^3/3)": t**3 / 3,
             "triangular solve with [X y]": t * t * c,
             "cross-products": 2 * t * c * c,
             "log det V": t}
    parts["total"] = sum(parts.values())
    return parts


def bytes_per_subject(t=T, q=Q, p=P) -> int:
    """The data one pass must read: X (t x p), y (t), Z (t x q) in float64."""
    return 8 * t * (p + 1 + q)


def best(fn, repeats=5) -> float:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def machine_rates(subjects: int) -> dict:
    n = 2000
    a, b = np.random.rand(n, n), np.random.rand(n, n)
    a @ b
    gflops = 2 * n**3 / best(lambda: a @ b) / 1e9
    small_a, small_b = np.random.rand(subjects, T, T), np.random.rand(subjects, T, P + 1)
    small = 2 * subjects * T * T * (P + 1) / best(lambda: small_a @ small_b) / 1e9
    spd = small_a @ np.swapaxes(small_a, 1, 2) + T * np.eye(T)
    chol = subjects * T**3 / 3 / best(lambda: np.linalg.cholesky(spd)) / 1e9
    src = np.ones(2**27)  # 1 GiB
    dst = np.empty_like(src)
    np.copyto(dst, src)
    bandwidth = 2 * src.nbytes / best(lambda: np.copyto(dst, src)) / 1e9  # read + write
    return {"matmul_gflops": gflops, "batched_small_matmul_gflops": small, "batched_cholesky_gflops": chol,
            "copy_gbs": bandwidth}


def jaxmixed_times(subjects: int, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp

    import jaxmixed as jm
    from jaxmixed.blocks import make_blocks, make_layout
    from jaxmixed.design import build_design
    from jaxmixed.likelihood import objective
    from jaxmixed.optimize.starts import mivque0, start_working

    df = h.longitudinal(subjects, T)
    random = jm.Random("1 + time", subject="subject", type="UN")
    design = build_design("y ~ time + x", df, random)
    layout = make_layout(design, "REML")
    blocks = make_blocks(design, layout)
    buckets = tuple({k: jnp.asarray(v) for k, v in b.items()} for b in blocks.buckets)
    w = jnp.asarray(start_working(mivque0(buckets, layout), layout))

    value = jax.jit(objective, static_argnames="layout")
    grad = jax.grad(objective)

    def with_grad(w, buckets, layout):
        g = grad(w, buckets, layout)
        return g, g

    derivs = jax.jit(jax.jacfwd(with_grad, has_aux=True), static_argnames="layout")
    jax.block_until_ready(value(w, buckets, layout))
    jax.block_until_ready(derivs(w, buckets, layout))
    t_value = statistics.median(best(lambda: jax.block_until_ready(value(w, buckets, layout)), 1) for _ in range(repeats))
    t_derivs = statistics.median(best(lambda: jax.block_until_ready(derivs(w, buckets, layout)), 1) for _ in range(repeats))
    jm.mixed("y ~ time + x", df, random=random)
    fits = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = jm.mixed("y ~ time + x", df, random=random)
        fits.append(time.perf_counter() - t0)
    return {"value_s": t_value, "derivs_s": t_derivs, "fit_s": statistics.median(fits), "iterations": r.iterations,
            "n_working": int(w.shape[0])}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("subjects", nargs="?", type=int, default=50_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--record", action="store_true", help="append to RESULTS.md")
    p.add_argument("--all-cpus", action="store_true")
    p.add_argument("--note", default="", help="a line written with the recorded section")
    args, _ = p.parse_known_args(argv)  # run_all.py may pass the scenarios' options
    s = args.subjects
    info = h.machine()
    rates = machine_rates(s)
    fl = flops_per_subject()
    eval_flops, eval_bytes = fl["total"] * s, bytes_per_subject() * s
    floor_eval = max(eval_flops / (rates["matmul_gflops"] * 1e9), eval_bytes / (rates["copy_gbs"] * 1e9))
    small_eval = max(eval_flops / (rates["batched_small_matmul_gflops"] * 1e9), eval_bytes / (rates["copy_gbs"] * 1e9))
    jt = jaxmixed_times(s, args.repeats)
    k = jt["n_working"]
    # reverse mode ~3 evaluations, forward over it in k directions: Hessian + gradient ~ 3k + 1 evaluations
    mult = 3 * k + 1
    iter_floor, iter_small = (mult + 1) * floor_eval, (mult + 1) * small_eval
    measured_iter = jt["derivs_s"] + jt["value_s"]
    lines = [
        f"Scenario 1 at {s:,} subjects x {T} visits ({s * T:,} rows), q = {Q}, p = {P}, {k} working parameters.",
        "",
        h.markdown_table(["per subject, one -2LL evaluation", "flops"], [[k_, f"{v:.0f}"] for k_, v in fl.items()]),
        "",
        f"- One evaluation: {eval_flops / 1e6:.1f} MFLOP, {eval_bytes / 2**20:.1f} MiB of data read "
        f"({bytes_per_subject()} bytes per subject).",
        f"- Machine (one core): large matmul {rates['matmul_gflops']:.1f} GFLOP/s; batched {T}x{T} @ {T}x{P + 1} matmul "
        f"{rates['batched_small_matmul_gflops']:.2f} GFLOP/s; batched {T}x{T} Cholesky "
        f"{rates['batched_cholesky_gflops']:.2f} GFLOP/s (numpy); copy bandwidth {rates['copy_gbs']:.1f} GB/s (read + write).",
        f"- Floor of one evaluation: {floor_eval * 1e3:.2f} ms at matmul peak "
        f"({'memory' if eval_bytes / rates['copy_gbs'] > eval_flops / rates['matmul_gflops'] else 'compute'} bound), "
        f"{small_eval * 1e3:.2f} ms at the small-matrix rate.",
        f"- A Newton iteration = gradient + Hessian (forward over reverse, ~{mult} evaluations for k = {k}) + one "
        f"evaluation for the step: floor {iter_floor * 1e3:.1f} ms (peak), {iter_small * 1e3:.1f} ms (small-matrix rate).",
        f"- jaxmixed measured (median of {args.repeats}): -2LL {jt['value_s'] * 1e3:.1f} ms "
        f"({jt['value_s'] / floor_eval:.0f}x the peak floor, {jt['value_s'] / small_eval:.1f}x the small-matrix floor); "
        f"gradient + Hessian {jt['derivs_s'] * 1e3:.1f} ms ({jt['derivs_s'] / jt['value_s']:.1f} evaluations); "
        f"one Newton iteration {measured_iter * 1e3:.1f} ms = {measured_iter / iter_floor:.0f}x the peak floor, "
        f"{measured_iter / iter_small:.1f}x the small-matrix floor.",
        f"- Whole warm fit {jt['fit_s']:.2f} s with {jt['iterations']} Newton step(s) after the start "
        f"(MIVQUE0 start, final Hessian and the result tables included).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.record:
        h.append_results("Floor: scenario 1 per likelihood evaluation and Newton iteration", text, info,
                         extra=args.note)


if __name__ == "__main__":
    main()
