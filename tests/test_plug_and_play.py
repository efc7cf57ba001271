"""Base losses with the relation term added, and the ablation switches."""

import numpy as np
import pytest
import torch
from conftest import FAST, fast, record_calls
from skorch.callbacks import Callback
from sklearn.model_selection import GridSearchCV

import sklearn_rmd.classifier
import sklearn_rmd.losses
from sklearn_rmd.augment import TabularAugment
from sklearn_rmd.graph import joint_space
from sklearn_rmd.losses import RelationDistillationLoss
from sklearn_rmd.nets import SimSiamNet


class CountingMAE:
    """A user base loss, ``1 - p_y`` per sample, that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, logits, y):
        self.calls += 1
        return 1 - torch.softmax(logits, dim=-1).gather(1, y[:, None]).squeeze(1)


class EncoderSnapshot(Callback):
    """Copy the first student encoder's parameters when stage 2 starts."""

    def on_train_begin(self, net, **kwargs):
        self.params = parameters(net.module_.networks[0].encoder)


def parameters(module):
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def same_parameters(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------ base losses
@pytest.mark.parametrize("base_loss, column", [
    ("ce", "train_ce"), ("gce", "train_gce"), ("sce", "train_sce"),
    ("coteaching", "train_coteaching"), (CountingMAE(), "train_base"),
], ids=["ce", "gce", "sce", "coteaching", "callable"])
def test_every_base_loss_fits_and_predicts(tabular, base_loss, column):
    X, y = tabular
    clf = fast(base_loss=base_loss).fit(X, y)
    assert clf.predict(X).shape == (len(X),)
    assert clf.score(X, y) > 0.5
    for epoch in clf.history_:
        assert np.isfinite(epoch[column]) and np.isfinite(epoch["train_edge"])
    assert not {"train_ce", "train_gce", "train_sce", "train_coteaching", "train_base"} - {
        column} & set(clf.history_[-1])
    if callable(base_loss):
        assert base_loss.calls >= FAST["max_epochs"] * 4


@pytest.mark.parametrize("forget_rate", [0.2, None])
def test_coteaching_two_networks_and_forget_rate(tabular, forget_rate):
    X, y = tabular
    clf = fast(base_loss="coteaching", forget_rate=forget_rate).fit(X, y)
    assert len(clf.net_.module_.networks) == 2
    if forget_rate is None:
        assert isinstance(clf.forget_rate_, float) and 0 <= clf.forget_rate_ <= 0.5
    else:
        assert clf.forget_rate_ == forget_rate
    # predict_proba averages the softmax of both networks.
    logits = torch.cat([out[0] for out in clf.net_.forward_iter({"x": X})])
    expected = torch.softmax(logits, dim=-1).mean(dim=1).double().numpy()
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-5, atol=1e-7)


def test_coteaching_forget_rate_ramps_per_epoch(tabular, monkeypatch):
    calls = record_calls(monkeypatch, sklearn_rmd.losses, "coteaching_selection")
    fast(base_loss="coteaching", forget_rate=0.4, forget_epochs=2, max_epochs=4).fit(*tabular)
    rates = [args[2] for args, _ in calls]
    assert rates == pytest.approx([0.0] * 5 + [0.2] * 5 + [0.4] * 10)


def test_single_network_has_no_forget_rate(tabular):
    clf = fast().fit(*tabular)
    assert len(clf.net_.module_.networks) == 1 and clf.forget_rate_ is None


def test_coteaching_estimates_forget_rate_from_a_teacher(tabular, monkeypatch):
    graphs = record_calls(monkeypatch, sklearn_rmd.classifier, "knn_graph")
    clf = fast(base_loss="coteaching", relation_weight=0.0, init_from_teacher=False)
    clf.fit(*tabular)
    assert clf.teacher_ is not None and 0 <= clf.forget_rate_ <= 0.5
    # The estimate's graph is built as the edge term's is: on the estimator's device.
    assert [kwargs["device"] for _, kwargs in graphs] == [clf.device_]


@pytest.mark.slow
def test_grid_search_over_base_loss(tabular):
    grid = {"base_loss": ["ce", "gce", "sce"]}
    search = GridSearchCV(fast(), grid, cv=2).fit(*tabular)
    assert [p["base_loss"] for p in search.cv_results_["params"]] == grid["base_loss"]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert f"train_{search.best_params_['base_loss']}" in search.best_estimator_.history_[-1]


# -------------------------------------------------------------------- ablation
@pytest.mark.parametrize("params", [dict(relation_weight=0.0),
                                    dict(node_weight=0.0, edge_weight=0.0)])
def test_relation_term_off_logs_no_relation_columns(tabular, params):
    clf = fast(**params).fit(*tabular)
    for epoch in clf.history_:
        assert "train_edge" not in epoch and "train_node" not in epoch
        assert epoch["train_loss"] == pytest.approx(epoch["train_sce"], rel=1e-6)


@pytest.mark.parametrize("relation_weight, node_weight, edge_weight, warmup",
                         [(1.0, 1.0, 0.0, 0), (1.0, 0.0, 0.3, 0), (2.5, 0.7, 0.3, 0),
                          (2.0, 0.5, 1.0, 2)])
def test_total_loss_is_base_plus_weighted_relation_terms(tabular, relation_weight,
                                                         node_weight, edge_weight, warmup):
    clf = fast(relation_weight=relation_weight, node_weight=node_weight,
               edge_weight=edge_weight, relation_warmup=warmup).fit(*tabular)
    weights = {"train_node": node_weight, "train_edge": edge_weight}
    for epoch, row in enumerate(clf.history_):
        # The relation term ramps up linearly over the first ``warmup`` epochs.
        ramp = min(1.0, (epoch + 1) / warmup) if warmup else 1.0
        expected = row["train_sce"] + ramp * relation_weight * sum(
            weight * row[key] for key, weight in weights.items() if weight)
        assert row["train_loss"] == pytest.approx(expected, rel=1e-5)
        for key, weight in weights.items():
            assert (key in row) == (weight > 0)
            assert weight == 0 or row[key] > 0


@pytest.mark.parametrize("init_from_teacher", [True, False])
def test_init_from_teacher(tabular, init_from_teacher):
    snapshot = EncoderSnapshot()
    clf = fast(init_from_teacher=init_from_teacher, callbacks=[snapshot])
    clf.fit(*tabular)
    teacher = parameters(clf.teacher_.encoder_)
    assert same_parameters(snapshot.params, teacher) is init_from_teacher
    # The snapshot was taken before stage 2 trained: the student has moved since.
    assert not same_parameters(parameters(clf.net_.module_.networks[0].encoder), snapshot.params)


def test_no_teacher_and_no_stage_1(tabular, monkeypatch):
    stage1 = record_calls(monkeypatch, SimSiamNet, "get_loss")
    clf = fast(relation_weight=0.0, init_from_teacher=False).fit(*tabular)
    assert stage1 == []
    assert clf.teacher_ is None
    assert clf.history_[-1, "train_loss"] > 0
    with pytest.raises(ValueError, match="without stage 1, so it has no teacher"):
        clf.embed(tabular[0], source="teacher")


def test_online_teacher_features_with_student_augment(tabular, monkeypatch):
    batches = record_calls(monkeypatch, RelationDistillationLoss, "teacher_batch")
    clf = fast(teacher_features="online", student_augment=True, node_weight=1.0).fit(*tabular)
    assert isinstance(clf.net_.augment, TabularAugment)
    assert len(batches) == FAST["max_epochs"] * 5
    for (criterion, _, view), _ in batches:
        assert criterion.teacher_encoder is not None and criterion.teacher_features is None
        assert view is not None
    assert np.isfinite(clf.history_[-1, "train_node"])
    assert clf.predict(tabular[0]).shape == (len(tabular[0]),)


def test_precomputed_teacher_features_follow_the_rows(tabular, monkeypatch):
    batches = record_calls(monkeypatch, RelationDistillationLoss, "teacher_batch")
    clf = fast(node_weight=1.0).fit(*tabular)
    monkeypatch.undo()
    assert len(batches) == FAST["max_epochs"] * 5
    for (criterion, index, view), _ in batches:
        assert criterion.teacher_encoder is None
        # Each row of the shuffled batch gets its own teacher embedding.
        expected = clf.teacher_.transform(view.numpy())
        np.testing.assert_allclose(criterion.teacher_batch(index, view).numpy(), expected,
                                   rtol=1e-5, atol=1e-5)


def test_n_neighbors_is_the_k_of_the_teacher_graph(tabular, monkeypatch):
    calls = record_calls(monkeypatch, sklearn_rmd.classifier, "knn_graph")
    clf = fast(n_neighbors=3).fit(*tabular)
    monkeypatch.undo()
    assert len(calls) == 1
    (embeddings, k), kwargs = calls[0]
    assert k == 3
    # The graph is built on the frozen teacher's embeddings of every training row.
    np.testing.assert_allclose(embeddings, clf.teacher_.transform(tabular[0]), atol=1e-6)
    assert np.isfinite(clf.history_[-1, "train_edge"])


@pytest.mark.parametrize("spaces", [("teacher", "input"), ("input",)])
def test_neighbor_spaces_choose_where_the_graph_is_searched(tabular, monkeypatch, spaces):
    calls = record_calls(monkeypatch, sklearn_rmd.classifier, "knn_graph")
    clf = fast(neighbor_spaces=spaces).fit(*tabular)
    monkeypatch.undo()
    (embeddings, _), _ = calls[0]
    X = tabular[0]
    views = {"teacher": clf.teacher_.transform(X),
             "input": (X - X.mean(axis=0)) / X.std(axis=0)}
    expected = joint_space(*(views[s] for s in spaces)) if len(spaces) > 1 else views[spaces[0]]
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)
