"""What the default estimator leaves on the table, and what gets it back:
forward loss correction with estimated and true noise matrices, the
detector's cleaning before the fit, and an oracle that trains on the
correctly labelled rows only.

Protocol
--------
* Data: the generated kinds of ``_data.py`` (tabular rows, signals with a 1-D
  CNN, 16x16 images with a 2-D CNN), seeds 100 and 101, as in
  ``bench_relation_sweep.py``: rows no judged benchmark draws.
* Noise on the training part only, exact counts (``make_noisy_labels``):
  sym20, sym50 and pair40; clean test labels.
* One ``SimSiamTeacher`` per kind and seed, shared by every variant through
  ``RMDClassifier(teacher=...)``.
* Variants, all ``RMDClassifier()`` at its defaults otherwise:

  - ``default``;
  - ``forward graph``, ``forward detector``, ``forward true``: the default
    base loss (SCE) on the noisy-label probabilities ``T p`` instead of the
    student's ``p`` (forward correction, Patrini et al., CVPR 2017), passed
    as a callable ``base_loss``. ``T[given, true]`` is estimated from the
    teacher's kNN graph (rows grouped by their neighbours' majority label;
    each group's given labels make a column), taken from
    ``NoisyLabelDetector(input_shape=...).fit(X, y).noise_matrix_``, or
    counted from the true labels (an oracle);
  - ``detector removes``, ``detector relabels``: the default estimator
    fitted on what that detector's ``fit_resample`` returns with
    ``action='remove'`` (the flagged rows dropped) or ``'relabel'`` (their
    labels replaced by the suggested ones): the two-step recipe of
    ``docs/detection.md``;
  - ``clean rows only``: the default estimator fitted on the rows whose
    given label is the true one (an oracle for sample selection: what a
    perfect filter would leave to learn from);
  - ``clean``: the default estimator on the true labels, the ceiling of the
    classifier benchmark's clean-gap target.
* Reported: clean-test accuracy per cell and variant, the mean per noise, the
  gap of each variant to ``clean`` per kind and noise against the
  classifier benchmark's targets (3 / 6 / 12 points at sym20 / sym50 /
  pair40), and the diagonal mean of each estimated ``T`` against the true one.

Run ``python benchmarks/bench_noise_correction.py`` (about fifty minutes on
one CPU thread), ``--kinds`` and ``--out`` to shard it (then ``--combine``
the shards' .json files), ``--quick`` for a smoke run.
"""

import warnings

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from _common import (adopt_shard_protocol, environment_info,  # noqa: E402
                     fill_sweep_defaults, load_shards, mean_std, sweep_parser,
                     write_results)
from _data import splits  # noqa: E402
from sklearn_rmd import NoisyLabelDetector, RMDClassifier, SimSiamTeacher  # noqa: E402
from sklearn_rmd.graph import neighbor_vote  # noqa: E402
from sklearn_rmd.losses import base_loss_function  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

VARIANTS = ("default", "forward graph", "forward detector", "forward true",
            "detector removes", "detector relabels", "clean rows only", "clean")
ESTIMATES = ("graph", "detector", "true")
GAP_TARGETS = {"sym20": 3.0, "sym50": 6.0, "pair40": 12.0}
BASE_LOSS = base_loss_function(RMDClassifier().base_loss)


class ForwardCorrected:
    """The default base loss on ``T p``, the probabilities of the given labels
    under the noise matrix ``T[given, true]``: the student's ``p`` is left to
    model the true class."""

    def __init__(self, noise_matrix):
        self.noise_matrix = noise_matrix

    def __call__(self, logits, y):
        transition = torch.as_tensor(self.noise_matrix.T, dtype=logits.dtype,
                                     device=logits.device)
        noisy = torch.softmax(logits, dim=-1) @ transition
        return BASE_LOSS(torch.log(noisy.clamp_min(1e-7)), y)


def columns_from_groups(groups, labels, n_classes):
    """``T[:, j]``: the share of each given label among the rows of group ``j``;
    an empty group keeps a unit column."""
    matrix = np.eye(n_classes)
    for j in range(n_classes):
        members = groups == j
        if members.any():
            matrix[:, j] = np.bincount(labels[members], minlength=n_classes) / members.sum()
    return matrix


def graph_estimate(teacher, X, labels, n_classes):
    """``T`` from the teacher's kNN graph (the default K): rows grouped by
    their neighbours' majority label."""
    votes = neighbor_vote(teacher.transform(X), labels, n_classes,
                          n_neighbors=RMDClassifier().n_neighbors)
    return columns_from_groups(votes.argmax(axis=1), labels, n_classes)


def run(args):
    if args.combine:
        env, runs, first = load_shards(args.combine)
        return write(adopt_shard_protocol(args, runs, first), env, runs)
    env = environment_info()
    print("environment:", env, flush=True)
    quick = dict(max_epochs=2) if args.quick else {}
    runs = []
    for kind, seed, input_shape, (X_train, X_test, y_train, y_test) in splits(args.kinds,
                                                                            args.seeds):
        n_classes = len(np.unique(y_train))
        teacher = SimSiamTeacher(input_shape=input_shape, random_state=seed,
                                 **quick).fit(X_train)

        def fit_score(X, labels, **params):
            model = RMDClassifier(teacher=teacher, input_shape=input_shape,
                                  random_state=seed, **params, **quick)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X, labels)
            return float(model.score(X_test, y_test))

        clean = fit_score(X_train, y_train)
        for noise_key, noise_kind, rate in args.noise:
            y_noisy, _ = make_noisy_labels(y_train, rate, kind=noise_kind, random_state=seed)
            detector = NoisyLabelDetector(input_shape=input_shape, random_state=seed)
            matrices = {
                "graph": graph_estimate(teacher, X_train, y_noisy, n_classes),
                "detector": detector.fit(X_train, y_noisy).noise_matrix_,
                "true": columns_from_groups(y_train, y_noisy, n_classes),
            }
            correct = y_noisy == y_train
            accuracy = {"default": fit_score(X_train, y_noisy)}
            for name in ESTIMATES:
                accuracy[f"forward {name}"] = fit_score(
                    X_train, y_noisy, base_loss=ForwardCorrected(matrices[name]))
            # fit_resample reuses the fit above (same data and parameters).
            for action in ("remove", "relabel"):
                accuracy[f"detector {action}s"] = fit_score(
                    *detector.fit_resample(X_train, y_noisy, action=action))
            accuracy["clean rows only"] = fit_score(X_train[correct], y_train[correct])
            accuracy["clean"] = clean
            record = dict(kind=kind, noise=noise_key, seed=seed, accuracy=accuracy,
                          diagonal={name: float(np.mean(np.diag(m)))
                                    for name, m in matrices.items()})
            runs.append(record)
            print(f"{kind} {noise_key} seed {seed}: " + "  ".join(
                f"{k} {v:.3f}" for k, v in accuracy.items()), flush=True)
    return write(args, env, runs)


def write(args, env, runs):
    noises = [key for key, _, _ in args.noise]
    per_noise = {v: {k: float(np.mean([r["accuracy"][v] for r in runs if r["noise"] == k]))
                     for k in noises} for v in VARIANTS}
    gaps = {}
    for r in runs:
        cell = gaps.setdefault(f"{r['kind']} {r['noise']}", {v: [] for v in VARIANTS[:-1]})
        for v in VARIANTS[:-1]:
            cell[v].append(100 * (r["accuracy"]["clean"] - r["accuracy"][v]))
    gaps = {cell: {v: float(np.mean(values)) for v, values in by_variant.items()}
            for cell, by_variant in gaps.items()}
    diagonal = {k: {name: mean_std([r["diagonal"][name] for r in runs if r["noise"] == k])
                    for name in ESTIMATES} for k in noises}
    results = dict(benchmark="noise_correction", quick=args.quick, environment=env,
                   protocol=dict(kinds=args.kinds, seeds=args.seeds,
                                 noise={k: [kind, rate] for k, kind, rate in args.noise}),
                   runs=runs, per_noise=per_noise, gaps=gaps, diagonal=diagonal)
    write_results(args.out, results, markdown(results, noises))
    return results


def markdown(results, noises):
    env = results["environment"]
    lines = [
        "# Noise correction and oracles (generated by benchmarks/bench_noise_correction.py)",
        "", "Do not edit by hand: rerun the script." + (
            " **Smoke run (--quick): numbers are meaningless.**" if results["quick"] else ""),
        "",
        f"Device {env['device']}, 1 thread; torch {env['torch']}, skorch {env['skorch']}; "
        f"commit {env['git_commit']}. Kinds {results['protocol']['kinds']}, seeds "
        f"{results['protocol']['seeds']}; one shared teacher per kind and seed. "
        "`forward true` and `clean rows only` are oracles: they read the true labels.", "",
        "## Mean clean-test accuracy per noise (over kinds and seeds)", "",
        "| variant | " + " | ".join(noises) + " | mean |", "|---" * (len(noises) + 2) + "|",
    ]
    for v in VARIANTS:
        values = [results["per_noise"][v][k] for k in noises]
        lines.append(f"| {v} | " + " | ".join(f"{a:.3f}" for a in values)
                     + f" | {np.mean(values):.3f} |")
    variants = VARIANTS[:-1]
    lines += ["", "## Gap to `clean` per kind and noise (points, mean over seeds; "
              "target 3 / 6 / 12 at sym20 / sym50 / pair40)", "",
              "| cell | target | " + " | ".join(variants) + " |",
              "|---" * (len(variants) + 2) + "|"]
    for cell, gap in results["gaps"].items():
        target = GAP_TARGETS.get(cell.split()[-1])
        lines.append(f"| {cell} | {target if target is not None else ''} | " + " | ".join(
            f"{gap[v]:.1f}" + ("" if target is None or gap[v] <= target else " ✗")
            for v in variants) + " |")
    lines += ["", "## Mean diagonal of each noise matrix (mean ± std over kinds and seeds)",
              "", "| noise | " + " | ".join(ESTIMATES) + " |",
              "|---" * (len(ESTIMATES) + 1) + "|"]
    for k in noises:
        lines.append(f"| {k} | " + " | ".join(
            "{:.2f} ± {:.2f}".format(*results["diagonal"][k][name]) for name in ESTIMATES)
            + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = sweep_parser(__doc__, ("sym20", "sym50", "pair40"))
    return fill_sweep_defaults(parser.parse_args(argv), "noise_correction")


if __name__ == "__main__":
    run(parse_args())
