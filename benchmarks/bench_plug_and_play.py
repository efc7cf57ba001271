"""Plug-and-play benchmark: each base method alone and with RMD, plus ablations
of the default (SCE + RMD).

Protocol
--------
* Data: digits as flat rows (MLP) and as ``input_shape=(1, 8, 8)`` images
  (CNN), X/16, stratified 70/30 split per seed; and one synthetic tabular
  problem (``make_classification``: 3000 rows, 20 features, 10 informative,
  5 classes, standardised), same split rule.
* Noise on the training part only (``make_noisy_labels``, exact counts):
  symmetric 20% and 50%, pair 40%. Seeds 0, 1, 2.
* Base methods CE, GCE, SCE, Co-teaching: "alone" is
  ``RMDClassifier(base_loss=b, relation_weight=0, init_from_teacher=False)``
  (no stage 1 at all); "+ teacher init" is ``RMDClassifier(base_loss=b,
  relation_weight=0)`` (the student starts at the teacher's weights, relation
  term off); "+RMD" is ``RMDClassifier(base_loss=b)`` with every other
  default. Co-teaching alone is given ``forget_rate`` = the true noise rate
  (it has no teacher to estimate one); with a teacher it estimates it.
* Ablations of the default, each a single switch away from "sce + RMD"
  (``base_loss='sce'`` is the default): the node term
  added, the node term instead of the edge term, relation weight 3, no
  label trust, no warm-up, K = 5 and 20, the student not initialised from the teacher, and
  augmented student views.
* Same network, optimiser and epochs everywhere (the estimator defaults,
  early stopping included). The stage-1 teacher depends only on X and the
  seed, so it is trained once per (data, seed) and shared by every "+RMD"
  variant (``RMDClassifier(teacher=fitted_teacher)``, as the detector shares
  its teacher) instead of being retrained 10 times.

Run ``python benchmarks/bench_plug_and_play.py``; ``--datasets`` and ``--out``
to shard it (then ``--combine`` the shards' .json files); ``--quick`` for a
smoke run. Writes ``benchmarks/results/plug_and_play.{json,md}``.
"""

import argparse
import warnings

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from _common import (digits_split, environment_info, fill_run_defaults,  # noqa: E402
                     load_shards, write_results)
from sklearn_rmd import RMDClassifier  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

DATASETS = {"digits-flat": None, "digits-cnn": (1, 8, 8), "synthetic": None}
NOISES = {"sym20": ("symmetric", 0.2), "sym50": ("symmetric", 0.5), "pair40": ("pair", 0.4)}
BASES = ("ce", "gce", "sce", "coteaching")
ABLATION_BASE = "sce"
ABLATIONS = {
    "edge and node terms": dict(node_weight=1.0),
    "node term only": dict(edge_weight=0.0, node_weight=1.0),
    "relation weight 3": dict(relation_weight=3.0),
    "no label trust": dict(label_trust=0.0),
    "no warm-up": dict(relation_warmup=0),
    "K = 5": dict(n_neighbors=5),
    "K = 20": dict(n_neighbors=20),
    "no teacher init": dict(init_from_teacher=False),
    "augmented student views": dict(student_augment=True),
}


def load(dataset, seed):
    if dataset != "synthetic":
        return digits_split(seed)
    X, y = make_classification(3000, 20, n_informative=10, n_classes=5, n_clusters_per_class=2,
                               class_sep=1.5, random_state=0)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)


def shared_teacher(X, input_shape, seed, overrides):
    """Stage 1 once: the teacher ``fit`` would build, with its seed, fitted on ``X``."""
    model = RMDClassifier(input_shape=input_shape, random_state=seed, **overrides)
    return model.build_teacher().fit(X)


def fit_score(params, X, y, X_test, y_test, seed, teacher=None):
    """Clean-test accuracy of ``RMDClassifier(**params)`` fit on noisy ``y``."""
    model = RMDClassifier(**params, random_state=seed, teacher=teacher).fit(X, y)
    return float(model.score(X_test, y_test))


def variants(rate):
    """(row name, params, uses the shared teacher) for every compared model."""
    rows = []
    for base in BASES:
        alone = dict(base_loss=base, relation_weight=0, init_from_teacher=False)
        if base == "coteaching":
            alone["forget_rate"] = rate
        rows.append((f"{base} alone", alone, False))
        rows.append((f"{base} + teacher init", dict(base_loss=base, relation_weight=0), True))
        rows.append((f"{base} + RMD", dict(base_loss=base), True))
    rows += [(f"{ABLATION_BASE}: {name}", dict(base_loss=ABLATION_BASE, **params), True)
             for name, params in ABLATIONS.items()]
    return rows


def run(args):
    if args.combine:
        env, records, first = load_shards(args.combine)
        args.datasets = list(dict.fromkeys(r["dataset"] for r in records))
        args.seeds, args.noise = first["seeds"], first["noise"]
        return write(args, env, records)
    env = environment_info()
    print("environment:", env, flush=True)
    overrides = dict(pretrain_epochs=2, max_epochs=2) if args.quick else {}
    records = []
    for dataset in args.datasets:
        shape = DATASETS[dataset]
        for seed in args.seeds:
            X_train, X_test, y_train, y_test = load(dataset, seed)
            teacher = shared_teacher(X_train, shape, seed, overrides)
            for noise in args.noise:
                kind, rate = NOISES[noise]
                y_noisy, _ = make_noisy_labels(y_train, rate, kind=kind, random_state=seed)
                for name, params, shares in variants(rate):
                    params = dict(params, input_shape=shape, **overrides)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", UserWarning)
                        accuracy = fit_score(params, X_train, y_noisy, X_test, y_test, seed,
                                             teacher if shares else None)
                    records.append(dict(dataset=dataset, noise=noise, seed=seed, row=name,
                                        accuracy=accuracy))
                print(f"{dataset} {noise} seed {seed}: "
                      + ", ".join(f"{r['row']} {r['accuracy']:.3f}" for r in records
                                  if (r["dataset"], r["noise"], r["seed"]) == (dataset, noise, seed)),
                      flush=True)
    return write(args, env, records)


def write(args, env, records):
    summary = summarize(records)
    write_results(args.out, dict(benchmark="plug_and_play", quick=args.quick,
                                 environment=env, seeds=args.seeds, noise=args.noise,
                                 runs=records, summary=summary), markdown(summary, env, args))


def summarize(records):
    """Mean and std of accuracy per (dataset, noise, row)."""
    groups = {}
    for r in records:
        groups.setdefault((r["dataset"], r["noise"], r["row"]), []).append(r["accuracy"])
    return [dict(dataset=d, noise=n, row=row, mean=float(np.mean(v)), std=float(np.std(v)),
                 n_seeds=len(v)) for (d, n, row), v in groups.items()]


def markdown(summary, env, args):
    cell = {(s["dataset"], s["noise"], s["row"]): s for s in summary}
    columns = [(d, n) for d in args.datasets for n in args.noise]
    rows = [name for name, _, _ in variants(0.5)]
    lines = [
        "# Plug-and-play benchmark (generated by benchmarks/bench_plug_and_play.py)",
        "",
        "Do not edit by hand: rerun the script."
        + (" **Smoke run (--quick): numbers are meaningless.**" if args.quick else ""),
        "",
        f"Device {env['device']}, 1 thread; torch {env['torch']}, skorch {env['skorch']}; "
        f"commit {env['git_commit']}. Seeds {args.seeds}. Clean-test accuracy, mean ± std.",
        "",
        "| method | " + " | ".join(f"{d} {n}" for d, n in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for row in rows:
        values = [cell.get((d, n, row)) for d, n in columns]
        lines.append(f"| {row} | " + " | ".join(
            "n/a" if v is None else f"{v['mean']:.3f} ± {v['std']:.3f}" for v in values) + " |")
    lines += ["", "## RMD gain over each base method alone (points)", "",
              "| base | " + " | ".join(f"{d} {n}" for d, n in columns) + " | mean | every row ≥ 0 |",
              "|---" * (len(columns) + 3) + "|"]
    sym50 = []
    for base in BASES:
        gains = []
        for d, n in columns:
            alone, plus = cell.get((d, n, f"{base} alone")), cell.get((d, n, f"{base} + RMD"))
            gains.append(None if alone is None or plus is None else 100 * (plus["mean"] - alone["mean"]))
            if n == "sym50" and gains[-1] is not None:
                sym50.append(gains[-1])
        known = [g for g in gains if g is not None]
        lines.append(f"| {base} | " + " | ".join("n/a" if g is None else f"{g:+.1f}" for g in gains)
                     + f" | {np.mean(known):+.1f} | {'yes' if min(known) >= 0 else '**no**'} |")
    if sym50:
        lines += ["", f"Mean gain at symmetric 50%: {np.mean(sym50):+.1f} points "
                      f"(target: at least +3; {'pass' if np.mean(sym50) >= 3 else '**fail**'})."]
    lines += ["", "## Relation term alone: + RMD over + teacher init (points)", "",
              "| base | " + " | ".join(f"{d} {n}" for d, n in columns) + " | mean | every row ≥ 0 |",
              "|---" * (len(columns) + 3) + "|"]
    for base in BASES:
        gains = []
        for d, n in columns:
            init, plus = cell.get((d, n, f"{base} + teacher init")), cell.get((d, n, f"{base} + RMD"))
            gains.append(None if init is None or plus is None else 100 * (plus["mean"] - init["mean"]))
        known = [g for g in gains if g is not None]
        lines.append(f"| {base} | " + " | ".join("n/a" if g is None else f"{g:+.1f}" for g in gains)
                     + f" | {np.mean(known):+.1f} | {'yes' if min(known) >= 0 else '**no**'} |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 2 epochs")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--noise", nargs="+", choices=list(NOISES), default=list(NOISES))
    parser.add_argument("--seeds", nargs="+", type=int, default=None)
    parser.add_argument("--combine", nargs="+", default=None, metavar="SHARD_JSON",
                        help="write the tables from the .json files of shards run with "
                             "--datasets")
    parser.add_argument("--out", default=None)
    return fill_run_defaults(parser.parse_args(argv), "plug_and_play")


if __name__ == "__main__":
    run(parse_args())
