"""What a fitted NoisyLabelDetector reports: the per-row table and the text summary.

:class:`IssueReportMixin` gives the detector :meth:`~IssueReportMixin.label_issues`
(one row per sample) and :meth:`~IssueReportMixin.report` (every kind of
data issue as readable text, what the command line prints).
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted


def format_table(header, rows, indent="  "):
    """Lines of a plain-text table: text columns left-aligned, numbers right-aligned."""
    cells = [list(header)] + [[_cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(row[j], (int, float, np.number)) for row in rows)
               for j in range(len(header))]
    widths = [max(len(line[j]) for line in cells) for j in range(len(header))]
    return [indent + "  ".join(c.rjust(w) if num else c.ljust(w)
                               for c, w, num in zip(line, widths, numeric)).rstrip()
            for line in cells]


def _cell(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.4f}"
    return str(value)


def confused_pairs(noise_matrix, classes, top):
    """The ``top`` largest off-diagonal entries of P(given | true), largest first:
    (given class, true class, probability) triples, zeros left out."""
    off = np.array(noise_matrix, dtype=float)
    np.fill_diagonal(off, 0.0)
    order = np.argsort(off, axis=None, kind="stable")[::-1][:top]
    given, true = np.unravel_index(order, off.shape)
    return [(classes[g], classes[t], off[g, t]) for g, t in zip(given, true) if off[g, t] > 0]


def _plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


class IssueReportMixin:
    """The per-row table and the text report of a fitted detector."""

    def _row_names(self):
        index = getattr(self, "_index", None)
        return np.arange(len(self.label_quality_)) if index is None else np.asarray(index)

    def label_issues(self):
        """One row per sample: given and suggested label, quality, flag, rank.

        Returns
        -------
        table : pandas.DataFrame or numpy structured array
          Columns ``given_label``, ``suggested_label``, ``label_quality``,
          ``is_label_issue`` and ``rank`` (0 = most suspicious), in row
          order. A DataFrame when pandas is installed, indexed like ``X``
          when ``X`` was a DataFrame (or like ``y`` when ``y`` was a Series).
        """
        check_is_fitted(self, "label_quality_")
        rank = np.empty(len(self.ranked_indices_), dtype=np.int64)
        rank[self.ranked_indices_] = np.arange(len(rank))
        columns = {
            "given_label": self.classes_[self._labels_encoded],
            "suggested_label": self.suggested_label_,
            "label_quality": self.label_quality_,
            "is_label_issue": self.is_label_issue_,
            "rank": rank,
        }
        try:
            import pandas as pd
        except ImportError:
            dtype = [(name, np.asarray(values).dtype) for name, values in columns.items()]
            table = np.empty(len(rank), dtype=dtype)
            for name, values in columns.items():
                table[name] = values
            return table
        return pd.DataFrame(columns, index=getattr(self, "_index", None))

    def report(self, top=5):
        """A readable summary of every kind of issue found, as text.

        The text is returned, not printed: ``print(detector.report())``.

        Parameters
        ----------
        top : int (default=5)
          Rows (or sets, or class pairs) listed per section; 0 gives the
          counts alone.

        Returns
        -------
        text : str
          Sections: the counts of label issues (with the estimated noise
          rate), outliers and near-duplicate sets (and how many have
          conflicting labels); the most confused class pairs of
          ``noise_matrix_``; the ``top`` label issues (lowest label quality
          first), outliers (highest ``outlier_score_`` first) and
          near-duplicate sets (conflicting ones first), each row with its
          given and suggested label. Rows are named by the index of ``X``
          (or ``y``) when it had one, else numbered from 0.
        """
        check_is_fitted(self, "label_quality_")
        n = len(self.label_quality_)
        sets, conflict = self.near_duplicate_sets_, self.near_duplicate_label_conflict_
        lines = [
            f"Data issues in {n} rows, {len(self.classes_)} classes",
            f"  label issues: {_plural(self.n_label_issues_, 'row')} "
            f"({self.n_label_issues_ / n:.1%}); estimated noise rate {self.noise_rate_:.1%}",
            f"  outliers: {_plural(int(self.is_outlier_.sum()), 'row')}",
            f"  near-duplicate sets: {len(sets)} ({sum(len(s) for s in sets)} rows), "
            f"{int(conflict.sum())} with conflicting labels",
        ]
        if top > 0:
            lines += self._confusion_section(top) + self._label_section(top)
            lines += self._outlier_section(top) + self._duplicate_section(top)
        return "\n".join(lines)

    def _row_table(self, rows, score_name, scores):
        given = self.classes_[self._labels_encoded]
        names = self._row_names()
        return format_table(["row", "given", "suggested", score_name],
                            [(names[i], given[i], self.suggested_label_[i], float(scores[i]))
                             for i in rows])

    def _confusion_section(self, top):
        pairs = confused_pairs(self.noise_matrix_, self.classes_, top)
        if not pairs:
            return ["", "Most confused classes: none (the noise matrix is diagonal)."]
        return (["", "Most confused classes (estimated P(given label | true label)):"]
                + format_table(["given", "true", "probability"], pairs))

    def _label_section(self, top):
        rows = self.ranked_indices_[:min(top, self.n_label_issues_)]
        if not len(rows):
            return ["", "Label issues: none flagged."]
        return (["", f"Top {len(rows)} label issues (lowest label quality first):"]
                + self._row_table(rows, "label_quality", self.label_quality_))

    def _outlier_section(self, top):
        flagged = np.flatnonzero(self.is_outlier_)
        rows = flagged[np.argsort(-self.outlier_score_[flagged], kind="stable")][:top]
        if not len(rows):
            return ["", "Outliers: none flagged."]
        return (["", f"Top {len(rows)} outliers (highest outlier score first):"]
                + self._row_table(rows, "outlier_score", self.outlier_score_))

    def _duplicate_section(self, top):
        sets = self.near_duplicate_sets_
        if not sets:
            return ["", "Near-duplicate sets: none found."]
        order = np.argsort(~self.near_duplicate_label_conflict_, kind="stable")[:top]
        given, names = self.classes_[self._labels_encoded], self._row_names()
        table = [(", ".join(str(r) for r in names[sets[k]]),
                  ", ".join(str(g) for g in given[sets[k]]),
                  "yes" if self.near_duplicate_label_conflict_[k] else "no")
                 for k in order]
        return (["", f"Top {len(order)} near-duplicate sets (conflicting labels first):"]
                + format_table(["rows", "given labels", "conflict"], table))
