"""Shared-teacher benchmark: the README's grid search, teacher refitted against shared.

Protocol
--------
* Data and search exactly as in the README: digits, ``X / 16``,
  ``train_test_split(stratify=y, random_state=0)``, 40% symmetric noise on the
  training part (``make_noisy_labels(y_train, 0.4, random_state=0)``);
  ``GridSearchCV(make_pipeline(StandardScaler(), RMDClassifier(random_state=0)),
  {"rmdclassifier__relation_weight": [0, 3, 10, 30]}, cv=3)``.
* ``refitted``: that search as it is, every candidate and fold (and the final
  refit) training its own label-free teacher on its training rows: 13 teachers.
* ``shared``: one ``SimSiamTeacher(random_state=0)`` (the teacher the default
  classifier builds) fitted on the standardised training rows, passed as
  ``RMDClassifier(teacher=teacher, random_state=0)``; clones keep it, so the
  same search trains one teacher. Its time includes fitting that teacher.
* Both in one run, one thread (``pin_threads``), after one tiny warm-up fit.
  Reported: seconds of each, the ratio, each search's ``best_params_`` and
  mean cross-validation score per candidate (noisy held-out labels), and the
  clean-test accuracy of each ``best_estimator_``.
* Targets: ratio >= 4 and the same ``best_params_``.

Run ``python benchmarks/bench_shared_teacher.py``, or ``--quick`` for a smoke
run (2 epochs per stage; written under ``benchmarks/results/quick/``).
"""

import argparse
import time
import warnings

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from _common import RESULTS_DIR, environment_info, write_results  # noqa: E402
from sklearn_rmd import RMDClassifier, SimSiamTeacher  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

GRID = {"rmdclassifier__relation_weight": [0, 3, 10, 30]}
CV = 3


def readme_data():
    """The README's split and noisy labels."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, stratify=y,
                                                        random_state=0)
    y_noisy, _ = make_noisy_labels(y_train, 0.4, random_state=0)
    return X_train, X_test, y_noisy, y_test


def search(classifier, X, y):
    return GridSearchCV(make_pipeline(StandardScaler(), classifier), GRID, cv=CV).fit(X, y)


def timed_search(name, epochs, X_train, X_test, y_noisy, y_test):
    """Run one way of the search; return its record."""
    start = time.perf_counter()
    if name == "refitted":
        result = search(RMDClassifier(random_state=0, **epochs), X_train, y_noisy)
        n_teachers = len(GRID["rmdclassifier__relation_weight"]) * CV + 1
    else:
        teacher = SimSiamTeacher(random_state=0, max_epochs=epochs["pretrain_epochs"])
        teacher.fit(StandardScaler().fit_transform(X_train))  # labels unused
        result = search(RMDClassifier(teacher=teacher, random_state=0, **epochs),
                        X_train, y_noisy)
        n_teachers = 1
    seconds = time.perf_counter() - start
    return dict(
        way=name, seconds=seconds, teachers_trained=n_teachers,
        best_params=result.best_params_,
        mean_cv_score=[float(s) for s in result.cv_results_["mean_test_score"]],
        clean_test_accuracy=float(result.best_estimator_.score(X_test, y_test)),
    )


def run(args):
    env = environment_info()
    print("environment:", env, flush=True)
    epochs = (dict(pretrain_epochs=2, max_epochs=2) if args.quick
              else dict(pretrain_epochs=40, max_epochs=100))
    X_train, X_test, y_noisy, y_test = readme_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too few rows to early-stop the warm-up
        RMDClassifier(pretrain_epochs=1, max_epochs=1, random_state=0).fit(X_train[:64],
                                                                           y_noisy[:64])
    records = []
    for name in ("refitted", "shared"):
        records.append(timed_search(name, epochs, X_train, X_test, y_noisy, y_test))
        print(f"{name}: {records[-1]['seconds']:.1f} s, best {records[-1]['best_params']}",
              flush=True)
    refitted, shared = records
    summary = dict(ratio=refitted["seconds"] / shared["seconds"],
                   same_best_params=refitted["best_params"] == shared["best_params"])
    write_results(args.out, dict(benchmark="shared_teacher", quick=args.quick,
                                 environment=env, grid=GRID, cv=CV, epochs=epochs,
                                 records=records, summary=summary),
                  markdown(records, summary, env, args))


def markdown(records, summary, env, args):
    weights = GRID["rmdclassifier__relation_weight"]
    lines = [
        "# Shared-teacher benchmark (generated by benchmarks/bench_shared_teacher.py)",
        "",
        "Do not edit by hand: rerun the script."
        + (" **Smoke run (--quick): numbers are meaningless.**" if args.quick else ""),
        "",
        f"Device {env['device']}, 1 thread; torch {env['torch']}, skorch {env['skorch']}; "
        f"commit {env['git_commit']}. The README's grid search (relation_weight in "
        f"{weights}, cv={CV}) on digits with 40% symmetric noise.",
        "",
        "| way | teachers trained | seconds | best relation_weight | clean-test accuracy | "
        + " | ".join(f"CV score w={w}" for w in weights) + " |",
        "|---" * (5 + len(weights)) + "|",
    ]
    for r in records:
        lines.append(
            f"| {r['way']} | {r['teachers_trained']} | {r['seconds']:.1f} | "
            f"{r['best_params']['rmdclassifier__relation_weight']} | "
            f"{r['clean_test_accuracy']:.3f} | "
            + " | ".join(f"{s:.3f}" for s in r["mean_cv_score"]) + " |")
    lines += ["", f"Time ratio refitted / shared: {summary['ratio']:.2f} (target: at least 4; "
                  f"{'pass' if summary['ratio'] >= 4 else '**fail**'}). Same best_params_: "
                  f"{'yes' if summary['same_best_params'] else '**no**'}."]
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 epochs per stage")
    parser.add_argument("--out", default=None,
                        help="output prefix for .json and .md (default benchmarks/results/"
                             "shared_teacher, quick/shared_teacher with --quick)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = str(RESULTS_DIR / ("quick/" if args.quick else "") / "shared_teacher")
    return args


if __name__ == "__main__":
    run(parse_args())
