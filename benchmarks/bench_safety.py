"""Data safety of the detector on adversarial cases: no correct row lost, no silent failure.

Protocol
--------
* ``NoisyLabelDetector(random_state=seed)`` with its defaults (cv=3 folds of
  the default network): each fit on these few hundred rows of 3 features
  takes a few seconds on one CPU thread, so no faster setting is needed.
* Cases, each with seeds 0, 1, 2 (data and detector):

  - ``stray1``, ``stray5``, ``stray10``: 200 'cat' and 200 'dog' rows in two
    far-apart blobs; 1%, 5% or 10% of all rows, taken from 'cat', relabelled
    'Cat' (a typo class). The typo rows are the wrong labels.
  - ``imbalance``: 95/5 two-class blobs (380 and 20 rows, partly
    overlapping); 10% of the majority rows relabelled as the minority.
  - ``duplicates``: two far-apart blobs of 200 rows each, plus 20 exact
    copies of rows with the other class's label (the copies are wrong).
  - ``clean``: three far-apart blobs of 100 rows each, no wrong label.
  - ``divergence``: the ``clean`` rows, with the default network trained
    at ``lr=1e6`` (an error saying the network diverged is expected).
  - ``huge``: the ``clean`` rows with one value 1e39 (finite in float64,
    infinite in float32; an error naming the float32 range is expected).

* Reported per case and seed: rows flagged, wrong labels found, correct
  rows lost (flagged rows whose given label was right), flagged rows whose
  suggested label equals the given one, and the error raised, if any: clean
  when it is a ValueError or RuntimeError with a message.
* Targets: 0 correct rows lost on the ``clean`` case; no row flagged whose
  suggested label equals its given label, in any case; every error clean,
  and the expected ones naming their cause.
"""

import argparse
import time

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402

from _common import environment_info, fill_run_defaults, write_results  # noqa: E402
from sklearn_rmd import NoisyLabelDetector, RMDClassifier  # noqa: E402

#: case -> what its error must say: the cause, so the user knows the fix
EXPECTED_ERRORS = {"divergence": "diverged", "huge": "float32 range"}


def far_blobs(sizes, seed, **kwargs):
    """Blobs of 3 features whose centres are 8 apart on every axis."""
    centers = [[8.0 * k] * 3 for k in range(len(sizes))]
    return make_blobs(n_samples=sizes, n_features=3, centers=centers, random_state=seed,
                      **kwargs)


def stray(share):
    def make(seed):
        X, blob = far_blobs([200, 200], seed)
        truth = np.where(blob == 0, "cat", "dog").astype(object)
        given = truth.copy()
        rng = np.random.RandomState(seed)
        typos = rng.choice(np.flatnonzero(blob == 0), int(round(share * len(X))),
                           replace=False)
        given[typos] = "Cat"
        return X, given, truth, {}
    return make


def imbalance(seed):
    X, truth = make_blobs(n_samples=[380, 20], n_features=3, centers=[[0] * 3, [4] * 3],
                          random_state=seed)
    given = truth.copy()
    rng = np.random.RandomState(seed)
    majority = np.flatnonzero(truth == 0)
    given[rng.choice(majority, int(round(0.1 * len(majority))), replace=False)] = 1
    return X, given, truth, {}


def duplicates(seed):
    X, truth = far_blobs([200, 200], seed)
    copies = np.random.RandomState(seed).choice(len(X), 20, replace=False)
    X = np.vstack([X, X[copies]])
    given = np.concatenate([truth, 1 - truth[copies]])
    return X, given, np.concatenate([truth, truth[copies]]), {}


def clean(seed):
    X, truth = far_blobs([100, 100, 100], seed)
    return X, truth, truth, {}


def divergence(seed):
    X, y, truth, _ = clean(seed)
    network = RMDClassifier(lr=1e6, pretrain_epochs=5, max_epochs=10, relation_weight=0.0,
                            early_stopping=False)
    return X, y, truth, {"estimator": network}


def huge(seed):
    X, y, truth, _ = clean(seed)
    X[0, 1] = 1e39
    return X, y, truth, {}


CASES = {"stray1": stray(0.01), "stray5": stray(0.05), "stray10": stray(0.10),
         "imbalance": imbalance, "duplicates": duplicates, "clean": clean,
         "divergence": divergence, "huge": huge}


def run_case(name, seed):
    X, given, truth, params = CASES[name](seed)
    wrong = given != truth
    row = dict(case=name, seed=seed, rows=len(X), wrong_labels=int(wrong.sum()),
               flagged=None, wrong_found=None, correct_lost=None, flagged_same=None,
               error=None, clean_error=None)
    start = time.perf_counter()
    try:
        detector = NoisyLabelDetector(random_state=seed, **params)
        flagged = detector.fit_predict(X, given)
    except (ValueError, RuntimeError) as exc:
        row.update(error=f"{type(exc).__name__}: {exc}", clean_error=bool(str(exc)))
    except Exception as exc:  # noqa: BLE001 - any other exception is what we measure
        row.update(error=f"{type(exc).__name__}: {exc}", clean_error=False)
    else:
        same = detector.suggested_label_ == given
        row.update(flagged=int(flagged.sum()), wrong_found=int((flagged & wrong).sum()),
                   correct_lost=int((flagged & ~wrong).sum()),
                   flagged_same=int((flagged & same).sum()))
    row["seconds"] = round(time.perf_counter() - start, 2)
    print(f"{name} seed {seed}: {row}", flush=True)
    return row


def targets(rows):
    """Whether each target is met, over all rows."""
    return {
        "no correct row lost on the clean case": all(
            r["correct_lost"] == 0 for r in rows if r["case"] == "clean"),
        "no flagged row whose suggested label is its given label": all(
            not r["flagged_same"] for r in rows),
        "every error clean": all(r["clean_error"] is not False for r in rows),
        "the expected errors raised, naming their cause": all(
            EXPECTED_ERRORS[r["case"]] in (r["error"] or "")
            for r in rows if r["case"] in EXPECTED_ERRORS),
    }


def markdown(results):
    rows, env = results["rows"], results["environment"]

    def per_seed(case_rows, key):
        return ", ".join("-" if r[key] is None else str(r[key]) for r in case_rows)

    lines = [
        "# Detector safety on adversarial cases",
        "",
        f"`NoisyLabelDetector(random_state=seed)` with its defaults; seeds "
        f"{', '.join(map(str, results['seeds']))} (values per seed). Commit "
        f"{env['git_commit']}, {env['device']}, {env['torch_threads']} torch thread(s). "
        "Written by `benchmarks/bench_safety.py`.",
        "",
        "| case | rows | wrong labels | flagged | wrong found | correct rows lost "
        "| flagged with suggested == given | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case in dict.fromkeys(r["case"] for r in rows):
        case_rows = [r for r in rows if r["case"] == case]
        errors = [r for r in case_rows if r["error"] is not None]
        kinds = sorted({r["error"].split(":")[0] for r in errors})
        if not errors:
            error_text = "none"
        elif all(r["clean_error"] for r in errors):
            error_text = f"{len(errors)} clean ({', '.join(kinds)})"
        else:
            error_text = f"NOT CLEAN ({', '.join(kinds)})"
        lines.append(
            f"| {case} | {case_rows[0]['rows']} | {per_seed(case_rows, 'wrong_labels')} "
            f"| {per_seed(case_rows, 'flagged')} | {per_seed(case_rows, 'wrong_found')} "
            f"| {per_seed(case_rows, 'correct_lost')} "
            f"| {per_seed(case_rows, 'flagged_same')} | {error_text} |")
    lines += ["", "## Targets", ""]
    lines += [f"* {name}: {'met' if met else 'NOT MET'}"
              for name, met in results["targets"].items()]
    messages = {}
    for r in rows:
        if r["error"] is not None:
            messages.setdefault(r["case"], r["error"])
    if messages:
        lines += ["", "## Errors (first seed's message per case)", ""]
        lines += [f"* `{case}`: {message}" for case, message in messages.items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=None)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--quick", action="store_true", help="seed 0 only")
    parser.add_argument("--out", default=None)
    args = fill_run_defaults(parser.parse_args(argv), "safety")
    rows = [run_case(name, seed) for name in args.cases for seed in args.seeds]
    results = dict(seeds=args.seeds, rows=rows, targets=targets(rows),
                   environment=environment_info())
    write_results(args.out, results, markdown(results))


if __name__ == "__main__":
    main()
