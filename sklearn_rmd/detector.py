"""NoisyLabelDetector: find the rows whose label is probably wrong.

Evidence per row, combined into one probability matrix over the classes:

* relation evidence: the similarity-weighted labels of the row's K nearest
  neighbours (cosine), in the input space and in the frozen, label-free
  teacher's embedding space (see :mod:`sklearn_rmd.graph`; memory O(N*K));
* confidence evidence: out-of-sample class probabilities from the
  RMD-trained network, cross-fitted over ``cv`` folds (one teacher is shared
  by every fold), or read from the training dynamics of a single fit.

A cut-off in the spirit of confident learning (Northcutt et al., JAIR 2021)
then estimates how many labels are wrong (per-class thresholds, confident
joint) and flags the lowest-quality rows, up to that many, whose most
probable class is not their label. The same graphs score outliers and
near-duplicates (:mod:`sklearn_rmd.data_issues`).
"""

import numpy as np
from sklearn.base import BaseEstimator

from ._device import on_cuda, resolve_device, torch_seed
from ._validation import (check_detector_params, check_folds, check_n_neighbors,
                          check_network_params, check_pred_probs, fit_fingerprint,
                          restore_like, validate_labelled)
from .classifier import RMDClassifier
from ._confident import find_label_issues
from ._guards import check_finite_proba, fit_or_restore
from .crossfit import cross_fit, shared_teacher, single_fit
from .data_issues import find_data_issues
from .graph import neighbor_evidence, neighbor_graphs
from .report import IssueReportMixin

# Settings of the default network for out-of-sample probabilities:
# * cross-entropy, the base loss detector.md measured (the classifier's
#   default, SCE, was chosen for accuracy after that measurement);
# * 10 stage-2 epochs, probabilities averaged over the epochs, and no
#   early-stopping split: training stops before the network memorises the
#   wrong labels, and every training row of a fold is used;
# * relation_weight=0. benchmarks/bench_detector_sweep.py chose weight 1 with
#   label trust (label_trust_self, 2-epoch warm-up) on the generated kinds
#   (results/detector_sweep.md: mean F1 0.749 against 0.738, but 2.2 points
#   lower at sym20). On the judged sets (results/detector.md, row
#   ours_relation) it raises F1 at pair noise but lowers it on 20 000
#   synthetic rows, and as the default there (detector.md at commit
#   e1ec0e8) it took 1.04 times cleanlab's time on the same network, a
#   target (at most 1) the term-off network meets. The teacher still
#   initialises the student and gives the neighbour evidence;
# * 3 folds and 5 teacher epochs: the same file measures the cost against
#   cleanlab on the same network (at most 0.85 times) and what 5 folds and 10
#   teacher epochs add (F1 +0.005 to +0.021, at 1.35 to 1.50 times cleanlab's
#   time instead of 0.75 to 0.85).
DEFAULT_NETWORK = dict(base_loss="ce", pretrain_epochs=5, max_epochs=10, relation_weight=0.0,
                       early_stopping=False)


class NoisyLabelDetector(IssueReportMixin, BaseEstimator):
    """Find the rows whose label is probably wrong.

    Two kinds of evidence are combined into one class-probability matrix:

    * **relation**: the similarity-weighted labels of each row's
      ``n_neighbors`` nearest neighbours (cosine, itself excluded) in the
      input space and in the embedding space of a self-supervised teacher
      that never sees the labels (so memorised noise cannot hide there);
    * **confidence**: out-of-sample class probabilities from the classifier,
      cross-fitted over ``cv`` folds (``mode='cv'``), or the epoch-averaged
      probabilities of a single fit on all rows (``mode='single'``, faster,
      reads the training dynamics before the network memorises).

    The default classifier is an :class:`RMDClassifier` trained briefly
    (``base_loss='ce', pretrain_epochs=5, max_epochs=10, relation_weight=0,
    early_stopping=False``): held-out probabilities are best before the
    network memorises the wrong labels. Its label-free teacher is
    trained once on all rows (labels unused, so nothing leaks between folds)
    and shared by the neighbour evidence and every fold. Any scikit-learn
    classifier with ``predict_proba`` can replace it, and out-of-sample
    probabilities computed elsewhere can be passed to ``fit`` directly.

    The cut-off follows confident learning (see docs/detection.md): the
    confident joint of given and likely true labels estimates the number of
    wrong labels and the noise matrix; label quality is the posterior that the
    given label is the true one under that noise. Of that many rows with the
    lowest quality, those whose suggested label differs from the given one
    are flagged; ``threshold`` or ``noise_fraction`` override that count.

    Parameters
    ----------
    estimator : classifier or None (default=None)
      Gives the out-of-sample probabilities. None uses
      ``RMDClassifier(base_loss='ce', pretrain_epochs=5, max_epochs=10,
      relation_weight=0, early_stopping=False)`` with this detector's
      ``device``. An :class:`RMDClassifier` shares one teacher across
      folds; any other classifier with ``predict_proba`` is cloned and fitted
      once per fold. Its parameters are searchable as ``estimator__<name>``.

    input_shape, module : tuple or None, nn.Module class or instance or None (default=None)
      The default network's view of a row (``(C, L)`` a 1-D CNN, ``(C, H,
      W)`` a 2-D CNN, None an MLP) and own encoder, as in ``RMDClassifier``;
      only with ``estimator=None``, whose short-training settings they keep.

    mode : {'cv', 'single'} (default='cv')
      'cv': probabilities of each row from a model that did not see it, over
      ``cv`` folds. 'single': one fit on all rows (RMDClassifier only); each
      row's probabilities are averaged over the training epochs, about
      ``cv`` times faster.

    cv : int or cross-validation splitter (default=3)
      Folds for ``mode='cv'``. An int gives ``StratifiedKFold(cv,
      shuffle=True, random_state=random_state)``; every class needs at least
      that many rows.

    n_neighbors : int (default=10)
      K of the nearest-neighbour graph; must be smaller than the number of
      rows.

    neighbor_spaces : 'auto', tuple of {'input', 'teacher'} or () (default='auto')
      Where the neighbours are searched. 'input': the standardised input
      columns. 'teacher': the teacher's embeddings (needs an RMDClassifier).
      'auto' uses both when the teacher exists, else 'input'. () switches
      the relation evidence off. Each space gets its own graph and the
      neighbour label votes are averaged (``RMDClassifier``'s parameter of
      the same name searches one graph in the spaces together).

    knn_backend : {'auto', 'torch', 'faiss', 'hnsw'} (default='auto')
      How the neighbours are found (see :func:`sklearn_rmd.graph.knn_graph`):
      exactly ('torch', 'faiss') or approximately through a FAISS HNSW graph
      ('hnsw'). 'auto' is exact below 200 000 rows and on a GPU, and
      approximate from 200 000 rows on the CPU when FAISS is installed.
      'faiss' and 'hnsw' need the ``faiss`` extra.

    neighbor_weight : 'auto' or float in [0, 1] (default='auto')
      Share of the relation evidence in the combined probabilities; the
      classifier's probabilities get the rest. 'auto': 0.25, or 0.5 with
      ``mode='single'`` and no ``pred_probs`` (in-sample dynamics are
      overconfident).

    threshold : float in (0, 1) or None (default=None)
      Flag the rows whose ``label_quality_`` is below it, instead of the
      estimated count.

    noise_fraction : float in [0, 1) or None (default=None)
      Flag this share of rows (the lowest quality first), instead of the
      estimated count.

    action : {'remove', 'relabel'} (default='remove')
      What ``fit_resample`` does with flagged rows: drop them, or replace
      their label with ``suggested_label_``. ``fit_resample(..., action=...)``
      overrides it for one call.

    device : str (default='auto')
      Device of the neighbour search and of the default network: 'auto'
      (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.

    random_state : int, RandomState or None (default=None)
      Seeds the folds and the default network.

    verbose : int (default=0)
      0 silent, 1 one line per stage and fold, 2 also the default network's
      per-epoch log of both stages (its ``verbose=1``; 3: progress bars too).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
      Class labels, sorted.

    n_features_in_ : int
      Number of features seen in ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
      Column names, when ``X`` had string column names.

    label_quality_ : ndarray of shape (n_samples,)
      Probability that each row's given label is its true label, under the
      estimated noise matrix, in [0, 1]; 1 = clean.

    is_label_issue_ : ndarray of bool, shape (n_samples,)
      True where the label is probably wrong.

    ranked_indices_ : ndarray of shape (n_samples,)
      Row indices, most suspicious (lowest label quality) first.

    suggested_label_ : ndarray of shape (n_samples,)
      Most probable class of each row (its given label when tied with it),
      in the label space of ``y``.

    n_label_issues_ : int
      Number of flagged rows.

    noise_matrix_ : ndarray of shape (n_classes, n_classes)
      Estimated P(given label = i | true label = j) in row i, column j;
      columns sum to 1.

    noise_rate_ : float
      Estimated share of wrong labels (from the confident joint).

    confident_joint_ : ndarray of shape (n_classes, n_classes)
      Row counts per (given, likely true) class pair, uncalibrated.

    thresholds_ : ndarray of shape (n_classes,)
      Per-class confidence thresholds t_k.

    pred_probs_ : ndarray of shape (n_samples, n_classes)
      The classifier's out-of-sample probabilities (or the ``pred_probs``
      passed to ``fit``).

    neighbor_probs_ : ndarray of shape (n_samples, n_classes) or None
      Neighbour label distribution, averaged over ``neighbor_spaces``.

    probs_ : ndarray of shape (n_samples, n_classes)
      The combined probabilities all outputs are derived from.

    device_ : str
      Device of the neighbour search.

    teacher_ : SimSiamTeacher or None
      The label-free teacher shared by the folds and the neighbour search,
      fitted once on all rows (``teacher_.transform(X)`` embeds rows;
      :func:`sklearn_rmd.plotting.plot_embedding` maps them); the
      estimator's own teacher when it came fitted. None when no
      RMDClassifier was trained (``pred_probs`` given, another estimator).

    fold_histories_ : list of skorch History
      Training history of each fold's RMDClassifier (one with
      ``mode='single'``, none without a network), for ``plot_training_curves``.

    outlier_score_ : ndarray of shape (n_samples,)
      Rank in [0, 1] of the mean distance to the K nearest neighbours in the
      neighbour spaces and in ``X`` as given; higher is more outlying.

    is_outlier_ : ndarray of bool, shape (n_samples,)
      Rows beyond a tail rule on those distances, not a share of rows (see
      :mod:`sklearn_rmd.data_issues`).

    near_duplicate_sets_ : list of ndarray of int
      Groups of neighbouring rows of cosine similarity (``X`` as given) at
      least ``data_issues.DUPLICATE_SIMILARITY``; the largest first.

    near_duplicate_label_conflict_ : ndarray of bool, shape (n_sets,)
      True where the given labels within a set disagree.

    sample_indices_ : ndarray
      Set by ``fit_resample``: indices of the rows it returned.

    See Also
    --------
    RMDClassifier : the default network.
    sklearn_rmd.metrics.detection_report : score flagged rows against known flips.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_rmd import NoisyLabelDetector
    >>> from sklearn_rmd.noise import make_noisy_labels
    >>> X, y = load_digits(return_X_y=True)
    >>> y_noisy, flipped = make_noisy_labels(y, 0.2, random_state=0)
    >>> detector = NoisyLabelDetector(random_state=0)
    >>> mask = detector.fit_predict(X / 16, y_noisy)  # doctest: +SKIP
    >>> print(detector.report())  # doctest: +SKIP
    """

    def __init__(self, estimator=None, *, input_shape=None, module=None, mode="cv", cv=3,
                 n_neighbors=10, neighbor_spaces="auto", knn_backend="auto",
                 neighbor_weight="auto", threshold=None, noise_fraction=None,
                 action="remove", device="auto", random_state=None, verbose=0):
        self.estimator = estimator
        self.input_shape = input_shape
        self.module = module
        self.mode = mode
        self.cv = cv
        self.n_neighbors = n_neighbors
        self.neighbor_spaces = neighbor_spaces
        self.knn_backend = knn_backend
        self.neighbor_weight = neighbor_weight
        self.threshold = threshold
        self.noise_fraction = noise_fraction
        self.action = action
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------ public API
    def fit(self, X, y, pred_probs=None):
        """Score every row's label and flag the probably wrong ones.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
          Rows; images and signals flattened (see ``RMDClassifier``'s
          ``input_shape``). Dense, finite values.

        y : array-like of shape (n_samples,)
          Given, possibly noisy labels of any type ``np.unique`` can sort.

        pred_probs : array-like of shape (n_samples, n_classes) or None (default=None)
          Out-of-sample class probabilities computed elsewhere, columns in
          sorted class order; no classifier is trained then.

        Returns
        -------
        self : NoisyLabelDetector
          The fitted detector.
        """
        with fit_or_restore(self):  # a failed fit leaves the detector as it was
            X, y_encoded, pred_probs = self._validate_fit(X, y, pred_probs)
            return self._fit(X, y_encoded, pred_probs)

    def fit_predict(self, X, y, pred_probs=None):
        """Fit, then return the mask of probably wrong labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
          Rows, as in :meth:`fit`.

        y : array-like of shape (n_samples,)
          Given, possibly noisy labels.

        pred_probs : array-like of shape (n_samples, n_classes) or None (default=None)
          Precomputed out-of-sample probabilities, as in :meth:`fit`.

        Returns
        -------
        is_label_issue : ndarray of bool, shape (n_samples,)
          True where the label is probably wrong.
        """
        return self.fit(X, y, pred_probs=pred_probs).is_label_issue_.copy()

    def fit_resample(self, X, y, pred_probs=None, *, action=None):
        """Fit, then return the data with flagged rows dropped or relabelled.

        This is the imbalanced-learn sampler contract: put the detector in an
        ``imblearn.pipeline.Pipeline`` before any classifier to train it on
        the cleaned rows (resampling only happens during ``fit``).

        A detector last fitted (by any fit method) on the same data with the
        same parameters (``action`` and ``verbose`` aside) is not refitted:
        same data means the same shapes and hashes of ``X``, ``y`` and
        ``pred_probs`` as validated.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
          Rows, as in :meth:`fit`.

        y : array-like of shape (n_samples,)
          Given, possibly noisy labels.

        pred_probs : array-like of shape (n_samples, n_classes) or None (default=None)
          Precomputed out-of-sample probabilities, as in :meth:`fit`.

        action : {'remove', 'relabel'} or None (default=None)
          Overrides the ``action`` parameter for this call; None uses it.

        Returns
        -------
        X_resampled : array-like of shape (n_kept, n_features)
          The kept rows (all rows with ``action='relabel'``); a DataFrame
          stays a DataFrame.

        y_resampled : array-like of shape (n_kept,)
          Their labels, flagged ones replaced by ``suggested_label_`` with
          ``action='relabel'``.
        """
        with fit_or_restore(self):
            X_valid, y_encoded, pred_probs = self._validate_fit(X, y, pred_probs, action)
            if getattr(self, "_fingerprint", None) != fit_fingerprint(
                    self, X_valid, y_encoded, pred_probs):
                self._fit(X_valid, y_encoded, pred_probs)
            X_out, y_out = self._resample(X_valid, y_encoded, action or self.action)
        return (restore_like(X, X_out, self.sample_indices_),
                restore_like(y, y_out, self.sample_indices_))

    def _resample(self, X, y_encoded, action):
        """The kept rows and their labels as arrays; sets ``sample_indices_``."""
        y_out = self.classes_[y_encoded]
        if action == "relabel":
            self.sample_indices_ = np.arange(len(y_out))
            return X, np.where(self.is_label_issue_, self.suggested_label_, y_out)
        self.sample_indices_ = np.flatnonzero(~self.is_label_issue_)
        return X[self.sample_indices_], y_out[self.sample_indices_]

    # ------------------------------------------------------------ validation
    def _validate_fit(self, X, y, pred_probs, action=None):
        check_detector_params(self, action)
        # label_issues() keeps the index of a DataFrame X (or of a Series y).
        self._index = getattr(X, "index", getattr(y, "index", None))
        X, self.classes_, y_encoded = validate_labelled(self, X, y)
        if self.estimator is None:
            check_network_params(self._estimator(), X.shape[1])
        check_n_neighbors(self, len(X))
        if pred_probs is not None:
            pred_probs = check_pred_probs(pred_probs, len(X), self.classes_)
        elif self.mode == "cv":
            check_folds(self.cv, y_encoded, self.classes_)
        return X, y_encoded, pred_probs

    def _spaces(self, teacher_available):
        if self.neighbor_spaces == "auto":
            return ("input", "teacher") if teacher_available else ("input",)
        return tuple(self.neighbor_spaces)

    # ------------------------------------------------------------------- fit
    def _fit(self, X, y_encoded, pred_probs=None):
        self._fingerprint = fit_fingerprint(self, X, y_encoded, pred_probs)
        self.device_ = resolve_device(self.device)
        self._labels_encoded = y_encoded
        n_classes = len(self.classes_)
        rng = np.random.RandomState(torch_seed(self.random_state))
        X32 = np.require(X, np.float32, ["C", "W"])  # writable: torch warns on read-only views
        estimator = self._estimator()
        uses_teacher = pred_probs is None and isinstance(estimator, RMDClassifier)
        spaces = self._spaces(teacher_available=uses_teacher)
        if "teacher" in spaces and not uses_teacher:
            raise ValueError(
                "neighbor_spaces includes 'teacher', but the teacher comes with an "
                "RMDClassifier estimator and no pred_probs. Use neighbor_spaces=('input',)."
            )
        given_probs = pred_probs is not None
        teacher, self.fold_histories_ = None, []
        if uses_teacher and ("teacher" in spaces or estimator.needs_teacher()):
            teacher = shared_teacher(estimator, X32, rng, log=self._log)
        if pred_probs is None:
            reseed = self.estimator is None
            if self.mode == "single":
                self._log("Single fit on all rows, reading the training dynamics")
                pred_probs = single_fit(estimator, X32, y_encoded, n_classes, teacher,
                                        torch_seed(rng), reseed=reseed,
                                        histories=self.fold_histories_)
            else:
                pred_probs = cross_fit(estimator, X, X32, y_encoded, self.classes_,
                                       teacher, rng, cv=self.cv, reseed=reseed,
                                       log=self._log, histories=self.fold_histories_)
        self.pred_probs_ = pred_probs
        graphs = neighbor_graphs(X32, spaces, teacher, self.n_neighbors, self.device_,
                                 self.knn_backend)
        self.neighbor_probs_ = neighbor_evidence(graphs, y_encoded, n_classes)
        issues = find_data_issues(X32, y_encoded, graphs, min(self.n_neighbors, len(X) - 1),
                                  self.device_, self.knn_backend)
        for name, value in issues._asdict().items():  # named as the attributes
            setattr(self, name + "_", value)
        self.teacher_ = teacher
        probs = pred_probs
        if self.neighbor_probs_ is not None:
            w = self.neighbor_weight
            if w == "auto":
                w = 0.5 if self.mode == "single" and not given_probs else 0.25
            probs = (1.0 - w) * pred_probs + w * self.neighbor_probs_
        self.probs_ = check_finite_proba(probs / probs.sum(axis=1, keepdims=True))
        self._find_issues(self.probs_, y_encoded)
        return self

    def _estimator(self):
        if self.estimator is None:
            return RMDClassifier(module=self.module, input_shape=self.input_shape,
                                 device=self.device, random_state=None,
                                 verbose=max(self.verbose - 1, 0), **DEFAULT_NETWORK)
        return self.estimator

    # ------------------------------------------------------------- the cut-off
    def _find_issues(self, probs, y_encoded):
        issues = find_label_issues(probs, y_encoded, len(self.classes_),
                                   self.threshold, self.noise_fraction)
        for name in ("thresholds", "confident_joint", "noise_matrix", "noise_rate",
                     "label_quality", "is_label_issue", "ranked_indices"):
            setattr(self, name + "_", getattr(issues, name))
        self.n_label_issues_ = int(issues.is_label_issue.sum())
        self.suggested_label_ = self.classes_[issues.suggested]

    def _log(self, message):
        if self.verbose:
            print(message, flush=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.target_tags.required = True
        tags.non_deterministic = on_cuda(self.device)
        return tags
