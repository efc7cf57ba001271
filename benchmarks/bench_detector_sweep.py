"""Sweep that chooses the relation settings of NoisyLabelDetector's default
network, on data no benchmark judges on.

Protocol
--------
* Data: the generated kinds of ``_data.py`` (tabular rows, signals with a 1-D
  CNN, 16x16 images with a 2-D CNN), drawn with seeds 100 and 101; the
  detector sees the training part (1260 rows). ``bench_detector.py`` judges on
  digits and a larger synthetic set.
* Noise on those rows, exact counts (``make_noisy_labels``): symmetric 20% and
  40%, pair 40%: the detector benchmark's settings.
* Each variant is ``NoisyLabelDetector(RMDClassifier(**DEFAULT_NETWORK,
  input_shape=..., **variant), random_state=seed)``: the default detector
  with the network's relation settings changed. The teacher is trained with
  the same seed in every variant, so it is the same teacher.
* Variants: the relation term off (the detector's default); on at weight 1
  without label trust; with the classifier's label trust (``label_trust=1``,
  ``label_trust_self=True``), after the classifier's 5-epoch warm-up and
  after a 2-epoch one; and label trust 1 without ``label_trust_self`` after
  the 2-epoch warm-up
  (``ours_rw1_trust1_warm2`` of ``bench_detector.py``, the best pair-noise row
  there). Each variant sets every relation setting it depends on, so it
  keeps its meaning when ``DEFAULT_NETWORK`` changes.
* Reported per variant: F1 of the flagged rows against the flipped ones, mean
  over every kind x noise cell (each the mean over seeds), its gain over the
  relation term off (mean and worst cell), F1 per noise, AUROC of
  ``label_quality_``, seconds as a ratio to the relation term off in the same
  cell, and the diagnostic "count only": the F1 of the lowest-quality rows, as
  many as the estimated number of wrong labels, before the rule that never
  flags a row whose suggested label is its given label. It shows what that
  rule costs.
* Rule, fixed before the run: the variant with the highest mean F1 over the
  cells is the detector's relation setting. results/detector_sweep.md chose
  ``w=1 trust self warm2``. Added after that run and before the detector
  benchmark's: the chosen setting must also keep every target of
  ``bench_detector.py`` that the setting before it met. It did not (the
  detector benchmark's commit e1ec0e8: on 20 000 synthetic rows it took 1.04
  times cleanlab's time on the same network, target at most 1.0), so the
  detector's network keeps the relation term off; ``bench_detector.py``
  measures the chosen setting as ``ours_relation``.

Run ``python benchmarks/bench_detector_sweep.py`` (about twelve minutes on
one CPU thread), ``--kinds`` and ``--out`` to shard it (then ``--combine`` the
shards' .json files), ``--quick`` for a smoke run.
"""

import time
import warnings

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402

from _common import (adopt_shard_protocol, count_only_flags,  # noqa: E402
                     environment_info, fill_sweep_defaults, load_shards, sweep_parser,
                     write_results)
from _data import splits  # noqa: E402
from sklearn_rmd import NoisyLabelDetector, RMDClassifier  # noqa: E402
from sklearn_rmd.detector import DEFAULT_NETWORK  # noqa: E402
from sklearn_rmd.metrics import detection_report  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

TRUST = dict(relation_weight=1.0, label_trust=1.0)
VARIANTS = {  # name: the network's relation settings
    "w=0": dict(relation_weight=0.0),
    "w=1": dict(relation_weight=1.0, label_trust=0.0, relation_warmup=5),
    "w=1 trust self": dict(TRUST, label_trust_self=True, relation_warmup=5),
    "w=1 trust self warm2": dict(TRUST, label_trust_self=True, relation_warmup=2),
    "w=1 trust warm2": dict(TRUST, label_trust_self=False, relation_warmup=2),
}
REFERENCE = "w=0"
METRICS = ("f1", "f1_count_only", "auroc", "time_ratio")


def fit_variant(X, y, flipped, input_shape, seed, params, quick):
    network = RMDClassifier(**{**DEFAULT_NETWORK, **params, **quick}, input_shape=input_shape)
    start = time.perf_counter()
    detector = NoisyLabelDetector(network, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flagged = detector.fit_predict(X, y)
    seconds = time.perf_counter() - start
    report = detection_report(flipped, flagged, detector.label_quality_)
    count_only = detection_report(flipped, count_only_flags(detector))
    return dict(f1=report["f1"], f1_count_only=count_only["f1"], auroc=report["auroc"],
                n_flagged=report["n_flagged"], seconds=seconds)


def run(args):
    if args.combine:
        env, runs, first = load_shards(args.combine)
        return write(adopt_shard_protocol(args, runs, first), env, runs)
    env = environment_info()
    print("environment:", env, flush=True)
    quick = dict(pretrain_epochs=2, max_epochs=2) if args.quick else {}
    runs, warm = [], set()
    for kind, seed, input_shape, (X_train, _, y_train, _) in splits(args.kinds, args.seeds):
        X = X_train.astype(np.float32)
        if kind not in warm:  # torch's start-up cost for this network lands in no timing
            warm.add(kind)
            for params in VARIANTS.values():
                fit_variant(X[:200], y_train[:200], np.zeros(200, bool), input_shape, seed,
                            params, dict(pretrain_epochs=1, max_epochs=1))
        for noise_key, noise_kind, rate in args.noise:
            y, flipped = make_noisy_labels(y_train, rate, kind=noise_kind, random_state=seed)
            record = dict(kind=kind, noise=noise_key, seed=seed, metrics={})
            for name, params in VARIANTS.items():
                record["metrics"][name] = fit_variant(X, y, flipped, input_shape, seed,
                                                      params, quick)
            base = record["metrics"][REFERENCE]["seconds"]
            for metrics in record["metrics"].values():
                metrics["time_ratio"] = metrics["seconds"] / base
            runs.append(record)
            print(f"{kind} {noise_key} seed {seed}: " + "  ".join(
                f"{k} {m['f1']:.3f}/{m['f1_count_only']:.3f}"
                for k, m in record["metrics"].items()), flush=True)
    return write(args, env, runs)


def cell_means(runs, name, key):
    """{(kind, noise): mean over seeds} of one variant's ``key``."""
    cells = {}
    for r in runs:
        cells.setdefault((r["kind"], r["noise"]), []).append(r["metrics"][name][key])
    return {cell: float(np.mean(values)) for cell, values in cells.items()}


def write(args, env, runs):
    summary = {}
    reference = cell_means(runs, REFERENCE, "f1")
    for name in VARIANTS:
        f1 = cell_means(runs, name, "f1")
        gains = [f1[cell] - reference[cell] for cell in f1]
        summary[name] = {key: float(np.mean(list(cell_means(runs, name, key).values())))
                         for key in METRICS}
        summary[name].update(gain=float(np.mean(gains)), worst=float(min(gains)))
    chosen = max(VARIANTS, key=lambda name: summary[name]["f1"])
    results = dict(benchmark="detector_sweep", quick=args.quick, environment=env,
                   protocol=dict(kinds=args.kinds, seeds=args.seeds,
                                 noise={k: [kind, rate] for k, kind, rate in args.noise},
                                 network=DEFAULT_NETWORK),
                   variants=VARIANTS, runs=runs, summary=summary, chosen=chosen)
    write_results(args.out, results, markdown(results))
    return results


def markdown(results):
    env, protocol = results["environment"], results["protocol"]
    names = list(results["variants"])
    noises = list(protocol["noise"])
    lines = [
        "# Detector relation sweep (generated by benchmarks/bench_detector_sweep.py)", "",
        "Do not edit by hand: rerun the script." + (
            " **Smoke run (--quick): numbers are meaningless.**" if results["quick"] else ""),
        "",
        f"Device {env['device']}, 1 thread; torch {env['torch']}, skorch {env['skorch']}; "
        f"commit {env['git_commit']}. Kinds {protocol['kinds']}, seeds {protocol['seeds']}, "
        f"noise {noises}. Network: `DEFAULT_NETWORK` {protocol['network']} with each "
        "variant's relation settings.", "",
        "Variants:", "",
    ] + [f"* `{name}`: {params}" for name, params in results["variants"].items()] + [
        "",
        "## Summary (means over kind x noise cells, each the mean over seeds)", "",
        "F1 gain over `w=0` in points: mean over cells and the worst cell. Count only: "
        "F1 of the estimated count of lowest-quality rows, before the rule that never "
        "flags a row whose suggested label is its given label.", "",
        "| variant | F1 | gain | worst cell | " + " | ".join(f"F1 {n}" for n in noises)
        + " | count only | AUROC | time / w=0 |",
        "|---" * (len(noises) + 7) + "|",
    ]
    for name in names:
        s = results["summary"][name]
        per_noise = [np.mean([r["metrics"][name]["f1"] for r in results["runs"]
                              if r["noise"] == noise]) for noise in noises]
        lines.append(
            f"| {name} | {s['f1']:.3f} | {100 * s['gain']:+.1f} | {100 * s['worst']:+.1f} | "
            + " | ".join(f"{v:.3f}" for v in per_noise)
            + f" | {s['f1_count_only']:.3f} | {s['auroc']:.3f} | {s['time_ratio']:.2f} |")
    lines += ["", f"Highest mean F1 (the rule): `{results['chosen']}`.", "",
              "## F1 per cell (mean over seeds; count only in brackets)", "",
              "| kind | noise | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    cells = {name: cell_means(results["runs"], name, "f1") for name in names}
    counts = {name: cell_means(results["runs"], name, "f1_count_only") for name in names}
    for cell in cells[names[0]]:
        lines.append(f"| {cell[0]} | {cell[1]} | " + " | ".join(
            f"{cells[n][cell]:.3f} ({counts[n][cell]:.3f})" for n in names) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = sweep_parser(__doc__, ("sym20", "sym40", "pair40"))
    return fill_sweep_defaults(parser.parse_args(argv), "detector_sweep")


if __name__ == "__main__":
    run(parse_args())
