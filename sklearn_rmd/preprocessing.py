"""Feature preparation for tables: numbers as they are, text one-hot encoded.

:func:`make_table_preprocessor` is the scikit-learn transformer the command
line applies to a table's feature columns; :func:`table_features` turns the
columns of a table read as text (or with pandas' types) into its input,
refusing the columns it cannot use with a message that names them.

>>> import pandas as pd
>>> from sklearn_rmd.preprocessing import make_table_preprocessor, table_features
>>> table = pd.DataFrame({"size": ["1.5", "2", "0.5"], "colour": ["red", "blue", "red"]})
>>> features = table_features(table)
>>> make_table_preprocessor().fit_transform(features).shape
(3, 3)
"""

import numpy as np

#: A text column with more distinct values than this is refused by
#: :func:`table_features`, and :func:`make_table_preprocessor` groups the
#: rarest values of a column beyond it into one.
MAX_CATEGORIES = 50

#: Cells that mean "no value" in a column of numbers (pandas' usual markers).
MISSING_TEXT = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "-nan", "NULL", "null",
                          "None", "<NA>", "#N/A", "#NA"})

_NUMERIC = ["number", "bool"]


class ColumnError(ValueError):
    """A column that cannot be used as features; ``column`` names it.

    Parameters
    ----------
    message : str
      What is wrong, and how to fix it.

    column : str
      The column's name.
    """

    def __init__(self, message, column):
        super().__init__(message)
        self.column = column


def make_table_preprocessor(*, max_categories=MAX_CATEGORIES, scale=True):
    """The command line's feature preparation, as a scikit-learn transformer.

    Numeric and boolean columns pass through; every other column is one-hot
    encoded (``OneHotEncoder(handle_unknown='ignore')``: a value not seen in
    ``fit`` encodes as all zeros). Then, unless ``scale=False``, every
    output column is standardised. Columns are chosen by dtype when fitted,
    so the transformer fits any DataFrame and sits in a ``Pipeline``.

    Parameters
    ----------
    max_categories : int or None (default=MAX_CATEGORIES)
      Most output columns per text column; rarer values share one column.

    scale : bool (default=True)
      Standardise the output (mean 0, variance 1), as the detector's
      network expects.

    Returns
    -------
    preprocessor : Pipeline or ColumnTransformer
      Unfitted. Its input is a DataFrame (e.g. :func:`table_features`'s
      output); its output a dense float array, numeric columns first.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"x": [1.0, 2.0, 3.0], "kind": ["a", "b", "a"]})
    >>> make_table_preprocessor(scale=False).fit_transform(table)
    array([[1., 1., 0.],
           [2., 0., 1.],
           [3., 1., 0.]])
    """
    # Imported here: the command line reads this module before it knows
    # whether a command needs scikit-learn (``--help`` does not).
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encoder = OneHotEncoder(handle_unknown="ignore", max_categories=max_categories,
                            sparse_output=False)
    columns = ColumnTransformer(
        [("numbers", "passthrough", make_column_selector(dtype_include=_NUMERIC)),
         ("text", encoder, make_column_selector(dtype_exclude=_NUMERIC))],
        verbose_feature_names_out=False)
    return make_pipeline(columns, StandardScaler()) if scale else columns


def table_features(table, *, max_categories=MAX_CATEGORIES):
    """The columns of a table, checked, as :func:`make_table_preprocessor`'s input.

    Numeric and boolean columns become float64. A text column whose cells
    are all numbers (or empty, or a marker of :data:`MISSING_TEXT`) becomes
    float64 too; any other text column stays text, to be one-hot encoded.

    Parameters
    ----------
    table : pandas.DataFrame
      The feature columns, typed or all text (as the command line reads a
      CSV file). Its index names the rows in error messages.

    max_categories : int (default=MAX_CATEGORIES)
      Most distinct values of a text column.

    Returns
    -------
    features : pandas.DataFrame
      Same columns and index; numbers as float64, text as object.

    Raises
    ------
    ColumnError
      A column of dates, of numbers with missing or infinite values, of
      numbers mixed with text, or of more distinct text values than
      ``max_categories`` (or than half the rows: an identifier or free text).
    """
    import pandas as pd

    columns = {}
    for name in table.columns:
        column = table[name]
        if pd.api.types.is_bool_dtype(column):
            columns[name] = column.astype(float)
        elif pd.api.types.is_numeric_dtype(column):
            columns[name] = _finite(column.astype(float), name)
        elif pd.api.types.is_datetime64_any_dtype(column):
            raise ColumnError(f"column {name!r} holds dates or times; convert them to "
                              "numbers or leave the column out", name)
        else:
            numbers = _text_numbers(column, name)
            columns[name] = (_finite(numbers, name) if numbers is not None
                             else _categories(column, name, max_categories))
    return pd.DataFrame(columns, index=table.index)


def row_name(series, position):
    """How a message names a row: its position, or its label in a named index."""
    value = series.index[position]
    return repr(value) if series.index.name else str(value)


def _finite(values, name):
    array = values.to_numpy(dtype=float)
    missing = np.isnan(array)
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise ColumnError(
            f"column {name!r} has {int(missing.sum())} missing value(s) (first in row "
            f"{row_name(values, first)}); fill them in, or leave the column out", name)
    if not np.all(np.isfinite(array)):
        raise ColumnError(f"column {name!r} has infinite values; replace them or leave "
                          "the column out", name)
    return values


def _text_numbers(column, name):
    """A text column of numbers as float64 (missing as NaN); None for real text."""
    import pandas as pd

    text = column.map(lambda v: v.strip() if isinstance(v, str) else v).astype(object)
    missing = text.isna() | text.isin(MISSING_TEXT)
    present = text[~missing]
    numbers = pd.to_numeric(present, errors="coerce")
    n_numbers = int(numbers.notna().sum())
    if not len(present) or n_numbers < len(present) / 2:
        return None
    if n_numbers < len(present):
        bad = int(np.flatnonzero(numbers.isna().to_numpy())[0])
        raise ColumnError(
            f"column {name!r} is mostly numbers but also holds text such as "
            f"{str(present.iloc[bad])!r} (row {row_name(present, bad)}); fix those values "
            "or leave the column out", name)
    values = np.full(len(column), np.nan)
    values[~missing.to_numpy()] = numbers.to_numpy(dtype=float)
    return pd.Series(values, index=column.index, name=name)


def _categories(column, name, max_categories):
    n_values, n_rows = column.nunique(dropna=False), len(column)
    if n_values > max_categories or (n_values > 10 and n_values > n_rows / 2):
        raise ColumnError(
            f"column {name!r} has {n_values} distinct text values in {n_rows} rows, too many "
            "to one-hot encode (an identifier or free text?); leave the column out", name)
    return column.astype(object)
