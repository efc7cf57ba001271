"""Dataset-wide k-nearest-neighbour relation graph, computed in chunks.

Memory is O(N * K) plus one ``chunk_size x N`` block of similarities (at
most about 64 MB by default): the N x N matrix is never formed. With the
optional ``faiss`` extra, large graphs can be built by an exact FAISS
inner-product index instead, and very large ones by an approximate FAISS
HNSW index, whose cost grows about as N log N rather than N**2 and which
holds a copy of the rows plus about 33 links per row.
"""

import numpy as np
import torch
import torch.nn.functional as F

BACKENDS = ("auto", "torch", "faiss", "hnsw")
# 'auto' hands CPU graphs of at least this many rows to FAISS when it is installed:
# its exact search was about twice as fast as the torch path from 10 000 rows of
# 128 features on (on 1 and 2 threads), and about as fast below.
FAISS_MIN_ROWS = 10_000
# ... and graphs of at least this many rows to the approximate HNSW index
# (benchmarks/results/knn_approx.md, 2 threads): at 1e5 rows it was only about
# 1.1x faster on input columns and random rows, at 3e5 rows 2.3-5.2x on every space.
# Measured on 2 threads: the exact search speeds up with more, the one-thread HNSW
# build does not.
HNSW_MIN_ROWS = 200_000
# ... and graphs of the teacher's embeddings from this many rows: at 1e5 rows HNSW
# kept 99.1% of their exact neighbours in half the exact time (knn_approx.md), where
# it kept 64% of the input columns' neighbours.
EMBEDDING_HNSW_MIN_ROWS = 100_000
# HNSW links per row (M; 2 * M in the base layer) and least search breadth: at
# 1e5 rows these kept 99% of the exact neighbours of teacher embeddings.
_HNSW_M, _HNSW_MIN_EF = 16, 32
# Default similarity block: at most this many float32 entries (64 MB).
_BLOCK_ENTRIES = 2 ** 24


def _faiss():
    """The ``faiss`` module, or None when it is not installed."""
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def check_backend(backend, name="backend"):
    """Check a kNN backend before any work is done.

    Parameters
    ----------
    backend : str
      One of ``BACKENDS``.

    name : str (default='backend')
      The parameter's name in the error messages.

    Raises
    ------
    ValueError
      If ``backend`` is not one of ``BACKENDS``.

    ImportError
      If ``backend`` is 'faiss' or 'hnsw' and FAISS is not installed.
    """
    if backend not in BACKENDS:
        raise ValueError(f"{name}={backend!r}; use one of {BACKENDS}.")
    if backend in ("faiss", "hnsw") and _faiss() is None:
        raise ImportError(
            f"{name}={backend!r} needs the faiss package: pip install '.[faiss]' in "
            "the sklearn-rmd checkout (or pip install faiss-cpu), or use 'torch'."
        )


def _resolve_backend(backend, n, device, learned):
    check_backend(backend)
    if backend in ("faiss", "hnsw"):
        return backend
    if backend == "auto" and torch.device(device).type == "cpu" and _faiss() is not None:
        if n >= (EMBEDDING_HNSW_MIN_ROWS if learned else HNSW_MIN_ROWS):
            return "hnsw"
        if n >= FAISS_MIN_ROWS:
            return "faiss"
    return "torch"


def _exact_index(points):
    index = _faiss().IndexFlatIP(points.shape[1])
    index.add(points)
    return index


def _hnsw_index(points, n_neighbors):
    """Approximate inner-product index: a FAISS HNSW graph over the rows.

    The graph is built on one thread, so that it, and every search of it,
    is the same from run to run (FAISS inserts rows concurrently on several
    threads); searches use all of FAISS's threads.
    """
    faiss = _faiss()
    index = faiss.IndexHNSWFlat(points.shape[1], _HNSW_M, faiss.METRIC_INNER_PRODUCT)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        index.add(points)
    finally:
        faiss.omp_set_num_threads(threads)
    index.hnsw.efSearch = max(_HNSW_MIN_EF, 2 * (n_neighbors + 1))
    return index


def _knn_faiss(points, n_neighbors, approximate=False, query_chunk=65_536):
    """Inner-product search of L2-normalised rows with FAISS (CPU): exact, or
    approximate through an HNSW graph.

    FAISS bounds its own similarity blocks; queries go in chunks only to
    bound the candidate lists.
    """
    points = np.ascontiguousarray(points, dtype=np.float32)
    index = _hnsw_index(points, n_neighbors) if approximate else _exact_index(points)
    exact = None if approximate else index
    n = points.shape[0]
    indices = np.empty((n, n_neighbors), dtype=np.int64)
    similarities = np.empty((n, n_neighbors), dtype=np.float32)
    rows = np.arange(n)
    for start in range(0, n, query_chunk):
        stop = min(start + query_chunk, n)
        # One extra neighbour: the row itself, which is dropped. With exact
        # duplicates the row may not come first, or not at all (then the last
        # candidate goes), so move it by a stable sort rather than slicing.
        values, found = index.search(points[start:stop], n_neighbors + 1)
        short = (found < 0).any(axis=1)
        if short.any():
            # The HNSW walk met fewer rows than asked (FAISS pads with -1), for
            # example among many identical rows: search those rows exactly.
            exact = _exact_index(points) if exact is None else exact
            values[short], found[short] = exact.search(points[start:stop][short],
                                                       n_neighbors + 1)
        is_self = found == rows[start:stop, None]
        order = np.argsort(is_self, axis=1, kind="stable")[:, :n_neighbors]
        indices[start:stop] = np.take_along_axis(found, order, axis=1)
        similarities[start:stop] = np.take_along_axis(values, order, axis=1)
    return indices, similarities


def knn_graph(embeddings, n_neighbors=10, chunk_size=None, device="cpu", backend="auto",
              learned=False):
    """Cosine k-nearest neighbours of every row, itself excluded.

    Parameters
    ----------
    embeddings : array-like or tensor of shape (n_samples, n_features)
      Row vectors; they are L2-normalised here (the input is not modified).

    n_neighbors : int (default=10)
      Neighbours per row, at most ``n_samples - 1``.

    chunk_size : int or None (default=None)
      Rows whose similarities are computed at once; bounds the extra memory
      to ``chunk_size * n_samples`` floats. None picks the most rows whose
      block fits in 2**24 floats (64 MB), at least one. (FAISS blocks its
      own computation.)

    device : str (default='cpu')
      Where the similarities are computed (torch backend).

    backend : {'auto', 'torch', 'faiss', 'hnsw'} (default='auto')
      'torch': chunked matrix products and ``topk``, on ``device``.
      'faiss': an exact FAISS inner-product index (``IndexFlatIP``) on the
      CPU; needs the optional ``faiss`` extra. 'hnsw': an approximate FAISS
      HNSW index on the CPU (same extra): most, not all, of the returned
      neighbours are the exact ones, at a cost that grows about as
      N log N. 'auto': when FAISS is installed and ``device`` is the CPU,
      'hnsw' from 200 000 rows (``HNSW_MIN_ROWS``; 100 000,
      ``EMBEDDING_HNSW_MIN_ROWS``, with ``learned``) and 'faiss' from 10 000
      (``FAISS_MIN_ROWS``); otherwise torch. 'torch' and 'faiss' are exact;
      they can differ only in the order of (near-)tied neighbours. Every
      backend gives the same graph from run to run.

    learned : bool (default=False)
      Whether the rows are learned embeddings, such as the teacher's: HNSW
      keeps their neighbours better than those of raw columns, so 'auto'
      switches to it from fewer rows.

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
    if chunk_size is None:
        chunk_size = max(1, min(n, _BLOCK_ENTRIES // n))
    elif chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size!r} must be a positive integer or None.")
    points = F.normalize(points, dim=1)
    resolved = _resolve_backend(backend, n, device, learned)
    if resolved != "torch":
        return _knn_faiss(points.cpu().numpy(), n_neighbors, approximate=resolved == "hnsw")
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
        del block, top
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


def neighbor_vote(embeddings, labels, n_classes, n_neighbors=10, device="cpu", backend="auto"):
    """Label distribution of each row's nearest neighbours, itself excluded.

    :func:`knn_graph` followed by :func:`neighbor_label_distribution`.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
      Row vectors; neighbours by cosine similarity.

    labels : ndarray of int, shape (n_samples,)
      Labels encoded ``0..n_classes-1``.

    n_classes : int
      Number of classes (columns of the result).

    n_neighbors : int (default=10)
      Neighbours per row, at most ``n_samples - 1``.

    device, backend : str
      As in :func:`knn_graph`.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
      Similarity-weighted share of each class among the neighbours; rows sum to 1.
    """
    indices, similarities = knn_graph(embeddings, n_neighbors, device=device, backend=backend)
    return neighbor_label_distribution(indices, similarities, labels, n_classes)


def standardize(X):
    """``X`` as float32 columns centred and scaled to unit variance
    (constant columns are only centred)."""
    X = np.asarray(X, dtype=np.float32)
    scale = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def joint_space(*embeddings):
    """Each array's rows L2-normalised, placed side by side.

    The cosine similarity of two rows of the result is the mean of their
    cosine similarities in the given spaces, so a kNN search over it ranks
    neighbours by every space at once. A row of zeros in one space counts
    there as similarity 0 to every row.

    Parameters
    ----------
    *embeddings : arrays of shape (n_samples, d_i)
      The same rows in each space.

    Returns
    -------
    ndarray of shape (n_samples, sum of d_i), float32
    """
    parts = [np.asarray(e, dtype=np.float32) for e in embeddings]
    norms = [np.linalg.norm(p, axis=1, keepdims=True) for p in parts]
    return np.hstack([p / np.maximum(n, 1e-12) for p, n in zip(parts, norms)])


def neighbor_graphs(X, spaces, teacher=None, n_neighbors=10, device="cpu", backend="auto"):
    """The :func:`knn_graph` of each neighbour space.

    'input' searches the standardised columns of ``X``, 'teacher' the
    embeddings ``teacher.transform(X)``.

    Returns
    -------
    graphs : dict of str to (indices, similarities)
      One entry per space, in the order of ``spaces``.
    """
    graphs = {}
    for space in spaces:
        embeddings = standardize(X) if space == "input" else teacher.transform(X)
        graphs[space] = knn_graph(embeddings, n_neighbors, device=device, backend=backend,
                                  learned=space == "teacher")
    return graphs


def neighbor_evidence(graphs, labels, n_classes):
    """:func:`neighbor_label_distribution` averaged over the ``graphs`` of
    :func:`neighbor_graphs`; None when there are none."""
    votes = [neighbor_label_distribution(indices, similarities, labels, n_classes)
             for indices, similarities in graphs.values()]
    return np.mean(votes, axis=0) if votes else None
