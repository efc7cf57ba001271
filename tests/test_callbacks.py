"""What the detector's recorders average, and the validation scorer."""

import numpy as np
import pytest
import torch

from sklearn_rmd.early_stopping import noisy_accuracy
from sklearn_rmd.crossfit import HeldOutProbabilities, TrainingDynamics


class FixedNet:
    """Stands in for a net: predict_proba returns the next prepared answer."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.seen = []

    def predict_proba(self, X):
        self.seen.append(X)
        return self.answers.pop(0)


def test_held_out_probabilities_average_over_epochs():
    rows = np.arange(6, dtype=np.float32).reshape(3, 2)
    first = np.array([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]], dtype=np.float32)
    second = np.array([[0.4, 0.6], [0.7, 0.3], [0.0, 1.0]], dtype=np.float32)
    net = FixedNet(first, second)
    recorder = HeldOutProbabilities(rows).initialize()
    recorder.on_epoch_end(net)
    recorder.on_epoch_end(net)
    np.testing.assert_allclose(recorder.mean(), (first + second) / 2, rtol=1e-6)
    assert recorder.mean().dtype == np.float64
    # It scores the held-out rows it was given.
    np.testing.assert_array_equal(net.seen[0]["x"], rows)


def test_held_out_probabilities_before_any_epoch_say_so():
    recorder = HeldOutProbabilities(np.zeros((2, 2), np.float32)).initialize()
    with pytest.raises(RuntimeError, match="No epoch ended"):
        recorder.mean()


def batch(index, logits, training=True):
    return dict(batch=({"x": None, "index": torch.tensor(index)}, None),
                y_pred=(torch.tensor(logits, dtype=torch.float32),), training=training)


def test_training_dynamics_average_each_rows_softmax():
    recorder = TrainingDynamics(n_samples=4, n_classes=2).initialize()
    # Logits of shape (batch, networks, classes): two networks, averaged.
    recorder.on_batch_end(None, **batch([0, 2], [[[0.0, 0.0], [np.log(3), 0.0]],
                                                 [[0.0, 10.0], [0.0, 10.0]]]))
    recorder.on_batch_end(None, **batch([0], [[[np.log(3), 0.0], [np.log(3), 0.0]]]))
    recorder.on_batch_end(None, **batch([1], [[[9.0, 0.0], [9.0, 0.0]]], training=False))
    mean = recorder.mean()
    # Row 0: epoch-1 mean of (0.5, 0.5) and (0.75, 0.25), then (0.75, 0.25).
    np.testing.assert_allclose(mean[0], [(0.625 + 0.75) / 2, (0.375 + 0.25) / 2], rtol=1e-6)
    np.testing.assert_allclose(mean[2], torch.softmax(torch.tensor([0.0, 10.0]), 0), rtol=1e-5)
    # Row 1 only came in a validation batch and row 3 never: no training evidence.
    np.testing.assert_array_equal(recorder.seen_, [2, 0, 1, 0])
    np.testing.assert_array_equal(mean[[1, 3]], 0.0)


def test_noisy_accuracy_scores_against_the_given_labels():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    net = FixedNet(probs)
    assert noisy_accuracy(net, "X", [0, 1, 1, 1]) == pytest.approx(0.75)
    assert net.seen == ["X"]
