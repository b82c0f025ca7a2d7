"""Losses: the paper's `1 - CCC`, and its per-case form for models that take presence marks."""

from emokeras.losses.concordance_correlation_loss import ConcordanceCorrelationLoss
from emokeras.losses.loss_by_presence_case import loss_by_presence_case

__all__ = ["ConcordanceCorrelationLoss", "loss_by_presence_case"]
