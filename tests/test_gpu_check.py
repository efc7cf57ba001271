"""CPU dry run of the GPU check (benchmarks/gpu), so that it cannot rot between GPU runs."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_gpu_artifact import check_predicts_like_on_the_device, load_without_cuda

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu" / "gpu_check.py"
RUN_SH = ROOT / "benchmarks" / "gpu" / "run.sh"
PARTS = {"model", "knn", "relation", "image", "tabular"}
FITS = {("plain", "fp32"), ("rmd", "bf16"), ("rmd_ce", "bf16"), ("rmd", "fp32"),
        ("detector", "bf16")}
FIT_COLUMNS = {"seconds", "gpu_peak_mb", "stage1_epoch_s", "stage1_samples_per_s",
               "stage2_epoch_s", "stage2_samples_per_s", "epochs"}
RATIO_COLUMNS = {"stage2_vs_plain", "stage2_fp32_vs_plain", "default_fit_vs_plain",
                 "bf16_fit_speedup", "bf16_stage1_speedup", "bf16_stage2_speedup",
                 "relation_share_of_epoch"}


def gpu_check(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--quick", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    gpu_check("--out", str(out))
    return out


@pytest.fixture(scope="module")
def results(dry_run):
    return json.loads((dry_run / "gpu_check.json").read_text())


def test_dry_run_writes_every_output(dry_run):
    assert {p.name for p in dry_run.iterdir()} == {
        "measurements.jsonl", "gpu_check.json", "gpu_check.md", "cuda_model.pkl"}


def test_every_part_measures_without_error(results):
    assert results["errors"] == []
    assert {r["part"] for r in results["records"]} == PARTS


def test_fits_have_every_method_and_column(results):
    fits = [r for r in results["records"] if "data" in r]
    for data in ("tabular", "image"):
        assert {(r["method"], r["precision"]) for r in fits if r["data"] == data} == FITS
    for r in fits:
        assert FIT_COLUMNS <= set(r) and r["seconds"] > 0
        has_stage1 = r["method"] == "rmd"
        has_stage2 = r["method"] != "detector"
        assert (r["stage1_samples_per_s"] is not None) == has_stage1
        assert (r["stage2_samples_per_s"] is not None) == has_stage2
        assert r["gpu_peak_mb"] is None  # on the CPU


def test_ratios_knn_relation_and_targets(results):
    assert {(r["data"]) for r in results["ratios"]} == {"tabular", "image"}
    for row in results["ratios"]:
        assert RATIO_COLUMNS <= set(row)
        assert all(row[column] is not None for column in RATIO_COLUMNS)
    assert [r["chunk_size"] for r in results["knn"]] == [None, 256]
    (relation,) = results["relation"]
    assert relation["ce_ms"] > 0 and relation["rmd_ms"] > 0
    assert relation["relation_share"] == pytest.approx(1 - relation["ce_ms"] / relation["rmd_ms"])
    targets = {t["target"].split(":")[0].split(" <=")[0] for t in results["targets"]}
    assert {"every CUDA test passes", "tabular N=300", "image N=48",
            "kNN graph N=1000, d=128, K=10"} == targets


def test_markdown_has_every_table(dry_run):
    text = (dry_run / "gpu_check.md").read_text()
    for heading in ("## CUDA tests", "## Fits", "## Ratios", "## kNN graph",
                    "## Relation term's share", "## Model trained on the device", "## Targets"):
        assert heading in text
    assert "| data | N | method | precision | fit (s) |" in text
    assert "Dry run (--quick)" in text


def test_dry_run_model_loads_and_predicts(dry_run, monkeypatch):
    bundle = load_without_cuda(dry_run / "cuda_model.pkl", monkeypatch)
    assert bundle["device"] == "cpu"
    check_predicts_like_on_the_device(bundle)


def test_report_reads_run_sh_statuses_and_test_summary(dry_run, tmp_path):
    # What run.sh adds to the folder before --report: exit statuses and pytest's output.
    shutil.copy(dry_run / "measurements.jsonl", tmp_path)
    with (tmp_path / "measurements.jsonl").open("a") as f:
        f.write('{"part": "tests", "status": 0, "seconds": 9, "limit_s": 100}\n')
        f.write('{"part": "tabular", "status": 124, "seconds": 150, "limit_s": 150}\n')
    (tmp_path / "cuda_tests.txt").write_text("....\n4 passed, 400 deselected in 9.1s\n")
    gpu_check("--report", "--out", str(tmp_path))
    results = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [(p["part"], p["status"]) for p in results["parts"]] == [("tests", 0), ("tabular", 124)]
    assert results["targets"][0] == dict(target="every CUDA test passes",
                                         value="4 passed, 400 deselected in 9.1s", passed=True)
    assert "| tabular | 124 | 150 | 150 |" in (tmp_path / "gpu_check.md").read_text()


def test_run_sh_is_valid_bash_and_runs_every_part():
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    subprocess.run([bash, "-n", str(RUN_SH)], check=True)
    text = RUN_SH.read_text()
    assert set(re.findall(r"--part (\w+)", text)) == PARTS
    assert "-m cuda" in text and "--report" in text
