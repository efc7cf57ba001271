"""sklearn-rmd: learning with noisy labels through Relation Modeling and Distillation."""

from .classifier import RMDClassifier
from .detector import NoisyLabelDetector
from .teacher import SimSiamTeacher

__all__ = ["NoisyLabelDetector", "RMDClassifier", "SimSiamTeacher"]
__version__ = "0.1.0"
