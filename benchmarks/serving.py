"""Serving latency: the exported SavedModel's `serving_default` signature vs
the in-process Keras model on the same window, in the same run."""

import tempfile

import numpy as np

from benchmarks.timing import alternating_medians
from benchmarks.timing import print_table


def run(quick=False):
    import tensorflow as tf

    from emokeras.models import build_av_model
    from emokeras.serving import export_saved_model

    kwargs = (
        dict(clips=2, frames_per_clip=16, image_size=112, width_multiplier=1 / 8, audio_filters=(8, 16, 32, 64, 128))
        if quick
        else dict()
    )
    model = build_av_model(**kwargs)
    frames = model.clips * model.frames_per_clip
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        loaded = tf.saved_model.load(str(export_saved_model(model, folder, version=1)))
        signature = loaded.signatures["serving_default"]
        for batch in (1,) if quick else (1, 2):
            video = rng.integers(0, 256, (batch, frames, model.image_size, model.image_size, 3), dtype=np.uint8)
            audio = rng.normal(scale=0.1, size=(batch, model.clips * model.samples_per_clip)).astype("float32")
            inputs = {"video": video, "audio": audio, "valid_frames": np.full(batch, frames, np.int32)}
            tensors = {k: tf.constant(v) for k, v in inputs.items()}
            repeats = 3 if quick else 5
            keras_seconds, saved_seconds = alternating_medians(
                [lambda: model.predict_on_batch(inputs), lambda: signature(**tensors)], repeats
            )
            rows.append(
                {
                    "model": "tiny (quick)" if quick else "paper (8 x 16, 224 px)",
                    "batch": batch,
                    "Keras predict_on_batch ms": 1000 * keras_seconds,
                    "SavedModel serving_default ms": 1000 * saved_seconds,
                    "ratio (SavedModel / Keras)": saved_seconds / keras_seconds,
                }
            )
    print_table("SavedModel signature vs in-process Keras, same inputs, same run", rows)
