"""How well a detector finds the rows whose label was changed."""

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def detection_report(flipped_true, flagged, scores=None):
    """Compare flagged rows with the rows whose label is known to be wrong.

    Parameters
    ----------
    flipped_true : array-like of bool, shape (n_samples,)
      True where the label really is wrong (for example the ``flipped`` mask
      returned by :func:`sklearn_rmd.noise.make_noisy_labels`).

    flagged : array-like of bool, shape (n_samples,)
      True where the detector flagged the row (``fit_predict``'s output).

    scores : array-like of shape (n_samples,) or None (default=None)
      Label-quality scores, **low = suspicious** (``label_quality_``). They
      give the ranking metrics; None leaves those as NaN.

    Returns
    -------
    report : dict
      ``precision``, ``recall``, ``f1`` of ``flagged``; ``n_flagged`` and
      ``n_true`` (number of wrong labels); from ``scores``: ``auroc``,
      ``average_precision`` and ``precision_at_k``, the precision of the
      ``k = n_true`` lowest-scored rows. Metrics that are undefined (no wrong
      label, or only wrong labels) are NaN.

    Examples
    --------
    >>> from sklearn_rmd.metrics import detection_report
    >>> report = detection_report([True, False, False, True], [True, False, True, True],
    ...                           scores=[0.1, 0.9, 0.4, 0.2])
    >>> round(report["precision"], 3), report["recall"], report["precision_at_k"]
    (0.667, 1.0, 1.0)
    """
    truth = _as_mask(flipped_true, "flipped_true")
    flagged = _as_mask(flagged, "flagged")
    if flagged.shape != truth.shape:
        raise ValueError(
            f"flipped_true has {len(truth)} rows but flagged has {len(flagged)}; pass "
            "one entry per row of the same data."
        )
    n_true, n_flagged = int(truth.sum()), int(flagged.sum())
    hits = int(np.sum(truth & flagged))
    precision = hits / n_flagged if n_flagged else float("nan")
    recall = hits / n_true if n_true else float("nan")
    f1 = 2 * hits / (n_true + n_flagged) if n_true + n_flagged else float("nan")
    report = dict(precision=precision, recall=recall, f1=f1, n_flagged=n_flagged,
                  n_true=n_true, auroc=float("nan"), average_precision=float("nan"),
                  precision_at_k=float("nan"))
    if scores is not None:
        scores = np.asarray(scores, dtype=float).ravel()
        if scores.shape != truth.shape:
            raise ValueError(
                f"scores has {len(scores)} entries but flipped_true has {len(truth)}; "
                "pass one label-quality score per row."
            )
        if not np.all(np.isfinite(scores)):
            raise ValueError("scores contains NaN or infinity; pass finite label-quality scores.")
        suspicion = -scores
        if 0 < n_true < len(truth):
            report["auroc"] = float(roc_auc_score(truth, suspicion))
            report["average_precision"] = float(average_precision_score(truth, suspicion))
        if n_true:
            top = np.argsort(scores, kind="stable")[:n_true]
            report["precision_at_k"] = float(truth[top].mean())
    return report


def _as_mask(values, name):
    values = np.asarray(values).ravel()
    if values.dtype != bool:
        if not np.all(np.isin(values, (0, 1))):
            raise ValueError(f"{name} must be a boolean mask (True = wrong label / flagged).")
        values = values.astype(bool)
    return values
