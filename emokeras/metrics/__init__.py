"""Concordance correlation: the function and the streaming Keras metric."""

from emokeras.metrics.ccc import concordance_correlation
from emokeras.metrics.concordance_correlation_metric import ConcordanceCorrelation

__all__ = ["ConcordanceCorrelation", "concordance_correlation"]
