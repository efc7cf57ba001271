"""Sweep that chooses RMDClassifier's stage-2 defaults, base loss, relation
weight and label trust, on data no benchmark judges on.

Protocol
--------
* Data: the generated kinds of ``_data.py`` (tabular rows, signals with a 1-D
  CNN, 16x16 images with a 2-D CNN), drawn with seeds 100 and 101: rows that
  ``bench_classifier.py`` (seeds 0-2) never sees. Digits are left out: the
  classifier benchmark judges on them.
* Noise on the training part only, exact counts (``make_noisy_labels``):
  symmetric 50% and pair 40%; clean test labels.
* One ``SimSiamTeacher(input_shape=..., random_state=seed)`` per kind and seed,
  fitted on the training rows (labels unused), shared by every variant
  through ``RMDClassifier(teacher=...)``: the variants differ in stage 2 only.
* ``--grid weight`` (results/relation_sweep.md): base loss x relation weight
  (0 = relation off, the teacher still initialises the student), label trust
  off, every other parameter at its default (early stopping on a 10% noisy
  hold-out included). Noise sym50 and pair40.
* ``--grid trust``: the default base loss at relation weight 1 with
  ``label_trust`` 0 (off), 0.5 and 1, and weight 3 with trust 1, without
  ``label_trust_self`` (it did not exist yet); noise sym20,
  sym50 and pair40. results/relation_sweep_trust.md ran when CE and 40
  teacher epochs were the defaults, results/relation_sweep_trust_sce.md
  (``--out``) at SCE and the 'auto' teacher epochs.
* ``--grid base`` (results/relation_sweep_base.md): each base loss (CE, GCE,
  SCE, Co-teaching) with the relation term off and at the defaults of the
  time (weight 1, label trust 0.5 without ``label_trust_self``); noise
  sym20, sym50 and pair40.
* ``--grid self`` (results/relation_sweep_self.md): the default estimator
  with the relation term off (weight 0) and on, with ``label_trust`` 0.5 and
  1 and ``label_trust_self`` off and on; clean labels (sym0), sym20, sym50
  and pair40, so that what trust costs on clean labels is in the table. It
  chose the defaults, trust 1 with ``label_trust_self``: the highest mean
  accuracy over every cell.
* ``--grid space`` (results/relation_sweep_space.md): the default estimator
  with the relation term off and with the teacher graph's neighbours searched
  in the teacher's embeddings, in those and the standardised input columns
  together (``neighbor_spaces=('teacher', 'input')``: mean cosine
  similarity), or in the input alone; noise sym0, sym20, sym50 and pair40.
  Also the kNN-10 accuracy of each space against the clean labels. Rule,
  fixed before the run: the default becomes the set of spaces with the
  highest mean accuracy over every cell.
* ``--grid mixture`` (results/relation_sweep_mixture.md): the default
  estimator (label trust 1 with ``label_trust_self``), the same with
  ``loss_mixture=True`` (the trust weight times the mixture's clean
  probability), and the mixture alone (``label_trust=0``); noise sym0, sym20,
  sym50 and pair40. Rule, fixed before the run: a variant replaces the
  default only with a higher mean accuracy over every cell and no kind x
  noise cell more than 1 point below it.
* ``--grid momentum`` (results/relation_sweep_momentum.md): the default
  estimator with the relation term off (weight 0), and with
  ``target_momentum`` 0 (the prediction table holds each row's latest
  prediction), 0.5, 0.7 and 0.9 (a temporal ensemble of its predictions);
  noise sym0, sym20, sym50 and pair40. Rule, fixed before the run: the
  momentum with the highest mean accuracy over every cell becomes the
  default if no kind x noise cell is more than 1 point below momentum 0;
  otherwise the default stays 0.
* The weight and base grids' result files ran with 40 teacher epochs, before
  ``pretrain_epochs='auto'`` became the default; a rerun trains longer
  teachers.
* Reported: clean-test accuracy per variant, mean over kinds, noises and
  seeds, and the worst cell's gain over the grid's reference variant (the
  same base loss with the relation term off; trust off).

Run ``python benchmarks/bench_relation_sweep.py --grid weight`` (about twenty
minutes on one CPU thread), ``--grid trust`` (about twenty) or ``--grid base``
(about fifty), ``--grid self`` (about thirty), ``--grid space`` and
``--grid mixture`` (about thirty each), ``--grid momentum`` (about forty),
``--kinds`` and
``--out`` to shard it (then ``--combine`` the shards' .json files), ``--quick``
for a smoke run.
"""

import itertools
import warnings

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402

from _common import (adopt_shard_protocol, environment_info,  # noqa: E402
                     fill_sweep_defaults, graph_space_accuracy, load_shards, mean_std,
                     parse_noise, sweep_parser, write_results)
from _data import splits  # noqa: E402
from sklearn_rmd import RMDClassifier, SimSiamTeacher  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

BASE_LOSSES = ("ce", "gce")
RELATION_WEIGHTS = (0.0, 1.0, 3.0, 10.0)
TRUST = ((1.0, 0.0), (1.0, 0.5), (1.0, 1.0), (3.0, 1.0))  # (relation weight, label trust)
SELF = ((0.5, False), (0.5, True), (1.0, False), (1.0, True))  # (label trust, label_trust_self)
ALL_BASE_LOSSES = ("ce", "gce", "sce", "coteaching")
SPACE_SETS = (("teacher",), ("teacher", "input"), ("input",))
MOMENTA = (0.0, 0.5, 0.7, 0.9)


def variants(grid):
    """(name, parameters, reference variant's name) of every stage-2 variant."""
    if grid == "weight":
        for base, weight in itertools.product(BASE_LOSSES, RELATION_WEIGHTS):
            yield (f"{base} w={weight:g}",
                   dict(base_loss=base, relation_weight=weight, label_trust=0.0),
                   f"{base} w=0")
    elif grid == "base":
        for base, weight in itertools.product(ALL_BASE_LOSSES, (0.0, 1.0)):
            yield (f"{base} w={weight:g}", dict(base_loss=base, relation_weight=weight,
                                                 label_trust=0.5, label_trust_self=False),
                   f"{base} w=0")
    elif grid == "self":
        yield "w=0", dict(relation_weight=0.0), "w=0"
        for trust, own in SELF:
            yield (f"trust={trust:g}" + (" self" if own else ""),
                   dict(label_trust=trust, label_trust_self=own), "w=0")
    elif grid == "mixture":
        yield "trust", {}, "trust"
        yield "trust x mixture", dict(loss_mixture=True), "trust"
        yield "mixture", dict(label_trust=0.0, loss_mixture=True), "trust"
    elif grid == "momentum":
        yield "w=0", dict(relation_weight=0.0), "w=0"
        for momentum in MOMENTA:
            yield f"m={momentum:g}", dict(target_momentum=momentum), "m=0"
    elif grid == "space":
        yield "w=0", dict(relation_weight=0.0), "w=0"
        for spaces in SPACE_SETS:
            yield "+".join(spaces), dict(neighbor_spaces=spaces), "w=0"
    else:
        for weight, trust in TRUST:
            yield (f"w={weight:g} trust={trust:g}",
                   dict(relation_weight=weight, label_trust=trust, label_trust_self=False),
                   "w=1 trust=0")


def run(args):
    if args.combine:
        env, runs, first = load_shards(args.combine)
        if first["protocol"]["grid"] != args.grid:
            raise SystemExit(f"the shards ran --grid {first['protocol']['grid']}")
        return write(adopt_shard_protocol(args, runs, first), env, runs)
    env = environment_info()
    print("environment:", env, flush=True)
    quick = dict(max_epochs=2) if args.quick else {}
    runs = []
    for kind, seed, input_shape, (X_train, X_test, y_train, y_test) in splits(args.kinds,
                                                                            args.seeds):
        teacher = SimSiamTeacher(input_shape=input_shape, random_state=seed,
                                 **quick).fit(X_train)
        knn = {"+".join(spaces): graph_space_accuracy(teacher, spaces, X_train, X_test,
                                                      y_train, y_test)
               for spaces in SPACE_SETS} if args.grid == "space" else None
        for noise_key, noise_kind, rate in args.noise:
            y_noisy, _ = make_noisy_labels(y_train, rate, kind=noise_kind,
                                           random_state=seed)
            record = dict(kind=kind, noise=noise_key, seed=seed, accuracy={})
            if knn is not None:
                record["knn"] = knn
            for name, params, _ in variants(args.grid):
                model = RMDClassifier(teacher=teacher, input_shape=input_shape,
                                      random_state=seed, **params, **quick)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(X_train, y_noisy)
                record["accuracy"][name] = float(model.score(X_test, y_test))
            runs.append(record)
            print(f"{kind} {noise_key} seed {seed}: " + "  ".join(
                f"{k} {v:.3f}" for k, v in record["accuracy"].items()), flush=True)
    return write(args, env, runs)


def write(args, env, runs):
    names = [name for name, _, _ in variants(args.grid)]
    summary = {name: mean_std([r["accuracy"][name] for r in runs]) for name in names}
    gains = {}
    for name, _, off in variants(args.grid):
        cells = {}
        for r in runs:
            cells.setdefault((r["kind"], r["noise"]), []).append(
                r["accuracy"][name] - r["accuracy"][off])
        gains[name] = dict(mean=float(np.mean([np.mean(v) for v in cells.values()])),
                           worst=float(min(np.mean(v) for v in cells.values())))
    results = dict(benchmark="relation_sweep", quick=args.quick, environment=env,
                   protocol=dict(grid=args.grid, kinds=args.kinds, seeds=args.seeds,
                                 noise={k: [kind, rate] for k, kind, rate in args.noise}),
                   runs=runs, summary=summary, gains=gains)
    write_results(args.out, results, markdown(results, names))
    return results


def markdown(results, names):
    env = results["environment"]
    lines = [
        "# Relation-term sweep (generated by benchmarks/bench_relation_sweep.py "
        f"--grid {results['protocol']['grid']})", "",
        "Do not edit by hand: rerun the script." + (
            " **Smoke run (--quick): numbers are meaningless.**" if results["quick"] else ""),
        "",
        f"Device {env['device']}, 1 thread; torch {env['torch']}, skorch {env['skorch']}; "
        f"commit {env['git_commit']}. Kinds {results['protocol']['kinds']}, seeds "
        f"{results['protocol']['seeds']}, noise {list(results['protocol']['noise'])}; "
        "one shared teacher per kind and seed.", "",
        "## Clean-test accuracy per cell", "",
        "| kind | noise | seed | " + " | ".join(names) + " |",
        "|---" * (len(names) + 3) + "|",
    ]
    for r in results["runs"]:
        lines.append(f"| {r['kind']} | {r['noise']} | {r['seed']} | "
                     + " | ".join(f"{r['accuracy'][n]:.3f}" for n in names) + " |")
    if "knn" in results["runs"][0]:
        spaces = list(results["runs"][0]["knn"])
        lines += ["", "## kNN-10 accuracy of each space (clean labels, mean ± std over "
                  "seeds)", "", "| kind | " + " | ".join(spaces) + " |",
                  "|---" * (len(spaces) + 1) + "|"]
        for kind in results["protocol"]["kinds"]:
            once = {r["seed"]: r["knn"] for r in results["runs"] if r["kind"] == kind}
            lines.append(f"| {kind} | " + " | ".join(
                "{:.3f} ± {:.3f}".format(*mean_std([v[s] for v in once.values()]))
                for s in spaces) + " |")
    lines += ["", "## Summary (mean ± std over all cells; gain over the grid's reference "
              "variant, in points (weight and base grids: the same base loss with the "
              "relation term off; trust grid: trust off; self and space grids: w=0; "
              "mixture grid: trust; momentum grid: m=0): mean over kind x noise cells, "
              "and the worst such cell)", "",
              "| variant | accuracy | gain | worst cell |", "|---|---|---|---|"]
    for n in names:
        acc, gain = results["summary"][n], results["gains"][n]
        lines.append(f"| {n} | {acc[0]:.3f} ± {acc[1]:.3f} | {100 * gain['mean']:+.1f} | "
                     f"{100 * gain['worst']:+.1f} |")
    noises = list(results["protocol"]["noise"])
    lines += ["", "## Mean accuracy per noise (over kinds and seeds)", "",
              "| variant | " + " | ".join(noises) + " |", "|---" * (len(noises) + 1) + "|"]
    for n in names:
        lines.append(f"| {n} | " + " | ".join(
            f"{np.mean([r['accuracy'][n] for r in results['runs'] if r['noise'] == k]):.3f}"
            for k in noises) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = sweep_parser(__doc__, None,
                          noise_help="default sym50 pair40 (weight grid), sym0 sym20 sym50 "
                                     "pair40 (self, space, mixture and momentum grids), sym20 "
                                     "sym50 pair40 (the others)")
    parser.add_argument("--grid", default="weight",
                        choices=("weight", "trust", "base", "self", "space", "mixture",
                                 "momentum"))
    args = parser.parse_args(argv)
    if args.noise is None:
        keys = {"weight": ("sym50", "pair40"),
                "self": ("sym0", "sym20", "sym50", "pair40"),
                "space": ("sym0", "sym20", "sym50", "pair40"),
                "mixture": ("sym0", "sym20", "sym50", "pair40"),
                "momentum": ("sym0", "sym20", "sym50", "pair40")}.get(
                    args.grid, ("sym20", "sym50", "pair40"))
        args.noise = [parse_noise(k) for k in keys]
    name = "relation_sweep" if args.grid == "weight" else f"relation_sweep_{args.grid}"
    return fill_sweep_defaults(args, name)


if __name__ == "__main__":
    run(parse_args())
