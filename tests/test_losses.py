"""Loss functions: relation distillation, SimSiam, robust base losses."""

import math

import numpy as np
import pytest
import torch

from sklearn_rmd.losses import (cross_entropy, generalized_cross_entropy, neighbor_mask,
                                pearson, relation_losses, simsiam_loss,
                                symmetric_cross_entropy)
from sklearn_rmd.nets import RelationDistillationLoss


def uncorrelated_rows(n, d):
    """``n`` zero-mean, orthonormal rows of length ``d``: their Pearson matrix is I."""
    basis = torch.randn(d, n)
    basis -= basis.mean(dim=0, keepdim=True)
    return torch.linalg.qr(basis).Q.T


def affine_per_row(x):
    """Scale and shift every row by its own positive factor and offset."""
    return x * (0.5 + torch.rand(len(x), 1) * 3) + torch.randn(len(x), 1) * 5


# ------------------------------------------------------------ relation losses
def test_pearson_is_row_correlation():
    a, b = torch.randn(5, 7, dtype=torch.float64), torch.randn(4, 7, dtype=torch.float64)
    expected = np.corrcoef(a.numpy(), b.numpy())[:5, 5:]
    np.testing.assert_allclose(pearson(a, b).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("student", [lambda t: t, affine_per_row], ids=["equal", "affine"])
def test_edge_loss_vanishes_when_student_relations_match(student):
    teacher = torch.randn(16, 8)
    edge, node = relation_losses(teacher, student(teacher))
    assert edge.item() < 1e-4
    # The node term compares N_ts with I: for matching nodes it is E_t - I.
    _, node_self = relation_losses(teacher, teacher)
    assert node.item() == pytest.approx(node_self.item(), abs=1e-5)


@pytest.mark.parametrize("student", [lambda t: t, affine_per_row], ids=["equal", "affine"])
def test_both_losses_vanish_for_matching_uncorrelated_nodes(student):
    teacher = uncorrelated_rows(6, 12)
    edge, node = relation_losses(teacher, student(teacher))
    assert edge.item() < 1e-4 and node.item() < 1e-4


def test_losses_positive_for_unrelated_nodes():
    edge, node = relation_losses(torch.randn(16, 8), torch.randn(16, 8))
    assert edge.item() > 0.1 and node.item() > 0.1


def test_relation_losses_match_definition():
    teacher, student = torch.randn(10, 6), torch.randn(10, 6)
    e_t, e_s, n_ts = pearson(teacher, teacher), pearson(student, student), pearson(teacher, student)
    edge, node = relation_losses(teacher, student)
    # Frobenius norms normalised by size: root mean square of the entries.
    assert edge.item() == pytest.approx(math.sqrt(((e_t - e_s) ** 2).mean().item()), rel=1e-5)
    assert node.item() == pytest.approx(
        math.sqrt(((n_ts - torch.eye(10)) ** 2).mean().item()), rel=1e-5)


def test_neighbor_mask_keeps_k_strongest_without_diagonal():
    relations = pearson(*(2 * [torch.randn(12, 5)]))
    mask = neighbor_mask(relations, 3)
    assert torch.all(mask.sum(dim=1) == 3)
    assert torch.all(mask.diagonal() == 0)
    scores = relations.clone().fill_diagonal_(-math.inf)
    expected = torch.zeros_like(mask).scatter_(1, scores.argsort(dim=1, descending=True)[:, :3], 1)
    assert torch.equal(mask, expected)


def test_edge_loss_with_mask_compares_only_the_kept_entries():
    teacher, student = torch.randn(12, 6), torch.randn(12, 6)
    mask = neighbor_mask(pearson(teacher, teacher), 3)
    diff = pearson(teacher, teacher) - pearson(student, student)
    edge, _ = relation_losses(teacher, student, mask)
    assert edge.item() == pytest.approx(math.sqrt((diff[mask.bool()] ** 2).mean().item()),
                                        rel=1e-5)


def test_edge_mask_comes_from_the_raw_teacher_features():
    loss = RelationDistillationLoss(cross_entropy, student_dim=4, teacher_dim=6,
                                    relation_dim=5, n_neighbors=3)
    teacher = torch.randn(12, 6)
    assert torch.equal(loss.edge_mask(teacher), neighbor_mask(pearson(teacher, teacher), 3))
    # K >= n - 1 keeps every relation: the dense graph.
    assert loss.edge_mask(teacher[:4]) is None
    assert RelationDistillationLoss(cross_entropy, 4, teacher_dim=6).edge_mask(teacher) is None


def test_edge_loss_does_not_scale_with_batch_size():
    def mean_edge(n):
        return np.mean([relation_losses(torch.randn(n, 16), torch.randn(n, 16))[0].item()
                        for _ in range(5)])
    # An unnormalised Frobenius norm would grow 8 times from n=32 to n=256.
    assert mean_edge(256) == pytest.approx(mean_edge(32), rel=0.1)


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
