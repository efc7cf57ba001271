"""Summary, targets and Markdown of the GPU check's measurements (``gpu_check.py``)."""

from sklearn_rmd import RMDClassifier
from sklearn_rmd.teacher import training_epochs

DEFAULTS = RMDClassifier().get_params()
TARGET_SIZES = (100_000, 1_000_000)  # where the epoch and fit ratios are targets
MAX_STAGE2_VS_PLAIN, MAX_DEFAULT_FIT_VS_PLAIN = 1.3, 2.5
MIN_IMAGE_BF16_SPEEDUP, MAX_KNN_S = 1.3, 10.0


def ratio(a, b):
    return a / b if a is not None and b else None


def fit_groups(records):
    """{(data, n): {(method, precision): record}} of the successful fits."""
    groups = {}
    for r in records:
        if "data" in r and "seconds" in r:  # not the errors, not run.sh's exit statuses
            groups.setdefault((r["data"], r["n"]), {})[(r["method"], r["precision"])] = r
    return groups


def fit_ratios(fits, n):
    """Epoch and fit ratios of one data set of ``n`` rows (``fits`` keyed by
    (method, precision))."""
    empty = {}
    plain = fits.get(("plain", "fp32"), empty).get("stage2_epoch_s")
    rmd, rmd32 = fits.get(("rmd", "bf16"), empty), fits.get(("rmd", "fp32"), empty)
    ce = fits.get(("rmd_ce", "bf16"), empty)
    s1, s2 = rmd.get("stage1_epoch_s"), rmd.get("stage2_epoch_s")
    pretrain_epochs = training_epochs(DEFAULTS["pretrain_epochs"], n, DEFAULTS["batch_size"])
    default_fit = (pretrain_epochs * s1 + DEFAULTS["max_epochs"] * s2
                   if s1 is not None and s2 is not None else None)
    return dict(
        stage2_vs_plain=ratio(s2, plain),
        stage2_fp32_vs_plain=ratio(rmd32.get("stage2_epoch_s"), plain),
        default_fit_vs_plain=ratio(default_fit, DEFAULTS["max_epochs"] * plain
                                   if plain else None),
        bf16_fit_speedup=ratio(rmd32.get("seconds"), rmd.get("seconds")),
        bf16_stage1_speedup=ratio(rmd32.get("stage1_epoch_s"), s1),
        bf16_stage2_speedup=ratio(rmd32.get("stage2_epoch_s"), s2),
        relation_share_of_epoch=(1 - ce["stage2_epoch_s"] / s2
                                 if ce.get("stage2_epoch_s") and s2 else None),
    )


def check(target, value, passed):
    return dict(target=target, value=value, passed=None if value is None else bool(passed))


def targets(ratios, knn, cuda_tests, quick):
    checks = [check("every CUDA test passes", cuda_tests,
                    cuda_tests is not None and " passed" in cuda_tests
                    and not any(word in cuda_tests for word in ("failed", "error")))]
    for row in ratios:
        data, n = row["data"], row["n"]
        if data == "tabular" and (quick or n in TARGET_SIZES):
            checks.append(check(f"tabular N={n}: stage-2 epoch <= {MAX_STAGE2_VS_PLAIN}x "
                                "plain epoch", row["stage2_vs_plain"],
                                (row["stage2_vs_plain"] or 0) <= MAX_STAGE2_VS_PLAIN))
            checks.append(check(f"tabular N={n}: default fit <= {MAX_DEFAULT_FIT_VS_PLAIN}x "
                                "plain at equal epochs (projected)", row["default_fit_vs_plain"],
                                (row["default_fit_vs_plain"] or 0) <= MAX_DEFAULT_FIT_VS_PLAIN))
        if data == "image":
            checks.append(check(f"image N={n}: bf16 fit >= {MIN_IMAGE_BF16_SPEEDUP}x faster "
                                "than float32", row["bf16_fit_speedup"],
                                (row["bf16_fit_speedup"] or 0) >= MIN_IMAGE_BF16_SPEEDUP))
    for r in knn:
        if r.get("chunk_size") is None and "seconds" in r:
            checks.append(check(f"kNN graph N={r['n']}, d={r['dim']}, K={r['k']} "
                                f"<= {MAX_KNN_S:.0f} s", r["seconds"], r["seconds"] <= MAX_KNN_S))
    return checks


def summarize(records, cuda_tests, quick):
    """Ratios, targets and the records of each part, for the report."""
    ratios = [dict(data=data, n=n, **fit_ratios(fits, n))
              for (data, n), fits in sorted(fit_groups(records).items())]
    knn = [r for r in records if r["part"] == "knn" and "status" not in r]
    return dict(ratios=ratios, knn=knn,
                relation=[r for r in records if r["part"] == "relation" and "status" not in r],
                model=[r for r in records if r["part"] == "model" and "status" not in r],
                parts=[r for r in records if "status" in r],
                errors=[r for r in records if "error" in r],
                targets=targets(ratios, knn, cuda_tests, quick))


def fmt(value, spec=".2f"):
    return "n/a" if value is None else f"{value:{spec}}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def fit_rows(records):
    for r in records:
        if "data" in r and "seconds" in r:
            yield [r["data"], r["n"], r["method"], r["precision"], fmt(r["seconds"]),
                   fmt(r["stage1_epoch_s"], ".3f"), fmt(r["stage1_samples_per_s"], ".0f"),
                   fmt(r["stage2_epoch_s"], ".3f"), fmt(r["stage2_samples_per_s"], ".0f"),
                   fmt(r["gpu_peak_mb"], ".0f")]


def markdown(results):
    env = results["environment"]
    lines = [
        "# GPU check (generated by benchmarks/gpu/gpu_check.py)", "",
        "Do not edit by hand: rerun benchmarks/gpu/run.sh." + (
            " **Dry run (--quick): tiny sizes, the numbers mean nothing.**"
            if results["quick"] else ""), "",
        f"Device {env['device']}{' (' + env['gpu'] + ')' if env['gpu'] else ''}, "
        f"{env['cpu_count']} CPUs; torch {env['torch']}, skorch {env['skorch']}; "
        f"commit {env['git_commit']}. On the CPU the bf16 switch is a no-op.",
    ]
    if results["parts"]:
        lines += ["", "## Parts (run.sh)", "",
                  "Exit status 124 or 137: stopped at its time limit; what it measured "
                  "before is kept.", ""] + table(
            ["part", "exit status", "seconds", "limit (s)"],
            [[r["part"], r["status"], r.get("seconds"), r.get("limit_s")]
             for r in results["parts"]])
    lines += ["", "## CUDA tests", "", f"`{results['cuda_tests']}`" if results["cuda_tests"]
              else "Not run (run.sh runs them)."]
    lines += ["", "## Fits (time, epochs per stage, samples per second, peak GPU memory)", "",
              "Stage 1: the SimSiam teacher; stage 2: the network on the noisy labels "
              "(the plain network has one stage). The detector: whole fit only.", ""]
    lines += table(["data", "N", "method", "precision", "fit (s)", "stage-1 epoch (s)",
                    "stage-1 samples/s", "stage-2 epoch (s)", "stage-2 samples/s",
                    "peak GPU (MB)"], fit_rows(results["records"]))
    lines += ["", "## Ratios", "",
              "Default fit: the default stage-1 epochs (40 from 5 120 rows up) and 100 "
              "stage-2 epochs against 100 plain epochs, projected from the epoch times "
              "above. Relation share: "
              "1 - `rmd_ce` / `rmd` stage-2 epoch.", ""]
    lines += table(["data", "N", "stage-2 / plain epoch", "stage-2 fp32 / plain epoch",
                    "default fit / plain", "bf16 speed-up: fit", "stage 1", "stage 2",
                    "relation share of an epoch"],
                   [[r["data"], r["n"], fmt(r["stage2_vs_plain"]),
                     fmt(r["stage2_fp32_vs_plain"]), fmt(r["default_fit_vs_plain"]),
                     fmt(r["bf16_fit_speedup"]), fmt(r["bf16_stage1_speedup"]),
                     fmt(r["bf16_stage2_speedup"]), fmt(r["relation_share_of_epoch"])]
                    for r in results["ratios"]])
    lines += ["", "## kNN graph (`graph.knn_graph`, torch backend)", ""]
    lines += table(["N", "d", "K", "chunk_size", "seconds", "peak GPU (MB)"],
                   [[r["n"], r["dim"], r["k"], r["chunk_size"] or "default",
                     fmt(r.get("seconds")), fmt(r.get("gpu_peak_mb"), ".0f")]
                    for r in results["knn"] if "seconds" in r])
    lines += ["", "## Relation term's share of a stage-2 step (bench_relation_cost's step)", ""]
    lines += table(["precision", "relation_dim", "batch", "CE step (ms)", "RMD step (ms)",
                    "relation share"],
                   [[r["precision"], r["relation_dim"], r["batch_size"], fmt(r["ce_ms"], ".3f"),
                     fmt(r["rmd_ms"], ".3f"), fmt(r["relation_share"])]
                    for r in results["relation"]])
    lines += ["", "## Model trained on the device", ""]
    lines += [f"`{r['path'].rsplit('/', 1)[-1]}`: {r['bytes']} bytes, trained on "
              f"{r['device']} ({r['rows']} rows, {r['fit_seconds']:.1f} s), accuracy "
              f"{r['noisy_accuracy']:.3f} on {r['check_rows']} held-out noisy labels; "
              "tests/test_gpu_artifact.py loads it on the CPU." for r in results["model"]]
    lines += ["", "## Targets", ""] + table(
        ["target", "measured", "result"],
        [[c["target"], c["value"] if isinstance(c["value"], str) else fmt(c["value"]),
          {True: "pass", False: "**fail**", None: "not measured"}[c["passed"]]]
         for c in results["targets"]])
    if results["errors"]:
        lines += ["", "## Errors", ""]
        lines += [f"* {r['part']} {r.get('method', '')} N={r.get('n')}: `{r['error']}`"
                  for r in results["errors"]]
    return "\n".join(lines) + "\n"
