"""Loss functions: SimSiam and the robust base losses (the relation term: test_relation.py)."""


import numpy as np
import pytest
import torch

from sklearn_rmd.losses import (base_loss_function, cross_entropy, generalized_cross_entropy,
                                simsiam_loss, symmetric_cross_entropy)


# -------------------------------------------------------------------- SimSiam
def test_simsiam_loss_is_minus_one_for_identical_directions():
    z = torch.randn(8, 5)
    assert simsiam_loss(3 * z, 3 * z, z, z).item() == pytest.approx(-1.0, abs=1e-6)
    assert simsiam_loss(z, z, -z, -z).item() == pytest.approx(1.0, abs=1e-6)


def test_simsiam_stop_gradient_on_z():
    p1, p2, z1, z2 = (torch.randn(8, 5, requires_grad=True) for _ in range(4))
    simsiam_loss(p1, p2, z1, z2).backward()
    assert z1.grad is None and z2.grad is None
    assert p1.grad.abs().sum() > 0 and p2.grad.abs().sum() > 0


# ---------------------------------------------------------------- base losses
LOGITS = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [-1.0, 3.0, 0.0]])
LABELS = np.array([0, 2, 0])


def given_label_probability():
    p = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)
    return p[np.arange(len(LABELS)), LABELS]


def base_loss_value(loss, **params):
    return loss(torch.tensor(LOGITS), torch.tensor(LABELS), **params).numpy()


def test_cross_entropy_formula():
    np.testing.assert_allclose(base_loss_value(cross_entropy), -np.log(given_label_probability()))


@pytest.mark.parametrize("q", [0.7, 1.0, 0.3])
def test_generalized_cross_entropy_formula(q):
    expected = (1 - given_label_probability() ** q) / q
    np.testing.assert_allclose(base_loss_value(generalized_cross_entropy, q=q), expected)


def reverse_cross_entropy(logits, labels, clamp=1e-4):
    """-sum_k p_k log q_k, q the one-hot label clamped to [clamp, 1]."""
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    q = np.clip(np.eye(logits.shape[1])[labels], clamp, 1.0)
    return -(p * np.log(q)).sum(axis=1)


@pytest.mark.parametrize("alpha, beta", [(0.1, 1.0), (1.0, 0.0), (0.5, 2.0)])
def test_symmetric_cross_entropy_is_ce_plus_reverse_ce(alpha, beta):
    expected = (alpha * -np.log(given_label_probability())
                + beta * reverse_cross_entropy(LOGITS, LABELS))
    np.testing.assert_allclose(
        base_loss_value(symmetric_cross_entropy, alpha=alpha, beta=beta), expected, rtol=1e-6)


def test_reverse_cross_entropy_is_symmetric():
    # The property the loss is named for: summed over every possible label, RCE
    # is the same for any prediction, so symmetric label noise cannot bias it.
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    totals = sum(symmetric_cross_entropy(logits, torch.full((6,), k), alpha=0.0)
                 for k in range(4))
    np.testing.assert_allclose(totals.numpy(), totals[0].item())
    # A confident, correct prediction has (almost) no reverse loss.
    sure = torch.tensor([[20.0, 0.0, 0.0]], dtype=torch.float64)
    assert symmetric_cross_entropy(sure, torch.tensor([0]), alpha=0.0).item() < 1e-6


def test_base_loss_function_follows_the_name_and_parameters():
    logits, y = torch.tensor(LOGITS, dtype=torch.float32), torch.tensor(LABELS)
    sce = base_loss_function("sce", sce_alpha=0.3, sce_beta=2.0)(logits, y)
    torch.testing.assert_close(sce, symmetric_cross_entropy(logits, y, alpha=0.3, beta=2.0))
    gce = base_loss_function("gce", gce_q=0.4)(logits, y)
    torch.testing.assert_close(gce, generalized_cross_entropy(logits, y, q=0.4))
    for name in ("ce", "coteaching"):  # Co-teaching selects samples on cross-entropy
        torch.testing.assert_close(base_loss_function(name)(logits, y), cross_entropy(logits, y))
    assert base_loss_function(cross_entropy) is cross_entropy
