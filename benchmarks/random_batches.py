"""Models and random batches shared by the benchmarks that train or run the
audio-visual model: its geometry, its compile, and inputs of the right shape."""

import numpy as np

TARGETS = ("valence", "arousal")


def av_geometry(quick, image_size=224):
    """`AVEmotionRegressor` arguments: the paper's 8 clips at `image_size`, or a
    tiny network at 32 px for the quick run."""
    if quick:
        return dict(clips=2, image_size=32, width_multiplier=1 / 8, audio_filters=(8, 8, 8, 8, 128))
    return dict(clips=8, image_size=image_size)


def compiled_for_ccc(model):
    """`model` compiled as the trainer does (Adam, CCC loss per target)."""
    import keras

    from emokeras.losses import ConcordanceCorrelationLoss

    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss={t: ConcordanceCorrelationLoss() for t in TARGETS})
    return model


def raw_windows(model, batch, rng):
    """Random raw inputs of `model`: video in [0, 255] and quiet audio."""
    return {
        "video": rng.uniform(0, 255, (batch, *model.input["video"].shape[1:])).astype("float32"),
        "audio": rng.normal(0, 0.1, (batch, *model.input["audio"].shape[1:])).astype("float32"),
    }


def cached_features(model, batch, rng):
    """Random per-clip features of the shape `model.fusion_regressor` takes."""
    return {
        "visual_features": rng.normal(size=(batch, model.clips, model.visual_encoder.output.shape[-1])).astype(
            "float32"
        ),
        "audio_features": rng.normal(size=(batch, model.clips, model.audio_filters[-1])).astype("float32"),
    }


def clip_labels(batch, clips, rng):
    """Random per-clip targets in [-1, 1]."""
    return {t: rng.uniform(-1, 1, (batch, clips)).astype(np.float32) for t in TARGETS}
