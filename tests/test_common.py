"""scikit-learn's estimator checks on RMDClassifier."""

from conftest import FAST
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_rmd import RMDClassifier

# Every check is expected to pass: no known incompatibilities.
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks([RMDClassifier(**FAST)],
                         expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
