"""Co-teaching (Han et al., 2018): small-loss sample exchange between two
networks, the forget-rate schedule, and a label-free estimate of the forget
rate from the teacher's neighbourhoods."""

import numpy as np
import torch

from .graph import neighbor_label_distribution


def coteaching_selection(loss_a, loss_b, forget_rate):
    """Indices each network keeps for its peer: the small-loss samples.

    Returns ``(keep_a, keep_b)``: the ``n - round(forget_rate * n)`` samples
    with the smallest loss under network a and under network b. Network a is
    then updated on ``keep_b`` and network b on ``keep_a``.
    """
    n = loss_a.shape[0]
    n_keep = max(n - int(round(forget_rate * n)), 1)
    keep_a = torch.argsort(loss_a.detach())[:n_keep]
    keep_b = torch.argsort(loss_b.detach())[:n_keep]
    return keep_a, keep_b


def forget_schedule(forget_rate, epoch, forget_epochs):
    """Co-teaching's forget rate at ``epoch`` (0-based): a linear ramp."""
    if forget_epochs <= 0:
        return forget_rate
    return forget_rate * min(epoch / forget_epochs, 1.0)


def estimate_noise_rate(graph, y):
    """Share of rows whose label disagrees with their neighbours' labels.

    A label-free estimate used for Co-teaching's forget rate when none is
    given. ``graph`` is the ``(indices, similarities)`` of
    :func:`~sklearn_rmd.graph.knn_graph` over the rows in the classifier's
    ``neighbor_spaces``: the edge term's graph when the fit has one, so that
    it is built once.
    """
    indices, similarities = graph
    votes = neighbor_label_distribution(indices, similarities, y, int(y.max()) + 1)
    return float(np.mean(votes.argmax(axis=1) != y))
