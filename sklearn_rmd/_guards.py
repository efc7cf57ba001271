"""What keeps a diverged, failed or interrupted fit from passing as a good one.

* :class:`DivergenceCheck` stops training with a clear error once a loss or
  a weight is not finite;
* :func:`user_interrupts` tells a user's Ctrl-C from the KeyboardInterrupt
  that skorch's callbacks raise to end training early (``EarlyStopping``):
  skorch swallows both;
* :func:`fit_or_restore` puts an estimator's attributes back as they were
  when its fit raises, so that a failed fit never leaves a mixed state.
"""

import contextlib
import math
import signal
import threading

import numpy as np
import torch
from skorch.callbacks import Callback

#: The advice every divergence error ends with.
SCALE_X = ("or scale X (e.g. sklearn.preprocessing.StandardScaler) so that its columns "
           "are of order 1.")


class DivergenceCheck(Callback):
    """Raise a RuntimeError naming the stage and the fix once training diverges.

    The batch losses are read from the history (no extra device sync); the
    weights are checked once per epoch, since a last step can make them
    non-finite while every loss was finite.

    Parameters
    ----------
    stage : str
      The training stage, as the error names it (e.g. 'Stage 2 (the classifier)').

    lr_name : str
      The parameter that sets this stage's learning rate, as the fix names it.
    """

    def __init__(self, stage, lr_name):
        self.stage = stage
        self.lr_name = lr_name

    def _diverged(self, net, what):
        return RuntimeError(
            f"{self.stage} diverged at epoch {len(net.history)}: {what}. Its learning "
            f"rate is {net.lr:g}: lower {self.lr_name}, {SCALE_X}"
        )

    def on_batch_end(self, net, training=None, **kwargs):
        name = "train_loss" if training else "valid_loss"
        loss = net.history[-1, "batches", -1, name]
        if not math.isfinite(loss):
            raise self._diverged(net, f"its {name.replace('_', ' ')} became {loss}")

    def on_epoch_end(self, net, **kwargs):
        finite = [torch.isfinite(p).all() for p in net.module_.parameters()]
        if finite and not bool(torch.stack(finite).all()):
            raise self._diverged(net, "its weights became non-finite (NaN or inf)")


def check_finite_proba(proba):
    """``proba``, or a RuntimeError when a network gave non-finite probabilities."""
    bad = ~np.isfinite(proba).all(axis=1)
    if bad.any():
        raise RuntimeError(
            f"The network gives non-finite probabilities for {int(bad.sum())} of "
            f"{len(proba)} rows (the first: row {int(np.flatnonzero(bad)[0])}): their "
            "values are far outside what it was trained on. Transform X as it was for "
            "fit, " + SCALE_X
        )
    return proba


@contextlib.contextmanager
def user_interrupts():
    """Record the user's interrupts (SIGINT, Ctrl-C) raised inside the block.

    Yields a list that gets an entry when the process's SIGINT handler raised
    KeyboardInterrupt; any other KeyboardInterrupt (a callback's) is not
    recorded. Signals only reach the main thread, so elsewhere nothing is
    installed.
    """
    record = []
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield record
        return

    def handler(signum, frame):
        try:
            previous(signum, frame)
        except KeyboardInterrupt:
            record.append(signum)
            raise

    signal.signal(signal.SIGINT, handler)
    try:
        yield record
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def fit_or_restore(estimator):
    """Run a fit of ``estimator``; if it raises (Ctrl-C included), put every
    attribute back as it was before, then re-raise."""
    state = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(state)
        raise
