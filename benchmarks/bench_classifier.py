"""Classifier benchmark: what each part of RMD buys under label noise, on every data kind.

Protocol
--------
* Data (``_data.py``): digits as flat rows (MLP) and as 8x8 images (2-D CNN),
  generated tabular rows (MLP), generated signals (1-D CNN) and generated
  16x16 images (2-D CNN); per seed a stratified 70/30 split.
* Noise only on the training part, exact counts (``make_noisy_labels``,
  ``random_state=seed``): symmetric 20% and 50%, pair 40% (class c -> c + 1).
  Test labels stay clean.
* Methods, all with the same default encoder, linear head, optimizer (AdamW),
  lr, weight decay, batch size and ``max_epochs``, read from
  ``RMDClassifier().get_params()``:

  A ``plain``     plain skorch ``NeuralNetClassifier``, cross-entropy, all epochs;
  C ``stopped``   ``RMDClassifier(relation_weight=0, init_from_teacher=False)``:
                  the same network with our early stopping, no teacher;
  B ``teacher``   ``RMDClassifier(relation_weight=0)``: C started at the
                  teacher's weights, relation term off;
  ``edge``        ``RMDClassifier(label_trust=0)``: B plus the edge term alone;
  D ``rmd``       ``RMDClassifier()``, every default (edge term and label trust);
  ``clean``       D fitted on the true training labels (its own ceiling);
  ``clean_edge``  ``edge`` fitted on the true training labels: what label
                  trust costs when no label is wrong.

  B, D and ``clean`` share one ``SimSiamTeacher`` per kind and seed (the one
  ``RMDClassifier`` builds by default, fitted once on the training rows,
  labels unused), passed through ``teacher=``.
* The paper's regime, on the sym50 cells: B and D without early stopping for
  all ``max_epochs``; the clean-test accuracy of the last epoch and of the
  best epoch (read each epoch by a callback, for reporting only).
* Also per kind and seed: the kNN accuracy (``KNeighborsClassifier(10,
  metric='cosine')``, clean training labels) of the teacher's embeddings and
  of the raw input rows.
* Targets (see ``TARGETS``) are checked against the strongest of A, B, C;
  the clean-label ceiling is the better of ``clean`` and ``clean_edge``.
* One thread per process (``pin_threads``); accuracy only (fit times: see
  ``bench_relation_cost.py``), so shards may run side by side: ``--kinds``
  with ``--out`` per shard, then ``--combine shard.json ...`` writes the table.

Run ``python benchmarks/bench_classifier.py`` (about an hour on one CPU
thread), or ``--quick`` for a smoke run (1 seed, 2 epochs per stage; written
under ``benchmarks/results/quick/``).
"""

import argparse
import warnings

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from skorch import NeuralNetClassifier  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402
from torch import nn  # noqa: E402

from _common import (environment_info, fill_run_defaults, knn_accuracy,  # noqa: E402
                     load_shards, mean_std, parse_noise, write_results)
from _data import KINDS, splits  # noqa: E402
from sklearn_rmd import RMDClassifier  # noqa: E402
from sklearn_rmd.modules import make_encoder  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

METHODS = {
    "plain": "A: plain skorch NeuralNetClassifier, cross-entropy, all epochs",
    "stopped": "C: RMDClassifier(relation_weight=0, init_from_teacher=False): "
               "early stopping, no teacher",
    "teacher": "B: RMDClassifier(relation_weight=0): C started at the teacher's weights",
    "edge": "RMDClassifier(label_trust=0): B plus the edge term, no label trust",
    "rmd": "D: RMDClassifier(), every default",
    "clean": "D fitted on the clean training labels",
    "clean_edge": "edge (no label trust) fitted on the clean training labels",
}
RMD_PARAMS = {"stopped": dict(relation_weight=0, init_from_teacher=False),
              "teacher": dict(relation_weight=0), "edge": dict(label_trust=0.0), "rmd": {},
              "clean": {}, "clean_edge": dict(label_trust=0.0)}
PAPER = {"teacher": dict(relation_weight=0, early_stopping=False),
         "rmd": dict(early_stopping=False)}
#: Largest gap (points) of D to its own clean-label accuracy, per noise.
CLEAN_GAP = {"sym20": 3.0, "sym50": 6.0, "pair40": 12.0}
TARGETS = [
    "D - B >= +2.0 points, mean over sym50 and pair40 cells; no such cell below -0.5",
    "paper regime (no early stopping): D - B >= +5 points at the last epoch, mean over sym50",
    "D within 3 / 6 / 12 points of its clean-label accuracy at sym20 / sym50 / pair40 "
    "(ceiling: the better of clean and clean_edge)",
    "teacher kNN accuracy >= raw kNN accuracy on the CNN views of images and signals",
    "D >= the strongest of A, B and C, mean over all cells",
]


class EncoderHead(nn.Module):
    """The default RMD encoder plus a linear head: the network of method A."""

    def __init__(self, n_features, n_classes, input_shape=None, hidden_dims=None,
                 embedding_dim=128, dropout=0.0):
        super().__init__()
        self.encoder = make_encoder(n_features, input_shape, hidden_dims, embedding_dim, dropout)
        self.head = nn.Linear(self.encoder.out_dim, n_classes)

    def forward(self, x):
        return self.head(self.encoder(x))


class EpochAccuracy(Callback):
    """Clean-test accuracy after every stage-2 epoch (reporting only)."""

    def __init__(self, X_test, y_test):
        self.X_test, self.y_test = X_test, y_test

    def initialize(self):
        self.accuracies_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        proba = net.predict_proba({"x": self.X_test})
        self.accuracies_.append(float(np.mean(proba.argmax(axis=1) == self.y_test)))


def plain_network(input_shape, n_features, n_classes, defaults, overrides):
    return NeuralNetClassifier(
        EncoderHead, module__n_features=n_features, module__n_classes=n_classes,
        module__input_shape=input_shape, module__hidden_dims=defaults["hidden_dims"],
        module__embedding_dim=defaults["embedding_dim"], module__dropout=defaults["dropout"],
        criterion=nn.CrossEntropyLoss, optimizer=torch.optim.AdamW, lr=defaults["lr"],
        optimizer__weight_decay=defaults["weight_decay"], batch_size=defaults["batch_size"],
        max_epochs=overrides.get("max_epochs", defaults["max_epochs"]),
        train_split=None, iterator_train__shuffle=True, device="cpu", verbose=0)


def fit_quietly(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. too few rows to early-stop in --quick
        return model.fit(X, y)


def run_kind(kind, args, defaults, overrides):
    runs = []
    for _, seed, input_shape, (X_train, X_test, y_train, y_test) in splits([kind], args.seeds):
        n_classes = len(np.unique(y_train))
        teacher = RMDClassifier(input_shape=input_shape, random_state=seed,
                                **overrides).build_teacher().fit(X_train)
        knn = dict(raw=knn_accuracy(X_train, y_train, X_test, y_test),
                   teacher=knn_accuracy(teacher.transform(X_train), y_train,
                                        teacher.transform(X_test), y_test))

        def rmd(params, labels, callbacks=None):
            model = RMDClassifier(input_shape=input_shape, random_state=seed, teacher=teacher,
                                  callbacks=callbacks, **params, **overrides)
            return fit_quietly(model, X_train, labels)

        clean = {method: float(rmd(RMD_PARAMS[method], y_train).score(X_test, y_test))
                 for method in ("clean", "clean_edge")}
        for noise_key, noise_kind, rate in args.noise:
            y_noisy, _ = make_noisy_labels(y_train, rate, kind=noise_kind, random_state=seed)
            record = dict(kind=kind, noise=noise_key, seed=seed, knn=knn, accuracy={})
            torch.manual_seed(seed)
            plain = plain_network(input_shape, X_train.shape[1], n_classes, defaults, overrides)
            record["accuracy"]["plain"] = float(fit_quietly(plain, X_train, y_noisy)
                                                .score(X_test, y_test))
            for method in ("stopped", "teacher", "edge", "rmd"):
                record["accuracy"][method] = float(rmd(RMD_PARAMS[method], y_noisy)
                                                   .score(X_test, y_test))
            record["accuracy"].update(clean)
            if noise_key == "sym50":
                record["paper"] = {}
                for method, params in PAPER.items():
                    recorder = EpochAccuracy(X_test, y_test)
                    rmd(params, y_noisy, callbacks=[recorder])
                    record["paper"][method] = dict(last=recorder.accuracies_[-1],
                                                   best=max(recorder.accuracies_))
            runs.append(record)
            print(f"{kind} {noise_key} seed {seed}: " + "  ".join(
                f"{m} {a:.3f}" for m, a in record["accuracy"].items())
                + (f"  paper {record['paper']}" if "paper" in record else ""), flush=True)
    return runs


def summarize(runs):
    cells = {}
    for r in runs:
        cells.setdefault((r["kind"], r["noise"]), []).append(r)
    rows = []
    for (kind, noise), group in cells.items():
        row = dict(kind=kind, noise=noise, n_seeds=len(group),
                   accuracy={m: mean_std([r["accuracy"][m] for r in group]) for m in METHODS},
                   knn_raw=mean_std([r["knn"]["raw"] for r in group]),
                   knn_teacher=mean_std([r["knn"]["teacher"] for r in group]))
        acc = {m: np.array([r["accuracy"][m] for r in group]) for m in METHODS}
        row["d_minus_b"] = float(100 * np.mean(acc["rmd"] - acc["teacher"]))
        row["edge_minus_b"] = float(100 * np.mean(acc["edge"] - acc["teacher"]))
        strongest = np.max([acc[m] for m in ("plain", "stopped", "teacher")], axis=0)
        row["d_minus_strongest"] = float(100 * np.mean(acc["rmd"] - strongest))
        # The ceiling is the better of the two clean-label fits, so that label
        # trust's cost on clean labels cannot shrink the gap.
        ceiling = np.maximum(acc["clean"], acc["clean_edge"])
        row["clean_gap"] = float(100 * np.mean(ceiling - acc["rmd"]))
        if all("paper" in r for r in group):
            row["paper"] = {m: {k: mean_std([r["paper"][m][k] for r in group])
                                for k in ("last", "best")} for m in PAPER}
            row["paper_d_minus_b_last"] = float(100 * np.mean(
                [r["paper"]["rmd"]["last"] - r["paper"]["teacher"]["last"] for r in group]))
        rows.append(row)
    return rows


#: (label, later method, earlier method) of each step in "what each part buys".
STEPS = [
    ("early stopping on a noisy hold-out, and SCE for CE (C over plain skorch A)", "stopped",
     "plain"),
    ("starting from the teacher's weights (B over C)", "teacher", "stopped"),
    ("the edge term, no label trust (edge over B)", "edge", "teacher"),
    ("label trust on top of the edge term (D over edge)", "rmd", "edge"),
    ("the relation term with its label trust (default D over B)", "rmd", "teacher"),
    ("all of it (D over A)", "rmd", "plain"),
]


def step_gains(rows):
    """Per step: mean, worst and best cell gain (points) over the sym50 and pair40 cells."""
    hard = [r for r in rows if r["noise"] in ("sym50", "pair40")]
    gains = []
    for label, later, earlier in STEPS:
        cells = [100 * (r["accuracy"][later][0] - r["accuracy"][earlier][0]) for r in hard]
        if cells:
            gains.append(dict(step=label, mean=float(np.mean(cells)),
                              worst=float(min(cells)), best=float(max(cells))))
    return gains


def check_targets(rows):
    hard = [r for r in rows if r["noise"] in ("sym50", "pair40")]
    paper = [r for r in rows if "paper" in r]
    cnn = {}
    for r in rows:
        if r["kind"] in ("signal_cnn", "image_cnn", "digits_cnn"):
            cnn[r["kind"]] = r["knn_teacher"][0] - r["knn_raw"][0]
    checks = []
    if hard:
        mean = float(np.mean([r["d_minus_b"] for r in hard]))
        worst = float(min(r["d_minus_b"] for r in hard))
        checks.append(dict(target=TARGETS[0], value=f"mean {mean:+.1f}, worst {worst:+.1f}",
                           passed=mean >= 2.0 and worst >= -0.5))
    if paper:
        mean = float(np.mean([r["paper_d_minus_b_last"] for r in paper]))
        checks.append(dict(target=TARGETS[1], value=f"mean {mean:+.1f}", passed=mean >= 5.0))
    gaps = [(r["kind"], r["noise"], r["clean_gap"]) for r in rows if r["noise"] in CLEAN_GAP]
    failing = [f"{k} {n} {g:.1f}" for k, n, g in gaps if g > CLEAN_GAP[n]]
    checks.append(dict(target=TARGETS[2], value="failing: " + (", ".join(failing) or "none"),
                       passed=not failing))
    checks.append(dict(target=TARGETS[3], value=", ".join(
        f"{k} {100 * v:+.1f}" for k, v in cnn.items()) or "no CNN kind run",
        passed=bool(cnn) and all(v >= 0 for v in cnn.values())))
    mean = float(np.mean([r["d_minus_strongest"] for r in rows]))
    checks.append(dict(target=TARGETS[4], value=f"mean {mean:+.1f}", passed=mean >= 0))
    return checks


def _fmt(pair):
    return "n/a" if pair is None else f"{pair[0]:.3f} ± {pair[1]:.3f}"


def markdown(results):
    env, rows = results["environment"], results["summary"]
    lines = [
        "# Classifier benchmark (generated by benchmarks/bench_classifier.py)", "",
        "Do not edit by hand: rerun the script." + (
            " **Smoke run (--quick): 2 epochs, numbers are meaningless.**"
            if results["quick"] else ""), "",
        f"Device {env['device']}, 1 thread per process; torch {env['torch']}, skorch "
        f"{env['skorch']}, scikit-learn {env['sklearn']}; commit {env['git_commit']}.",
        f"Seeds {results['seeds']}; exact-count noise on the training part only; clean "
        "test labels.", "",
        "Methods: " + "; ".join(f"`{m}` {d}" for m, d in METHODS.items()) + ".", "",
        "## Clean-test accuracy (mean ± std over seeds)", "",
        "| kind | noise | " + " | ".join(METHODS) + " | edge − B | D − B "
        "| D − strongest of A, B, C | clean ceiling − D |",
        "|---" * (len(METHODS) + 6) + "|",
    ]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['noise']} | "
                     + " | ".join(_fmt(r["accuracy"][m]) for m in METHODS)
                     + f" | {r['edge_minus_b']:+.1f} | {r['d_minus_b']:+.1f} "
                       f"| {r['d_minus_strongest']:+.1f} "
                       f"| {r['clean_gap']:.1f} |")
    lines += ["", "## What each part buys (points, over the sym50 and pair40 cells)", "",
              "| step | mean | worst cell | best cell |", "|---|---|---|---|"]
    for g in results["steps"]:
        lines.append(f"| {g['step']} | {g['mean']:+.1f} | {g['worst']:+.1f} | {g['best']:+.1f} |")
    lines += ["", "## The paper's regime: no early stopping, all epochs (sym50)", "",
              "| kind | B last | B best | D last | D best | D − B (last) |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        if "paper" in r:
            p = r["paper"]
            lines.append(f"| {r['kind']} | {_fmt(p['teacher']['last'])} | "
                         f"{_fmt(p['teacher']['best'])} | {_fmt(p['rmd']['last'])} | "
                         f"{_fmt(p['rmd']['best'])} | {r['paper_d_minus_b_last']:+.1f} |")
    lines += ["", "## Teacher: kNN accuracy of its embeddings against the raw input", "",
              "| kind | teacher kNN | raw kNN |", "|---|---|---|"]
    for kind in dict.fromkeys(r["kind"] for r in rows):
        r = next(r for r in rows if r["kind"] == kind)
        lines.append(f"| {kind} | {_fmt(r['knn_teacher'])} | {_fmt(r['knn_raw'])} |")
    lines += ["", "## Targets", "", "| target | measured | result |", "|---|---|---|"]
    for check in results["targets"]:
        lines.append(f"| {check['target']} | {check['value']} | "
                     f"{'met' if check['passed'] else '**not met**'} |")
    return "\n".join(lines) + "\n"


def write(args, runs, env, defaults, overrides):
    summary = summarize(runs)
    results = dict(benchmark="classifier", quick=args.quick, environment=env,
                   seeds=sorted({r["seed"] for r in runs}), methods=METHODS,
                   defaults=defaults, overrides=overrides, runs=runs, summary=summary,
                   steps=step_gains(summary), targets=check_targets(summary))
    write_results(args.out, results, markdown(results))


def run(args):
    defaults = RMDClassifier().get_params()
    overrides = dict(pretrain_epochs=2, max_epochs=2) if args.quick else {}
    env = environment_info()
    print("environment:", env, flush=True)
    if args.combine:
        env, runs, first = load_shards(args.combine)
        return write(args, runs, env, first["defaults"], first["overrides"])
    runs = [r for kind in args.kinds for r in run_kind(kind, args, defaults, overrides)]
    return write(args, runs, env, defaults, overrides)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 seed, 2 epochs per stage")
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(KINDS))
    parser.add_argument("--noise", nargs="+", type=parse_noise,
                        default=[parse_noise(k) for k in ("sym20", "sym50", "pair40")],
                        help="symNN / pairNN (default: sym20 sym50 pair40)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="default 0 1 2 (0 with --quick)")
    parser.add_argument("--combine", nargs="+", default=None, metavar="SHARD_JSON",
                        help="write the table from the .json files of shards run with --kinds")
    parser.add_argument("--out", default=None,
                        help="output prefix for .json and .md (default "
                             "benchmarks/results/classifier, quick/classifier with --quick)")
    return fill_run_defaults(parser.parse_args(argv), "classifier")


if __name__ == "__main__":
    run(parse_args())
