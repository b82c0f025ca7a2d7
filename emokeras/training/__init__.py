"""Training at the experiment boundary: configs, `train`, `ablate`."""

from emokeras.training.ablation import ablate
from emokeras.training.trainer import train
from emokeras.training.training_config import PRESETS
from emokeras.training.training_config import TrainingConfig
from emokeras.training.training_config import load_config

__all__ = ["PRESETS", "TrainingConfig", "ablate", "load_config", "train"]
