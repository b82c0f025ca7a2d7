"""Evaluation at the annotation rate, with AVEC-style post-processing."""

from emokeras.evaluation.evaluate import evaluate_model
from emokeras.evaluation.evaluate import format_table
from emokeras.evaluation.evaluate import write_report

__all__ = ["evaluate_model", "format_table", "write_report"]
