"""Label-noise injection with exact counts, for experiments and benchmarks."""

import numpy as np
from sklearn.utils import check_random_state


def _transition_matrix(kind, noise_rate, n_classes):
    """Column-stochastic P(noisy = i | true = j) for 'symmetric' or 'pair'."""
    if kind == "symmetric":
        matrix = np.full((n_classes, n_classes), noise_rate / (n_classes - 1))
    elif kind == "pair":
        matrix = np.zeros((n_classes, n_classes))
        matrix[(np.arange(n_classes) + 1) % n_classes, np.arange(n_classes)] = noise_rate
    else:
        raise ValueError(
            f"Unknown noise kind {kind!r}. Use 'symmetric', 'pair' or a "
            "(n_classes, n_classes) matrix of P(noisy label | true label)."
        )
    np.fill_diagonal(matrix, 1.0 - noise_rate)
    return matrix


def make_noisy_labels(y, noise_rate=None, kind="symmetric", random_state=None):
    """Flip exactly ``round(noise_rate * n)`` labels.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
      Clean labels, of any sortable type.

    noise_rate : float in [0, 1), or None
      Share of rows to flip. Required for 'symmetric' and 'pair'; with a
      matrix it defaults to the rate the matrix implies for ``y``.

    kind : {'symmetric', 'pair'} or ndarray of shape (n_classes, n_classes) (default='symmetric')
      'symmetric': a flipped row gets any other class with equal chance.
      'pair': class ``c`` becomes ``c + 1`` (cyclic, in sorted class order).
      A matrix gives P(noisy = i | true = j) in column ``j`` (columns sum
      to 1); a flipped row of class ``j`` draws its new class from the
      off-diagonal part of column ``j``.

    random_state : int, RandomState or None (default=None)
      Makes the flips repeatable; the global numpy state is never used.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,)
      Labels with exactly the requested number of rows changed.

    flipped : ndarray of bool, shape (n_samples,)
      True where the label was changed.
    """
    y = np.asarray(y)
    rng = check_random_state(random_state)
    classes, y_index = np.unique(y, return_inverse=True)
    n_classes, n = len(classes), len(y)
    if n_classes < 2:
        raise ValueError("y needs at least two classes to flip labels between.")
    if isinstance(kind, str):
        if noise_rate is None:
            raise ValueError(f"noise_rate is required for kind={kind!r}.")
        matrix = _transition_matrix(kind, noise_rate, n_classes)
    else:
        matrix = np.asarray(kind, dtype=float)
        if matrix.shape != (n_classes, n_classes) or not np.allclose(matrix.sum(0), 1):
            raise ValueError(
                f"A noise matrix must have shape ({n_classes}, {n_classes}) with "
                "columns summing to 1 (column j = P(noisy label | true label j))."
            )
    # How likely each row is to be flipped, from its class's off-diagonal mass.
    flip_weight = 1.0 - np.diag(matrix)[y_index]
    if noise_rate is None:
        noise_rate = float(flip_weight.mean())
    if not 0 <= noise_rate < 1:
        raise ValueError(f"noise_rate={noise_rate} must be in [0, 1).")
    n_flips = int(round(noise_rate * n))
    candidates = np.flatnonzero(flip_weight > 0)
    if n_flips > len(candidates):
        raise ValueError(
            f"Cannot flip {n_flips} rows: only {len(candidates)} belong to classes the "
            "noise matrix lets change."
        )
    flipped = np.zeros(n, dtype=bool)
    if n_flips == 0:  # a rate of 0 (or one that rounds to no row) changes nothing
        return y.copy(), flipped
    probability = flip_weight[candidates] / flip_weight[candidates].sum()
    chosen = rng.choice(candidates, size=n_flips, replace=False, p=probability)
    y_noisy_index = y_index.copy()
    for row in chosen:
        column = matrix[:, y_index[row]].copy()
        column[y_index[row]] = 0.0
        y_noisy_index[row] = rng.choice(n_classes, p=column / column.sum())
    flipped[chosen] = True
    return classes[y_noisy_index], flipped
