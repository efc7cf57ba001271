"""RMDClassifier end to end: scikit-learn integration, labels, encoders, logging, errors."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import FAST, fast, record_calls, requires_cuda
from skorch.callbacks import Callback
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sklearn_rmd.modules import Conv1dEncoder, Conv2dEncoder
from sklearn_rmd.nets import RMDNet


@pytest.fixture(scope="module")
def fitted(tabular):
    return fast().fit(*tabular)


def assert_valid_proba(clf, X):
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_))
    assert proba.dtype == np.float64
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    return proba


class TinyEncoder(nn.Module):
    """A user encoder without ``out_dim``: the embedding size comes from a dry run."""

    def __init__(self, n_features=6, width=5):
        super().__init__()
        self.linear = nn.Linear(n_features, width)

    def forward(self, x):
        return torch.relu(self.linear(x))


# ------------------------------------------------------------ fit and predict
def test_fit_predict_on_device(tabular, device):
    X, y = tabular
    clf = fast(device=device).fit(X, y)
    assert clf.device_ == device
    assert next(clf.net_.module_.parameters()).device.type == device
    assert_valid_proba(clf, X)
    assert clf.score(X, y) > 0.8


def test_pipeline_with_standard_scaler(tabular):
    X, y = tabular
    pipe = make_pipeline(StandardScaler(), fast()).fit(X * 100 + 5, y)
    assert pipe.score(X * 100 + 5, y) > 0.8


@pytest.mark.slow
def test_grid_search_over_relation_weight(tabular):
    grid = {"relation_weight": [0.0, 1.0]}
    search = GridSearchCV(fast(), grid, cv=2, n_jobs=2).fit(*tabular)
    assert [p["relation_weight"] for p in search.cv_results_["params"]] == [0.0, 1.0]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.relation_weight == search.best_params_["relation_weight"]
    assert search.best_score_ > 0.5


def test_pickle_round_trip_gives_identical_proba(fitted, tabular):
    X = tabular[0]
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(loaded.embed(X, "teacher"), fitted.embed(X, "teacher"))


def test_clone_and_refit_is_bit_identical_on_cpu(fitted, tabular):
    X, y = tabular
    torch.manual_seed(12345)  # the global state must not matter, only random_state
    refit = clone(fitted).fit(X, y)
    np.testing.assert_array_equal(refit.predict_proba(X), fitted.predict_proba(X))
    other = clone(fitted).set_params(random_state=1).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), fitted.predict_proba(X))


def first_batch_rows(monkeypatch, X, y, random_state):
    calls = record_calls(monkeypatch, RMDNet, "get_loss")
    # No validation split: the order then depends on the batch generator alone.
    fast(random_state=random_state, max_epochs=1, early_stopping=False).fit(X, y)
    monkeypatch.undo()
    return calls[0][1]["X"]["index"].tolist()


def test_batch_order_follows_random_state(tabular, monkeypatch):
    orders = [first_batch_rows(monkeypatch, *tabular, seed) for seed in (0, 0, 1)]
    assert orders[0] == orders[1]
    assert orders[0] != orders[2]


def test_fit_leaves_the_global_torch_random_state_alone(tabular):
    state = torch.random.get_rng_state()
    fast().fit(*tabular)
    assert torch.equal(torch.random.get_rng_state(), state)


# --------------------------------------------------------------------- labels
@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "emu"]), np.array([-3, 7, 42])],
                         ids=["strings", "gapped-integers"])
def test_user_labels_are_kept(fitted, tabular, labels):
    X, y = tabular
    clf = fast().fit(X, labels[y])
    np.testing.assert_array_equal(clf.classes_, labels)
    # Same sorted encoding as 0, 1, 2: the same model, columns in classes_ order.
    proba = assert_valid_proba(clf, X)
    np.testing.assert_array_equal(proba, fitted.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(X), labels[fitted.predict(X)])


# ------------------------------------------------------------ embeddings, CNNs
def test_embed_shapes(fitted, tabular):
    X = tabular[0][:10]
    assert fitted.embed(X).shape == (10, FAST["embedding_dim"])
    assert fitted.embed(X, source="teacher").shape == (10, FAST["embedding_dim"])
    with pytest.raises(ValueError, match="source"):
        fitted.embed(X, source="projector")


@pytest.mark.parametrize("input_shape, encoder", [((1, 8, 8), Conv2dEncoder),
                                                  ((2, 32), Conv1dEncoder)])
def test_cnn_encoders_fit_and_predict(digits, input_shape, encoder):
    X, y = digits
    clf = fast(input_shape=input_shape, hidden_dims=(4, 8)).fit(X, y)
    assert isinstance(clf.net_.module_.networks[0].encoder, encoder)
    assert isinstance(clf.teacher_.encoder_, encoder)
    assert_valid_proba(clf, X)
    assert clf.embed(X[:7]).shape == (7, FAST["embedding_dim"])


# ------------------------------------------------------------------ user module
@pytest.mark.parametrize("as_instance", [True, False], ids=["instance", "class"])
def test_user_module(tabular, as_instance):
    X, y = tabular
    user = TinyEncoder()
    before = copy.deepcopy(user.state_dict())
    clf = fast(module=user if as_instance else TinyEncoder).fit(X, y)
    assert clf.embed(X[:4]).shape == (4, 5)
    assert clf.embed(X[:4], source="teacher").shape == (4, 5)
    assert_valid_proba(clf, X)
    student = clf.net_.module_.networks[0].encoder
    assert isinstance(student, TinyEncoder) and student is not user
    for key, value in user.state_dict().items():
        assert torch.equal(value, before[key]), f"user module's {key} changed"
    assert not torch.equal(student.linear.weight, user.linear.weight)


# ------------------------------------------------------------- training loop
def test_verbose_logs_both_stages(tabular, capsys):
    fast(verbose=1).fit(*tabular)
    out = capsys.readouterr().out
    stage1, _, stage2 = out.partition("Stage 2")
    assert "Stage 1 (relation modeling)" in stage1 and "train_loss" in stage1
    for column in ("train_sce", "train_edge", "train_loss"):
        assert column in stage2
    assert "train_sce" not in stage1


def test_silent_by_default(tabular, capsys):
    fast().fit(*tabular)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("base_loss", ["ce", "coteaching"])
@pytest.mark.parametrize("n_rows, early_stopping, n_batches", [
    (160, False, 5),
    (150, False, 5),
    (129, False, 4),  # a last batch of one row is dropped (batch norm)
    (160, True, 5),   # 16 rows held out, 144 train
    (144, True, 4),   # 15 rows held out, 129 train: again a one-row batch to drop
])
def test_one_forward_backward_per_batch(tabular, monkeypatch, base_loss, n_rows,
                                        early_stopping, n_batches):
    X, y = tabular
    X, y = np.concatenate([X, X])[:n_rows], np.concatenate([y, y])[:n_rows]
    losses = record_calls(monkeypatch, RMDNet, "get_loss")
    backwards = record_calls(monkeypatch, torch.Tensor, "backward")
    clf = fast(base_loss=base_loss, pretrain_epochs=2, max_epochs=3,
               early_stopping=early_stopping).fit(X, y)
    training = [kwargs for _, kwargs in losses if kwargs.get("training")]
    assert len(training) == 3 * n_batches
    # Stage 1 trains on every row; stage 2 on the rows not held out.
    n_pretrain_batches = n_rows // 32 + (n_rows % 32 > 1)
    assert len(backwards) == 2 * n_pretrain_batches + 3 * n_batches
    assert list(clf.history_[:, "train_batch_count"]) == [n_batches] * 3


def test_both_stages_step_a_fused_adamw(tabular, monkeypatch):
    # The per-parameter Python loop of the default AdamW was a large share of a
    # small network's step on the CPU.
    made = record_calls(monkeypatch, torch.optim.AdamW, "__init__")
    fast(weight_decay=1e-3).fit(*tabular)
    assert len(made) == 2  # teacher, then student
    for _, kwargs in made:
        assert kwargs["fused"] is True
        assert kwargs["weight_decay"] == 1e-3


def test_history_has_terms_per_epoch(fitted):
    assert len(fitted.history_) == FAST["max_epochs"]
    for epoch in fitted.history_:
        for key in ("train_loss", "train_sce", "train_edge"):
            assert np.isfinite(epoch[key])
        assert "train_node" not in epoch  # the node term is off by default
    assert len(fitted.teacher_.history_) == FAST["pretrain_epochs"]
    assert np.isfinite(fitted.teacher_.history_[-1, "train_loss"])


# ----------------------------------------------------------------- bad inputs
def _poke(X, value):
    X = X.copy()
    X[3, 2] = value
    return X


BAD_DATA = {
    "nan": (lambda X, y: (_poke(X, np.nan), y), ValueError, "NaN"),
    "inf": (lambda X, y: (_poke(X, np.inf), y), ValueError, "infinity"),
    "empty": (lambda X, y: (X[:0], y[:0]), ValueError, "0 sample"),
    "1-D": (lambda X, y: (X[:, 0], y), ValueError, "Expected 2D array"),
    "lengths": (lambda X, y: (X, y[:-1]), ValueError, "inconsistent numbers of samples"),
    "one-class": (lambda X, y: (X, np.full_like(y, 4)), ValueError, "only one class"),
    "continuous": (lambda X, y: (X, np.linspace(0, 1, len(y))), ValueError, "continuous"),
    "sparse": (lambda X, y: (sp.csr_matrix(X), y), TypeError, "Sparse data"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_raises(tabular, case):
    make, error, match = BAD_DATA[case]
    with pytest.raises(error, match=match):
        fast().fit(*make(*tabular))


BAD_PARAMS = [
    (dict(input_shape=(1, 7)), "input_shape=\\(1, 7\\) does not fit rows of 6"),
    (dict(input_shape=(1, 2, 3, 1)), "input_shape"),
    (dict(device="tpu"), "Unknown device 'tpu'"),
    (dict(device="banana"), "Unknown device 'banana'"),
    (dict(device="mps"), "Unsupported device 'mps'"),
    (dict(base_loss="mae"), "Unknown base_loss 'mae'"),
    (dict(gce_q=0.0), "gce_q"),
    (dict(gce_q=1.5), "gce_q"),
    (dict(forget_rate=0.2), "forget_rate only applies to base_loss='coteaching'"),
    (dict(base_loss="coteaching", forget_rate=1.0), "forget_rate"),
    (dict(relation_weight=-1.0), "relation_weight=-1.0 must be non-negative"),
    (dict(node_weight=-0.5), "node_weight=-0.5 must be non-negative"),
    (dict(edge_weight=-0.3), "edge_weight=-0.3 must be non-negative"),
    (dict(label_trust=1.5), r"label_trust=1.5 must be in \[0, 1\]"),
    (dict(label_trust=-0.1), r"label_trust=-0.1 must be in \[0, 1\]"),
    (dict(label_trust_self="yes"), "label_trust_self='yes' must be True or False"),
    (dict(target_momentum=1.0), r"target_momentum=1.0 must be in \[0, 1\)"),
    (dict(target_momentum=-0.2), r"target_momentum=-0.2 must be in \[0, 1\)"),
    (dict(loss_mixture=1), "loss_mixture=1 must be True or False"),
    (dict(loss_mixture=True, base_loss="coteaching"), "does not combine with base_loss"),
    (dict(n_neighbors=0), "n_neighbors=0"),
    (dict(neighbor_spaces="teacher"), "neighbor_spaces='teacher'; use a tuple"),
    (dict(neighbor_spaces=()), "neighbor_spaces=\\(\\); use a tuple"),
    (dict(neighbor_spaces=("pixels",)), "neighbor_spaces=\\('pixels',\\)"),
    (dict(neighbor_spaces=("input", "input")), "distinct spaces"),
    (dict(neighbor_spaces=[["teacher"]]), "use a tuple of distinct spaces"),
]


@pytest.mark.parametrize("params, match", BAD_PARAMS, ids=[str(p) for p, _ in BAD_PARAMS])
def test_bad_params_raise(tabular, params, match):
    with pytest.raises(ValueError, match=match):
        fast(**params).fit(*tabular)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cuda_requested_without_cuda(tabular):
    with pytest.raises(ValueError, match="CUDA is not available"):
        fast(device="cuda").fit(*tabular)


def test_wrong_number_of_features_at_predict(fitted, tabular):
    with pytest.raises(ValueError, match="X has 5 features, but RMDClassifier is expecting 6"):
        fitted.predict(tabular[0][:, :5])


@pytest.mark.parametrize("method", ["predict", "predict_proba", "embed"])
def test_not_fitted(tabular, method):
    with pytest.raises(NotFittedError):
        getattr(fast(), method)(tabular[0])


# ----------------------------------------------------------------------- CUDA
def _load_without_cuda(monkeypatch, clf):
    data = pickle.dumps(clf)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch's DeviceWarning: loading on the CPU
        return pickle.loads(data)


@requires_cuda
def test_cuda_fit_then_load_on_cpu_only_machine(tabular, monkeypatch):
    X, y = tabular
    clf = fast(device="cuda").fit(X, y)
    assert clf.device_ == "cuda"
    proba = assert_valid_proba(clf, X)
    loaded = _load_without_cuda(monkeypatch, clf)
    assert str(loaded.net_.device) == "cpu"
    # bf16 autocast on CUDA against float32 on the CPU.
    np.testing.assert_allclose(assert_valid_proba(loaded, X), proba, atol=0.05)


def test_model_saved_for_cuda_predicts_on_cpu_only_machine(fitted, tabular, monkeypatch):
    # CPU stand-in for the test above: a model whose nets say 'cuda' must load and
    # predict where CUDA is absent (its tags must not try to resolve the device).
    clf = copy.deepcopy(fitted)
    clf.device = clf.device_ = clf.net_.device = "cuda"
    clf.teacher_.device = clf.teacher_.device_ = clf.teacher_.net_.device = "cuda"
    loaded = _load_without_cuda(monkeypatch, clf)
    assert str(loaded.net_.device) == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(tabular[0]),
                                  fitted.predict_proba(tabular[0]))


class WeightsPerEpoch(Callback):
    """Copy the stage-2 network's weights at the end of every epoch."""

    def initialize(self):
        self.weights_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.weights_.append({k: v.detach().clone() for k, v in net.module_.state_dict().items()})


def test_early_stopping_stops_and_keeps_the_best_epoch(tabular):
    X, y = tabular
    recorder = WeightsPerEpoch()
    model = fast(max_epochs=40, n_iter_no_change=2, callbacks=[recorder]).fit(X, y)
    valid_acc = model.history_[:, "valid_acc"]
    assert len(model.history_) < 40
    best = int(np.argmax(valid_acc))
    # Patience 2: training ran exactly two epochs past the best one.
    assert len(valid_acc) - 1 - best == 2
    # ... and the fitted network holds the best epoch's weights, not the last's.
    # (Early stopping ends the last epoch before this callback sees it.)
    recorded = recorder.weights_
    assert best < len(recorded) - 1
    final = model.net_.module_.state_dict()
    for name, value in final.items():
        torch.testing.assert_close(value, recorded[best][name])
    assert any(not torch.equal(value, recorded[-1][name]) for name, value in final.items())


def test_early_stopping_off_trains_every_epoch_on_all_rows(tabular):
    X, y = tabular
    model = fast(max_epochs=4, early_stopping=False).fit(X, y)
    assert len(model.history_) == 4
    assert "valid_acc" not in model.history_[-1]
    assert sum(model.history_[-1, "batches", :, "train_batch_size"]) == len(X)


def test_early_stopping_holds_out_validation_fraction(tabular):
    X, y = tabular
    model = fast(max_epochs=1, validation_fraction=0.25).fit(X, y)
    assert sum(model.history_[-1, "batches", :, "train_batch_size"]) == len(X) - 40


def test_early_stopping_skipped_on_too_few_rows(tabular):
    X, y = tabular
    with pytest.warns(UserWarning, match="early_stopping was skipped"):
        model = fast(max_epochs=2).fit(X[:12], y[:12])
    assert "valid_acc" not in model.history_[-1]


@pytest.mark.parametrize("fraction", [0, 1, 1.5])
def test_validation_fraction_out_of_range(tabular, fraction):
    X, y = tabular
    with pytest.raises(ValueError, match="validation_fraction"):
        fast(validation_fraction=fraction).fit(X, y)
