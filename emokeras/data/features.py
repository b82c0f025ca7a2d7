"""The feature cache: backbone features computed once per clip, so that
fusion and heads train without re-running the backbones (the paper's second
stage).

`extract_features` writes `<out>/features/<split>/<recording_id>.tfrecord`,
one `tf.train.Example` per clip of `frames_per_clip` frames on the clip grid
of the recording (clip `c` = frames `[c T, (c + 1) T)`; the last clip may be
partly filled, padded as the model pads a window): `visual` and `audio`
feature vectors, the clip's real `frames`, its per-frame `labels` /
`label_mask`, and `visual_present` / `audio_present` (whether the clip shows
the face and holds a voice, `emokeras.data.modality_marks`; caches written
before them read as 1). `make_feature_dataset` cuts windows of consecutive clips for
`AVFusionRegressor`, padding and masking clips past the end.
"""

import dataclasses
import os
import pathlib

import numpy as np
import tensorflow as tf

from emokeras.atomic_write import atomic_path
from emokeras.atomic_write import remove_stale_temporaries
from emokeras.atomic_write import wait_for_files
from emokeras.atomic_write import write_json_atomically
from emokeras.data import shard_format
from emokeras.data.dataset import check_rates
from emokeras.data.dataset import shard_files
from emokeras.data.label_processing import clip_targets
from emokeras.data.label_processing import process_labels
from emokeras.data.modality_marks import clip_presence
from emokeras.data.modality_marks import with_modality_dropout
from emokeras.data.prepare import in_shard

FEATURES_METADATA = "features_metadata.json"
FEATURE_NAMES = ("visual_features", "audio_features")

# In a graph, map_fn decodes the frames in parallel; run eagerly it would be
# a Python loop over frames.
_decode_jpeg_frames = tf.function(shard_format.decode_jpeg_frames, reduce_retracing=True)


def _side_by_side_windows(path, count, windows, spec, modalities):
    """A recording cut into side-by-side windows from frame 0, the last one
    padded: `(inputs, labels, mask, clips, presence)` with `clips` the clips
    holding real frames, labels padded (masked) to whole clips, the inputs
    of `modalities` only, and `presence` each clip's `(visual_present,
    audio_present)`."""
    records = tf.data.TFRecordDataset(path).batch(count).get_single_element()
    recording = tf.io.parse_example(records, spec)
    side_by_side = dataclasses.replace(windows, stride=windows.window_frames, last_window="pad", label_delays=None)
    starts = side_by_side.starts(count)
    padding = len(starts) * windows.window_frames - count
    inputs = {
        "valid_frames": tf.constant([side_by_side.valid_frames(start, count) for start in starts], tf.int32),
    }
    # The padding's content is replaced by the model (`valid_frames`).
    if "video" in modalities:
        video = _decode_jpeg_frames(recording["jpeg"])
        video = tf.pad(video, [[0, padding], [0, 0], [0, 0], [0, 0]])
        inputs["video"] = tf.reshape(video, [len(starts), windows.window_frames, *video.shape[1:]])
    if "audio" in modalities:
        audio = tf.pad(recording["audio"], [[0, padding], [0, 0]])
        inputs["audio"] = tf.reshape(audio, [len(starts), windows.window_samples])
    clips = sum(side_by_side.valid_clips(start, count) for start in starts)
    label_padding = clips * windows.frames_per_clip - count
    labels = tf.pad(recording["labels"], [[0, label_padding], [0, 0]])
    mask = tf.pad(recording["label_mask"], [[0, label_padding], [0, 0]])
    presence = clip_presence(recording["face"].numpy(), np.ravel(recording["audio"].numpy()), windows.frames_per_clip)
    return inputs, labels, mask, clips, presence


def extract_features(
    model, data_dir, out_dir, splits=("train", "dev", "test"), batch_size=4, progress=True, shard=None
):
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
        shard: `(i, n)` (1-based) to process only the recordings of shard `i`
            of `n` (by `crc32` of the recording id, as `prepare --shard`),
            so that `n` processes share the work. Shard 1 writes the
            metadata, once every shard's files are there (it waits for
            them); the others return when their own files are written.

    Returns:
        `{split: number of recordings}` written by this call.
    """
    metadata = shard_format.read_metadata(data_dir)
    if metadata["image_size"] != model.image_size:
        raise ValueError(
            f"{data_dir} holds {metadata['image_size']} px crops but the model takes "
            f"{model.image_size} px; prepare again with --image-size {model.image_size}"
        )
    windows = model.window_geometry()
    check_rates(windows, metadata, data_dir)
    modalities = tuple(m for m in ("video", "audio") if m in model.data_contract["inputs"])
    spec = shard_format.frame_feature_spec(metadata["samples_per_frame"], len(metadata["targets"]))
    written = {}
    jobs = []
    for split in splits:
        try:
            jobs += [(split, *job) for job in zip(*shard_files(data_dir, split, modalities))]
        except FileNotFoundError:
            continue
    if not jobs:
        raise FileNotFoundError(
            f"No prepared recordings in {data_dir} for splits {list(splits)}: run `emokeras prepare` first"
        )
    out_dir = pathlib.Path(out_dir)
    every_target = [_feature_path(out_dir, split, path) for split, path, _ in jobs]
    if shard is not None:
        jobs = [job for job in jobs if in_shard(pathlib.Path(job[1]).stem, shard)]
    bar = None
    if progress:
        import keras

        bar = keras.utils.Progbar(len(jobs), unit_name="recording")
    encode = tf.function(model.encode_clips, reduce_retracing=True)
    for split in {split for split, _, _ in jobs}:
        # Shards a killed extraction was writing are of no use.
        remove_stale_temporaries(out_dir / "features" / split)
    for done, (split, path, count) in enumerate(jobs, start=1):
        recording_id = pathlib.Path(path).stem
        inputs, labels, mask, clips, (visual_present, audio_present) = _side_by_side_windows(
            path, count, windows, spec, modalities
        )
        features = _encode(encode, inputs, batch_size)
        visual, audio = (features.get(name, np.zeros((len(labels), 0))) for name in FEATURE_NAMES)
        labels = labels.numpy().reshape(clips, -1)
        mask = mask.numpy().reshape(clips, -1)
        frames = [min(windows.frames_per_clip, count - clip * windows.frames_per_clip) for clip in range(clips)]
        target = _feature_path(out_dir, split, path)
        with atomic_path(target) as temporary, tf.io.TFRecordWriter(str(temporary)) as writer:
            for clip in range(clips):
                example = _clip_example(
                    recording_id,
                    clip,
                    frames[clip],
                    visual[clip],
                    audio[clip],
                    labels[clip],
                    mask[clip],
                    (visual_present[clip], audio_present[clip]),
                )
                writer.write(example)
        written[split] = written.get(split, 0) + 1
        if bar is not None:
            bar.update(done)
    if shard is not None and shard[0] != 1:
        return written
    wait_for_files(every_target, f"feature shards of the other {shard[1] - 1} process(es)" if shard else "")
    fusion = model.fusion_regressor
    write_json_atomically(
        out_dir / FEATURES_METADATA,
        {
            **metadata,
            "frames_per_clip": model.frames_per_clip,
            "visual_dim": int(fusion.visual_dim) if model.visual_encoder is not None else 0,
            "audio_dim": int(fusion.audio_dim) if model.audio_encoder is not None else 0,
            "source": os.fspath(data_dir),
        },
    )
    return written


def _feature_path(out_dir, split, shard_path):
    return out_dir / "features" / split / f"{pathlib.Path(shard_path).stem}.tfrecord"


def _encode(encode, inputs, batch_size):
    """`{feature name: (clips, dim)}` of the model's modalities, over every
    clip of the windows (`encode`: the model's `encode_clips`)."""
    windows = len(inputs["valid_frames"])
    batches = []
    for first in range(0, windows, batch_size):
        batch = {name: value[first : first + batch_size] for name, value in inputs.items()}
        # Every call the same shape (the last batch padded), so the function is traced once.
        short = batch_size - len(batch["valid_frames"])
        batch = {name: tf.concat([value] + [value[-1:]] * short, 0) for name, value in batch.items()}
        batches.append({name: np.asarray(value) for name, value in encode(batch).items() if name in FEATURE_NAMES})
    return {
        name: np.concatenate([b[name] for b in batches])[:windows].reshape(-1, batches[0][name].shape[-1])
        for name in batches[0]
    }


def _clip_example(recording_id, clip, frames, visual, audio, labels, mask, presence):
    feature = tf.train.Feature
    floats = lambda values: feature(float_list=tf.train.FloatList(value=np.ravel(values)))
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "recording_id": feature(bytes_list=tf.train.BytesList(value=[recording_id.encode()])),
                "clip_index": feature(int64_list=tf.train.Int64List(value=[clip])),
                "frames": feature(int64_list=tf.train.Int64List(value=[frames])),
                "visual": floats(visual),
                "audio": floats(audio),
                "labels": floats(labels),
                "label_mask": feature(int64_list=tf.train.Int64List(value=np.ravel(mask).astype(np.int64))),
                "visual_present": feature(int64_list=tf.train.Int64List(value=[int(presence[0])])),
                "audio_present": feature(int64_list=tf.train.Int64List(value=[int(presence[1])])),
            }
        )
    ).SerializeToString(deterministic=True)  # map fields in key order: byte-identical shards


def make_feature_dataset(
    feature_dir,
    split="train",
    *,
    windows,
    mode="train",
    stride_clips=1,
    batch_size=16,
    seed=0,
    shuffle_buffer=2048,
    median_width=1,
    presence_marks=False,
    modality_dropout=0.0,
    reshuffle_each_iteration=True,
):
    """Windows of cached clip features for `AVFusionRegressor`.

    Same labels, weights and outputs as `make_dataset`, on the clip grid:
    windows of `windows.clips` consecutive clips every `stride_clips` clips
    (`WindowGeometry.grid_starts`: the last-window rule and label delays of
    `windows`), yielding `({"visual_features": (batch, L, K),
    "audio_features": (batch, L, K), "clip_mask": int32 (batch, L)}, {target:
    (batch, L)}, {target: (batch, L)})`; clips past the recording's end are
    zeros, masked, with weight 0. In `"eval"` mode the third element is
    `{"recording_id", "start_frame", "weights", "presence"}`;
    `presence_marks`, `modality_dropout` and `reshuffle_each_iteration` as
    in `make_dataset`.
    """
    feature_dir = pathlib.Path(feature_dir)
    metadata = shard_format.read_metadata_file(feature_dir / FEATURES_METADATA)
    targets = metadata["targets"]
    frames_per_clip = metadata["frames_per_clip"]
    if windows.frames_per_clip != frames_per_clip:
        raise ValueError(
            f"{feature_dir} caches clips of {frames_per_clip} frames, the windows have clips of "
            f"{windows.frames_per_clip}; extract the features again with this model"
        )
    delays = windows.delays_for(targets)
    clips = windows.clips
    paths = sorted(str(p) for p in (feature_dir / "features" / split).glob("*.tfrecord"))
    if not paths:
        raise FileNotFoundError(
            f"No feature shards for split {split!r} in {feature_dir}: run `emokeras extract-features`"
        )
    spec = {
        "recording_id": tf.io.FixedLenFeature([], tf.string),
        "clip_index": tf.io.FixedLenFeature([], tf.int64),
        "frames": tf.io.FixedLenFeature([], tf.int64),
        "visual": tf.io.FixedLenFeature([metadata["visual_dim"]], tf.float32),
        "audio": tf.io.FixedLenFeature([metadata["audio_dim"]], tf.float32),
        "labels": tf.io.FixedLenFeature([frames_per_clip * len(targets)], tf.float32),
        "label_mask": tf.io.FixedLenFeature([frames_per_clip * len(targets)], tf.int64),
        # Caches written before the marks: every clip complete.
        "visual_present": tf.io.FixedLenFeature([], tf.int64, default_value=1),
        "audio_present": tf.io.FixedLenFeature([], tf.int64, default_value=1),
    }
    training = mode == "train"

    def windows_of_recording(path):
        # All of a recording's records as strings, then one parse: batching
        # the parsed floats instead would allocate the batch's full size.
        serialized = tf.data.TFRecordDataset(path).batch(1_000_000).get_single_element()
        recording = tf.io.parse_example(serialized, spec)
        labels = tf.reshape(recording["labels"], [-1, len(targets)])
        mask = tf.reshape(recording["label_mask"], [-1, len(targets)]) > 0
        labels, mask, _ = process_labels(labels, mask, median_width, delays)
        cached_clips = tf.shape(recording["visual"])[0]
        frames = tf.cast(tf.reduce_sum(recording["frames"]), tf.int32)
        starts = windows.grid_starts_in_graph(frames, stride_clips)
        window = clips * frames_per_clip

        def cut(start):
            valid = tf.minimum(clips, cached_clips - start)
            labelled = slice(start * frames_per_clip, start * frames_per_clip + window)
            unlabelled = window - tf.shape(labels[labelled])[0]
            clip_labels, clip_weights = clip_targets(
                tf.pad(labels[labelled], [[0, unlabelled], [0, 0]]),
                tf.pad(mask[labelled], [[0, unlabelled], [0, 0]]),
                clips,
            )
            inputs = {
                name: tf.pad(recording[key][start : start + valid], [[0, clips - valid], [0, 0]])
                for name, key in (("visual_features", "visual"), ("audio_features", "audio"))
            }
            inputs["clip_mask"] = tf.cast(tf.range(clips) < valid, tf.int32)
            # Clips past the end count as complete: they are masked anyway.
            presence = {
                name: tf.pad(
                    tf.cast(recording[name][start : start + valid], tf.int32), [[0, clips - valid]], constant_values=1
                )
                for name in ("visual_present", "audio_present")
            }
            if presence_marks:
                inputs.update(presence)
            outputs = {t: clip_labels[:, j] for j, t in enumerate(targets)}
            weights = {t: clip_weights[:, j] for j, t in enumerate(targets)}
            if mode == "eval":
                start_frame = start * frames_per_clip
                info = {
                    "recording_id": recording["recording_id"][0],
                    "start_frame": start_frame,
                    "weights": weights,
                    "presence": presence,
                }
                return inputs, outputs, info
            return inputs, outputs, weights

        return tf.data.Dataset.from_tensor_slices(starts).map(cut)

    files = tf.data.Dataset.from_tensor_slices(paths)
    if training:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=reshuffle_each_iteration)
    dataset = files.interleave(windows_of_recording, cycle_length=len(paths) if training else 1)
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=reshuffle_each_iteration)
        if modality_dropout:
            dataset = with_modality_dropout(dataset, modality_dropout, seed, reshuffle_each_iteration)
    return dataset.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)
