"""Confident learning on a probability matrix (Northcutt et al., JAIR 2021).

Pure numpy: per-class thresholds, the confident joint of given and likely
true labels, its calibration to the class counts, the noise matrix, the
posterior that a given label is clean, and the cut-off that turns them into
flagged rows (:func:`find_label_issues`). Labels are encoded ``0..K-1``.

Where this differs from cleanlab's functions of the same name:

* a row counts in the confident joint only under its most probable class,
  and only when that class clears its threshold (see :func:`confident_joint`);
* no diagonal entry is raised to 1 before calibrating: a class none of whose
  rows is counted is taken to be clean, others keep their counts;
* the calibrated joint is not rounded to integers;
* noise rates are not clipped: an empty column becomes a unit column.
"""

from typing import NamedTuple

import numpy as np

# Probabilities this close to a threshold count as reaching it.
_TOLERANCE = 1e-12


class LabelIssues(NamedTuple):
    """What :func:`find_label_issues` estimates; arrays over rows or classes."""

    thresholds: np.ndarray
    confident_joint: np.ndarray
    noise_matrix: np.ndarray
    noise_rate: float
    label_quality: np.ndarray
    suggested: np.ndarray
    ranked_indices: np.ndarray
    is_label_issue: np.ndarray


def suggested_labels(probs, labels):
    """Most probable class of each row; a tie with the given label keeps it."""
    rows = np.arange(len(labels))
    boosted = probs.copy()
    boosted[rows, labels] += _TOLERANCE
    return boosted.argmax(axis=1)


def per_class_thresholds(probs, labels, n_classes):
    """t_k = mean probability of class k over the rows labelled k (0 if none)."""
    counts = np.bincount(labels, minlength=n_classes)
    sums = np.zeros(n_classes)
    np.add.at(sums, labels, probs[np.arange(len(labels)), labels])
    return sums / np.maximum(counts, 1)


def confident_joint(probs, labels, n_classes, thresholds):
    """Counts C[given, true] of the rows confidently belonging to a class.

    A row counts for class j when j is its most probable class (a tie with
    the given label keeps the given label) and ``probs[:, j] >= t_j``; other
    rows are not counted. cleanlab counts every row that clears some
    threshold: under that class when it clears one, under its most probable
    class when it clears several. With that rule, a class the model is
    unsure of (a rare one: few rows, low ``t_j``) claims rows that are
    clearly of another class, and every such claim counts as a wrong label
    although the row's label is its most probable class. Requiring the most
    probable class keeps each count a real disagreement between the label
    and the model, whatever the other classes' thresholds.
    """
    suggested = suggested_labels(probs, labels)
    rows = np.arange(len(labels))
    counted = probs[rows, suggested] >= thresholds[suggested] - _TOLERANCE
    joint = np.zeros((n_classes, n_classes))
    np.add.at(joint, (labels[counted], suggested[counted]), 1.0)
    return joint


def calibrate_joint(joint, labels, n_classes):
    """Rescale each row of the joint so it sums to the given-label count.

    A row with nothing counted becomes its class count on the diagonal: the
    class is assumed clean.
    """
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    row_sums = joint.sum(axis=1, keepdims=True)
    calibrated = np.where(row_sums > 0, joint / np.maximum(row_sums, 1e-12), 0.0)
    empty = row_sums[:, 0] == 0
    calibrated[empty, empty.nonzero()[0]] = 1.0
    return calibrated * counts[:, None]


def noise_matrix(calibrated, n_classes):
    """P(given | true) from the calibrated joint; columns sum to 1.

    A true class no row was counted for gets a unit column (no noise).
    """
    column_sums = calibrated.sum(axis=0, keepdims=True)
    matrix = np.where(column_sums > 0, calibrated / np.maximum(column_sums, 1e-12), 0.0)
    empty = column_sums[0] == 0
    matrix[:, empty] = 0.0
    matrix[empty.nonzero()[0], empty.nonzero()[0]] = 1.0
    return matrix


def clean_posterior(probs, labels, noise, smoothing=0.1):
    """P(the given label is the true one | row), under the estimated noise.

    ``probs`` stands in for the true-class posterior of each row; the noise
    matrix T[given, true] says which true classes could have produced the
    given label, so a row is only suspicious of the classes that do get
    mislabelled as its label (pair noise, confusable classes)::

        q_i = T[s, s] p_i[s] / sum_j T[s, j] p_i[j]

    ``smoothing`` mixes T with a uniform matrix so that no class is ruled out.
    """
    n_classes = probs.shape[1]
    transition = (1.0 - smoothing) * noise + smoothing / n_classes
    rows = np.arange(len(labels))
    clean = transition[labels, labels] * probs[rows, labels]
    total = np.einsum("ij,ij->i", transition[labels], probs)
    return np.clip(clean / np.maximum(total, 1e-12), 0.0, 1.0)


def find_label_issues(probs, labels, n_classes, threshold=None, noise_fraction=None):
    """Score every row's label and flag the probably wrong ones.

    Parameters
    ----------
    probs : ndarray of shape (n_samples, n_classes)
      Out-of-sample class probabilities; rows sum to 1.

    labels : ndarray of int, shape (n_samples,)
      Given labels, encoded ``0..n_classes-1``.

    n_classes : int
      Number of classes.

    threshold : float or None (default=None)
      Flag the rows whose label quality is below it.

    noise_fraction : float or None (default=None)
      Flag this share of rows, the lowest quality first.

    Returns
    -------
    LabelIssues
      With neither cut-off given, the rows with the lowest quality, as many
      as the estimated number of wrong labels (the off-diagonal mass of the
      calibrated joint), are flagged, except those whose most probable class
      is their label: a row the model agrees with is never flagged by the
      estimate, as in cleanlab's ``find_label_issues``.
      ``ranked_indices`` orders all rows by quality, then self-confidence.
    """
    n = len(labels)
    rows = np.arange(n)
    thresholds = per_class_thresholds(probs, labels, n_classes)
    joint = confident_joint(probs, labels, n_classes, thresholds)
    calibrated = calibrate_joint(joint, labels, n_classes)
    noise = noise_matrix(calibrated, n_classes)
    n_estimated = calibrated.sum() - np.trace(calibrated)
    quality = clean_posterior(probs, labels, noise)
    suggested = suggested_labels(probs, labels)
    order = np.lexsort((rows, probs[rows, labels], quality))
    if threshold is not None:
        flagged_rows = order[:int(np.sum(quality < threshold))]
    elif noise_fraction is not None:
        flagged_rows = order[:int(round(noise_fraction * n))]
    else:
        # The estimate counts every wrong label, also those the model agrees
        # with (e.g. under pair noise); flag only the rows among the lowest-
        # quality ones that it would relabel. Refilling the count from other
        # disputed rows would reach correct ones instead.
        flagged_rows = order[:int(round(n_estimated))]
        flagged_rows = flagged_rows[suggested[flagged_rows] != labels[flagged_rows]]
    flagged = np.zeros(n, dtype=bool)
    flagged[flagged_rows] = True
    return LabelIssues(thresholds, joint, noise, float(n_estimated / n), quality,
                       suggested, order, flagged)
