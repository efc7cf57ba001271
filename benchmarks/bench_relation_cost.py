"""What the relation term costs per stage-2 training step.

Protocol
--------
* The stage-2 pieces of ``RMDClassifier`` with its defaults (encoder built by
  ``make_encoder`` for 64 input features, 10 classes, base loss, batch size,
  lr, weight decay, relation weights, K), a teacher kNN graph and feature table of
  10 000 rows, fused AdamW as in the estimator, float32, one CPU thread
  (``pin_threads``), or CUDA when present.
* One training step = forward, ``RelationDistillationLoss``, backward and the
  optimizer step, on a random batch of rows. Configurations: ``off``
  (``relation_weight=0``, the baseline), ``default`` (the estimator's
  defaults: the edge term over the teacher's graph, with label trust) and
  ``node`` (the defaults plus the node term, ``node_weight=1``); every step
  is one of an epoch after the warm-up, where the whole term applies.
* Each configuration is timed for ``--steps`` steps after a warm-up, in
  ``--rounds`` interleaved rounds so that a slow spell of a shared machine
  hits every configuration alike; per seed (network initialisation and
  batches) the median over rounds, then the mean over seeds 0, 1, 2.
* Reported: milliseconds per step and the ratio to the ``off`` step of the
  same run. Target: ``default`` at most 1.3 times ``off``.
"""

import argparse
import time

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from torch import nn  # noqa: E402

from _common import environment_info, write_results  # noqa: E402
from sklearn_rmd import RMDClassifier  # noqa: E402
from sklearn_rmd.graph import knn_graph  # noqa: E402
from sklearn_rmd.losses import RelationDistillationLoss, base_loss_function  # noqa: E402
from sklearn_rmd.modules import StudentNetwork, Students, make_encoder  # noqa: E402

N_ROWS, N_FEATURES, N_CLASSES = 10_000, 64, 10
DEFAULTS = RMDClassifier().get_params()
BATCH = DEFAULTS["batch_size"]
#: name -> parameters of the criterion over the defaults
CONFIGS = {"off": dict(relation_weight=0.0), "default": {}, "node": dict(node_weight=1.0)}
MAX_RATIO = 1.3


def default_network():
    """The student network ``RMDClassifier`` builds for these rows by default."""
    encoder = make_encoder(N_FEATURES, hidden_dims=DEFAULTS["hidden_dims"],
                           embedding_dim=DEFAULTS["embedding_dim"], dropout=DEFAULTS["dropout"])
    return StudentNetwork(encoder, encoder.out_dim, N_CLASSES)


def linear_layers(network):
    return [m for m in network.modules() if isinstance(m, nn.Linear)]


def make_step(config, seed, device):
    """One stage-2 training step of the default network with criterion ``config``."""
    torch.manual_seed(seed)
    network = default_network()
    embedding_dim = network.head.in_features
    students = Students([network]).to(device)
    teacher = torch.randn(N_ROWS, embedding_dim)
    graph = knn_graph(teacher, DEFAULTS["n_neighbors"], device=device)
    params = dict(relation_weight=DEFAULTS["relation_weight"],
                  edge_weight=DEFAULTS["edge_weight"], node_weight=DEFAULTS["node_weight"],
                  relation_dim=DEFAULTS["relation_dim"], label_trust=DEFAULTS["label_trust"],
                  trust_self=DEFAULTS["label_trust_self"],
                  warmup_epochs=DEFAULTS["relation_warmup"]) | CONFIGS[config]
    base = base_loss_function(DEFAULTS["base_loss"], DEFAULTS["gce_q"], DEFAULTS["sce_alpha"],
                              DEFAULTS["sce_beta"])
    criterion = RelationDistillationLoss(
        base, embedding_dim, N_CLASSES, graph=graph, teacher_features=teacher,
        teacher_dim=embedding_dim, **params).to(device)
    parameters = list(students.parameters()) + list(criterion.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=DEFAULTS["lr"],
                                  weight_decay=DEFAULTS["weight_decay"], fused=True)
    X = torch.randn(N_ROWS, N_FEATURES, device=device)
    y = torch.randint(0, N_CLASSES, (N_ROWS,), device=device)
    generator = torch.Generator(device=device).manual_seed(seed)

    def step():
        index = torch.randint(0, N_ROWS, (BATCH,), device=device, generator=generator)
        optimizer.zero_grad()
        logits, embeddings = students(X[index])
        # An epoch after the warm-up: the full term, with label trust.
        criterion(logits, embeddings, y[index], index=index,
                  epoch=DEFAULTS["relation_warmup"])["loss"].backward()
        optimizer.step()

    return step


def time_steps(step, n_steps, device):
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / n_steps * 1e3


def measure(seeds, rounds, n_steps, device):
    configs = list(CONFIGS)
    per_seed = {config: [] for config in configs}
    for seed in seeds:
        steps = {dim: make_step(dim, seed, device) for dim in configs}
        for step in steps.values():
            time_steps(step, 20, device)  # warm-up
        times = {dim: [] for dim in configs}
        for _ in range(rounds):
            for dim in configs:
                times[dim].append(time_steps(steps[dim], n_steps, device))
        for dim in configs:
            per_seed[dim].append(float(np.median(times[dim])))
    return per_seed


def markdown(results):
    env = results["environment"]
    lines = [
        "# Relation-term cost (generated by benchmarks/bench_relation_cost.py)",
        "",
        "Do not edit by hand: rerun the script.",
        "",
        f"Device {env['device']}{' (' + env['gpu'] + ')' if env['gpu'] else ''}, "
        f"{env['cpu_count']} CPUs, 1 thread; torch {env['torch']}; commit "
        f"{env['git_commit']}.",
        f"One stage-2 step of the default MLP ({results['widths']}), batch {BATCH}, "
        f"K = {DEFAULTS['n_neighbors']}, fused AdamW; seeds {results['seeds']}, median of "
        f"{results['rounds']} interleaved rounds of {results['steps']} steps per seed, "
        "mean over seeds.",
        "",
        "| configuration | criterion parameters | ms per step | ratio to off |",
        "|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(f"| {row['config']} | {CONFIGS[row['config']] or 'defaults'} | "
                     f"{row['ms']:.2f} ± {row['ms_std']:.2f} | {row['ratio']:.2f} |")
    ratio = next(r["ratio"] for r in results["rows"] if r["config"] == "default")
    lines += ["", f"Target: default step at most {MAX_RATIO}x the off step: {ratio:.2f}x, "
                  f"{'met' if ratio <= MAX_RATIO else '**not met**'}."]
    return "\n".join(lines) + "\n"


def run(args):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    env = environment_info()
    per_seed = measure(args.seeds, args.rounds, args.steps, device)
    base = np.array(per_seed["off"])
    layers = linear_layers(default_network())
    widths = " -> ".join(str(n) for n in [layers[0].in_features]
                         + [layer.out_features for layer in layers])
    rows = []
    for config, values in per_seed.items():
        values = np.array(values)
        rows.append(dict(config=config, ms=float(values.mean()), ms_std=float(values.std()),
                         ratio=float(np.mean(values / base))))
    results = dict(benchmark="relation_cost", environment=env, seeds=args.seeds,
                   rounds=args.rounds, steps=args.steps, batch_size=BATCH, widths=widths,
                   configs=CONFIGS, rows=rows, per_seed_ms=per_seed)
    write_results(args.out, results, markdown(results))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=50, help="steps per timed round")
    parser.add_argument("--out", default="relation_cost")
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(parse_args())
