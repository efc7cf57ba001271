"""
Training through noisy labels
=============================

Flip 40% of the training labels of scikit-learn's digits, then train two
networks on them: a plain network with cross-entropy, and
:class:`~sklearn_rmd.RMDClassifier`, which first learns a label-free teacher
and then distils the teacher's neighbour graph of the training rows into the
network's predictions. Both are scored on clean test labels. The epochs are
fewer than the defaults so that the example runs in seconds.
"""

# %%
# Data with noisy labels
# ----------------------
# :func:`~sklearn_rmd.noise.make_noisy_labels` flips exactly 40% of the
# training labels, each to another class at random. The test labels stay
# clean.
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_rmd import RMDClassifier
from sklearn_rmd.noise import make_noisy_labels
from sklearn_rmd.plotting import plot_training_curves

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels in [0, 1]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)
y_noisy, flipped = make_noisy_labels(y_train, 0.4, random_state=0)
print(f"{flipped.sum()} of {len(y_train)} training labels flipped")

# %%
# A plain network and RMD
# -----------------------
# Same encoder, head, optimiser, epochs and early stopping.
# ``base_loss='ce'``, ``relation_weight=0`` and ``init_from_teacher=False``
# switch RMD off: no teacher, plain cross-entropy. RMD (symmetric
# cross-entropy by default) adds the relation term, which pulls each row's prediction
# towards the network's latest predictions for that row's nearest neighbours
# in the teacher's embedding space.
settings = dict(pretrain_epochs=15, max_epochs=30, random_state=0, device="cpu")
models = {
    "plain network": RMDClassifier(base_loss="ce", relation_weight=0, init_from_teacher=False,
                                   **settings),
    "RMDClassifier": RMDClassifier(**settings),
}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train, y_noisy)
    print(f"{name:>14}: clean test accuracy {model.score(X_test, y_test):.3f} "
          f"({time.perf_counter() - start:.1f} s, {len(model.history_)} epochs)")

# %%
# Training curves
# ---------------
# :func:`~sklearn_rmd.plotting.plot_training_curves` draws the SimSiam loss of
# stage 1 (shaded), then each stage-2 term: the base loss on the noisy
# labels (``train_sce``), the edge term of the relation loss (and the node term, when
# ``node_weight > 0``), and, on its own scale on the right, the accuracy on the
# held-out split that early stopping watches.
ax = plot_training_curves(models["RMDClassifier"])
ax.figure.set_size_inches(7, 4)
