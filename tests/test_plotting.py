"""sklearn_rmd.plotting: what each plot draws, rendered with the Agg backend."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from conftest import fast  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from sklearn_rmd.detector import NoisyLabelDetector  # noqa: E402
from sklearn_rmd.plotting import (label_quality_cutoff, plot_embedding,  # noqa: E402
                                  plot_label_quality, plot_noise_matrix,
                                  plot_training_curves)

LABELS = np.array(["ant", "bee", "cat"])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def extents(ax):
    """Drawn extents, in pixels, of ``ax``, of its legend and of the figure's last Axes
    (tick labels and axis label included)."""
    figure = ax.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return (ax.get_window_extent(renderer), ax.get_legend().get_window_extent(renderer),
            figure.axes[-1].get_tightbbox(renderer))


@pytest.fixture(scope="module")
def noisy(tabular):
    """The tabular rows with string labels, 12 of them flipped to the next class."""
    X, y = tabular
    y_noisy = y.copy()
    flipped = np.zeros(len(y), dtype=bool)
    flipped[::13] = True
    y_noisy[flipped] = (y[flipped] + 1) % 3
    return X, LABELS[y_noisy], flipped


@pytest.fixture(scope="module")
def given_probs(tabular):
    """Out-of-sample-like probabilities from the true classes: no training needed."""
    X, y = tabular
    probs = np.full((len(y), 3), 0.1)
    probs[np.arange(len(y)), y] = 0.8
    return probs


@pytest.fixture(scope="module")
def quick_detector(noisy, given_probs):
    X, y_noisy, _ = noisy
    return NoisyLabelDetector(neighbor_spaces=("input",), device="cpu").fit(
        X, y_noisy, pred_probs=given_probs)


@pytest.fixture(scope="module")
def rmd_detector(noisy):
    X, y_noisy, _ = noisy
    return NoisyLabelDetector(fast(), cv=2, random_state=0, device="cpu").fit(X, y_noisy)


@pytest.fixture(scope="module")
def classifier(tabular):
    return fast(pretrain_epochs=2).fit(*tabular)


# ------------------------------------------------------------- label quality
def test_label_quality_histogram_bars_and_cutoff(quick_detector):
    ax = plot_label_quality(quick_detector, bins=10)
    bars = ax.patches
    assert len(bars) == 2 * 10  # kept and flagged series, one bar per bin each
    heights = np.array([bar.get_height() for bar in bars])
    assert heights.sum() == len(quick_detector.label_quality_)
    assert heights[10:].sum() == quick_detector.is_label_issue_.sum() > 0
    (line,) = ax.get_lines()
    cutoff = line.get_xdata()[0]
    assert cutoff == pytest.approx(label_quality_cutoff(quick_detector))
    quality, flagged = quick_detector.label_quality_, quick_detector.is_label_issue_
    assert quality[flagged].max() <= cutoff
    # Kept rows below the line are only those the model agrees with.
    below = ~flagged & (quality < cutoff)
    agreed = quick_detector.suggested_label_ == quick_detector.label_issues()["given_label"]
    assert np.all(np.asarray(agreed)[below])


def test_label_quality_cutoff_is_the_given_threshold(noisy, given_probs):
    X, y_noisy, _ = noisy
    detector = NoisyLabelDetector(neighbor_spaces=(), threshold=0.4, device="cpu").fit(
        X, y_noisy, pred_probs=given_probs)
    _, ax = plt.subplots()
    assert plot_label_quality(detector, ax=ax) is ax
    assert ax.get_lines()[0].get_xdata()[0] == pytest.approx(0.4)


def test_no_cutoff_line_when_nothing_is_flagged(tabular, given_probs):
    X, y = tabular
    detector = NoisyLabelDetector(neighbor_spaces=(), noise_fraction=0.0, device="cpu").fit(
        X, y, pred_probs=given_probs)
    assert label_quality_cutoff(detector) is None
    assert len(plot_label_quality(detector).get_lines()) == 0


# -------------------------------------------------------------- noise matrix
def test_noise_matrix_image_and_labels(quick_detector):
    ax = plot_noise_matrix(quick_detector)
    (image,) = ax.get_images()
    np.testing.assert_array_equal(image.get_array(), quick_detector.noise_matrix_)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(LABELS)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(LABELS)
    assert len(ax.texts) == 9
    assert ax.get_xlabel() == "true label" and ax.get_ylabel() == "given label"


def test_noise_matrix_without_annotations(quick_detector):
    assert len(plot_noise_matrix(quick_detector, annotate=False).texts) == 0


# ----------------------------------------------------------------- embedding
@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embedding_of_a_detector_marks_its_flagged_rows(rmd_detector, noisy, method):
    X, y_noisy, _ = noisy
    ax = plot_embedding(rmd_detector, X, y=y_noisy, method=method)
    rows, marked = ax.collections
    assert rows.get_offsets().shape == (len(X), 2)
    n_flagged = rmd_detector.is_label_issue_.sum()
    assert len(marked.get_offsets()) == n_flagged > 0
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "given label"
    assert [t.get_text() for t in legend.get_texts()] == [*LABELS, f"flagged ({n_flagged})"]


def test_embedding_rings_leave_the_label_colours_visible(rmd_detector, noisy):
    X, y_noisy, _ = noisy
    ax = plot_embedding(rmd_detector, X, y=y_noisy, label_name="true label")
    ax.figure.canvas.draw()  # maps the labels to colours
    rows, marked = ax.collections
    assert len(set(map(tuple, rows.get_facecolors()))) == len(LABELS)
    assert marked.get_facecolors().size == 0 or (marked.get_facecolors()[:, 3] == 0).all()
    assert (marked.get_edgecolors()[:, :3] == 0).all()  # black rings
    assert marked.get_sizes()[0] > 2 * rows.get_sizes()[0]  # around the point, not on it
    assert ax.get_legend().get_title().get_text() == "true label"


def test_embedding_legend_is_outside_the_data(rmd_detector, noisy):
    X, y_noisy, _ = noisy
    ax = plot_embedding(rmd_detector, X, y=y_noisy)
    data, legend, _ = extents(ax)
    assert legend.x0 >= data.x1
    assert ax.figure.axes == [ax] and not ax.artists  # the one legend is that one


def test_embedding_of_a_classifier_with_given_flags(classifier, tabular):
    X, y = tabular
    flagged = np.zeros(len(X), dtype=bool)
    flagged[:7] = True
    ax = plot_embedding(classifier, X, flagged=flagged)
    rows, marked = ax.collections
    assert len(rows.get_offsets()) == len(X)
    np.testing.assert_allclose(marked.get_offsets(), rows.get_offsets()[:7])


def test_embedding_of_a_teacher_maps_its_own_embeddings(classifier, tabular):
    from sklearn.decomposition import PCA

    X, _ = tabular
    ax = plot_embedding(classifier.teacher_, X)
    expected = PCA(2, random_state=0).fit_transform(classifier.teacher_.transform(X))
    np.testing.assert_allclose(np.abs(ax.collections[0].get_offsets()), np.abs(expected),
                               rtol=1e-4, atol=1e-5)


def test_embedding_errors(classifier, quick_detector, noisy):
    X, y_noisy, _ = noisy
    with pytest.raises(ValueError, match="'pca' or 'tsne'"):
        plot_embedding(classifier, X, method="umap")
    with pytest.raises(ValueError, match="has no teacher"):
        plot_embedding(quick_detector, X)
    with pytest.raises(ValueError, match="entries but X has"):
        plot_embedding(classifier, X, y=y_noisy[:5])


# ----------------------------------------------------------- training curves
def test_training_curves_lines_follow_the_histories(classifier):
    ax = plot_training_curves(classifier)
    lines = {line.get_label(): line for axes in ax.figure.axes for line in axes.get_lines()}
    assert list(lines) == ["stage 1: SimSiam loss", "total loss", "train_sce", "train_edge",
                           "valid_acc"]
    n_pre, n_main = len(classifier.teacher_.history_), len(classifier.history_)
    simsiam = lines["stage 1: SimSiam loss"]
    np.testing.assert_array_equal(simsiam.get_xdata(), np.arange(1, n_pre + 1))
    np.testing.assert_allclose(simsiam.get_ydata(), classifier.teacher_.history_[:, "train_loss"])
    for label, key in [("total loss", "train_loss"), ("train_sce", "train_sce"),
                       ("train_edge", "train_edge"), ("valid_acc", "valid_acc")]:
        np.testing.assert_array_equal(lines[label].get_xdata(),
                                      n_pre + np.arange(1, n_main + 1))
        np.testing.assert_allclose(lines[label].get_ydata(), classifier.history_[:, key])


def test_training_curves_accuracy_has_its_own_axis_and_every_curve_a_colour(classifier):
    ax = plot_training_curves(classifier)
    figure = ax.figure
    assert len(figure.axes) == 2
    accuracy_ax = figure.axes[1]
    assert [line.get_label() for line in accuracy_ax.get_lines()] == ["valid_acc"]
    assert "valid_acc" not in [line.get_label() for line in ax.get_lines()]
    assert accuracy_ax.get_ylim() == pytest.approx((0.0, 1.02))
    assert ax.get_ylabel() == "loss" and "accuracy" in accuracy_ax.get_ylabel()
    colours = [matplotlib.colors.to_rgba(line.get_color())
               for axes in figure.axes for line in axes.get_lines()]
    assert len(colours) == 5 and len(set(colours)) == len(colours)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()][-1] == "valid_acc"
    data, legend_box, accuracy_box = extents(ax)
    assert legend_box.x0 >= max(data.x1, accuracy_box.x1)  # clear of the data and the scale


def test_training_curves_without_teacher_or_relations(tabular):
    clf = fast(relation_weight=0, init_from_teacher=False, early_stopping=False,
               base_loss="gce").fit(*tabular)
    ax = plot_training_curves(clf)
    assert len(ax.figure.axes) == 1  # no validation split, no accuracy axis
    assert [line.get_label() for line in ax.get_lines()] == ["train_gce"]
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), np.arange(1, 4))


def test_clear_message_without_matplotlib(quick_detector, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install '\.\[plot\]'"):
        plot_label_quality(quick_detector)


def test_label_quality_cutoff_sits_above_every_flagged_row():
    # Row 1 is kept below the flagged row 2 (the model agreed with its label).
    detector = NoisyLabelDetector()
    detector.label_quality_ = np.array([0.1, 0.2, 0.3, 0.6])
    detector.is_label_issue_ = np.array([True, False, True, False])
    assert label_quality_cutoff(detector) == pytest.approx(0.45)


def test_training_curves_of_a_fitted_detector(rmd_detector):
    ax = plot_training_curves(rmd_detector)
    labels = [line.get_label() for axes in ax.figure.axes for line in axes.get_lines()]
    assert labels == ["stage 1: SimSiam loss", "fold 1: total loss", "fold 1: train_sce",
                      "fold 1: train_edge", "fold 2: total loss", "fold 2: train_sce",
                      "fold 2: train_edge", "fold 1: valid_acc", "fold 2: valid_acc"]
    lines = {line.get_label(): line for axes in ax.figure.axes for line in axes.get_lines()}
    n_pre = len(rmd_detector.teacher_.history_)
    for k, history in enumerate(rmd_detector.fold_histories_):
        base = lines[f"fold {k + 1}: train_sce"]
        np.testing.assert_array_equal(base.get_xdata(), n_pre + np.arange(1, len(history) + 1))
        np.testing.assert_allclose(base.get_ydata(), history[:, "train_sce"])
    colours = {label: matplotlib.colors.to_rgba(line.get_color())
               for label, line in lines.items()}
    assert colours["fold 1: train_sce"] == colours["fold 1: total loss"]
    assert colours["fold 1: train_sce"] != colours["fold 2: train_sce"]
    assert lines["fold 1: train_sce"].get_linestyle() != lines["fold 1: total loss"].get_linestyle()


def test_training_curves_need_a_detector_that_trained_a_network(quick_detector):
    with pytest.raises(NotFittedError):
        plot_training_curves(NoisyLabelDetector())
    with pytest.raises(ValueError, match="trained no network"):
        plot_training_curves(quick_detector)
