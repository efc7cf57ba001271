"""The bf16 switch: SKLEARN_RMD_BF16=0 trains in float32 on CUDA."""

import warnings

import pytest
import torch

from conftest import record_calls, requires_cuda
from sklearn_rmd import _device


@pytest.mark.parametrize("value, expected", [(None, True), ("1", True), ("0", False)])
def test_bf16_enabled_reads_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(_device.BF16_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(_device.BF16_VARIABLE, value)
    assert _device.bf16_enabled() is expected


def test_unknown_bf16_value_is_refused(monkeypatch):
    monkeypatch.setenv(_device.BF16_VARIABLE, "off")
    with pytest.raises(ValueError, match="SKLEARN_RMD_BF16='off'.*'0'"):
        _device.bf16_enabled()


@pytest.mark.parametrize("value, enabled", [("1", True), ("0", False)])
def test_cuda_autocast_follows_the_switch(monkeypatch, value, enabled):
    monkeypatch.setenv(_device.BF16_VARIABLE, value)
    calls = record_calls(monkeypatch, torch, "autocast")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # without CUDA, torch warns and disables it itself
        _device.autocast("cuda")
    assert calls[-1][1]["enabled"] is enabled
    _device.autocast("cpu")
    assert calls[-1][1]["enabled"] is False


@requires_cuda
@pytest.mark.parametrize("value, dtype", [("1", torch.bfloat16), ("0", torch.float32)])
def test_cuda_matmul_precision_follows_the_switch(monkeypatch, value, dtype):
    monkeypatch.setenv(_device.BF16_VARIABLE, value)
    a = torch.randn(8, 8, device="cuda")
    with _device.autocast("cuda"):
        assert (a @ a).dtype == dtype
