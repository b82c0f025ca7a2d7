"""Allowed values of the model's string options. Kept free of heavy imports
so that the command line can list them without loading TensorFlow."""

FUSIONS = (
    "cross_attention",
    "concat",
    "lstm",
    "self_attention",
    "audio_only",
    "visual_only",
)

VISUAL_BACKBONES = ("i3d", "cnn2d")
