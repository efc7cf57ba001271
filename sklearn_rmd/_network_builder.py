"""What the teacher and the classifier build alike: encoders, augmentation, skorch nets."""

import copy

import numpy as np
import torch
from skorch.callbacks import ProgressBar
from skorch.history import History
from sklearn.utils.validation import check_is_fitted, validate_data

from ._device import resolve_device, torch_seed
from ._loader import DeviceBatchLoader
from ._validation import check_augment
from .augment import default_augment
from .modules import make_encoder
from .nets import ACCELERATED_NETS, release_accelerator


def silent(*args, **kwargs):
    """A print sink that prints nothing (picklable, unlike a lambda)."""


class NetworkBuilderMixin:
    """Builders shared by the estimators that train an encoder.

    Reads the parameters both estimators have: ``module``, ``input_shape``,
    ``hidden_dims``, ``embedding_dim``, ``dropout``, ``augment``,
    ``augment_strength``, ``batch_size``, ``weight_decay``, ``device``,
    ``verbose``, ``compile`` and ``accelerator``.
    """

    def _resolve_device(self):
        if self.accelerator is None:
            return resolve_device(self.device)
        # Multi-process CPU runs report 'cpu:0', which torch.load cannot map to.
        device = torch.device(self.accelerator.device)
        return "cpu" if device.type == "cpu" else str(device)

    def _torch_seed(self):
        """A torch seed drawn from ``random_state``, the same in every accelerator process."""
        seed = torch_seed(self.random_state)
        if self.accelerator is not None:
            # Every process must draw the same validation split and batch order.
            from accelerate.utils import broadcast_object_list
            seed = broadcast_object_list([seed])[0]
        return seed

    def _new_encoder(self, n_features):
        if self.module is None:
            return make_encoder(n_features, self.input_shape, self.hidden_dims,
                                self.embedding_dim, self.dropout)
        if isinstance(self.module, torch.nn.Module):
            return copy.deepcopy(self.module)
        encoder = self.module()
        if not isinstance(encoder, torch.nn.Module):
            raise TypeError(
                f"module={self.module!r} returned {type(encoder).__name__}, not a torch "
                "nn.Module; pass an nn.Module class or instance, or a callable returning one."
            )
        return encoder

    def _augmenter(self, X):
        """The augmentation; a given callable is first tried on two rows of ``X``."""
        if self.augment == "auto":
            return default_augment(self.input_shape, self.augment_strength)
        check_augment(self.augment, X[:2], self.device_)
        return self.augment

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
                          callbacks__print_log__sink="auto" if self.verbose else silent)
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

    def _finish(self, net):
        """Make a trained ``net`` plain and trim it for prediction; return its history."""
        release_accelerator(net, self.device_)  # predict and pickle as without accelerate
        history = History(copy.deepcopy(list(net.history)))
        net.trim_for_prediction()
        return history

    def _rows(self, X):
        """``X`` checked against the fitted estimator, as writable float32 rows."""
        check_is_fitted(self)
        # Writable: a read-only pandas view would make torch warn.
        return np.require(validate_data(self, X, reset=False, dtype=np.float32),
                          requirements="W")

    def _stage_callbacks(self, check, extra=()):
        """``extra`` after ``check`` (a :class:`DivergenceCheck`), and a progress bar
        with ``verbose >= 2``."""
        callbacks = [check, *extra]
        if self.verbose >= 2:
            callbacks.append(ProgressBar())
        return callbacks
