"""Helpers shared by the benchmark scripts: threads, environment, data, output.

Call :func:`pin_threads` before numpy or torch is imported anywhere, so that
timings do not depend on how many BLAS or OpenMP threads happen to be free::

    from _common import pin_threads
    pin_threads()
    import numpy as np  # noqa: E402
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pin_threads():
    """Run numpy, BLAS and torch on one thread each.

    Sets the thread variables in ``os.environ`` (effective for numpy only if
    it is not imported yet) and calls ``torch.set_num_threads(1)``.
    """
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work has started
        pass


def _git_commit():
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty.strip() else "")


def environment_info():
    """Versions, device and thread settings to store next to the results."""
    import numpy
    import sklearn
    import skorch
    import torch

    import sklearn_rmd

    cuda = torch.cuda.is_available()
    return {
        "device": "cuda" if cuda else "cpu",
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "thread_env": {name: os.environ.get(name) for name in _THREAD_VARIABLES},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": numpy.__version__,
        "sklearn_rmd": sklearn_rmd.__version__,
        "git_commit": _git_commit(),
    }


def digits_split(seed):
    """Digits scaled to [0, 1] (X / 16), split 70/30 stratified with ``seed``.

    Returns ``X_train, X_test, y_train, y_test`` (float32 rows, int64 labels).
    """
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y.astype(np.int64), test_size=0.3, stratify=y,
                            random_state=seed)


def fill_run_defaults(args, name):
    """Seeds 0 1 2 (0 with ``--quick``) and the output prefix ``results/<name>``
    (``results/quick/<name>`` with ``--quick``), where the command line left them."""
    if args.seeds is None:
        args.seeds = [0] if args.quick else [0, 1, 2]
    if args.out is None:
        args.out = str(RESULTS_DIR / ("quick/" + name if args.quick else name))
    return args


def add_run_arguments(parser, name, quick_help):
    """Add ``--quick`` (described by ``quick_help``), ``--seeds`` and ``--out``, as
    :func:`fill_run_defaults` fills them."""
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="default 0 1 2 (0 with --quick)")
    parser.add_argument("--out", default=None,
                        help=f"output prefix for .json and .md (default benchmarks/results/"
                             f"{name}, quick/{name} with --quick)")
    return parser


def add_sweep_arguments(parser, combine=True):
    """Add the arguments of a sweep on the generated kinds: ``--kinds``,
    ``--seeds`` (filled by :func:`fill_sweep_defaults`), ``--out`` and, with
    ``combine``, ``--combine`` for the shards' .json files."""
    from _data import GENERATED, KINDS

    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(GENERATED))
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="default 100 101 (100 with --quick)")
    if combine:
        parser.add_argument("--combine", nargs="+", default=None, metavar="SHARD_JSON",
                            help="write the table from the .json files of shards run "
                                 "with --kinds")
    parser.add_argument("--out", default=None)
    return parser


def sweep_parser(doc, noise_keys, noise_help=None):
    """The parser of a sweep: ``--quick``, ``--noise`` and
    :func:`add_sweep_arguments`.

    Parameters
    ----------
    doc : str
      The script's docstring; its first line describes the parser.

    noise_keys : sequence of str or None
      Default noises, e.g. ``("sym20", "sym50")``; None leaves ``--noise``
      None for the script to fill.

    noise_help : str or None (default=None)
      Help text of ``--noise``.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 epochs per stage")
    parser.add_argument("--noise", nargs="+", type=parse_noise, help=noise_help,
                        default=None if noise_keys is None
                        else [parse_noise(k) for k in noise_keys])
    return add_sweep_arguments(parser)


def fill_sweep_defaults(args, name):
    """Seeds 100 101 (100 with ``--quick``), rows no judged benchmark draws, and
    the output prefix of :func:`fill_run_defaults`."""
    if args.seeds is None:
        args.seeds = [100] if args.quick else [100, 101]
    return fill_run_defaults(args, name)


def device_line(results):
    """The Markdown line naming the device, threads and commit of a run (and a
    warning when ``results['quick']``)."""
    env = results["environment"]
    return (f"Device: {env['device']}" + (f" ({env['gpu']})" if env.get("gpu") else "")
            + f"; torch threads {env['torch_threads']}; commit {env['git_commit']}."
            + (" **Quick smoke run: 2 epochs per stage, not a result.**"
               if results["quick"] else ""))


def write_results(name, rows, markdown):
    """Write ``<prefix>.json`` (``rows``, any JSON-able object) and ``<prefix>.md``,
    and print the table and the two paths.

    ``name`` without a directory part ('classifier') goes to
    ``benchmarks/results/``; a path ('/tmp/x/classifier') is used as given.
    Returns the two paths.
    """
    prefix = Path(name)
    if prefix.parent == Path("."):
        prefix = RESULTS_DIR / prefix
    prefix.parent.mkdir(parents=True, exist_ok=True)
    json_path = prefix.with_name(prefix.name + ".json")
    md_path = prefix.with_name(prefix.name + ".md")
    json_path.write_text(json.dumps(rows, indent=2, default=str) + "\n")
    md_path.write_text(markdown if markdown.endswith("\n") else markdown + "\n")
    print("\n" + markdown)
    print("written:", json_path, md_path)
    return json_path, md_path


def parse_noise(key):
    """'sym50' -> ('sym50', 'symmetric', 0.5); 'pair40' -> ('pair40', 'pair', 0.4)."""
    match = re.fullmatch(r"(sym|pair)(\d{1,2})", key)
    if not match:
        raise argparse.ArgumentTypeError(f"noise {key!r}: use symNN or pairNN, e.g. sym50")
    kind = {"sym": "symmetric", "pair": "pair"}[match.group(1)]
    return key, kind, int(match.group(2)) / 100


def mean_std(values):
    """``[mean, std]`` of the values that are not None, or None if there are none."""
    import numpy as np

    values = [v for v in values if v is not None]
    if not values:
        return None
    return [float(np.mean(values)), float(np.std(values))]


def load_shards(paths):
    """The ``.json`` results of shards run with ``--kinds``: ``(environment, runs,
    first shard)``; exits when the shards come from different commits."""
    shards = [json.loads(Path(path).read_text()) for path in paths]
    commits = {shard["environment"]["git_commit"] for shard in shards}
    if len(commits) != 1:
        raise SystemExit(f"shards come from different commits: {sorted(commits)}")
    return shards[0]["environment"], [r for shard in shards for r in shard["runs"]], shards[0]


def adopt_shard_protocol(args, runs, first):
    """Set ``args.kinds``, ``args.seeds`` and ``args.noise`` to what the shards
    of :func:`load_shards` ran, so that a combined table names them."""
    args.kinds = list(dict.fromkeys(r["kind"] for r in runs))
    args.seeds = first["protocol"]["seeds"]
    args.noise = [(k, kind, rate) for k, (kind, rate) in first["protocol"]["noise"].items()]
    return args


def knn_accuracy(train, y_train, test, y_test):
    """Test accuracy of ``KNeighborsClassifier(10, metric='cosine')`` fitted on
    ``train``: how well neighbourhoods in a space follow the labels."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(10, metric="cosine").fit(train, y_train)
    return float(knn.score(test, y_test))


def count_only_flags(detector):
    """The rows a fitted NoisyLabelDetector's count cut reaches before the rule
    that never flags a row whose suggested label is its given label: the
    lowest-quality rows, as many as the estimated number of wrong labels."""
    import numpy as np

    n = len(detector.label_quality_)
    flags = np.zeros(n, dtype=bool)
    flags[detector.ranked_indices_[:int(round(detector.noise_rate_ * n))]] = True
    return flags


def graph_space_accuracy(teacher, spaces, X_train, X_test, y_train, y_test):
    """:func:`knn_accuracy` (clean labels, training rows to test rows) in the
    space where ``RMDClassifier(neighbor_spaces=spaces)`` searches its
    teacher graph: how well neighbourhoods there follow the true classes."""
    import numpy as np

    from sklearn_rmd.graph import joint_space

    # The input space as the classifier searches it: columns standardised on
    # the training rows.
    mean, scale = X_train.mean(axis=0), X_train.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    views = {"teacher": (teacher.transform(X_train), teacher.transform(X_test)),
             "input": ((X_train - mean) / scale, (X_test - mean) / scale)}
    train, test = (joint_space(*(views[space][i] for space in spaces)) for i in (0, 1))
    return knn_accuracy(train, y_train, test, y_test)
