"""Shared fixtures and helpers: seeding, tiny data sets, fast parameters, devices."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, make_classification

from sklearn_rmd import NoisyLabelDetector, RMDClassifier

# Small networks and few epochs. lr=1e-2 with 3 epochs passes scikit-learn's
# check_classifiers_train (> 0.83) with margin: measured >= 0.89 on its blobs for
# random_state 0-5 (2 epochs dipped to 0.833 for one seed).
FAST = dict(pretrain_epochs=1, max_epochs=3, batch_size=32, hidden_dims=(16,),
            embedding_dim=8, relation_dim=8, lr=1e-2, random_state=0, device="cpu")

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def pytest_collection_modifyitems(items):
    """Mark every test that ``requires_cuda`` with ``cuda``, so ``-m cuda`` selects them."""
    for item in items:
        if requires_cuda.mark in item.iter_markers(name="skipif"):
            item.add_marker(pytest.mark.cuda)


def fast(**params):
    """An RMDClassifier with the FAST parameters, updated by ``params``."""
    return RMDClassifier(**{**FAST, **params})


def fast_detector(**params):
    """A fast detector: a tiny RMDClassifier without early stopping, 2 folds, 5 neighbours."""
    defaults = dict(estimator=RMDClassifier(**FAST, early_stopping=False), cv=2,
                    n_neighbors=5, random_state=0, device="cpu")
    return NoisyLabelDetector(**{**defaults, **params})


def brute_force_knn(X, k):
    """Cosine k-nearest neighbours of every row (itself excluded), the N x N way."""
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    indices = np.argsort(-similarity, axis=1)[:, :k]
    return indices, np.take_along_axis(similarity, indices, axis=1)


def record_calls(monkeypatch, owner, name):
    """Wrap ``owner.name`` so every call's ``(args, kwargs)`` is appended to the returned list."""
    calls = []
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="module")
def tabular():
    """160 rows, 6 features, 3 well separated classes, float32."""
    X, y = make_classification(n_samples=160, n_features=6, n_informative=4,
                               n_redundant=0, n_classes=3, n_clusters_per_class=1,
                               class_sep=2.0, random_state=0)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def digits():
    """150 8x8 digit images (classes 0-4) as flat rows of 64 pixels in [0, 1], float32."""
    X, y = load_digits(n_class=5, return_X_y=True)
    return (X[:150] / 16.0).astype(np.float32), y[:150]


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=requires_cuda)])
def device(request):
    return request.param
