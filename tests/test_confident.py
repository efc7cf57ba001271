"""Confident learning: a hand-computed case, cleanlab's functions on the same
probabilities, and the guarantees of the cut-off."""

import numpy as np
import pytest

from sklearn_rmd._confident import (calibrate_joint, clean_posterior, confident_joint,
                                    find_label_issues, noise_matrix, per_class_thresholds,
                                    suggested_labels)

# Six rows, two classes.
#   row  p(0)  p(1)  label
#   0    0.95  0.05  0
#   1    0.55  0.45  0
#   2    0.20  0.80  0     <- looks like a 1
#   3    0.10  0.90  1
#   4    0.35  0.65  1
#   5    0.70  0.30  1     <- looks like a 0
HAND_PROBS = np.array([[0.95, 0.05], [0.55, 0.45], [0.20, 0.80],
                       [0.10, 0.90], [0.35, 0.65], [0.70, 0.30]])
HAND_LABELS = np.array([0, 0, 0, 1, 1, 1])


def test_hand_computed_case():
    probs, labels = HAND_PROBS, HAND_LABELS
    # t0 = (0.95 + 0.55 + 0.20) / 3 = 0.5667; t1 = (0.90 + 0.65 + 0.30) / 3 = 0.6167.
    thresholds = per_class_thresholds(probs, labels, 2)
    np.testing.assert_allclose(thresholds, [1.70 / 3, 1.85 / 3])
    # Row 1: most probable class 0 at 0.55 < t0: not counted. Row 2: class 1 at
    # 0.80 >= t1: C[0, 1]. Row 5: class 0 at 0.70 >= t0: C[1, 0]. Rows 0, 3, 4
    # count on the diagonal (0.65 >= t1 for row 4).
    joint = confident_joint(probs, labels, 2, thresholds)
    np.testing.assert_array_equal(joint, [[1, 1], [1, 2]])
    # Each row scaled to its class count (3 and 3): [1.5, 1.5] and [1, 2].
    calibrated = calibrate_joint(joint, labels, 2)
    np.testing.assert_allclose(calibrated, [[1.5, 1.5], [1.0, 2.0]])
    # Columns divided by their sums 2.5 and 3.5.
    noise = noise_matrix(calibrated, 2)
    np.testing.assert_allclose(noise, [[0.6, 1.5 / 3.5], [0.4, 2.0 / 3.5]])
    # Smoothed T' = 0.9 T + 0.05. Row 2 (label 0):
    # q = T'[0,0] 0.2 / (T'[0,0] 0.2 + T'[0,1] 0.8) = 0.118 / (0.118 + 0.3486) = 0.2529.
    # Row 5 (label 1): q = 0.5643 * 0.3 / (0.41 * 0.7 + 0.5643 * 0.3) = 0.3710.
    smoothed = 0.9 * noise + 0.05
    quality = clean_posterior(probs, labels, noise)
    assert quality[2] == pytest.approx(smoothed[0, 0] * 0.2
                                       / (smoothed[0, 0] * 0.2 + smoothed[0, 1] * 0.8))
    assert quality[2] == pytest.approx(0.2529, abs=1e-4)
    assert quality[5] == pytest.approx(0.3710, abs=1e-4)
    # Estimated count: off-diagonal mass 1.5 + 1 = 2.5, rounded (half to even) to 2:
    # rows 2 and 5, the two whose most probable class is not their label.
    issues = find_label_issues(probs, labels, 2)
    assert issues.noise_rate == pytest.approx(2.5 / 6)
    np.testing.assert_array_equal(np.flatnonzero(issues.is_label_issue), [2, 5])
    np.testing.assert_array_equal(issues.ranked_indices[:2], [2, 5])
    np.testing.assert_array_equal(issues.suggested, [0, 0, 1, 1, 1, 0])


def test_user_cut_offs_on_the_hand_case():
    by_threshold = find_label_issues(HAND_PROBS, HAND_LABELS, 2, threshold=0.3)
    np.testing.assert_array_equal(np.flatnonzero(by_threshold.is_label_issue), [2])
    by_fraction = find_label_issues(HAND_PROBS, HAND_LABELS, 2, noise_fraction=0.5)
    assert by_fraction.is_label_issue.sum() == 3
    # A user-set share may reach rows the model agrees with: the lowest quality first.
    np.testing.assert_array_equal(np.flatnonzero(by_fraction.is_label_issue),
                                  np.sort(by_fraction.ranked_indices[:3]))


def test_tie_with_the_given_label_keeps_it():
    probs = np.array([[0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_array_equal(suggested_labels(probs, np.array([1, 0])), [1, 0])


def random_problem(seed, n=400, n_classes=4, noise=0.2):
    """Dirichlet probabilities leaning to each row's true class, more for higher
    classes (so the thresholds differ), some labels flipped."""
    rng = np.random.RandomState(seed)
    true = rng.randint(n_classes, size=n)
    alpha = np.ones((n, n_classes))
    alpha[np.arange(n), true] = 2.0 ** (1 + true)
    probs = np.array([rng.dirichlet(a) for a in alpha])
    labels = true.copy()
    flip = rng.rand(n) < noise
    labels[flip] = (true[flip] + rng.randint(1, n_classes, size=flip.sum())) % n_classes
    return probs, labels


# ------------------------------------------------------- against cleanlab
@pytest.fixture(params=[0, 1, 2])
def problem(request):
    return random_problem(request.param)


def test_thresholds_match_cleanlab(problem):
    count = pytest.importorskip("cleanlab.count")
    probs, labels = problem
    np.testing.assert_allclose(per_class_thresholds(probs, labels, 4),
                               count.get_confident_thresholds(labels, probs))


def test_confident_joint_matches_cleanlab_where_the_definitions_agree(problem):
    count = pytest.importorskip("cleanlab.count")
    probs, labels = problem
    thresholds = per_class_thresholds(probs, labels, 4)
    # cleanlab also counts a row whose most probable class misses its threshold
    # under another class that clears its own; both leave out rows that clear no
    # threshold. On the other rows the two counts are the same.
    above = probs >= thresholds
    agree = above[np.arange(len(labels)), probs.argmax(axis=1)] | ~above.any(axis=1)
    assert 0 < (~agree).sum() < len(labels) // 2
    ours = confident_joint(probs[agree], labels[agree], 4, thresholds)
    theirs = count.compute_confident_joint(labels[agree], probs[agree],
                                           thresholds=thresholds, calibrate=False)
    # cleanlab raises an empty diagonal entry to 1; none is empty here.
    assert ours.diagonal().min() >= 1
    np.testing.assert_array_equal(ours, theirs)


def test_confident_joint_ignores_a_low_threshold_the_argmax_does_not_clear():
    count = pytest.importorskip("cleanlab.count")
    # Class 2 is rare and uncertain (t2 = 0.15): row 0, labelled 0 and most
    # probably 0, clears t2 but not t0. cleanlab counts it as a 2 labelled 0, an
    # issue; here it is not counted.
    probs = np.array([[0.60, 0.20, 0.20], [0.95, 0.04, 0.01], [0.90, 0.05, 0.05],
                      [0.05, 0.90, 0.05], [0.10, 0.85, 0.05], [0.70, 0.15, 0.15]])
    labels = np.array([0, 0, 0, 1, 1, 2])
    thresholds = per_class_thresholds(probs, labels, 3)
    assert probs[0, 0] < thresholds[0] and probs[0, 2] >= thresholds[2]
    theirs = count.compute_confident_joint(labels, probs, thresholds=thresholds,
                                           calibrate=False)
    ours = confident_joint(probs, labels, 3, thresholds)
    assert theirs[0, 2] == 1
    # Counted here: rows 1 and 2 as 0s, row 3 as a 1. Rows 0 and 5 (most probably
    # 0, below t0 = 0.8167) and row 4 (0.85 < t1 = 0.875) are not.
    np.testing.assert_array_equal(ours, [[2, 0, 0], [0, 1, 0], [0, 0, 0]])


def test_calibration_matches_cleanlab(problem):
    count = pytest.importorskip("cleanlab.count")
    probs, labels = problem
    joint = confident_joint(probs, labels, 4, per_class_thresholds(probs, labels, 4))
    ours = calibrate_joint(joint, labels, 4)
    # cleanlab rounds to integers keeping each row's total.
    theirs = count.calibrate_confident_joint(joint.astype(int), labels)
    np.testing.assert_allclose(ours, theirs, atol=1.0)
    np.testing.assert_allclose(ours.sum(axis=1), np.bincount(labels))
    np.testing.assert_array_equal(theirs.sum(axis=1), np.bincount(labels))
    joint_share = count.estimate_joint(labels, probs, confident_joint=joint.astype(int))
    np.testing.assert_allclose(ours / len(labels), joint_share, atol=1.0 / len(labels))


def test_noise_matrix_matches_cleanlab(problem):
    count = pytest.importorskip("cleanlab.count")
    probs, labels = problem
    joint = confident_joint(probs, labels, 4, per_class_thresholds(probs, labels, 4))
    calibrated = calibrate_joint(joint, labels, 4)
    _, theirs, _ = count.estimate_latent(calibrated, labels)
    np.testing.assert_allclose(noise_matrix(calibrated, 4), theirs)


def test_estimated_count_matches_cleanlab_calibrated_estimate(problem):
    count = pytest.importorskip("cleanlab.count")
    probs, labels = problem
    issues = find_label_issues(probs, labels, 4)
    theirs = count.num_label_issues(labels, probs, confident_joint=issues.confident_joint
                                    .astype(int), estimation_method="off_diagonal_custom")
    assert issues.noise_rate * len(labels) == pytest.approx(theirs, abs=2)


# ------------------------------------------------------------ the cut-off
@pytest.mark.parametrize("seed", range(5))
def test_estimate_never_flags_a_row_the_model_agrees_with(seed):
    probs, labels = random_problem(seed, noise=0.4)
    issues = find_label_issues(probs, labels, 4)
    disputed = issues.suggested != labels
    assert issues.is_label_issue.sum() > 0
    assert not (issues.is_label_issue & ~disputed).any()
    # The flagged rows are the lowest-quality disputed ones.
    worst = issues.label_quality[issues.is_label_issue].max()
    assert (issues.label_quality[disputed & ~issues.is_label_issue] >= worst).all()


def test_a_rare_uncertain_class_does_not_pull_the_count():
    count = pytest.importorskip("cleanlab.count")
    # 100 rows of class 0 (p0 between 0.7 and 0.85, p2 = 0.15), 100 clear rows of
    # class 1, and 5 rows labelled 2 that the model gives to class 0 (p2 = 0.10).
    # t2 = 0.10, so every class-0 row clears it, and the half of them below
    # t0 (about 0.78) clear no other threshold.
    rng = np.random.RandomState(0)
    p0 = rng.uniform(0.7, 0.85, size=100)
    probs = np.vstack([np.column_stack([p0, 0.85 - p0, np.full(100, 0.15)]),
                       np.tile([0.05, 0.90, 0.05], (100, 1)),
                       np.tile([0.85, 0.05, 0.10], (5, 1))])
    labels = np.repeat([0, 1, 2], [100, 100, 5])
    issues = find_label_issues(probs, labels, 3)
    np.testing.assert_array_equal(np.flatnonzero(issues.is_label_issue), np.arange(200, 205))
    assert issues.noise_rate == pytest.approx(5 / 205)
    # cleanlab's count takes those class-0 rows for mislabelled 2s.
    assert count.num_label_issues(labels, probs, estimation_method="off_diagonal_calibrated") > 40
