"""The ``jaxmixed`` command: fit a bundled example or a data file from the shell.

    jaxmixed example sleepstudy
    jaxmixed example --list
    jaxmixed fit data.csv --fixed "y ~ x" --random "1 + x | g : UN" --out fit.json
    jaxmixed fit data.csv --fixed "y ~ x" --random "1 | g" --by site --out tables/ --plots plots/
    jaxmixed diagnose data.csv --fixed "y ~ x" --random "1 | g"

Exit status: 0 the fit converged; 1 it did not (the results are still printed
and written); 2 the input was wrong (a one-line message on stderr says what);
3 jaxmixed itself failed (rerun with ``jaxmixed --debug ...`` for the traceback).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from . import __version__
from .errors import DataError, JaxMixedError

EXIT_OK = 0
EXIT_NOT_CONVERGED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3

#: The bundled examples: data set, fixed formula, RANDOM statements, REPEATED statement.
EXAMPLES: dict[str, dict] = {
    "sleepstudy": dict(
        data="sleepstudy",
        fixed="Reaction ~ Days",
        random=[dict(effects="1 + Days", subject="Subject", type="UN")],
        description="reaction time over days of sleep deprivation; random intercept and slope, UN",
    ),
    "dyestuff": dict(
        data="dyestuff",
        fixed="Yield ~ 1",
        random=[dict(effects="1", subject="Batch")],
        description="dyestuff yield by batch; one random intercept",
    ),
    "oats": dict(
        data="oats",
        fixed="yield ~ C(nitro_f) * Variety",
        random=[dict(effects="1", subject="Block"), dict(effects="1", subject="Block:Variety")],
        description="split-plot oats trial; blocks and whole plots (Block:Variety) random",
    ),
    "orthodont": dict(
        data="orthodont",
        fixed="distance ~ age * Sex",
        repeated=dict(subject="Subject", type="UN", index="age"),
        description="orthodontic growth curves; unstructured R by age (REPEATED, no RANDOM)",
    ),
    "pastes": dict(
        data="pastes",
        fixed="strength ~ 1",
        random=[dict(effects="1", subject="batch"), dict(effects="1", subject="batch:cask")],
        description="paste strength; casks nested in batches",
    ),
    "ovary": dict(
        data="ovary",
        fixed="follicles ~ sin2 + cos2",
        random=[dict(effects="1", subject="Mare")],
        repeated=dict(subject="Mare", type="AR(1)", index="t_index"),
        description="ovarian follicles over time; random mare intercept plus AR(1) errors",
    ),
}

_KEY_VALUE = re.compile(r"^\s*(?P<key>[A-Za-z_]+)\s*=\s*(?P<value>.*?)\s*$")
_RANDOM_OPTIONS = ("group",)
_REPEATED_OPTIONS = ("index", "group", "coordinate")


# --------------------------------------------------------------------------- parsing


def _known_types(side: str | None) -> tuple[str, ...]:
    from .covariance import REGISTRY

    if side is None:
        return tuple(REGISTRY)
    col = 1 if side == "RANDOM" else 2
    return tuple(name for name, entry in REGISTRY.items() if entry[col])


def _norm_type(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def _split_statement(spec: str, option: str, side: str, allowed: tuple[str, ...], columns,
                     whole: str | None = None) -> tuple[str, str, dict]:
    """``SUBJECT [: TYPE] [: key=value ...]`` -> (subject, type, options).

    The subject may itself be an interaction (``batch:cask``), so a ``:``-part
    is the TYPE when it names a covariance type and is not a column of the data.
    """
    parts = [p.strip() for p in spec.split(":")]
    spec = spec if whole is None else whole
    options: dict[str, str] = {}
    names: list[str] = []
    for p in parts:
        m = _KEY_VALUE.match(p)
        if m:
            key = m.group("key").lower()
            if key not in allowed:
                raise click.UsageError(
                    f"{option} {spec!r}: unknown option {m.group('key')!r}"
                    + (f"; allowed: {', '.join(k + '=COL' for k in allowed)}" if allowed else "")
                )
            if not m.group("value"):
                raise click.UsageError(f"{option} {spec!r}: {key}= needs a column name")
            options[key] = m.group("value")
        elif options:
            raise click.UsageError(f"{option} {spec!r}: put the key=value options last")
        else:
            names.append(p)
    if any(not n for n in names):
        raise click.UsageError(f"{option} {spec!r}: empty part between ':' separators")
    type_ = "VC"
    known = _known_types(side)
    if len(names) > 1 and not (columns is not None and names[-1] in columns):
        last = _norm_type(names[-1])
        if last in _known_types(None):  # any TYPE= name; jm.mixed says if this side lacks it
            type_ = last
            names = names[:-1]
        elif columns is not None:
            raise click.UsageError(
                f"{option} {spec!r}: {names[-1]!r} after ':' is neither a covariance type "
                f"({', '.join(known)}) nor a column of the data"
            )
    if not names:
        raise click.UsageError(f"{option} {spec!r}: the subject is missing")
    return ":".join(names), type_, options


def parse_random(spec: str, columns=None) -> dict:
    """``"EFFECTS | SUBJECT [: TYPE] [: group=COL]"`` -> keyword arguments of ``jm.Random``.

    TYPE defaults to VC.  ``columns`` (the data's, when known) settles whether a
    last ``:``-part is a type or the end of an interaction subject such as
    ``batch:cask``.
    """
    if spec.count("|") != 1 or "||" in spec:
        raise click.UsageError(
            f"--random {spec!r}: write EFFECTS | SUBJECT [: TYPE], e.g. '1 + Days | Subject : UN'"
        )
    effects, _, rest = (s.strip() for s in spec.partition("|"))
    if not effects:
        raise click.UsageError(f"--random {spec!r}: the effects before '|' are missing (use '1' for an intercept)")
    if not rest:
        raise click.UsageError(f"--random {spec!r}: the subject after '|' is missing")
    subject, type_, options = _split_statement(rest, "--random", "RANDOM", _RANDOM_OPTIONS, columns, whole=spec)
    return dict(effects=effects, subject=subject, type=type_, **options)


def parse_repeated(spec: str, columns=None) -> dict:
    """``"SUBJECT : TYPE [: index=COL] [: group=COL] [: coordinate=COL[,COL]]"`` -> ``jm.Repeated`` kwargs."""
    if "|" in spec:
        raise click.UsageError(f"--repeated {spec!r}: write SUBJECT : TYPE [: index=COL], e.g. 'Subject : AR(1) : index=t'")
    subject, type_, options = _split_statement(spec, "--repeated", "REPEATED", _REPEATED_OPTIONS, columns)
    return dict(subject=subject, type=type_, **options)


def read_data(path: str):
    """A CSV (``.csv``, ``.csv.gz``, ``.tsv``) or Parquet (``.parquet``, ``.pq``) file as a DataFrame."""
    import pandas as pd

    p = Path(path)
    name = p.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            try:
                return pd.read_parquet(p)
            except ImportError as exc:
                raise DataError(
                    f"reading Parquet file {path!r} needs pyarrow: pip install 'jaxmixed[parquet]'"
                ) from exc
        if name.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")):
            return pd.read_csv(p)
        if name.endswith((".tsv", ".tsv.gz", ".tab")):
            return pd.read_csv(p, sep="\t")
    except JaxMixedError:
        raise
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"cannot read {path!r}: {detail}") from exc
    raise DataError(
        f"cannot tell the format of {path!r} from its extension; use .csv, .tsv or .parquet"
    )


# --------------------------------------------------------------------------- fitting and reporting


def _statements(random: list[dict], repeated: dict | None):
    from .formula import Random, Repeated

    return [Random(**r) for r in random], (Repeated(**repeated) if repeated else None)


def _check_out(out: str | None) -> None:
    if out:
        parent = Path(out).resolve().parent
        if not parent.is_dir():
            raise DataError(f"cannot write {out!r}: the folder {str(parent)!r} does not exist")


def _by_summary(res) -> str:
    from .tables import _by_levels

    parts = []
    for values, fit in _by_levels(res):
        head = " ".join(f"{k}={v}" for k, v in values.items())
        parts.append(f"{'-' * 20} {head} {'-' * 20}\n\n{fit.summary()}")
    return "\n".join(parts)


def _all_converged(res) -> bool:
    conv = res.converged
    if isinstance(conv, bool):
        return conv
    col = "Converged" if "Converged" in conv.columns else conv.columns[-1]
    return bool(conv[col].astype(bool).all())


def _fit(df, fixed, random, repeated, method, by, show_progress, **options):
    import inspect

    from .errors import UnsupportedOptionError
    from .fit import mixed

    rnd, rep = _statements(random, repeated)
    if by:
        if "by" not in inspect.signature(mixed).parameters:
            raise UnsupportedOptionError("--by needs the BY path of jm.mixed (by=), which this build lacks")
        missing = [c for c in by if c not in df.columns]
        if missing:
            raise DataError(f"--by column {missing[0]!r} is not in the data")
        return mixed(fixed, data=df, random=rnd or None, repeated=rep, method=method,
                     by=by[0] if len(by) == 1 else list(by), verbose=show_progress, **options)
    return mixed(fixed, data=df, random=rnd or None, repeated=rep, method=method, verbose=show_progress, **options)


def _save_plots(res, folder: Path, profile_parm: str | None) -> list[Path]:
    from . import plots

    folder.mkdir(parents=True, exist_ok=True)
    figs = {}
    if hasattr(res, "type3"):
        figs["residuals_vs_fitted"] = lambda: plots.residuals_vs_fitted(res)
        figs["qq"] = lambda: plots.qq(res)
        if len(res.random_effects):
            figs["caterpillar"] = lambda: plots.caterpillar(res)
        figs["iteration_history"] = lambda: plots.iteration_history(res)
        if profile_parm:
            figs["profile"] = lambda: plots.profile(res, profile_parm)
    else:
        for effect in dict.fromkeys(res.fixed["Effect"]):
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(effect)).strip("_") or "effect"
            figs[f"forest_{safe}"] = (lambda e=effect: plots.forest(res, e))
    paths = []
    for name, make in figs.items():
        path = folder / f"{name}.png"
        make().savefig(path, dpi=100)
        paths.append(path)
    return paths


def _fit_and_report(df, fixed: str, random: list[dict], repeated: dict | None, method: str,
                    out: str | None, model: dict, by=(), fmt: str = "csv", plots_dir: str | None = None,
                    quiet: bool = False, profile_parm: str | None = None, **options) -> int:
    from .export import write_json

    json_out = bool(out) and out.lower().endswith(".json")
    if json_out:
        _check_out(out)
    elif out and Path(out).exists() and not Path(out).is_dir():
        raise DataError(f"--out {out!r} is a file; give a folder for the tables, or a .json file")
    if json_out and by:
        raise click.UsageError("--out FILE.json holds one fit; give a folder with --by")
    if out and not json_out:
        from .tables import _writer

        _writer(fmt)  # a missing Parquet engine is reported before the fit, not after
    show = not quiet and sys.stderr.isatty()
    res = _fit(df, fixed, random, repeated, method, list(by), show, **options)
    text = res.summary() if hasattr(res, "type3") else _by_summary(res)
    click.echo(text, nl=False)
    if json_out:
        try:
            write_json(res, out, model=model)
        except OSError as exc:
            raise DataError(f"cannot write {out!r}: {exc.strerror or exc}") from exc
        _note(f"wrote {out}", quiet)
    elif out:
        from .tables import write_tables

        paths = write_tables(res, out, fmt=fmt, summary=text)
        _note(f"wrote {len(paths)} files to {out}", quiet)
    if plots_dir:
        try:
            paths = _save_plots(res, Path(plots_dir), profile_parm)
        except OSError as exc:
            raise DataError(f"cannot write plots to {plots_dir!r}: {exc.strerror or exc}") from exc
        _note(f"wrote {len(paths)} plots to {plots_dir}", quiet)
    converged = res.converged if hasattr(res, "type3") else _all_converged(res)
    if not converged:
        status = res.status if hasattr(res, "type3") else "some BY groups did not converge"
        click.echo(f"jaxmixed: warning: {status} (exit status {EXIT_NOT_CONVERGED})", err=True)
        return EXIT_NOT_CONVERGED
    return EXIT_OK


def _note(message: str, quiet: bool) -> None:
    if not quiet:
        click.echo(f"jaxmixed: {message}", err=True)


_METHOD = click.option(
    "--method", type=click.Choice(["REML", "ML"], case_sensitive=False), default="REML", show_default=True,
    help="REML (restricted) or ML (full) likelihood.",
)
_OUT = click.option(
    "--out", "out", type=click.Path(), default=None,
    help="A folder: write every table there (covparms, solution_f, tests3, fit_stats, iteration_history, "
         "diagnostics, random_effects, summary.txt), as ODS OUTPUT does; or a FILE.json: the whole fit as JSON.",
)
_FORMAT = click.option("--format", "fmt", type=click.Choice(["csv", "parquet"], case_sensitive=False),
                       default="csv", show_default=True,
                       help="File format of the tables in the --out folder (parquet needs 'jaxmixed[parquet]').")
_PLOTS = click.option("--plots", "plots_dir", type=click.Path(file_okay=False), default=None,
                      help="Save the plots (residuals, Q-Q, caterpillar, iteration history; a forest plot per "
                           "fixed effect with --by) as PNG files in this folder.")
_QUIET = click.option("--quiet", "-q", is_flag=True, help="No progress display and no notes on stderr.")
_DDFM = click.option("--ddfm", type=click.Choice(["contain", "bw", "residual", "satterthwaite", "kr"],
                                                 case_sensitive=False), default=None,
                     help="Denominator degrees of freedom (DDFM=); default as PROC MIXED.")


def _model_options(f):
    """DATA and the model's options, shared by ``fit`` and ``diagnose``."""
    options = [
        click.argument("data", type=click.Path(exists=True, dir_okay=False)),
        click.option("--fixed", required=True, metavar="FORMULA",
                     help="Fixed-effects formula, e.g. 'y ~ x + C(g)'; lme4 bars '(x | g)' are accepted too."),
        click.option("--random", "random", multiple=True, metavar="'EFFECTS | SUBJECT [: TYPE]'",
                     help="A RANDOM statement, e.g. '1 + x | subject : UN' (TYPE defaults to VC; "
                          "add ': group=COL' for GROUP=). Repeat for several."),
        click.option("--repeated", default=None, metavar="'SUBJECT : TYPE [: index=COL]'",
                     help="The REPEATED statement, e.g. 'subject : AR(1) : index=time' "
                          "(also ': group=COL', ': coordinate=X,Y')."),
        click.option("--by", "by", multiple=True, metavar="COL",
                     help="Fit the model separately in each level of COL (PROC MIXED's BY statement); repeat "
                          "for several columns."),
        _METHOD,
        _DDFM,
        click.option("--maxiter", type=click.IntRange(min=0), default=50, show_default=True,
                     help="Most Newton iterations (PROC MIXED's MAXITER=)."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _prepare(data, fixed, random, repeated, method):
    df = read_data(data)
    columns = set(map(str, df.columns))
    rnd = [parse_random(r, columns) for r in random]
    rep = parse_repeated(repeated, columns) if repeated else None
    model = dict(data=str(data), fixed=fixed, random=rnd, repeated=rep, method=method.upper())
    return df, rnd, rep, model


class _Main(click.Group):
    """A group whose errors are one line on stderr with a meaningful exit status."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv[: argv.index("--") if "--" in argv else len(argv)]
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("jaxmixed: aborted", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _error(exc.format_message().rstrip() + hint)
            sys.exit(EXIT_BAD_INPUT)
        except click.ClickException as exc:
            _error(exc.format_message())
            sys.exit(EXIT_BAD_INPUT)
        except JaxMixedError as exc:
            _error(str(exc))
            sys.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            click.echo("jaxmixed: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # a bug in jaxmixed, not in the input
            if debug:
                raise
            _error(f"internal error ({type(exc).__name__}): {' '.join(str(exc).split())}; "
                   "rerun as 'jaxmixed --debug ...' for the traceback and please report it")
            sys.exit(EXIT_INTERNAL)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)


def _error(message: str) -> None:
    """``jaxmixed: error: <first line>``; a formula picture (a line with a ``^`` mark) follows it."""
    lines = [ln for ln in str(message).splitlines() if ln.strip()] or ["unknown error"]
    click.echo(f"jaxmixed: error: {lines[0].strip()}", err=True)
    if len(lines) > 1 and lines[-1].strip() == "^":
        for ln in lines[1:]:
            click.echo(f"    {ln}", err=True)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jaxmixed")
@click.option("--debug", is_flag=True, help="Show the Python traceback when jaxmixed itself fails.")
def main(debug):
    """Linear mixed models (REML/ML) in JAX, in the manner of SAS PROC MIXED and lme4.

    Exit status: 0 converged, 1 not converged (results still printed and
    written), 2 bad input, 3 internal error.
    """


@main.command()
@click.argument("name", required=False)
@_METHOD
@_OUT
@_FORMAT
@_PLOTS
@_QUIET
@click.option("--list", "list_", is_flag=True, help="List the bundled examples and exit.")
def example(name, method, out, fmt, plots_dir, quiet, list_):
    """Fit the bundled example NAME and print the PROC MIXED-style summary.

    Try: jaxmixed example sleepstudy
    """
    if list_:
        width = max(map(len, EXAMPLES))
        for key, ex in EXAMPLES.items():
            click.echo(f"{key.ljust(width)}  {ex['description']}")
        return EXIT_OK
    if not name:
        raise click.UsageError(f"give an example NAME; one of: {', '.join(EXAMPLES)} (or --list)")
    key = name.lower()
    if key not in EXAMPLES:
        raise click.UsageError(f"no example {name!r}; available: {', '.join(EXAMPLES)}")
    from . import datasets

    ex = EXAMPLES[key]
    df = datasets.load(ex["data"])
    random = [dict(effects=r["effects"], subject=r["subject"], type=r.get("type", "VC")) for r in ex.get("random", [])]
    repeated = ex.get("repeated")
    model = dict(example=key, data=f"jaxmixed.datasets.load({ex['data']!r})", fixed=ex["fixed"],
                 random=random, repeated=repeated, method=method.upper())
    return _fit_and_report(df, ex["fixed"], random, repeated, method.upper(), out, model, fmt=fmt.lower(),
                           plots_dir=plots_dir, quiet=quiet)


@main.command()
@_model_options
@_OUT
@_FORMAT
@_PLOTS
@click.option("--profile", "profile_parm", default=None, metavar="PARM",
              help="With --plots: also the profile likelihood of this covariance parameter (e.g. 'UN(2,2)').")
@_QUIET
def fit(data, fixed, random, repeated, by, method, ddfm, maxiter, out, fmt, plots_dir, profile_parm, quiet):
    """Fit a model to DATA (a .csv or .parquet file) and print the summary."""
    df, rnd, rep, model = _prepare(data, fixed, random, repeated, method)
    if ddfm:
        model["ddfm"] = ddfm.lower()
    if by:
        model["by"] = list(by)
    return _fit_and_report(df, fixed, rnd, rep, method.upper(), out, model, by=by, fmt=fmt.lower(),
                           plots_dir=plots_dir, quiet=quiet, profile_parm=profile_parm, maxiter=maxiter,
                           ddfm=ddfm.lower() if ddfm else None)


@main.command()
@_model_options
@_QUIET
def diagnose(data, fixed, random, repeated, by, method, ddfm, maxiter, quiet):
    """Fit a model to DATA and print what went wrong or may be wrong with it."""
    df, rnd, rep, _ = _prepare(data, fixed, random, repeated, method)
    show = not quiet and sys.stderr.isatty()
    res = _fit(df, fixed, rnd, rep, method.upper(), list(by), show, maxiter=maxiter,
               ddfm=ddfm.lower() if ddfm else None)
    if hasattr(res, "type3"):
        groups = [({}, res)]
    else:
        from .tables import _by_levels

        groups = list(_by_levels(res))
    ok = True
    for values, one in groups:
        if values:
            click.echo(" ".join(f"{k}={v}" for k, v in values.items()))
        click.echo(_diagnostics_report(one))
        ok = ok and one.converged
    return EXIT_OK if ok else EXIT_NOT_CONVERGED


def _diagnostics_report(fit) -> str:
    """``fit.diagnose()`` where the build has it; otherwise the status, the
    iteration count and the diagnostics list."""
    if callable(getattr(fit, "diagnose", None)):
        return str(fit.diagnose())
    lines = [f"Convergence status: {fit.status}",
             f"Iterations: {fit.iterations}; -2 log-likelihood {fit.minus2ll:.6f}"]
    hist = fit.iteration_history
    if len(hist) and "Criterion" in hist:
        crit = hist["Criterion"].iloc[-1]
        lines.append(f"Final criterion: {crit:.3e}" if crit == crit else "Final criterion: .")
    if fit.diagnostics:
        lines += ["", "Diagnostics:"] + [str(d) for d in fit.diagnostics]
    else:
        lines += ["", "Diagnostics: none (no variance on a bound, Hessian positive definite, no aliased columns)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    main()
