"""Outliers and near-duplicates, read from the detector's nearest-neighbour graphs.

Both come from graphs of K cosine nearest neighbours (:func:`sklearn_rmd.graph.knn_graph`,
memory O(N * K)): the graphs of the neighbour evidence (standardised input
columns, teacher embeddings) and one more over the rows as given (``X`` as
passed to ``fit``, the space cleanlab's ``Datalab(features=X)`` searches).

* Outliers: a row far from its K nearest neighbours. Per space, the log of
  its mean cosine distance to them is robustly standardised (median, scaled
  MAD); a row's deviation is its largest over the spaces, so a row counts as
  outlying when one space sees it apart. Why the largest: rows from another
  distribution often lie close together in one space (e.g. in the teacher's,
  which maps inputs unlike its training rows to one region) and apart in
  another. On the data of benchmarks/bench_datalab.py, the mean over the K
  separated the replaced rows better than the distance to the K-th alone.
  A group of more than K alike rows apart from the rest is not seen as
  outlying: its rows are each other's neighbours.
* Near-duplicates: rows whose cosine similarity in the given space reaches
  ``DUPLICATE_SIMILARITY``, grouped into sets by connected components. Only
  pairs in each other's K nearest neighbours are compared; a set larger than
  K + 1 rows is still found whole when its rows link up through the graph.
"""

from typing import NamedTuple

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import rankdata

from .graph import knn_graph

#: Cosine similarity, in the space of the rows as given, from which two rows
#: are near-duplicates: identical rows score 1; a copy with a small change
#: (relative to the row's size) stays above it.
DUPLICATE_SIMILARITY = 0.999
#: Robust z-score (in scaled-MAD units of the log distance) above which a row
#: is an outlier: far in the tail for any bell-shaped spread of distances, so
#: clean data gives few or none, rather than a fixed share of rows.
OUTLIER_FENCE = 3.0
# Floor of the MAD, in log-distance units: exact duplicates make many distances 0.
_MIN_SPREAD = 1e-3


class DataIssues(NamedTuple):
    """What :func:`find_data_issues` returns; arrays over rows or sets."""

    outlier_score: np.ndarray
    is_outlier: np.ndarray
    near_duplicate_sets: list
    near_duplicate_label_conflict: np.ndarray


def robust_deviation(distances):
    """Robust z-score of the log distances: (log d - median) / (1.4826 * MAD)."""
    logs = np.log(np.maximum(np.asarray(distances, dtype=np.float64), 1e-12))
    centre = np.median(logs)
    spread = max(1.4826 * np.median(np.abs(logs - centre)), _MIN_SPREAD)
    return (logs - centre) / spread


def outlier_scores(similarity_graphs, fence=OUTLIER_FENCE):
    """Outlier score, deviation and flag of each row from its kNN graphs.

    Parameters
    ----------
    similarity_graphs : list of ndarray of shape (n_samples, n_neighbors)
      Cosine similarities of each row's neighbours, most similar first, one
      array per space.

    fence : float (default=OUTLIER_FENCE)
      Deviation above which a row is flagged.

    Returns
    -------
    score : ndarray of shape (n_samples,)
      Rank of the deviation scaled to [0, 1] (ties share their mean rank);
      higher is more outlying.

    deviation : ndarray of shape (n_samples,)
      The largest over the spaces of :func:`robust_deviation` of the mean
      cosine distance to the neighbours.

    is_outlier : ndarray of bool, shape (n_samples,)
      ``deviation > fence``.
    """
    deviation = np.max([robust_deviation(1.0 - np.asarray(s, dtype=np.float64).mean(axis=1))
                        for s in similarity_graphs], axis=0)
    n = len(deviation)
    score = (rankdata(deviation) - 1.0) / max(n - 1, 1)
    return score, deviation, deviation > fence


def near_duplicate_sets(indices, similarities, threshold=DUPLICATE_SIMILARITY):
    """Groups of rows linked by neighbour pairs of similarity >= ``threshold``.

    Parameters
    ----------
    indices, similarities : ndarray of shape (n_samples, n_neighbors)
      A graph from :func:`sklearn_rmd.graph.knn_graph`.

    threshold : float (default=DUPLICATE_SIMILARITY)
      Least cosine similarity of a near-duplicate pair.

    Returns
    -------
    sets : list of ndarray of int
      Each set's row indices, sorted; sets with two rows or more only, the
      largest first, then by their first row.
    """
    n = len(indices)
    rows, cols = np.nonzero(similarities >= threshold)
    pairs = coo_matrix((np.ones(len(rows)), (rows, indices[rows, cols])), shape=(n, n))
    _, component = connected_components(pairs, directed=False)
    sizes = np.bincount(component)
    sets = [np.flatnonzero(component == c) for c in np.flatnonzero(sizes > 1)]
    return sorted(sets, key=lambda s: (-len(s), s[0]))


def label_conflicts(sets, labels):
    """Whether the given labels disagree within each set (one bool per set)."""
    return np.array([len(np.unique(labels[s])) > 1 for s in sets], dtype=bool)


def find_data_issues(X, labels, graphs, n_neighbors, device="cpu", backend="auto"):
    """Outliers and near-duplicates of the rows ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
      The rows as given; one more kNN graph is built over them.

    labels : ndarray of shape (n_samples,)
      Given labels (encoded or not), for the conflicts within sets.

    graphs : dict of str to (indices, similarities)
      kNN graphs already built, by space; their similarities are reused.

    n_neighbors : int
      K of the graph over ``X``.

    device, backend : str
      As in :func:`sklearn_rmd.graph.knn_graph`.

    Returns
    -------
    DataIssues
    """
    indices, similarities = knn_graph(X, n_neighbors, device=device, backend=backend)
    spaces = [s for _, s in graphs.values()] + [similarities]
    score, _, flagged = outlier_scores(spaces)
    sets = near_duplicate_sets(indices, similarities)
    return DataIssues(score, flagged, sets, label_conflicts(sets, labels))
