"""pandas in, pandas out: feature names, indexes and Series labels survive."""

import warnings

import numpy as np
import pytest
from conftest import fast

pd = pytest.importorskip("pandas")
from sklearn_rmd.detector import NoisyLabelDetector  # noqa: E402


@pytest.fixture(scope="module")
def frame(tabular):
    X, y = tabular
    index = pd.Index([f"row{i:03d}" for i in range(len(X))], name="sample")
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])], index=index)
    return X, pd.Series(np.array(["a", "b", "c"])[y], index=index, name="label")


def test_classifier_keeps_feature_names(frame):
    X, y = frame
    with warnings.catch_warnings():
        # No warning: not about feature names, nor torch's about read-only arrays
        # (pandas copy-on-write hands out read-only views of float32 frames).
        warnings.simplefilter("error")
        clf = fast().fit(X, y)
        assert set(clf.predict(X)) <= {"a", "b", "c"}
        assert clf.embed(X, source="teacher").shape[0] == len(X)
    np.testing.assert_array_equal(clf.feature_names_in_, X.columns)
    assert clf.n_features_in_ == X.shape[1]
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X[X.columns[::-1]])
    with pytest.warns(UserWarning, match="valid feature names"):
        clf.predict(X.to_numpy())


def _quick_probs(y):
    codes = pd.factorize(y, sort=True)[0]
    probs = np.full((len(y), 3), 0.1)
    probs[np.arange(len(y)), codes] = 0.8
    probs[::9] = probs[::9][:, [1, 2, 0]]  # every ninth row: the model disagrees
    return probs


def test_label_issues_is_indexed_like_the_input(frame):
    X, y = frame
    detector = NoisyLabelDetector(neighbor_spaces=("input",), noise_fraction=0.1, device="cpu")
    detector.fit(X, y, pred_probs=_quick_probs(y))
    np.testing.assert_array_equal(detector.feature_names_in_, X.columns)
    table = detector.label_issues()
    assert isinstance(table, pd.DataFrame)
    pd.testing.assert_index_equal(table.index, X.index)
    assert list(table["given_label"]) == list(y)
    assert table.loc[X.index[detector.ranked_indices_[0]], "rank"] == 0
    assert table["is_label_issue"].sum() == detector.n_label_issues_ > 0


def test_label_issues_uses_the_series_index_for_array_rows(frame):
    X, y = frame
    detector = NoisyLabelDetector(neighbor_spaces=(), device="cpu")
    detector.fit(X.to_numpy(), y, pred_probs=_quick_probs(y))
    pd.testing.assert_index_equal(detector.label_issues().index, y.index)
    detector.fit(X.to_numpy(), y.to_numpy(), pred_probs=_quick_probs(y))
    assert isinstance(detector.label_issues().index, pd.RangeIndex)


def test_fit_resample_keeps_frames(frame):
    X, y = frame
    detector = NoisyLabelDetector(neighbor_spaces=(), device="cpu")
    X_kept, y_kept = detector.fit_resample(X, y, pred_probs=_quick_probs(y))
    assert isinstance(X_kept, pd.DataFrame) and isinstance(y_kept, pd.Series)
    pd.testing.assert_index_equal(X_kept.index, X.index[~detector.is_label_issue_])
    detector.set_params(action="relabel")
    X_all, y_all = detector.fit_resample(X, y, pred_probs=_quick_probs(y))
    pd.testing.assert_index_equal(y_all.index, y.index)
    assert y_all.name == "label"
