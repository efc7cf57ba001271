"""Input and parameter checks of the estimators, raised before any training,
and the way back from validated arrays to the caller's containers."""

import hashlib
import numbers

import numpy as np
import torch
from skorch.callbacks import Callback
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from .graph import check_backend

MODES = ("cv", "single")
SPACES = ("input", "teacher")
ACTIONS = ("remove", "relabel")
BASE_LOSSES = ("ce", "gce", "sce", "coteaching")


def check_float32_range(estimator, X):
    """Refuse values of ``X`` that float32, which the networks and the neighbour
    search compute in, cannot hold (they would become inf)."""
    limit = np.finfo(np.float32).max
    if X.dtype == np.float32 or X.size == 0:
        return
    over = (X.max(axis=0) > limit) | (X.min(axis=0) < -limit)
    if over.any():
        column = int(np.flatnonzero(over)[0])
        names = getattr(estimator, "feature_names_in_", None)
        name = f"{column} ({names[column]!r})" if names is not None else f"{column}"
        value = X[np.argmax(np.abs(X[:, column])), column]
        raise ValueError(
            f"X column {name} holds {value:g}, beyond the float32 range (+-{limit:.3g}) "
            "the networks compute in. Scale X first (e.g. "
            "sklearn.preprocessing.StandardScaler, or divide that column by a constant)."
        )


def validate_rows(estimator, X, **kwargs):
    """``validate_data`` for unlabelled rows, as writable float32 within its range."""
    X = validate_data(estimator, X, dtype=[np.float64, np.float32], **kwargs)
    check_float32_range(estimator, X)
    # Writable: a read-only pandas view would make torch warn.
    return np.require(X, np.float32, "W")


def check_labels(y):
    """Refuse missing labels and labels mixing text with numbers, which
    ``np.unique`` cannot sort (scikit-learn would call them a regression target)."""
    if y.dtype != object:
        return
    missing = np.fromiter((v is None or (isinstance(v, float) and v != v) for v in y),
                          bool, len(y))
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(
            f"y has {len(rows)} missing labels (None or NaN), at rows {rows[:5].tolist()}"
            f"{' ...' if len(rows) > 5 else ''}: drop those rows or give them a label."
        )
    text = np.fromiter((isinstance(v, str) for v in y), bool, len(y))
    if text.any() and not text.all():
        first_text, first_other = y[np.argmax(text)], y[np.argmin(text)]
        raise ValueError(
            f"y mixes text labels with {type(first_other).__name__} labels (e.g. "
            f"{first_text!r} and {first_other!r}), which cannot be sorted into classes: "
            "convert them to one type, e.g. y.astype(str)."
        )


def validate_labelled(estimator, X, y, float32=False):
    """Validate ``X, y`` for fitting and encode ``y`` through its sorted classes.

    Returns ``X`` (float32, writable, with ``float32=True``; else float64 or
    float32), ``classes`` and ``y_encoded`` (int64); raises ``ValueError`` for
    values beyond float32's range, missing or mixed labels, continuous
    targets and fewer than two classes.
    """
    X, y = validate_data(estimator, X, y, dtype=[np.float64, np.float32])
    check_float32_range(estimator, X)
    check_labels(y)
    check_classification_targets(y)
    classes, y_encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has only one class ({classes[0]!r}): there is no other label to learn "
            "or to suspect. Pass labels of at least two classes."
        )
    if float32:
        X = np.require(X, np.float32, "W")  # writable: torch warns on read-only views
    return X, classes, y_encoded.astype(np.int64)


def check_augment(augment, rows, device):
    """Try a user's ``augment`` on two ``rows`` (without drawing from torch's
    generators): it must return a tensor of their shape."""
    sample = torch.as_tensor(rows, device=device)
    devices = [sample.device.index or 0] if sample.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        out = augment(sample)
    if not (isinstance(out, torch.Tensor) and out.shape == sample.shape):
        got = (f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor)
               else f"a {type(out).__name__}")
        raise ValueError(
            f"augment={augment!r} returned {got} for a batch tensor of shape "
            f"{tuple(sample.shape)}; it must return a torch tensor of the same shape "
            "(use torch operations, not numpy)."
        )


def _positive_ints(value):
    return isinstance(value, (tuple, list, np.ndarray)) and all(
        isinstance(v, numbers.Integral) and v >= 1 for v in value)


def check_network_params(estimator, n_features):
    """Check the encoder, augmentation and training parameters both estimators have."""
    for name in ("weight_decay", "augment_strength"):
        if getattr(estimator, name) < 0:
            raise ValueError(f"{name}={getattr(estimator, name)} must be non-negative.")
    if not 0 <= estimator.dropout < 1:
        raise ValueError(f"dropout={estimator.dropout} must be in [0, 1).")
    if not isinstance(estimator.embedding_dim, numbers.Integral) or estimator.embedding_dim < 1:
        raise ValueError(f"embedding_dim={estimator.embedding_dim!r} must be a positive integer.")
    if not isinstance(estimator.batch_size, numbers.Integral) or estimator.batch_size < 2:
        raise ValueError(
            f"batch_size={estimator.batch_size!r}: batch normalisation needs at least 2 "
            "rows per batch; pass an integer batch_size >= 2."
        )
    if not (estimator.hidden_dims is None or _positive_ints(estimator.hidden_dims)):
        raise ValueError(
            f"hidden_dims={estimator.hidden_dims!r} must be a tuple of positive layer "
            "widths, e.g. (64,) or (256, 256), or None for the default."
        )
    module = estimator.module
    if not (module is None or isinstance(module, torch.nn.Module)
            or (callable(module) and not isinstance(module, str))):
        raise ValueError(
            f"module={module!r}; pass None (the default encoder: an MLP, or a CNN with "
            "input_shape), a torch nn.Module class or instance, or a callable returning one."
        )
    if not (estimator.augment == "auto" or callable(estimator.augment)):
        raise ValueError(
            f"augment={estimator.augment!r}; use 'auto' or a callable aug(x) -> x'."
        )
    if not isinstance(estimator.compile, (bool, np.bool_, dict)):
        raise ValueError(
            f"compile={estimator.compile!r}; use False, True or a dict of torch.compile "
            "keyword arguments."
        )
    accelerator = estimator.accelerator
    if accelerator is not None and not callable(getattr(accelerator, "prepare", None)):
        raise ValueError(
            f"accelerator={estimator.accelerator!r} is not an accelerate.Accelerator; pass "
            "Accelerator(...) (pip install 'sklearn-rmd[accelerate]') or None."
        )
    if estimator.input_shape is not None:
        shape = estimator.input_shape
        if not (_positive_ints(shape) and len(shape) in (2, 3)
                and int(np.prod(shape)) == n_features):
            raise ValueError(
                f"input_shape={shape!r} does not fit rows of {n_features} features: use "
                "(C, L) for signals or (C, H, W) for images, positive integers with C*L "
                "or C*H*W equal to the number of columns of X, or None for plain features."
            )


def check_teacher_epochs(epochs, name):
    """Check a teacher's number of epochs: a non-negative integer or 'auto'."""
    if epochs != "auto" and (not isinstance(epochs, numbers.Integral) or epochs < 0):
        raise ValueError(
            f"{name}={epochs!r} must be a non-negative integer (0 keeps the teacher's "
            "random initialisation) or 'auto'."
        )


def is_space_tuple(spaces):
    """Whether ``spaces`` is a tuple or list of names out of ``SPACES``."""
    return (isinstance(spaces, (tuple, list))
            and all(isinstance(s, str) and s in SPACES for s in spaces))


def check_classifier_params(clf, n_features):
    """Check RMDClassifier's parameters, before any training."""
    check_network_params(clf, n_features)
    if not (callable(clf.base_loss) or clf.base_loss in BASE_LOSSES):
        raise ValueError(
            f"Unknown base_loss {clf.base_loss!r}. Use one of {BASE_LOSSES} or a "
            "callable (logits, y) -> per-sample loss."
        )
    if not 0 < clf.gce_q <= 1:
        raise ValueError(f"gce_q={clf.gce_q} must be in (0, 1].")
    if clf.sce_alpha < 0 or clf.sce_beta < 0:
        raise ValueError("sce_alpha and sce_beta must be non-negative.")
    if clf.forget_rate is not None:
        if clf.base_loss != "coteaching":
            raise ValueError(
                "forget_rate only applies to base_loss='coteaching'; leave it None "
                f"for base_loss={clf.base_loss!r}."
            )
        if not 0 <= clf.forget_rate < 1:
            raise ValueError(f"forget_rate={clf.forget_rate} must be in [0, 1).")
    for name in ("relation_weight", "node_weight", "edge_weight", "forget_epochs",
                 "relation_warmup"):
        if getattr(clf, name) < 0:
            raise ValueError(f"{name}={getattr(clf, name)} must be non-negative.")
    if not 0 <= clf.label_trust <= 1:
        raise ValueError(f"label_trust={clf.label_trust} must be in [0, 1] (0 turns it off).")
    if not 0 <= clf.target_momentum < 1:
        raise ValueError(f"target_momentum={clf.target_momentum} must be in [0, 1) "
                         "(0 keeps each row's latest prediction).")
    for name in ("label_trust_self", "loss_mixture"):
        if not isinstance(getattr(clf, name), (bool, np.bool_)):
            raise ValueError(f"{name}={getattr(clf, name)!r} must be True or False.")
    if clf.loss_mixture and clf.base_loss == "coteaching":
        # Weighted before the exchange, rows the mixture zeroes would count as
        # small-loss rows and use up Co-teaching's selection.
        raise ValueError(
            "loss_mixture=True does not combine with base_loss='coteaching', which "
            "selects its own small-loss rows; use one or the other."
        )
    if not (is_space_tuple(clf.neighbor_spaces) and clf.neighbor_spaces
            and len(set(clf.neighbor_spaces)) == len(clf.neighbor_spaces)):
        raise ValueError(
            f"neighbor_spaces={clf.neighbor_spaces!r}; use a tuple of distinct spaces "
            f"out of {SPACES}, e.g. ('teacher',)."
        )
    check_teacher_epochs(clf.pretrain_epochs, "pretrain_epochs")
    check_callbacks(clf.callbacks)
    for name in ("lr", "pretrain_lr"):
        if not getattr(clf, name) > 0:
            raise ValueError(f"{name}={getattr(clf, name)} must be positive.")
    if not 0 < clf.validation_fraction < 1:
        raise ValueError(
            f"validation_fraction={clf.validation_fraction} must be in (0, 1)."
        )
    for name in ("max_epochs", "relation_dim", "n_iter_no_change"):
        value = getattr(clf, name)
        if not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer.")
    if not isinstance(clf.n_neighbors, numbers.Integral) or clf.n_neighbors < 1:
        raise ValueError(f"n_neighbors={clf.n_neighbors!r} must be a positive integer.")
    if clf.teacher_features not in ("precomputed", "online"):
        raise ValueError(
            f"teacher_features={clf.teacher_features!r}; use 'precomputed' or 'online'."
        )


def check_callbacks(callbacks):
    """``callbacks``: None, or a list of skorch callbacks (instances or classes)
    or of ``(name, callback)`` pairs."""
    def is_callback(cb):
        return isinstance(cb, Callback) or (isinstance(cb, type) and issubclass(cb, Callback))

    if callbacks is None:
        return
    if not isinstance(callbacks, (list, tuple)):
        raise ValueError(
            f"callbacks={callbacks!r} must be a list of skorch callbacks; wrap it: "
            "callbacks=[...]."
        )
    for cb in callbacks:
        pair = isinstance(cb, tuple) and len(cb) == 2 and isinstance(cb[0], str)
        if not (is_callback(cb) or (pair and is_callback(cb[1]))):
            raise ValueError(
                f"callbacks holds {cb!r}, which is not a skorch Callback; pass callback "
                "instances or (name, callback) pairs, e.g. [EpochScoring('accuracy')]."
            )


def check_detector_params(detector, action=None):
    """Check NoisyLabelDetector's parameters (and an ``action`` given to
    ``fit_resample``), before any training."""
    from .classifier import RMDClassifier  # here: the classifier imports this module

    if detector.mode not in MODES:
        raise ValueError(f"mode={detector.mode!r}; use 'cv' (cross-fitted) or 'single'.")
    for value in (detector.action, action):
        if value is not None and value not in ACTIONS:
            raise ValueError(
                f"action={value!r}; use 'remove' (drop flagged rows) or 'relabel'.")
    estimator = detector.estimator
    if estimator is not None and (detector.input_shape is not None
                                  or detector.module is not None):
        raise ValueError(
            "input_shape and module shape the detector's default network, but an "
            "estimator was given: set them on it (RMDClassifier(input_shape=...)), or "
            "pass estimator=None to keep the default network's short training."
        )
    if (detector.mode == "single" and estimator is not None
            and not isinstance(estimator, RMDClassifier)):
        raise ValueError(
            "mode='single' reads the training dynamics of an RMDClassifier; use "
            "mode='cv' with other estimators."
        )
    if not isinstance(detector.n_neighbors, numbers.Integral) or detector.n_neighbors < 1:
        raise ValueError(f"n_neighbors={detector.n_neighbors!r} must be a positive integer.")
    check_backend(detector.knn_backend, "knn_backend")
    if not (detector.neighbor_weight == "auto" or (
            isinstance(detector.neighbor_weight, numbers.Real)
            and 0 <= detector.neighbor_weight <= 1)):
        raise ValueError(
            f"neighbor_weight={detector.neighbor_weight!r} must be 'auto' or in [0, 1]."
        )
    if detector.threshold is not None and detector.noise_fraction is not None:
        raise ValueError(
            "Pass either threshold or noise_fraction, not both: each sets the cut-off."
        )
    if detector.threshold is not None and not (
            isinstance(detector.threshold, numbers.Real) and 0 < detector.threshold < 1):
        raise ValueError(f"threshold={detector.threshold!r} must be in (0, 1), or None.")
    if detector.noise_fraction is not None and not (
            isinstance(detector.noise_fraction, numbers.Real) and 0 <= detector.noise_fraction < 1):
        raise ValueError(
            f"noise_fraction={detector.noise_fraction!r} must be in [0, 1), or None."
        )
    spaces = detector.neighbor_spaces
    if not (spaces == "auto" or is_space_tuple(spaces)):
        raise ValueError(
            f"neighbor_spaces={spaces!r}; use 'auto', () or a tuple of {SPACES}."
        )
    if detector.estimator is not None and not hasattr(detector.estimator, "predict_proba"):
        raise TypeError(
            f"estimator {detector.estimator!r} has no predict_proba; pass a classifier "
            "that returns class probabilities (e.g. SVC(probability=True)), or "
            "compute out-of-sample probabilities yourdetector and call "
            "fit(X, y, pred_probs=...)."
        )


def check_n_neighbors(detector, n_rows):
    """A detector searching neighbours needs more rows than ``n_neighbors``."""
    searches = detector.neighbor_spaces == "auto" or len(detector.neighbor_spaces)
    if detector.n_neighbors >= n_rows and searches:
        raise ValueError(
            f"n_neighbors={detector.n_neighbors} must be smaller than the number of rows "
            f"({n_rows}). Pass a smaller n_neighbors, or neighbor_spaces=() to skip "
            "the neighbour evidence."
        )


def check_folds(cv, y_encoded, classes):
    """Every class needs at least ``cv`` rows (an int ``cv``) for stratified folds."""
    if not isinstance(cv, numbers.Integral):
        return
    if cv < 2:
        raise ValueError(f"cv={cv} must be at least 2 folds (or use mode='single').")
    counts = np.bincount(y_encoded)
    rare = counts < cv
    if rare.any():
        names = ", ".join(f"{c!r} ({n} rows)" for c, n in
                          zip(classes[rare], counts[rare]))
        # Only a number of folds every class can fill is worth suggesting.
        fewer = f"pass cv={counts.min()}, " if counts.min() >= 2 else ""
        raise ValueError(
            f"Classes with fewer rows than cv={cv} folds: {names}. Each fold "
            f"needs every class: {fewer}use mode='single' (one fit on all rows), "
            "or drop those rows or merge their class into another."
        )


def check_pred_probs(pred_probs, n_samples, classes):
    """``pred_probs`` as float64 probabilities, one row per sample and column per class."""
    pred_probs = np.asarray(pred_probs, dtype=np.float64)
    if pred_probs.ndim != 2 or pred_probs.shape != (n_samples, len(classes)):
        raise ValueError(
            f"pred_probs has shape {pred_probs.shape} but needs ({n_samples}, "
            f"{len(classes)}): one row per sample and one column per class of y "
            f"(sorted: {list(classes)}). A model that saw other classes, "
            "or not all of them, does not fit these labels."
        )
    if not np.all(np.isfinite(pred_probs)) or pred_probs.min() < 0:
        raise ValueError("pred_probs must be finite and non-negative probabilities.")
    if not np.allclose(pred_probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "pred_probs rows must sum to 1 (class probabilities, e.g. from "
            "predict_proba), not scores or logits."
        )
    return pred_probs


def restore_like(like, values, rows):
    """``values``, the validated rows ``rows`` of ``like``, in ``like``'s container and dtypes."""
    if hasattr(like, "iloc"):  # pandas: keep the index, columns, name and dtypes
        if values.ndim == 2:
            return type(like)(values, index=like.index[rows],
                              columns=like.columns).astype(like.dtypes)
        return type(like)(values, index=like.index[rows], name=like.name).astype(like.dtype)
    restored = values.astype(np.asarray(like).dtype, copy=False)
    return restored.tolist() if isinstance(like, list) else restored


def fit_fingerprint(detector, X, y_encoded, pred_probs):
    """A digest of what a detector's fit depends on: the validated arrays
    (shapes, dtypes and bytes) and the parameters, ``action`` and ``verbose``
    aside. Equal digests mean the same fit, at the cost of one pass over the data."""
    params = detector.get_params(deep=True)
    del params["action"], params["verbose"]
    digest = hashlib.blake2b(repr(params).encode(), digest_size=16)
    for part in (X, y_encoded, pred_probs, detector.classes_):
        array = np.ascontiguousarray(np.zeros(0) if part is None else part)
        digest.update(f"{part is None}{array.shape}{array.dtype}".encode())
        if array.dtype == object:  # no fixed-size bytes: hash the values' text
            digest.update(repr(array.tolist()).encode())
        else:
            digest.update(array.view(np.uint8))
    return digest.hexdigest()
