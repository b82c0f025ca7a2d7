"""Losses: the paper's `1 - CCC`."""

from emokeras.losses.concordance_correlation_loss import ConcordanceCorrelationLoss

__all__ = ["ConcordanceCorrelationLoss"]
