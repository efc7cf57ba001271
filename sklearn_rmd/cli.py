"""The ``sklearn-rmd`` command: the demo, and label checks of a CSV or Parquet file.

::

    sklearn-rmd demo [--noise-rate 0.4] [--seed 0] [--quick]
    sklearn-rmd detect data.csv --label COLUMN [--out issues.csv]
    sklearn-rmd clean data.csv --label COLUMN --out cleaned.csv [--relabel]
                      [--audit cleaned.audit.csv | --no-audit]

``detect`` and ``clean`` read a CSV file as text (:mod:`sklearn_rmd.tables`;
Parquet with pandas and pyarrow), use every other column as a feature
(:func:`~sklearn_rmd.preprocessing.table_features`: numbers as they are,
text columns one-hot encoded, then standardised by
:func:`~sklearn_rmd.preprocessing.make_table_preprocessor`) and run
:class:`~sklearn_rmd.NoisyLabelDetector`. Its network is the detector's
default one (``input_shape`` from ``--input-shape``); ``--quick`` makes it
tiny and short, for a first look in seconds. ``clean`` copies the kept
records of a CSV file byte for byte, and writes what it removed or
relabelled to an audit file (:mod:`sklearn_rmd.audit`). Outputs are
written through a temporary file and an atomic rename, and never over the
input without ``--force``. Bad input ends with a one-line message on stderr and exit
status 1 (2 for a wrong command line, 130 for Ctrl-C).

The Python equivalent of ``sklearn-rmd detect data.csv --label y --seed 0``
is ``NoisyLabelDetector(RMDClassifier(**DEFAULT_NETWORK), random_state=0)``
(see :func:`build_detector`) fitted on
``make_table_preprocessor().fit_transform(features)`` with the features and
labels of :func:`prepare_features`.
"""

import argparse
import contextlib
import os
import sys
import time
import warnings

import numpy as np

from .audit import audit_trail, default_audit_path
from .preprocessing import (MAX_CATEGORIES, MISSING_TEXT, ColumnError,
                            make_table_preprocessor, row_name, table_features)
from .tables import (check_output, is_parquet, read_table, require_pandas, write_frame,
                     write_text)

PROG = "sklearn-rmd"

#: Network settings that ``--quick`` puts over the detector's default network:
#: two teacher epochs, three classifier epochs, a small MLP.
QUICK_NETWORK = dict(pretrain_epochs=2, max_epochs=3, hidden_dims=(32,), embedding_dim=16,
                     relation_dim=16, batch_size=64, early_stopping=False)


class CLIError(Exception):
    """A problem with the input that the user can fix; printed as one line."""


# ---------------------------------------------------------------- features
def prepare_features(table, label, id_column=None, drop=()):
    """Split a table into feature columns and labels, as the command line does.

    Parameters
    ----------
    table : pandas.DataFrame
      The rows, all text (a CSV file as the command line reads it) or typed;
      when ``id_column`` is given it becomes the index.

    label : str
      Column with the given labels.

    id_column : str or None (default=None)
      Column of row identifiers: the index of the outputs, not a feature.

    drop : sequence of str (default=())
      Columns to leave out.

    Returns
    -------
    features : pandas.DataFrame
      :func:`~sklearn_rmd.preprocessing.table_features` of the feature
      columns: numbers as float64, text as text.

    y : pandas.Series
      The labels, unchanged: text stays text (``'001'`` is not ``1``).

    notes : list of str
      What will be done to the columns, for the summary.

    Raises
    ------
    CLIError
      A column is missing or unusable (dates, numbers mixed with text, too
      many distinct text values, missing or infinite numbers), or the labels
      are missing, mixed, continuous or of a single class.
    """
    columns = [str(c) for c in table.columns]
    table = table.set_axis(columns, axis=1)
    available = ", ".join(columns) if len(columns) <= 20 else \
        ", ".join(columns[:20]) + f", ... ({len(columns)} columns)"
    for name, kind in [(label, "label"), (id_column, "id")] + [(d, "--drop") for d in drop]:
        if name is not None and name not in columns:
            raise CLIError(f"{kind} column {name!r} not found; the columns are: {available}")
    if id_column is not None:
        if id_column == label:
            raise CLIError("--id-column and --label name the same column")
        table = table.set_index(id_column)
    if len(table) == 0:
        raise CLIError("the table has a header but no data rows")
    y = _check_labels(table[label])
    names = [c for c in table.columns if c != label and c not in drop]
    if not names:
        raise CLIError(
            f"no feature columns: the table only has the label column {label!r}"
            + (" (after --drop)" if drop else ""))
    try:
        features = table_features(table[names], max_categories=MAX_CATEGORIES)
    except ColumnError as error:
        raise CLIError(f"{error} with --drop {error.column}") from error
    text = [f"{name} ({features[name].nunique(dropna=False)} values)"
            for name in names if features[name].dtype == object]
    notes = [f"one-hot encoded {len(text)} text column(s): " + "; ".join(text)] if text else []
    return features, y, notes


def _check_labels(y):
    """Refuse missing, mixed, continuous or single-class labels; never convert them."""
    pd = require_pandas()
    stripped = y.map(lambda v: v.strip() if isinstance(v, str) else v)
    missing = (stripped.isna() | stripped.isin(MISSING_TEXT)).to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise CLIError(
            f"label column {y.name!r} has {int(missing.sum())} missing label(s) (first in row "
            f"{row_name(y, first)}: {y.iloc[first]!r}); fill them in or remove those rows")
    if y.dtype == object:
        text = [v for v in y if isinstance(v, str)]
        numbers = [v for v in y if not isinstance(v, str)]
        if text and numbers:
            raise CLIError(
                f"label column {y.name!r} mixes text and numbers (e.g. {text[0]!r} and "
                f"{numbers[0]!r}); make every label text, or every label a number")
    values = pd.to_numeric(y.astype(str) if y.dtype == object else y, errors="coerce")
    if values.notna().all() and (values != values.round()).any():
        example = y.iloc[int(np.flatnonzero((values != values.round()).to_numpy())[0])]
        raise CLIError(
            f"label column {y.name!r} holds continuous numbers (e.g. {example}); the "
            "detector needs class labels")
    classes = y.unique()
    if len(classes) < 2:
        raise CLIError(
            f"label column {y.name!r} has a single class ({classes[0]!r}); there is no "
            "other label a row could have, so nothing can be checked")
    return y


# ---------------------------------------------------------------- detector
def parse_input_shape(text):
    """``'1,8,8'`` or ``'1x8x8'`` -> ``(1, 8, 8)``; None stays None."""
    if text is None:
        return None
    parts = text.replace("x", ",").replace("X", ",").split(",")
    try:
        shape = tuple(int(p) for p in parts if p.strip())
    except ValueError:
        raise CLIError(
            f"--input-shape {text!r}: use integers such as 1,8,8 (C,H,W) or 1,128 (C,L)"
        ) from None
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise CLIError(
            f"--input-shape {text!r}: give 2 (C,L, a signal) or 3 (C,H,W, an image) "
            "positive integers")
    return shape


def build_detector(*, quick=False, input_shape=None, mode="cv", cv=3, n_neighbors=10,
                   threshold=None, noise_fraction=None, action="remove", device="auto",
                   random_state=0, verbose=0, callbacks=None):
    """The detector the command line runs, for use from Python too.

    The network is ``RMDClassifier(**DEFAULT_NETWORK)`` of
    :mod:`sklearn_rmd.detector` (what ``NoisyLabelDetector()`` uses), with
    :data:`QUICK_NETWORK` on top when ``quick``. The other parameters are
    :class:`~sklearn_rmd.NoisyLabelDetector`'s.

    Returns
    -------
    detector : NoisyLabelDetector
      Not fitted.
    """
    from .classifier import RMDClassifier
    from .detector import DEFAULT_NETWORK, NoisyLabelDetector

    network = dict(DEFAULT_NETWORK)
    if quick:
        network.update(QUICK_NETWORK)
    estimator = RMDClassifier(input_shape=input_shape, device=device,
                              callbacks=callbacks, **network)
    return NoisyLabelDetector(estimator, mode=mode, cv=cv, n_neighbors=n_neighbors,
                              threshold=threshold, noise_fraction=noise_fraction,
                              action=action, device=device, random_state=random_state,
                              verbose=verbose)


def _check_folds(y, args):
    if args.mode != "cv":
        return
    counts = y.value_counts()
    rare = counts[counts < args.cv]
    if len(rare):
        listed = ", ".join(f"{label!r} ({n} rows)" for label, n in rare.items())
        raise CLIError(
            f"classes with fewer rows than --cv {args.cv} folds: {listed}; pass a smaller "
            "--cv (at least 2), --mode single, or remove those rows")


def _run_detector(args, action, outputs):
    for path in outputs:  # fail before training, not after
        check_output(path, args.data, force=args.force)
    table, text = read_table(args.data, sep=args.sep)
    features, y, notes = prepare_features(table, args.label, args.id_column, args.drop)
    _check_folds(y, args)
    X = make_table_preprocessor(scale=not args.no_scale).fit_transform(features)
    input_shape = parse_input_shape(args.input_shape)
    if input_shape is not None and int(np.prod(input_shape)) != X.shape[1]:
        raise CLIError(
            f"--input-shape {args.input_shape} holds {int(np.prod(input_shape))} values but "
            f"the rows have {X.shape[1]} feature columns")
    if not args.no_scale:
        notes.append("standardised every feature column (mean 0, variance 1)")
    print(f"Read {args.data}: {len(X)} rows, {X.shape[1]} feature columns, labels in "
          f"{args.label!r} with {y.nunique()} classes.")
    for note in notes:
        print(f"  {note}")
    progress = not args.quiet
    callbacks = None
    if progress and sys.stderr.isatty():
        from .progress import EpochProgress

        callbacks = [EpochProgress()]
    detector = build_detector(
        quick=args.quick, input_shape=input_shape, mode=args.mode,
        cv=args.cv, n_neighbors=args.n_neighbors, threshold=args.threshold,
        noise_fraction=args.noise_fraction, action=action, device=args.device,
        random_state=args.seed, verbose=int(progress), callbacks=callbacks)
    how = f"{args.cv}-fold cross-fitting" if args.mode == "cv" else "a single fit"
    print(f"Training the detector ({how}{', --quick network' if args.quick else ''})...",
          flush=True)
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # progress goes to stderr
        detector.fit(X, y)
    print(f"Done in {time.perf_counter() - start:.1f} s.\n")
    print(detector.report(top=args.top))  # what NoisyLabelDetector.report() returns
    return table, text, y, detector


def _detect(args):
    _, _, _, detector = _run_detector(args, "remove", [args.out] if args.out else [])
    if args.out:
        report = detector.label_issues()
        report.index.name = report.index.name or "row"
        write_frame(report, args.out, index=True)
        print(f"Wrote the report of all {len(report)} rows to {args.out} "
              f"(columns: {report.index.name}, {', '.join(report.columns)}).")
    return 0


def _clean(args):
    """Write the kept rows (or all, relabelled); a CSV file's text is copied as it is."""
    action = "relabel" if args.relabel else "remove"
    audit = None if args.no_audit else args.audit or default_audit_path(args.out)
    if audit is not None and os.path.realpath(audit) == os.path.realpath(args.out):
        raise CLIError(f"--audit {audit}: is also --out; give the audit trail another name")
    table, text, y, detector = _run_detector(args, action, [args.out, audit] if audit
                                             else [args.out])
    flagged = detector.is_label_issue_
    given = y.to_numpy()
    labels = np.where(flagged, detector.suggested_label_, given) if args.relabel else given
    changed = np.flatnonzero(labels != given)
    keep = np.ones(len(y), bool) if args.relabel else ~flagged
    column = [str(c) for c in table.columns].index(args.label)
    if audit is not None:  # first: the record of a change never lags behind it
        trail = audit_trail(given, labels, keep, detector.suggested_label_,
                            detector.label_quality_, y.index if args.id_column else None)
        write_frame(trail, audit, index=False)
    if text is not None and not is_parquet(args.out):
        new_cells = {int(row): (column, str(labels[row])) for row in changed}
        write_text(text.to_text(keep, new_cells), args.out)
    else:
        cleaned = table.copy()
        cleaned[cleaned.columns[column]] = labels
        write_frame(cleaned[keep], args.out, index=False)
    if args.relabel:
        what = (f"relabelled {len(changed)} of the {int(flagged.sum())} flagged rows with "
                "their suggested label (the others already had it)")
    else:
        what = f"removed the {int(flagged.sum())} flagged rows"
    print(f"Wrote {int(keep.sum())} rows to {args.out}: {what}.")
    if audit is not None:
        print(f"Wrote the audit trail of the {len(trail)} changed rows to {audit} "
              f"(columns: {', '.join(trail.columns)}; row counts data rows from 0).")
    return 0


def _demo(argv):
    from . import demo

    demo.main(argv)
    return 0


# ------------------------------------------------------------ command line
def _probability(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _parser():
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Learning with noisy labels: run the demo, or find and fix the rows "
                    "of a table whose label is probably wrong.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "demo", add_help=False,
        help="digits with noisy labels: plain network vs RMDClassifier "
             "(options: --noise-rate, --seed, --quick; see `sklearn-rmd demo --help`)")
    detect = commands.add_parser(
        "detect", help="score every row's label and report the probable label issues",
        description="Score every row's label with NoisyLabelDetector, print its report "
                    "(label issues, outliers, near-duplicates) and optionally write the "
                    "table of all rows.")
    clean = commands.add_parser(
        "clean", help="write the table without its probable label issues (or relabelled)",
        description="Find the probable label issues with NoisyLabelDetector and write the "
                    "table without them, or with their labels replaced (--relabel).")
    for sub in (detect, clean):
        sub.add_argument("data", help="CSV file (TSV by a .tsv suffix; Parquet by .parquet, "
                                      "needs pyarrow)")
        sub.add_argument("--label", required=True, metavar="COLUMN",
                         help="column with the given (possibly wrong) labels")
        if sub is detect:
            sub.add_argument("--out", metavar="FILE",
                             help="write every row's given_label, suggested_label, "
                                  "label_quality, is_label_issue and rank here "
                                  "(.csv or .parquet)")
        else:
            sub.add_argument("--out", required=True, metavar="FILE",
                             help="where to write the cleaned table: a CSV input's kept "
                                  "rows as they were written (.gz, .bz2, .xz, .zip "
                                  "compress it), or .parquet")
            sub.add_argument("--relabel", action="store_true",
                             help="keep every row and replace flagged labels by the "
                                  "suggested label, instead of removing those rows")
            trail = sub.add_mutually_exclusive_group()
            trail.add_argument("--audit", metavar="FILE",
                               help="where to write the removed or relabelled rows: row "
                                    "(data rows counted from 0), action, given_label, "
                                    "suggested_label, label_quality (default: --out's "
                                    "name with .audit.csv, e.g. cleaned.audit.csv)")
            trail.add_argument("--no-audit", action="store_true",
                               help="write no audit trail")
        sub.add_argument("--force", action="store_true",
                         help="allow --out to be the input file (it is replaced)")
        sub.add_argument("--id-column", metavar="COLUMN",
                         help="column of row identifiers: not a feature; names the rows "
                              "in the outputs")
        sub.add_argument("--drop", nargs="+", metavar="COLUMN", default=[],
                         help="columns to leave out of the features")
        sub.add_argument("--sep", help="column separator of a text file (default: ',' or "
                                       "tab for .tsv)")
        sub.add_argument("--input-shape", metavar="SHAPE",
                         help="how a row is viewed by the network: C,L for signals, C,H,W "
                              "for images (e.g. 1,8,8); default: plain features")
        sub.add_argument("--mode", choices=("cv", "single"), default="cv",
                         help="cv: out-of-sample probabilities over --cv folds (default); "
                              "single: one fit, faster")
        sub.add_argument("--cv", type=_positive, default=3, help="folds (default 3)")
        sub.add_argument("--n-neighbors", type=_positive, default=10,
                         help="neighbours per row in the relation evidence (default 10)")
        cutoff = sub.add_mutually_exclusive_group()
        cutoff.add_argument("--threshold", type=_probability,
                            help="flag rows with label quality below this value, instead "
                                 "of the estimated number of issues")
        cutoff.add_argument("--noise-fraction", type=_probability,
                            help="flag this share of rows, lowest quality first")
        sub.add_argument("--no-scale", action="store_true",
                         help="do not standardise the feature columns")
        sub.add_argument("--device", default="auto",
                         help="auto (CUDA when available), cpu, cuda or cuda:N")
        sub.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        sub.add_argument("--quick", action="store_true",
                         help="a tiny network trained for a few epochs: a first look in "
                              "seconds, less accurate")
        sub.add_argument("--top", type=int, default=10,
                         help="rows listed per section of the report: label issues, "
                         "outliers, near-duplicate sets (default 10)")
        sub.add_argument("--quiet", action="store_true", help="no progress messages")
        sub.add_argument("--debug", action="store_true",
                         help="show the full traceback of an error")
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def main(argv=None):
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str or None (default=None)
      Arguments after the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
      0 on success, 1 on an input error (message on stderr), 2 on a wrong
      command line, 130 on Ctrl-C (no output file written then).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "demo":
        return _demo(argv[1:])
    args = _parser().parse_args(argv)
    handlers = {"detect": _detect, "clean": _clean}
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return handlers[args.command](args)
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted; no output file written", file=sys.stderr)
            return 130
        except (CLIError, ValueError, TypeError, OSError, ImportError) as error:
            if args.debug:
                raise
            print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
            return 1
        except Exception as error:  # noqa: BLE001 - never a traceback by default
            if args.debug:
                raise
            print(f"{PROG}: error: unexpected {type(error).__name__}: {_one_line(error)} "
                  "(rerun with --debug for the traceback)", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
