"""Backbones: DeepMind's I3D, the 2D Inception-v1 it inflates, and the audio
CNN."""

from emokeras.backbones.audio_cnn import AudioCNN
from emokeras.backbones.checkpoint_variable_maps import i3d_variable_map
from emokeras.backbones.checkpoint_variable_maps import inception_v1_variable_map
from emokeras.backbones.conv_bn_relu import ConvBNReLU
from emokeras.backbones.i3d import I3D
from emokeras.backbones.inception_module import InceptionModule
from emokeras.backbones.inception_v1 import InceptionV1
from emokeras.backbones.inception_v1_trunk import I3D_ENDPOINTS
from emokeras.backbones.inception_v1_trunk import INCEPTION_V1_SPEC

__all__ = [
    "AudioCNN",
    "ConvBNReLU",
    "I3D",
    "I3D_ENDPOINTS",
    "INCEPTION_V1_SPEC",
    "InceptionModule",
    "InceptionV1",
    "i3d_variable_map",
    "inception_v1_variable_map",
]
