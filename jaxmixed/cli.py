"""The ``jaxmixed`` command: fit a bundled example or a data file from the shell.

    jaxmixed example sleepstudy
    jaxmixed example --list
    jaxmixed fit data.csv --fixed "y ~ x" --random "1 + x | g : UN" --out fit.json

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
                    f"reading Parquet file {path!r} needs pyarrow (or fastparquet): pip install pyarrow"
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


def _fit_and_report(df, fixed: str, random: list[dict], repeated: dict | None, method: str,
                    out: str | None, model: dict, **options) -> int:
    from .export import write_json
    from .fit import mixed

    rnd, rep = _statements(random, repeated)
    if out:
        parent = Path(out).resolve().parent
        if not parent.is_dir():
            raise DataError(f"cannot write {out!r}: the folder {str(parent)!r} does not exist")
    fit = mixed(fixed, data=df, random=rnd or None, repeated=rep, method=method, **options)
    click.echo(fit.summary(), nl=False)
    if out:
        try:
            write_json(fit, out, model=model)
        except OSError as exc:
            raise DataError(f"cannot write {out!r}: {exc.strerror or exc}") from exc
        click.echo(f"jaxmixed: wrote {out}", err=True)
    if not fit.converged:
        click.echo(f"jaxmixed: warning: {fit.status} (exit status {EXIT_NOT_CONVERGED})", err=True)
        return EXIT_NOT_CONVERGED
    return EXIT_OK


_METHOD = click.option(
    "--method", type=click.Choice(["REML", "ML"], case_sensitive=False), default="REML", show_default=True,
    help="REML (restricted) or ML (full) likelihood.",
)
_OUT = click.option(
    "--out", "out", type=click.Path(dir_okay=False, writable=True), default=None,
    help="Also write every table, fit statistic and diagnostic to this JSON file.",
)


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
@click.option("--list", "list_", is_flag=True, help="List the bundled examples and exit.")
def example(name, method, out, list_):
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
    return _fit_and_report(df, ex["fixed"], random, repeated, method.upper(), out, model)


@main.command()
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--fixed", required=True, metavar="FORMULA",
              help="Fixed-effects formula, e.g. 'y ~ x + C(g)'; lme4 bars '(x | g)' are accepted too.")
@click.option("--random", "random", multiple=True, metavar="'EFFECTS | SUBJECT [: TYPE]'",
              help="A RANDOM statement, e.g. '1 + x | subject : UN' (TYPE defaults to VC; "
                   "add ': group=COL' for GROUP=). Repeat for several.")
@click.option("--repeated", default=None, metavar="'SUBJECT : TYPE [: index=COL]'",
              help="The REPEATED statement, e.g. 'subject : AR(1) : index=time' "
                   "(also ': group=COL', ': coordinate=X,Y').")
@_METHOD
@click.option("--maxiter", type=click.IntRange(min=0), default=50, show_default=True,
              help="Most Newton iterations (PROC MIXED's MAXITER=).")
@_OUT
def fit(data, fixed, random, repeated, method, maxiter, out):
    """Fit a model to DATA (a .csv or .parquet file) and print the summary."""
    df = read_data(data)
    columns = set(map(str, df.columns))
    rnd = [parse_random(r, columns) for r in random]
    rep = parse_repeated(repeated, columns) if repeated else None
    model = dict(data=str(data), fixed=fixed, random=rnd, repeated=rep, method=method.upper())
    return _fit_and_report(df, fixed, rnd, rep, method.upper(), out, model, maxiter=maxiter)


if __name__ == "__main__":  # pragma: no cover
    main()
