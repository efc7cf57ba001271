"""How long the ``sklearn-rmd`` command takes to answer, cold, against a warm process.

Protocol
--------
* Data: scikit-learn's wine data (178 rows, 13 numeric columns) written as a
  CSV file, labels as text (``class_0``, ...) in a ``cultivar`` column, with
  15% of them flipped symmetrically (:func:`sklearn_rmd.noise.make_noisy_labels`,
  seed 0).
* Cold: each command runs in a fresh ``python -m sklearn_rmd.cli`` process
  started in the checkout's root (so it runs this checkout's package, as the
  warm process does; one thread: ``OMP_NUM_THREADS=1``); wall time from start to exit, ``--repeats`` times,
  median and range reported. Commands: ``--help``, ``--version``, ``detect``
  on a misspelt file name (an error before any work), ``detect`` on the wine
  CSV (default network, ``--seed 0 --quiet``). The floors under them:
  ``python -c pass`` (the interpreter's start-up), ``import torch``, the
  detector's imports, and those plus ``torch._dynamo``, which
  ``torch.optim.Optimizer`` imports when its first instance is built (its
  ``add_param_group`` is wrapped by ``torch._disable_dynamo``): every fit in
  a fresh process pays it, whatever the optimizer.
* Warm: the same ``detect`` command through :func:`sklearn_rmd.cli.main`
  inside this process (one thread, ``pin_threads``), after one untimed run,
  so that imports and torch's first-use costs are paid already.
* Targets: ``--help``, ``--version`` and the file error under 1 s; cold
  ``detect`` under twice the warm one.

``--quick`` runs each command once and ``detect`` with the CLI's ``--quick``
network: a smoke run of this script, not a result.
"""

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import pin_threads

pin_threads()

from _common import RESULTS_DIR, environment_info, write_results  # noqa: E402
from sklearn.datasets import load_wine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's package, as the cold processes run it

from sklearn_rmd import cli  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

NOISE_RATE = 0.15
FAST_TARGET_S = 1.0
#: What a cold process pays before any work, by what it imports.
FLOORS = {
    "python -c pass": "pass",
    "import torch": "import torch",
    "import the detector (torch, skorch, scikit-learn)": "import sklearn_rmd.detector",
    "... and torch._dynamo (the first torch optimizer)":
        "import sklearn_rmd.detector, torch._dynamo",
}
DETECT_TARGET_RATIO = 2.0


def write_wine_csv(path, seed=0):
    """The wine data as a CSV file with text labels, ``NOISE_RATE`` of them flipped."""
    data = load_wine(as_frame=True)
    y_noisy, _ = make_noisy_labels(data.target.to_numpy(), NOISE_RATE, random_state=seed)
    table = data.data.copy()
    table["cultivar"] = data.target_names[y_noisy]
    table.to_csv(path, index=False)


def cold_seconds(arguments, repeats, expect_status):
    """Wall times of ``repeats`` fresh processes running ``arguments``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, *arguments], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != expect_status:
            raise RuntimeError(f"{arguments} exited with {done.returncode}, not "
                               f"{expect_status}:\n{done.stderr[-2000:]}")
    return times


def warm_seconds(arguments, repeats):
    """Wall times of ``cli.main(arguments)`` in this process, after one untimed run."""
    times = []
    for run in range(repeats + 1):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            status = cli.main(arguments)
        if status != 0:
            raise RuntimeError(f"cli.main({arguments}) returned {status}")
        if run:
            times.append(time.perf_counter() - start)
    return times


def summary(name, times, target=None):
    row = {"command": name, "median_s": statistics.median(times), "min_s": min(times),
           "max_s": max(times), "repeats": len(times), "times_s": times}
    if target is not None:
        row["target_s"] = target
        row["meets_target"] = row["median_s"] < target
    return row


def markdown_table(rows, ratio, quick):
    lines = ["| command | median s | range s | target |", "|---|---|---|---|"]
    for row in rows:
        target = (f"< {row['target_s']:.2f} s: {'yes' if row['meets_target'] else 'NO'}"
                  if "target_s" in row else "")
        lines.append(f"| {row['command']} | {row['median_s']:.2f} | "
                     f"{row['min_s']:.2f}-{row['max_s']:.2f} | {target} |")
    lines.append("")
    lines.append(f"Cold `detect` / warm detection: {ratio:.2f}x (target < "
                 f"{DETECT_TARGET_RATIO:g}x).")
    if quick:
        lines.append("")
        lines.append("--quick: one run each, the CLI's --quick network; not a result.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per command (default 5; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smoke run of this script")
    parser.add_argument("--out", default=None,
                        help="output prefix (default results/cli, results/quick/cli)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    out = args.out or str(RESULTS_DIR / ("quick/cli" if args.quick else "cli"))

    with tempfile.TemporaryDirectory() as folder:
        data = str(Path(folder) / "wine.csv")
        write_wine_csv(data)
        detect = ["detect", data, "--label", "cultivar", "--seed", "0", "--quiet",
                  "--device", "cpu"] + (["--quick"] if args.quick else [])
        command = ["-m", "sklearn_rmd.cli"]
        rows = [summary(name, cold_seconds(["-c", code], repeats, 0))
                for name, code in FLOORS.items()]
        rows += [
            summary("--help", cold_seconds(command + ["--help"], repeats, 0), FAST_TARGET_S),
            summary("--version", cold_seconds(command + ["--version"], repeats, 0),
                    FAST_TARGET_S),
            summary("detect on a misspelt file name",
                    cold_seconds(command + ["detect", data + ".typo", "--label",
                                            "cultivar"], repeats, 1), FAST_TARGET_S),
        ]
        cold = summary("detect wine.csv (cold process)",
                       cold_seconds(command + detect, repeats, 0))
        warm = summary("detect wine.csv (warm process)", warm_seconds(detect, repeats))
    ratio = cold["median_s"] / warm["median_s"]
    cold["target_s"] = DETECT_TARGET_RATIO * warm["median_s"]
    cold["meets_target"] = ratio < DETECT_TARGET_RATIO
    rows += [cold, warm]
    results = {"rows": rows, "cold_over_warm": ratio, "quick": args.quick,
               "noise_rate": NOISE_RATE, "environment": environment_info()}
    write_results(out, results, markdown_table(rows, ratio, args.quick))


if __name__ == "__main__":
    main()
