"""The model that benchmarks/gpu/run.sh trained on a GPU loads and predicts on the CPU.

The artifact is committed under benchmarks/results/gpu/ after a GPU run; without
it the test skips. It holds the model, 500 rows and the probabilities the model
gave them on the GPU. Like any pickle, it fits the code that wrote it: after a
change to the estimators' fitted state, rerun the check or delete the file.
"""

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

ARTIFACT = Path(__file__).resolve().parent.parent / "benchmarks/results/gpu/cuda_model.pkl"


def load_without_cuda(path, monkeypatch):
    """Unpickle ``path`` as a machine without CUDA would."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch's DeviceWarning: loading on the CPU
        return pickle.loads(path.read_bytes())


def check_predicts_like_on_the_device(bundle):
    """The loaded model's probabilities match those it gave where it was trained."""
    model, X = bundle["model"], bundle["X"]
    proba = model.predict_proba(X)
    assert proba.shape == bundle["proba"].shape
    # bf16 autocast on CUDA against float32 on the CPU.
    np.testing.assert_allclose(proba, bundle["proba"], atol=0.05)
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])


@pytest.mark.skipif(not ARTIFACT.exists(), reason="no GPU check committed yet "
                    "(benchmarks/gpu/run.sh writes cuda_model.pkl)")
def test_cuda_trained_model_predicts_on_the_cpu(monkeypatch):
    bundle = load_without_cuda(ARTIFACT, monkeypatch)
    assert bundle["device"].startswith("cuda")
    check_predicts_like_on_the_device(bundle)
