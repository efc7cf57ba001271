"""Table preprocessing: the command line's feature preparation as scikit-learn transformers."""

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_rmd.preprocessing import (ColumnError, make_table_preprocessor,  # noqa: E402
                                       table_features)


@pytest.fixture
def text_table():
    """A table read as text: numbers with a leading zero and spaces, a text column."""
    return pd.DataFrame({"size": ["1.5", " 02 ", "0.5", "4"],
                         "colour": ["red", "blue", "NA", "red"],
                         "flag": [True, False, True, True]}, dtype=object)


def test_table_features_parses_numbers_and_keeps_text(text_table):
    features = table_features(text_table.astype({"flag": bool}))
    np.testing.assert_array_equal(features["size"], [1.5, 2.0, 0.5, 4.0])
    assert features["size"].dtype == float and features["flag"].dtype == float
    assert list(features["colour"]) == ["red", "blue", "NA", "red"]  # "NA" is a value


def test_preprocessor_one_hot_encodes_text_then_scales(text_table):
    features = table_features(text_table.astype({"flag": bool}))
    expected = pd.concat([features[["size", "flag"]],
                          pd.get_dummies(features["colour"], dtype=float)], axis=1)
    unscaled = make_table_preprocessor(scale=False).fit_transform(features)
    np.testing.assert_array_equal(unscaled, expected.to_numpy())
    scaled = make_table_preprocessor().fit_transform(features)
    np.testing.assert_allclose(scaled, StandardScaler().fit_transform(expected))


def test_unseen_text_encodes_as_zeros_and_rare_values_share_a_column():
    train = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0], "kind": list("aabcd")})
    preprocessor = make_table_preprocessor(max_categories=2, scale=False).fit(train)
    # 'a' keeps its column; 'b', 'c', 'd' share the infrequent one.
    np.testing.assert_array_equal(preprocessor.transform(train)[:, 1:],
                                  [[1, 0], [1, 0], [0, 1], [0, 1], [0, 1]])
    unseen = pd.DataFrame({"x": [9.0], "kind": ["zebra"]})
    np.testing.assert_array_equal(preprocessor.transform(unseen), [[9.0, 0.0, 0.0]])


def test_preprocessor_sits_in_a_pipeline(text_table):
    from sklearn.linear_model import LogisticRegression

    features = table_features(text_table.astype({"flag": bool}))
    model = make_pipeline(make_table_preprocessor(), LogisticRegression())
    model.fit(features, [0, 1, 0, 1])
    assert model.predict(features.iloc[:2]).shape == (2,)


@pytest.mark.parametrize("column, message", [
    (["1", "2", "x", "4"], "mostly numbers but also holds text such as 'x' (row 2)"),
    (["1", "NA", "3", "4"], "has 1 missing value(s) (first in row 1)"),
    (["1", "inf", "3", "4"], "infinite values"),
    ([f"id{i}" for i in range(12)], "12 distinct text values in 12 rows"),
    (pd.to_datetime(["2024-01-01"] * 4), "dates or times"),
])
def test_unusable_columns_are_named(column, message):
    table = pd.DataFrame({"c": column})
    with pytest.raises(ColumnError, match="column 'c'") as error:
        table_features(table)
    assert message in str(error.value) and error.value.column == "c"
