"""A fit either succeeds or leaves the estimator as it was, and says why it failed:
divergence, values beyond float32, a user's Ctrl-C, bad parameters."""

import signal

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, EpochScoring
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sklearn_rmd import NoisyLabelDetector, RMDClassifier, SimSiamTeacher
from sklearn_rmd.nets import RMDNet, SimSiamNet

TINY = dict(pretrain_epochs=1, max_epochs=2, batch_size=32, hidden_dims=(8,),
            embedding_dim=8, relation_dim=8, early_stopping=False, random_state=0,
            device="cpu")
TEACHER = dict(max_epochs=2, batch_size=32, hidden_dims=(8,), embedding_dim=8,
               random_state=0, device="cpu")


def tiny(**params):
    return RMDClassifier(**{**TINY, **params})


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def huge_value(X):
    """X in float64 with one value that float32 cannot hold."""
    X = X.astype(np.float64)
    X[3, 2] = 1e39
    return X


@pytest.fixture(autouse=True)
def ctrl_c_raises_keyboard_interrupt():
    """Python's own SIGINT handler for each test, as in a terminal: a run started
    in the background (``cmd &``) inherits SIGINT ignored, and then a Ctrl-C
    never reaches the estimator at all."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class Raise(Callback):
    """Raise ``error`` (an exception, or 'sigint' for a user's Ctrl-C) at the
    ``at``-th epoch end it sees, counted over every net it is given to."""

    def __init__(self, at, error="sigint"):
        self.at = at
        self.error = error
        self.seen_ = 0  # not reset by initialize: counts over every net

    def on_epoch_end(self, net, **kwargs):
        self.seen_ += 1
        if self.seen_ == self.at:
            if self.error == "sigint":
                signal.raise_signal(signal.SIGINT)
            raise self.error


class InterruptingAugment:
    """An augmentation that sends SIGINT on its ``at``-th call (stage 1's training)."""

    def __init__(self, at):
        self.at = at
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == self.at:
            signal.raise_signal(signal.SIGINT)
        return x + 0.01 * torch.randn_like(x)


def fitted_state(estimator):
    """The attributes a fit sets (names ending in '_'), for comparison."""
    return sorted(name for name in vars(estimator) if name.endswith("_"))


# ------------------------------------------------------------------ divergence
def test_stage_2_divergence_raises_naming_the_stage_and_the_fix(data):
    # lr=1e6: the weights are NaN after three epochs while every loss was finite.
    with pytest.raises(RuntimeError, match=r"Stage 2 \(the classifier\) diverged.*lower lr"):
        tiny(lr=1e6, max_epochs=3).fit(*data)


def test_stage_1_divergence_raises_naming_the_teacher(data):
    with pytest.raises(RuntimeError, match=r"Stage 1 \(the SimSiam teacher\) diverged.*"
                                           r"pretrain_lr.*scale X"):
        tiny(pretrain_lr=1e6, pretrain_epochs=2).fit(*data)
    with pytest.raises(RuntimeError, match="Stage 1"):
        SimSiamTeacher(**{**TEACHER, "lr": 1e6}).fit(data[0])


@pytest.mark.parametrize("mode", ["single", "cv"])
def test_the_detector_reports_a_diverged_network(data, mode):
    detector = NoisyLabelDetector(tiny(lr=1e6, max_epochs=5, batch_size=8), mode=mode, cv=2,
                                  random_state=0)
    with pytest.raises(RuntimeError, match=r"Stage 2 \(the classifier\) diverged"):
        detector.fit(*data)
    with pytest.raises(NotFittedError):
        check_is_fitted(detector)


def test_predict_proba_refuses_non_finite_probabilities(data):
    clf = tiny().fit(*data)
    with torch.no_grad():
        for param in clf.net_.module_.parameters():
            param.fill_(float("nan"))
    with pytest.raises(RuntimeError, match="non-finite probabilities for 60 of 60 rows"):
        clf.predict_proba(data[0])


@pytest.mark.parametrize("make", [
    lambda: tiny(),
    lambda: SimSiamTeacher(**TEACHER),
    lambda: NoisyLabelDetector(tiny(), mode="single", random_state=0),
    lambda: NoisyLabelDetector(tiny(), cv=2, random_state=0),
], ids=["classifier", "teacher", "detector-single", "detector-cv"])
def test_a_value_beyond_float32_is_refused_naming_its_column(data, make):
    X, y = data
    with pytest.raises(ValueError, match=r"X column 2 holds 1e\+39, beyond the float32 "
                                         r"range.*Scale X"):
        make().fit(huge_value(X), y)


# ------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_in_stage_2_stops_the_fit_and_leaves_it_unfitted(data):
    clf = tiny(max_epochs=3, callbacks=[Raise(at=2)])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(*data)
    assert fitted_state(clf) == []
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)


def test_ctrl_c_in_stage_1_stops_the_fit(data):
    # A call for the dry run, then two per batch: the SIGINT lands in epoch 1.
    clf = tiny(pretrain_epochs=3, augment=InterruptingAugment(at=4))
    with pytest.raises(KeyboardInterrupt):
        clf.fit(*data)
    assert fitted_state(clf) == []
    teacher = SimSiamTeacher(**{**TEACHER, "augment": InterruptingAugment(at=4)})
    with pytest.raises(KeyboardInterrupt):
        teacher.fit(data[0])
    assert fitted_state(teacher) == []


def test_a_callbacks_keyboard_interrupt_still_ends_training_early(data):
    # skorch's EarlyStopping stops training by raising KeyboardInterrupt: that
    # is no user interrupt, and the fit ends normally.
    clf = tiny(max_epochs=5, callbacks=[Raise(at=2, error=KeyboardInterrupt())]).fit(*data)
    assert len(clf.history_) == 2


@pytest.mark.parametrize("mode", ["single", "cv"])
def test_ctrl_c_stops_every_fold_of_the_detector(data, mode):
    # Two epochs per fold: the third epoch end is in the second fold (cv).
    interrupt = Raise(at=3 if mode == "cv" else 2)
    detector = NoisyLabelDetector(tiny(callbacks=[interrupt]), mode=mode, cv=2,
                                  random_state=0)
    with pytest.raises(KeyboardInterrupt):
        detector.fit(*data)
    assert fitted_state(detector) == []
    assert interrupt.seen_ == interrupt.at  # nothing trained after the interrupt


# ------------------------------------------------------------- atomic refits
def test_a_failed_refit_keeps_the_first_fit(data):
    X, y = data
    clf = tiny().fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(callbacks=[Raise(at=1, error=RuntimeError("boom"))])
    with pytest.raises(RuntimeError, match="boom"):
        clf.fit(X[:, :3], np.where(y == 1, "b", "a"))
    assert clf.classes_.tolist() == [0, 1]
    assert clf.n_features_in_ == 4
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_a_failed_first_fit_leaves_the_classifier_unfitted(data):
    clf = tiny(callbacks=[Raise(at=1, error=RuntimeError("boom"))])
    with pytest.raises(RuntimeError, match="boom"):
        clf.fit(*data)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    with pytest.raises(NotFittedError):
        clf.predict(data[0])


def test_a_failed_teacher_refit_keeps_the_first_fit(data):
    X = data[0]
    teacher = SimSiamTeacher(**TEACHER).fit(X)
    before = teacher.transform(X)
    teacher.set_params(augment=InterruptingAugment(at=4))
    with pytest.raises(KeyboardInterrupt):
        teacher.fit(X[:, :3])
    assert teacher.n_features_in_ == 4
    np.testing.assert_array_equal(teacher.transform(X), before)


def test_a_failed_detector_refit_keeps_the_first_fit(data):
    X, y = data
    detector = NoisyLabelDetector(tiny(), cv=2, random_state=0).fit(X, y)
    quality, flags = detector.label_quality_.copy(), detector.is_label_issue_.copy()
    detector.set_params(estimator=tiny(callbacks=[Raise(at=3, error=RuntimeError("boom"))]))
    with pytest.raises(RuntimeError, match="boom"):
        detector.fit_resample(X, np.where(y == 1, "b", "a"))
    assert detector.classes_.tolist() == [0, 1]
    assert not hasattr(detector, "sample_indices_")
    np.testing.assert_array_equal(detector.label_quality_, quality)
    np.testing.assert_array_equal(detector.is_label_issue_, flags)


# ------------------------------------------------------------- clear errors
def _not_a_module():
    return "encoder"


BAD = [
    (dict(batch_size=1), "batch_size=1: batch normalisation needs at least 2 rows"),
    (dict(hidden_dims=(0,)), r"hidden_dims=\(0,\) must be a tuple of positive"),
    (dict(hidden_dims=(-4,)), r"hidden_dims=\(-4,\) must be a tuple of positive"),
    (dict(hidden_dims=16), "hidden_dims=16 must be a tuple of positive"),
    (dict(input_shape=(-1, -3)), r"input_shape=\(-1, -3\) does not fit.*positive"),
    (dict(module="mlp"), "module='mlp'; pass None"),
    (dict(module=42), "module=42; pass None"),
    (dict(module=_not_a_module), "returned str, not a torch nn.Module"),
    (dict(pretrain_epochs=1.5), "pretrain_epochs=1.5 must be a non-negative integer"),
    (dict(pretrain_epochs="many"), "pretrain_epochs='many' must be a non-negative integer"),
    (dict(callbacks=["foo"]), "callbacks holds 'foo', which is not a skorch Callback"),
    (dict(callbacks=EpochScoring("accuracy")), "must be a list of skorch callbacks"),
    (dict(augment=lambda x: x[:, :2]), r"returned a tensor of shape \(2, 2\).*same shape"),
    (dict(augment=lambda x: x.numpy()), "returned a ndarray.*not numpy"),
]


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any network starts training."""
    def refuse(self, *args, **kwargs):
        raise AssertionError("training started before the error")

    monkeypatch.setattr(SimSiamNet, "partial_fit", refuse)
    monkeypatch.setattr(RMDNet, "partial_fit", refuse)


@pytest.mark.parametrize("params, message", BAD,
                         ids=[f"{name}-{i}" for i, ((name, _), _) in
                              enumerate((next(iter(p.items())), m) for p, m in BAD)])
def test_bad_parameters_fail_before_training_naming_the_fix(data, no_training, params,
                                                            message):
    X, y = data
    if "input_shape" in params:
        X = X[:, :3]  # (-1) * (-3) == 3 columns
    with pytest.raises((ValueError, TypeError), match=message):
        tiny(**params).fit(X, y)


@pytest.mark.parametrize("labels, message", [
    ([None] * 30 + ["a"] * 30, r"y has 30 missing labels \(None or NaN\), at rows \[0, 1"),
    (["a"] * 30 + [1] * 30, r"y mixes text labels with int labels.*astype\(str\)"),
], ids=["none", "mixed"])
@pytest.mark.parametrize("make", [tiny, lambda: NoisyLabelDetector(tiny(), cv=2)],
                         ids=["classifier", "detector"])
def test_bad_labels_fail_before_training(data, no_training, labels, message, make):
    with pytest.raises(ValueError, match=message):
        make().fit(data[0], np.array(labels, dtype=object))
