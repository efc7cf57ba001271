"""Early stopping of stage 2 on a held-out split of the noisy labels."""

import warnings

import numpy as np
from skorch.callbacks import EarlyStopping, EpochScoring
from skorch.dataset import ValidSplit

from ._network_builder import silent


def noisy_accuracy(net, X, y):
    """Accuracy of a stage-2 net against the (noisy) labels of a split.

    Under noise that leaves each class's own label the most frequent, the
    best epoch by noisy accuracy is also the best by clean accuracy.
    """
    return float(np.mean(net.predict_proba(X).argmax(axis=1) == np.asarray(y)))


def early_stopping(y, validation_fraction, patience, seed, verbose=0):
    """The validation split and callbacks that stop stage 2 early.

    Parameters
    ----------
    y : ndarray of int, shape (n_samples,)
      Encoded labels; the split is stratified on them.

    validation_fraction : float in (0, 1)
      Share of rows held out.

    patience : int
      Epochs without a better held-out noisy accuracy before stopping; the
      best epoch's weights are kept.

    seed : int
      Seeds the split.

    verbose : int (default=0)
      Print the stop when non-zero.

    Returns
    -------
    split : skorch ValidSplit or None
      None (with a warning) when the split cannot hold two rows of each class.

    callbacks : list of (name, callback)
      Empty when ``split`` is None.
    """
    counts = np.bincount(y)
    n_valid = int(np.ceil(validation_fraction * len(y)))
    if counts.min() < 2 or n_valid < 2 * len(counts):
        warnings.warn(
            f"early_stopping was skipped: a validation split of {n_valid} rows "
            f"cannot hold two rows of each of the {len(counts)} classes. Raise "
            "validation_fraction, add rows, or set early_stopping=False.",
            UserWarning, stacklevel=4,
        )
        return None, []
    split = ValidSplit(validation_fraction, stratified=True, random_state=seed)
    callbacks = [
        ("valid_acc", EpochScoring(noisy_accuracy, lower_is_better=False, name="valid_acc")),
        ("early_stopping", EarlyStopping(monitor="valid_acc", lower_is_better=False,
                                         patience=patience, load_best=True,
                                         sink=print if verbose else silent)),
    ]
    return split, callbacks
