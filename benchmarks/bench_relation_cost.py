"""What the relation term costs per stage-2 training step, against relation_dim.

Protocol
--------
* The stage-2 pieces of ``RMDClassifier`` with its defaults (encoder built by
  ``make_encoder`` for 64 input features, 10 classes, batch size, lr, weight
  decay, relation weight), a precomputed teacher table of 10 000 rows, fused
  AdamW as in the estimator, float32, one CPU thread (``pin_threads``), or
  CUDA when present.
* One training step = forward, ``RelationDistillationLoss``, backward and the
  optimizer step, on a random batch of rows. Configurations: cross-entropy
  alone (``relation_weight=0``, the baseline) and the relation term with
  ``relation_dim`` in 16, 32, 64, 128 (default), 256.
* Each configuration is timed for ``--steps`` steps after a warm-up, in
  ``--rounds`` interleaved rounds so that a slow spell of a shared machine
  hits every configuration alike; per seed (network initialisation and
  batches) the median over rounds, then the mean over seeds 0, 1, 2.
* Reported: milliseconds per step, the ratio to the cross-entropy step of the
  same run, and the multiply-adds per step of the network and of the relation
  term (forward and backward, matrix products only), whose ratio is the floor
  of the step-time ratio when matrix products run at one speed.
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
from sklearn_rmd.losses import cross_entropy  # noqa: E402
from sklearn_rmd.modules import StudentNetwork, Students, make_encoder  # noqa: E402
from sklearn_rmd.nets import RelationDistillationLoss  # noqa: E402

N_ROWS, N_FEATURES, N_CLASSES = 10_000, 64, 10
DEFAULTS = RMDClassifier().get_params()
BATCH = DEFAULTS["batch_size"]
DIMS = (16, 32, 64, 128, 256)


def default_network():
    """The student network ``RMDClassifier`` builds for these rows by default."""
    encoder = make_encoder(N_FEATURES, hidden_dims=DEFAULTS["hidden_dims"],
                           embedding_dim=DEFAULTS["embedding_dim"], dropout=DEFAULTS["dropout"])
    return StudentNetwork(encoder, encoder.out_dim, N_CLASSES)


def linear_layers(network):
    return [m for m in network.modules() if isinstance(m, nn.Linear)]


def network_macs(network, batch=BATCH):
    """Multiply-adds of one forward and backward pass of ``network``'s linear layers."""
    layers = linear_layers(network)
    forward = batch * sum(layer.in_features * layer.out_features for layer in layers)
    # Backward: weight and input gradients, minus the input gradient of layer 1.
    return 3 * forward - batch * layers[0].in_features * layers[0].out_features


def relation_macs(dim, embedding_dim, batch=BATCH):
    """Multiply-adds of the node layers and the three relation products, forward
    and backward (the teacher side needs no input gradient; the teacher table
    has the student's embedding size)."""
    nodes = batch * dim * 5 * embedding_dim
    products = 9 * batch * batch * dim  # 3 products, each 1 forward + 2 backward
    return nodes + products


def make_step(dim, seed, device):
    """One stage-2 training step of the default network; ``dim=None``: CE alone."""
    torch.manual_seed(seed)
    network = default_network()
    embedding_dim = network.head.in_features
    students = Students([network]).to(device)
    teacher = torch.randn(N_ROWS, embedding_dim, device=device)
    criterion = RelationDistillationLoss(
        cross_entropy, embedding_dim, teacher_features=teacher, teacher_dim=embedding_dim,
        relation_dim=dim or 8, relation_weight=DEFAULTS["relation_weight"] if dim else 0.0,
        node_weight=DEFAULTS["node_weight"], edge_weight=DEFAULTS["edge_weight"]).to(device)
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
        criterion(logits, embeddings, y[index], index=index)["loss"].backward()
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
    configs = [None, *DIMS]
    per_seed = {dim: [] for dim in configs}
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
    rows = results["rows"]
    lines = [
        "# Relation-term cost (generated by benchmarks/bench_relation_cost.py)",
        "",
        "Do not edit by hand: rerun the script.",
        "",
        f"Device {env['device']}{' (' + env['gpu'] + ')' if env['gpu'] else ''}, "
        f"{env['cpu_count']} CPUs, 1 thread; torch {env['torch']}; commit "
        f"{env['git_commit']}.",
        f"One stage-2 step of the default MLP ({results['widths']}), batch {BATCH}, "
        f"fused AdamW; seeds {results['seeds']}, median of {results['rounds']} interleaved "
        f"rounds of {results['steps']} steps per seed, mean over seeds.",
        "",
        "| relation_dim | ms per step | ratio to CE step | relation / network "
        "multiply-adds |",
        "|---|---|---|---|",
    ]
    for row in rows:
        name = "CE alone" if row["relation_dim"] is None else str(row["relation_dim"])
        macs = "—" if row["macs_ratio"] is None else f"{row['macs_ratio']:.2f}"
        lines.append(f"| {name} | {row['ms']:.2f} ± {row['ms_std']:.2f} | "
                     f"{row['ratio']:.2f} | {macs} |")
    lines += ["", f"Network: {results['network_macs'] / 1e6:.1f} M multiply-adds per step "
                  "(forward and backward)."]
    return "\n".join(lines) + "\n"


def run(args):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    env = environment_info()
    per_seed = measure(args.seeds, args.rounds, args.steps, device)
    base = np.array(per_seed[None])
    network = default_network()
    macs = network_macs(network)
    layers = linear_layers(network)
    widths = " -> ".join(str(n) for n in [layers[0].in_features]
                         + [layer.out_features for layer in layers])
    rows = []
    for dim, values in per_seed.items():
        values = np.array(values)
        rows.append(dict(relation_dim=dim, ms=float(values.mean()), ms_std=float(values.std()),
                         ratio=float(np.mean(values / base)),
                         macs_ratio=None if dim is None
                         else relation_macs(dim, network.head.in_features) / macs))
    results = dict(benchmark="relation_cost", environment=env, seeds=args.seeds,
                   rounds=args.rounds, steps=args.steps, batch_size=BATCH, widths=widths,
                   network_macs=macs,
                   rows=rows,
                   per_seed_ms={str(k): v for k, v in per_seed.items()})
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
