"""``sklearn-rmd clean``'s audit trail: which rows it removed or relabelled."""

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
from test_cli import FAST_ARGS, flag_rows, run, write_text_csv  # noqa: E402

from sklearn_rmd.audit import audit_trail, default_audit_path  # noqa: E402

COLUMNS = ["row", "action", "given_label", "suggested_label", "label_quality"]
FLAGGED = [0, 4, 29]


@pytest.fixture
def text_csv(tmp_path):
    return write_text_csv(tmp_path)


def read_text(path):
    """A CSV file with every cell as the text it holds."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def clean(path, out, capsys, *options):
    return run(["clean", path, "--label", "label", "--drop", "note", "--out", out,
                "--top", "0", *FAST_ARGS, *options], capsys)


@pytest.mark.parametrize("relabel", [False, True])
def test_the_audit_trail_goes_next_to_out(tmp_path, text_csv, monkeypatch, capsys, relabel):
    path, records = text_csv
    flag_rows(monkeypatch, FLAGGED)
    out = tmp_path / "cleaned.csv"
    status, printed, err = clean(path, out, capsys, *["--relabel"] * relabel)
    assert status == 0, err

    audit = read_text(tmp_path / "cleaned.audit.csv")
    given = read_text(path)["label"]
    classes = sorted(set(given))
    assert list(audit.columns) == COLUMNS
    assert list(audit["row"]) == [str(row) for row in FLAGGED]
    assert list(audit["action"]) == ["relabelled" if relabel else "removed"] * len(FLAGGED)
    assert list(audit["given_label"]) == list(given[FLAGGED])
    assert list(audit["suggested_label"]) == [
        classes[(classes.index(label) + 1) % len(classes)] for label in given[FLAGGED]]
    assert list(audit["label_quality"].astype(float)) == [0.25] * len(FLAGGED)
    assert f"audit trail of the {len(FLAGGED)} changed rows to {tmp_path / 'cleaned.audit.csv'}"\
        in printed
    if not relabel:  # the cleaned table is still the kept records, byte for byte
        kept = [records[0]] + [r for i, r in enumerate(records[1:]) if i not in FLAGGED]
        assert out.read_bytes() == "".join(kept).encode()


def test_audit_names_the_rows_by_id_column_too(tmp_path, text_csv, monkeypatch, capsys):
    path, _ = text_csv
    flag_rows(monkeypatch, FLAGGED)
    audit_path = tmp_path / "changes.csv"
    status, _, err = clean(path, tmp_path / "out.csv", capsys, "--relabel", "--id-column",
                           "zip", "--audit", audit_path)
    assert status == 0, err
    audit = read_text(audit_path)
    assert list(audit.columns) == ["row", "zip"] + COLUMNS[1:]
    assert list(audit["zip"]) == list(read_text(path)["zip"][FLAGGED])  # leading 0 kept
    assert not (tmp_path / "out.audit.csv").exists()


def test_no_audit_writes_only_the_table(tmp_path, text_csv, monkeypatch, capsys):
    path, _ = text_csv
    flag_rows(monkeypatch, FLAGGED)
    status, printed, err = clean(path, tmp_path / "out.csv", capsys, "--no-audit")
    assert status == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "out.csv"]
    assert "audit trail" not in printed


@pytest.mark.parametrize("where, message", [
    ("out.csv", "is also --out"),
    ("missing/audit.csv", "does not exist"),
    ("data.csv", "is the input file"),
])
def test_unusable_audit_fails_before_training(tmp_path, text_csv, monkeypatch, capsys,
                                              where, message):
    path, records = text_csv
    calls = flag_rows(monkeypatch, FLAGGED)
    status, _, err = clean(path, tmp_path / "out.csv", capsys, "--audit", tmp_path / where)
    assert status == 1 and message in err
    assert calls == [] and path.read_bytes() == "".join(records).encode()


def test_audit_and_no_audit_exclude_each_other(tmp_path, text_csv, capsys):
    path, _ = text_csv
    with pytest.raises(SystemExit) as stop:
        clean(path, tmp_path / "out.csv", capsys, "--audit", tmp_path / "a.csv", "--no-audit")
    assert stop.value.code == 2


@pytest.mark.parametrize("out, expected", [
    ("cleaned.csv", "cleaned.audit.csv"),
    ("data/cleaned.csv.gz", "data/cleaned.audit.csv"),
    ("cleaned.TSV.zip", "cleaned.audit.csv"),
    ("cleaned.parquet", "cleaned.audit.csv"),
    ("my.data.v2.csv", "my.data.v2.audit.csv"),
    ("cleaned", "cleaned.audit.csv"),
])
def test_default_audit_path(out, expected):
    assert default_audit_path(out) == expected


def test_audit_trail_lists_only_changed_rows():
    given = np.array(["a", "b", "a", "b"], dtype=object)
    suggested = np.array(["b", "b", "b", "a"], dtype=object)
    flagged = np.array([True, True, False, True])  # row 1 is flagged but keeps its label
    labels = np.where(flagged, suggested, given)
    ids = pd.Index(["w", "x", "y", "z"], name="sample")
    trail = audit_trail(given, labels, np.ones(4, bool), suggested, [0.1, 0.2, 0.9, 0.3], ids)
    assert list(trail.columns) == ["row", "sample"] + COLUMNS[1:]
    assert list(trail["row"]) == [0, 3] and list(trail["sample"]) == ["w", "z"]
    assert list(trail["given_label"]) == ["a", "b"]
    assert list(trail["suggested_label"]) == ["b", "a"]
    removed = audit_trail(given, given, ~flagged, suggested, [0.1, 0.2, 0.9, 0.3])
    assert list(removed["row"]) == [0, 1, 3] and set(removed["action"]) == {"removed"}
