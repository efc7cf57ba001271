"""NoisyLabelDetector: contract, detection on known flips, bad input, sklearn checks."""

import importlib.util
import pickle
import warnings

import numpy as np
import pytest
from conftest import FAST, fast_detector as detector, record_calls
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_rmd import NoisyLabelDetector, RMDClassifier, SimSiamTeacher
from sklearn_rmd import graph as graph_module
from sklearn_rmd.metrics import detection_report
from sklearn_rmd.noise import make_noisy_labels

NET = {**FAST, "early_stopping": False}


@pytest.fixture(scope="module")
def noisy():
    """300 rows, 3 well separated classes, 15% of the labels flipped."""
    X, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_redundant=0,
                               n_classes=3, n_clusters_per_class=1, class_sep=2.5,
                               random_state=0)
    y_noisy, flipped = make_noisy_labels(y, 0.15, random_state=0)
    return X.astype(np.float32), y_noisy, flipped, y


@pytest.fixture(scope="module")
def fitted(noisy):
    X, y_noisy, _, _ = noisy
    return detector().fit(X, y_noisy)


# ------------------------------------------------------------------ detection
@pytest.mark.parametrize("params", [
    {},
    {"mode": "single"},
    {"estimator": LogisticRegression(max_iter=500)},
])
def test_detects_known_flips_well_above_chance(noisy, params):
    X, y_noisy, flipped, _ = noisy
    det = detector(**params).fit(X, y_noisy)
    report = detection_report(flipped, det.is_label_issue_, det.label_quality_)
    # Chance: F1 about 0.15 (the noise rate), AUROC 0.5.
    assert report["f1"] > 0.6, report
    assert report["auroc"] > 0.85, report


def test_pred_probs_skip_training(noisy, monkeypatch):
    X, y_noisy, flipped, y = noisy
    # Perfect-ish out-of-sample probabilities: the clean label, smoothed.
    probs = np.full((len(y), 3), 0.05)
    probs[np.arange(len(y)), y] = 0.9
    calls = []
    monkeypatch.setattr(RMDClassifier, "fit", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(SimSiamTeacher, "fit", lambda *a, **k: calls.append(a))
    det = detector().fit(X, y_noisy, pred_probs=probs)
    assert not calls and det.teacher_ is None
    np.testing.assert_allclose(det.pred_probs_, probs)
    assert detection_report(flipped, det.is_label_issue_)["f1"] > 0.9


def test_fit_predict_equals_fit_mask(noisy, fitted):
    X, y_noisy, _, _ = noisy
    mask = detector().fit_predict(X, y_noisy)
    assert mask.dtype == bool and mask.shape == (len(y_noisy),)
    np.testing.assert_array_equal(mask, fitted.is_label_issue_)


def test_fitted_attributes(noisy, fitted):
    X, y_noisy, _, _ = noisy
    n, k = len(y_noisy), 3
    assert fitted.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(fitted.classes_, [0, 1, 2])
    assert fitted.label_quality_.shape == (n,)
    assert np.all((fitted.label_quality_ >= 0) & (fitted.label_quality_ <= 1))
    assert sorted(fitted.ranked_indices_) == list(range(n))
    # Most suspicious first: quality never decreases along the ranking.
    assert np.all(np.diff(fitted.label_quality_[fitted.ranked_indices_]) >= 0)
    flagged = fitted.is_label_issue_
    # Flagged: the lowest-quality rows among those whose suggested label differs.
    disputed = [i for i in fitted.ranked_indices_
                if fitted.suggested_label_[i] != y_noisy[i]]
    assert set(disputed[:flagged.sum()]) == set(np.flatnonzero(flagged))
    assert fitted.n_label_issues_ == flagged.sum()
    assert set(fitted.suggested_label_) <= set(fitted.classes_)
    assert fitted.noise_matrix_.shape == (k, k)
    assert 0 <= fitted.noise_rate_ < 1
    assert fitted.probs_.shape == fitted.pred_probs_.shape == (n, k)
    np.testing.assert_allclose(fitted.probs_.sum(axis=1), 1.0)


def test_noise_matrix_columns_sum_to_one(fitted):
    np.testing.assert_allclose(fitted.noise_matrix_.sum(axis=0), 1.0)
    assert np.all(fitted.noise_matrix_ >= 0)


def test_string_labels_come_back_in_user_space(noisy):
    X, y_noisy, flipped, _ = noisy
    names = np.array(["cat", "dog", "eel"])[y_noisy]
    det = detector().fit(X, names)
    np.testing.assert_array_equal(det.classes_, ["cat", "dog", "eel"])
    assert set(det.suggested_label_) <= {"cat", "dog", "eel"}
    _, y_out = det.set_params(action="relabel").fit_resample(X, names)
    assert set(y_out) <= {"cat", "dog", "eel"}


def test_label_issues_table(fitted, noisy):
    pd = pytest.importorskip("pandas")
    table = fitted.label_issues()
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["given_label", "suggested_label", "label_quality",
                                   "is_label_issue", "rank"]
    assert len(table) == len(noisy[1])
    np.testing.assert_array_equal(table["given_label"], noisy[1])
    np.testing.assert_array_equal(table["is_label_issue"], fitted.is_label_issue_)
    assert table["rank"].iloc[fitted.ranked_indices_[0]] == 0


def test_label_issues_table_without_pandas(fitted, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("no pandas")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    table = fitted.label_issues()
    assert isinstance(table, np.ndarray)
    assert table.dtype.names == ("given_label", "suggested_label", "label_quality",
                                 "is_label_issue", "rank")


@pytest.mark.parametrize("params, expected", [
    ({"threshold": 0.5}, "threshold"),
    ({"noise_fraction": 0.1}, "fraction"),
])
def test_user_cut_offs(noisy, fitted, params, expected):
    X, y_noisy, _, _ = noisy
    det = detector(**params).fit(X, y_noisy)
    # Same evidence, another cut-off.
    np.testing.assert_allclose(det.label_quality_, fitted.label_quality_)
    if expected == "threshold":
        np.testing.assert_array_equal(det.is_label_issue_, det.label_quality_ < 0.5)
    else:
        assert det.is_label_issue_.sum() == 30


def test_fit_is_repeatable(noisy, fitted):
    X, y_noisy, _, _ = noisy
    again = detector().fit(X, y_noisy)
    np.testing.assert_allclose(again.label_quality_, fitted.label_quality_)


def test_neighbor_spaces_and_weight(noisy):
    X, y_noisy, flipped, _ = noisy
    only_net = detector(neighbor_spaces=()).fit(X, y_noisy)
    assert only_net.neighbor_probs_ is None
    np.testing.assert_allclose(only_net.probs_, only_net.pred_probs_)
    only_knn = detector(neighbor_spaces=("input",), neighbor_weight=1.0).fit(X, y_noisy)
    np.testing.assert_allclose(only_knn.probs_, only_knn.neighbor_probs_)
    assert detection_report(flipped, only_knn.is_label_issue_)["f1"] > 0.6


@pytest.mark.skipif(importlib.util.find_spec("faiss") is None, reason="faiss is not installed")
def test_knn_backend_reaches_the_graph(noisy, monkeypatch):
    X, y_noisy, _, _ = noisy
    probs = np.full((len(X), 3), 1 / 3)
    exact = detector(knn_backend="torch").fit(X, y_noisy, pred_probs=probs)
    calls = record_calls(monkeypatch, graph_module, "knn_graph")
    approximate = detector(knn_backend="hnsw").fit(X, y_noisy, pred_probs=probs)
    assert [kwargs["backend"] for _, kwargs in calls] == ["hnsw"]
    # 300 rows: the HNSW graph finds (almost) every exact neighbour.
    same = np.isclose(approximate.neighbor_probs_, exact.neighbor_probs_).all(axis=1)
    assert same.mean() > 0.95


# ---------------------------------------------------------------- resampling
def test_fit_resample_removes_flagged_rows(noisy):
    X, y_noisy, _, _ = noisy
    det = detector()
    X_out, y_out = det.fit_resample(X, y_noisy)
    keep = ~det.is_label_issue_
    np.testing.assert_array_equal(det.sample_indices_, np.flatnonzero(keep))
    np.testing.assert_array_equal(X_out, X[keep])
    np.testing.assert_array_equal(y_out, y_noisy[keep])


def test_fit_resample_relabels(noisy):
    X, y_noisy, _, _ = noisy
    det = detector(action="relabel")
    X_out, y_out = det.fit_resample(X, y_noisy)
    assert len(X_out) == len(X)
    np.testing.assert_array_equal(det.sample_indices_, np.arange(len(X)))
    flagged = det.is_label_issue_
    np.testing.assert_array_equal(y_out[flagged], det.suggested_label_[flagged])
    np.testing.assert_array_equal(y_out[~flagged], y_noisy[~flagged])


def test_fit_resample_keeps_dataframes(noisy):
    pd = pytest.importorskip("pandas")
    X, y_noisy, _, _ = noisy
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    series = pd.Series(y_noisy, name="label")
    det = detector()
    X_out, y_out = det.fit_resample(frame, series)
    assert isinstance(X_out, pd.DataFrame) and isinstance(y_out, pd.Series)
    np.testing.assert_array_equal(X_out.index, det.sample_indices_)
    np.testing.assert_array_equal(det.feature_names_in_, frame.columns)


def test_in_imblearn_pipeline(noisy):
    pytest.importorskip("imblearn")
    from imblearn.pipeline import make_pipeline

    X, y_noisy, _, y = noisy
    pipe = make_pipeline(detector(), LogisticRegression(max_iter=500)).fit(X, y_noisy)
    det = pipe.steps[0][1]
    kept = det.sample_indices_
    assert len(kept) == len(X) - det.n_label_issues_ < len(X)
    # The classifier was trained on the kept rows only: refitting it on them
    # gives the same model.
    alone = LogisticRegression(max_iter=500).fit(X[kept], y_noisy[kept])
    np.testing.assert_allclose(pipe.steps[1][1].coef_, alone.coef_)
    assert pipe.score(X, y) > 0.8


def test_grid_search_over_nested_params(noisy):
    X, y_noisy, _, _ = noisy
    params = detector().get_params()
    assert "estimator__max_epochs" in params
    assert "estimator__relation_weight" in params

    def f1_against_flips(estimator, X_, y_):  # an unsupervised-style scorer
        return -estimator.noise_rate_

    search = GridSearchCV(detector(), {"estimator__max_epochs": [1, 2],
                                       "n_neighbors": [3, 5]},
                          scoring=f1_against_flips, cv=2)
    search.fit(X, y_noisy)
    assert set(search.best_params_) == {"estimator__max_epochs", "n_neighbors"}


def test_default_estimator_is_not_mutated(noisy):
    X, y_noisy, _, _ = noisy
    net = RMDClassifier(**NET)
    before = net.get_params()
    NoisyLabelDetector(net, cv=2, n_neighbors=5, random_state=0, device="cpu").fit(X, y_noisy)
    assert net.get_params() == before
    assert not hasattr(net, "net_")


def test_pickle_round_trip(fitted):
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.is_label_issue_, fitted.is_label_issue_)
    np.testing.assert_allclose(loaded.label_quality_, fitted.label_quality_)
    assert clone(loaded).get_params().keys() == fitted.get_params().keys()


def test_detector_saved_for_cuda_is_usable_without_cuda(fitted, monkeypatch):
    # Its tags must not resolve the device: label_issues() validates through them.
    loaded = pickle.loads(pickle.dumps(fitted))
    loaded.device = "cuda"
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    table = loaded.label_issues()
    assert len(table) == len(fitted.label_quality_)


# ----------------------------------------------------------------- bad input
def test_class_with_fewer_rows_than_folds(noisy):
    X, y_noisy, _, _ = noisy
    y = y_noisy.copy()
    y[:3] = 7  # a class of 3 rows
    with pytest.raises(ValueError, match=r"fewer rows than cv=5 folds.*7.*cv=3"):
        detector(cv=5).fit(X, y)
    detector(cv=3).fit(X, y)  # the suggested fix works


def test_class_absent_from_a_training_fold_warns(noisy):
    X, y_noisy, _, _ = noisy
    order = np.argsort(y_noisy, kind="stable")
    X, y = X[order], y_noisy[order]
    # Unshuffled KFold on sorted labels: a training part lacks a whole class.
    with pytest.warns(UserWarning, match="have no training rows"):
        det = detector(cv=KFold(3), estimator=LogisticRegression(max_iter=200)).fit(X, y)
    assert np.isfinite(det.label_quality_).all()


def test_one_class(noisy):
    X = noisy[0]
    with pytest.raises(ValueError, match="only one class"):
        detector().fit(X, np.zeros(len(X), dtype=int))


def test_too_many_neighbours(noisy):
    X, y_noisy, _, _ = noisy
    with pytest.raises(ValueError, match="n_neighbors=300 must be smaller"):
        detector(n_neighbors=300).fit(X, y_noisy)


def test_pred_probs_with_wrong_number_of_columns(noisy):
    X, y_noisy, _, _ = noisy
    with pytest.raises(ValueError, match=r"pred_probs has shape \(300, 4\).*\(300, 3\)"):
        detector().fit(X, y_noisy, pred_probs=np.full((300, 4), 0.25))
    with pytest.raises(ValueError, match="sum to 1"):
        detector().fit(X, y_noisy, pred_probs=np.ones((300, 3)))


def test_estimator_without_predict_proba(noisy):
    X, y_noisy, _, _ = noisy
    with pytest.raises(TypeError, match="no predict_proba.*pred_probs"):
        detector(estimator=LinearSVC()).fit(X, y_noisy)


def test_single_mode_needs_rmd(noisy):
    X, y_noisy, _, _ = noisy
    with pytest.raises(ValueError, match="mode='single'"):
        detector(mode="single", estimator=LogisticRegression()).fit(X, y_noisy)


@pytest.mark.parametrize("params, match", [
    ({"mode": "fast"}, "mode="),
    ({"action": "drop"}, "action="),
    ({"n_neighbors": 0}, "n_neighbors="),
    ({"neighbor_weight": 1.5}, "neighbor_weight="),
    ({"knn_backend": "annoy"}, "knn_backend="),
    ({"threshold": 0.5, "noise_fraction": 0.1}, "either threshold or noise_fraction"),
    ({"threshold": 1.5}, "threshold="),
    ({"noise_fraction": 1.0}, "noise_fraction="),
    ({"neighbor_spaces": ("pixels",)}, "neighbor_spaces="),
    ({"cv": 1}, "at least 2 folds"),
])
def test_bad_parameters(noisy, params, match):
    X, y_noisy, _, _ = noisy
    with pytest.raises(ValueError, match=match):
        detector(**params).fit(X, y_noisy)


def test_teacher_space_needs_rmd(noisy):
    X, y_noisy, _, _ = noisy
    with pytest.raises(ValueError, match="neighbor_spaces includes 'teacher'"):
        detector(estimator=LogisticRegression(), neighbor_spaces=("teacher",)).fit(X, y_noisy)


@pytest.mark.parametrize("bad, match", [
    ("nan", "NaN"),
    ("inf", "infinity"),
    ("1d", "2D array"),
    ("length", "inconsistent numbers of samples"),
    ("continuous", "Unknown label type"),
])
def test_bad_data(noisy, bad, match):
    X, y_noisy, _, _ = noisy
    X, y = X.copy(), y_noisy.copy()
    if bad == "nan":
        X[0, 0] = np.nan
    elif bad == "inf":
        X[0, 0] = np.inf
    elif bad == "1d":
        X = X[:, 0]
    elif bad == "length":
        y = y[:-1]
    elif bad == "continuous":
        y = np.linspace(0, 1, len(y))
    with pytest.raises(ValueError, match=match):
        detector().fit(X, y)


def test_sparse_input_is_rejected(noisy):
    sparse = pytest.importorskip("scipy.sparse")
    X, y_noisy, _, _ = noisy
    with pytest.raises(TypeError, match="dense data is required|Sparse data"):
        detector().fit(sparse.csr_matrix(X), y_noisy)


def test_label_issues_before_fit():
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        NoisyLabelDetector().label_issues()


# ------------------------------------------------------------- sklearn checks
# NoisyLabelDetector is neither a classifier nor a transformer: it has fit,
# fit_predict and fit_resample (an imbalanced-learn sampler), and needs y.
# parametrize_with_checks runs scikit-learn's generic checks on it, and all
# pass: parameters and cloning, repr, tags, pickling, fit returns self,
# idempotent and repeatable fits, unchanged parameters and __dict__,
# n_features_in_, input validation (NaN/inf, sparse, complex, object dtype,
# empty, 1-D, one sample, one feature, F-contiguous, read-only memmaps),
# y required, and sample-order / subset invariance (no predict methods, so
# vacuous). The classifier checks (check_classifiers_*: predict, decision
# function, score, class weights) and the transformer checks do not apply:
# the detector has no predict, transform or score; its contract (fit_predict
# mask, labels in the user's space, fit_resample) is tested above instead.
EXPECTED_FAILED_CHECKS = {}


def _checked_detector():
    return NoisyLabelDetector(RMDClassifier(**{**NET, "max_epochs": 1}), cv=2, n_neighbors=2,
                              random_state=0, device="cpu")


@parametrize_with_checks([_checked_detector()],
                         expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


# ------------------------------------------------------------ shared teacher
@pytest.mark.parametrize("mode", ["cv", "single"])
def test_one_teacher_is_fitted_and_shared_by_every_fit(noisy, monkeypatch, mode):
    X, y_noisy, _, _ = noisy
    teacher_fits = record_calls(monkeypatch, SimSiamTeacher, "fit")
    model_fits = record_calls(monkeypatch, RMDClassifier, "fit")
    det = detector(mode=mode).fit(X, y_noisy)
    assert len(teacher_fits) == 1
    assert isinstance(det.teacher_, SimSiamTeacher)
    assert len(det.teacher_.history_) == NET["pretrain_epochs"]
    assert len(model_fits) == (2 if mode == "cv" else 1)
    for (model, *_), _ in model_fits:
        assert model.teacher is det.teacher_ and model.teacher_ is det.teacher_


def test_a_fitted_teacher_of_the_estimator_is_used_as_given(noisy, monkeypatch):
    X, y_noisy, _, _ = noisy
    teacher = SimSiamTeacher(max_epochs=1, hidden_dims=NET["hidden_dims"],
                             embedding_dim=NET["embedding_dim"], random_state=0).fit(X)
    teacher_fits = record_calls(monkeypatch, SimSiamTeacher, "fit")
    det = detector(estimator=RMDClassifier(**{**NET, "teacher": teacher})).fit(X, y_noisy)
    assert teacher_fits == [] and det.teacher_ is teacher


def test_fit_resample_restores_lists_and_integer_arrays(noisy):
    X, y_noisy, _, _ = noisy
    X_int = np.round(X * 10).astype(np.int64)
    det = detector()
    X_out, y_out = det.fit_resample(X_int, y_noisy.tolist())
    keep = det.sample_indices_
    assert X_out.dtype == np.int64 and isinstance(y_out, list)
    np.testing.assert_array_equal(X_out, X_int[keep])
    assert y_out == [y_noisy[i] for i in keep]
