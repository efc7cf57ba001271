"""Detector benchmark: NoisyLabelDetector against cleanlab's find_label_issues.

Protocol
--------
* Digits: scikit-learn's digits, ``X / 16``; per seed a stratified 70/30 split
  (``random_state=seed``); noise only on the 1257-row training part, which is
  what every detector sees. Noise from ``make_noisy_labels`` (exactly
  ``round(rate * n)`` rows flipped, ``random_state=seed``): symmetric 20% and
  40%, pair 40% (class c -> c + 1); seeds 0, 1, 2.
* Large synthetic: ``make_classification(n_samples=20000, n_features=20,
  n_informative=10, n_classes=5, n_clusters_per_class=2)``, standardised,
  symmetric 20% noise, one seed (time).
* Methods, each timed end to end on the noisy rows (probabilities + filter):

  ``ours``        ``NoisyLabelDetector(random_state=seed)``, every default
                  (3 folds, teacher trained 5 epochs, relation term off);
  ``ours_cv5``    the same with 5 folds and 10 teacher epochs: what the
                  slower setting buys;
  ``ours_relation``  ``ours`` with the relation setting
                  ``bench_detector_sweep.py`` chose on the generated kinds
                  (weight 1, ``label_trust=1`` with ``label_trust_self``,
                  ``relation_warmup=2``): what it buys or costs on these sets;
  ``ours_cv5_relation``  ``ours_cv5`` with that relation setting;
  ``ours_rwW``    ``ours`` with the network's ``relation_weight=W`` (1, 3, 10),
                  label trust 0.5 without ``label_trust_self`` and a 5-epoch
                  warm-up (the classifier's defaults of an earlier run);
  ``ours_rw1_trust1_warm2``  weight 1 with ``label_trust=1`` without
                  ``label_trust_self``, and ``relation_warmup=2``;
  ``cl_net``      cleanlab ``find_label_issues`` (default filter, n_jobs=1) on
                  5-fold out-of-fold probabilities (StratifiedKFold, shuffled)
                  of a plain skorch ``NeuralNetClassifier``: the default MLP
                  encoder plus a linear head, cross-entropy, AdamW, the same lr,
                  weight decay, batch size and epochs as the detector's default
                  network (``detector.DEFAULT_NETWORK``), ``train_split=None``;
  ``cl_svc``      the same filter on 5-fold OOF probabilities of
                  ``StandardScaler + SVC(probability=True)``.

* Reported per setting, mean over seeds: precision, recall, F1 of the flagged
  rows against the truly flipped ones, AUROC of the label-quality score (ours:
  ``label_quality_``; cleanlab: self-confidence of the OOF probabilities), the
  number flagged, seconds and the time ratio to ``cl_net``; for ours also
  the F1 of the count cut before the rule that never flags a row whose
  suggested label is its given label ("count only"): what that rule costs.
* Targets: F1 >= 0.96 at symmetric 20% and 40%, F1 >= ``cl_svc`` at pair 40%,
  time ratio to ``cl_net`` <= 1.
* One thread everywhere (``pin_threads``); one tiny warm-up fit per method
  first so that torch's start-up cost lands in no timing.

Run ``python benchmarks/bench_detector.py`` (several minutes on a CPU, the SVC
on 20 000 rows included) or ``--quick`` for a smoke run (1 seed, 2 epochs per
stage, 2 000 synthetic rows; written under ``benchmarks/results/quick/``).
"""

import argparse
import time
import warnings

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from skorch import NeuralNetClassifier  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_predict  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402
from torch import nn  # noqa: E402

from _common import (count_only_flags, digits_split, environment_info,  # noqa: E402
                     fill_run_defaults, write_results)
from sklearn_rmd import NoisyLabelDetector, RMDClassifier  # noqa: E402
from sklearn_rmd.detector import DEFAULT_NETWORK  # noqa: E402
from sklearn_rmd.metrics import detection_report  # noqa: E402
from sklearn_rmd.modules import make_encoder  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

#: The network's relation settings of each method that changes them.
SWEEP_CHOICE = dict(relation_weight=1.0, label_trust=1.0, label_trust_self=True,
                    relation_warmup=2)
EARLIER = dict(label_trust=0.5, label_trust_self=False, relation_warmup=5)
RELATION_VARIANTS = {
    "ours_relation": SWEEP_CHOICE,
    "ours_cv5_relation": SWEEP_CHOICE,
    "ours_rw1": dict(EARLIER, relation_weight=1.0),
    "ours_rw3": dict(EARLIER, relation_weight=3.0),
    "ours_rw10": dict(EARLIER, relation_weight=10.0),
    "ours_rw1_trust1_warm2": dict(relation_weight=1.0, label_trust=1.0, relation_warmup=2,
                                  label_trust_self=False),
}
METHODS = {
    "ours": "NoisyLabelDetector(), defaults",
    "ours_cv5": "NoisyLabelDetector(cv=5), network with pretrain_epochs=10",
    "ours_relation": "NoisyLabelDetector() with the relation term in the network as "
                     "bench_detector_sweep.py chose it (weight 1, label_trust=1, "
                     "label_trust_self=True, relation_warmup=2)",
    "ours_cv5_relation": "ours_cv5 with that relation setting",
    "ours_rw1": "NoisyLabelDetector() with relation_weight=1 in the network (label trust 0.5, "
                "5-epoch warm-up)",
    "ours_rw3": "NoisyLabelDetector() with relation_weight=3 in the network (label trust 0.5, "
                "5-epoch warm-up)",
    "ours_rw10": "NoisyLabelDetector() with relation_weight=10 in the network (label trust "
                 "0.5, 5-epoch warm-up)",
    "ours_rw1_trust1_warm2": "NoisyLabelDetector() with relation_weight=1, label_trust=1 "
                             "without label_trust_self, and relation_warmup=2 in the network",
    "cl_net": "cleanlab find_label_issues on 5-fold OOF of a plain skorch net (same network, epochs)",
    "cl_svc": "cleanlab find_label_issues on 5-fold OOF of StandardScaler + SVC(probability=True)",
}
SETTINGS = {  # key: (data, kind, rate)
    "digits_sym20": ("digits", "symmetric", 0.2),
    "digits_sym40": ("digits", "symmetric", 0.4),
    "digits_pair40": ("digits", "pair", 0.4),
    "synth20k_sym20": ("synthetic", "symmetric", 0.2),
}
F1_TARGET = 0.96
MAX_TIME_RATIO = 1.0


class EncoderHead(nn.Module):
    """The default RMD encoder plus a linear head: the network of ``cl_net``."""

    def __init__(self, n_features, n_classes, hidden_dims=None, embedding_dim=128, dropout=0.0):
        super().__init__()
        self.encoder = make_encoder(n_features, None, hidden_dims, embedding_dim, dropout)
        self.head = nn.Linear(self.encoder.out_dim, n_classes)

    def forward(self, x):
        return self.head(self.encoder(x))


def load(setting, seed, quick):
    data, kind, rate = SETTINGS[setting]
    if data == "digits":
        X, _, y, _ = digits_split(seed)
    else:
        n = 2000 if quick else 20000
        X, y = make_classification(n_samples=n, n_features=20, n_informative=10, n_classes=5,
                                   n_clusters_per_class=2, random_state=seed)
        X = StandardScaler().fit_transform(X).astype(np.float32)
    y_noisy, flipped = make_noisy_labels(y, rate, kind=kind, random_state=seed)
    return X.astype(np.float32), y_noisy.astype(np.int64), flipped


def network_params(quick):
    params = {**RMDClassifier().get_params(), **DEFAULT_NETWORK}
    if quick:
        params.update(pretrain_epochs=2, max_epochs=2)
    return params


def make_detector(seed, params, device, thorough=False, relation=None):
    net = RMDClassifier(**{k: params[k] for k in DEFAULT_NETWORK}, device=device)
    net.set_params(**(relation or {}))
    if not thorough:
        return NoisyLabelDetector(net, random_state=seed, device=device)
    net.set_params(pretrain_epochs=2 * params["pretrain_epochs"])
    return NoisyLabelDetector(net, cv=5, random_state=seed, device=device)


def skorch_net(n_features, n_classes, params, device):
    return NeuralNetClassifier(
        EncoderHead, module__n_features=n_features, module__n_classes=n_classes,
        module__hidden_dims=params["hidden_dims"], module__embedding_dim=params["embedding_dim"],
        module__dropout=params["dropout"], criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW, lr=params["lr"],
        optimizer__weight_decay=params["weight_decay"], batch_size=params["batch_size"],
        max_epochs=params["max_epochs"], train_split=None, iterator_train__shuffle=True,
        device=device, verbose=0,
    )


def oof_probabilities(model, X, y, seed):
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return cross_val_predict(model, X, y, cv=folds, method="predict_proba")


def run_method(method, X, y, seed, params, device):
    """Return (flagged, quality, seconds, count-only flags or None)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    torch.manual_seed(seed)
    start = time.perf_counter()
    if method.startswith("ours"):
        detector = make_detector(seed, params, device, thorough=method.startswith("ours_cv5"),
                                 relation=RELATION_VARIANTS.get(method))
        flagged = detector.fit_predict(X, y)
        seconds = time.perf_counter() - start
        return flagged, detector.label_quality_, seconds, count_only_flags(detector)
    if method == "cl_net":
        model = skorch_net(X.shape[1], len(np.unique(y)), params, device)
    else:
        model = make_pipeline(StandardScaler(), SVC(probability=True, random_state=seed))
    probs = oof_probabilities(model, X, y, seed)
    flagged = find_label_issues(y, probs, n_jobs=1)
    seconds = time.perf_counter() - start
    return flagged, get_label_quality_scores(y, probs), seconds, None


def warm_up(methods, params, device):
    X, y, _ = load("digits_sym20", 0, True)
    tiny = {**params, "pretrain_epochs": 1, "max_epochs": 1}
    for method in methods:
        if method != "cl_svc":
            run_method(method, X[:200], y[:200], 0, tiny, device)


def summarize(runs):
    summary = {}
    for setting in dict.fromkeys(r["setting"] for r in runs):
        rows = [r for r in runs if r["setting"] == setting]
        summary[setting] = {}
        for method in rows[0]["metrics"]:
            values = {key: [r["metrics"][method][key] for r in rows]
                      for key in ("precision", "recall", "f1", "auroc", "n_flagged", "seconds",
                                  "time_ratio", "f1_count_only")}
            summary[setting][method] = {
                key: dict(mean=float(np.mean(v)), std=float(np.std(v))) for key, v in values.items()
            }
    return summary


def check_targets(summary):
    targets = {}
    for setting in ("digits_sym20", "digits_sym40"):
        if setting in summary and "ours" in summary[setting]:
            f1 = summary[setting]["ours"]["f1"]["mean"]
            targets[f"{setting}: F1 >= {F1_TARGET}"] = dict(value=f1, met=f1 >= F1_TARGET)
    pair = summary.get("digits_pair40", {})
    if "ours" in pair and "cl_svc" in pair:
        ours, svc = pair["ours"]["f1"]["mean"], pair["cl_svc"]["f1"]["mean"]
        targets["digits_pair40: F1 >= cleanlab + SVC"] = dict(value=ours, reference=svc,
                                                             met=ours >= svc)
    for setting, methods in summary.items():
        if "ours" in methods and "cl_net" in methods:
            ratio = methods["ours"]["time_ratio"]["mean"]
            targets[f"{setting}: time ratio to cl_net <= {MAX_TIME_RATIO}"] = dict(
                value=ratio, met=ratio <= MAX_TIME_RATIO)
    return targets


def markdown(results):
    env = results["environment"]
    lines = [
        "# NoisyLabelDetector vs cleanlab find_label_issues",
        "",
        f"Device: {env['device']}" + (f" ({env['gpu']})" if env.get("gpu") else "")
        + f"; torch threads {env['torch_threads']}; commit {env['git_commit']}."
        + (" **Quick smoke run: 2 epochs per stage, not a result.**" if results["quick"] else ""),
        "",
        f"Network of ours and cl_net: {results['network']}.",
        f"Seeds: {results['seeds']}; large synthetic: {results['synthetic_note']}.",
        "",
        "| setting | method | precision | recall | F1 | F1 count only | AUROC | flagged | "
        "seconds | time / cl_net |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for setting, methods in results["summary"].items():
        for method, m in methods.items():
            lines.append(
                f"| {setting} | {method} | {m['precision']['mean']:.3f} | "
                f"{m['recall']['mean']:.3f} | {m['f1']['mean']:.3f} ± {m['f1']['std']:.3f} | "
                + ("" if np.isnan(m['f1_count_only']['mean'])
                   else f"{m['f1_count_only']['mean']:.3f}") + " | "
                f"{m['auroc']['mean']:.3f} | {m['n_flagged']['mean']:.0f} | "
                f"{m['seconds']['mean']:.1f} | {m['time_ratio']['mean']:.2f} |")
    lines += ["", "F1 count only (ours): the F1 of the lowest-quality rows, as many as the "
              "estimated number of wrong labels, before the rule that never flags a row "
              "whose suggested label is its given label; what that rule costs.",
              "", "Methods:", ""] + [f"* `{k}`: {v}" for k, v in METHODS.items()]
    lines += ["", "Targets:", ""]
    for name, target in results["targets"].items():
        ref = f" (reference {target['reference']:.3f})" if "reference" in target else ""
        lines.append(f"* {name}: {target['value']:.3f}{ref}: "
                     + ("met" if target["met"] else "**not met**"))
    return "\n".join(lines) + "\n"


def run(args):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    env = environment_info()
    print("environment:", env, flush=True)
    print(f"device: {device}", flush=True)
    params = network_params(args.quick)
    warnings.filterwarnings("ignore", category=FutureWarning)  # SVC(probability=True)
    warm_up(args.methods, params, device)
    runs = []
    for setting in args.settings:
        seeds = args.seeds if SETTINGS[setting][0] == "digits" else args.seeds[:1]
        for seed in seeds:
            X, y, flipped = load(setting, seed, args.quick)
            record = dict(setting=setting, seed=seed, n_rows=len(y), metrics={})
            for method in args.methods:
                if method == "cl_svc" and setting.startswith("synth") and args.skip_svc_large:
                    continue
                flagged, quality, seconds, count_only = run_method(method, X, y, seed,
                                                                   params, device)
                report = detection_report(flipped, flagged, quality)
                report["seconds"] = seconds
                report["f1_count_only"] = (float("nan") if count_only is None
                                           else detection_report(flipped, count_only)["f1"])
                record["metrics"][method] = report
            base = record["metrics"].get("cl_net", {}).get("seconds")
            for report in record["metrics"].values():
                report["time_ratio"] = report["seconds"] / base if base else float("nan")
            runs.append(record)
            print(f"{setting:15} seed {seed}: " + "  ".join(
                f"{m} F1 {r['f1']:.3f} AUROC {r['auroc']:.3f} ({r['seconds']:.1f}s)"
                for m, r in record["metrics"].items()), flush=True)
    summary = summarize(runs)
    results = dict(
        benchmark="detector", quick=args.quick, environment=env, device=device,
        network={k: params[k] for k in ("hidden_dims", "embedding_dim", "lr", "weight_decay",
                                        "batch_size", "pretrain_epochs", "max_epochs")},
        seeds=args.seeds,
        synthetic_note=("one seed, %d rows" % (2000 if args.quick else 20000))
        + (", SVC skipped" if args.skip_svc_large else ""),
        methods={m: METHODS[m] for m in args.methods}, runs=runs, summary=summary,
        targets=check_targets(summary),
    )
    write_results(args.out, results, markdown(results))
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 seed, 2 epochs per stage, 2 000 synthetic rows")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=None)
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="default 0 1 2 (0 with --quick)")
    parser.add_argument("--skip-svc-large", action="store_true",
                        help="leave the SVC out on the large synthetic problem")
    parser.add_argument("--out", default=None,
                        help="output prefix for .json and .md (default benchmarks/results/"
                             "detector, quick/detector with --quick)")
    args = fill_run_defaults(parser.parse_args(argv), "detector")
    if args.settings is None:
        args.settings = list(SETTINGS)
    return args


if __name__ == "__main__":
    run(parse_args())
