"""skorch nets for the two stages and the stage-2 criterion.

* :class:`SimSiamNet` trains the teacher encoder on two augmented views
  (stage 1, relation modelling; labels unused).
* :class:`RMDNet` trains the student network(s) on the noisy labels with
  :class:`RelationDistillationLoss` (stage 2, relation-guided learning).

Both batch in-memory data by index on the device (:class:`DeviceBatchLoader`)
and run under bf16 autocast on CUDA with float32 outputs. With ``compile=True``
only the network is compiled (see :meth:`_DeviceDataMixin.torch_compile`).
:class:`AcceleratedSimSiamNet` and :class:`AcceleratedRMDNet` are their
skorch ``AccelerateMixin`` versions, for multi-GPU training with Hugging Face
Accelerate (the optional ``accelerate`` extra).
"""

import types

from skorch import NeuralNet
from skorch.callbacks import PrintLog
from skorch.hf import AccelerateMixin
from skorch.utils import to_tensor
from torch import nn

from ._device import autocast, to_float32
from ._guards import user_interrupts
from ._loader import DeviceBatchLoader
from .losses import SimSiamLoss


class _DeviceDataMixin:
    """Route the net's device to :class:`DeviceBatchLoader` and read ``x``."""

    def get_params_for(self, prefix):
        params = super().get_params_for(prefix)
        if prefix in ("iterator_train", "iterator_valid"):
            iterator = self.iterator_train if prefix == "iterator_train" else self.iterator_valid
            if iterator is DeviceBatchLoader:
                params["device"] = self.device
        return params

    def torch_compile(self, module, name):
        """With ``compile=True``, compile the network but no criterion.

        The stage-2 criterion calls Python losses, reads per-epoch schedules
        and (Co-teaching) selects samples by data-dependent sorting: compiling
        it adds graph breaks and recompilations, and it more than doubled the
        cold start of a small CPU fit in our measurements (about 56 s against
        23 s), while the network holds most of the work.
        """
        if name in self._criteria:
            return module
        return super().torch_compile(module, name)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train as skorch does, but let a user's interrupt stop the fit.

        skorch ends training on any KeyboardInterrupt and returns the
        half-trained net. Callbacks' KeyboardInterrupt (``EarlyStopping``)
        still ends training that way; a user's Ctrl-C is raised again once
        skorch has run its ``on_train_end``, so that no caller mistakes the
        net for a trained one.
        """
        with user_interrupts() as interrupted:
            super().partial_fit(X, y, classes, **fit_params)
        if interrupted:
            raise KeyboardInterrupt
        return self

    def trim_for_prediction(self):
        """Trim as skorch does, and drop what only training read.

        ``module_`` holds the trained weights; ``module`` would pickle them a
        second time. The batch-order generator goes too: only training draws
        from it, and older torch releases cannot pickle one.
        """
        super().trim_for_prediction()
        self.module = None
        if hasattr(self, "iterator_train__generator"):
            self.iterator_train__generator = None

    def _inputs(self, x):
        x = x["x"] if isinstance(x, dict) else x
        return to_tensor(x, device=self.device)


class SimSiamNet(_DeviceDataMixin, NeuralNet):
    """Stage 1: self-supervised SimSiam training of the teacher encoder.

    In training mode ``infer`` returns ``(p1, p2, z1, z2)`` for two views made
    by ``augment``; in evaluation mode it returns the encoder's embedding.

    Parameters
    ----------
    module : SimSiamModule
      Encoder with projector and predictor.

    augment : callable
      ``augment(x) -> x'`` on a batch tensor, applied twice per batch.

    **kwargs
      Passed to :class:`skorch.NeuralNet`.
    """

    def __init__(self, module, *args, augment=None, criterion=SimSiamLoss, **kwargs):
        super().__init__(module, criterion, *args, **kwargs)
        self.augment = augment

    def infer(self, x, **fit_params):
        x = self._inputs(x)
        if self.module_.training:
            view1, view2 = self.augment(x), self.augment(x)
            with autocast(self.device):
                # Through forward, so that torch.compile and DDP wrappers see it.
                return to_float32(self.module_(view1, view2))
        with autocast(self.device):
            return to_float32(self.module_(x))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(*y_pred)

    def trim_for_prediction(self):
        """Keep only the encoder: the SimSiam heads serve training alone."""
        super().trim_for_prediction()
        module = getattr(self.module_, "_orig_mod", self.module_)  # compiled
        module.projector = nn.Identity()
        module.predictor = nn.Identity()


class RMDNet(_DeviceDataMixin, NeuralNet):
    """Stage 2: the student network(s) trained with :class:`RelationDistillationLoss`.

    Input is a dict ``{'x': rows, 'index': sample indices}``; ``index`` finds
    each row's neighbours in the teacher's graph, its entry in the
    prediction table and, for the node term, its teacher features. Logged per batch: ``train_<name>`` for the
    base loss and, when the relation term is on, ``train_edge`` and
    ``train_node``.

    Parameters
    ----------
    module : Students
      The student network(s).

    criterion : RelationDistillationLoss
      The stage-2 loss.

    augment : callable or None (default=None)
      Augmentation of the student's batch view during training.

    base_name : str (default='ce')
      Name of the base-loss column in the history.

    **kwargs
      Passed to :class:`skorch.NeuralNet`.
    """

    def __init__(self, module, criterion, *args, augment=None, base_name="ce", **kwargs):
        super().__init__(module, criterion, *args, **kwargs)
        self.augment = augment
        self.base_name = base_name

    def infer(self, x, **fit_params):
        view = self._inputs(x)
        if self.module_.training and self.augment is not None:
            view = self.augment(view)
        with autocast(self.device):
            logits, embeddings = to_float32(self.module_(view))
        if self.module_.training:
            return logits, embeddings, view
        return logits, embeddings

    def get_loss(self, y_pred, y_true, X=None, training=False):
        logits, embeddings = y_pred[:2]
        view = y_pred[2] if len(y_pred) > 2 else None
        terms = self.criterion_(
            logits, embeddings, to_tensor(y_true, device=self.device).long(),
            index=X["index"], view=view, epoch=len(self.history) - 1, training=training,
        )
        if training:
            self.history.record_batch(f"train_{self.base_name}", terms["base"].item())
            for key in ("edge", "node"):
                if key in terms:
                    self.history.record_batch(f"train_{key}", terms[key].item())
        return terms["loss"]


class _AccelerateNetMixin(AccelerateMixin):
    """skorch's ``AccelerateMixin`` with the modules unwrapped after the callbacks.

    ``AccelerateMixin`` unwraps the modules in the net's own ``on_train_end``,
    which skorch calls before the callbacks': ``EarlyStopping(load_best=True)``
    would then load weights saved from the wrapped (DistributedDataParallel)
    module, keys prefixed ``module.``, into the unwrapped one. Here the
    unwrapping waits until every callback has run.

    Criteria without trainable parameters (the SimSiam loss) are moved to
    the accelerator's device but not prepared: on multi-process CPU runs
    accelerate wraps every prepared module in DistributedDataParallel, which
    refuses modules without trainable parameters.
    """

    def _initialize_accelerator(self):
        criteria = list(self._criteria)
        plain = [name for name in criteria if isinstance(getattr(self, name + "_"), nn.Module)
                 and not any(p.requires_grad for p in getattr(self, name + "_").parameters())]
        self._criteria = [name for name in criteria if name not in plain]
        try:
            super()._initialize_accelerator()
        finally:
            self._criteria = criteria
        if self.accelerator.device_placement:
            for name in plain:
                getattr(self, name + "_").to(self.accelerator.device)
        return self

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self.accelerator.wait_for_everyone()
        return super(AccelerateMixin, self).on_train_end(net, X=X, y=y, **kwargs)

    def notify(self, method_name, **cb_kwargs):
        super().notify(method_name, **cb_kwargs)
        if method_name == "on_train_end" and self.unwrap_after_train:
            self._unwrap_accelerator()


class AcceleratedSimSiamNet(_AccelerateNetMixin, SimSiamNet):
    """:class:`SimSiamNet` trained through an ``accelerate.Accelerator``.

    Pass ``accelerator=Accelerator(...)``; ``device`` stays None (accelerate
    places modules and batches). Use a ``torch.utils.data.DataLoader`` as
    iterator so that accelerate can shard the batches over processes, and
    ``use_caching=False`` for scoring callbacks.
    """


class AcceleratedRMDNet(_AccelerateNetMixin, RMDNet):
    """:class:`RMDNet` trained through an ``accelerate.Accelerator``.

    Same contract as :class:`AcceleratedSimSiamNet`.
    """


ACCELERATED_NETS = {SimSiamNet: AcceleratedSimSiamNet, RMDNet: AcceleratedRMDNet}
_PLAIN_NETS = {accelerated: plain for plain, accelerated in ACCELERATED_NETS.items()}


def release_accelerator(net, device):
    """Turn a trained accelerated net into its plain class on ``device``, in place.

    The modules are unwrapped, the accelerator is dropped and prediction
    batches go through :class:`DeviceBatchLoader` again: the net then
    predicts all rows in every process, and pickles without a reference to
    the accelerator. Plain nets are returned unchanged.
    """
    if type(net) not in _PLAIN_NETS:
        return net
    net._unwrap_accelerator()
    for name in ("accelerator", "unwrap_after_train", "_wrapped_with_accelerator"):
        vars(net).pop(name, None)
    net.__class__ = _PLAIN_NETS[type(net)]
    net.device = device
    net.iterator_train = net.iterator_valid = DeviceBatchLoader
    # A print sink of 'auto' became the accelerator's print, a bound method of it.
    if isinstance(getattr(net, "callbacks__print_log__sink", None), types.MethodType):
        net.callbacks__print_log__sink = print
    for _, callback in getattr(net, "callbacks_", None) or []:
        if isinstance(callback, PrintLog) and isinstance(callback.sink, types.MethodType):
            callback.sink = print
    return net
