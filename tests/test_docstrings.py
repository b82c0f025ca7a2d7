"""The `Example:` sections of the public docstrings run and print what they
say."""

import doctest
import importlib

import pytest

MODULES = [
    "emokeras.layers.cross_attention",
    "emokeras.layers.self_attention",
    "emokeras.layers.log_mel_spectrogram",
    "emokeras.layers.fold_clips",
    "emokeras.layers.unfold_clips",
    "emokeras.layers.window_padding",
    "emokeras.layers.clip_mask",
    "emokeras.layers.missing_modalities",
    "emokeras.layers.neighbour_context",
    "emokeras.layers.presence_routing",
    "emokeras.backbones.conv_bn_relu",
    "emokeras.backbones.inception_module",
    "emokeras.backbones.i3d",
    "emokeras.backbones.inception_v1",
    "emokeras.backbones.audio_cnn",
    "emokeras.models.av_fusion_regressor",
    "emokeras.models.av_emotion_regressor",
    "emokeras.metrics.ccc",
    "emokeras.metrics.concordance_correlation_metric",
    "emokeras.losses.concordance_correlation_loss",
    "emokeras.data.window",
    "emokeras.data.window_geometry",
    "emokeras.data.frame_clock",
    "emokeras.data.face_cropper",
    "emokeras.data.synthetic_corpus",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0, f"{name} has no docstring example"
    assert results.failed == 0
