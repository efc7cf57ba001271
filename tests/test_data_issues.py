"""Outliers, near-duplicates and the text report of NoisyLabelDetector."""

import numpy as np
import pandas as pd
import pytest
from conftest import FAST
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from sklearn_rmd import NoisyLabelDetector, RMDClassifier
from sklearn_rmd.data_issues import (label_conflicts, near_duplicate_sets, outlier_scores,
                                     robust_deviation)
from sklearn_rmd.noise import make_noisy_labels
from sklearn_rmd.report import confused_pairs, format_table

N_CLEAN, N_OOD = 300, 6
# Copies appended at the end: (source row, noise scale, label of the copy or None).
COPIES = [(0, 0.0, None), (1, 0.0, "conflict"), (2, 1e-4, None)]


@pytest.fixture(scope="module")
def dirty():
    """300 digit images (classes 0-4, pixels in [0, 1]), 10% of the labels flipped,
    the last 6 replaced by uniform noise; then near copies of rows 0-2, that of row 1
    with another label."""
    X, y = load_digits(n_class=5, return_X_y=True)
    X, (y, _) = X[:N_CLEAN] / 16.0, make_noisy_labels(y[:N_CLEAN], 0.1, random_state=0)
    rng = np.random.RandomState(0)
    ood = np.arange(N_CLEAN - N_OOD, N_CLEAN)
    X[ood] = rng.uniform(size=(N_OOD, X.shape[1]))
    copies, labels = [], []
    for row, scale, label in COPIES:
        copies.append(X[row] + scale * rng.randn(X.shape[1]))
        labels.append((y[row] + 1) % 5 if label else y[row])
    X = np.vstack([X, copies]).astype(np.float32)
    return X, np.concatenate([y, labels]), ood


@pytest.fixture(scope="module")
def fitted(dirty):
    X, y, _ = dirty
    detector = NoisyLabelDetector(RMDClassifier(**FAST, early_stopping=False), cv=2,
                                  n_neighbors=5, random_state=0, device="cpu")
    return detector.fit(X, y)


# ------------------------------------------------------------------ outliers
def test_outlier_scores_rank_far_rows_first(fitted, dirty):
    X, _, ood = dirty
    score = fitted.outlier_score_
    assert score.shape == (len(X),) and 0 <= score.min() < score.max() <= 1
    is_ood = np.isin(np.arange(len(X)), ood)
    assert roc_auc_score(is_ood, score) > 0.95
    assert set(np.argsort(-score)[:N_OOD]) == set(ood)
    assert fitted.is_outlier_[ood].all()
    assert fitted.is_outlier_.sum() <= N_OOD + 3  # few clean rows beyond the fence


def test_outlier_fence_is_a_tail_rule_not_a_share():
    rng = np.random.RandomState(0)
    clean = 1.0 - np.exp(rng.normal(np.log(0.1), 0.1, size=(2000, 1)))
    _, _, flagged = outlier_scores([clean])
    assert flagged.sum() <= 10  # a share-based cut-off would flag a fixed number
    far = clean.copy()
    far[:3] = 0.2  # cosine distance 0.8 against about 0.1
    score, deviation, flagged = outlier_scores([far])
    assert flagged[:3].all() and flagged.sum() <= 13
    assert np.all(score[:3] > 0.99)
    assert np.all(deviation[:3] > deviation[3:].max())


def test_outlier_deviation_is_the_largest_over_spaces():
    rng = np.random.RandomState(1)
    a = 1.0 - np.exp(rng.normal(np.log(0.1), 0.1, size=(500, 1)))
    b = 1.0 - np.exp(rng.normal(np.log(0.1), 0.1, size=(500, 1)))
    b[7] = 0.0  # apart in the second space only
    _, deviation, flagged = outlier_scores([a, b])
    np.testing.assert_allclose(deviation, np.maximum(robust_deviation(1 - a[:, 0]),
                                                     robust_deviation(1 - b[:, 0])))
    assert flagged[7] and deviation.argmax() == 7


# ----------------------------------------------------------- near-duplicates
def test_duplicated_rows_form_sets_and_conflicts_are_flagged(fitted, dirty):
    X, y, _ = dirty
    expected = [{row, N_CLEAN + k} for k, (row, _, _) in enumerate(COPIES)]
    found = [set(s.tolist()) for s in fitted.near_duplicate_sets_]
    assert sorted(found, key=min) == expected
    conflict = dict(zip(map(frozenset, found), fitted.near_duplicate_label_conflict_))
    assert [conflict[frozenset(s)] for s in expected] == [False, True, False]


def test_near_duplicate_sets_join_chains_and_keep_singletons_out():
    indices = np.array([[1, 2], [0, 2], [1, 0], [0, 1], [3, 0]])
    similarities = np.array([[1.0, 0.5], [0.9995, 0.2], [0.9999, 0.1], [0.3, 0.2],
                             [0.99, 0.1]])
    sets = near_duplicate_sets(indices, similarities)
    assert [s.tolist() for s in sets] == [[0, 1, 2]]
    assert label_conflicts(sets, np.array(["a", "a", "b", "c", "c"])).tolist() == [True]
    assert label_conflicts(sets, np.array([1, 1, 1, 0, 0])).tolist() == [False]


def test_without_neighbour_spaces_the_given_space_still_scores(dirty):
    X, y, ood = dirty
    detector = NoisyLabelDetector(RMDClassifier(**FAST, early_stopping=False), cv=2,
                                  n_neighbors=5, neighbor_spaces=(), random_state=0,
                                  device="cpu").fit(X, y)
    assert detector.neighbor_probs_ is None
    assert detector.is_outlier_[ood].all() and len(detector.near_duplicate_sets_) == 3


# -------------------------------------------------------------------- report
def test_report_has_every_section(fitted, dirty):
    X, y, ood = dirty
    text = fitted.report(top=3)
    n_flagged = int(fitted.is_label_issue_.sum())
    assert text.splitlines()[0] == f"Data issues in {len(X)} rows, 5 classes"
    assert f"label issues: {n_flagged} rows" in text
    assert f"estimated noise rate {fitted.noise_rate_:.1%}" in text
    assert f"outliers: {int(fitted.is_outlier_.sum())} rows" in text
    assert "near-duplicate sets: 3 (6 rows), 1 with conflicting labels" in text
    for heading in ("Most confused classes", "Top 3 label issues", "Top 3 outliers",
                    "Top 3 near-duplicate sets (conflicting labels first):"):
        assert heading in text
    lines = text.splitlines()
    first_issue = lines[lines.index("Top 3 label issues (lowest label quality first):") + 2]
    row = fitted.ranked_indices_[0]
    assert first_issue.split()[:3] == [str(row), str(y[row]), str(fitted.suggested_label_[row])]
    first_outlier = lines[lines.index("Top 3 outliers (highest outlier score first):") + 2]
    assert int(first_outlier.split()[0]) in ood
    first_set = lines[lines.index("Top 3 near-duplicate sets (conflicting labels first):") + 2]
    assert first_set.split()[:2] == ["1,", str(N_CLEAN + 1)] and first_set.endswith("yes")


def test_report_counts_only_and_names_rows_by_the_index(dirty):
    X, y, _ = dirty
    index = [f"r{i}" for i in range(len(X))]
    detector = NoisyLabelDetector(RMDClassifier(**FAST, early_stopping=False), cv=2,
                                  n_neighbors=5, random_state=0, device="cpu")
    detector.fit(pd.DataFrame(X, index=index), y)
    assert len(detector.report(top=0).splitlines()) == 4
    assert f"r1, r{N_CLEAN + 1}" in detector.report()


def test_confused_pairs_and_table_format():
    noise = np.array([[0.8, 0.3, 0.0], [0.2, 0.7, 0.0], [0.0, 0.0, 1.0]])
    assert confused_pairs(noise, np.array(["a", "b", "c"]), 5) == [("a", "b", 0.3),
                                                                   ("b", "a", 0.2)]
    assert format_table(["row", "label", "score"], [(3, "cat", 0.5), (12, "dog", 0.25)]) == [
        "  row  label   score", "    3  cat    0.5000", "   12  dog    0.2500"]
