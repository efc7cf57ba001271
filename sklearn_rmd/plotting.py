"""Plots of fitted estimators: label quality, noise matrix, embeddings, training curves.

matplotlib is an optional dependency (``pip install '.[plot]'`` in the
sklearn-rmd checkout, or ``pip install matplotlib``); it is
imported inside each function, so ``import sklearn_rmd.plotting`` works without
it. Every function draws into ``ax`` (a new figure's axes when None) and
returns that :class:`matplotlib.axes.Axes`. The embedding map and the
training curves put their legend outside the axes, on the right, so that it
covers no data: a new figure is made with ``layout='constrained'`` to keep
it in view; for an ``ax`` of your own, save with ``bbox_inches='tight'``.
"""

import itertools

import numpy as np
from sklearn.utils.validation import check_is_fitted

_PLOT_EXTRA = "pip install '.[plot]'"
#: Colours of the stage-2 loss curves, in order; none is the stage-1 colour
#: or the accuracy's, so that no two curves share one.
LOSS_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:brown", "tab:pink",
                "tab:olive", "tab:cyan")
STAGE1_COLOUR = "tab:purple"
#: Line styles of a detector fold's loss terms, in order (each fold has one colour).
LINE_STYLES = ("-", "--", "-.", (0, (1, 1)))
ACCURACY_COLOUR = "black"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - exercised without matplotlib only
        raise ImportError(
            f"sklearn_rmd.plotting needs matplotlib, which is not installed. "
            f"Install it with `{_PLOT_EXTRA}` in the sklearn-rmd checkout (or "
            "`pip install matplotlib`)."
        ) from error
    return plt


def _axes(ax):
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(layout="constrained")
    return ax


def _legend_outside(ax, handles, title=None, gap=0.02):
    """One legend to the right of ``ax``, ``gap`` axes widths away from it."""
    return ax.legend(handles=handles, title=title, loc="upper left", fontsize="small",
                     bbox_to_anchor=(1 + gap, 1), borderaxespad=0)


def label_quality_cutoff(detector):
    """The label-quality value that separates flagged from kept rows.

    Parameters
    ----------
    detector : NoisyLabelDetector
      A fitted detector.

    Returns
    -------
    cutoff : float or None
      ``detector.threshold`` when one was given; otherwise the midpoint
      between the highest quality of a flagged row and the lowest quality of
      a kept row above it. (Kept rows can lie below it: those whose
      suggested label is their given label.) None when no row, or every
      row, is flagged.
    """
    check_is_fitted(detector, "label_quality_")
    if getattr(detector, "threshold", None) is not None:
        return float(detector.threshold)
    quality = np.asarray(detector.label_quality_, dtype=float)
    flagged = np.asarray(detector.is_label_issue_, dtype=bool)
    if not flagged.any() or flagged.all():
        return None
    highest_flagged = quality[flagged].max()
    kept_above = quality[~flagged & (quality >= highest_flagged)]
    if not len(kept_above):
        return float(highest_flagged)
    return float((highest_flagged + kept_above.min()) / 2)


def plot_label_quality(detector, ax=None, bins=20):
    """Histogram of the detector's label quality, flagged rows stacked apart.

    Parameters
    ----------
    detector : NoisyLabelDetector
      A fitted detector (``label_quality_`` and ``is_label_issue_``).

    ax : matplotlib Axes or None (default=None)
      Where to draw; None makes a new figure.

    bins : int (default=20)
      Number of equal-width bins over [0, 1].

    Returns
    -------
    ax : matplotlib Axes
      Two stacked bar series (kept rows, flagged rows; ``bins`` bars each)
      and a dashed vertical line at the cut-off (see
      :func:`label_quality_cutoff`) when there is one.
    """
    check_is_fitted(detector, "label_quality_")
    ax = _axes(ax)
    quality = np.asarray(detector.label_quality_, dtype=float)
    flagged = np.asarray(detector.is_label_issue_, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ax.hist([quality[~flagged], quality[flagged]], bins=edges, stacked=True,
            color=["tab:blue", "tab:red"],
            label=[f"kept ({int((~flagged).sum())})", f"flagged ({int(flagged.sum())})"])
    cutoff = label_quality_cutoff(detector)
    if cutoff is not None:
        ax.axvline(cutoff, color="black", linestyle="--", label=f"cut-off {cutoff:.3f}")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("label quality (1 = clean)")
    ax.set_ylabel("rows")
    ax.set_title("Label quality")
    ax.legend()
    return ax


def plot_noise_matrix(detector, ax=None, annotate=True):
    """Heatmap of the estimated noise matrix P(given label | true label).

    Parameters
    ----------
    detector : NoisyLabelDetector
      A fitted detector (``noise_matrix_`` and ``classes_``).

    ax : matplotlib Axes or None (default=None)
      Where to draw; None makes a new figure.

    annotate : bool (default=True)
      Write each probability in its cell (only up to 12 classes).

    Returns
    -------
    ax : matplotlib Axes
      The image holds ``noise_matrix_`` (row = given label, column = true
      label); the ticks are labelled with ``classes_``.
    """
    check_is_fitted(detector, "noise_matrix_")
    ax = _axes(ax)
    matrix = np.asarray(detector.noise_matrix_, dtype=float)
    labels = [str(c) for c in detector.classes_]
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.figure.colorbar(image, ax=ax, label="P(given | true)")
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("true label")
    ax.set_ylabel("given label")
    ax.set_title(f"Estimated noise matrix (noise rate {detector.noise_rate_:.1%})")
    if annotate and len(labels) <= 12:
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] > 0.5 else "black")
    return ax


def _teacher_embeddings(model, X):
    """Teacher embeddings from a fitted teacher, RMDClassifier or NoisyLabelDetector."""
    from sklearn.utils.validation import validate_data

    from .classifier import RMDClassifier
    from .teacher import SimSiamTeacher

    if isinstance(model, SimSiamTeacher):
        return model.transform(X)
    if isinstance(model, RMDClassifier):
        check_is_fitted(model)
        if model.teacher_ is None:
            raise ValueError(
                "This RMDClassifier has no teacher (relation_weight=0 and "
                "init_from_teacher=False): nothing to map. Fit it with a teacher."
            )
        return model.embed(X, source="teacher")
    check_is_fitted(model, "label_quality_")
    teacher = getattr(model, "teacher_", None)
    if teacher is None:
        raise ValueError(
            f"{type(model).__name__} has no teacher: it was fitted with pred_probs or "
            "with an estimator other than RMDClassifier. Pass a fitted RMDClassifier, "
            "or refit the detector with its default estimator."
        )
    return teacher.transform(validate_data(model, X, reset=False, dtype=np.float32))


def plot_embedding(model_or_detector, X, y=None, flagged=None, method="pca", ax=None,
                   random_state=0, label_name="given label"):
    """2-D map of the label-free teacher's embeddings, flagged rows ringed.

    Parameters
    ----------
    model_or_detector : SimSiamTeacher, RMDClassifier or NoisyLabelDetector
      Fitted; the teacher (stage 1, labels unused), or the one it holds,
      embeds ``X``.

    X : array-like of shape (n_samples, n_features)
      Rows to map, as passed to ``fit``.

    y : array-like of shape (n_samples,) or None (default=None)
      Labels that colour the points (given or true ones: say which with
      ``label_name``); None draws one colour.

    flagged : array-like of bool, shape (n_samples,) or None (default=None)
      Rows to ring in black. None uses the detector's ``is_label_issue_``
      when a detector is given and ``X`` has as many rows as it was fitted
      on; otherwise nothing is marked.

    method : {'pca', 'tsne'} (default='pca')
      Projection to 2-D: :class:`sklearn.decomposition.PCA` or
      :class:`sklearn.manifold.TSNE` (slower, keeps local neighbourhoods).

    ax : matplotlib Axes or None (default=None)
      Where to draw; None makes a new figure.

    random_state : int (default=0)
      Seed of the projection.

    label_name : str (default="given label")
      What ``y`` holds, the legend's title: ``'given label'`` for the
      labels the model was fitted on, ``'true label'`` for clean ones.

    Returns
    -------
    ax : matplotlib Axes
      One scatter of all rows (coloured by ``y``), then, when any rows are
      marked, one of unfilled black rings around the flagged rows, so their
      colour stays visible. One legend, outside the axes on the right: a
      colour per class, then the rings.
    """
    if method not in ("pca", "tsne"):
        raise ValueError(f"method={method!r}; use 'pca' or 'tsne'.")
    ax = _axes(ax)
    embeddings = _teacher_embeddings(model_or_detector, X)
    n = len(embeddings)
    if flagged is None and hasattr(model_or_detector, "is_label_issue_") \
            and len(model_or_detector.is_label_issue_) == n:
        flagged = model_or_detector.is_label_issue_
    points = _project(embeddings, method, random_state)
    handles = _scatter_by_label(ax, points, y)
    if flagged is not None:
        flagged = np.asarray(flagged, dtype=bool)
        if len(flagged) != n:
            raise ValueError(f"flagged has {len(flagged)} entries but X has {n} rows.")
        if flagged.any():
            handles.append(ax.scatter(
                points[flagged, 0], points[flagged, 1], marker="o", s=70,
                facecolors="none", edgecolors="black", linewidths=1.0,
                label=f"flagged ({int(flagged.sum())})"))
    _legend_outside(ax, handles, title=label_name if y is not None else None)
    name = "PCA" if method == "pca" else "t-SNE"
    ax.set_xlabel(f"{name} 1")
    ax.set_ylabel(f"{name} 2")
    ax.set_title(f"Teacher embeddings ({name})")
    return ax


def _project(embeddings, method, random_state):
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=random_state).fit_transform(embeddings)
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(1.0, (len(embeddings) - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca",
                random_state=random_state).fit_transform(embeddings)


def _scatter_by_label(ax, points, y):
    """Scatter every row, coloured by ``y``; return one legend handle per colour."""
    if y is None:
        return [ax.scatter(points[:, 0], points[:, 1], s=12, alpha=0.7, label="rows")]
    y = np.asarray(y)
    if len(y) != len(points):
        raise ValueError(f"y has {len(y)} entries but X has {len(points)} rows.")
    from matplotlib.lines import Line2D

    classes, codes = np.unique(y, return_inverse=True)
    cmap = "tab10" if len(classes) <= 10 else "tab20"
    scatter = ax.scatter(points[:, 0], points[:, 1], c=codes, cmap=cmap, s=12,
                         alpha=0.7, vmin=-0.5, vmax=len(classes) - 0.5)
    return [Line2D([], [], linestyle="", marker="o", markersize=4,
                   color=scatter.cmap(scatter.norm(k)), label=str(c))
            for k, c in enumerate(classes)]


def _history_column(history, key):
    values = [epoch.get(key) for epoch in history]
    if any(v is None for v in values):
        return None
    return np.asarray(values, dtype=float)


def plot_training_curves(model, ax=None):
    """Each loss term per epoch, stage 1 (SimSiam) then stage 2, and the accuracy.

    Parameters
    ----------
    model : RMDClassifier or NoisyLabelDetector
      Fitted. A classifier: reads ``teacher_.history_`` and ``history_``. A
      detector: reads its shared teacher's history and each fold's
      (``fold_histories_``); it must have trained its network.

    ax : matplotlib Axes or None (default=None)
      Where to draw the losses; None makes a new figure.

    Returns
    -------
    ax : matplotlib Axes
      The losses, one line per series, in this order when present:
      ``stage 1: SimSiam loss`` (epochs 1 to P, over a shaded band), then
      over epochs P+1 on: ``total loss`` (when the relation term is on), the
      base loss (``train_ce``, ``train_gce``, ...), ``train_edge`` and
      ``train_node``. A classifier's curves each have their own colour; a
      detector's are named ``fold k: ...``, one colour per fold and one line
      style per term. ``valid_acc`` (accuracy on the early-stopping split,
      noisy labels) has its own Axes sharing the epochs, with its scale on
      the right (``ax.figure.axes[-1]``). One legend for all, outside on
      the right.
    """
    histories, per_fold = _stage2_histories(model)
    ax = _axes(ax)
    handles, offset = _plot_stage1(ax, getattr(model, "teacher_", None))
    accuracy_ax = None
    for k, history in enumerate(histories):
        name = f"fold {k + 1}: " if per_fold else ""
        if per_fold:  # the fold's colour, a line style per term
            styles = zip(itertools.repeat(LOSS_COLOURS[k % len(LOSS_COLOURS)]),
                         itertools.cycle(LINE_STYLES))
        else:
            styles = zip(itertools.cycle(LOSS_COLOURS), itertools.repeat("-"))
        epochs = offset + np.arange(1, len(history) + 1)
        for (key, label), (colour, style) in zip(_loss_series(history), styles):
            values = _history_column(history, key)
            if values is not None:
                handles += ax.plot(epochs, values, marker=".", color=colour, linestyle=style,
                                   label=name + label)
        accuracy = _history_column(history, "valid_acc") if len(history) else None
        if accuracy is not None:
            accuracy_ax = accuracy_ax or _accuracy_axes(ax)
            handles += accuracy_ax.plot(
                epochs, accuracy, marker=".", linestyle=":", label=name + "valid_acc",
                color=LOSS_COLOURS[k % len(LOSS_COLOURS)] if per_fold else ACCURACY_COLOUR)
    ax.set_xlabel("epoch (stage 1, then stage 2)" if offset else "epoch")
    ax.set_ylabel("loss")
    ax.set_title("Training curves")
    _legend_outside(ax, handles, gap=0.02 if accuracy_ax is None else 0.18)  # clear its scale
    return ax


def _stage2_histories(model):
    """The stage-2 histories of a fitted classifier (one) or detector (one per fold),
    and whether ``model`` is a detector."""
    from .detector import NoisyLabelDetector

    if not isinstance(model, NoisyLabelDetector):
        check_is_fitted(model, "history_")
        return [model.history_], False
    check_is_fitted(model, "fold_histories_")
    if not model.fold_histories_:
        raise ValueError(
            "This NoisyLabelDetector trained no network (it was fitted with pred_probs or "
            "an estimator other than RMDClassifier): there are no curves to plot.")
    return model.fold_histories_, True


def _plot_stage1(ax, teacher):
    """The teacher's SimSiam loss over a shaded band; (handles, its epochs)."""
    history = getattr(teacher, "history_", None)
    simsiam = _history_column(history, "train_loss") if history is not None else None
    if simsiam is None or not len(simsiam):
        return [], 0
    ax.axvspan(0.5, len(simsiam) + 0.5, color="0.92", zorder=0)
    return ax.plot(np.arange(1, len(simsiam) + 1), simsiam, marker=".", color=STAGE1_COLOUR,
                   label="stage 1: SimSiam loss"), len(simsiam)


def _accuracy_axes(ax):
    accuracy_ax = ax.twinx()
    accuracy_ax.set_ylim(0.0, 1.02)
    accuracy_ax.set_ylabel("validation accuracy (noisy labels)")
    return accuracy_ax


def _loss_series(history):
    """(history key, curve label) of each stage-2 loss, in drawing order."""
    if not len(history):
        return []
    keys = [k for k in history[-1] if k.startswith("train_") and not k.endswith("_best")
            and k not in ("train_loss", "train_batch_count", "train_edge", "train_node")]
    relations = "train_edge" in history[-1] or "train_node" in history[-1]
    series = [("train_loss", "total loss")] if relations else []
    return series + [(k, k) for k in keys] + [("train_edge", "train_edge"),
                                              ("train_node", "train_node")]
