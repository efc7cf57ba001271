"""Out-of-sample class probabilities for the detector.

* :func:`cross_fit`: each row's probabilities from a model that did not see
  it, over the folds of a cv splitter (an :class:`RMDClassifier` averages
  them over its training epochs, :class:`HeldOutProbabilities`);
* :func:`single_fit`: one fit on all rows, each row's training-batch
  probabilities averaged over the epochs (:class:`TrainingDynamics`).

An :class:`RMDClassifier` is copied for every fit with the shared, fitted
teacher (:func:`fold_model`); any other classifier is cloned.
"""

import numbers
import warnings

import numpy as np
import torch
from skorch.callbacks import Callback
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, check_cv

from ._device import torch_seed
from ._guards import SCALE_X
from .classifier import RMDClassifier
from .teacher import is_fitted


class HeldOutProbabilities(Callback):
    """Average the held-out rows' probabilities over the training epochs."""

    def __init__(self, X_held_out):
        self.X_held_out = X_held_out

    def initialize(self):
        self.total_, self.n_epochs_ = None, 0
        return self

    def on_epoch_end(self, net, **kwargs):
        proba = net.predict_proba({"x": self.X_held_out}).astype(np.float64)
        self.total_ = proba if self.total_ is None else self.total_ + proba
        self.n_epochs_ += 1

    def mean(self):
        """The held-out rows' probabilities, averaged over the finished epochs."""
        if self.total_ is None:
            raise RuntimeError(
                "No epoch ended, so there are no held-out probabilities: the fold's "
                "training stopped before its first epoch finished."
            )
        return self.total_ / self.n_epochs_


class TrainingDynamics(Callback):
    """Average each row's training-batch probabilities over the epochs."""

    def __init__(self, n_samples, n_classes):
        self.n_samples = n_samples
        self.n_classes = n_classes

    def initialize(self):
        self.total_ = np.zeros((self.n_samples, self.n_classes))
        self.seen_ = np.zeros(self.n_samples)
        return self

    def on_batch_end(self, net, batch=None, training=None, y_pred=None, **kwargs):
        if not training:
            return
        index = batch[0]["index"].cpu().numpy()
        proba = torch.softmax(y_pred[0].detach().float(), dim=-1).mean(dim=1)
        self.total_[index] += proba.cpu().numpy()
        self.seen_[index] += 1

    def mean(self):
        """Each row's probabilities, averaged over the batches that trained on it."""
        return self.total_ / np.maximum(self.seen_, 1)[:, None]


def shared_teacher(estimator, X32, rng, log=None):
    """The RMDClassifier ``estimator``'s teacher, fitted once on all rows
    (labels unused) unless it came fitted; ``log`` receives a line when it trains."""
    teacher = estimator.build_teacher()
    if is_fitted(teacher):
        return teacher
    if log is not None:
        log("Teacher: self-supervised training on all rows (labels unused)")
    return teacher.set_params(random_state=rng).fit(X32)


def fold_model(estimator, teacher, seed, recorder, reseed):
    """An unfitted copy of the RMDClassifier ``estimator`` that shares the
    fitted ``teacher`` and reports to ``recorder``; seeded with ``seed`` when
    ``reseed`` or when the estimator has no ``random_state``."""
    params = dict(teacher=teacher,
                  callbacks=list(estimator.callbacks or []) + [recorder])
    if reseed or estimator.random_state is None:
        params["random_state"] = seed
    return clone(estimator).set_params(**params)


def make_folds(cv, X, y_encoded, rng):
    """The (train, held-out) index pairs of ``cv``; an int gives shuffled
    stratified folds seeded from ``rng``."""
    if isinstance(cv, numbers.Integral):
        cv = StratifiedKFold(cv, shuffle=True, random_state=rng.randint(2**31 - 1))
    else:
        cv = check_cv(cv, y_encoded, classifier=True)
    return list(cv.split(X, y_encoded))


def cross_fit(estimator, X, X32, y_encoded, classes, teacher, rng, *, cv, reseed,
              log=None, histories=None):
    """Out-of-sample probabilities of every row, cross-fitted over ``cv``.

    Parameters
    ----------
    estimator : classifier
      An RMDClassifier (copied per fold with ``teacher``, trained on the
      encoded labels of ``X32``) or any classifier with ``predict_proba``
      (cloned per fold, trained on ``X`` and the labels ``classes[y_encoded]``).

    X, X32 : ndarray of shape (n_samples, n_features)
      The validated rows, and the same as writable float32.

    y_encoded : ndarray of shape (n_samples,)
      Labels encoded as indices into ``classes``.

    classes : ndarray of shape (n_classes,)
      Sorted class labels.

    teacher : SimSiamTeacher or None
      The fitted teacher the RMDClassifier folds share.

    rng : numpy RandomState
      Draws the folds (an int ``cv``) and the seed of each fold.

    cv : int or cross-validation splitter
      The folds.

    reseed : bool
      Seed every fold's RMDClassifier from ``rng``, even when it has a
      ``random_state``.

    log : callable or None (default=None)
      Receives one line per fold.

    histories : list or None (default=None)
      Receives the training history of each fold's RMDClassifier.

    Returns
    -------
    probs : ndarray of shape (n_samples, n_classes)
      Rows sum to 1.
    """
    n_classes = len(classes)
    probs = np.zeros((len(X), n_classes))
    covered = np.zeros(len(X), dtype=bool)
    folds = make_folds(cv, X, y_encoded, rng)
    for k, (train, held_out) in enumerate(folds):
        missing = np.setdiff1d(np.arange(n_classes), y_encoded[train])
        if len(missing):
            warnings.warn(
                f"Fold {k}: classes {list(classes[missing])} have no training "
                "rows, so its model gives them probability 0. Use a stratified cv "
                "(an int) or fewer folds.", UserWarning, stacklevel=4)
        if log is not None:
            log(f"Fold {k + 1}/{len(folds)}: {len(train)} training rows")
        seed = torch_seed(rng)
        if isinstance(estimator, RMDClassifier):
            recorder = HeldOutProbabilities(X32[held_out])
            model = fold_model(estimator, teacher, seed, recorder, reseed)
            model.fit(X32[train], y_encoded[train])  # classes_: the encoded labels
            fold_probs, columns = recorder.mean(), model.classes_
            if histories is not None:
                histories.append(model.history_)
        else:
            model = clone(estimator).fit(X[train], classes[y_encoded[train]])
            fold_probs = model.predict_proba(X[held_out])
            columns = np.searchsorted(classes, model.classes_)
        if not np.all(np.isfinite(fold_probs)):
            raise RuntimeError(
                f"Fold {k}: the estimator's probabilities are not finite: it diverged. "
                f"Lower its learning rate, {SCALE_X}"
            )
        probs[held_out] = 0.0
        probs[np.ix_(held_out, columns)] = fold_probs
        covered[held_out] = True
    if not covered.all():
        raise ValueError(
            "The cv splitter left some rows out of every held-out fold; use a "
            "splitter whose test folds cover every row (e.g. an int or KFold)."
        )
    probs = np.clip(probs, 0.0, None)
    sums = probs.sum(axis=1, keepdims=True)
    return np.where(sums > 0, probs / np.where(sums > 0, sums, 1.0), 1.0 / n_classes)


def single_fit(estimator, X32, y_encoded, n_classes, teacher, seed, *, reseed,
               histories=None):
    """Each row's probabilities from one RMDClassifier fit on all rows, averaged
    over the epochs (rows it held out for early stopping: predicted after);
    ``histories`` (a list) receives the fit's training history."""
    recorder = TrainingDynamics(len(X32), n_classes)
    model = fold_model(estimator, teacher, seed, recorder, reseed)
    model.fit(X32, y_encoded)
    if histories is not None:
        histories.append(model.history_)
    probs = recorder.mean()
    unseen = recorder.seen_ == 0
    if unseen.any():  # rows the model held out (early stopping): predict them
        probs[unseen] = model.predict_proba(X32[unseen])
    return probs / probs.sum(axis=1, keepdims=True)
