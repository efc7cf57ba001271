"""One short GPU check: scaling table, kNN graph, relation cost, CUDA-trained model.

``benchmarks/gpu/run.sh`` runs the CUDA tests and then this script once per
part, each under its own time limit; this script alone, without ``--part``,
runs every part in one process (the CPU dry run of the test suite)::

    python benchmarks/gpu/gpu_check.py --device cpu --quick --out /tmp/check
    python benchmarks/gpu/gpu_check.py --part tabular --out "$OUT"
    python benchmarks/gpu/gpu_check.py --report --out "$OUT"

Every measurement is appended to ``<out>/measurements.jsonl`` as soon as it
is taken, so a part stopped by its time limit keeps what it measured; the
report turns that file into ``<out>/gpu_check.{json,md}``.

Parts
-----
``tabular``   ``bench_scaling.make_data`` rows (64 features, 10 classes, 20%
              symmetric noise), N = 1e4, 1e5, 1e6. Methods, built by
              ``bench_scaling.make_model``: ``plain`` (skorch
              ``NeuralNetClassifier``, the default encoder plus a head, CE),
              ``rmd`` (``RMDClassifier`` defaults) with bf16 autocast and in
              float32 (``SKLEARN_RMD_BF16=0``), ``rmd_ce`` (relation term off,
              no teacher init; N <= 1e5) and ``detector``
              (``NoisyLabelDetector(mode='single')``). Early stopping off;
              1 stage-1 and 2 stage-2 epochs (1 and 1 at 1e6).
``image``     60 000 synthetic 28x28 one-channel images (class templates plus
              noise), the same methods on the default 2-D CNN.
``knn``       ``graph.knn_graph`` on 1e6 Gaussian rows, d = 128, K = 10, with
              the default ``chunk_size`` and with 4096 rows per block.
``relation``  ``bench_relation_cost``'s stage-2 step (float32, default
              ``relation_dim`` and batch) against the CE step: the relation
              term's share of a step.
``model``     ``RMDClassifier`` fitted on 2 000 rows, pickled to
              ``<out>/cuda_model.pkl`` with 500 rows and their probabilities;
              ``tests/test_gpu_artifact.py`` loads it on the CPU.

Fit times are ``time.perf_counter`` around ``fit`` (CUDA synchronised), after
one warm-up fit of the same method on 512 rows (1 epoch per stage); epoch times are the median
``dur`` of the public histories (``teacher_.history_`` and ``history_``, or
the skorch net's ``history``); samples per second = N / epoch time; peak GPU
memory is ``torch.cuda.max_memory_allocated`` over the timed call.
``--quick``: tiny sizes and a few steps, for the dry run.
"""

import argparse
import contextlib
import gc
import json
import os
import pickle
import sys
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/

from _common import RESULTS_DIR, environment_info, pin_threads, write_results  # noqa: E402

pin_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402

import bench_relation_cost  # noqa: E402
import bench_scaling  # noqa: E402
from gpu_report import markdown, summarize  # noqa: E402
from sklearn_rmd import RMDClassifier  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

PARTS = ("model", "knn", "relation", "image", "tabular")
MEASUREMENTS = "measurements.jsonl"
MODEL_FILE = "cuda_model.pkl"
BF16_VARIABLE = "SKLEARN_RMD_BF16"
SIZES = dict(full=(10_000, 100_000, 1_000_000), quick=(300,))
IMAGE_SHAPE, IMAGE_CLASSES = (1, 28, 28), 10
IMAGE_N = dict(full=60_000, quick=48)
KNN = dict(full=dict(n=1_000_000, chunks=(None, 4096)), quick=dict(n=1_000, chunks=(None, 256)))
KNN_DIM, KNN_K = 128, 10
RELATION = dict(full=dict(rounds=5, steps=50, warmup=20), quick=dict(rounds=1, steps=2, warmup=1))
MODEL_ROWS, MODEL_CHECK_ROWS = dict(full=2_000, quick=200), 500
MODEL_EPOCHS = dict(full=dict(pretrain_epochs=2, max_epochs=5),
                    quick=dict(pretrain_epochs=1, max_epochs=1))
WARMUP_ROWS = dict(full=512, quick=24)
CE_MAX_N = 100_000  # rmd_ce (the relation share at epoch level) up to this N


def epochs_for(n, quick):
    """Stage-1 and stage-2 epochs of the timed fits, early stopping off."""
    max_epochs = 1 if quick or n >= 1_000_000 else 2
    return dict(pretrain_epochs=1, max_epochs=max_epochs, early_stopping=False)


def plan(n):
    """(method, precision) pairs for one data set, in the order they run: the
    float32 run last at the largest size, where it is the first to give way."""
    pairs = [("plain", "fp32"), ("rmd", "bf16")]
    if n <= CE_MAX_N:
        pairs.append(("rmd_ce", "bf16"))
    pairs += [("rmd", "fp32"), ("detector", "bf16")]
    if n >= 1_000_000:
        pairs.append(pairs.pop(-2))
    return pairs


class Recorder:
    """Appends one JSON object per measurement to ``<out>/measurements.jsonl``."""

    def __init__(self, out, part):
        self.path = Path(out) / MEASUREMENTS
        self.part = part

    def __call__(self, **record):
        record = dict(part=self.part, **record)
        with self.path.open("a") as f:
            f.write(json.dumps(record, default=str) + "\n")
        print(json.dumps(record, default=str), flush=True)


@contextlib.contextmanager
def precision(name):
    """Train with bf16 autocast on CUDA ('bf16') or in float32 ('fp32')."""
    previous = os.environ.get(BF16_VARIABLE)
    os.environ[BF16_VARIABLE] = "1" if name == "bf16" else "0"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[BF16_VARIABLE]
        else:
            os.environ[BF16_VARIABLE] = previous


def synchronize(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@contextlib.contextmanager
def gpu_peak(device, result):
    """Store the peak GPU memory (MB) of the block in ``result['gpu_peak_mb']``."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    yield
    synchronize(device)
    result["gpu_peak_mb"] = (torch.cuda.max_memory_allocated() / 2 ** 20
                             if device.startswith("cuda") else None)


def release(device):
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def median_epoch(history):
    durations = [float(d) for d in history[:, "dur"]] if history is not None else []
    return float(np.median(durations)) if durations else None


def epoch_times(model):
    """Median epoch seconds per stage, from the public histories."""
    if isinstance(model, RMDClassifier):
        teacher = model.teacher_
        return dict(stage1_epoch_s=median_epoch(None if teacher is None else teacher.history_),
                    stage2_epoch_s=median_epoch(model.history_))
    if hasattr(model, "history"):  # the plain skorch net
        return dict(stage1_epoch_s=None, stage2_epoch_s=median_epoch(model.history))
    return dict(stage1_epoch_s=None, stage2_epoch_s=None)  # the detector: whole fit only


def timed_fit(model, X, y, device):
    """Fit once; seconds, peak GPU memory and per-stage epoch times."""
    result = {}
    with gpu_peak(device, result), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X, y)
        synchronize(device)
        result["seconds"] = time.perf_counter() - start
    result.update(epoch_times(model))
    for stage in ("stage1", "stage2"):
        epoch = result[f"{stage}_epoch_s"]
        result[f"{stage}_samples_per_s"] = len(X) / epoch if epoch else None
    return result


def build(method, device, epochs, input_shape):
    """An unfitted model of ``bench_scaling.make_model``, reshaped for images."""
    model = bench_scaling.make_model(method, device, epochs)
    if input_shape is None:
        return model
    if method == "plain":
        return model.set_params(module__n_features=int(np.prod(input_shape)),
                                module__input_shape=input_shape)
    if method == "detector":
        return model.set_params(estimator__input_shape=input_shape)
    return model.set_params(input_shape=input_shape)


def measure_fits(record, data, X, y, args, input_shape=None, warmed=None):
    """Time every (method, precision) of :func:`plan` on ``X, y``."""
    warmed = set() if warmed is None else warmed
    n = len(X)
    epochs = epochs_for(n, args.quick)
    for method, name in plan(n):
        try:
            with precision(name):
                if (method, name) not in warmed:  # first call: CUDA context, kernels
                    warm = build(method, args.device, dict(epochs, pretrain_epochs=1,
                                                           max_epochs=1), input_shape)
                    rows = WARMUP_ROWS[args.size]
                    timed_fit(warm, X[:rows], y[:rows], args.device)
                    warmed.add((method, name))
                    del warm
                torch.manual_seed(0)
                model = build(method, args.device, epochs, input_shape)
                result = timed_fit(model, X, y, args.device)
            record(data=data, n=n, method=method, precision=name, epochs=epochs, **result)
            del model
        except Exception as exc:  # one failure (e.g. out of memory) must not end the part
            traceback.print_exc()
            record(data=data, n=n, method=method, precision=name,
                   error=f"{type(exc).__name__}: {exc}"[:500])
        release(args.device)


def part_tabular(args, record):
    warmed = set()
    for n in SIZES[args.size]:
        X, y, _ = bench_scaling.make_data(n)
        measure_fits(record, "tabular", X, y, args, warmed=warmed)


def make_images(n, seed=0):
    """Synthetic 28x28 images: a blocky template per class plus pixel noise, in [0, 1]."""
    rng = np.random.RandomState(seed)
    templates = np.kron(rng.rand(IMAGE_CLASSES, 7, 7), np.ones((4, 4)))
    y = rng.randint(IMAGE_CLASSES, size=n)
    X = np.clip(templates[y] + 0.3 * rng.randn(n, 28, 28), 0, 1)
    y_noisy, _ = make_noisy_labels(y, bench_scaling.NOISE, random_state=seed)
    return X.reshape(n, -1).astype(np.float32), y_noisy


def part_image(args, record):
    X, y = make_images(IMAGE_N[args.size])
    measure_fits(record, "image", X, y, args, input_shape=IMAGE_SHAPE)


def part_knn(args, record):
    from sklearn_rmd.graph import knn_graph

    config = KNN[args.size]
    points = np.random.RandomState(0).randn(config["n"], KNN_DIM).astype(np.float32)
    knn_graph(points[:500], KNN_K, device=args.device, backend="torch")  # warm-up
    for chunk_size in config["chunks"]:
        result = {}
        try:
            with gpu_peak(args.device, result):
                start = time.perf_counter()
                knn_graph(points, KNN_K, chunk_size=chunk_size, device=args.device,
                          backend="torch")
                result["seconds"] = time.perf_counter() - start
            record(n=len(points), dim=KNN_DIM, k=KNN_K, chunk_size=chunk_size, **result)
        except Exception as exc:
            traceback.print_exc()
            record(n=len(points), dim=KNN_DIM, k=KNN_K, chunk_size=chunk_size,
                   error=f"{type(exc).__name__}: {exc}"[:500])
        release(args.device)


def part_relation(args, record):
    config = RELATION[args.size]
    dim = bench_relation_cost.DEFAULTS["relation_dim"]
    steps = {None: bench_relation_cost.make_step("off", 0, args.device),
             dim: bench_relation_cost.make_step("default", 0, args.device)}
    times = {key: [] for key in steps}
    for step in steps.values():
        bench_relation_cost.time_steps(step, config["warmup"], args.device)
    for _ in range(config["rounds"]):  # interleaved, as bench_relation_cost does
        for key, step in steps.items():
            times[key].append(bench_relation_cost.time_steps(step, config["steps"],
                                                             args.device))
    ce_ms, rmd_ms = float(np.median(times[None])), float(np.median(times[dim]))
    record(precision="fp32", relation_dim=dim, batch_size=bench_relation_cost.BATCH,
           ce_ms=ce_ms, rmd_ms=rmd_ms, relation_share=1 - ce_ms / rmd_ms, **config)


def part_model(args, record):
    n = MODEL_ROWS[args.size]
    X, y, _ = bench_scaling.make_data(n + MODEL_CHECK_ROWS, seed=1)
    model = RMDClassifier(**MODEL_EPOCHS[args.size], random_state=0, device=args.device)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X[:n], y[:n])
    seconds = time.perf_counter() - start
    X_check = X[n:]
    bundle = dict(model=model, X=X_check, proba=model.predict_proba(X_check),
                  device=model.device_, environment=environment_info())
    path = Path(args.out) / MODEL_FILE
    path.write_bytes(pickle.dumps(bundle))
    record(path=str(path), bytes=path.stat().st_size, device=model.device_, rows=n,
           check_rows=len(X_check),
           fit_seconds=seconds, noisy_accuracy=float(model.score(X_check, y[n:])))


def read_measurements(out):
    path = Path(out) / MEASUREMENTS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def tests_summary(out):
    """Last line of pytest's output in ``<out>/cuda_tests.txt``, if any."""
    path = Path(out) / "cuda_tests.txt"
    lines = path.read_text().strip().splitlines() if path.exists() else []
    return lines[-1] if lines else None


def report(args):
    records = read_measurements(args.out)
    results = dict(benchmark="gpu_check", quick=args.quick, environment=environment_info(),
                   cuda_tests=tests_summary(args.out), records=records)
    results.update(summarize(records, results["cuda_tests"], args.quick))
    return write_results(str(Path(args.out) / "gpu_check"), results, markdown(results))


PART_FUNCTIONS = dict(model=part_model, knn=part_knn, relation=part_relation,
                      image=part_image, tabular=part_tabular)


def run_part(name, args):
    print(f"== part {name} ({args.device}{', quick' if args.quick else ''})", flush=True)
    PART_FUNCTIONS[name](args, Recorder(args.out, name))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="'cuda' (default) or 'cpu'")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and few steps: a dry run in seconds")
    parser.add_argument("--out", default=None,
                        help="output folder (default benchmarks/results/gpu, or "
                             "benchmarks/results/quick/gpu with --quick)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--part", choices=PARTS, help="run this part only")
    what.add_argument("--report", action="store_true",
                      help="only write gpu_check.{json,md} from the measurements")
    args = parser.parse_args(argv)
    args.size = "quick" if args.quick else "full"
    if args.out is None:
        args.out = str(RESULTS_DIR / ("quick/gpu" if args.quick else "gpu"))
    return args


def main(argv=None):
    args = parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_check: CUDA is not available here; pass --device cpu "
                         "for a dry run.")
    if args.part:
        run_part(args.part, args)
        return
    if not args.report:
        (Path(args.out) / MEASUREMENTS).unlink(missing_ok=True)
        for name in PARTS:
            run_part(name, args)
    report(args)


if __name__ == "__main__":
    main()
