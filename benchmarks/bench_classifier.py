"""Classifier benchmark: accuracy under label noise and fit time, RMD against plain CE.

Protocol
--------
* Data: scikit-learn's digits, inputs scaled to [0, 1] by ``X / 16``; per seed a
  stratified 70/30 split (``random_state=seed``).
* Noise: only on the training part, with ``make_noisy_labels`` (exactly
  ``round(rate * n)`` rows flipped, ``random_state=seed``): symmetric 20% and
  50%, pair 40% (class c -> c + 1). Test labels stay clean.
* Views: ``flat`` (rows of 64 pixels, MLP encoder) and ``cnn``
  (``input_shape=(1, 8, 8)``, 2-D CNN encoder).
* Methods, all with the same default encoder, linear head, optimizer (AdamW),
  lr, weight decay, batch size and stage-2 epochs, read from
  ``RMDClassifier().get_params()``:

  A ``skorch_ce``  plain skorch ``NeuralNetClassifier``, cross-entropy;
  B ``rmd_init``   ``RMDClassifier(relation_weight=0)``: teacher init only;
  C ``rmd_ce``     ``RMDClassifier(relation_weight=0, init_from_teacher=False)``:
                   plain CE through our own loader (a second timing baseline);
  D ``rmd``        ``RMDClassifier()`` with every default.

* Reported per (view, noise): clean-test accuracy, mean and std over seeds;
  the teacher's kNN accuracy (``KNeighborsClassifier(10, metric='cosine')`` on
  ``embed(X, source='teacher')`` with the clean labels), and the same kNN on
  the raw inputs; fit seconds and fit time as a ratio to A in the same run.
* One thread everywhere (``pin_threads``); one tiny warm-up fit per method and
  view before timing, so torch's start-up cost lands in no timing.

Run ``python benchmarks/bench_classifier.py`` (the full run takes a while on a
CPU) or ``--quick`` for a smoke run (1 seed, 2 epochs; written under
``benchmarks/results/quick/`` unless ``--out`` is given).
"""

import argparse
import re
import time
import warnings

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from skorch import NeuralNetClassifier  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from torch import nn  # noqa: E402

from _common import (digits_split, environment_info, fill_run_defaults,  # noqa: E402
                     write_results)
from sklearn_rmd import RMDClassifier  # noqa: E402
from sklearn_rmd.modules import make_encoder  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

VIEWS = {"flat": None, "cnn": (1, 8, 8)}
METHODS = {
    "skorch_ce": "A: plain skorch NeuralNetClassifier, cross-entropy",
    "rmd_init": "B: RMDClassifier(relation_weight=0), teacher init only",
    "rmd_ce": "C: RMDClassifier(relation_weight=0, init_from_teacher=False), plain CE",
    "rmd": "D: RMDClassifier(), full RMD",
}
RMD_PARAMS = {
    "rmd_init": dict(relation_weight=0),
    "rmd_ce": dict(relation_weight=0, init_from_teacher=False),
    "rmd": {},
}
# cleanlab CleanLearning + SVC on this protocol, exact symmetric noise
# (shared/reference/noisy-label-tools-notes.md, section 4.3).
CLEANLAB_SVC = {0.2: 0.973, 0.4: 0.965}
MIN_GAIN_SYM50 = 0.05
MAX_TIME_RATIO = 2.5


class EncoderHead(nn.Module):
    """The default RMD encoder plus a linear head: the network of method A."""

    def __init__(self, n_features, n_classes, input_shape=None, hidden_dims=None,
                 embedding_dim=128, dropout=0.0):
        super().__init__()
        self.encoder = make_encoder(n_features, input_shape, hidden_dims, embedding_dim, dropout)
        self.head = nn.Linear(self.encoder.out_dim, n_classes)

    def forward(self, x):
        return self.head(self.encoder(x))


def parse_noise(key):
    """'sym50' -> ('symmetric', 0.5); 'pair40' -> ('pair', 0.4)."""
    match = re.fullmatch(r"(sym|pair)(\d{1,2})", key)
    if not match:
        raise argparse.ArgumentTypeError(f"noise {key!r}: use symNN or pairNN, e.g. sym50")
    kind = {"sym": "symmetric", "pair": "pair"}[match.group(1)]
    return key, kind, int(match.group(2)) / 100


def make_model(method, input_shape, seed, defaults, overrides, device):
    """A fresh, unfitted model for ``method``."""
    if method == "skorch_ce":
        return NeuralNetClassifier(
            EncoderHead,
            module__n_features=64, module__n_classes=10, module__input_shape=input_shape,
            module__hidden_dims=defaults["hidden_dims"],
            module__embedding_dim=defaults["embedding_dim"],
            module__dropout=defaults["dropout"],
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.AdamW,
            lr=defaults["lr"], optimizer__weight_decay=defaults["weight_decay"],
            batch_size=defaults["batch_size"],
            max_epochs=overrides.get("max_epochs", defaults["max_epochs"]),
            train_split=None, iterator_train__shuffle=True, device=device, verbose=0,
        )
    return RMDClassifier(input_shape=input_shape, random_state=seed,
                         **RMD_PARAMS[method], **overrides)


def fit_timed(method, model, X, y, seed):
    if method == "skorch_ce":
        torch.manual_seed(seed)
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def epochs_run(model):
    """Epochs trained: ``[stage 1, stage 2]`` (stage 1 is 0 without a teacher)."""
    if isinstance(model, NeuralNetClassifier):
        return [0, len(model.history)]
    teacher = model.teacher_
    return [len(teacher.history_) if teacher is not None else 0, len(model.history_)]


def knn_accuracy(train, y_train, test, y_test):
    knn = KNeighborsClassifier(10, metric="cosine").fit(train, y_train)
    return float(knn.score(test, y_test))


def run(args):
    defaults = RMDClassifier().get_params()
    overrides = dict(pretrain_epochs=2, max_epochs=2) if args.quick else {}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    env = environment_info()
    print("environment:", env, flush=True)
    print("defaults:", {k: defaults.get(k) for k in (
        "lr", "weight_decay", "batch_size", "max_epochs", "pretrain_epochs", "early_stopping")},
          flush=True)

    X_warm, _, y_warm, _ = digits_split(0)
    runs = []
    for view in args.views:
        input_shape = VIEWS[view]
        for method in args.methods:  # warm-up: torch's first-call costs
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. too few rows to early-stop
                make_model(method, input_shape, 0, defaults,
                           dict(pretrain_epochs=1, max_epochs=1), device).fit(X_warm[:128],
                                                                              y_warm[:128])
        for noise_key, kind, rate in args.noise:
            for seed in args.seeds:
                X_train, X_test, y_train, y_test = digits_split(seed)
                y_noisy, _ = make_noisy_labels(y_train, rate, kind=kind, random_state=seed)
                record = dict(view=view, noise=noise_key, seed=seed, accuracy={}, fit_s={},
                              epochs={}, knn_raw=knn_accuracy(X_train, y_train, X_test, y_test),
                              knn_teacher=None)
                for method in args.methods:
                    model = make_model(method, input_shape, seed, defaults, overrides, device)
                    record["fit_s"][method] = fit_timed(method, model, X_train, y_noisy, seed)
                    record["accuracy"][method] = float(model.score(X_test, y_test))
                    record["epochs"][method] = epochs_run(model)
                    # B and D share their stage 1 (label-free, same seed): one teacher.
                    teacher = getattr(model, "teacher_", None)
                    if record["knn_teacher"] is None and teacher is not None:
                        record["knn_teacher"] = knn_accuracy(
                            model.embed(X_train, source="teacher"), y_train,
                            model.embed(X_test, source="teacher"), y_test)
                runs.append(record)
                print(f"{view:4} {noise_key:6} seed {seed}: "
                      + "  ".join(f"{m} {record['accuracy'][m]:.3f} ({record['fit_s'][m]:.1f}s)"
                                  for m in args.methods), flush=True)

    summary = summarize(runs, args)
    targets = check_targets(summary, args)
    results = dict(
        benchmark="classifier",
        quick=args.quick,
        environment=env,
        protocol=dict(data="sklearn digits, X/16, stratified 70/30 split per seed",
                      noise={key: [kind, rate] for key, kind, rate in args.noise},
                      seeds=args.seeds, views={v: VIEWS[v] for v in args.views},
                      methods={m: METHODS[m] for m in args.methods},
                      knn="KNeighborsClassifier(10, metric='cosine'), clean train labels"),
        defaults=defaults,
        overrides=overrides,
        runs=runs, summary=summary, targets=targets,
    )
    write_results(args.out, results, markdown(results, args))
    return results


def _mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return [float(np.mean(values)), float(np.std(values))]


def summarize(runs, args):
    rows = []
    for view in args.views:
        for noise_key, kind, rate in args.noise:
            group = [r for r in runs if r["view"] == view and r["noise"] == noise_key]
            row = dict(view=view, noise=noise_key, kind=kind, rate=rate, n_seeds=len(group),
                       accuracy={}, fit_s={}, time_ratio={}, epochs={},
                       knn_raw=_mean_std([r["knn_raw"] for r in group]),
                       knn_teacher=_mean_std([r["knn_teacher"] for r in group]))
            for method in args.methods:
                row["accuracy"][method] = _mean_std([r["accuracy"][method] for r in group])
                row["fit_s"][method] = _mean_std([r["fit_s"][method] for r in group])
                row["epochs"][method] = [float(np.mean([r["epochs"][method][i] for r in group]))
                                         for i in (0, 1)]
                if "skorch_ce" in args.methods:
                    row["time_ratio"][method] = _mean_std(
                        [r["fit_s"][method] / r["fit_s"]["skorch_ce"] for r in group])
            rows.append(row)
    return rows


def check_targets(summary, args):
    """Targets for full RMD (D) against plain skorch CE (A), per summary row."""
    checks = []
    if not {"rmd", "skorch_ce"} <= set(args.methods):
        return checks
    for row in summary:
        rmd, ce = row["accuracy"]["rmd"][0], row["accuracy"]["skorch_ce"][0]
        where = dict(view=row["view"], noise=row["noise"])
        if row["kind"] == "symmetric" and row["rate"] == 0.5:
            checks.append(dict(where, target=f"RMD >= plain CE + {100 * MIN_GAIN_SYM50:.0f} points",
                               value=rmd - ce, passed=rmd - ce >= MIN_GAIN_SYM50))
        if row["kind"] == "symmetric" and row["rate"] == 0.2:
            checks.append(dict(where, target="RMD >= plain CE", value=rmd - ce, passed=rmd >= ce))
        ratio = row["time_ratio"]["rmd"][0]
        checks.append(dict(where, target=f"fit time <= {MAX_TIME_RATIO}x plain CE", value=ratio,
                           passed=ratio <= MAX_TIME_RATIO))
        if row["rate"] in CLEANLAB_SVC:
            reference = CLEANLAB_SVC[row["rate"]]
            note = ("" if row["kind"] == "symmetric"
                    else " (reference measured with symmetric noise)")
            checks.append(dict(where, target=f"RMD >= cleanlab CleanLearning+SVC {reference}{note}",
                               value=rmd, passed=rmd >= reference))
    return checks


def _fmt(pair, digits=3):
    return "n/a" if pair is None else f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"


def _gain(acc, baseline):
    if "rmd" not in acc or baseline not in acc:
        return "n/a"
    return f"{100 * (acc['rmd'][0] - acc[baseline][0]):+.1f} pts"


def markdown(results, args):
    env, methods = results["environment"], args.methods
    lines = [
        "# Classifier benchmark (generated by benchmarks/bench_classifier.py)",
        "",
        "Do not edit by hand: rerun the script." + (
            " **Smoke run (--quick): 2 epochs, numbers are meaningless.**" if args.quick else ""),
        "",
        f"Device {env['device']}{' (' + env['gpu'] + ')' if env['gpu'] else ''}, "
        f"{env['cpu_count']} CPUs, 1 thread; torch {env['torch']}, skorch {env['skorch']}, "
        f"scikit-learn {env['sklearn']}; commit {env['git_commit']}.",
        f"Digits, X/16, stratified 70/30 split per seed; seeds {args.seeds}; exact-count noise "
        "on the training part only; clean test labels.",
        "",
        "Methods: " + "; ".join(METHODS[m] for m in methods) + ".",
        "",
        "## Clean-test accuracy (mean ± std over seeds)",
        "",
        "| view | noise | " + " | ".join(methods)
        + " | D − A | D − C | teacher kNN | raw kNN |",
        "|---" * (len(methods) + 6) + "|",
    ]
    for row in results["summary"]:
        acc = row["accuracy"]
        lines.append(f"| {row['view']} | {row['noise']} | "
                     + " | ".join(_fmt(acc[m]) for m in methods)
                     + f" | {_gain(acc, 'skorch_ce')} | {_gain(acc, 'rmd_ce')}"
                     + f" | {_fmt(row['knn_teacher'])} | {_fmt(row['knn_raw'])} |")
    defaults = results["defaults"]
    lines += [
        "",
        "Teacher kNN: KNeighborsClassifier(10, metric='cosine') on the frozen teacher's "
        "embeddings, fit with the clean training labels; raw kNN: the same on X/16.",
        f"RMDClassifier defaults used: early_stopping={defaults.get('early_stopping', 'n/a')}, "
        f"max_epochs={defaults['max_epochs']}, pretrain_epochs={defaults['pretrain_epochs']}; "
        "A always trains all max_epochs on all training rows.",
        "",
        "## Fit time (seconds, mean; ratio to A in the same run, mean over runs)",
        "",
        "Epochs run, mean: stage 1 + stage 2.",
        "",
        "| view | noise | " + " | ".join(methods) + " |",
        "|---" * (len(methods) + 2) + "|",
    ]
    for row in results["summary"]:
        cells = []
        for m in methods:
            ratio = row["time_ratio"].get(m)
            pre, main = row["epochs"][m]
            cells.append(f"{row['fit_s'][m][0]:.1f} s" + (f" (×{ratio[0]:.2f})" if ratio else "")
                         + f", {pre:.0f}+{main:.0f} ep")
        lines.append(f"| {row['view']} | {row['noise']} | " + " | ".join(cells) + " |")
    if results["targets"]:
        lines += ["", "## Targets (D = full RMD, A = plain skorch CE)", "",
                  "| view | noise | target | measured | result |", "|---|---|---|---|---|"]
        for check in results["targets"]:
            value = check["value"]
            shown = (f"×{value:.2f}" if "time" in check["target"]
                     else f"{value:.3f}" if "cleanlab" in check["target"]
                     else f"{100 * value:+.1f} pts")
            lines.append(f"| {check['view']} | {check['noise']} | {check['target']} | {shown} | "
                         f"{'pass' if check['passed'] else '**fail**'} |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 seed, 2 epochs per stage")
    parser.add_argument("--views", nargs="+", choices=list(VIEWS), default=list(VIEWS))
    parser.add_argument("--noise", nargs="+", type=parse_noise,
                        default=[parse_noise(k) for k in ("sym20", "sym50", "pair40")],
                        help="symNN / pairNN (default: sym20 sym50 pair40)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="default 0 1 2 (0 with --quick)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--out", default=None,
                        help="output prefix for .json and .md (default "
                             "benchmarks/results/classifier, quick/classifier with --quick)")
    return fill_run_defaults(parser.parse_args(argv), "classifier")


if __name__ == "__main__":
    run(parse_args())
