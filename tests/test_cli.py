"""The ``sklearn-rmd`` command line, end to end on small generated tables."""

import gzip
import importlib.metadata
import lzma
import os
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
    assert detector.report(top=10) in out
    assert f"label issues: {n_flagged} rows" in out
    assert f"estimated noise rate {detector.noise_rate_:.1%}" in out
    assert "one-hot encoded 1 text column(s): colour (3 values)" in out
    top = out.split("lowest label quality first):")[1].strip().splitlines()[1:11]
    shown = detector.ranked_indices_[:min(10, n_flagged)]
    assert [int(line.split()[0]) for line in top[:len(shown)]] == list(shown)


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
    assert "Top 3 label issues" in out


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
    audit = pd.read_csv(tmp_path / "cleaned.audit.csv")
    changed = np.flatnonzero(flagged & (detector.suggested_label_ != table["label"])
                             if relabel else flagged)
    assert list(audit["row"]) == list(changed)
    np.testing.assert_allclose(audit["label_quality"], detector.label_quality_[changed],
                               rtol=1e-6)


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
    "ragged row": ("a,label\n1,x\n2,y,3\n", "line 3 has 3 cells but the header has 2"),
    "bad quoting": ('a,label\n1,"x"y\n', "cannot be parsed as CSV near line 2"),
    "repeated column": ("a,a,label\n1,2,x\n", "names column 'a' more than once"),
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
    assert "pip install '.[cli]'" in err


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


# ------------------------------------------------------------- data safety
class FlagRows:
    """Stands in for the detector: flags the given rows and suggests the next class."""

    def __init__(self, rows, calls=None):
        self.rows, self.calls = rows, calls if calls is not None else []

    def fit(self, X, y):
        self.calls.append(len(y))
        y = np.asarray(y)
        classes = np.unique(y)
        following = classes[(np.searchsorted(classes, y) + 1) % len(classes)]
        self.is_label_issue_ = np.isin(np.arange(len(y)), self.rows)
        self.suggested_label_ = np.where(self.is_label_issue_, following, y)
        self.label_quality_ = np.where(self.is_label_issue_, 0.25, 0.75)
        self.noise_rate_ = float(self.is_label_issue_.mean())
        return self

    def report(self, top=5):
        return f"{int(self.is_label_issue_.sum())} rows flagged"


def flag_rows(monkeypatch, rows):
    """Make the command line use FlagRows(rows); returns the list of its fits."""
    calls = []
    monkeypatch.setattr(cli, "build_detector", lambda **params: FlagRows(rows, calls))
    return calls


def _record(cells, ending="\r\n"):
    return ",".join(cells) + ending


# Cells a typed reader rewrites: missing markers, leading zeros, float labels, quoting.
HEADER = ["zip", "code", "note", "a", "label"]
LABELS = ["001", "0.0", '"b, ""q"""']
ROWS = [[f"0{2139 + i}", ["NA", "None", "NULL", "x", ""][i % 5], f'"n, {i}"',
         f"{(i % 3) * 4 + (i % 7) / 10:.1f}", LABELS[i % 3]] for i in range(30)]


def write_text_csv(folder):
    """HEADER and ROWS as ``folder/data.csv``; returns its path and its records."""
    records = [_record(HEADER)] + [_record(row) for row in ROWS]
    records[-1] = records[-1].rstrip("\r\n")  # no line break after the last row
    path = folder / "data.csv"
    path.write_bytes("".join(records).encode())
    return path, records


@pytest.fixture
def text_csv(tmp_path):
    return write_text_csv(tmp_path)


@pytest.mark.parametrize("flagged", [[], [0, 4, 29]])
def test_clean_writes_the_kept_rows_byte_for_byte(tmp_path, text_csv, monkeypatch, capsys,
                                                  flagged):
    path, records = text_csv
    flag_rows(monkeypatch, flagged)
    out_path = tmp_path / "cleaned.csv"
    status, out, err = run(["clean", path, "--label", "label", "--drop", "note", "--out",
                            out_path, "--top", "0", *FAST_ARGS], capsys)
    assert status == 0, err
    kept = [records[0]] + [r for i, r in enumerate(records[1:]) if i not in flagged]
    assert out_path.read_bytes() == "".join(kept).encode()
    assert f"Wrote {len(ROWS) - len(flagged)} rows" in out


def test_clean_relabel_rewrites_only_the_label_cell(tmp_path, text_csv, monkeypatch, capsys):
    path, records = text_csv
    # Classes in order '0.0', '001', 'b, "q"'; a flagged row is given the next one. A new
    # label is quoted where it must be, or where the cell it replaces was.
    flag_rows(monkeypatch, [0, 2])
    out_path = tmp_path / "relabelled.csv"
    status, _, err = run(["clean", path, "--label", "label", "--drop", "note", "--relabel",
                          "--out", out_path, "--top", "0", *FAST_ARGS], capsys)
    assert status == 0, err
    expected = list(records)
    expected[1] = _record(ROWS[0][:4] + [LABELS[2]])
    expected[3] = _record(ROWS[2][:4] + ['"0.0"'])
    assert out_path.read_bytes() == "".join(expected).encode()


def test_labels_stay_text(text_csv):
    path, _ = text_csv
    table, _ = cli.read_table(str(path))
    features, y, _ = cli.prepare_features(table, "label", drop=["note"])
    assert sorted(set(y)) == ['0.0', '001', 'b, "q"']
    assert features["zip"].dtype == float and features["code"].dtype == object
    assert set(features["code"]) == {"NA", "None", "NULL", "x", ""}


@pytest.mark.parametrize("labels, message", [
    (["a", None, "b", "a"], "1 missing label(s) (first in row 1: None)"),
    ([1, "a", 2, "a"], "mixes text and numbers (e.g. 'a' and 1); make every label text"),
])
def test_unusable_labels_name_the_column_and_the_fix(labels, message):
    table = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": pd.Series(labels, dtype=object)})
    with pytest.raises(cli.CLIError, match="label column 'y'") as error:
        cli.prepare_features(table, "y")
    assert message in str(error.value)


def test_na_text_in_the_label_column_is_a_missing_label(tmp_path, capsys):
    path = _write(tmp_path, "d.csv", "a,label\n1,x\n2,NA\n3,y\n4,y\n")
    status, _, err = run(["detect", path, "--label", "label", *FAST_ARGS], capsys)
    assert status == 1 and "label column 'label' has 1 missing label(s)" in err


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("command", ["detect", "clean"])
def test_out_equal_to_the_input_needs_force(tmp_path, text_csv, monkeypatch, capsys, command):
    path, records = text_csv
    calls = flag_rows(monkeypatch, [0])
    argv = [command, path, "--label", "label", "--drop", "note", "--top", "0", *FAST_ARGS]
    alias = tmp_path / "alias.csv"
    alias.symlink_to(path)
    for out in (path, alias):
        status, _, err = run(argv + ["--out", out], capsys)
        assert status == 1 and "is the input file" in err and "--force" in err
    assert calls == [] and path.read_bytes() == "".join(records).encode()
    if command == "clean":
        status, _, err = run(argv + ["--out", path, "--force"], capsys)
        assert status == 0, err
        assert path.read_bytes() == "".join([records[0]] + records[2:]).encode()


@pytest.mark.parametrize("where, message", [
    ("folder", "is a directory"),
    ("file/out.csv", "does not exist"),
    ("missing/out.csv", "does not exist"),
])
def test_unusable_out_fails_before_training(tmp_path, text_csv, monkeypatch, capsys, where,
                                            message):
    path, _ = text_csv
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    calls = flag_rows(monkeypatch, [])
    status, _, err = run(["clean", path, "--label", "label", "--drop", "note", "--out",
                          tmp_path / where, *FAST_ARGS], capsys)
    assert status == 1 and message in err and err.count("\n") == 1
    assert calls == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in read-only folders")
def test_read_only_folder_fails_before_training(tmp_path, text_csv, monkeypatch, capsys):
    path, _ = text_csv
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    calls = flag_rows(monkeypatch, [])
    status, _, err = run(["clean", path, "--label", "label", "--drop", "note", "--out",
                          folder / "out.csv", *FAST_ARGS], capsys)
    folder.chmod(0o700)
    assert status == 1 and "cannot write in" in err and calls == []


@pytest.mark.parametrize("command", ["detect", "clean"])
def test_ctrl_c_during_the_fit_exits_130_and_writes_nothing(tmp_path, csv, monkeypatch,
                                                             capsys, command):
    def interrupted(self, X, y, pred_probs=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(NoisyLabelDetector, "fit", interrupted)
    before = _files(tmp_path)
    status, _, err = run([command, csv, "--label", "label", "--out", tmp_path / "out.csv",
                          *FAST_ARGS], capsys)
    assert status == 130 and "interrupted" in err
    assert _files(tmp_path) == before


@pytest.mark.parametrize("failure, status", [(KeyboardInterrupt, 130), (OSError, 1)])
def test_a_failed_write_leaves_the_old_output_and_no_partial_file(
        tmp_path, text_csv, monkeypatch, capsys, failure, status):
    path, _ = text_csv
    flag_rows(monkeypatch, [3])
    out_path = tmp_path / "cleaned.csv"
    out_path.write_text("the previous output")
    before = _files(tmp_path)

    def fail(source, target):
        # The audit trail, then the table: each written in full, then moved.
        assert open(source).read().startswith(("row,action", "zip,code"))
        raise failure("disk gone")

    monkeypatch.setattr(os, "replace", fail)
    result, _, _ = run(["clean", path, "--label", "label", "--drop", "note", "--out",
                        out_path, "--top", "0", *FAST_ARGS], capsys)
    assert result == status
    assert out_path.read_text() == "the previous output" and _files(tmp_path) == before


def test_a_csv_gz_that_is_not_gzip_names_the_file(tmp_path, csv, capsys):
    path = tmp_path / "data.csv.gz"
    path.write_bytes(csv.read_bytes())
    status, _, err = run(["detect", path, "--label", "label", *FAST_ARGS], capsys)
    assert status == 1 and err.count("\n") == 1
    assert f"{path}: not a valid gzip file" in err


def test_compressed_input_and_output(tmp_path, text_csv, monkeypatch, capsys):
    path, records = text_csv
    flag_rows(monkeypatch, [5])
    packed = tmp_path / "data.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    out_path = tmp_path / "cleaned.csv.xz"
    status, _, err = run(["clean", packed, "--label", "label", "--drop", "note", "--out",
                          out_path, "--top", "0", *FAST_ARGS], capsys)
    assert status == 0, err
    expected = records[:6] + records[7:]
    assert lzma.decompress(out_path.read_bytes()) == "".join(expected).encode()


def test_clean_keeps_a_bom_blank_lines_and_tabs(tmp_path, monkeypatch, capsys):
    rows = [f"{i}\t{i % 2}\t{'xy'[i % 2]}\n" for i in range(8)]
    content = "\ufeffa\t\tlabel\n" + "".join(rows[:4]) + "\n" + "".join(rows[4:])
    path = _write(tmp_path, "data.tsv", content)
    flag_rows(monkeypatch, [5])
    out_path = tmp_path / "cleaned.tsv"
    status, _, err = run(["clean", path, "--label", "label", "--drop", "Unnamed: 1",
                          "--out", out_path, "--top", "0", *FAST_ARGS], capsys)
    assert status == 0, err
    assert out_path.read_text() == content.replace(rows[5], "")
