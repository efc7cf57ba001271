"""NoisyLabelDetector: fit_resample reusing a fit, its action keyword, the default
network's input_shape and module, and its progress output."""

import numpy as np
import pytest
import torch
from conftest import FAST, fast_detector as detector, record_calls
from sklearn.datasets import make_classification

from sklearn_rmd import NoisyLabelDetector, RMDClassifier, SimSiamTeacher
from sklearn_rmd import detector as detector_module
from sklearn_rmd.modules import Conv2dEncoder
from sklearn_rmd.noise import make_noisy_labels

NET = {**FAST, "early_stopping": False}
# The default network's short training, shortened further for the tests.
TINY_DEFAULTS = dict(pretrain_epochs=1, max_epochs=2)


@pytest.fixture(scope="module")
def noisy():
    X, y = make_classification(n_samples=200, n_features=8, n_informative=5, n_redundant=0,
                               n_classes=3, n_clusters_per_class=1, class_sep=2.5,
                               random_state=0)
    y_noisy, _ = make_noisy_labels(y, 0.15, random_state=0)
    return X.astype(np.float32), y_noisy


@pytest.fixture
def tiny_defaults(monkeypatch):
    for name, value in TINY_DEFAULTS.items():
        monkeypatch.setitem(detector_module.DEFAULT_NETWORK, name, value)


# ---------------------------------------------------------------- fit_resample
@pytest.mark.parametrize("first", ["fit", "fit_predict"])
def test_fit_resample_reuses_a_fit_on_the_same_data(noisy, monkeypatch, first):
    X, y = noisy
    teacher_fits = record_calls(monkeypatch, SimSiamTeacher, "fit")
    det = detector()
    getattr(det, first)(X, y)
    flagged = det.is_label_issue_.copy()
    X_out, y_out = det.fit_resample(X.copy(), list(y))  # equal values, other containers
    assert len(teacher_fits) == 1
    np.testing.assert_array_equal(det.sample_indices_, np.flatnonzero(~flagged))
    np.testing.assert_array_equal(X_out, X[~flagged])
    assert len(y_out) == int((~flagged).sum())


@pytest.mark.parametrize("change", ["rows", "labels", "params"])
def test_fit_resample_refits_when_data_or_params_differ(noisy, monkeypatch, change):
    X, y = noisy
    det = detector().fit(X, y)
    teacher_fits = record_calls(monkeypatch, SimSiamTeacher, "fit")
    if change == "rows":
        X = X + 0.01
    elif change == "labels":
        y = y.copy()
        y[0] = (y[0] + 1) % 3
    else:
        det.set_params(estimator__lr=5e-3)
    det.fit_resample(X, y)
    assert len(teacher_fits) == 1


def test_fit_resample_action_keyword_overrides_for_one_call(noisy, monkeypatch):
    X, y = noisy
    det = detector().fit(X, y)
    teacher_fits = record_calls(monkeypatch, SimSiamTeacher, "fit")
    X_out, y_out = det.fit_resample(X, y, action="relabel")
    assert teacher_fits == [] and det.action == "remove"
    assert len(X_out) == len(X)
    np.testing.assert_array_equal(y_out, np.where(det.is_label_issue_, det.suggested_label_, y))
    assert len(det.fit_resample(X, y)[0]) == int((~det.is_label_issue_).sum())
    with pytest.raises(ValueError, match="action='drop'"):
        det.fit_resample(X, y, action="drop")


# ------------------------------------------------------- the default network
def test_input_shape_gives_the_default_network_a_cnn(digits, tiny_defaults):
    X, y = digits
    det = NoisyLabelDetector(input_shape=(1, 8, 8), cv=2, random_state=0, device="cpu",
                             verbose=2)
    det.fit(X, y)
    assert isinstance(det.teacher_.encoder_, Conv2dEncoder)
    assert len(det.teacher_.history_) == TINY_DEFAULTS["pretrain_epochs"]
    assert [len(h) for h in det.fold_histories_] == [TINY_DEFAULTS["max_epochs"]] * 2


def test_default_network_trains_on_cross_entropy(tabular, tiny_defaults):
    # The base loss the detector benchmark measured, whatever the classifier's default.
    det = NoisyLabelDetector(cv=2, random_state=0, device="cpu").fit(*tabular)
    assert all("train_ce" in history[-1] for history in det.fold_histories_)


def test_module_reaches_the_default_network(tabular, tiny_defaults):
    X, y = tabular
    encoder = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 12), torch.nn.ReLU())
    det = NoisyLabelDetector(module=encoder, cv=2, random_state=0, device="cpu").fit(X, y)
    assert isinstance(det.teacher_.encoder_, torch.nn.Sequential)
    assert det.teacher_.encoder_[0].out_features == 12


@pytest.mark.parametrize("params, match", [
    (dict(input_shape=(1, 3, 3)), "does not fit rows of 8 features"),
    (dict(module="mlp"), "module='mlp'"),
    (dict(estimator=RMDClassifier(), input_shape=(1, 8)), "set them on it"),
])
def test_default_network_parameters_are_checked_before_training(noisy, monkeypatch,
                                                                 params, match):
    X, y = noisy
    teacher_fits = record_calls(monkeypatch, SimSiamTeacher, "fit")
    with pytest.raises(ValueError, match=match):
        NoisyLabelDetector(cv=2, device="cpu", **params).fit(X, y)
    assert teacher_fits == []


# ------------------------------------------------------------------ progress
def test_verbose_levels(tabular, tiny_defaults, capsys):
    X, y = tabular
    NoisyLabelDetector(cv=2, random_state=0, device="cpu", verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["Teacher: self-supervised training on all rows (labels unused)",
                     f"Fold 1/2: {len(y) // 2} training rows",
                     f"Fold 2/2: {len(y) // 2} training rows"]
    NoisyLabelDetector(cv=2, random_state=0, device="cpu", verbose=2).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("Stage 1 (relation modeling)") == 1
    assert out.count("train_loss") >= 3  # one epoch table per network: teacher, 2 folds
