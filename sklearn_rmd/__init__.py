"""sklearn-rmd: learning with noisy labels through Relation Modeling and Distillation."""

from .classifier import RMDClassifier

__all__ = ["RMDClassifier"]
__version__ = "0.1.0"
