"""SimSiamTeacher on its own, and shared by RMDClassifier fits."""

import pickle

import numpy as np
import pytest
import torch
from conftest import FAST, fast, record_calls
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from sklearn_rmd import RMDClassifier, SimSiamTeacher
from sklearn_rmd import teacher as teacher_module
from sklearn_rmd.teacher import auto_epochs, embedding_spread

# The teacher FAST's classifier builds for itself (same encoder and epochs).
TEACHER = dict(max_epochs=FAST["pretrain_epochs"], batch_size=FAST["batch_size"],
               hidden_dims=FAST["hidden_dims"], embedding_dim=FAST["embedding_dim"],
               random_state=0, device="cpu")


def teacher(**params):
    return SimSiamTeacher(**{**TEACHER, **params})


def weights(model):
    return {k: v.clone() for k, v in model.encoder_.state_dict().items()}


@pytest.fixture(scope="module")
def fitted_teacher(tabular):
    return teacher(max_epochs=2).fit(tabular[0])


# ------------------------------------------------------------------ the teacher
def test_auto_epochs_give_small_data_sets_more_steps():
    assert auto_epochs(1260, 128) == 160  # 10 steps per epoch
    assert auto_epochs(100, 128) == 1600  # one batch per epoch
    assert auto_epochs(20_000, 128) == 40  # 157 steps per epoch: the least epochs


def test_auto_epochs_are_the_epochs_trained(tabular, monkeypatch):
    monkeypatch.setattr(teacher_module, "AUTO_MIN_EPOCHS", 2)
    monkeypatch.setattr(teacher_module, "AUTO_MIN_STEPS", 12)
    fitted = teacher(max_epochs="auto").fit(tabular[0])  # 160 rows: 5 batches of 32
    assert len(fitted.history_) == 3


def test_labels_never_change_the_teacher(tabular):
    X, y = tabular
    reference = teacher().fit(X).transform(X)
    for labels in (y, np.random.RandomState(0).permutation(y), y.astype(str)):
        np.testing.assert_array_equal(teacher().fit(X, labels).transform(X), reference)


def test_transform_shape_and_dtype(fitted_teacher, tabular):
    X = tabular[0]
    for rows in (X[:7], X[:7].astype(np.float64)):
        embeddings = fitted_teacher.transform(rows)
        assert embeddings.shape == (7, TEACHER["embedding_dim"])
        assert embeddings.dtype == np.float32
    np.testing.assert_array_equal(teacher(max_epochs=2).fit_transform(X),
                                  fitted_teacher.transform(X))


def test_history_and_collapse_monitor(fitted_teacher):
    assert len(fitted_teacher.history_) == 2
    assert np.all(np.isfinite(fitted_teacher.history_[:, "train_loss"]))
    assert 0 < fitted_teacher.embedding_spread_ <= 1


def test_embedding_spread_reads_collapse():
    assert embedding_spread(np.ones((50, 8))) == pytest.approx(0.0, abs=1e-12)
    spread = embedding_spread(np.random.RandomState(0).normal(size=(4000, 16)))
    assert spread == pytest.approx(1 / np.sqrt(16), rel=0.05)


def test_transform_before_fit_raises(tabular):
    with pytest.raises(NotFittedError):
        teacher().transform(tabular[0])
    with pytest.raises(NotFittedError):
        teacher().encoder_


def test_in_a_pipeline_with_knn(tabular):
    X, y = tabular
    pipe = make_pipeline(teacher(max_epochs=3), KNeighborsClassifier(5)).fit(X[:120], y[:120])
    assert pipe.score(X[120:], y[120:]) > 0.8


def test_pickles_small_and_round_trips(fitted_teacher, tabular):
    blob = pickle.dumps(fitted_teacher)
    loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.transform(tabular[0]),
                                  fitted_teacher.transform(tabular[0]))
    # Trimmed to the encoder: no optimizer, no SimSiam heads.
    module = fitted_teacher.net_.module_
    assert fitted_teacher.net_.optimizer_ is None
    assert isinstance(module.projector, torch.nn.Identity)
    assert isinstance(module.predictor, torch.nn.Identity)
    encoder_bytes = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    assert len(blob) < encoder_bytes + 15_000


def test_bad_parameters_raise_before_training(tabular):
    with pytest.raises(ValueError, match="max_epochs"):
        teacher(max_epochs=-1).fit(tabular[0])
    with pytest.raises(ValueError, match="max_epochs='many' must be a non-negative integer"):
        teacher(max_epochs="many").fit(tabular[0])
    with pytest.raises(ValueError, match="lr"):
        teacher(lr=0).fit(tabular[0])


# ------------------------------------------------------- shared by classifiers
def test_teacher_none_and_the_same_unfitted_teacher_give_the_same_fit(tabular):
    clf = fast().fit(*tabular)
    given = fast(teacher=fast().build_teacher()).fit(*tabular)
    np.testing.assert_array_equal(given.predict_proba(tabular[0]),
                                  clf.predict_proba(tabular[0]))


def test_an_unfitted_teacher_is_cloned_and_fitted(tabular):
    unfitted = teacher()
    clf = fast(teacher=unfitted).fit(*tabular)
    assert clf.teacher_ is not unfitted and len(clf.teacher_.history_) == TEACHER["max_epochs"]
    with pytest.raises(NotFittedError):
        unfitted.transform(tabular[0])


@pytest.mark.parametrize("frozen", [False, True], ids=["fitted", "FrozenEstimator"])
def test_a_fitted_teacher_is_used_as_given(fitted_teacher, tabular, monkeypatch, frozen):
    before = weights(fitted_teacher)
    fits = record_calls(monkeypatch, SimSiamTeacher, "fit")
    given = FrozenEstimator(fitted_teacher) if frozen else fitted_teacher
    clf = fast(teacher=given).fit(*tabular)
    assert fits == [] and clf.teacher_ is given
    assert len(fitted_teacher.history_) == 2
    for key, value in weights(fitted_teacher).items():
        assert torch.equal(value, before[key])
    np.testing.assert_array_equal(clf.embed(tabular[0], source="teacher"),
                                  fitted_teacher.transform(tabular[0]))


def test_clone_keeps_a_fitted_teacher_only(fitted_teacher):
    assert clone(fast(teacher=fitted_teacher)).teacher is fitted_teacher
    unfitted = teacher()
    cloned = clone(fast(teacher=unfitted)).teacher
    assert cloned is not unfitted and cloned.get_params() == unfitted.get_params()


def test_grid_search_with_a_fitted_teacher_trains_no_teacher(fitted_teacher, tabular,
                                                             monkeypatch):
    fits = record_calls(monkeypatch, SimSiamTeacher, "fit")
    students = record_calls(monkeypatch, RMDClassifier, "fit")
    search = GridSearchCV(fast(teacher=fitted_teacher), {"relation_weight": [0.0, 3.0]},
                          cv=2).fit(*tabular)
    assert fits == []
    assert len(students) == 2 * 2 + 1  # candidates x folds, then the refit
    assert search.best_estimator_.teacher_ is fitted_teacher


def test_teacher_fitted_on_other_columns_is_refused(fitted_teacher, tabular):
    X, y = tabular
    with pytest.raises(ValueError, match="expects rows of 6 features, but X has 5"):
        fast(teacher=fitted_teacher).fit(X[:, :5], y)


def test_teacher_with_another_encoder_cannot_initialise_the_student(tabular):
    other = teacher(hidden_dims=(4,)).fit(tabular[0])
    with pytest.raises(ValueError, match="init_from_teacher=True needs"):
        fast(teacher=other).fit(*tabular)
    clf = fast(teacher=other, init_from_teacher=False).fit(*tabular)
    assert clf.teacher_ is other


@pytest.mark.parametrize("bad", ["simsiam", KNeighborsClassifier()])
def test_teacher_must_be_a_simsiam_teacher(tabular, bad):
    with pytest.raises(TypeError, match="pass a SimSiamTeacher"):
        fast(teacher=bad).fit(*tabular)


def test_frozen_unfitted_teacher_is_refused(tabular):
    with pytest.raises(ValueError, match="needs a fitted teacher"):
        fast(teacher=FrozenEstimator(teacher())).fit(*tabular)


def test_no_teacher_needed_trains_none(tabular, monkeypatch):
    fits = record_calls(monkeypatch, SimSiamTeacher, "fit")
    clf = fast(relation_weight=0.0, init_from_teacher=False, teacher=teacher()).fit(*tabular)
    assert fits == [] and clf.teacher_ is None


def test_fitting_a_teacher_leaves_the_torch_random_state_alone(tabular):
    state = torch.random.get_rng_state()
    teacher().fit(tabular[0])
    assert torch.equal(torch.random.get_rng_state(), state)


def test_nested_seeded_blocks_share_one_stream():
    from sklearn_rmd._device import seeded

    state = torch.random.get_rng_state()
    with seeded(1):
        with seeded(2):
            inner = torch.rand(3)
        after_inner = torch.rand(3)
    assert torch.equal(torch.random.get_rng_state(), state)  # the outer block restores
    stream = torch.Generator().manual_seed(2)
    assert torch.equal(inner, torch.rand(3, generator=stream))
    assert torch.equal(after_inner, torch.rand(3, generator=stream))  # one stream
