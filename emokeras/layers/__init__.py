"""Keras layers of emokeras: the attention fusion, the audio front end,
the reshapes that move clips in and out of the batch, window padding, and
the fill-in, the neighbouring clips' context and the per-case heads'
routing for a modality that is not there."""

from emokeras.layers.clip_mask import ClipMask
from emokeras.layers.cross_attention import CrossAttention
from emokeras.layers.fold_clips import FoldClips
from emokeras.layers.log_mel_spectrogram import LogMelSpectrogram
from emokeras.layers.missing_modalities import MissingModalities
from emokeras.layers.neighbour_context import NeighbourContext
from emokeras.layers.presence_routing import PresenceRouting
from emokeras.layers.self_attention import SelfAttention
from emokeras.layers.unfold_clips import UnfoldClips
from emokeras.layers.window_padding import WindowPadding

__all__ = [
    "ClipMask",
    "CrossAttention",
    "FoldClips",
    "LogMelSpectrogram",
    "MissingModalities",
    "NeighbourContext",
    "PresenceRouting",
    "SelfAttention",
    "UnfoldClips",
    "WindowPadding",
]
