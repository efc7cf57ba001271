"""The ``sklearn-rmd`` command line, end to end on small generated tables."""

import importlib.metadata
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_rmd import RMDClassifier  # noqa: E402
from sklearn_rmd import cli  # noqa: E402
from sklearn_rmd.cli import QUICK_NETWORK, main  # noqa: E402
from sklearn_rmd.detector import DEFAULT_NETWORK, NoisyLabelDetector  # noqa: E402
from sklearn_rmd.noise import make_noisy_labels  # noqa: E402

# Tiny and fast: the --quick network, two folds, the CPU, a fixed seed.
FAST_ARGS = ["--quick", "--cv", "2", "--device", "cpu", "--seed", "0", "--quiet"]
REPORT_COLUMNS = ["given_label", "suggested_label", "label_quality", "is_label_issue", "rank"]


@pytest.fixture(scope="module")
def table():
    """90 rows: four numbers, a text column, string labels of 3 classes, 15% flipped."""
    X, y = make_classification(n_samples=90, n_features=4, n_informative=3, n_redundant=0,
                               n_classes=3, n_clusters_per_class=1, class_sep=2.0,
                               random_state=0)
    labels, _ = make_noisy_labels(np.array(["cat", "dog", "owl"])[y], 0.15, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["colour"] = np.random.RandomState(0).choice(["red", "green", "blue"], len(frame))
    frame["label"] = labels
    return frame


@pytest.fixture
def csv(tmp_path, table):
    path = tmp_path / "data.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def api_detector(table):
    """The same detection through the Python API, with the CLI's parameters."""
    features = pd.concat([table[["a", "b", "c", "d"]],
                          pd.get_dummies(table["colour"], prefix="colour", prefix_sep="=",
                                         dtype=float)], axis=1)
    X = StandardScaler().fit_transform(features)
    estimator = RMDClassifier(**{**DEFAULT_NETWORK, **QUICK_NETWORK}, device="cpu")
    detector = NoisyLabelDetector(estimator, cv=2, device="cpu", random_state=0)
    return detector.fit(X, table["label"])


def run(argv, capsys):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


# ------------------------------------------------------------------ detect
def test_detect_writes_every_row_and_agrees_with_the_python_api(tmp_path, csv, table,
                                                                api_detector, capsys):
    out_path = tmp_path / "issues.csv"
    status, out, err = run(["detect", csv, "--label", "label", "--out", out_path,
                            *FAST_ARGS], capsys)
    assert status == 0, err
    report = pd.read_csv(out_path, index_col="row")
    assert list(report.columns) == REPORT_COLUMNS
    assert list(report.index) == list(range(len(table)))
    assert list(report["given_label"]) == list(table["label"])

    detector = api_detector
    np.testing.assert_array_equal(report["is_label_issue"], detector.is_label_issue_)
    np.testing.assert_allclose(report["label_quality"], detector.label_quality_, rtol=1e-6)
    assert list(report["suggested_label"]) == list(detector.suggested_label_)

    n_flagged = int(detector.is_label_issue_.sum())
    assert n_flagged > 0
    assert f"Flagged {n_flagged} of 90 rows" in out
    assert f"estimated noise rate {detector.noise_rate_:.1%}" in out
    assert "one-hot encoded 1 text column(s): colour (3 values)" in out
    top = out.split("lowest label quality first):")[1].strip().splitlines()[2:12]
    assert [int(line.split()[0]) for line in top] == list(detector.ranked_indices_[:10])


def test_detect_shows_per_fold_progress_on_stderr(csv, capsys):
    argv = ["detect", csv, "--label", "label", *FAST_ARGS, "--threshold", "0.3"]
    argv.remove("--quiet")
    status, out, err = run(argv, capsys)
    assert status == 0
    assert "Fold 1/2" in err and "Fold 2/2" in err and "Fold" not in out


def test_detect_with_id_column_and_parquet(tmp_path, table, api_detector, capsys):
    pytest.importorskip("pyarrow")
    frame = table.copy()
    frame.insert(0, "sample", [f"s{i:03d}" for i in range(len(frame))])
    path, out_path = tmp_path / "data.parquet", tmp_path / "issues.parquet"
    frame.to_parquet(path)
    status, out, err = run(["detect", path, "--label", "label", "--id-column", "sample",
                            "--out", out_path, "--top", "3", *FAST_ARGS], capsys)
    assert status == 0, err
    report = pd.read_parquet(out_path)
    assert report.index.name == "sample" and list(report.index) == list(frame["sample"])
    np.testing.assert_array_equal(report["is_label_issue"], api_detector.is_label_issue_)
    assert "Top 3 suspicious rows" in out


# ------------------------------------------------------------------- clean
@pytest.mark.parametrize("relabel", [False, True])
def test_clean_removes_or_relabels_the_flagged_rows(tmp_path, csv, table, api_detector,
                                                    capsys, relabel):
    out_path = tmp_path / "cleaned.csv"
    argv = ["clean", csv, "--label", "label", "--out", out_path, *FAST_ARGS]
    status, out, err = run(argv + ["--relabel"] * relabel, capsys)
    assert status == 0, err
    cleaned = pd.read_csv(out_path)
    assert list(cleaned.columns) == list(table.columns)
    detector = api_detector
    flagged = detector.is_label_issue_
    if relabel:
        expected = np.where(flagged, detector.suggested_label_, table["label"])
        assert len(cleaned) == len(table)
        assert list(cleaned["label"]) == list(expected)
        np.testing.assert_allclose(cleaned[["a", "b"]], table[["a", "b"]])
    else:
        kept = table[~flagged].reset_index(drop=True)
        pd.testing.assert_frame_equal(cleaned, kept, check_exact=False)
        assert f"removed the {flagged.sum()} flagged rows" in out


# --------------------------------------------------------------- bad input
def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


BAD_FILES = {
    "missing file": (None, "no such file"),
    "empty file": ("", "the file is empty"),
    "header only": ("a,b,label\n", "no data rows"),
    "one class": ("a,label\n1,x\n2,x\n3,x\n", "single class"),
    "junk in numbers": ("a,label\n1,x\n2,y\nfoo,x\n4,y\n", "'foo' (row 2)"),
    "missing label column": ("a,b\n1,2\n3,4\n", "label column 'label' not found"),
    "empty label": ("a,label\n1,x\n2,\n3,y\n", "1 missing label(s) (first in row 1: '')"),
    "missing number": ("a,b,label\n1,,x\n2,3,y\n", "column 'b' has 1 missing value(s)"),
    "continuous labels": ("a,label\n1,0.5\n2,0.25\n", "continuous numbers"),
    "binary file": (b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 4, "binary file"),
    "not UTF-8": ("a,label\n1,caf\xe9\n".encode("latin-1") * 3, "cannot decode"),
    "only the label": ("label\nx\ny\n", "no feature columns"),
    "identifier column": ("name,a,label\n" + "".join(f"n{i},{i},{'xy'[i % 2]}\n"
                                                    for i in range(30)),
                          "30 distinct text values"),
    "too few rows per class": ("a,label\n1,x\n2,x\n3,y\n", "fewer rows than --cv 2"),
    "input shape": ("a,b,label\n1,2,x\n2,3,x\n3,4,y\n4,5,y\n",
                    "--input-shape 1,3 holds 3 values but the rows have 2"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_give_one_line_and_a_nonzero_status(tmp_path, capsys, case):
    content, message = BAD_FILES[case]
    path = tmp_path / "missing.csv" if content is None else _write(tmp_path, "d.csv", content)
    extra = ["--input-shape", "1,3"] if case == "input shape" else []
    status, out, err = run(["detect", path, "--label", "label", *FAST_ARGS, *extra], capsys)
    assert status == 1
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("sklearn-rmd: error: ")
    assert message in err


def test_unwritable_output_is_one_line(tmp_path, csv, capsys):
    status, _, err = run(["detect", csv, "--label", "label", "--out",
                          tmp_path / "no" / "such" / "dir.csv", *FAST_ARGS], capsys)
    assert status == 1 and err.startswith("sklearn-rmd: error: ") and err.count("\n") == 1


def test_wrong_command_lines_exit_2(csv, capsys):
    for argv in (["detect", csv], ["clean", csv, "--label", "label"], ["nonsense"],
                 ["detect", csv, "--label", "label", "--threshold", "2"]):
        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in argv])
        assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_without_pandas_names_the_extra(csv, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    status, _, err = run(["detect", csv, "--label", "label", *FAST_ARGS], capsys)
    assert status == 1
    assert "pip install sklearn-rmd[cli]" in err


# --------------------------------------------------------- demo and script
def test_demo_passes_its_options_through(monkeypatch):
    calls = []
    monkeypatch.setattr("sklearn_rmd.demo.main", lambda argv=None: calls.append(argv))
    assert main(["demo", "--quick", "--noise-rate", "0.2"]) == 0
    assert calls == [["--quick", "--noise-rate", "0.2"]]


def test_console_script_is_declared():
    scripts = importlib.metadata.entry_points(group="console_scripts")
    (script,) = [s for s in scripts if s.name == "sklearn-rmd"]
    assert script.value == "sklearn_rmd.cli:main"


def test_input_shape_parsing():
    assert cli.parse_input_shape("1,8,8") == (1, 8, 8)
    assert cli.parse_input_shape("2x64") == (2, 64)
    assert cli.parse_input_shape(None) is None
    for bad in ("8", "a,b", "0,8,8", "1,2,3,4"):
        with pytest.raises(cli.CLIError, match="--input-shape"):
            cli.parse_input_shape(bad)
