"""SimSiamTeacher: the label-free teacher encoder as a scikit-learn transformer."""

import math

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from ._device import on_cuda, seeded
from ._network_builder import NetworkBuilderMixin
from ._guards import DivergenceCheck, fit_or_restore
from ._validation import check_network_params, check_teacher_epochs, validate_rows
from .modules import SimSiamModule, output_dim
from .nets import SimSiamNet

#: ``max_epochs='auto'``: at least ``AUTO_MIN_EPOCHS`` epochs, and on small data
#: sets as many as give ``AUTO_MIN_STEPS`` optimizer steps. Chosen by
#: benchmarks/bench_teacher_augment.py (results/teacher_epochs.md): on rows of
#: 1 260, kNN accuracy rose with every doubling from 40 to 160 epochs.
AUTO_MIN_EPOCHS, AUTO_MIN_STEPS = 40, 1600


def auto_epochs(n_samples, batch_size):
    """The epochs of ``max_epochs='auto'`` for ``n_samples`` rows in batches of ``batch_size``."""
    steps_per_epoch = math.ceil(n_samples / min(batch_size, n_samples))
    return max(AUTO_MIN_EPOCHS, math.ceil(AUTO_MIN_STEPS / steps_per_epoch))


def training_epochs(max_epochs, n_samples, batch_size):
    """The epochs a teacher with ``max_epochs`` (an int or 'auto') trains on ``n_samples`` rows."""
    return auto_epochs(n_samples, batch_size) if max_epochs == "auto" else max_epochs


def embedding_spread(embeddings):
    """Mean per-dimension standard deviation of the L2-normalised rows.

    SimSiam's collapse check (Chen & He, CVPR 2021): a collapsed encoder maps
    every row to the same direction and scores 0; well-spread embeddings of
    size d score about ``1 / sqrt(d)``.
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = embeddings / np.maximum(norms, 1e-12)
    return float(unit.std(axis=0).mean())


def is_fitted(estimator):
    """Whether ``estimator`` (None: not fitted) passes scikit-learn's ``check_is_fitted``."""
    if estimator is None:
        return False
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


def check_teacher(teacher, n_features):
    """Check a ``teacher`` parameter for rows of ``n_features``; return whether it is fitted.

    None and a :class:`SimSiamTeacher` (fitted or not) pass, and so does a
    ``FrozenEstimator`` around a fitted one; a fitted teacher must have been
    fitted on as many features.
    """
    frozen = isinstance(teacher, FrozenEstimator)
    given = teacher.estimator if frozen else teacher
    if not (given is None or isinstance(given, SimSiamTeacher)):
        raise TypeError(
            f"teacher={teacher!r}; pass a SimSiamTeacher (fitted or not), or None to "
            "train one from the classifier's parameters."
        )
    if frozen and not is_fitted(given):
        raise ValueError("FrozenEstimator(teacher) needs a fitted teacher; fit it first.")
    if is_fitted(given) and given.n_features_in_ != n_features:
        raise ValueError(
            f"The fitted teacher expects rows of {given.n_features_in_} features, but X "
            f"has {n_features}. Fit the teacher on the same columns (after the same "
            "preprocessing), or pass an unfitted teacher or None."
        )
    return is_fitted(given)


class SimSiamTeacher(NetworkBuilderMixin, TransformerMixin, BaseEstimator):
    """Label-free teacher encoder, trained self-supervised with SimSiam.

    ``fit`` trains an encoder to map two augmented views of each row to the
    same embedding (SimSiam: projector, predictor, stop-gradient); labels
    never reach it, so it cannot memorise label noise. ``transform`` returns
    the frozen encoder's embeddings. It is stage 1 of :class:`RMDClassifier`:
    fit it once and pass it as ``RMDClassifier(teacher=...)`` to reuse it
    across fits, folds and grid-search candidates.

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
      Embedding size of the default encoder; the SimSiam projection has
      twice as many dimensions.

    dropout : float (default=0.0)
      Dropout in the default encoder.

    augment : 'auto' or callable (default='auto')
      Augmentation ``aug(x) -> x'`` on a batch tensor; 'auto' picks one for
      tabular rows, signals or images from ``input_shape``.

    augment_strength : float (default=0.5)
      Scales the 'auto' augmentation. Chosen by
      benchmarks/bench_teacher_augment.py (results/teacher_augment.md): the
      kNN accuracy of the teacher's embeddings per data kind and strength.

    max_epochs : int or 'auto' (default='auto')
      SimSiam epochs; 0 keeps the randomly initialised encoder. 'auto'
      trains 40 epochs, or more on small data sets: enough for 1 600
      optimizer steps (160 epochs of 1 260 rows in batches of 128), see
      :func:`auto_epochs`.

    lr : float (default=1e-3)
      Learning rate (AdamW).

    weight_decay : float (default=1e-4)
      AdamW weight decay.

    batch_size : int (default=128)
      Rows per batch.

    device : str (default='auto')
      'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.

    random_state : int, RandomState or None (default=None)
      Seeds torch and the batch order; fixed, it makes CPU fits repeatable.

    verbose : int (default=0)
      0 silent, 1 a per-epoch log, 2 also a progress bar.

    compile : bool or dict (default=False)
      Compile the network with ``torch.compile``. A dict is passed to
      ``torch.compile`` as keyword arguments, e.g. ``{'mode':
      'max-autotune'}``. The first batches of a fit pay the compilation (tens
      of seconds); it pays off on long GPU fits.

    accelerator : accelerate.Accelerator or None (default=None)
      Train through Hugging Face Accelerate (multi-GPU, mixed precision; the
      optional ``accelerate`` extra), with skorch's ``AccelerateMixin``.
      ``device`` is then ignored: the accelerator places modules and
      batches, and shards the batches over processes. Launch the script with
      ``accelerate launch`` (see docs/scaling.md).

    Attributes
    ----------
    net_ : SimSiamNet
      The trained skorch net, trimmed to the encoder.

    encoder_ : nn.Module
      The trained encoder (``net_.module_.encoder``), read-only by contract:
      copy it before training it further.

    history_ : skorch History
      Training history; ``train_loss`` is the SimSiam loss (-1 is perfect
      agreement of the two views, and also what a collapsed encoder reaches).

    embedding_spread_ : float
      Collapse monitor, read on the training rows after training: the mean
      per-dimension standard deviation of the L2-normalised embeddings (see
      :func:`embedding_spread`). Near 0 means the encoder collapsed to one
      direction; about ``1 / sqrt(embedding size)`` means well spread.

    device_ : str
      The device used.

    n_features_in_ : int
      Number of features seen in ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
      Column names, when ``X`` had string column names.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_rmd import SimSiamTeacher
    >>> X, _ = load_digits(return_X_y=True)
    >>> teacher = SimSiamTeacher(max_epochs=2, random_state=0).fit(X / 16)
    >>> teacher.transform(X[:3] / 16).shape
    (3, 128)
    """

    def __init__(self, module=None, input_shape=None, hidden_dims=None, embedding_dim=128,
                 dropout=0.0, augment="auto", augment_strength=0.5, max_epochs="auto",
                 lr=1e-3, weight_decay=1e-4, batch_size=128, device="auto", random_state=None,
                 verbose=0, compile=False, accelerator=None):
        self.module = module
        self.input_shape = input_shape
        self.hidden_dims = hidden_dims
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.augment = augment
        self.augment_strength = augment_strength
        self.max_epochs = max_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.compile = compile
        self.accelerator = accelerator

    def _check_params(self, n_features):
        check_network_params(self, n_features)
        check_teacher_epochs(self.max_epochs, "max_epochs")
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr} must be positive.")

    def _initialize_net(self, X, seed):
        """The SimSiam net for the rows ``X``, initialised, untrained."""
        encoder = self._new_encoder(X.shape[1])
        dim = output_dim(encoder, X.shape[1])
        net = self._stage_net(SimSiamNet)(
            SimSiamModule(encoder, dim, projection_dim=2 * self.embedding_dim),
            augment=self._augmenter(X),
            max_epochs=training_epochs(self.max_epochs, len(X), self.batch_size),
            lr=self.lr,
            callbacks=self._stage_callbacks(DivergenceCheck(
                "Stage 1 (the SimSiam teacher)",
                "the teacher's lr (an RMDClassifier's pretrain_lr)")),
            **self._net_kwargs(len(X), seed),
        )
        return net.initialize()

    def fit(self, X, y=None):
        """Train the encoder on ``X`` alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
          Training rows; images and signals flattened (see ``input_shape``).

        y : None
          Ignored: the teacher never sees labels.

        Returns
        -------
        self : SimSiamTeacher
          The fitted teacher.
        """
        with fit_or_restore(self):  # a failed fit leaves the teacher as it was
            X = validate_rows(self, X, ensure_min_samples=2)
            self._check_params(X.shape[1])
            self.device_ = self._resolve_device()
            seed = self._torch_seed()
            if self.verbose:
                print("Stage 1 (relation modeling): SimSiam, train_loss = SimSiam loss")
            with seeded(seed):
                net = self._initialize_net(X, seed)
                if net.max_epochs:
                    net.partial_fit({"x": X})
            self.history_ = self._finish(net)
            self.net_ = net
            self.embedding_spread_ = embedding_spread(self.transform(X))
        return self

    def transform(self, X):
        """Embeddings of ``X`` from the trained encoder.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
          Rows with the columns seen in ``fit``.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, embedding size), float32
        """
        X = self._rows(X)  # raises NotFittedError before net_ is read
        return self.net_.forward({"x": X}).numpy()

    @property
    def encoder_(self):
        check_is_fitted(self)
        return self.net_.module_.encoder

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = on_cuda(self.device)
        return tags
