"""Losses: SimSiam, relation distillation (edge and node) and robust base losses.

Base losses return one value per sample so that Co-teaching can select
(:mod:`sklearn_rmd.coteaching`).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


def simsiam_loss(p1, p2, z1, z2):
    """Symmetrised negative cosine similarity with stop-gradient on ``z``."""
    return -0.5 * (
        F.cosine_similarity(p1, z2.detach(), dim=-1).mean()
        + F.cosine_similarity(p2, z1.detach(), dim=-1).mean()
    )


class SimSiamLoss(nn.Module):
    """``simsiam_loss`` as a criterion module for skorch."""

    def forward(self, p1, p2, z1, z2):
        return simsiam_loss(p1, p2, z1, z2)


def _centred_unit(a):
    """Rows centred on their own mean over features, scaled to unit length."""
    return F.normalize(a - a.mean(dim=1, keepdim=True), dim=1)


def pearson(a, b):
    """Pearson correlation between every row of ``a`` and every row of ``b``.

    Each row is centred on its own mean over features and scaled to unit
    length, so the result is the cosine similarity of centred rows.
    """
    return _centred_unit(a) @ _centred_unit(b).T


def _rms(values, mask=None):
    # Frobenius norm divided by the square root of the number of entries
    # compared: the weights then do not depend on the batch size.
    squared = values.square()
    if mask is None:
        mean = squared.mean()
    else:
        mean = (squared * mask).sum() / mask.sum().clamp_min(1)
    return torch.sqrt(mean + 1e-12)


def neighbor_mask(teacher_relations, n_neighbors):
    """Mask of each row's ``n_neighbors`` strongest teacher relations (no self)."""
    n = teacher_relations.shape[0]
    scores = teacher_relations.detach().clone()
    scores.fill_diagonal_(-math.inf)
    top = scores.topk(min(n_neighbors, n - 1), dim=1).indices
    return torch.zeros_like(scores).scatter_(1, top, 1.0)


def relation_losses(teacher_nodes, student_nodes, mask=None):
    """Edge and node matching losses between teacher and student batch graphs.

    Parameters
    ----------
    teacher_nodes, student_nodes : tensor (n, d)
      Teacher and student features mapped into the shared node space.

    mask : tensor (n, n) or None (default=None)
      Which relations the edge term compares (see :func:`neighbor_mask`);
      ``None`` compares the dense batch graphs.

    Returns
    -------
    edge, node : tensor
      ``||E_t - E_s||`` and ``||N_ts - I||``, each as the root mean square
      over the compared entries (the Frobenius norm normalised by size).
    """
    # pearson() on each pair, with each side centred and normalised once.
    teacher, student = _centred_unit(teacher_nodes), _centred_unit(student_nodes)
    e_t = teacher @ teacher.T
    e_s = student @ student.T
    n_ts = teacher @ student.T
    edge = _rms(e_t - e_s, mask)
    node = _rms(n_ts - torch.eye(n_ts.shape[0], device=n_ts.device, dtype=n_ts.dtype))
    return edge, node


def _given_label_probability(logits, y):
    return torch.softmax(logits, dim=-1).gather(1, y.unsqueeze(1)).squeeze(1)


def cross_entropy(logits, y):
    """Per-sample cross-entropy."""
    return F.cross_entropy(logits, y, reduction="none")


def generalized_cross_entropy(logits, y, q=0.7):
    """Per-sample GCE (Zhang & Sabuncu, 2018): ``(1 - p_y ** q) / q``."""
    p_y = _given_label_probability(logits, y).clamp_min(1e-7)
    return (1.0 - p_y.pow(q)) / q


def symmetric_cross_entropy(logits, y, alpha=0.1, beta=1.0):
    """Per-sample SCE (Wang et al., 2019): ``alpha * CE + beta * RCE``.

    RCE is the cross-entropy with prediction and one-hot label swapped,
    ``-sum_k p_k log q_k``, where ``log 0`` needs a finite value A. As in the
    authors' released code, the one-hot label is clamped to [1e-4, 1], so
    A = ln(1e-4) (natural log) and ``RCE = -ln(1e-4) * (1 - p_y)``. The paper's
    text states A = -4 instead; with the clamp, RCE weighs ln(1e4) / 4 times
    more for the same ``beta``.
    """
    p_y = _given_label_probability(logits, y)
    reverse = -math.log(1e-4) * (1.0 - p_y)
    return alpha * cross_entropy(logits, y) + beta * reverse
