"""The dataset-wide kNN graph and label-noise injection."""

import numpy as np
import pytest
from conftest import brute_force_knn

from sklearn_rmd.graph import joint_space, knn_graph, neighbor_label_distribution
from sklearn_rmd.noise import make_noisy_labels


# ---------------------------------------------------------------------- graph
@pytest.mark.parametrize("chunk_size", [7, 50, 4096])
def test_knn_graph_matches_brute_force(device, chunk_size):
    X = np.random.RandomState(0).randn(50, 5)
    indices, similarities = knn_graph(X, n_neighbors=4, chunk_size=chunk_size, device=device)
    expected_indices, expected_similarities = brute_force_knn(X, 4)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(similarities, expected_similarities, atol=1e-5)
    assert indices.dtype == np.int64 and similarities.dtype == np.float32


def test_knn_graph_excludes_self_even_with_duplicates():
    X = np.random.RandomState(1).randn(10, 4)
    X = np.concatenate([X, X])  # row i and row i + 10 are identical
    indices, similarities = knn_graph(X, n_neighbors=3, chunk_size=6)
    rows = np.arange(20)
    assert np.all(indices != rows[:, None])
    np.testing.assert_array_equal(indices[:, 0], (rows + 10) % 20)
    np.testing.assert_allclose(similarities[:, 0], 1.0, atol=1e-6)


@pytest.mark.parametrize("n_neighbors", [0, 10, 11])
def test_knn_graph_rejects_bad_n_neighbors(n_neighbors):
    with pytest.raises(ValueError, match="n_neighbors"):
        knn_graph(np.random.RandomState(0).randn(10, 3), n_neighbors=n_neighbors)


def test_joint_space_similarity_is_the_mean_of_the_spaces():
    rng = np.random.RandomState(4)
    a, b = rng.randn(12, 5), 100 * rng.randn(12, 3)  # different scales and widths
    joint = joint_space(a, b)
    assert joint.shape == (12, 8)

    def cosine(x):
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        return x @ x.T

    np.testing.assert_allclose(cosine(joint), (cosine(a) + cosine(b)) / 2, atol=1e-5)


def test_neighbor_label_distribution():
    X = np.random.RandomState(2).randn(30, 4)
    y = np.random.RandomState(3).randint(0, 3, size=30)
    indices, similarities = knn_graph(X, n_neighbors=5)
    votes = neighbor_label_distribution(indices, similarities, y, n_classes=3)
    assert votes.shape == (30, 3) and np.all(votes >= 0)
    np.testing.assert_allclose(votes.sum(axis=1), 1.0)
    # A class no neighbour holds gets no vote; a row's own label is not counted.
    held = np.zeros((30, 3), dtype=bool)
    held[np.repeat(np.arange(30), 5), y[indices].ravel()] = True
    np.testing.assert_array_equal(votes > 0, held)


# ---------------------------------------------------------------------- noise
CLASSES = np.repeat([0, 1, 2, 3], 25)
MATRIX = np.full((4, 4), 0.1) + np.eye(4) * 0.6  # columns sum to 1, 30% off-diagonal


@pytest.mark.parametrize("kind, noise_rate, n_flips", [
    ("symmetric", 0.2, 20), ("symmetric", 0.337, 34), ("pair", 0.45, 45),
    (MATRIX, None, 30), (MATRIX, 0.1, 10),
], ids=["symmetric", "symmetric-round", "pair", "matrix", "matrix-rate"])
def test_exact_number_of_flips(kind, noise_rate, n_flips):
    y_noisy, flipped = make_noisy_labels(CLASSES, noise_rate, kind=kind, random_state=0)
    assert flipped.sum() == n_flips
    np.testing.assert_array_equal(flipped, y_noisy != CLASSES)


@pytest.mark.parametrize("kind, noise_rate", [
    ("symmetric", 0.0), ("pair", 0.0), ("symmetric", 0.004), (np.eye(4), None),
], ids=["symmetric", "pair", "rounds-to-none", "identity-matrix"])
def test_a_zero_rate_returns_the_labels_unchanged(kind, noise_rate):
    # Clean labels are the 0% column of a noise sweep.
    y_noisy, flipped = make_noisy_labels(CLASSES, noise_rate, kind=kind, random_state=0)
    np.testing.assert_array_equal(y_noisy, CLASSES)
    assert not flipped.any() and y_noisy is not CLASSES


def test_repeatable_with_random_state():
    first = make_noisy_labels(CLASSES, 0.3, random_state=5)
    again = make_noisy_labels(CLASSES, 0.3, random_state=5)
    other = make_noisy_labels(CLASSES, 0.3, random_state=6)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize("labels", [np.array([1, 5, 9]), np.array(["ant", "bee", "cat"])],
                         ids=["gapped-integers", "strings"])
def test_pair_noise_maps_each_class_to_the_next(labels):
    y = labels[np.arange(60) % 3]
    y_noisy, flipped = make_noisy_labels(y, 0.5, kind="pair", random_state=0)
    assert y_noisy.dtype == y.dtype
    following = dict(zip(labels, np.roll(labels, -1)))
    assert flipped.sum() == 30
    assert all(following[a] == b for a, b in zip(y[flipped], y_noisy[flipped]))


def test_symmetric_noise_with_string_labels():
    y = np.array(["ant", "bee", "cat"])[np.arange(60) % 3]
    y_noisy, flipped = make_noisy_labels(y, 0.4, random_state=0)
    assert set(y_noisy) <= {"ant", "bee", "cat"} and flipped.sum() == 24
    np.testing.assert_array_equal(flipped, y_noisy != y)


@pytest.mark.parametrize("kind, noise_rate, match", [
    ("uniform", 0.2, "Unknown noise kind"),
    (np.eye(3), None, "shape \\(4, 4\\)"),
    (np.ones((4, 4)), None, "columns summing to 1"),
    ("symmetric", None, "noise_rate is required"),
    ("symmetric", 1.0, "noise_rate=1.0"),
])
def test_bad_noise_arguments_raise(kind, noise_rate, match):
    with pytest.raises(ValueError, match=match):
        make_noisy_labels(CLASSES, noise_rate, kind=kind)
