"""RMDClassifier: a scikit-learn classifier that learns through noisy labels."""

import copy

import numpy as np
import torch
from skorch.callbacks import PassthroughScoring
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from ._device import on_cuda, seeded
from ._guards import DivergenceCheck, check_finite_proba, fit_or_restore
from ._network_builder import NetworkBuilderMixin
from ._validation import check_classifier_params, validate_labelled
from .coteaching import estimate_noise_rate
from .early_stopping import early_stopping
from .graph import joint_space, knn_graph, standardize
from .losses import RelationDistillationLoss, base_loss_function
from .modules import StudentNetwork, Students, mean_softmax, output_dim
from .nets import RMDNet
from .teacher import SimSiamTeacher, check_teacher, is_fitted


class RMDClassifier(NetworkBuilderMixin, ClassifierMixin, BaseEstimator):
    """Classifier trained with Relation Modeling and Distillation (RMDNet).

    Stage 1 trains a teacher encoder self-supervised (a
    :class:`SimSiamTeacher`: SimSiam on two augmented views, labels ignored),
    then freezes it. Stage 2 trains the task network on the noisy labels with
    its base loss plus the distillation of the teacher's sample-to-sample
    relations::

        L = L_base + relation_weight * (edge_weight * L_edge + node_weight * L_node)

    Parameters
    ----------
    module, input_shape, hidden_dims, embedding_dim, dropout
      The encoder, as in :class:`SimSiamTeacher` (defaults None, None, None,
      128, 0.0): the student's, and the teacher's when ``teacher`` is None.

    base_loss : {'ce', 'gce', 'sce', 'coteaching'} or callable (default='sce')
      Loss on the noisy labels. A callable ``(logits, y) -> per-sample loss``
      is accepted. 'coteaching' trains two networks that exchange their
      small-loss samples; predictions average both networks. Chosen by
      benchmarks/bench_relation_sweep.py ``--grid base``
      (results/relation_sweep_base.md): with the relation term at its
      defaults of the time (label trust 0.5, no ``label_trust_self``), SCE
      had the highest mean accuracy over the data kinds and noises.

    gce_q : float (default=0.7)
      GCE exponent, in (0, 1].

    sce_alpha, sce_beta : float (default=0.1, 1.0)
      SCE weights of cross-entropy and reverse cross-entropy.

    forget_rate : float or None (default=None)
      Co-teaching's share of large-loss samples dropped; None estimates the
      noise rate from the teacher's neighbours.

    forget_epochs : int (default=10)
      Epochs over which the forget rate ramps up.

    relation_weight : float (default=1.0)
      Weight of the relation term; 0 switches it off (the teacher may still
      initialise the student). Chosen with ``base_loss='ce'`` by
      benchmarks/bench_relation_sweep.py (results/relation_sweep.md).

    edge_weight, node_weight : float (default=1.0, 0.0)
      Weights of edge and node matching inside the relation term. Edge: each
      row's class distribution is pulled towards the latest predictions for
      its ``n_neighbors`` nearest rows in ``neighbor_spaces``.
      Node: each row's student embedding must pick out its own teacher
      embedding among the batch's (contrastive; off by default).

    n_neighbors : int (default=10)
      K of the teacher's kNN graph over the training rows (edge term), and
      of the neighbour vote behind Co-teaching's estimated forget rate.

    neighbor_spaces : tuple of {'teacher', 'input'} (default=('teacher',))
      Where that graph's neighbours are searched: the teacher's embeddings,
      the standardised input columns, or both, ranked by the mean of their
      cosine similarities (:func:`sklearn_rmd.graph.joint_space`): one
      graph, unlike ``NoisyLabelDetector``'s parameter of the same name,
      which averages the votes of one graph per space.

    relation_warmup : int (default=5)
      Epochs over which the relation term ramps up linearly (epoch e gets
      ``min((e + 1) / relation_warmup, 1)`` of it): at the start of stage 2
      the neighbours' predictions are still uninformed.

    label_trust : float in [0, 1] (default=1.0)
      From epoch ``relation_warmup`` on, each row's base loss is weighted by
      ``min(1, r / label_trust)``, where ``r`` is the share the teacher
      neighbours' predictions give the row's label relative to their top
      class: a label its neighbours contradict stops pulling, and the edge
      term relabels the row. 1 weighs every row by ``r``; 0 turns it off.
      Needs the edge term. Chosen together with ``label_trust_self`` by
      benchmarks/bench_relation_sweep.py ``--grid self``
      (results/relation_sweep_self.md).

    label_trust_self : bool (default=True)
      Let the student's own latest prediction for a row back its label as
      well: the row's weight is the larger of the two, so a label the
      teacher's neighbours contradict keeps its pull while the student
      agrees with it (where the teacher's graph mixes classes). It
      narrows, but does not close, what trust costs on clean labels
      (same file; benchmarks/results/classifier.md, ``clean`` against
      ``clean_edge``).

    target_momentum : float in [0, 1) (default=0.0)
      Momentum of the table of predictions that the edge term's targets
      and label trust read: each time a row is trained on, its entry
      becomes ``target_momentum * old + (1 - target_momentum) * new``, a
      temporal ensemble of the student's predictions for it, which
      follows a row that starts to be memorised more slowly than its
      latest prediction does. 0 keeps the latest prediction.

    loss_mixture : bool (default=False)
      After the warm-up, also weigh each row's base loss by the probability
      that its label is clean: a two-component Gaussian mixture fitted once
      per epoch to the cross-entropy of each row's latest prediction on its
      label (DivideMix's selection). Multiplies label trust when both are
      on; needs the edge term; not with Co-teaching. Off by default: it
      lost to label trust alone in benchmarks/bench_relation_sweep.py
      ``--grid mixture`` (results/relation_sweep_mixture.md), most on
      clean labels.

    relation_dim : int (default=128)
      Size of the node space (node term): a trainable layer maps the
      student's embeddings into it, a frozen random one the teacher's.

    teacher_features : {'precomputed', 'online'} (default='precomputed')
      Teacher features of the node term. 'precomputed': embeddings of the
      training rows, computed once. 'online': the frozen teacher runs on the
      student's batch view.

    init_from_teacher : bool (default=True)
      Start the student encoder from the teacher's weights; the teacher's
      encoder must then have the student's architecture.

    student_augment : bool (default=False)
      Augment the student's inputs during stage 2 as well.

    augment, augment_strength
      The augmentation, as in :class:`SimSiamTeacher` (defaults 'auto',
      0.5): the teacher's when ``teacher`` is None, and the student's with
      ``student_augment=True``.

    pretrain_epochs, pretrain_lr : int or 'auto', float (default='auto', 1e-3)
      Stage-1 (SimSiam) epochs and learning rate: the teacher's
      ``max_epochs`` and ``lr`` when ``teacher`` is None. 'auto' trains 40
      epochs, or more on small data sets (see :class:`SimSiamTeacher`).

    max_epochs : int (default=100)
      Most stage-2 epochs.

    early_stopping : bool (default=True)
      Hold out ``validation_fraction`` of the rows (stratified, labels as
      given) and stop stage 2 when their accuracy has not improved for
      ``n_iter_no_change`` epochs, keeping the best epoch's weights. Noisy
      labels are memorised late in training; this stops before. Skipped with
      a warning when the split would hold fewer than two rows per class.

    validation_fraction, n_iter_no_change : float, int (default=0.1, 10)
      Share of rows held out for early stopping, and its patience in epochs.

    lr : float (default=1e-3)
      Stage-2 learning rate (AdamW).

    batch_size, weight_decay : int, float (default=128, 1e-4)
      Rows per batch and AdamW weight decay, in both stages.

    device : str (default='auto')
      'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.

    random_state : int, RandomState or None (default=None)
      Seeds torch and the batch order (and the teacher when ``teacher`` is
      None); fixed, it makes CPU fits repeatable.

    verbose : int (default=0)
      0 silent, 1 a per-epoch log of both stages, 2 also a progress bar.

    callbacks : list of skorch callbacks or None (default=None)
      Extra callbacks for the stage-2 net.

    compile, accelerator
      ``torch.compile`` and Hugging Face Accelerate for the networks of both
      stages, as in :class:`SimSiamTeacher` (defaults False, None); stage 2
      compiles its networks, not its criterion.

    teacher : SimSiamTeacher or None (default=None)
      The stage-1 teacher. None: :meth:`build_teacher` makes one from this
      classifier's parameters, fitted on the training rows; an unfitted one:
      a clone is fitted. A fitted one (also in a ``FrozenEstimator``) is used
      as given, never refitted, and kept by ``clone``: every candidate and
      fold of a grid search shares it.

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

    teacher_ : SimSiamTeacher or None
      The fitted teacher (the given one when it came fitted); its
      ``history_`` is the stage-1 history. None when stage 1 did not run.

    history_ : skorch History
      Stage-2 training history (``train_loss``, the base loss, ``train_edge``,
      ``train_node``).

    forget_rate_ : float or None
      Forget rate used by Co-teaching.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_rmd import RMDClassifier, SimSiamTeacher
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = RMDClassifier(pretrain_epochs=2, max_epochs=2, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> teacher = SimSiamTeacher(max_epochs=2, random_state=0).fit(X)  # labels unused
    >>> clf = RMDClassifier(teacher=teacher, max_epochs=2, random_state=0).fit(X, y)
    >>> clf.teacher_ is teacher
    True
    """

    def __init__(self, module=None, input_shape=None, hidden_dims=None, embedding_dim=128,
                 dropout=0.0, base_loss="sce", gce_q=0.7, sce_alpha=0.1, sce_beta=1.0,
                 forget_rate=None, forget_epochs=10, relation_weight=1.0, edge_weight=1.0,
                 node_weight=0.0, n_neighbors=10, neighbor_spaces=("teacher",),
                 relation_dim=128, relation_warmup=5,
                 label_trust=1.0, label_trust_self=True, target_momentum=0.0,
                 loss_mixture=False,
                 teacher_features="precomputed", init_from_teacher=True,
                 student_augment=False, augment="auto", augment_strength=0.5,
                 pretrain_epochs="auto", pretrain_lr=1e-3, max_epochs=100, early_stopping=True,
                 validation_fraction=0.1, n_iter_no_change=10, batch_size=128,
                 lr=1e-3, weight_decay=1e-4, device="auto", random_state=None, verbose=0,
                 callbacks=None, compile=False, accelerator=None, teacher=None):
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
        self.neighbor_spaces = neighbor_spaces
        self.relation_dim = relation_dim
        self.relation_warmup = relation_warmup
        self.label_trust = label_trust
        self.label_trust_self = label_trust_self
        self.target_momentum = target_momentum
        self.loss_mixture = loss_mixture
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
        self.teacher = teacher

    # ---------------------------------------------------------------- builders
    def build_teacher(self):
        """The stage-1 teacher ``fit`` starts from.

        Returns
        -------
        teacher : SimSiamTeacher
          ``teacher`` itself when fitted (used as given), else a clone of it;
          for ``teacher=None``, a new one from this classifier's encoder,
          augmentation, ``pretrain_epochs`` (as ``max_epochs``),
          ``pretrain_lr`` (as ``lr``) and ``random_state``.
        """
        if is_fitted(self.teacher):
            return self.teacher
        if self.teacher is not None:
            return clone(self.teacher)
        return SimSiamTeacher(
            module=self.module, input_shape=self.input_shape, hidden_dims=self.hidden_dims,
            embedding_dim=self.embedding_dim, dropout=self.dropout, augment=self.augment,
            augment_strength=self.augment_strength, max_epochs=self.pretrain_epochs,
            lr=self.pretrain_lr, weight_decay=self.weight_decay, batch_size=self.batch_size,
            device=self.device, verbose=self.verbose, compile=self.compile,
            accelerator=self.accelerator,
            # A copy: a RandomState is drawn from once by the teacher, once by fit.
            random_state=copy.deepcopy(self.random_state),
        )

    def _base_loss_fn(self):
        return base_loss_function(self.base_loss, self.gce_q, self.sce_alpha, self.sce_beta)

    def needs_teacher(self):
        """Whether these settings use a teacher in stage 2.

        Returns
        -------
        needed : bool
          True with the relation term, ``init_from_teacher`` or an estimated forget rate.
        """
        return (self.relation_weight > 0 or self.init_from_teacher
                or (self.base_loss == "coteaching" and self.forget_rate is None))

    def _criterion(self, relations, student_dim, n_networks):
        """The stage-2 criterion, with ``relations`` from :meth:`_teacher_relations`."""
        return RelationDistillationLoss(
            self._base_loss_fn(), student_dim, len(self.classes_), n_networks,
            relation_dim=self.relation_dim, relation_weight=self.relation_weight,
            edge_weight=self.edge_weight, node_weight=self.node_weight,
            warmup_epochs=self.relation_warmup, label_trust=self.label_trust,
            trust_self=self.label_trust_self, target_momentum=self.target_momentum,
            loss_mixture=self.loss_mixture,
            forget_rate=self.forget_rate_ or 0.0,
            forget_epochs=self.forget_epochs, **relations,
        )

    def _teacher_relations(self, X, teacher):
        """What the relation term needs from the frozen teacher: its kNN graph
        over the training rows (edge term) and, for the node term, its
        features, precomputed or as a frozen copy run online."""
        relations = {}
        embeddings = teacher.transform(X)
        if self.edge_weight > 0:
            relations["graph"] = self._neighbor_graph(X, embeddings)
        if self.node_weight > 0:
            relations["teacher_dim"] = embeddings.shape[1]
            if self.teacher_features == "precomputed":
                relations["teacher_features"] = torch.as_tensor(embeddings)
            else:
                relations["teacher_encoder"] = copy.deepcopy(teacher.encoder_)
        return relations

    def _neighbor_graph(self, X, embeddings):
        """The kNN graph over the training rows ``X`` in ``neighbor_spaces``,
        given the teacher's ``embeddings`` of them."""
        spaces = [embeddings if space == "teacher" else standardize(X)
                  for space in self.neighbor_spaces]
        n_neighbors = min(self.n_neighbors, len(X) - 1)
        return knn_graph(spaces[0] if len(spaces) == 1 else joint_space(*spaces),
                         n_neighbors, device=self.device_,
                         learned=tuple(self.neighbor_spaces) == ("teacher",))

    def _fit_student(self, X, y, teacher, relations, seed):
        """Stage 2: the student network(s) on the noisy labels, with ``relations``
        from the teacher (:meth:`_teacher_relations`; empty without the relation term)."""
        n_networks = 2 if self.base_loss == "coteaching" else 1
        encoders = [self._new_encoder(X.shape[1]) for _ in range(n_networks)]
        dim = output_dim(encoders[0], X.shape[1])
        students = Students([StudentNetwork(enc, dim, len(self.classes_)) for enc in encoders])
        if teacher is not None and self.init_from_teacher:
            for network in students.networks:
                try:
                    network.encoder.load_state_dict(teacher.encoder_.state_dict())
                except RuntimeError as exc:
                    raise ValueError(
                        "init_from_teacher=True needs the teacher's encoder to have the "
                        "student's architecture: give the teacher the same module, "
                        "input_shape, hidden_dims and embedding_dim, or set "
                        "init_from_teacher=False."
                    ) from exc
        criterion = self._criterion(relations, dim, n_networks)
        base_name = self.base_loss if isinstance(self.base_loss, str) else "base"
        scoring = [(f"train_{base_name}", PassthroughScoring(f"train_{base_name}", on_train=True))]
        scoring += [(f"train_{key}", PassthroughScoring(f"train_{key}", on_train=True))
                    for key in criterion.terms]
        split, stopping = None, []
        if self.early_stopping:
            split, stopping = early_stopping(y, self.validation_fraction,
                                             self.n_iter_no_change, seed, self.verbose)
        # Size batches for the rows stage 2 trains on: the (Stratified)ShuffleSplit
        # holds ceil(validation_fraction * n) out, so drop_last sees the real count.
        n_train = len(X) - (0 if split is None
                            else int(np.ceil(self.validation_fraction * len(X))))
        kwargs = self._net_kwargs(n_train, seed)
        kwargs["train_split"] = split
        net = self._stage_net(RMDNet)(
            students, criterion,
            augment=self._augmenter(X) if self.student_augment else None,
            base_name=base_name,
            max_epochs=self.max_epochs,
            lr=self.lr,
            predict_nonlinearity=mean_softmax,
            callbacks=self._stage_callbacks(DivergenceCheck("Stage 2 (the classifier)", "lr"),
                                            scoring + stopping) + list(self.callbacks or []),
            **kwargs,
        )
        if self.verbose:
            print(f"Stage 2 (relation-guided learning): base loss {base_name!r}")
        net.initialize()
        net.partial_fit({"x": X, "index": np.arange(len(X))}, y)
        return net

    # -------------------------------------------------------------- public API
    def fit(self, X, y):
        """Fit the teacher (stage 1, unless it came fitted) and the student (stage 2).

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
        with fit_or_restore(self):  # a failed fit leaves the estimator as it was
            X, classes, y_encoded = validate_labelled(self, X, y, float32=True)
            check_classifier_params(self, X.shape[1])
            teacher = None  # a fitted teacher is kept even when stage 2 does not use it
            if check_teacher(self.teacher, X.shape[1]) or self.needs_teacher():
                teacher = self.build_teacher()
            self.classes_ = classes
            self.device_ = self._resolve_device()
            seed = self._torch_seed()
            with seeded(seed):
                if teacher is not None and not is_fitted(teacher):
                    teacher.fit(X)
                relations = {}
                if teacher is not None and self.relation_weight > 0:
                    relations = self._teacher_relations(X, teacher)
                self.forget_rate_ = None
                if self.base_loss == "coteaching":
                    self.forget_rate_ = self.forget_rate
                    if self.forget_rate_ is None:  # the edge term's graph, when it has one
                        graph = relations.get("graph")
                        if graph is None:
                            graph = self._neighbor_graph(X, teacher.transform(X))
                        self.forget_rate_ = min(estimate_noise_rate(graph, y_encoded), 0.5)
                self.net_ = self._fit_student(X, y_encoded, teacher, relations, seed)
            self.history_ = self._finish(self.net_)
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
        X = self._rows(X)  # raises NotFittedError before net_ is read
        proba = check_finite_proba(self.net_.predict_proba({"x": X}).astype(np.float64))
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
        X = self._rows(X)
        if source == "teacher":
            if self.teacher_ is None:
                raise ValueError(
                    "This model was fitted without stage 1, so it has no teacher "
                    "(relation_weight=0 and init_from_teacher=False); use source='student'."
                )
            return self.teacher_.transform(X)
        if source != "student":
            raise ValueError(f"source={source!r}; use 'student' or 'teacher'.")
        embeddings = [out[1][:, 0] for out in self.net_.forward_iter({"x": X})]
        return torch.cat(embeddings).numpy()

    def __sklearn_clone__(self):
        # A fitted teacher is a prefit component (as in FrozenEstimator): clones
        # share it instead of unfitting it, so searches and folds reuse it.
        cloned = super().__sklearn_clone__()
        if is_fitted(self.teacher):
            cloned.teacher = self.teacher
        return cloned

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.non_deterministic = on_cuda(self.device)
        return tags
