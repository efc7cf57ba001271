"""The audit trail of ``sklearn-rmd clean``: which rows it removed or relabelled, and why.

The cleaned table stays a byte-for-byte copy of the kept rows, so the record
of what changed goes to a file of its own, one line per changed row:

* ``row``: the row's position among the data rows of the input, counting
  from 0 (the header and blank lines are not rows): the row numbers of
  ``sklearn-rmd detect``'s report and the index ``pandas.read_csv`` gives;
* the ``--id-column``, when one is given;
* ``action``: ``removed`` or ``relabelled``;
* ``given_label``: the label the row had in the input;
* ``suggested_label``: the detector's suggestion (the new label of a
  relabelled row);
* ``label_quality``: the detector's score of the given label (1 = clean).
"""

from pathlib import Path

import numpy as np

from .tables import COMPRESSIONS, PARQUET_SUFFIXES, require_pandas

#: Columns of the audit trail, after ``row`` and the id column if any.
AUDIT_COLUMNS = ("action", "given_label", "suggested_label", "label_quality")
AUDIT_SUFFIX = ".audit.csv"
_TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt") + PARQUET_SUFFIXES


def default_audit_path(out):
    """Where ``clean`` writes its audit trail unless told otherwise.

    ``--out``'s name without its compression and table suffixes, then
    ``.audit.csv``, in the same folder: ``cleaned.csv`` ->
    ``cleaned.audit.csv``, ``cleaned.csv.gz`` -> ``cleaned.audit.csv``,
    ``cleaned.parquet`` -> ``cleaned.audit.csv``.

    Parameters
    ----------
    out : str
      The cleaned table's path.

    Returns
    -------
    path : str
    """
    path = Path(str(out))
    name = path.name
    for suffixes in (tuple(COMPRESSIONS) + (".zip",), _TABLE_SUFFIXES):
        suffix = Path(name).suffix
        if suffix.lower() in suffixes:
            name = name[:-len(suffix)]
    return str(path.with_name(name + AUDIT_SUFFIX))


def audit_trail(given, labels, keep, suggested, quality, ids=None):
    """One row per removed or relabelled row, in the input's order.

    Parameters
    ----------
    given : array-like of shape (n_rows,)
      The labels of the input.

    labels : array-like of shape (n_rows,)
      The labels written out (``given`` with the relabelled rows changed).

    keep : array-like of bool of shape (n_rows,)
      Rows written out.

    suggested : array-like of shape (n_rows,)
      The detector's suggested labels.

    quality : array-like of float of shape (n_rows,)
      The detector's label quality of each given label.

    ids : pandas.Index or None (default=None)
      Row identifiers (the ``--id-column``), written after ``row``.

    Returns
    -------
    trail : pandas.DataFrame
      Columns ``row``, the id column when ``ids`` is given, then
      :data:`AUDIT_COLUMNS`; no index.
    """
    pd = require_pandas()
    given, labels = np.asarray(given, dtype=object), np.asarray(labels, dtype=object)
    removed = ~np.asarray(keep, dtype=bool)
    changed = np.flatnonzero(removed | (labels != given))
    columns = {"row": changed}
    if ids is not None:
        columns[ids.name or "id"] = np.asarray(ids)[changed]
    columns.update(
        action=np.where(removed[changed], "removed", "relabelled"),
        given_label=given[changed],
        suggested_label=np.asarray(suggested, dtype=object)[changed],
        label_quality=np.asarray(quality, dtype=float)[changed])
    return pd.DataFrame(columns)
