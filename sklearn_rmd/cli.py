"""The ``sklearn-rmd`` command: the demo, and label checks of a CSV or Parquet file.

::

    sklearn-rmd demo [--noise-rate 0.4] [--seed 0] [--quick]
    sklearn-rmd detect data.csv --label COLUMN [--out issues.csv]
    sklearn-rmd clean data.csv --label COLUMN --out cleaned.csv [--relabel]

``detect`` and ``clean`` read the table with pandas (``pip install
sklearn-rmd[cli]``; Parquet also needs pyarrow), use every other column as a
feature (numbers as they are, text columns one-hot encoded), standardise the
features and run :class:`~sklearn_rmd.NoisyLabelDetector`. Its network is the
detector's default one (``input_shape`` from ``--input-shape``); ``--quick``
makes it tiny and short, for a first look in seconds. Bad input ends with a
one-line message on stderr and exit status 1 (2 for a wrong command line).

The Python equivalent of ``sklearn-rmd detect data.csv --label y --seed 0``
is ``NoisyLabelDetector(RMDClassifier(**DEFAULT_NETWORK), random_state=0)``
fitted on ``StandardScaler().fit_transform(features)`` (see :func:`build_detector`).
"""

import argparse
import contextlib
import os
import sys
import time
import warnings

import numpy as np
from skorch.callbacks import Callback

PROG = "sklearn-rmd"
CLI_EXTRA = "pip install sklearn-rmd[cli]"

#: Network settings that ``--quick`` puts over the detector's default network:
#: two teacher epochs, three classifier epochs, a small MLP.
QUICK_NETWORK = dict(pretrain_epochs=2, max_epochs=3, hidden_dims=(32,), embedding_dim=16,
                     relation_dim=16, batch_size=64, early_stopping=False)

#: A text column with more distinct values than this is not one-hot encoded.
MAX_CATEGORIES = 50

_PARQUET_SUFFIXES = (".parquet", ".pq")
_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")


class CLIError(Exception):
    """A problem with the input that the user can fix; printed as one line."""


# ------------------------------------------------------------------ reading
def _pandas():
    try:
        import pandas as pd
    except ImportError as error:
        raise CLIError(f"reading and writing tables needs pandas: {CLI_EXTRA}") from error
    return pd


def _is_parquet(path):
    return str(path).lower().endswith(_PARQUET_SUFFIXES)


def read_table(path, sep=None):
    """Read a CSV (or TSV, or Parquet) file into a DataFrame.

    Parameters
    ----------
    path : str
      The file; ``.parquet`` / ``.pq`` is read as Parquet (needs pyarrow),
      ``.tsv`` / ``.tab`` as tab-separated, anything else as CSV (compressed
      files too, by their suffix).

    sep : str or None (default=None)
      Column separator of a text file; None picks one from the suffix.

    Returns
    -------
    table : pandas.DataFrame

    Raises
    ------
    CLIError
      Missing, empty or unreadable file, or pandas / pyarrow not installed.
    """
    pd = _pandas()
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a directory, not a data file")
    if os.path.getsize(path) == 0:
        raise CLIError(f"{path}: the file is empty")
    if _is_parquet(path):
        try:
            import pyarrow  # noqa: F401
        except ImportError as error:
            raise CLIError(
                f"{path}: reading Parquet needs pyarrow: pip install pyarrow "
                "(or save the table as CSV)") from error
        try:
            return pd.read_parquet(path)
        except Exception as error:  # pyarrow raises its own error types
            raise CLIError(f"{path}: not a readable Parquet file ({_first_line(error)})") \
                from error
    if not str(path).lower().endswith(_COMPRESSED_SUFFIXES):
        with open(path, "rb") as file:
            if b"\x00" in file.read(4096):
                raise CLIError(f"{path}: looks like a binary file, not a CSV text file")
    if sep is None:
        sep = "\t" if str(path).lower().endswith((".tsv", ".tab")) else ","
    try:
        return pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError as error:
        raise CLIError(f"{path}: the file is empty (no header row)") from error
    except pd.errors.ParserError as error:
        raise CLIError(f"{path}: cannot be parsed as CSV ({_first_line(error)})") from error
    except UnicodeDecodeError as error:
        raise CLIError(f"{path}: not a text CSV file (cannot decode it as UTF-8)") from error


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _row_name(series, position):
    """How the messages name a row: its data-row number, or its id (--id-column)."""
    value = series.index[position]
    return repr(value) if series.index.name else str(value)


def prepare_features(table, label, id_column=None, drop=()):
    """Split a table into numeric features and labels, as the command line does.

    Numeric and boolean columns are used as they are; text and categorical
    columns are one-hot encoded (a missing value is a category of its own).

    Parameters
    ----------
    table : pandas.DataFrame
      The rows; when ``id_column`` is given it becomes the index.

    label : str
      Column with the given labels.

    id_column : str or None (default=None)
      Column of row identifiers: the index of the outputs, not a feature.

    drop : sequence of str (default=())
      Columns to leave out.

    Returns
    -------
    X : pandas.DataFrame of float64
      The feature matrix, one-hot columns named ``column=value``.

    y : pandas.Series
      The labels.

    notes : list of str
      What was done to the columns, for the summary.

    Raises
    ------
    CLIError
      A column is missing, unusable (dates, numbers mixed with text, too many
      distinct text values, missing or infinite numbers), or the labels are
      not class labels of at least two classes.
    """
    pd = _pandas()
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
    features = [c for c in table.columns if c != label and c not in drop]
    if not features:
        raise CLIError(
            f"no feature columns: the table only has the label column {label!r}"
            + (" (after --drop)" if drop else ""))
    parts, encoded, notes = [], [], []
    for name in features:
        column = table[name]
        if pd.api.types.is_bool_dtype(column):
            parts.append(column.astype(float).to_frame(name))
        elif pd.api.types.is_numeric_dtype(column):
            parts.append(_check_numeric(column, name).to_frame(name))
        elif pd.api.types.is_datetime64_any_dtype(column):
            raise CLIError(
                f"column {name!r} holds dates or times; convert them to numbers or leave "
                f"the column out with --drop {name}")
        else:
            numbers = _as_numbers(column, name)
            if numbers is not None:
                parts.append(_check_numeric(numbers, name).to_frame(name))
                continue
            dummies, has_missing = _one_hot(column, name, len(table))
            parts.append(dummies)
            encoded.append(f"{name} ({dummies.shape[1]} values"
                           + (", missing as its own value" if has_missing else "") + ")")
    X = pd.concat(parts, axis=1)
    if encoded:
        notes.append(f"one-hot encoded {len(encoded)} text column(s): " + "; ".join(encoded))
    return X, y, notes


def _check_labels(y):
    pd = _pandas()
    missing = y.isna().to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise CLIError(
            f"label column {y.name!r} has {int(missing.sum())} empty value(s) (first in row "
            f"{_row_name(y, first)}); fill them in or remove those rows")
    if pd.api.types.is_float_dtype(y):
        values = y.to_numpy()
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            example = values[np.flatnonzero(values != np.round(values))[0]]
            raise CLIError(
                f"label column {y.name!r} holds continuous numbers (e.g. {example}); the "
                "detector needs class labels")
        y = y.astype(np.int64)
    elif not pd.api.types.is_integer_dtype(y) and not pd.api.types.is_bool_dtype(y):
        y = y.astype(str)
    classes = y.unique()
    if len(classes) < 2:
        raise CLIError(
            f"label column {y.name!r} has a single class ({classes[0]!r}); there is no "
            "other label a row could have, so nothing can be checked")
    return y


def _check_numeric(column, name):
    values = column.to_numpy(dtype=float)
    missing = np.isnan(values)
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise CLIError(
            f"column {name!r} has {int(missing.sum())} missing value(s) (first in row "
            f"{_row_name(column, first)}); fill them in, or leave the column out with "
            f"--drop {name}")
    if not np.all(np.isfinite(values)):
        raise CLIError(f"column {name!r} has infinite values; replace them or --drop {name}")
    return column.astype(float)


def _as_numbers(column, name):
    """A text column of numbers as floats; None for real text; junk raises."""
    pd = _pandas()
    present = column.dropna()
    as_numbers = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    n_numeric = int(as_numbers.notna().sum())
    if not len(present) or n_numeric < len(present) / 2:
        return None
    if n_numeric < len(present):
        bad = int(np.flatnonzero(as_numbers.isna().to_numpy())[0])
        raise CLIError(
            f"column {name!r} is mostly numbers but also holds text such as "
            f"{str(present.iloc[bad])!r} (row {_row_name(present, bad)}); fix those values or "
            f"leave the column out with --drop {name}")
    stripped = column.astype("object").map(lambda v: v.strip() if isinstance(v, str) else v)
    return pd.to_numeric(stripped.where(column.notna(), np.nan), errors="coerce").astype(float)


def _one_hot(column, name, n_rows):
    pd = _pandas()
    present = column.dropna()
    n_values = present.nunique()
    if n_values > MAX_CATEGORIES or (n_values > 10 and n_values > n_rows / 2):
        raise CLIError(
            f"column {name!r} has {n_values} distinct text values in {n_rows} rows, too many "
            "to one-hot encode (an identifier or free text?); leave it out with "
            f"--drop {name}, or name it with --id-column")
    has_missing = len(present) < len(column)
    dummies = pd.get_dummies(column.astype("object"), prefix=name, prefix_sep="=",
                             dummy_na=has_missing, dtype=float)
    return dummies, has_missing


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


class EpochProgress(Callback):
    """A one-line progress bar of each network's epochs, drawn on stderr."""

    def __init__(self, width=24):
        self.width = width

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        done, total = len(net.history), max(net.max_epochs, 1)
        filled = int(self.width * min(done, total) / total)
        sys.stderr.write(f"\r    [{'#' * filled}{'.' * (self.width - filled)}] "
                         f"epoch {done}/{total}")
        sys.stderr.flush()

    def on_train_end(self, net, **kwargs):
        seconds = time.perf_counter() - getattr(self, "start_", time.perf_counter())
        stopped = " (stopped early)" if len(net.history) < net.max_epochs else ""
        sys.stderr.write(f"\r    {len(net.history)} epochs in {seconds:.1f} s{stopped}"
                         + " " * (self.width + 6) + "\n")
        sys.stderr.flush()


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


def _run_detector(args, action):
    if args.out:  # fail before training, not after
        folder = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(folder):
            raise CLIError(f"--out {args.out}: the folder {folder} does not exist")
    table = read_table(args.data, sep=args.sep)
    X, y, notes = prepare_features(table, args.label, args.id_column, args.drop or ())
    _check_folds(y, args)
    input_shape = parse_input_shape(args.input_shape)
    if input_shape is not None and int(np.prod(input_shape)) != X.shape[1]:
        raise CLIError(
            f"--input-shape {args.input_shape} holds {int(np.prod(input_shape))} values but "
            f"the rows have {X.shape[1]} feature columns")
    if not args.no_scale:
        from sklearn.preprocessing import StandardScaler

        X = _pandas().DataFrame(StandardScaler().fit_transform(X), index=X.index,
                                columns=X.columns)
        notes.append("standardised every feature column (mean 0, variance 1)")
    print(f"Read {args.data}: {len(X)} rows, {X.shape[1]} feature columns, labels in "
          f"{args.label!r} with {y.nunique()} classes.")
    for note in notes:
        print(f"  {note}")
    progress = not args.quiet
    callbacks = [EpochProgress()] if progress and sys.stderr.isatty() else None
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
        if action == "relabel" or args.command == "clean":
            _, y_out = detector.fit_resample(X, y)
        else:
            detector.fit(X, y)
            y_out = None
    seconds = time.perf_counter() - start
    _summary(detector, len(X), seconds, args.top)
    return table, X, y, y_out, detector


def _summary(detector, n_rows, seconds, top):
    n_flagged = int(detector.is_label_issue_.sum())
    print(f"Done in {seconds:.1f} s. Flagged {n_flagged} of {n_rows} rows "
          f"({n_flagged / n_rows:.1%}) as probable label issues; estimated noise rate "
          f"{detector.noise_rate_:.1%}.")
    if top <= 0:
        return
    report = detector.label_issues()
    report.index.name = report.index.name or "row"
    shown = report.iloc[detector.ranked_indices_[:top]]
    shown = shown[["given_label", "suggested_label", "label_quality", "is_label_issue"]]
    print(f"Top {len(shown)} suspicious rows (lowest label quality first):")
    print(shown.to_string(float_format=lambda v: f"{v:.4f}"))


def _write_table(frame, path, index):
    if _is_parquet(path):
        try:
            import pyarrow  # noqa: F401
        except ImportError as error:
            raise CLIError(f"{path}: writing Parquet needs pyarrow: pip install pyarrow") \
                from error
        frame.to_parquet(path, index=index)
    else:
        frame.to_csv(path, index=index)


def _detect(args):
    _, X, _, _, detector = _run_detector(args, "remove")
    if args.out:
        report = detector.label_issues()
        report.index.name = report.index.name or "row"
        _write_table(report, args.out, index=True)
        print(f"Wrote the report of all {len(report)} rows to {args.out} "
              f"(columns: {report.index.name}, {', '.join(report.columns)}).")
    return 0


def _clean(args):
    action = "relabel" if args.relabel else "remove"
    table, X, y, y_out, detector = _run_detector(args, action)
    if args.id_column is not None:
        table = table.set_axis([str(c) for c in table.columns], axis=1).set_index(
            args.id_column)
    n_flagged = int(detector.is_label_issue_.sum())
    if action == "relabel":
        cleaned = table.copy()
        changed = int(np.sum(np.asarray(y_out) != np.asarray(y)))
        cleaned[args.label] = np.asarray(y_out)
        what = (f"relabelled {changed} of the {n_flagged} flagged rows with their "
                "suggested label (the others already had it)")
    else:
        cleaned = table.iloc[detector.sample_indices_]
        what = f"removed the {n_flagged} flagged rows"
    _write_table(cleaned, args.out, index=args.id_column is not None)
    print(f"Wrote {len(cleaned)} rows to {args.out}: {what}.")
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
        description="Score every row's label with NoisyLabelDetector, print a summary and "
                    "optionally write a report of all rows.")
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
                             help="where to write the cleaned table (.csv or .parquet)")
            sub.add_argument("--relabel", action="store_true",
                             help="keep every row and replace flagged labels by the "
                                  "suggested label, instead of removing those rows")
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
                         help="suspicious rows shown in the summary (default 10)")
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
      command line.
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
            print(f"{PROG}: interrupted", file=sys.stderr)
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
