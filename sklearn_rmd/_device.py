"""Device resolution, seeding and mixed precision shared by the estimators."""

import contextlib
import os
import threading

import numpy as np
import torch
from sklearn.utils import check_random_state


def resolve_device(device):
    """Turn the ``device`` parameter into a concrete torch device string.

    ``'auto'`` picks CUDA when it is available and the CPU otherwise.
    """
    if device is None or device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"Unknown device {device!r}. Use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine. Use device='auto' (falls back to the CPU) or device='cpu'."
        )
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(
            f"Unsupported device {device!r}. Use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        )
    return str(parsed)


def on_cuda(device):
    """Whether ``device`` names CUDA; never raises (estimator tags call it).

    A model fitted on CUDA and loaded on a CPU-only machine must still be
    usable, so an unavailable or unknown device is read from its name.
    """
    try:
        device = resolve_device(device)
    except ValueError:
        device = str(device)
    return device.startswith("cuda")


def torch_seed(random_state):
    """Draw a torch seed from a scikit-learn ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


_SEEDED = threading.local()


@contextlib.contextmanager
def seeded(seed):
    """Run a block with torch's global generators seeded, restoring them after.

    The user's own torch random state is left as it was, so fitting is
    repeatable without side effects. A block nested in another one reseeds
    without restoring: the outer block restores the user's state, and the
    outer block's draws continue from where the inner one stopped (a
    classifier that fits its own teacher trains its student on the stream
    the teacher left, one stream per fit).
    """
    if getattr(_SEEDED, "active", False):
        torch.manual_seed(seed)
        yield
        return
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        _SEEDED.active = True
        try:
            torch.manual_seed(seed)
            yield
        finally:
            _SEEDED.active = False


BF16_VARIABLE = "SKLEARN_RMD_BF16"


def bf16_enabled():
    """Whether CUDA training runs under bf16 autocast.

    On unless the environment variable ``SKLEARN_RMD_BF16`` is ``'0'``,
    which trains in float32 (to measure what bf16 gains, or to rule it out
    when a fit misbehaves). Read at every use, so it can be set per process.
    """
    value = os.environ.get(BF16_VARIABLE, "1")
    if value not in ("0", "1"):
        raise ValueError(
            f"{BF16_VARIABLE}={value!r} is not understood. Set it to '0' (float32 "
            f"on CUDA) or '1' (bf16 autocast on CUDA, the default), or unset it."
        )
    return value == "1"


def autocast(device):
    """bf16 autocast on CUDA (unless :func:`bf16_enabled` says no), a no-op elsewhere.

    ``device=None`` (device placement left to an ``accelerate.Accelerator``,
    whose ``mixed_precision`` then decides) is a no-op too.
    """
    if device is None:
        return contextlib.nullcontext()
    device_type = torch.device(device).type
    return torch.autocast(
        device_type=device_type, dtype=torch.bfloat16,
        enabled=device_type == "cuda" and bf16_enabled(),
    )


def to_float32(outputs):
    """Cast a tensor or a tuple of tensors back to float32 after autocast."""
    if isinstance(outputs, tuple):
        return tuple(to_float32(out) for out in outputs)
    if torch.is_tensor(outputs) and outputs.is_floating_point():
        return outputs.float()
    return outputs
