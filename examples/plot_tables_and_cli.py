"""
Tables: pandas in, pandas out, and the command line
===================================================

Tabular data usually comes as a DataFrame or a CSV file, with named columns,
an index of row identifiers and text columns. The estimators keep the column
names (``feature_names_in_``), the detector's ``label_issues()`` is indexed
like the input, and the ``sklearn-rmd`` command does the whole job on a CSV
file.
"""

# %%
# A table with wrong labels
# -------------------------
# scikit-learn's wine data as a DataFrame indexed by a sample id, with 15% of
# the cultivar labels flipped.
import pathlib
import tempfile

from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from sklearn_rmd import NoisyLabelDetector
from sklearn_rmd.cli import main as sklearn_rmd_cli
from sklearn_rmd.noise import make_noisy_labels

wine = load_wine(as_frame=True)
table = wine.frame.rename(columns={"target": "cultivar"})
table["cultivar"] = wine.target_names[wine.target]
table.index = [f"wine-{i:03d}" for i in range(len(table))]
table.index.name = "sample"
table["cultivar"], flipped = make_noisy_labels(table["cultivar"], 0.15, random_state=0)
table.head()

# %%
# pandas in, pandas out
# ---------------------
# Fit on the DataFrame (scaled, column names kept); ``label_issues()`` comes
# back indexed by the sample ids.
features = table.drop(columns="cultivar")
X = features.copy()
X[:] = StandardScaler().fit_transform(features)
detector = NoisyLabelDetector(random_state=0, device="cpu").fit(X, table["cultivar"])
print("feature names kept:", list(detector.feature_names_in_[:3]), "...")
issues = detector.label_issues()
issues[issues["is_label_issue"]].sort_values("rank").head()

# %%
# How many of the flagged samples were really flipped:
flagged = issues["is_label_issue"].to_numpy()
print(f"{flagged.sum()} flagged, {(flagged & flipped).sum()} of them truly flipped "
      f"(of {flipped.sum()} flipped in all)")

# %%
# The command line
# ----------------
# The same job from a shell: ``sklearn-rmd detect wine.csv --label cultivar
# --id-column sample --out issues.csv``. Here it is called from Python (the
# function behind the command) on a CSV file written to a temporary folder.
folder = pathlib.Path(tempfile.mkdtemp())
table.to_csv(folder / "wine.csv")
status = sklearn_rmd_cli(["detect", str(folder / "wine.csv"), "--label", "cultivar",
                          "--id-column", "sample", "--out", str(folder / "issues.csv"),
                          "--device", "cpu", "--top", "5", "--quiet"])

# %%
# The report has one row per sample; ``sklearn-rmd clean ... --out cleaned.csv``
# would write the table without the flagged rows (``--relabel``: with their
# labels replaced by the suggested ones).
import pandas as pd  # noqa: E402

pd.read_csv(folder / "issues.csv", index_col="sample").head()
