"""Augmentations: shapes, identity at strength 0, what each one perturbs."""

import numpy as np
import pytest
import torch

from sklearn_rmd.augment import (ImageAugment, SignalAugment, TabularAugment,
                                 default_augment)

SHAPES = {"tabular": None, "signal": (2, 32), "image": (1, 12, 12)}


def make(kind, strength=1.0):
    return default_augment(SHAPES[kind], strength)


def rows(kind, n=16, seed=0):
    shape = SHAPES[kind]
    n_features = 6 if shape is None else int(np.prod(shape))
    return torch.randn(n, n_features, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kind, cls", [("tabular", TabularAugment), ("signal", SignalAugment),
                                       ("image", ImageAugment)])
def test_default_augment_picks_the_kind(kind, cls):
    assert type(make(kind)) is cls


@pytest.mark.parametrize("kind", SHAPES)
def test_shape_and_dtype_are_kept(kind):
    x = rows(kind)
    torch.manual_seed(0)
    out = make(kind)(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("kind", SHAPES)
def test_strength_zero_is_the_identity(kind):
    x = rows(kind)
    torch.manual_seed(0)
    torch.testing.assert_close(make(kind, strength=0.0)(x), x, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", SHAPES)
def test_positive_strength_changes_values_and_views_differ(kind):
    x = rows(kind)
    augment = make(kind)
    torch.manual_seed(0)
    first, second = augment(x), augment(x)
    assert (first - x).abs().mean() > 1e-2
    assert (first - second).abs().mean() > 1e-2  # two random views of one batch


def test_tabular_swaps_values_within_their_feature():
    # Column j holds 100 j + 0 or 1: a swapped value must still round to its column.
    x = (100.0 * torch.arange(5) + (torch.arange(40) % 2)[:, None]).float()
    torch.manual_seed(0)
    out = TabularAugment(strength=1.0)(x)
    rounded = out.round()
    assert torch.all((rounded - 100.0 * torch.arange(5)).abs() <= 1)
    assert (out != x).any()


def augmented_mass(image):
    """Non-negative pixels of ``image`` (n, 1, H, W) after the full-strength
    image augmentation, seeded, as (n, H, W)."""
    n, _, height, width = image.shape
    torch.manual_seed(0)
    out = ImageAugment(image.shape[1:], strength=1.0)(image.reshape(n, -1))
    return out.reshape(n, height, width).clamp_min(0)


def test_image_shift_moves_the_mass_by_at_most_a_fifth():
    # A bright 2 x 2 square in the middle of 16 x 16 images.
    image = torch.zeros(64, 1, 16, 16)
    image[:, :, 7:9, 7:9] = 1.0
    mass = augmented_mass(image)
    coords = torch.arange(16.0)
    centre_x = (mass.sum(1) * coords).sum(1) / mass.sum((1, 2))
    centre_y = (mass.sum(2) * coords).sum(1) / mass.sum((1, 2))
    shift = torch.stack([centre_x - 7.5, centre_y - 7.5], 1)
    assert (shift.abs().max(1).values > 0.25).float().mean() > 0.5  # most images moved
    # Up to 20% of the side, enlarged by at most 1 / 0.8 by the zoom.
    assert shift.abs().max() <= 0.2 * 16 / 0.8 + 0.5


def test_image_rotation_tilts_a_bar_by_up_to_twenty_degrees():
    # A horizontal bar through the centre: its principal axis gives the angle.
    image = torch.zeros(64, 1, 32, 32)
    image[:, :, 15:17, 4:28] = 1.0
    mass = augmented_mass(image)
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    total = mass.sum((1, 2))
    mx, my = (mass * xs).sum((1, 2)) / total, (mass * ys).sum((1, 2)) / total
    dx, dy = xs - mx[:, None, None], ys - my[:, None, None]
    cxx, cyy = (mass * dx * dx).sum((1, 2)), (mass * dy * dy).sum((1, 2))
    cxy = (mass * dx * dy).sum((1, 2))
    angle = torch.rad2deg(0.5 * torch.atan2(2 * cxy, cxx - cyy)).abs()
    assert (angle > 5).float().mean() > 0.5
    assert angle.max() <= 20 + 2  # pixel sampling blurs the angle slightly


def test_image_flip_mirrors_some_images():
    # Mass only in the left half: a mirrored image has it on the right.
    image = torch.zeros(64, 1, 8, 8)
    image[:, :, 2:6, 0:2] = 1.0
    torch.manual_seed(0)
    out = ImageAugment((1, 8, 8), strength=0.0, flip=True)(image.reshape(64, -1))
    right = out.reshape(64, 8, 8)[:, :, 4:].sum((1, 2)) > 4
    assert 0 < right.sum() < 64


def test_signal_crop_resizes_to_the_full_length():
    # A ramp: a crop-and-resize still spans the whole length, rising.
    ramp = torch.linspace(0, 1, 50).repeat(8, 1)
    torch.manual_seed(0)
    out = SignalAugment((1, 50), strength=1.0)(ramp)
    assert out.shape == ramp.shape
    differences = out.diff(dim=1)
    # Amplitude scaling may flip the sign of a row; each row stays monotone
    # apart from the small jitter.
    monotone = (differences > -0.05).all(1) | (differences < 0.05).all(1)
    assert monotone.all()
    assert not torch.allclose(out, ramp, atol=1e-2)
