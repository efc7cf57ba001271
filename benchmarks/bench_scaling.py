"""Scaling benchmark: fit time and peak memory against the number of rows.

Protocol
--------
* Data: ``make_classification(N, 64, n_informative=32, n_redundant=0,
  n_classes=10, random_state=0)`` as float32, 20% symmetric noise from
  ``make_noisy_labels(random_state=0)``; N = 1e4, 3e4, 1e5, 3e5
  (``--quick``: 1e3, 3e3; ``--sizes`` to choose).
* Fixed, small epochs, no early stopping: ``pretrain_epochs=2, max_epochs=3,
  early_stopping=False`` (``--epochs 4 10`` keeps the defaults' 40:100 ratio of
  stage-1 to stage-2 epochs, which the whole-fit ratio depends on). Methods:

  ``plain``     plain skorch ``NeuralNetClassifier``: the default RMD encoder
                plus a linear head, cross-entropy, AdamW, the same lr, weight
                decay, batch size and ``max_epochs`` (skorch's DataLoader);
  ``rmd_ce``    ``RMDClassifier(base_loss='ce', relation_weight=0,
                init_from_teacher=False)``:
                the same network and CE through our on-device loader, no
                teacher (the epoch-time baseline);
  ``rmd``       ``RMDClassifier`` with every other default (stage 1 + stage 2);
  ``rmd_dim32`` ``RMDClassifier(relation_dim=32)``: the relation term's cost
                with a smaller node space (opt in with ``--methods``);
  ``detector``  ``NoisyLabelDetector(mode='single')`` around
                ``RMDClassifier(base_loss='ce', pretrain_epochs=2, max_epochs=3,
                relation_weight=0, early_stopping=False)``: teacher, one fit,
                kNN evidence in the input and teacher spaces.
  ``knn_torch`` / ``knn_faiss``  ``graph.knn_graph`` alone on random
                (N, 128) float32 rows, K = 10, with 2 threads (FAISS only
                when installed).

* Every measurement runs in a fresh subprocess (``--worker``): one thread
  (``pin_threads``; 2 for the kNN graph), a tiny warm-up of the same method
  first, then the timed call; with ``--repeats R`` the fastest of R
  processes. Memory: the process's peak resident set
  (``resource.getrusage(...).ru_maxrss``) minus its resident set just before
  the timed call ("extra"), and, on CUDA, ``torch.cuda.max_memory_allocated``.
* Reported: seconds and extra MB per method and N; the stage-2 epoch time of
  ``rmd`` over that of ``rmd_ce`` (median epoch ``dur`` of the histories); the
  fit time of ``rmd`` over ``plain``; the least-squares slope of log(time)
  against log(N) per method. On CUDA also samples per second per stage and the
  bf16 speed-up of ``rmd`` (float32 in a second run, ``SKLEARN_RMD_BF16=0``).
* Targets: kNN graph for N = 1e5 in <= 20 s with <= 300 MB extra (fastest
  backend); stage-2 epoch <= 1.15x a CE epoch; whole fit <= 2.5x plain at
  equal max_epochs, checked only at the defaults' 40:100 epoch ratio
  (``--epochs 4 10``); exponent <= 1.1 for ``rmd`` and ``detector``.

Run ``python benchmarks/bench_scaling.py`` (long on a CPU: the exact kNN graphs
at 3e5 rows take minutes) or ``--quick`` for a smoke run (written under
``benchmarks/results/quick/``). A log-log plot goes to ``scaling.png`` next to
``scaling.json`` / ``scaling.md`` when matplotlib is installed.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

from _common import pin_threads

pin_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from _common import RESULTS_DIR, environment_info, write_results  # noqa: E402

FULL_SIZES = [10_000, 30_000, 100_000, 300_000]
QUICK_SIZES = [1_000, 3_000]
N_FEATURES, N_CLASSES, NOISE = 64, 10, 0.2
KNN_DIM, KNN_K, KNN_THREADS = 128, 10, 2
EPOCHS = dict(pretrain_epochs=2, max_epochs=3, early_stopping=False)
FIT_METHODS = ("plain", "rmd_ce", "rmd", "detector", "rmd_dim32")
DEFAULT_METHODS = ("plain", "rmd_ce", "rmd", "detector", "knn_torch", "knn_faiss")
KNN_METHODS = ("knn_torch", "knn_faiss")
METHODS = {
    "plain": "plain skorch NeuralNetClassifier, same encoder + head, CE",
    "rmd_ce": "RMDClassifier(base_loss='ce', relation_weight=0, init_from_teacher=False): CE, "
              "our loader",
    "rmd": "RMDClassifier, defaults (stage 1 + stage 2)",
    "rmd_dim32": "RMDClassifier(relation_dim=32)",
    "detector": "NoisyLabelDetector(mode='single'), fast RMD network",
    "knn_torch": f"knn_graph(backend='torch'), d={KNN_DIM}, K={KNN_K}, {KNN_THREADS} threads",
    "knn_faiss": f"knn_graph(backend='faiss'), d={KNN_DIM}, K={KNN_K}, {KNN_THREADS} threads",
}
KNN_TARGET_N, KNN_MAX_S, KNN_MAX_MB = 100_000, 20.0, 300.0
MAX_EPOCH_RATIO, MAX_FIT_RATIO, MAX_EXPONENT = 1.15, 2.5, 1.1


# ------------------------------------------------------------------- worker
def _rss_mb():
    """Current resident set size in MB (Linux /proc, else psutil, else None)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2 ** 20
    except ImportError:
        return None


def _peak_rss_mb():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS


def make_data(n, seed=0):
    """Rows (float32), noisy labels and the mask of flipped labels."""
    from sklearn.datasets import make_classification

    from sklearn_rmd.noise import make_noisy_labels

    X, y = make_classification(n, N_FEATURES, n_informative=32, n_redundant=0,
                               n_classes=N_CLASSES, random_state=seed)
    y_noisy, flipped = make_noisy_labels(y, NOISE, random_state=seed)
    return X.astype(np.float32), y_noisy, flipped


def make_model(method, device, epochs=EPOCHS):
    from skorch import NeuralNetClassifier
    from torch import nn

    from bench_classifier import EncoderHead
    from sklearn_rmd import RMDClassifier

    defaults = RMDClassifier().get_params()
    if method == "plain":
        return NeuralNetClassifier(
            EncoderHead, module__n_features=N_FEATURES, module__n_classes=N_CLASSES,
            module__hidden_dims=defaults["hidden_dims"],
            module__embedding_dim=defaults["embedding_dim"], module__dropout=defaults["dropout"],
            criterion=nn.CrossEntropyLoss, optimizer=torch.optim.AdamW, lr=defaults["lr"],
            optimizer__weight_decay=defaults["weight_decay"], batch_size=defaults["batch_size"],
            max_epochs=epochs["max_epochs"], train_split=None, iterator_train__shuffle=True,
            device=device, verbose=0)
    if method == "rmd_ce":
        return RMDClassifier(base_loss="ce", relation_weight=0, init_from_teacher=False,
                             random_state=0, device=device, **epochs)
    if method == "rmd":
        return RMDClassifier(random_state=0, device=device, **epochs)
    if method == "rmd_dim32":
        return RMDClassifier(relation_dim=32, random_state=0, device=device, **epochs)
    if method == "detector":
        from sklearn_rmd import NoisyLabelDetector

        network = RMDClassifier(base_loss="ce", relation_weight=0, random_state=0,
                                device=device, **epochs)
        return NoisyLabelDetector(estimator=network, mode="single", random_state=0,
                                  device=device)
    raise ValueError(method)


def _durations(history):
    return [float(d) for d in history[:, "dur"]] if history is not None and len(history) else []


def _fit_details(method, model, n):
    """Per-stage epoch durations and rows trained on, from the fitted model."""
    if method == "plain":
        return dict(stage2_dur=_durations(model.history), stage2_rows=n)
    if method == "detector":
        return {}
    return dict(stage1_dur=_durations(getattr(model.teacher_, "history_", None)),
                stage2_dur=_durations(model.history_), stage1_rows=n, stage2_rows=n)


def worker_fit(spec):
    method, n, device = spec["method"], spec["n"], spec["device"]
    if spec.get("no_bf16"):
        os.environ["SKLEARN_RMD_BF16"] = "0"
    X, y, _ = make_data(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        epochs = spec.get("epochs", EPOCHS)
        warm = make_model(method, device, epochs)
        if hasattr(warm, "max_epochs"):
            warm.set_params(max_epochs=1)
        warm.fit(X[:512], y[:512])
        del warm
        model = make_model(method, device, epochs)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        base = _rss_mb()
        torch.manual_seed(0)
        start = time.perf_counter()
        model.fit(X, y)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    peak = _peak_rss_mb()
    return dict(seconds=seconds, peak_rss_mb=peak, base_rss_mb=base,
                extra_mb=None if base is None else peak - base,
                data_mb=X.nbytes / 2 ** 20,
                gpu_peak_mb=(torch.cuda.max_memory_allocated() / 2 ** 20
                             if device.startswith("cuda") else None),
                **_fit_details(method, model, n))


def worker_knn(spec):
    from sklearn_rmd.graph import knn_graph

    torch.set_num_threads(KNN_THREADS)
    backend = spec["method"].split("_", 1)[1]
    if backend == "faiss":
        import faiss

        faiss.omp_set_num_threads(KNN_THREADS)
    points = np.random.RandomState(0).randn(spec["n"], KNN_DIM).astype(np.float32)
    knn_graph(points[:2000], KNN_K, backend=backend)  # warm-up
    base = _rss_mb()
    start = time.perf_counter()
    knn_graph(points, KNN_K, backend=backend, device="cpu")
    seconds = time.perf_counter() - start
    peak = _peak_rss_mb()
    return dict(seconds=seconds, peak_rss_mb=peak, base_rss_mb=base,
                extra_mb=None if base is None else peak - base,
                data_mb=points.nbytes / 2 ** 20, threads=KNN_THREADS)


def run_worker(spec_json):
    spec = json.loads(spec_json)
    result = worker_knn(spec) if spec["method"].startswith("knn") else worker_fit(spec)
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------- driver
def measure(spec, timeout):
    """Run one measurement in a fresh interpreter; the result dict, or an error."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=Path(__file__).resolve().parent)
    except subprocess.TimeoutExpired:
        return dict(error=f"timed out after {timeout} s")
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return dict(error=(done.stderr or done.stdout)[-2000:])


def _median(values):
    return float(np.median(values)) if values else None


def exponent(sizes, seconds):
    """Least-squares slope of log(seconds) against log(N)."""
    pairs = [(n, s) for n, s in zip(sizes, seconds) if s]
    if len(pairs) < 2:
        return None
    n, s = np.array(pairs, dtype=float).T
    return float(np.polyfit(np.log(n), np.log(s), 1)[0])


def summarize(runs, sizes, methods):
    by = {(r["method"], r["n"]): r for r in runs}

    def get(method, n, key):
        row = by.get((method, n), {})
        return row.get(key)

    per_size = []
    for n in sizes:
        row = dict(n=n)
        ce_epoch = _median(get("rmd_ce", n, "stage2_dur") or [])
        rmd_epoch = _median(get("rmd", n, "stage2_dur") or [])
        plain_epoch = _median(get("plain", n, "stage2_dur") or [])
        row["epoch_s"] = dict(rmd=rmd_epoch, rmd_ce=ce_epoch, plain=plain_epoch)
        row["epoch_ratio_vs_ce"] = rmd_epoch / ce_epoch if rmd_epoch and ce_epoch else None
        small = _median(get("rmd_dim32", n, "stage2_dur") or [])
        row["epoch_ratio_dim32_vs_ce"] = small / ce_epoch if small and ce_epoch else None
        row["epoch_ratio_vs_plain"] = (rmd_epoch / plain_epoch
                                       if rmd_epoch and plain_epoch else None)
        rmd_s, plain_s = get("rmd", n, "seconds"), get("plain", n, "seconds")
        row["fit_ratio_vs_plain"] = rmd_s / plain_s if rmd_s and plain_s else None
        if get("rmd_nobf16", n, "seconds") and rmd_s:
            row["bf16_speedup"] = get("rmd_nobf16", n, "seconds") / rmd_s
        throughput = {}
        for method in ("rmd", "plain", "rmd_ce"):
            stage1, stage2 = get(method, n, "stage1_dur"), get(method, n, "stage2_dur")
            if stage1:
                throughput[f"{method}_stage1"] = n * len(stage1) / sum(stage1)
            if stage2:
                throughput[f"{method}_stage2"] = n * len(stage2) / sum(stage2)
        row["samples_per_s"] = throughput
        per_size.append(row)
    exponents = {m: exponent(sizes, [get(m, n, "seconds") for n in sizes]) for m in methods}
    return dict(per_size=per_size, exponents=exponents)


def keeps_default_ratio(epochs):
    """Whether stage-1 to stage-2 epochs are the defaults' 40:100, as the whole-fit
    target ("the default fit at equal max_epochs") requires. (``pretrain_epochs=
    'auto'`` is 40 from 5 120 rows up: every size of the full run.)"""
    return epochs["pretrain_epochs"] * 100 == epochs["max_epochs"] * 40


def check_targets(runs, summary, sizes, epochs):
    checks = []
    if KNN_TARGET_N in sizes:
        knn = [r for r in runs if r["method"].startswith("knn") and r["n"] == KNN_TARGET_N
               and r.get("seconds")]
        if knn:
            best = min(knn, key=lambda r: r["seconds"])
            checks.append(dict(target=f"kNN graph N=1e5 <= {KNN_MAX_S:.0f} s ({best['method']})",
                               value=best["seconds"], passed=best["seconds"] <= KNN_MAX_S))
            extra = best.get("extra_mb")
            checks.append(dict(target=f"kNN graph N=1e5 extra memory <= {KNN_MAX_MB:.0f} MB",
                               value=extra, passed=extra is not None and extra <= KNN_MAX_MB))
    for row in summary["per_size"]:
        if row["epoch_ratio_vs_ce"] is not None:
            checks.append(dict(target=f"N={row['n']}: stage-2 epoch <= "
                                      f"{MAX_EPOCH_RATIO}x CE epoch",
                               value=row["epoch_ratio_vs_ce"],
                               passed=row["epoch_ratio_vs_ce"] <= MAX_EPOCH_RATIO))
        if row["fit_ratio_vs_plain"] is not None and keeps_default_ratio(epochs):
            checks.append(dict(target=f"N={row['n']}: whole fit <= {MAX_FIT_RATIO}x plain",
                               value=row["fit_ratio_vs_plain"],
                               passed=row["fit_ratio_vs_plain"] <= MAX_FIT_RATIO))
    for method in ("rmd", "detector"):
        value = summary["exponents"].get(method)
        if value is not None:
            checks.append(dict(target=f"{method}: time ~ N^k with k <= {MAX_EXPONENT}",
                               value=value, passed=value <= MAX_EXPONENT))
    return checks


def plot(runs, sizes, methods, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for method in methods:
        points = [(r["n"], r["seconds"]) for r in runs
                  if r["method"] == method and r.get("seconds")]
        if points:
            n, s = zip(*sorted(points))
            ax.loglog(n, s, marker="o", label=method)
    if sizes:
        reference = np.array([min(sizes), max(sizes)], dtype=float)
        fits = [r["seconds"] for r in runs if r["method"] == "rmd" and r.get("seconds")]
        if fits:
            ax.loglog(reference, min(fits) * reference / reference[0], "k:", lw=1,
                      label="slope 1")
    ax.set_xlabel("rows N")
    ax.set_ylabel("seconds")
    ax.set_title("sklearn-rmd scaling (fit time, kNN graph)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


def _fmt(value, spec=".2f", unit=""):
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def markdown(results):
    env, sizes = results["environment"], results["sizes"]
    runs = results["runs"]
    by = {(r["method"], r["n"]): r for r in runs}
    lines = [
        "# Scaling benchmark (generated by benchmarks/bench_scaling.py)",
        "",
        "Do not edit by hand: rerun the script." + (
            " **Smoke run (--quick): tiny N, the exponents mean little.**"
            if results["quick"] else ""),
        "",
        f"Device {env['device']}{' (' + env['gpu'] + ')' if env['gpu'] else ''}, "
        f"{env['cpu_count']} CPUs; fits on 1 thread, kNN graphs on {KNN_THREADS}; "
        f"torch {env['torch']}, skorch {env['skorch']}; commit {env['git_commit']}.",
        f"make_classification(N, {N_FEATURES}, 10 classes), {int(NOISE * 100)}% symmetric "
        f"noise; epochs {results['epochs']}. Each cell is one fresh process.",
        "",
        "Methods: " + "; ".join(f"`{m}` {METHODS[m]}" for m in results["methods"]
                                if m in METHODS) + ".",
        "",
        "## Time (s) and extra peak memory (MB) per N",
        "",
        "| method | " + " | ".join(f"N={n}" for n in sizes) + " | exponent |",
        "|---" * (len(sizes) + 2) + "|",
    ]
    for method in results["methods"]:
        cells = []
        for n in sizes:
            r = by.get((method, n))
            if r is None:
                cells.append("—")
            elif "error" in r:
                cells.append("error")
            else:
                cell = f"{r['seconds']:.2f} s, +{_fmt(r.get('extra_mb'), '.0f')} MB"
                if r.get("gpu_peak_mb") is not None:
                    cell += f", GPU {r['gpu_peak_mb']:.0f} MB"
                cells.append(cell)
        lines.append(f"| {method} | " + " | ".join(cells)
                     + f" | {_fmt(results['summary']['exponents'].get(method))} |")
    small = "rmd_dim32" in results["methods"]
    lines += ["", "## Epoch times and ratios", "",
              "| N | stage-2 epoch rmd (s) | CE epoch rmd_ce (s) | epoch plain (s) "
              "| rmd / rmd_ce epoch | rmd / plain epoch | rmd / plain fit |"
              + (" rmd_dim32 / rmd_ce epoch |" if small else ""),
              "|---|---|---|---|---|---|---|" + ("---|" if small else "")]
    for row in results["summary"]["per_size"]:
        e = row["epoch_s"]
        lines.append(f"| {row['n']} | {_fmt(e['rmd'], '.3f')} | {_fmt(e['rmd_ce'], '.3f')} | "
                     f"{_fmt(e['plain'], '.3f')} | {_fmt(row['epoch_ratio_vs_ce'])} | "
                     f"{_fmt(row['epoch_ratio_vs_plain'])} | {_fmt(row['fit_ratio_vs_plain'])} |"
                     + (f" {_fmt(row['epoch_ratio_dim32_vs_ce'])} |" if small else ""))
    if not keeps_default_ratio(results["epochs"]):
        lines += ["", "The whole-fit ratio is a target only at the defaults' 40:100 ratio of "
                      "stage-1 to stage-2 epochs (`--epochs 4 10`); here it is shown, not "
                      "checked."]
    if env["device"] == "cuda":
        lines += ["", "## Throughput (samples/s per stage) and bf16", "",
                  "| N | rmd stage 1 | rmd stage 2 | plain | rmd_ce | bf16 speed-up of rmd |",
                  "|---|---|---|---|---|---|"]
        for row in results["summary"]["per_size"]:
            t = row["samples_per_s"]
            lines.append(f"| {row['n']} | {_fmt(t.get('rmd_stage1'), '.0f')} | "
                         f"{_fmt(t.get('rmd_stage2'), '.0f')} | "
                         f"{_fmt(t.get('plain_stage2'), '.0f')} | "
                         f"{_fmt(t.get('rmd_ce_stage2'), '.0f')} | "
                         f"{_fmt(row.get('bf16_speedup'))} |")
    lines += ["", "## Targets", "", "| target | measured | result |", "|---|---|---|"]
    for check in results["targets"]:
        lines.append(f"| {check['target']} | {_fmt(check['value'])} | "
                     f"{'pass' if check['passed'] else '**fail**'} |")
    errors = [r for r in runs if "error" in r]
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"* {r['method']} N={r['n']}: `{r['error'].strip().splitlines()[-1]}`"
                  for r in errors]
    if results.get("plot"):
        lines += ["", f"![log-log scaling]({Path(results['plot']).name})"]
    return "\n".join(lines) + "\n"


def run(args):
    env = environment_info()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print("environment:", env, flush=True)
    try:
        import faiss  # noqa: F401
        has_faiss = True
    except ImportError:
        has_faiss = False
    methods = [m for m in args.methods if m != "knn_faiss" or has_faiss]
    specs = [(m, n) for n in args.sizes for m in methods]
    if device == "cuda" and "rmd" in methods:
        specs += [("rmd_nobf16", n) for n in args.sizes]
    runs = []
    for method, n in specs:
        spec = dict(method="rmd" if method == "rmd_nobf16" else method, n=n, device=device,
                    no_bf16=method == "rmd_nobf16", epochs=args.epochs)
        if method == "detector" and args.detector_max_n and n > args.detector_max_n:
            continue
        # The fastest of --repeats fresh processes (with its memory): timings on a
        # shared machine only ever err on the slow side.
        tries = [measure(spec, args.timeout) for _ in range(args.repeats)]
        timed = [t for t in tries if "seconds" in t]
        result = min(timed, key=lambda t: t["seconds"]) if timed else tries[0]
        if len(timed) > 1:
            result = dict(result, all_seconds=[t["seconds"] for t in timed])
        runs.append(dict(method=method, n=n, **result))
        shown = (f"{result['seconds']:.2f} s, +{_fmt(result.get('extra_mb'), '.0f')} MB"
                 if "seconds" in result else result["error"].strip().splitlines()[-1])
        print(f"{method:10} N={n:>7}: {shown}", flush=True)
    methods_run = [m for m in methods if any(r["method"] == m for r in runs)]
    summary = summarize(runs, args.sizes, methods_run + (
        ["rmd_nobf16"] if any(r["method"] == "rmd_nobf16" for r in runs) else []))
    targets = check_targets(runs, summary, args.sizes, args.epochs)
    prefix = Path(args.out)
    if prefix.parent == Path("."):
        prefix = RESULTS_DIR / prefix
    prefix.parent.mkdir(parents=True, exist_ok=True)
    results = dict(benchmark="scaling", quick=args.quick, environment=env, sizes=args.sizes,
                   methods=methods_run, epochs=args.epochs,
                   protocol=dict(data=f"make_classification(N, {N_FEATURES}, "
                                      f"n_informative=32, n_classes={N_CLASSES})",
                                 noise=f"symmetric {NOISE}", knn=dict(dim=KNN_DIM, k=KNN_K,
                                                                      threads=KNN_THREADS),
                                 memory="peak ru_maxrss minus RSS before the timed call"),
                   runs=runs, summary=summary, targets=targets)
    results["plot"] = plot(runs, args.sizes, methods_run,
                           prefix.with_name(prefix.name + ".png"))
    write_results(str(prefix), results, markdown(results))
    print("plot:", results["plot"] or "none (matplotlib missing)")
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"smoke run: N in {QUICK_SIZES}")
    parser.add_argument("--sizes", nargs="+", type=lambda s: int(float(s)), default=None,
                        help=f"rows N (default {FULL_SIZES}); 1e5 style accepted")
    parser.add_argument("--methods", nargs="+", choices=FIT_METHODS + KNN_METHODS,
                        default=list(DEFAULT_METHODS))
    parser.add_argument("--detector-max-n", type=lambda s: int(float(s)), default=None,
                        help="skip the detector above this N (its exact kNN graphs are "
                             "quadratic in N)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="fresh processes per measurement; the fastest is kept")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds allowed per measurement")
    parser.add_argument("--out", default=None,
                        help="output prefix for .json/.md/.png (default "
                             "benchmarks/results/scaling, quick/scaling with --quick)")
    parser.add_argument("--epochs", nargs=2, type=int, metavar=("PRETRAIN", "MAX"),
                        default=None,
                        help=f"stage-1 and stage-2 epochs (default {EPOCHS['pretrain_epochs']} "
                             f"{EPOCHS['max_epochs']}); 4 10 keeps the defaults' 40:100 ratio")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.epochs = (EPOCHS if args.epochs is None else
                   dict(EPOCHS, pretrain_epochs=args.epochs[0], max_epochs=args.epochs[1]))
    if args.sizes is None:
        args.sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.out is None:
        args.out = str(RESULTS_DIR / ("quick/scaling" if args.quick else "scaling"))
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.worker:
        run_worker(arguments.worker)
    else:
        run(arguments)
