"""Input checks shared by the estimators."""

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data


def validate_labelled(estimator, X, y, dtype):
    """Validate ``X, y`` for fitting and encode ``y`` through its sorted classes.

    Returns ``X, classes, y_encoded`` (int64); raises ``ValueError`` for
    continuous targets and for fewer than two classes.
    """
    X, y = validate_data(estimator, X, y, dtype=dtype)
    check_classification_targets(y)
    classes, y_encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has only one class ({classes[0]!r}): there is no other label to learn "
            "or to suspect. Pass labels of at least two classes."
        )
    return X, classes, y_encoded.astype(np.int64)
