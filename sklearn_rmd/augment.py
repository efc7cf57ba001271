"""Augmentations as torch ops that run on the device, one class per input kind.

Each is a picklable callable ``aug(x) -> x'`` on a batch of flat rows
``(n, n_features)``; batch statistics scale the noise, so no state is fitted.
``strength`` scales every perturbation (0 = identity).
"""

import math

import torch
import torch.nn.functional as F


def _batch_std(x):
    return x.std(dim=0, keepdim=True).nan_to_num(0.0) + 1e-6


class TabularAugment:
    """Feature-scaled Gaussian noise plus random feature swapping (SCARF-style).

    Parameters
    ----------
    strength : float (default=1.0)
      Scales the noise (0.1 batch std per unit) and the share of entries
      replaced by the same feature of another random row (0.3 per unit,
      capped at 0.9).
    """

    def __init__(self, strength=1.0):
        self.strength = strength

    def __call__(self, x):
        n = x.shape[0]
        swap_rate = min(0.3 * self.strength, 0.9)
        donors = torch.randint(0, n, x.shape, device=x.device)
        swapped = torch.where(torch.rand_like(x) < swap_rate, x.gather(0, donors), x)
        return swapped + 0.1 * self.strength * _batch_std(x) * torch.randn_like(x)


class SignalAugment:
    """Random crop-and-resize, shift, amplitude scaling and jitter for signals.

    Parameters
    ----------
    input_shape : tuple (C, L)
      How a row is viewed.

    strength : float (default=1.0)
      Scales the crop (keeps 1 - 0.3 per unit of the length, at least 40%),
      the amplitude change (0.2 per unit) and the jitter (0.05 batch std).
    """

    def __init__(self, input_shape, strength=1.0):
        self.input_shape = tuple(input_shape)
        self.strength = strength

    def __call__(self, x):
        n = x.shape[0]
        channels, length = self.input_shape
        signal = x.reshape(n, channels, length)
        keep = 1.0 - min(0.3 * self.strength, 0.6) * torch.rand(n, 1, device=x.device)
        start = (1.0 - keep) * torch.rand(n, 1, device=x.device)
        grid = start + keep * torch.linspace(0, 1, length, device=x.device)
        position = grid * (length - 1)
        left = position.floor().long().clamp(0, length - 1)
        right = (left + 1).clamp(max=length - 1)
        weight = (position - left).unsqueeze(1)
        left = left.unsqueeze(1).expand(n, channels, length)
        right = right.unsqueeze(1).expand(n, channels, length)
        resized = (1 - weight) * signal.gather(2, left) + weight * signal.gather(2, right)
        scale = 1.0 + 0.2 * self.strength * torch.randn(n, channels, 1, device=x.device)
        out = (resized * scale).reshape(n, -1)
        return out + 0.05 * self.strength * _batch_std(x) * torch.randn_like(out)


class ImageAugment:
    """Random rotation, zoom and translation with zero padding, optional flip, noise.

    Parameters
    ----------
    input_shape : tuple (C, H, W)
      How a row is viewed.

    strength : float (default=1.0)
      Scales every perturbation: per unit, rotation up to 20 degrees, zoom
      up to 20%, shift up to 20% of the side and pixel noise of 0.1 batch
      std.

    flip : bool (default=False)
      Mirror left-right half of the time. Off by default: digits and text
      change meaning when mirrored; turn it on for natural images.
    """

    def __init__(self, input_shape, strength=1.0, flip=False):
        self.input_shape = tuple(input_shape)
        self.strength = strength
        self.flip = flip

    def __call__(self, x):
        n = x.shape[0]
        image = x.reshape(n, *self.input_shape)

        def uniform(scale):  # in [-scale, scale], one per row
            return scale * self.strength * (2 * torch.rand(n, device=x.device) - 1)

        angle = uniform(math.radians(20.0))
        zoom = 1.0 + uniform(0.2)
        # affine_grid maps output to input coordinates: dividing by the zoom enlarges.
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        mirror = torch.ones(n, device=x.device)
        if self.flip:
            mirror = torch.where(torch.rand(n, device=x.device) < 0.5, -1.0, 1.0)
        theta = torch.zeros(n, 2, 3, device=x.device, dtype=image.dtype)
        theta[:, 0, 0] = cos * mirror
        theta[:, 0, 1] = -sin
        theta[:, 1, 0] = sin * mirror
        theta[:, 1, 1] = cos
        # Grid coordinates span [-1, 1]: a shift of 0.4 is 20% of the side.
        theta[:, 0, 2] = uniform(0.4)
        theta[:, 1, 2] = uniform(0.4)
        grid = F.affine_grid(theta, list(image.shape), align_corners=False)
        moved = F.grid_sample(image, grid, padding_mode="zeros", align_corners=False)
        out = moved.reshape(n, -1)
        return out + 0.1 * self.strength * _batch_std(x) * torch.randn_like(out)


def default_augment(input_shape, strength):
    """The augmentation for an input kind: tabular, signal or image."""
    if input_shape is None:
        return TabularAugment(strength)
    if len(input_shape) == 2:
        return SignalAugment(input_shape, strength)
    return ImageAugment(input_shape, strength)
