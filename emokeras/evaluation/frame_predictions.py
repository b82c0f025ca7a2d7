"""Clip predictions of overlapping windows mapped back onto frames."""

import numpy as np
import tensorflow as tf

from emokeras.data import shard_format
from emokeras.data.dataset import _delays_for
from emokeras.data.dataset import make_dataset
from emokeras.data.dataset import shard_files
from emokeras.data.label_processing import process_labels


def frame_labels(data_dir, split, median_width=1, label_delays=None):
    """Per-frame labels of every prepared recording of `split`, after the
    same median filter and delay as in training.

    Returns `{recording_id: (labels (F, targets), mask (F, targets) bool)}`.
    """
    metadata = shard_format.read_metadata(data_dir)
    targets = metadata["targets"]
    delays = _delays_for(targets, label_delays)
    spec = shard_format.frame_feature_spec(metadata["samples_per_frame"], len(targets))
    spec = {key: spec[key] for key in ("recording_id", "labels", "label_mask")}
    labels = {}
    for path, count in zip(*shard_files(data_dir, split)):
        records = tf.data.TFRecordDataset(path).map(lambda r: tf.io.parse_single_example(r, spec))
        recording = records.batch(count).get_single_element()
        values, mask, _ = process_labels(recording["labels"], recording["label_mask"] > 0, median_width, delays)
        labels[recording["recording_id"][0].numpy().decode()] = (values.numpy(), mask.numpy())
    return labels


def frame_predictions(predict_batch, windows, targets, frame_counts, frames_per_clip):
    """Averages the clip predictions of all windows covering each frame.

    Args:
        predict_batch: `inputs -> {target: (batch, clips)}`.
        windows: an eval-mode dataset of `(inputs, outputs, info)` whose
            `info` holds `recording_id` and `start_frame` (`make_dataset` or
            `make_feature_dataset` with `mode="eval"`).
        targets: target names, the column order of the result.
        frame_counts: `{recording_id: frames}` to predict.
        frames_per_clip: `T`; clip `c` of a window covers frames
            `start + c T .. start + (c + 1) T - 1`.

    Returns:
        `{recording_id: (frames, targets) float32}`; frames no window covers
        are NaN.
    """
    sums = {rid: np.zeros((n, len(targets)), np.float64) for rid, n in frame_counts.items()}
    counts = {rid: np.zeros((n, 1), np.float64) for rid, n in frame_counts.items()}
    for inputs, _, info in windows:
        outputs = predict_batch(inputs)
        clip_values = np.stack([np.asarray(outputs[t], np.float64) for t in targets], axis=-1)
        for row, (rid, start) in enumerate(zip(info["recording_id"].numpy(), info["start_frame"].numpy())):
            rid = rid.decode()
            if rid not in sums:
                continue
            per_frame = np.repeat(clip_values[row], frames_per_clip, axis=0)
            stop = min(int(start) + len(per_frame), len(sums[rid]))
            sums[rid][int(start) : stop] += per_frame[: stop - int(start)]
            counts[rid][int(start) : stop] += 1
    with np.errstate(invalid="ignore"):
        return {rid: (sums[rid] / counts[rid]).astype(np.float32) for rid in sums}


def model_frame_predictions(
    model,
    data_dir,
    split,
    median_width=1,
    label_delays=None,
    features_dir=None,
    batch_size=8,
    stride=None,
):
    """Per-frame predictions and labels of `split` for a raw-input
    `AVEmotionRegressor` (or, with `features_dir`, an `AVFusionRegressor`
    on cached features).

    Returns `{recording_id: (predictions, labels, mask)}`, each `(F,
    targets)`, and the target names.
    """
    from emokeras.data.features import make_feature_dataset

    metadata = shard_format.read_metadata(data_dir)
    targets = metadata["targets"]
    labels = frame_labels(data_dir, split, median_width, label_delays)
    frames_per_clip = getattr(model, "frames_per_clip", None)
    if features_dir is not None:
        frames_per_clip = shard_format.read_metadata_file(f"{features_dir}/features_metadata.json")["frames_per_clip"]
        windows = make_feature_dataset(
            features_dir,
            split=split,
            mode="eval",
            clips=model.clips,
            batch_size=batch_size,
            median_width=median_width,
            label_delays=label_delays,
        )
        names = {tensor.name for tensor in model.inputs}

        def predict(inputs):
            # Feature shards hold both modalities; a unimodal model takes one.
            return model.predict_on_batch({k: v for k, v in inputs.items() if k in names})

    else:
        names = {tensor.name for tensor in model.inputs}
        windows = make_dataset(
            data_dir,
            split=split,
            mode="eval",
            clips=model.clips,
            frames_per_clip=frames_per_clip,
            stride=stride,
            batch_size=batch_size,
            median_width=median_width,
            label_delays=label_delays,
            modalities=tuple(m for m in ("video", "audio") if m in names),
        )
        predict = model.predict_on_batch
    predictions = frame_predictions(
        predict, windows, targets, {rid: len(values) for rid, (values, _) in labels.items()}, frames_per_clip
    )
    return {rid: (predictions[rid], *labels[rid]) for rid in labels}, targets
