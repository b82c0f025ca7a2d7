"""Clip predictions of a split's windows mapped back onto frames."""

import collections

import numpy as np
import tensorflow as tf

from emokeras.data import shard_format
from emokeras.data.dataset import make_dataset
from emokeras.data.dataset import shard_files
from emokeras.data.finite_inputs import check_finite_inputs
from emokeras.data.label_processing import process_labels
from emokeras.data.modality_marks import clip_presence
from emokeras.data.modality_marks import without_missing_clips


def frame_labels(data_dir, split, windows, median_width=1):
    """Per-frame labels of every prepared recording of `split`, after the
    same median filter and annotation delays (those of `windows`) as in
    training.

    Returns `{recording_id: (labels (F, targets), mask (F, targets) bool)}`.
    """
    metadata = shard_format.read_metadata(data_dir)
    targets = metadata["targets"]
    delays = windows.delays_for(targets)
    spec = shard_format.frame_feature_spec(metadata["samples_per_frame"], len(targets))
    spec = {key: spec[key] for key in ("recording_id", "labels", "label_mask")}
    labels = {}
    for path, count in zip(*shard_files(data_dir, split)):
        records = tf.data.TFRecordDataset(path).map(lambda r: tf.io.parse_single_example(r, spec))
        recording = records.batch(count).get_single_element()
        values, mask, _ = process_labels(recording["labels"], recording["label_mask"] > 0, median_width, delays)
        labels[recording["recording_id"][0].numpy().decode()] = (values.numpy(), mask.numpy())
    return labels


def frame_presence(data_dir, split, frames_per_clip):
    """Per-frame presence of the face and the voice in every prepared
    recording of `split`: each frame gets the marks of its clip on the clip
    grid from frame 0 (`emokeras.data.modality_marks.clip_presence`, the
    marks a model trained with `modality_dropout` is given).

    Returns `{recording_id: (visual_present (F,) bool, audio_present (F,)
    bool)}`.
    """
    metadata = shard_format.read_metadata(data_dir)
    spec = shard_format.frame_feature_spec(metadata["samples_per_frame"], len(metadata["targets"]))
    spec = {key: spec[key] for key in ("recording_id", "face", "audio")}
    presence = {}
    for path, count in zip(*shard_files(data_dir, split)):
        records = tf.data.TFRecordDataset(path).batch(count).get_single_element()
        recording = tf.io.parse_example(records, spec)
        marks = clip_presence(recording["face"].numpy(), np.ravel(recording["audio"].numpy()), frames_per_clip)
        per_frame = tuple(np.repeat(mark > 0, frames_per_clip)[:count] for mark in marks)
        presence[recording["recording_id"][0].numpy().decode()] = per_frame
    return presence


def frame_predictions(predict_batch, dataset, targets, frame_counts, windows, missing_as_nan=False):
    """Every window of `dataset` predicted, and the clip predictions put back
    onto each recording's frames by `windows.stitch`.

    Args:
        predict_batch: `inputs -> {target: (batch, clips)}`.
        dataset: an eval-mode dataset of `(inputs, outputs, info)` whose
            `info` holds `recording_id` and `start_frame` (`make_dataset` or
            `make_feature_dataset` with `mode="eval"`).
        targets: target names, the column order of the result.
        frame_counts: `{recording_id: frames}` to predict.
        windows: the `WindowGeometry` the windows were cut with.
        missing_as_nan: clips with neither the face nor the voice (the
            `presence` of `info`) are not predicted: NaN (a model trained
            with `modality_dropout` masks them).

    Returns:
        `{recording_id: (frames, targets) float32}`; frames no window covers
        are NaN.
    """
    starts = collections.defaultdict(list)
    values = collections.defaultdict(list)
    for inputs, _, info in dataset:
        recordings = [f"recording {rid.decode()}" for rid in info["recording_id"].numpy()]
        check_finite_inputs(inputs, recordings)
        outputs = predict_batch(inputs)
        clip_values = np.stack([np.asarray(outputs[t]) for t in targets], axis=-1)
        if missing_as_nan:
            clip_values = without_missing_clips(clip_values, **info["presence"])
        for row, (rid, start) in enumerate(zip(info["recording_id"].numpy(), info["start_frame"].numpy())):
            starts[rid.decode()].append(int(start))
            values[rid.decode()].append(clip_values[row])
    empty = np.zeros((0, windows.clips, len(targets)))
    return {
        rid: windows.stitch(starts[rid], np.array(values[rid]) if values[rid] else empty, count)
        for rid, count in frame_counts.items()
    }


def model_frame_predictions(model, data_dir, split, windows, median_width=1, features_dir=None, batch_size=8):
    """Per-frame predictions and labels of `split` for a raw-input
    `AVEmotionRegressor`, or, with `features_dir`, for its fusion regressor
    on the features cached from its backbones (the same numbers, without
    running the backbones again).

    Returns `{recording_id: (predictions, labels, mask)}`, each `(F,
    targets)`, and the target names.
    """
    from emokeras.data.features import make_feature_dataset

    targets = shard_format.read_metadata(data_dir)["targets"]
    labels = frame_labels(data_dir, split, windows, median_width)
    # A model trained with modality dropout is told what each clip has.
    marked = bool(model.data_contract.get("presence_marks"))
    if features_dir is not None:
        regressor = model.fusion_regressor
        dataset = make_feature_dataset(
            features_dir,
            split,
            windows=windows,
            mode="eval",
            batch_size=batch_size,
            median_width=median_width,
            presence_marks=marked,
        )
        names = set(regressor.input)

        def predict(inputs):
            # Feature shards hold both modalities; a unimodal model takes one.
            return regressor.predict_on_batch({k: v for k, v in inputs.items() if k in names})

    else:
        dataset = make_dataset(
            data_dir,
            split,
            windows=windows,
            mode="eval",
            batch_size=batch_size,
            median_width=median_width,
            modalities=tuple(model.data_contract["inputs"]),
            presence_marks=marked,
        )
        predict = model.predict_on_batch
    counts = {rid: len(values) for rid, (values, _) in labels.items()}
    predictions = frame_predictions(predict, dataset, targets, counts, windows, missing_as_nan=marked)
    return {rid: (predictions[rid], *labels[rid]) for rid in labels}, targets
