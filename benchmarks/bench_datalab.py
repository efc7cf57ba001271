"""Data-issue benchmark: NoisyLabelDetector against cleanlab's Datalab on the same rows.

Protocol
--------
* Data, per seed: scikit-learn's digits, all 1797 rows, ``X / 16``. Of the
  original rows, 3% (54, drawn with ``RandomState(seed)``) are duplicated:
  each copy gets Gaussian noise of standard deviation 0.01 per pixel, clipped
  to [0, 1], and is appended (1851 rows). Another 3% of the original rows
  (54, none of them duplicated) are replaced by out-of-distribution rows:
  uniform noise images, every pixel drawn from U(0, 1). Then 20% of all
  labels are flipped, symmetric noise (``make_noisy_labels(y, 0.2,
  random_state=seed)``); a copy can thus disagree with its source.
* ``ours``: ``NoisyLabelDetector(random_state=seed).fit(X, y)``, every
  default, one call on the rows as they are.
* ``datalab``: cleanlab's ``Datalab(data={"label": y}, label_name="label")``
  and ``find_issues(features=X, pred_probs=P)`` for the issue types
  ``label``, ``outlier`` and ``near_duplicate`` (their defaults), ``P`` the
  5-fold out-of-fold probabilities (``cross_val_predict``, shuffled
  ``StratifiedKFold(5, random_state=seed)``) of ``StandardScaler + SVC(
  probability=True)``, a strong classic model on digits.
* Reported per method, mean ± std over seeds 0, 1, 2:
  - outlier AUROC: the outlier score (ours ``outlier_score_``; Datalab
    ``1 - outlier_score``) against the replaced rows, and the rows flagged
    as outliers with the share of them that were replaced;
  - near-duplicate recall: the share of (source, copy) pairs that one set
    holds, and the rows in any set that are neither a source nor a copy;
  - label-issue precision, recall and F1 (``detection_report``) of the
    flagged rows against the flipped ones, over the rows not replaced (a
    replaced row has no true label);
  - seconds of the whole call (probabilities included).
* Targets: ours >= Datalab on each of outlier AUROC, near-duplicate recall
  and label-issue F1 (means over the seeds).
* One thread everywhere (``pin_threads``); one tiny warm-up fit first.

Run ``python benchmarks/bench_datalab.py`` (needs ``cleanlab[datalab]``), or
``--quick`` for a smoke run (1 seed, 2 epochs per stage; written under
``benchmarks/results/quick/``).
"""

import argparse
import time
import warnings

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.sparse import coo_matrix  # noqa: E402
from scipy.sparse.csgraph import connected_components  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from _common import (add_run_arguments, device_line, environment_info,  # noqa: E402
                     fill_run_defaults, mean_std, write_results)
from sklearn_rmd import NoisyLabelDetector, RMDClassifier  # noqa: E402
from sklearn_rmd.detector import DEFAULT_NETWORK  # noqa: E402
from sklearn_rmd.metrics import detection_report  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

SHARE_DUPLICATED = 0.03
SHARE_REPLACED = 0.03
COPY_NOISE = 0.01
NOISE_RATE = 0.2
METHODS = {
    "ours": "NoisyLabelDetector(random_state=seed).fit(X, y), every default",
    "datalab": "cleanlab Datalab.find_issues(features=X, pred_probs=5-fold OOF of "
               "StandardScaler + SVC(probability=True)), issue types label, outlier, "
               "near_duplicate with their defaults",
}
METRICS = ("outlier_auroc", "n_outliers", "outlier_precision", "duplicate_recall",
           "extra_duplicate_rows", "precision", "recall", "f1", "seconds")


def load(seed):
    """Rows, noisy labels and the truth: flipped, replaced (bool per row) and the
    (source, copy) pairs."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    n = len(X)
    rng = np.random.RandomState(seed)
    n_dup, n_ood = round(SHARE_DUPLICATED * n), round(SHARE_REPLACED * n)
    chosen = rng.permutation(n)
    sources, replaced = chosen[:n_dup], chosen[n_dup:n_dup + n_ood]
    copies = np.clip(X[sources] + COPY_NOISE * rng.randn(n_dup, X.shape[1]), 0.0, 1.0)
    X[replaced] = rng.uniform(size=(n_ood, X.shape[1]))
    X = np.vstack([X, copies]).astype(np.float32)
    y = np.concatenate([y, y[sources]])
    y_noisy, flipped = make_noisy_labels(y, NOISE_RATE, random_state=seed)
    is_replaced = np.isin(np.arange(len(X)), replaced)
    pairs = np.column_stack([sources, n + np.arange(n_dup)])
    return X, y_noisy.astype(np.int64), flipped, is_replaced, pairs


def run_ours(X, y, seed, quick, device):
    """(outlier score, is outlier, near-duplicate sets, flagged, label quality)."""
    if quick:
        net = RMDClassifier(**{**DEFAULT_NETWORK, "pretrain_epochs": 2, "max_epochs": 2},
                            device=device)
        detector = NoisyLabelDetector(net, random_state=seed, device=device)
    else:
        detector = NoisyLabelDetector(random_state=seed, device=device)
    detector.fit(X, y)
    return (detector.outlier_score_, detector.is_outlier_, detector.near_duplicate_sets_,
            detector.is_label_issue_, detector.label_quality_)


def run_datalab(X, y, seed):
    from cleanlab import Datalab

    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    probs = cross_val_predict(make_pipeline(StandardScaler(), SVC(probability=True,
                                                                  random_state=seed)),
                              X, y, cv=folds, method="predict_proba")
    lab = Datalab(data={"label": y}, label_name="label", verbosity=0)
    lab.find_issues(features=X, pred_probs=probs,
                    issue_types={"label": {}, "outlier": {}, "near_duplicate": {}})
    issues = lab.get_issues()
    # Datalab lists each row's near-duplicates; join them into sets as ours are.
    members = lab.get_issues("near_duplicate")["near_duplicate_sets"]
    rows = [i for i in range(len(y)) for _ in members.iloc[i]]
    cols = [j for i in range(len(y)) for j in members.iloc[i]]
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(y), len(y)))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    sets = [np.flatnonzero(component == c) for c in np.flatnonzero(sizes > 1)]
    return (1.0 - issues["outlier_score"].to_numpy(), issues["is_outlier_issue"].to_numpy(),
            sets, issues["is_label_issue"].to_numpy(), issues["label_score"].to_numpy())


def score(outputs, flipped, is_replaced, pairs, seconds):
    outlier_score, is_outlier, sets, flagged, quality = outputs
    set_of = np.full(len(flipped), -1)
    for k, members in enumerate(sets):
        set_of[members] = k
    together = (set_of[pairs[:, 0]] >= 0) & (set_of[pairs[:, 0]] == set_of[pairs[:, 1]])
    in_a_set = set_of >= 0
    in_a_set[pairs.ravel()] = False
    kept = ~is_replaced
    labels = detection_report(flipped[kept], flagged[kept], quality[kept])
    n_outliers = int(is_outlier.sum())
    return dict(
        outlier_auroc=float(roc_auc_score(is_replaced, outlier_score)),
        n_outliers=n_outliers,
        outlier_precision=float(is_replaced[is_outlier].mean()) if n_outliers else None,
        duplicate_recall=float(together.mean()),
        extra_duplicate_rows=int(in_a_set.sum()),
        precision=labels["precision"], recall=labels["recall"], f1=labels["f1"],
        seconds=seconds,
    )


def run_method(method, X, y, seed, quick, device):
    torch.manual_seed(seed)
    start = time.perf_counter()
    outputs = run_ours(X, y, seed, quick, device) if method == "ours" else run_datalab(X, y,
                                                                                     seed)
    return outputs, time.perf_counter() - start


def summarize(runs, methods):
    return {method: {key: mean_std([r["metrics"][method][key] for r in runs])
                     for key in METRICS} for method in methods}


def check_targets(summary):
    targets = {}
    if "ours" in summary and "datalab" in summary:
        for key in ("outlier_auroc", "duplicate_recall", "f1"):
            ours, theirs = summary["ours"][key][0], summary["datalab"][key][0]
            targets[f"{key}: ours >= Datalab"] = dict(value=ours, reference=theirs,
                                                      met=ours >= theirs)
    return targets


def _cell(pair, digits=3):
    if pair is None:
        return "n/a"
    return f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"


def markdown(results):
    lines = [
        "# NoisyLabelDetector vs cleanlab Datalab: outliers, near-duplicates, label issues",
        "",
        device_line(results),
        "",
        f"Digits, X / 16, {results['n_rows']} rows: {SHARE_DUPLICATED:.0%} of the rows "
        f"duplicated (noise {COPY_NOISE} per pixel), {SHARE_REPLACED:.0%} replaced by uniform "
        f"noise images, {NOISE_RATE:.0%} symmetric label noise; seeds {results['seeds']}; "
        "mean ± std over the seeds.",
        "",
        "| method | outlier AUROC | outliers flagged | of them replaced | near-duplicate "
        "recall | other rows in sets | label precision | label recall | label F1 | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, m in results["summary"].items():
        lines.append(
            f"| {method} | {_cell(m['outlier_auroc'])} | {_cell(m['n_outliers'], 1)} | "
            f"{_cell(m['outlier_precision'])} | {_cell(m['duplicate_recall'])} | "
            f"{_cell(m['extra_duplicate_rows'], 1)} | {_cell(m['precision'])} | "
            f"{_cell(m['recall'])} | {_cell(m['f1'])} | {_cell(m['seconds'], 1)} |")
    lines += ["", "Methods:", ""] + [f"* `{k}`: {v}" for k, v in results["methods"].items()]
    lines += ["", "Targets:", ""]
    for name, target in results["targets"].items():
        lines.append(f"* {name}: {target['value']:.3f} (Datalab {target['reference']:.3f}): "
                     + ("met" if target["met"] else "**not met**"))
    return "\n".join(lines) + "\n"


def warm_up(methods, device):
    X, y, *_ = load(0)
    for method in methods:
        run_method(method, X[:300], y[:300], 0, True, device)


def run(args):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    env = environment_info()
    print("environment:", env, flush=True)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warm_up(args.methods, device)
    runs = []
    for seed in args.seeds:
        X, y, flipped, is_replaced, pairs = load(seed)
        record = dict(seed=seed, n_rows=len(y), metrics={})
        for method in args.methods:
            outputs, seconds = run_method(method, X, y, seed, args.quick, device)
            record["metrics"][method] = score(outputs, flipped, is_replaced, pairs, seconds)
        runs.append(record)
        print(f"seed {seed}: " + "  ".join(
            f"{m}: outlier AUROC {r['outlier_auroc']:.3f}, duplicate recall "
            f"{r['duplicate_recall']:.3f}, F1 {r['f1']:.3f} ({r['seconds']:.1f}s)"
            for m, r in record["metrics"].items()), flush=True)
    summary = summarize(runs, args.methods)
    results = dict(benchmark="datalab", quick=args.quick, environment=env, device=device,
                   seeds=args.seeds, n_rows=runs[0]["n_rows"],
                   methods={m: METHODS[m] for m in args.methods}, runs=runs,
                   summary=summary, targets=check_targets(summary))
    write_results(args.out, results, markdown(results))
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    add_run_arguments(parser, "datalab", "smoke run: 1 seed, 2 epochs per stage")
    return fill_run_defaults(parser.parse_args(argv), "datalab")


if __name__ == "__main__":
    run(parse_args())
