"""
Finding the wrong labels
========================

:class:`~sklearn_rmd.NoisyLabelDetector` scores every row's label, flags the
probably wrong ones, suggests a label for each row and estimates the noise
matrix. Here 20% of the digits' labels are flipped to the next class (pair
noise, ``0 -> 1``, ``1 -> 2``, ...), and the detector's flags are compared
with the rows that really were flipped.
"""

# %%
# Detect
# ------
from sklearn.datasets import load_digits

from sklearn_rmd import NoisyLabelDetector
from sklearn_rmd.metrics import detection_report
from sklearn_rmd.noise import make_noisy_labels
from sklearn_rmd.plotting import plot_embedding, plot_label_quality, plot_noise_matrix

X, y = load_digits(return_X_y=True)
X, y = X[:1000] / 16.0, y[:1000]
y_noisy, flipped = make_noisy_labels(y, 0.2, kind="pair", random_state=0)

detector = NoisyLabelDetector(cv=4, random_state=0, device="cpu")
is_issue = detector.fit_predict(X, y_noisy)
print(f"flagged {is_issue.sum()} rows; estimated noise rate {detector.noise_rate_:.1%}, "
      f"true {flipped.mean():.1%}")

# %%
# How good are the flags?
# -----------------------
# :func:`~sklearn_rmd.metrics.detection_report` compares the flags with the
# truly flipped rows, and the label-quality ranking too (AUROC, average
# precision, precision among the ``k`` lowest-quality rows, ``k`` = number of
# wrong labels).
report = detection_report(flipped, is_issue, scores=detector.label_quality_)
print({key: round(value, 3) for key, value in report.items()})

# %%
# One row per sample
# ------------------
# ``label_issues()`` is a table (a pandas DataFrame) with the given and
# suggested label, the label quality and the rank of every row. The most
# suspicious rows first:
detector.label_issues().sort_values("rank").head(8)

# %%
# Label quality and the cut-off
# -----------------------------
# Flagged rows are the lowest-quality ones; the dashed line is the cut-off
# between them and the kept rows.
ax = plot_label_quality(detector)

# %%
# The estimated noise matrix
# --------------------------
# Column ``j`` is the estimated distribution of the given label for rows whose
# true class is ``j``: the pair noise shows as the band below the diagonal.
ax = plot_noise_matrix(detector)
ax.figure.set_size_inches(7, 6)

# %%
# The teacher's map
# -----------------
# The self-supervised teacher never saw a label. Mapped to two dimensions by
# t-SNE (``method="pca"`` is faster),
# its embeddings group the rows by digit; the flagged rows (black rings) carry a
# label that disagrees with where they sit.
ax = plot_embedding(detector, X, y=y_noisy, method="tsne")
ax.figure.set_size_inches(7, 6)
