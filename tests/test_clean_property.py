"""Property: ``sklearn-rmd clean`` writes every kept record exactly as it was read."""

import csv
import io
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("pandas")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_cli import FAST_ARGS, flag_rows  # noqa: E402

from sklearn_rmd.cli import main  # noqa: E402

# Cells a typed reader would rewrite, and cells that need quoting.
TRICKY = ["NA", "None", "NULL", "nan", "", " ", "02139", "007", "0.0", "1e3", "-0", "TRUE",
          "a,b", 'say "hi"', "two\nlines", "cr\rlf", "é", "\t"]
cells = st.one_of(st.sampled_from(TRICKY),
                  st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                          max_size=6))
LABELS = ["001", "1", "0.0", "x y", 'q"t', "a,b"]


@st.composite
def tables(draw):
    n_rows = draw(st.integers(4, 12))
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=n_rows, max_size=n_rows)
                  .filter(lambda values: len(set(values)) >= 2))
    rows = [[draw(cells), draw(cells), draw(st.sampled_from(["a", "b", "NA", "", "b c"])),
             label] for label in labels]
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    records = [_record(row, quoting, ending) for row in [["free", "more", "f", "label"]] + rows]
    if draw(st.booleans()):
        records[-1] = records[-1][:-len(ending)]
    flagged = draw(st.sets(st.integers(0, n_rows - 1)))
    return records, rows, sorted(flagged), quoting, draw(st.booleans())


def _record(row, quoting, ending=""):
    buffer = io.StringIO()
    # '\r\n' makes the writer quote cells holding either character.
    csv.writer(buffer, quoting=quoting, lineterminator="\r\n").writerow(row)
    return buffer.getvalue()[:-2] + ending


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables())
def test_clean_copies_kept_records_exactly(monkeypatch, capsys, table):
    records, rows, flagged, quoting, relabel = table
    flag_rows(monkeypatch, flagged)
    with tempfile.TemporaryDirectory() as folder:
        data, out = Path(folder, "data.csv"), Path(folder, "out.csv")
        data.write_bytes("".join(records).encode())
        status = main([str(a) for a in ["clean", data, "--label", "label", "--drop", "free",
                                         "more", "--out", out, "--mode", "single",
                                         "--top", "0", *FAST_ARGS, *["--relabel"] * relabel]])
        written = out.read_bytes() if out.exists() else None
    assert status == 0, capsys.readouterr().err
    capsys.readouterr()
    expected = list(records)
    if relabel:  # the label cell (the last) changes, quoted like the old one or as needed
        classes = sorted(set(row[-1] for row in rows))
        for i in flagged:
            old, new = rows[i][-1], classes[(classes.index(rows[i][-1]) + 1) % len(classes)]
            old_cell = _record([old], quoting)
            quote = old_cell.startswith('"') or any(c in new for c in ',"\r\n')
            new_cell = '"' + new.replace('"', '""') + '"' if quote else new
            record = expected[i + 1]
            body = record.rstrip("\r\n")
            expected[i + 1] = body[:-len(old_cell)] + new_cell + record[len(body):]
    else:
        expected = [expected[0]] + [r for i, r in enumerate(records[1:]) if i not in flagged]
    assert written == "".join(expected).encode()
