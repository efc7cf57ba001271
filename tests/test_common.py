"""scikit-learn's estimator checks on RMDClassifier and SimSiamTeacher."""

from conftest import FAST
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_rmd import RMDClassifier, SimSiamTeacher

TEACHER = dict(max_epochs=2, batch_size=32, hidden_dims=(16,), embedding_dim=8,
               random_state=0, device="cpu")

# Every check is expected to pass: no known incompatibilities.
EXPECTED_FAILED_CHECKS = {"RMDClassifier": {}, "SimSiamTeacher": {}}


@parametrize_with_checks([RMDClassifier(**FAST), SimSiamTeacher(**TEACHER)],
                         expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS[
                             type(estimator).__name__])
def test_sklearn_compatible(estimator, check):
    check(estimator)
