"""Dataset-wide k-nearest-neighbour relation graph, computed in chunks.

Memory is O(N * K) plus one ``chunk_size x N`` block of similarities: the
N x N matrix is never formed.
"""

import numpy as np
import torch
import torch.nn.functional as F


def knn_graph(embeddings, n_neighbors=10, chunk_size=2048, device="cpu"):
    """Cosine k-nearest neighbours of every row, itself excluded.

    Parameters
    ----------
    embeddings : array-like or tensor of shape (n_samples, n_features)
      Row vectors; they are L2-normalised here.

    n_neighbors : int (default=10)
      Neighbours per row, at most ``n_samples - 1``.

    chunk_size : int (default=2048)
      Rows whose similarities are computed at once; bounds the extra memory
      to ``chunk_size * n_samples`` floats.

    device : str (default='cpu')
      Where the similarities are computed.

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int64
      Neighbours of each row, most similar first.

    similarities : ndarray of shape (n_samples, n_neighbors), float32
      Their cosine similarities.
    """
    points = torch.as_tensor(np.asarray(embeddings, dtype=np.float32), device=device)
    n = points.shape[0]
    if not 1 <= n_neighbors < n:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be at least 1 and smaller than the "
            f"number of rows ({n}). Pass a smaller n_neighbors or more rows."
        )
    points = F.normalize(points, dim=1)
    indices = torch.empty(n, n_neighbors, dtype=torch.long, device=device)
    similarities = torch.empty(n, n_neighbors, device=device)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        block = points[start:stop] @ points.T
        rows = torch.arange(stop - start, device=device)
        block[rows, rows + start] = -torch.inf
        top = block.topk(n_neighbors, dim=1)
        indices[start:stop] = top.indices
        similarities[start:stop] = top.values
    return indices.cpu().numpy(), similarities.cpu().numpy()


def neighbor_label_distribution(indices, similarities, y, n_classes, temperature=0.1):
    """Similarity-weighted class distribution of each row's neighbours.

    Weights are ``exp(similarity / temperature)``; row ``i``'s own label is
    not counted (the graph excludes self).

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
      Rows sum to 1.
    """
    weights = np.exp((similarities - 1.0) / temperature)
    votes = np.zeros((indices.shape[0], n_classes))
    rows = np.repeat(np.arange(indices.shape[0]), indices.shape[1])
    np.add.at(votes, (rows, y[indices].ravel()), weights.ravel())
    return votes / votes.sum(axis=1, keepdims=True)
