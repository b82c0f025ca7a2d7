"""The feature cache: a fusion training epoch on cached backbone features
(the two-stage default) vs the same epoch recomputing the frozen backbones
from raw windows (what training the raw-input model would cost); and
`extract_features` (prepared shards -> cache) vs the bare encoders on
in-memory windows, per batch size. Same model, same run."""

import pathlib
import tempfile
import time

import numpy as np

from benchmarks.random_batches import av_geometry
from benchmarks.random_batches import cached_features
from benchmarks.random_batches import clip_labels
from benchmarks.random_batches import compiled_for_ccc
from benchmarks.random_batches import raw_windows
from benchmarks.timing import median_seconds
from benchmarks.timing import print_table


def extraction(quick):
    import tensorflow as tf

    from emokeras.data import prepare_recordings
    from emokeras.data import read_manifest
    from emokeras.data.features import extract_features
    from emokeras.data.synthetic_corpus import write_synthetic_corpus
    from emokeras.models import AVEmotionRegressor

    model = AVEmotionRegressor(fusion="cross_attention", **av_geometry(quick, image_size=112))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        manifest = write_synthetic_corpus(
            folder / "synth", recordings=2, seconds=8 if quick else 40, seed=0, image_size=model.image_size
        )
        prepare_recordings(
            read_manifest(manifest),
            folder / "prepared",
            frame_rate=model.frame_rate,
            sample_rate=model.sample_rate,
            image_size=model.image_size,
            face_crop=False,
            workers=1,
            min_frames=16,
            progress=False,
        )
        clips = None
        for batch_size in (1, 4) if quick else (1, 4, 8):
            extract = lambda: extract_features(
                model, folder / "prepared", folder / "cache", batch_size=batch_size, progress=False
            )
            extract()  # traces
            started = time.perf_counter()
            extract()
            extract_s = time.perf_counter() - started
            if clips is None:  # clips written per run
                clips = sum(
                    1 for _ in tf.data.TFRecordDataset([str(p) for p in (folder / "cache").rglob("*.tfrecord")])
                )
            video = tf.random.uniform((batch_size, *model.input["video"].shape[1:]), 0, 255)
            audio = tf.random.normal((batch_size, *model.input["audio"].shape[1:]))
            encoders = tf.function(lambda v, a: (model.visual_encoder(v), model.audio_encoder(a)))
            bare_s = median_seconds(lambda: [t.numpy() for t in encoders(video, audio)], repeats=2 if quick else 3)
            bare_clips_per_s = batch_size * model.clips / bare_s
            rows.append(
                {
                    "batch size (windows)": batch_size,
                    "extract_features clips/s": clips / extract_s,
                    "bare encoders clips/s": bare_clips_per_s,
                    "ratio extract / bare": clips / extract_s / bare_clips_per_s,
                }
            )
    print_table(
        f"extract_features (read shards, decode JPEG, encode, write) vs the bare encoders on in-memory windows, "
        f"{clips} clips of 16 frames at {model.image_size} px, same run",
        rows,
    )


def fusion_epoch(quick):
    import tensorflow as tf

    from emokeras.models import AVEmotionRegressor

    # The paper's geometry (8 clips of 16 frames at 224 px, batch 16).
    windows, batch, raw_batch = (64, 16, 2) if quick else (512, 16, 2)
    model = AVEmotionRegressor(
        fusion="cross_attention", freeze_visual_backbone=True, freeze_audio_backbone=True, **av_geometry(quick)
    )
    raw_model = compiled_for_ccc(model)
    fusion_model = compiled_for_ccc(model.fusion_regressor)
    rng = np.random.default_rng(0)
    clips = model.clips
    labels = clip_labels(raw_batch, clips, rng)
    raw_inputs = raw_windows(model, raw_batch, rng)
    features = cached_features(model, windows, rng)
    feature_labels = clip_labels(windows, clips, rng)
    feature_data = tf.data.Dataset.from_tensor_slices((features, feature_labels)).batch(batch)

    fusion_model.fit(feature_data, epochs=1, verbose=0, shuffle=False)  # traces
    cached_s = median_seconds(
        lambda: fusion_model.fit(feature_data, epochs=1, verbose=0, shuffle=False), repeats=2 if quick else 3
    )
    raw_model.train_on_batch(raw_inputs, labels)  # traces
    started = time.perf_counter()
    raw_steps = 2 if quick else 3
    for _ in range(raw_steps):
        raw_model.train_on_batch(raw_inputs, labels)
    raw_s = (time.perf_counter() - started) / raw_steps * windows / raw_batch
    print_table(
        f"Fusion training epoch of {windows} windows ({clips} clips x 16 frames at {model.image_size} px): "
        f"cached features vs recomputing the frozen backbones, same run (recompute timed on "
        f"{raw_steps} steps of {raw_batch} windows and scaled; data loading excluded on both sides)",
        [
            {"epoch": "on cached features (default)", "seconds": cached_s, "ratio vs recompute": raw_s / cached_s},
            {"epoch": "recomputing backbones", "seconds": raw_s, "ratio vs recompute": 1.0},
        ],
    )


def run(quick=False):
    extraction(quick)
    fusion_epoch(quick)
