"""sklearn-rmd: learning with noisy labels through Relation Modeling and Distillation.

The estimators are imported on first use (PEP 562), so that
``import sklearn_rmd`` and the command line's ``--help`` do not pay for
torch and skorch.
"""

import importlib

__all__ = ["NoisyLabelDetector", "RMDClassifier", "SimSiamTeacher"]
__version__ = "0.1.0"

#: Public name -> the module that defines it.
_LAZY = {"NoisyLabelDetector": ".detector", "RMDClassifier": ".classifier",
         "SimSiamTeacher": ".teacher"}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
