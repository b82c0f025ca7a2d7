"""The audio-visual emotion models."""

from emokeras.choices import FUSIONS
from emokeras.choices import VISUAL_BACKBONES
from emokeras.models.av_emotion_regressor import AVEmotionRegressor
from emokeras.models.av_emotion_regressor import build_av_model
from emokeras.models.av_fusion_regressor import AVFusionRegressor

__all__ = ["AVEmotionRegressor", "AVFusionRegressor", "FUSIONS", "VISUAL_BACKBONES", "build_av_model"]
