"""Approximate (HNSW) against exact kNN graphs: time, recall and detection evidence.

Protocol
--------
* Data: the scaling benchmark's rows (``bench_scaling.make_data``:
  ``make_classification(N, 64, n_informative=32, 10 classes)``, 20% symmetric
  noise), data seed ``s``; N = 3e4, 1e5, 3e5. Seeds 0, 1, 2 up to
  ``--all-seeds-max-n`` rows (1e5), seed 0 above (the exact graphs at 3e5 rows
  take minutes each).
* Three spaces, each L2-normalised by ``knn_graph``:

  ``teacher``  the 128-d embeddings of a SimSiam teacher trained on the rows
               (``RMDClassifier(pretrain_epochs=4, random_state=s)``, the
               detector's teacher space);
  ``input``    the standardised 64 input columns (the detector's input space);
  ``random``   Gaussian (N, 128) rows: no structure, the worst case for an
               approximate index and the scaling benchmark's kNN input.

* For each: ``knn_graph(K=10)`` with ``backend='faiss'`` (exact) and
  ``backend='hnsw'`` (approximate), in the same process, on 2 threads
  (``KNN_THREADS``; the HNSW graph is built on one of them by design).
* Reported: seconds of each and their ratio (exact / HNSW, > 1: HNSW faster);
  recall (share of the exact K neighbours that HNSW returns, over all rows);
  for the teacher and input spaces, the AUROC of the neighbour evidence
  (``1 - p(given label)`` from ``neighbor_label_distribution``) for the
  flipped rows, exact and HNSW. Mean ± std over seeds.

Run ``python benchmarks/bench_knn_approx.py`` (about half an hour on 2 cores)
or ``--quick`` for a smoke run under ``benchmarks/results/quick/``.
"""

import argparse
import time

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from _common import RESULTS_DIR, environment_info, write_results  # noqa: E402
from bench_scaling import KNN_DIM, KNN_K, KNN_THREADS, make_data  # noqa: E402

SPACES = ("teacher", "input", "random")


def spaces(n, seed):
    """The rows of each space, the noisy labels and which labels were flipped."""
    import warnings

    from sklearn.preprocessing import StandardScaler

    from sklearn_rmd import SimSiamTeacher

    X, y_noisy, flipped = make_data(n, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        teacher = SimSiamTeacher(max_epochs=4, random_state=seed).fit(X)  # labels unused
    rows = dict(teacher=teacher.transform(X), input=StandardScaler().fit_transform(X),
                random=np.random.RandomState(seed).randn(n, KNN_DIM).astype(np.float32))
    return rows, y_noisy, flipped


def recall(approximate, exact):
    return float((approximate[:, :, None] == exact[:, None, :]).any(axis=2).mean())


def evidence_auroc(indices, similarities, y_noisy, flipped):
    from sklearn.metrics import roc_auc_score

    from sklearn_rmd.graph import neighbor_label_distribution

    probs = neighbor_label_distribution(indices, similarities, y_noisy, int(y_noisy.max()) + 1)
    return float(roc_auc_score(flipped, 1.0 - probs[np.arange(len(y_noisy)), y_noisy]))


def timed_graph(points, backend):
    from sklearn_rmd.graph import knn_graph

    start = time.perf_counter()
    indices, similarities = knn_graph(points, KNN_K, backend=backend)
    return time.perf_counter() - start, indices, similarities


def measure(n, seed):
    import faiss

    rows, y_noisy, flipped = spaces(n, seed)
    torch.set_num_threads(KNN_THREADS)
    faiss.omp_set_num_threads(KNN_THREADS)
    out = []
    for space in SPACES:
        exact_s, exact, exact_sim = timed_graph(rows[space], "faiss")
        hnsw_s, approx, approx_sim = timed_graph(rows[space], "hnsw")
        row = dict(n=n, seed=seed, space=space, exact_s=exact_s, hnsw_s=hnsw_s,
                   recall=recall(approx, exact))
        if space != "random":
            row["auroc_exact"] = evidence_auroc(exact, exact_sim, y_noisy, flipped)
            row["auroc_hnsw"] = evidence_auroc(approx, approx_sim, y_noisy, flipped)
        print(row, flush=True)
        out.append(row)
    torch.set_num_threads(1)
    return out


def summarize(runs):
    table = []
    for n in sorted({r["n"] for r in runs}):
        for space in SPACES:
            cell = [r for r in runs if r["n"] == n and r["space"] == space]
            if not cell:
                continue

            def stat(key):
                values = np.array([r[key] for r in cell if key in r], dtype=float)
                return (float(values.mean()), float(values.std())) if len(values) else None

            ratio = np.array([r["exact_s"] / r["hnsw_s"] for r in cell])
            table.append(dict(n=n, space=space, seeds=len(cell), exact_s=stat("exact_s"),
                              hnsw_s=stat("hnsw_s"),
                              speedup=(float(ratio.mean()), float(ratio.std())),
                              recall=stat("recall"), auroc_exact=stat("auroc_exact"),
                              auroc_hnsw=stat("auroc_hnsw")))
    return table


def markdown(results):
    env = results["environment"]

    def fmt(pair, digits):
        return "—" if pair is None else f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"

    lines = [
        "# Approximate against exact kNN graphs (generated by benchmarks/bench_knn_approx.py)",
        "",
        "Do not edit by hand: rerun the script.",
        "",
        f"Device cpu, {env['cpu_count']} CPUs, graphs on {KNN_THREADS} threads (the HNSW "
        f"graph is built on 1); torch {env['torch']}, faiss {results['faiss']}; commit "
        f"{env['git_commit']}.",
        f"K = {KNN_K}. Exact: `knn_graph(backend='faiss')`; approximate: "
        "`knn_graph(backend='hnsw')`. Mean ± std over data seeds (column `seeds`). "
        "Speed-up = exact seconds / HNSW seconds in the same process. AUROC: neighbour "
        "evidence against the flipped rows.",
        "",
        "| N | space | seeds | exact (s) | HNSW (s) | speed-up | recall | AUROC exact | "
        "AUROC HNSW |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["table"]:
        lines.append(
            f"| {row['n']} | {row['space']} | {row['seeds']} | {fmt(row['exact_s'], 2)} | "
            f"{fmt(row['hnsw_s'], 2)} | {fmt(row['speedup'], 2)} | {fmt(row['recall'], 3)} | "
            f"{fmt(row['auroc_exact'], 4)} | {fmt(row['auroc_hnsw'], 4)} |")
    return "\n".join(lines) + "\n"


def run(args):
    import faiss

    runs = []
    for n in args.sizes:
        seeds = args.seeds if n <= args.all_seeds_max_n else args.seeds[:1]
        for seed in seeds:
            runs.extend(measure(n, seed))
    results = dict(benchmark="knn_approx", environment=environment_info(),
                   faiss=faiss.__version__, k=KNN_K, threads=KNN_THREADS, runs=runs,
                   table=summarize(runs))
    write_results(args.out, results, markdown(results))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=lambda s: int(float(s)),
                        default=[30_000, 100_000, 300_000])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--all-seeds-max-n", type=lambda s: int(float(s)), default=100_000)
    parser.add_argument("--quick", action="store_true", help="2 000 and 5 000 rows, 2 seeds")
    parser.add_argument("--out", default="knn_approx")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.seeds = [2_000, 5_000], [0, 1]
        args.out = str(RESULTS_DIR / "quick" / "knn_approx")
    return args


if __name__ == "__main__":
    run(parse_args())
