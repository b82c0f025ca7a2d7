"""The feature cache: backbone features computed once per clip, so that
fusion and heads train without re-running the backbones (the paper's second
stage).

`extract_features` writes `<out>/features/<split>/<recording_id>.tfrecord`,
one `tf.train.Example` per clip of `frames_per_clip` frames on the clip grid
of the recording (clip `c` = frames `[c T, (c + 1) T)`): `visual` and
`audio` feature vectors and the clip's per-frame `labels` / `label_mask`.
`make_feature_dataset` cuts windows of consecutive clips for
`AVFusionRegressor`.
"""

import os
import pathlib

import numpy as np
import tensorflow as tf

from emokeras.data import shard_format
from emokeras.data.dataset import shard_files
from emokeras.data.dataset import window_starts
from emokeras.data.label_processing import clip_targets
from emokeras.data.label_processing import process_labels

FEATURES_METADATA = "features_metadata.json"


def _clip_windows(path, count, clips, frames_per_clip, spec, size):
    """Windows of `clips` consecutive grid clips covering the whole recording;
    the last window is padded with empty clips. Yields (inputs, real clips)."""
    records = tf.data.TFRecordDataset(path).batch(count).get_single_element()
    recording = tf.io.parse_example(records, spec)
    grid_clips = count // frames_per_clip
    window = clips * frames_per_clip
    video = _decode_jpegs(recording["jpeg"][: grid_clips * frames_per_clip], size)
    audio = recording["audio"][: grid_clips * frames_per_clip]
    groups = -(-grid_clips // clips)
    padding = groups * window - grid_clips * frames_per_clip
    video = tf.pad(video, [[0, padding], [0, 0], [0, 0], [0, 0]])
    audio = tf.pad(audio, [[0, padding], [0, 0]])
    video = tf.reshape(video, [groups, window, size, size, 3])
    audio = tf.reshape(audio, [groups, -1])
    return (
        {"video": video, "audio": audio},
        recording["labels"][: grid_clips * frames_per_clip],
        recording["label_mask"][: grid_clips * frames_per_clip],
        grid_clips,
    )


@tf.function(reduce_retracing=True)
def _decode_jpegs(jpegs, size):
    # In a graph, map_fn decodes frames in parallel; run eagerly it is a
    # Python loop that cost ~10 % of extraction (benchmarks/feature_cache.py).
    return tf.map_fn(
        lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3),
        jpegs,
        fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8),
        parallel_iterations=16,
    )


def extract_features(model, data_dir, out_dir, splits=("train", "dev", "test"), batch_size=4, progress=True):
    """Runs the (frozen) backbones of `model` once per clip of every recording.

    Args:
        model: an `emokeras.models.AVEmotionRegressor`; its `visual_encoder`
            and `audio_encoder` (the exact computation of the raw-input
            model) produce the features.
        data_dir: a folder written by `emokeras prepare`.
        out_dir: where the feature shards go.
        splits: the splits to process (those with no recordings are skipped).
        batch_size: windows of `model.clips` clips per encoder call.
        progress: show a progress bar.

    Returns:
        `{split: number of recordings}` written.
    """
    metadata = shard_format.read_metadata(data_dir)
    if metadata["image_size"] != model.image_size:
        raise ValueError(
            f"{data_dir} holds {metadata['image_size']} px crops but the model takes "
            f"{model.image_size} px; prepare again with --image-size {model.image_size}"
        )
    if metadata["samples_per_frame"] * model.frames_per_clip != model.samples_per_clip:
        raise ValueError(
            f"{data_dir} was prepared at {metadata['frame_rate']} fps / "
            f"{metadata['sample_rate']} Hz, the model expects {model.frame_rate} fps / "
            f"{model.sample_rate} Hz"
        )
    spec = shard_format.frame_feature_spec(metadata["samples_per_frame"], len(metadata["targets"]))
    out_dir = pathlib.Path(out_dir)
    written = {}
    jobs = []
    for split in splits:
        try:
            jobs += [(split, *job) for job in zip(*shard_files(data_dir, split))]
        except FileNotFoundError:
            continue
    if not jobs:
        raise FileNotFoundError(
            f"No prepared recordings in {data_dir} for splits {list(splits)}: run `emokeras prepare` first"
        )
    bar = None
    if progress:
        import keras

        bar = keras.utils.Progbar(len(jobs), unit_name="recording")
    for done, (split, path, count) in enumerate(jobs, start=1):
        recording_id = pathlib.Path(path).stem
        inputs, labels, mask, grid_clips = _clip_windows(
            path, count, model.clips, model.frames_per_clip, spec, metadata["image_size"]
        )
        visual = _encode(model.visual_encoder, inputs["video"], batch_size, model.clips)[:grid_clips]
        audio = _encode(model.audio_encoder, inputs["audio"], batch_size, model.clips)[:grid_clips]
        labels = labels.numpy().reshape(grid_clips, -1)
        mask = mask.numpy().reshape(grid_clips, -1)
        target = out_dir / "features" / split / f"{recording_id}.tfrecord"
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
        with tf.io.TFRecordWriter(str(temporary)) as writer:
            for clip in range(grid_clips):
                writer.write(_clip_example(recording_id, clip, visual[clip], audio[clip], labels[clip], mask[clip]))
        os.replace(temporary, target)
        written[split] = written.get(split, 0) + 1
        if bar is not None:
            bar.update(done)
    shard_format.write_json_atomically(
        out_dir / FEATURES_METADATA,
        {
            **metadata,
            "frames_per_clip": model.frames_per_clip,
            "visual_dim": int(visual.shape[-1]),
            "audio_dim": int(audio.shape[-1]),
            "source": os.fspath(data_dir),
        },
    )
    return written


def _encode(encoder, windows, batch_size, clips):
    """Per-clip features `(windows * clips, features)`; a unimodal model's
    missing encoder gives zero-length features."""
    if encoder is None:
        return np.zeros((windows.shape[0] * clips, 0), np.float32)
    features = encoder.predict(windows, batch_size=batch_size, verbose=0)
    return features.reshape(-1, features.shape[-1])


def _clip_example(recording_id, clip, visual, audio, labels, mask):
    feature = tf.train.Feature
    floats = lambda values: feature(float_list=tf.train.FloatList(value=np.ravel(values)))
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "recording_id": feature(bytes_list=tf.train.BytesList(value=[recording_id.encode()])),
                "clip_index": feature(int64_list=tf.train.Int64List(value=[clip])),
                "visual": floats(visual),
                "audio": floats(audio),
                "labels": floats(labels),
                "label_mask": feature(int64_list=tf.train.Int64List(value=np.ravel(mask).astype(np.int64))),
            }
        )
    ).SerializeToString()


def make_feature_dataset(
    feature_dir,
    split="train",
    mode="train",
    clips=8,
    stride_clips=1,
    batch_size=16,
    seed=0,
    shuffle_buffer=2048,
    median_width=1,
    label_delays=None,
):
    """Windows of cached clip features for `AVFusionRegressor`.

    Same windows, labels and outputs as `make_dataset` on the clip grid:
    windows of `clips` consecutive clips (every `stride_clips` clips; the
    last window ends at the last clip), yielding `({"visual_features":
    (batch, L, K), "audio_features": (batch, L, K)}, {target: (batch, L)})`
    (plus sample weights if labels may be missing, or a third
    `{"recording_id", "start_frame"}` element in `"eval"` mode).
    """
    from emokeras.data.dataset import _delays_for

    feature_dir = pathlib.Path(feature_dir)
    metadata = shard_format.read_metadata_file(feature_dir / FEATURES_METADATA)
    targets = metadata["targets"]
    frames_per_clip = metadata["frames_per_clip"]
    delays = _delays_for(targets, label_delays)
    paths = sorted(str(p) for p in (feature_dir / "features" / split).glob("*.tfrecord"))
    if not paths:
        raise FileNotFoundError(
            f"No feature shards for split {split!r} in {feature_dir}: run `emokeras extract-features`"
        )
    spec = {
        "recording_id": tf.io.FixedLenFeature([], tf.string),
        "clip_index": tf.io.FixedLenFeature([], tf.int64),
        "visual": tf.io.FixedLenFeature([metadata["visual_dim"]], tf.float32),
        "audio": tf.io.FixedLenFeature([metadata["audio_dim"]], tf.float32),
        "labels": tf.io.FixedLenFeature([frames_per_clip * len(targets)], tf.float32),
        "label_mask": tf.io.FixedLenFeature([frames_per_clip * len(targets)], tf.int64),
    }
    training = mode == "train"

    def windows_of_recording(path):
        # All of a recording's records as strings, then one parse: batching
        # the parsed floats instead would allocate the batch's full size.
        serialized = tf.data.TFRecordDataset(path).batch(1_000_000).get_single_element()
        recording = tf.io.parse_example(serialized, spec)
        labels = tf.reshape(recording["labels"], [-1, len(targets)])
        mask = tf.reshape(recording["label_mask"], [-1, len(targets)]) > 0
        labels, mask, frames = process_labels(labels, mask, median_width, delays)
        usable_clips = frames // frames_per_clip
        starts = window_starts(usable_clips, clips, stride_clips, "align_end")

        def cut(start):
            span = slice(start * frames_per_clip, (start + clips) * frames_per_clip)
            clip_labels, clip_weights = clip_targets(labels[span], mask[span], clips)
            inputs = {
                "visual_features": recording["visual"][start : start + clips],
                "audio_features": recording["audio"][start : start + clips],
            }
            outputs = {t: clip_labels[:, j] for j, t in enumerate(targets)}
            if mode == "eval":
                info = {"recording_id": recording["recording_id"][0], "start_frame": start * frames_per_clip}
                return inputs, outputs, info
            if metadata["allow_missing_labels"]:
                return inputs, outputs, {t: clip_weights[:, j] for j, t in enumerate(targets)}
            return inputs, outputs

        return tf.data.Dataset.from_tensor_slices(starts).map(cut)

    files = tf.data.Dataset.from_tensor_slices(paths)
    if training:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    dataset = files.interleave(windows_of_recording, cycle_length=len(paths) if training else 1)
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)
