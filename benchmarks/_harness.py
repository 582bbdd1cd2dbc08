"""Shared pieces of the benchmark scripts: data, subprocess timing, R, tables, records.

Every engine runs in its own subprocess so that its first fit is really a first
fit (for jaxmixed: compile included, with an empty XLA cache directory), its
peak memory is its own, and an engine that runs too long or grows too large can
be stopped without stopping the benchmark.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))
RESULTS_MD = HERE / "RESULTS.md"
RECORDS = HERE / "results"  # one JSON line per measurement, read by plot_scaling.py
WORKER = HERE / "_worker.py"
R_TEMPLATE = HERE / "_fit.R"

#: the statement a child prints last: "RESULT " + a JSON object
MARK = "RESULT "


# --------------------------------------------------------------------------- data


def longitudinal(subjects: int, visits: int = 8, seed: int = 20240601) -> pd.DataFrame:
    """S subjects x T visits: y = 1 + 0.5 time + 0.3 x + b0 + b1 time + e,
    (b0, b1) ~ N(0, [[1, .06], [.06, .09]]) (sd 1 and .3, correlation .2), e ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    n = subjects * visits
    subject = np.repeat(np.arange(subjects, dtype=np.int64), visits)
    time_ = np.tile(np.arange(visits, dtype=np.float64), subjects)
    x = rng.standard_normal(n)
    g = np.array([[1.0, 0.06], [0.06, 0.09]])
    b = rng.standard_normal((subjects, 2)) @ np.linalg.cholesky(g).T
    y = 1.0 + 0.5 * time_ + 0.3 * x + b[subject, 0] + b[subject, 1] * time_ + rng.standard_normal(n)
    return pd.DataFrame({"subject": subject, "time": time_, "x": x, "y": y})


def grouped(groups: int, subjects: int = 20, visits: int = 5, seed: int = 20240602) -> pd.DataFrame:
    """``groups`` independent data sets of subjects x visits rows (100 by default):
    y = 2 + 0.4 x + b + e within each group, with a group-specific random
    intercept variance (0.25 to 2.25) and residual variance 1."""
    rng = np.random.default_rng(seed)
    per = subjects * visits
    n = groups * per
    group = np.repeat(np.arange(groups, dtype=np.int64), per)
    subject = np.tile(np.repeat(np.arange(subjects, dtype=np.int64), visits), groups)
    sd_b = rng.uniform(0.5, 1.5, size=groups)
    b = rng.standard_normal((groups, subjects)) * sd_b[:, None]
    x = rng.standard_normal(n)
    y = 2.0 + 0.4 * x + b[group, subject] + rng.standard_normal(n)
    return pd.DataFrame({"group": group, "subject": subject, "x": x, "y": y})


def write_data(df: pd.DataFrame, folder: Path, name: str, csv: bool = True) -> dict[str, Path]:
    """The same rows twice: Parquet for the Python engines, CSV for R (data.table::fread)
    unless ``csv`` is False (no R peer at this size)."""
    folder.mkdir(parents=True, exist_ok=True)
    parquet = folder / f"{name}.parquet"
    df.to_parquet(parquet, index=False)
    if not csv:
        return {"parquet": parquet}
    csv = folder / f"{name}.csv"
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        pacsv.write_csv(pa.Table.from_pandas(df, preserve_index=False), csv)
    except ImportError:
        df.to_csv(csv, index=False)
    return {"parquet": parquet, "csv": csv}


# ------------------------------------------------------------------- subprocesses


@dataclass
class Run:
    """What one child process did."""

    status: str  # "ok", "timeout", "memory", "error", "skipped"
    wall: float = float("nan")  # seconds, whole process
    peak_rss: float = float("nan")  # bytes, the child and its children, sampled
    result: dict = field(default_factory=dict)  # the child's RESULT object
    note: str = ""
    limit: float = float("nan")  # the time cap it was stopped at


def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_child(cmd: list[str], *, timeout: float, mem_cap_gb: float, env: dict | None = None,
              cpus: set[int] | None = None) -> Run:
    """Run ``cmd``; stop it past ``timeout`` seconds or ``mem_cap_gb`` GiB of RSS.

    The RSS of the process tree is sampled every 50 ms (the reported peak is
    the larger of that and the child's own VmHWM when it prints one)."""
    import psutil

    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [q for q in [os.environ.get("PYTHONPATH")] if q])
    out = tempfile.TemporaryFile(mode="w+")
    err = tempfile.TemporaryFile(mode="w+")
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=full_env, cwd=str(ROOT), preexec_fn=preexec)
    ps = psutil.Process(proc.pid)
    peak, status = 0, None
    while proc.poll() is None:
        peak = max(peak, _tree_rss(ps))
        elapsed = time.perf_counter() - t0
        if elapsed > timeout:
            status = "timeout"
        elif peak > mem_cap_gb * 2**30:
            status = "memory"
        if status:
            for p in ps.children(recursive=True) + [ps]:
                try:
                    p.kill()
                except psutil.Error:
                    pass
            proc.wait()
            break
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read(), err.read()
    if status:
        what = f"> {timeout:.0f} s" if status == "timeout" else f"> {mem_cap_gb:g} GiB"
        return Run(status, wall, peak, note=what, limit=timeout)
    lines = [ln for ln in stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        tail = (stderr.strip().splitlines() or ["(no output)"])[-1][:200]
        return Run("error", wall, peak, note=f"exit {proc.returncode}: {tail}")
    result = json.loads(lines[-1][len(MARK):])
    peak = max(peak, result.get("vmhwm", 0) or 0)
    return Run("ok", wall, peak, result)


def default_cpus() -> set[int] | None:
    """One CPU for every engine on a machine of two or fewer (jaxmixed pins
    itself to one there), so that peers run on the same hardware; all otherwise."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return {cpus[-1]} if len(cpus) <= 2 else None


def python_engine(engine: str, model: str, data: Path, *, repeats: int, timeout: float, mem_cap_gb: float,
                  cpus: set[int] | None, extra: dict | None = None) -> Run:
    """jaxmixed or statsmodels in a fresh interpreter; jaxmixed with an empty
    XLA cache directory so that its first fit includes compilation."""
    spec = {"engine": engine, "model": model, "data": str(data), "repeats": repeats, **(extra or {})}
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"} if cpus and len(cpus) == 1 else {}
    with tempfile.TemporaryDirectory(prefix="jm-xla-") as cache:
        env["JAXMIXED_CACHE_DIR"] = cache
        if cpus:  # affinity already set by us; keep jaxmixed from narrowing it further
            env["JAXMIXED_ALL_CPUS"] = "1"
        return run_child([sys.executable, str(WORKER), json.dumps(spec)], timeout=timeout,
                         mem_cap_gb=mem_cap_gb, env=env, cpus=cpus)


def have_r() -> bool:
    return shutil.which("Rscript") is not None


def r_engine(model: str, data: Path, *, repeats: int, timeout: float, mem_cap_gb: float,
             cpus: set[int] | None) -> Run:
    """An R model of ``_fit.R`` (lme4 / nlme) on the CSV; times are R's
    ``proc.time`` around each fit, ``wall`` is the whole Rscript process."""
    if not have_r():
        return Run("skipped", note="Rscript not installed")
    return run_child(["Rscript", "--vanilla", str(R_TEMPLATE), model, str(data), str(repeats)],
                     timeout=timeout, mem_cap_gb=mem_cap_gb, env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
                     cpus=cpus)


# -------------------------------------------------------------------- reporting


def fmt_time(run: Run, key: str) -> str:
    if run.status == "timeout":
        return run.note
    if run.status != "ok":
        return run.status
    v = run.result.get(key)
    if v is None or not np.isfinite(v):
        return "-"
    return f"{v:.3g}" if v < 10 else f"{v:.1f}"


def fmt_bytes(b: float) -> str:
    if not np.isfinite(b) or b <= 0:
        return "-"
    return f"{b / 2**20:.0f} MiB" if b < 2**30 else f"{b / 2**30:.2f} GiB"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def ratio(peer: Run, ours: Run, key: str) -> str:
    """peer time / jaxmixed time; a lower bound when the peer was stopped at its time cap."""
    base = ours.result.get(key) if ours.status == "ok" else None
    if base is None or not np.isfinite(base) or base <= 0:
        return "-"
    if peer.status == "timeout":
        return f"> {peer.limit / base:.1f}"
    value = peer.result.get(key) if peer.status == "ok" else None
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value / base:.2f}"


def machine() -> dict:
    """CPU model, cores, memory and the versions of every engine."""
    info = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name"))
        info["cores"] = sum(1 for ln in cpuinfo.splitlines() if ln.startswith("processor"))
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["ram_gib"] = round(int(mem) / 2**20, 1)
    except (OSError, StopIteration):
        info["cores"] = os.cpu_count()
    for mod in ("jax", "jaxlib", "numpy", "statsmodels"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = "not installed"
    if have_r():
        code = ('cat(R.version$major, ".", R.version$minor, sep=""); '
                'for (p in c("lme4", "nlme")) cat(" ", p, as.character(packageVersion(p)))')
        try:
            out = subprocess.run(["Rscript", "--vanilla", "-e", code], capture_output=True, text=True, timeout=60).stdout.split()
            info["R"] = out[0]
            info.update(dict(zip(out[1::2], out[2::2])))
        except (subprocess.SubprocessError, IndexError):
            info["R"] = "unknown"
    else:
        info["R"] = "not installed"
    try:
        info["load_avg_at_start"] = os.getloadavg()[0]
    except OSError:
        pass
    return info


def machine_line(info: dict) -> str:
    keys = ("cpu", "cores", "ram_gib", "python", "jax", "jaxlib", "numpy", "statsmodels", "R", "lme4", "nlme")
    return "; ".join(f"{k} {info[k]}" for k in keys if k in info)


def record(scenario: str, rows: list[dict]) -> None:
    """Append measurements (one JSON object per engine and size) to results/<scenario>.jsonl."""
    RECORDS.mkdir(exist_ok=True)
    run = _dt.datetime.now().isoformat(timespec="seconds")  # plot_scaling.py draws the latest run
    with open(RECORDS / f"{scenario}.jsonl", "a") as fh:
        for r in rows:
            fh.write(json.dumps({"run": run, **r}) + "\n")


def append_results(title: str, body: str, info: dict, note: str = "", extra: str = "") -> None:
    """Append a dated section to RESULTS.md; ``extra`` is the user's --note."""
    note = f"{note} {extra}".strip()
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    load = info.get("load_avg_at_start")
    parts = [f"\n## {title} ({stamp})\n", f"Machine: {machine_line(info)}.",
             f"Load average at start: {load:.2f}." if load is not None else "", note, "", body, ""]
    with open(RESULTS_MD, "a") as fh:
        fh.write("\n".join(p for p in parts if p is not None) + "\n")


def common_args(parser, sizes: list[int], repeats: int = 3, timeout: float = 600.0, peer_cap: int | None = None):
    parser.add_argument("sizes", nargs="*", type=int, default=sizes, help=f"sizes to run (default {sizes})")
    parser.add_argument("--repeats", type=int, default=repeats, help="fits per engine; warm = median of all but the first")
    parser.add_argument("--timeout", type=float, default=timeout, help="seconds an engine may take per size before it is stopped")
    parser.add_argument("--mem-cap", type=float, default=12.0, help="GiB of RSS an engine may reach before it is stopped")
    parser.add_argument("--peer-cap", type=int, default=peer_cap, help="largest size the peers are run at")
    parser.add_argument("--no-r", action="store_true", help="skip the R peers")
    parser.add_argument("--no-statsmodels", action="store_true", help="skip statsmodels")
    parser.add_argument("--record", action="store_true", help="append the table to RESULTS.md and results/*.jsonl")
    parser.add_argument("--all-cpus", action="store_true", help="let every engine use every CPU (default on <=2 CPUs: one each)")
    parser.add_argument("--ddfm", default=None, help="jaxmixed's DDFM= (default: its own, containment with a RANDOM statement)")
    parser.add_argument("--note", default="", help="a line written with the recorded table (e.g. 'taken under load')")
    parser.add_argument("--keep-data", type=Path, default=None, help="write the data sets here and keep them")
    return parser


def user_note(args) -> str:
    """--note, plus jaxmixed's DDFM= when it was not its default."""
    parts = [args.note] if args.note else []
    if getattr(args, "ddfm", None):
        parts.append(f"jaxmixed run with ddfm={args.ddfm!r}.")
    return " ".join(parts)


def data_folder(args):
    if args.keep_data:
        return args.keep_data, None
    tmp = tempfile.TemporaryDirectory(prefix="jm-bench-")
    return Path(tmp.name), tmp


# ------------------------------------------------------------- one comparison


@dataclass
class Engine:
    name: str  # shown in the table
    kind: str  # "python" or "r"
    engine: str = ""  # worker engine ("jaxmixed", "statsmodels") or R model name
    model: str = ""
    timeout: float | None = None  # its own cap, else --timeout
    max_size: int | None = None  # its own size cap, else --peer-cap


def run_engine(e: Engine, files: dict, args, cpus, model: str, extra: dict | None = None) -> Run:
    timeout = e.timeout or args.timeout
    if e.kind == "r":
        return r_engine(e.model or model, files["csv"], repeats=args.repeats, timeout=timeout,
                        mem_cap_gb=args.mem_cap, cpus=cpus)
    return python_engine(e.engine, e.model or model, files["parquet"], repeats=args.repeats, timeout=timeout,
                         mem_cap_gb=args.mem_cap, cpus=cpus, extra=extra)


def compare(scenario: str, model: str, make_data, sizes: list[int], peers: list[Engine], args,
            size_label: str = "subjects", jm_extra: dict | None = None) -> list[dict]:
    """Fit every size with jaxmixed and the peers; print the table as it grows.

    Peers above ``args.peer_cap`` are skipped with a note.  Returns one record
    per engine and size."""
    cpus = None if args.all_cpus else default_cpus()
    folder, tmp = data_folder(args)
    header = ["engine", size_label, "rows", "first fit s", "warm fit s", "process s", "-2LL", "d(-2LL)",
              "conv", "peer/jm first", "peer/jm warm", "peak RSS"]
    rows, records = [], []
    print(markdown_table(header, []), flush=True)
    try:
        for size in sizes:
            df = make_data(size)
            r_runs = have_r() and not args.no_r and any(p.kind == "r" for p in peers)
            files = write_data(df, folder, f"{scenario}_{size}",
                               csv=r_runs and (args.peer_cap is None or size <= args.peer_cap))
            n_rows = len(df)
            del df
            ours = run_engine(Engine("jaxmixed", "python", "jaxmixed"), files, args, cpus, model, jm_extra)
            results = [("jaxmixed", ours)]
            for peer in peers:
                if (peer.kind == "r" and (args.no_r or not have_r())) or (peer.engine == "statsmodels" and args.no_statsmodels):
                    continue
                cap = min(c for c in (args.peer_cap, peer.max_size, float("inf")) if c is not None)
                if size > cap:
                    results.append((peer.name, Run("skipped", note=f"skipped above {cap:,}")))
                    continue
                results.append((peer.name, run_engine(peer, files, args, cpus, model)))
            m2ll0 = ours.result.get("m2ll") if ours.status == "ok" else None
            for name, run in results:
                m2ll = run.result.get("m2ll") if run.status == "ok" else None
                row = [name, size, n_rows, fmt_time(run, "first"), fmt_time(run, "warm"),
                       f"{run.wall:.1f}" if run.status == "ok" else "-",
                       f"{m2ll:.4f}" if m2ll is not None else "-",
                       f"{m2ll - m2ll0:+.2e}" if (m2ll is not None and m2ll0 is not None and name != "jaxmixed") else "",
                       ("yes" if run.result.get("converged") else "NO") if run.status == "ok" else "-",
                       ratio(run, ours, "first") if name != "jaxmixed" else "",
                       ratio(run, ours, "warm") if name != "jaxmixed" else "",
                       fmt_bytes(run.peak_rss)]
                rows.append(row)
                print(markdown_table(header, [row]).splitlines()[-1], flush=True)
                keep = {k: v for k, v in run.result.items() if k not in ("groups",)}
                records.append({"scenario": scenario, "engine": name, "size": size, "rows": n_rows,
                                "status": run.status, "note": run.note, "limit": run.limit, "wall": run.wall,
                                "peak_rss": run.peak_rss, "cpus": sorted(cpus) if cpus else "all", **keep})
            for f in files.values():
                if tmp is not None:
                    f.unlink(missing_ok=True)
    finally:
        if tmp is not None:
            tmp.cleanup()
    table = markdown_table(header, rows)
    notes = [f"- {r['engine']} at {r['size']}: {r['note']}" for r in records if r["status"] in ("error", "memory", "skipped")]
    if notes:
        table += "\n\n" + "\n".join(notes)
    print("\n" + table)
    return records, table


def target_lines(records: list[dict], peer: str, factor: float, ours: str = "jaxmixed", tol: float = 1e-4) -> str:
    """For every size both ran: is jaxmixed's warm fit <= peer's / factor, and its −2ℓ <= the peer's (+ tol)?"""
    by_size: dict = {}
    for r in records:
        if r["status"] == "ok":
            by_size.setdefault(r["size"], {})[r["engine"]] = r
    lines = []
    for size, got in sorted(by_size.items()):
        a, b = got.get(ours), got.get(peer)
        if not (a and b):
            continue
        speed = b["warm"] / a["warm"] if a.get("warm") and b.get("warm") else float("nan")
        parts = [f"- {size}: {peer}/{ours} warm = {speed:.2f} (target >= {factor:g}: {'met' if speed >= factor else 'NOT met'})"]
        if a.get("m2ll") is not None and b.get("m2ll") is not None:
            d = a["m2ll"] - b["m2ll"]
            parts.append(f"-2LL {ours} - {peer} = {d:+.2e} ({'equal or lower' if d <= tol else 'HIGHER'})")
        lines.append("; ".join(parts))
    return "\n".join(lines)
