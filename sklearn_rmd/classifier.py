"""RMDClassifier: a scikit-learn classifier that learns through noisy labels."""

import copy
import functools
import numbers
import warnings

import numpy as np
import torch
from skorch.callbacks import EarlyStopping, EpochScoring, PassthroughScoring, ProgressBar
from skorch.dataset import ValidSplit
from skorch.history import History
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._device import on_cuda, resolve_device, seeded, torch_seed
from ._validation import validate_labelled
from ._loader import DeviceBatchLoader
from .augment import default_augment
from .graph import knn_graph, neighbor_label_distribution
from .losses import (RelationDistillationLoss, cross_entropy, generalized_cross_entropy,
                     symmetric_cross_entropy)
from .modules import (SimSiamModule, StudentNetwork, Students, make_encoder,
                      mean_softmax, output_dim)
from .nets import ACCELERATED_NETS, RMDNet, SimSiamNet, release_accelerator

BASE_LOSSES = ("ce", "gce", "sce", "coteaching")


def _silent(*args, **kwargs):
    """A print sink that prints nothing (picklable, unlike a lambda)."""


def noisy_accuracy(net, X, y):
    """Accuracy of a stage-2 net against the (noisy) labels of a split.

    Under noise that leaves each class's own label the most frequent, the
    best epoch by noisy accuracy is also the best by clean accuracy.
    """
    return float(np.mean(net.predict_proba(X).argmax(axis=1) == np.asarray(y)))


def estimate_noise_rate(embeddings, y, n_neighbors=None):
    """Share of rows whose label disagrees with their teacher-space neighbours.

    A label-free estimate used for Co-teaching's forget rate when none is given.
    ``n_neighbors=None`` uses 10.
    """
    n_neighbors = min(n_neighbors or 10, len(y) - 1)
    indices, similarities = knn_graph(embeddings, n_neighbors)
    votes = neighbor_label_distribution(indices, similarities, y, int(y.max()) + 1)
    return float(np.mean(votes.argmax(axis=1) != y))


class RMDClassifier(ClassifierMixin, BaseEstimator):
    """Classifier trained with Relation Modeling and Distillation (RMDNet).

    Stage 1 trains a teacher encoder self-supervised (SimSiam on two augmented
    views, labels ignored), then freezes it. Stage 2 trains the task network
    on the noisy labels with its base loss plus the distillation of the
    teacher's sample-to-sample relations::

        L = L_base + relation_weight * (node_weight * L_node + edge_weight * L_edge)

    Parameters
    ----------
    module : nn.Module class or instance, or None (default=None)
      Encoder mapping a batch ``(n, n_features)`` to embeddings ``(n, d)``.
      A class is called without arguments; an instance is copied, never
      trained in place. None builds the default encoder for ``input_shape``.

    input_shape : tuple or None (default=None)
      How a row is viewed: ``(C, L)`` for signals (1-D CNN), ``(C, H, W)``
      for images (2-D CNN), None for plain features (MLP). ``X`` stays 2-D.

    hidden_dims : tuple of int or None (default=None)
      Hidden widths of the default encoder; None gives (256, 256) for the
      MLP and (32, 64, 128) channels for the CNNs.

    embedding_dim : int (default=128)
      Embedding size of the default encoder.

    dropout : float (default=0.0)
      Dropout in the default encoder.

    base_loss : {'ce', 'gce', 'sce', 'coteaching'} or callable (default='ce')
      Loss on the noisy labels. A callable ``(logits, y) -> per-sample loss``
      is accepted. 'coteaching' trains two networks that exchange their
      small-loss samples; predictions average both networks.

    gce_q : float (default=0.7)
      GCE exponent, in (0, 1].

    sce_alpha, sce_beta : float (default=0.1, 1.0)
      SCE weights of cross-entropy and reverse cross-entropy.

    forget_rate : float or None (default=None)
      Co-teaching's share of large-loss samples dropped; None estimates the
      noise rate from the teacher's neighbours.

    forget_epochs : int (default=10)
      Epochs over which the forget rate ramps up.

    relation_weight : float (default=10.0)
      Weight of the relation term; 0 switches it off. The edge and node
      terms are root-mean-square differences (Frobenius norms divided by the
      square root of the entries compared), so 10 here is about as strong as
      weight 1 on raw Frobenius norms of a 10-row batch.

    node_weight, edge_weight : float (default=1.0, 0.3)
      Weights of node and edge matching inside the relation term.

    n_neighbors : int or None (default=None)
      Restrict the edge term to each row's K strongest teacher relations in
      the batch; None uses the dense batch graph. Also the K of the
      teacher-space kNN graph behind Co-teaching's estimated forget rate
      (None: 10).

    relation_dim : int (default=128)
      Size of the node space shared by teacher and student.

    teacher_features : {'precomputed', 'online'} (default='precomputed')
      'precomputed': teacher embeddings of the training rows, computed once.
      'online': the frozen teacher runs on the student's batch view.

    init_from_teacher : bool (default=True)
      Start the student encoder from the teacher's weights.

    student_augment : bool (default=False)
      Augment the student's inputs during stage 2 as well.

    augment : 'auto' or callable (default='auto')
      Augmentation ``aug(x) -> x'`` on a batch tensor; 'auto' picks one for
      tabular rows, signals or images from ``input_shape``.

    augment_strength : float (default=0.5)
      Scales the 'auto' augmentation. 0.5 gave the best teacher (kNN
      accuracy of its embeddings) on tabular rows, signals and small images
      in our measurements; stronger views destroy too much of small inputs.

    pretrain_epochs : int (default=40)
      Stage-1 (SimSiam) epochs.

    pretrain_lr : float (default=1e-3)
      Stage-1 learning rate (AdamW).

    max_epochs : int (default=100)
      Most stage-2 epochs.

    early_stopping : bool (default=True)
      Hold out ``validation_fraction`` of the rows (stratified, labels as
      given) and stop stage 2 when their accuracy has not improved for
      ``n_iter_no_change`` epochs, keeping the best epoch's weights. Noisy
      labels are memorised late in training; this stops before. Skipped with
      a warning when the split would hold fewer than two rows per class.

    validation_fraction : float (default=0.1)
      Share of rows held out for early stopping.

    n_iter_no_change : int (default=10)
      Patience of early stopping, in epochs.

    batch_size : int (default=128)
      Rows per batch in both stages.

    lr : float (default=1e-3)
      Stage-2 learning rate (AdamW).

    weight_decay : float (default=1e-4)
      AdamW weight decay in both stages.

    device : str (default='auto')
      'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.

    random_state : int, RandomState or None (default=None)
      Seeds torch and the batch order; fixed, it makes CPU fits repeatable.

    verbose : int (default=0)
      0 silent, 1 a per-epoch log of both stages, 2 also a progress bar.

    callbacks : list of skorch callbacks or None (default=None)
      Extra callbacks for the stage-2 net.

    compile : bool or dict (default=False)
      Compile the networks of both stages with ``torch.compile`` (criteria
      stay eager). A dict is passed to ``torch.compile`` as keyword
      arguments, e.g. ``{'mode': 'max-autotune'}``. The first batches of a
      fit pay the compilation (tens of seconds); it pays off on long GPU fits.

    accelerator : accelerate.Accelerator or None (default=None)
      Train both stages through Hugging Face Accelerate (multi-GPU, mixed
      precision; the optional ``accelerate`` extra), with skorch's
      ``AccelerateMixin``. ``device`` is then ignored: the accelerator
      places modules and batches, and shards the batches over processes.
      Launch the script with ``accelerate launch`` (see docs/scaling.md).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
      Class labels.

    n_features_in_ : int
      Number of features seen in ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
      Column names, when ``X`` had string column names.

    device_ : str
      The device used.

    net_ : RMDNet
      The stage-2 skorch net, trimmed for prediction.

    teacher_ : SimSiamNet or None
      The stage-1 skorch net, trimmed; None when stage 1 did not run.

    history_ : skorch History
      Stage-2 training history (``train_loss``, the base loss, ``train_edge``,
      ``train_node``).

    teacher_history_ : skorch History or None
      Stage-1 history (``train_loss`` is the SimSiam loss).

    forget_rate_ : float or None
      Forget rate used by Co-teaching.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_rmd import RMDClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = RMDClassifier(pretrain_epochs=2, max_epochs=2, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    def __init__(self, module=None, input_shape=None, hidden_dims=None, embedding_dim=128,
                 dropout=0.0, base_loss="ce", gce_q=0.7, sce_alpha=0.1, sce_beta=1.0,
                 forget_rate=None, forget_epochs=10, relation_weight=10.0, edge_weight=1.0,
                 node_weight=0.0, n_neighbors=10, relation_dim=128, relation_warmup=5,
                 teacher_features="precomputed", init_from_teacher=True,
                 student_augment=False, augment="auto", augment_strength=0.5,
                 pretrain_epochs=40, pretrain_lr=1e-3, max_epochs=100, early_stopping=True,
                 validation_fraction=0.1, n_iter_no_change=10, batch_size=128,
                 lr=1e-3, weight_decay=1e-4, device="auto", random_state=None, verbose=0,
                 callbacks=None, compile=False, accelerator=None):
        self.module = module
        self.input_shape = input_shape
        self.hidden_dims = hidden_dims
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.base_loss = base_loss
        self.gce_q = gce_q
        self.sce_alpha = sce_alpha
        self.sce_beta = sce_beta
        self.forget_rate = forget_rate
        self.forget_epochs = forget_epochs
        self.relation_weight = relation_weight
        self.edge_weight = edge_weight
        self.node_weight = node_weight
        self.n_neighbors = n_neighbors
        self.relation_dim = relation_dim
        self.relation_warmup = relation_warmup
        self.teacher_features = teacher_features
        self.init_from_teacher = init_from_teacher
        self.student_augment = student_augment
        self.augment = augment
        self.augment_strength = augment_strength
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_lr = pretrain_lr
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.compile = compile
        self.accelerator = accelerator

    # ------------------------------------------------------------------ checks
    def _check_params(self, n_features):
        if not (callable(self.base_loss) or self.base_loss in BASE_LOSSES):
            raise ValueError(
                f"Unknown base_loss {self.base_loss!r}. Use one of {BASE_LOSSES} or a "
                "callable (logits, y) -> per-sample loss."
            )
        if not 0 < self.gce_q <= 1:
            raise ValueError(f"gce_q={self.gce_q} must be in (0, 1].")
        if self.sce_alpha < 0 or self.sce_beta < 0:
            raise ValueError("sce_alpha and sce_beta must be non-negative.")
        if self.forget_rate is not None:
            if self.base_loss != "coteaching":
                raise ValueError(
                    "forget_rate only applies to base_loss='coteaching'; leave it None "
                    f"for base_loss={self.base_loss!r}."
                )
            if not 0 <= self.forget_rate < 1:
                raise ValueError(f"forget_rate={self.forget_rate} must be in [0, 1).")
        for name in ("relation_weight", "node_weight", "edge_weight", "pretrain_epochs",
                     "weight_decay", "augment_strength", "forget_epochs", "relation_warmup"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be non-negative.")
        for name in ("lr", "pretrain_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive.")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1).")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} must be in (0, 1)."
            )
        for name in ("max_epochs", "batch_size", "embedding_dim", "relation_dim",
                     "n_iter_no_change"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer.")
        if not isinstance(self.n_neighbors, numbers.Integral) or self.n_neighbors < 1:
            raise ValueError(f"n_neighbors={self.n_neighbors!r} must be a positive integer.")
        if self.teacher_features not in ("precomputed", "online"):
            raise ValueError(
                f"teacher_features={self.teacher_features!r}; use 'precomputed' or 'online'."
            )
        if not (self.augment == "auto" or callable(self.augment)):
            raise ValueError(
                f"augment={self.augment!r}; use 'auto' or a callable aug(x) -> x'."
            )
        if not isinstance(self.compile, (bool, np.bool_, dict)):
            raise ValueError(
                f"compile={self.compile!r}; use False, True or a dict of torch.compile "
                "keyword arguments."
            )
        if self.accelerator is not None and not callable(getattr(self.accelerator, "prepare",
                                                                 None)):
            raise ValueError(
                f"accelerator={self.accelerator!r} is not an accelerate.Accelerator; pass "
                "Accelerator(...) (pip install 'sklearn-rmd[accelerate]') or None."
            )
        if self.input_shape is not None:
            shape = tuple(self.input_shape)
            if len(shape) not in (2, 3) or int(np.prod(shape)) != n_features:
                raise ValueError(
                    f"input_shape={shape} does not fit rows of {n_features} features: use "
                    "(C, L) for signals or (C, H, W) for images with C*L or C*H*W equal "
                    "to the number of columns of X, or None for plain features."
                )

    # ---------------------------------------------------------------- builders
    def _new_encoder(self, n_features):
        if self.module is None:
            return make_encoder(n_features, self.input_shape, self.hidden_dims,
                                self.embedding_dim, self.dropout)
        if isinstance(self.module, torch.nn.Module):
            return copy.deepcopy(self.module)
        return self.module()

    def _augmenter(self):
        if self.augment == "auto":
            return default_augment(self.input_shape, self.augment_strength)
        return self.augment

    def _base_loss_fn(self):
        if callable(self.base_loss):
            return self.base_loss
        if self.base_loss == "gce":
            return functools.partial(generalized_cross_entropy, q=self.gce_q)
        if self.base_loss == "sce":
            return functools.partial(symmetric_cross_entropy, alpha=self.sce_alpha,
                                     beta=self.sce_beta)
        return cross_entropy

    def _stage_net(self, net_cls):
        """``net_cls``, or its ``AccelerateMixin`` version when an accelerator is given."""
        return net_cls if self.accelerator is None else ACCELERATED_NETS[net_cls]

    def _scale_kwargs(self):
        """skorch arguments for ``compile`` and ``accelerator``."""
        kwargs = {}
        if self.compile:
            kwargs["compile"] = True
            if isinstance(self.compile, dict):
                kwargs.update({f"compile__{key}": value for key, value in self.compile.items()})
        if self.accelerator is not None:
            # accelerate places the batches and shards them over processes, which
            # it can do for a DataLoader only: that replaces the on-device loader.
            kwargs.update(accelerator=self.accelerator, device=None, use_caching=False,
                          iterator_train=torch.utils.data.DataLoader,
                          iterator_valid=torch.utils.data.DataLoader,
                          # 'auto' prints through the accelerator, whatever verbose is.
                          callbacks__print_log__sink="auto" if self.verbose else _silent)
        return kwargs

    def _net_kwargs(self, n_samples, seed):
        batch_size = min(self.batch_size, n_samples)
        return dict(
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=self.weight_decay,
            # One kernel per step instead of a Python loop over the parameters,
            # which is a large share of a small network's step on the CPU.
            optimizer__fused=True,
            batch_size=batch_size,
            iterator_train=DeviceBatchLoader,
            iterator_train__shuffle=True,
            iterator_train__generator=torch.Generator().manual_seed(seed),
            # A last batch of one row would break batch normalisation.
            iterator_train__drop_last=n_samples % batch_size == 1,
            iterator_valid=DeviceBatchLoader,
            train_split=None,
            device=self.device_,
            verbose=int(self.verbose >= 1),
        ) | self._scale_kwargs()

    def _early_stopping(self, y, seed):
        """Validation split and callbacks for early stopping, or (None, [])."""
        if not self.early_stopping:
            return None, []
        counts = np.bincount(y)
        n_valid = int(np.ceil(self.validation_fraction * len(y)))
        if counts.min() < 2 or n_valid < 2 * len(counts):
            warnings.warn(
                f"early_stopping was skipped: a validation split of {n_valid} rows "
                f"cannot hold two rows of each of the {len(counts)} classes. Raise "
                "validation_fraction, add rows, or set early_stopping=False.",
                UserWarning,
            )
            return None, []
        split = ValidSplit(self.validation_fraction, stratified=True, random_state=seed)
        callbacks = [
            ("valid_acc", EpochScoring(noisy_accuracy, lower_is_better=False, name="valid_acc")),
            ("early_stopping", EarlyStopping(monitor="valid_acc", lower_is_better=False,
                                             patience=self.n_iter_no_change, load_best=True,
                                             sink=print if self.verbose else _silent)),
        ]
        return split, callbacks

    def _stage_callbacks(self, extra=()):
        callbacks = list(extra)
        if self.verbose >= 2:
            callbacks.append(ProgressBar())
        return callbacks

    # ----------------------------------------------------------------- stages
    def _needs_teacher(self):
        return (self.relation_weight > 0 or self.init_from_teacher
                or (self.base_loss == "coteaching" and self.forget_rate is None))

    def _fit_teacher(self, X, seed):
        """Stage 1: SimSiam on all rows, labels unused. Returns the fitted net."""
        encoder = self._new_encoder(X.shape[1])
        dim = output_dim(encoder, X.shape[1])
        net = self._stage_net(SimSiamNet)(
            SimSiamModule(encoder, dim, projection_dim=2 * self.embedding_dim),
            augment=self._augmenter(),
            max_epochs=self.pretrain_epochs,
            lr=self.pretrain_lr,
            callbacks=self._stage_callbacks(),
            **self._net_kwargs(len(X), seed),
        )
        if self.verbose:
            print("Stage 1 (relation modeling): SimSiam, train_loss = SimSiam loss")
        net.initialize()
        if self.pretrain_epochs:
            net.partial_fit({"x": X})
        return net

    def _teacher_relations(self, X, teacher):
        """What the relation term needs from the frozen teacher: its kNN graph
        over the training rows (edge term) and, for the node term, its
        features, precomputed or as a frozen copy run online."""
        relations = {}
        embeddings = teacher.forward({"x": X})
        if self.edge_weight > 0:
            n_neighbors = min(self.n_neighbors, len(X) - 1)
            relations["graph"] = knn_graph(embeddings.numpy(), n_neighbors, device=self.device_)
        if self.node_weight > 0:
            relations["teacher_dim"] = embeddings.shape[1]
            if self.teacher_features == "precomputed":
                relations["teacher_features"] = torch.as_tensor(embeddings)
            else:
                relations["teacher_encoder"] = copy.deepcopy(teacher.module_.encoder)
        return relations

    def _fit_student(self, X, y, teacher, seed):
        """Stage 2: the student network(s) on the noisy labels."""
        n_networks = 2 if self.base_loss == "coteaching" else 1
        encoders = [self._new_encoder(X.shape[1]) for _ in range(n_networks)]
        dim = output_dim(encoders[0], X.shape[1])
        students = Students([StudentNetwork(enc, dim, len(self.classes_)) for enc in encoders])
        relations = {}
        if teacher is not None:
            teacher_encoder = teacher.module_.encoder
            if self.init_from_teacher:
                for network in students.networks:
                    network.encoder.load_state_dict(teacher_encoder.state_dict())
            if self.relation_weight > 0:
                relations = self._teacher_relations(X, teacher)
        criterion = RelationDistillationLoss(
            self._base_loss_fn(), dim, len(self.classes_), n_networks,
            relation_dim=self.relation_dim, relation_weight=self.relation_weight,
            edge_weight=self.edge_weight, node_weight=self.node_weight,
            forget_rate=self.forget_rate_ or 0.0, forget_epochs=self.forget_epochs,
            warmup_epochs=self.relation_warmup, **relations,
        )
        base_name = self.base_loss if isinstance(self.base_loss, str) else "base"
        scoring = [(f"train_{base_name}", PassthroughScoring(f"train_{base_name}", on_train=True))]
        scoring += [(f"train_{key}", PassthroughScoring(f"train_{key}", on_train=True))
                    for key in criterion.terms]
        split, stopping = self._early_stopping(y, seed)
        # Size batches for the rows stage 2 trains on: the (Stratified)ShuffleSplit
        # holds ceil(validation_fraction * n) out, so drop_last sees the real count.
        n_train = len(X) - (0 if split is None
                            else int(np.ceil(self.validation_fraction * len(X))))
        kwargs = self._net_kwargs(n_train, seed)
        kwargs["train_split"] = split
        net = self._stage_net(RMDNet)(
            students, criterion,
            augment=self._augmenter() if self.student_augment else None,
            base_name=base_name,
            max_epochs=self.max_epochs,
            lr=self.lr,
            predict_nonlinearity=mean_softmax,
            callbacks=self._stage_callbacks(scoring + stopping) + list(self.callbacks or []),
            **kwargs,
        )
        if self.verbose:
            print(f"Stage 2 (relation-guided learning): base loss {base_name!r}")
        net.initialize()
        net.partial_fit({"x": X, "index": np.arange(len(X))}, y)
        return net

    # -------------------------------------------------------------- public API
    def fit(self, X, y):
        """Fit the teacher (stage 1) and the student (stage 2).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
          Training rows; images and signals flattened (see ``input_shape``).

        y : array-like of shape (n_samples,)
          Possibly noisy labels, of any type ``np.unique`` can sort.

        Returns
        -------
        self : RMDClassifier
          The fitted estimator.
        """
        X, classes, y_encoded = validate_labelled(self, X, y, dtype=np.float32)
        X = np.require(X, requirements="W")  # a read-only pandas view would make torch warn
        self._setup(classes, X.shape[1])
        return self._fit(X, y_encoded)

    def _setup(self, classes, n_features):
        """Check the parameters and set ``classes_`` and ``device_`` for ``_fit``."""
        self._check_params(n_features)
        self.classes_ = classes
        if self.accelerator is None:
            self.device_ = resolve_device(self.device)
        else:
            # Multi-process CPU runs report 'cpu:0', which torch.load cannot map to.
            device = torch.device(self.accelerator.device)
            self.device_ = "cpu" if device.type == "cpu" else str(device)
        return self

    def _fit(self, X, y_encoded, teacher=None):
        """Run both stages on validated rows and encoded labels.

        ``teacher`` is an already fitted :class:`SimSiamNet` to reuse (the
        detector shares one label-free teacher across its folds).
        """
        seed = torch_seed(self.random_state)
        if self.accelerator is not None:
            # Every process must draw the same validation split and batch order.
            from accelerate.utils import broadcast_object_list
            seed = broadcast_object_list([seed])[0]
        with seeded(seed):
            if teacher is None and self._needs_teacher():
                teacher = self._fit_teacher(X, seed)
            self.forget_rate_ = None
            if self.base_loss == "coteaching":
                self.forget_rate_ = self.forget_rate
                if self.forget_rate_ is None:
                    embeddings = teacher.forward({"x": X}).numpy()
                    self.forget_rate_ = min(
                        estimate_noise_rate(embeddings, y_encoded, self.n_neighbors), 0.5)
            self.net_ = self._fit_student(X, y_encoded, teacher, seed)
        # Trained: predict and pickle as without accelerate (no-op for plain nets).
        release_accelerator(self.net_, self.device_)
        if teacher is not None:
            release_accelerator(teacher, self.device_)
        self.history_ = History(copy.deepcopy(list(self.net_.history)))
        self.net_.trim_for_prediction()
        self.teacher_, self.teacher_history_ = None, None
        if teacher is not None:
            self.teacher_history_ = History(copy.deepcopy(list(teacher.history)))
            teacher.trim_for_prediction()
            self.teacher_ = teacher
        return self

    def predict_proba(self, X):
        """Class probabilities, columns in ``classes_`` order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
          Rows sum to 1. With Co-teaching, the mean of both networks.
        """
        check_is_fitted(self)
        X = np.require(validate_data(self, X, reset=False, dtype=np.float32), requirements="W")
        proba = self.net_.predict_proba({"x": X}).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class labels, in the label space of ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        # predict_proba first: it raises NotFittedError before classes_ is read.
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def embed(self, X, source="student"):
        """Embeddings of ``X`` from the student (first network) or the teacher.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        source : {'student', 'teacher'} (default='student')
          Which encoder to use; the teacher exists when stage 1 ran.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, embedding size)
        """
        check_is_fitted(self)
        X = np.require(validate_data(self, X, reset=False, dtype=np.float32), requirements="W")
        if source == "teacher":
            if self.teacher_ is None:
                raise ValueError(
                    "This model was fitted without stage 1, so it has no teacher "
                    "(relation_weight=0 and init_from_teacher=False); use source='student'."
                )
            return self.teacher_.forward({"x": X}).numpy()
        if source != "student":
            raise ValueError(f"source={source!r}; use 'student' or 'teacher'.")
        embeddings = [out[1][:, 0] for out in self.net_.forward_iter({"x": X})]
        return torch.cat(embeddings).numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.non_deterministic = on_cuda(self.device)
        return tags
