"""Co-teaching: small-loss selection, forget schedule, neighbour noise estimate."""

import numpy as np
import pytest
import torch
from conftest import fast, record_calls
from sklearn.datasets import make_blobs

from sklearn_rmd import classifier as classifier_module
from sklearn_rmd import graph as graph_module
from sklearn_rmd.coteaching import coteaching_selection, estimate_noise_rate, forget_schedule
from sklearn_rmd.graph import knn_graph, neighbor_vote, standardize
from sklearn_rmd.noise import make_noisy_labels


@pytest.mark.parametrize("n, rate", [(10, 0.3), (7, 0.25), (20, 0.0), (9, 0.5)])
def test_coteaching_selection_keeps_small_loss_samples(n, rate):
    loss_a, loss_b = torch.rand(n), torch.rand(n)
    keep_a, keep_b = coteaching_selection(loss_a, loss_b, rate)
    n_keep = n - round(rate * n)
    for keep, loss in ((keep_a, loss_a), (keep_b, loss_b)):
        assert len(keep) == n_keep
        assert set(keep.tolist()) == set(np.argsort(loss.numpy())[:n_keep].tolist())


@pytest.mark.parametrize("epoch", range(14))
def test_forget_schedule_ramps_linearly_then_caps(epoch):
    assert forget_schedule(0.4, epoch, 10) == pytest.approx(0.4 * min(epoch, 10) / 10)


def test_forget_schedule_without_ramp():
    assert forget_schedule(0.3, 0, 0) == 0.3


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=600, n_features=8, centers=4, cluster_std=1.0,
                      random_state=0)
    return X, y


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.3])
def test_estimate_noise_rate_finds_the_flipped_share(blobs, rate):
    X, y = blobs
    y_noisy, flipped = make_noisy_labels(y, rate, random_state=0)
    estimate = estimate_noise_rate(knn_graph(X - X.mean(axis=0), 10), y_noisy)
    assert flipped.mean() == pytest.approx(rate)
    assert estimate == pytest.approx(rate, abs=0.03)


def test_estimate_noise_rate_of_clean_labels_is_near_zero(blobs):
    X, y = blobs
    assert estimate_noise_rate(knn_graph(X - X.mean(axis=0), 10), y) < 0.01


@pytest.mark.parametrize("relation", [dict(relation_weight=1.0), dict(relation_weight=0.0),
                                      dict(edge_weight=0.0, node_weight=1.0)])
def test_estimated_forget_rate_shares_the_edge_terms_graph(blobs, monkeypatch, relation):
    # One kNN graph of the teacher per fit: the edge term's, or the estimate's own
    # when there is no edge term; the estimate is the same either way.
    X, y = blobs
    X = X.astype(np.float32)
    y_noisy, _ = make_noisy_labels(y, 0.2, random_state=0)
    calls = [record_calls(monkeypatch, module, "knn_graph")
             for module in (classifier_module, graph_module)]
    model = fast(base_loss="coteaching", max_epochs=1, random_state=0, **relation)
    model.fit(X, y_noisy)
    assert sum(map(len, calls)) == 1
    graph = knn_graph(model.teacher_.transform(X), model.n_neighbors)
    assert model.forget_rate_ == min(estimate_noise_rate(graph, y_noisy), 0.5)
    assert 0.1 < model.forget_rate_ < 0.5


@pytest.mark.parametrize("relation_weight", [0.0, 1.0])
def test_estimated_forget_rate_reads_the_graph_of_neighbor_spaces(relation_weight):
    # Overlapping classes, so that the spaces' neighbourhoods differ.
    X, y = make_blobs(n_samples=300, n_features=8, centers=4, cluster_std=4.0,
                      random_state=0)
    X = X.astype(np.float32)
    y_noisy, _ = make_noisy_labels(y, 0.2, random_state=0)
    model = fast(base_loss="coteaching", max_epochs=1, random_state=0,
                 relation_weight=relation_weight, neighbor_spaces=("input",)).fit(X, y_noisy)
    graph = knn_graph(standardize(X), model.n_neighbors)
    assert model.forget_rate_ == min(estimate_noise_rate(graph, y_noisy), 0.5)
    # ... and not the teacher's graph, whose estimate differs here.
    teacher_graph = knn_graph(model.teacher_.transform(X), model.n_neighbors)
    assert model.forget_rate_ != min(estimate_noise_rate(teacher_graph, y_noisy), 0.5)


def test_neighbor_vote_counts_each_rows_neighbours():
    # Two tight pairs on the unit circle: each row's one neighbour is its twin.
    X = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.01, 1.0]])
    votes = neighbor_vote(X, np.array([0, 1, 1, 1]), 2, n_neighbors=1)
    np.testing.assert_allclose(votes, [[0, 1], [1, 0], [0, 1], [0, 1]])
