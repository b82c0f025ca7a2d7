"""`make_dataset`: prepared shards -> windows for `model.fit`, in-graph."""

import tensorflow as tf

from emokeras.data import shard_format
from emokeras.data.label_processing import clip_targets
from emokeras.data.label_processing import process_labels
from emokeras.data.window import LAST_WINDOW_RULES

MODES = ("train", "eval")


def shard_files(data_dir, split):
    """The finished shards of a split and their frame counts, from the
    report `emokeras prepare` keeps."""
    report = shard_format.read_report(data_dir)
    entries = sorted(
        (entry for entry in report["recordings"].values() if entry["status"] == "ok" and entry["split"] == split),
        key=lambda entry: entry["recording_id"],
    )
    if not entries:
        raise FileNotFoundError(
            f"No prepared recordings for split {split!r} in {data_dir}: run "
            "`emokeras prepare` first, or check the split name (train, dev, test)"
        )
    files = [str(shard_format.shard_path(data_dir, split, e["recording_id"])) for e in entries]
    return files, [e["frames"] for e in entries]


def window_starts(num_frames, window_frames, stride, last_window="align_end", offset=0):
    """`emokeras.data.plan_windows` in TensorFlow ops (same rule), with an
    optional first-window `offset` for random sampling in training."""
    last = num_frames - window_frames
    # An empty range (not an error) when the recording is shorter than a window.
    starts = tf.range(offset, tf.maximum(last + 1, offset), stride)
    if last_window == "align_end":
        needs_end = tf.logical_and(last >= offset, tf.logical_not(tf.reduce_any(starts == last)))
        starts = tf.cond(needs_end, lambda: tf.concat([starts, [last]], 0), lambda: starts)
    return starts


def make_dataset(
    data_dir,
    split="train",
    mode="train",
    clips=8,
    frames_per_clip=16,
    stride=None,
    last_window="align_end",
    batch_size=16,
    seed=0,
    shuffle_buffer=512,
    median_width=1,
    label_delays=None,
    cycle_length=4,
    modalities=("video", "audio"),
):
    """Windows of prepared recordings for the audio-visual model, in-graph.

    Reads the shards of one split (`emokeras prepare`) with a parallel
    interleave over recordings, cuts each recording into windows of
    `clips * frames_per_clip` frames (the `plan_windows` rule; in training
    with a random first offset, so windows start at different frames every
    epoch), decodes the JPEG crops, and yields what `AVEmotionRegressor`
    takes: `({"video": uint8 (batch, L*T, S, S, 3), "audio": float32
    (batch, L*T*samples_per_frame)}, {target: (batch, L)})`, plus
    `{target: (batch, L)}` sample weights (fraction of labelled frames per
    clip) when the data was prepared with missing labels allowed. Clip
    targets are the means of the frames' labels after the optional median
    filter and annotation delay.

    Args:
        data_dir: the folder `emokeras prepare` wrote.
        split: `"train"`, `"dev"` or `"test"`.
        mode: `"train"` (shuffled, random window offsets, full batches only,
            for `fit`) or `"eval"` (every window once, recordings and windows in
            order, last partial batch kept, and a third element
            `{"recording_id", "start_frame", "start_time"}` per window (time in
            seconds) so predictions can be put back on each recording's
            timeline).
        clips: clips per window, `L`.
        frames_per_clip: frames per clip, `T`.
        stride: frames between window starts (default: one clip).
        last_window: `"align_end"` or `"drop"` (see `plan_windows`).
        batch_size: windows per batch.
        seed: seed of the shuffling and window offsets.
        shuffle_buffer: windows in the shuffle buffer (train mode).
        median_width: odd width of the label median filter (1 = none; the
            paper uses 3).
        label_delays: annotation delay in frames, one int for all targets or
            `{target: frames}` (paper: valence 58, arousal 68 at 25 fps).
        cycle_length: recordings read in parallel.
        modalities: the inputs to yield, `"video"` and/or `"audio"` (an
            audio-only model need not pay for decoding JPEG frames).

    Returns:
        A `tf.data.Dataset`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}. Received: {mode!r}")
    if last_window not in LAST_WINDOW_RULES:
        raise ValueError(f"last_window must be one of {LAST_WINDOW_RULES}. Received: {last_window!r}")
    unknown = set(modalities) - {"video", "audio"}
    if unknown or not modalities:
        raise ValueError(f"modalities must name 'video' and/or 'audio'. Received: {modalities!r}")
    metadata = shard_format.read_metadata(data_dir)
    targets = metadata["targets"]
    delays = _delays_for(targets, label_delays)
    window = clips * frames_per_clip
    stride = stride or frames_per_clip
    size = metadata["image_size"]
    spec = shard_format.frame_feature_spec(metadata["samples_per_frame"], len(targets))
    training = mode == "train"
    with_weights = metadata["allow_missing_labels"]

    def windows_of_recording(path, count, random_value):
        frames = tf.data.TFRecordDataset(path).map(lambda record: tf.io.parse_single_example(record, spec))
        # One element holding the whole recording (JPEG strings, not pixels).
        recording = frames.batch(count).get_single_element()
        labels, mask, count = process_labels(recording["labels"], recording["label_mask"] > 0, median_width, delays)
        offset = tf.cast(random_value % stride, tf.int32) if training else 0
        starts = window_starts(count, window, stride, last_window, offset)

        def cut(start):
            span = slice(start, start + window)
            clip_labels, clip_weights = clip_targets(labels[span], mask[span], clips)
            element = {
                "jpeg": recording["jpeg"][span],
                "audio": tf.reshape(recording["audio"][span], [window * metadata["samples_per_frame"]]),
                "labels": clip_labels,
                "weights": clip_weights,
                "recording_id": recording["recording_id"][0],
                "start_frame": start,
            }
            return element

        return tf.data.Dataset.from_tensor_slices(starts).map(cut)

    paths, counts = shard_files(data_dir, split)
    files = tf.data.Dataset.from_tensor_slices((paths, tf.constant(counts, tf.int64)))
    if training:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    dataset = (
        tf.data.Dataset.zip(files, randoms)
        .map(lambda file, random_value: (file[0], file[1], random_value))
        .interleave(
            windows_of_recording,
            # Evaluation reads one recording after the other, in order.
            cycle_length=cycle_length if training else 1,
            num_parallel_calls=tf.data.AUTOTUNE if training else None,
        )
    )
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    def to_model_inputs(element):
        inputs = {}
        if "video" in modalities:
            inputs["video"] = tf.map_fn(
                lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3),
                element["jpeg"],
                fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8),
            )
            inputs["video"] = tf.ensure_shape(inputs["video"], [window, size, size, 3])
        if "audio" in modalities:
            inputs["audio"] = element["audio"]
        outputs = {t: element["labels"][:, j] for j, t in enumerate(targets)}
        if mode == "eval":
            info = {
                "recording_id": element["recording_id"],
                "start_frame": element["start_frame"],
                "start_time": tf.cast(element["start_frame"], tf.float64) / metadata["frame_rate"],
            }
            return inputs, outputs, info
        if with_weights:
            return inputs, outputs, {t: element["weights"][:, j] for j, t in enumerate(targets)}
        return inputs, outputs

    dataset = dataset.map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.batch(batch_size, drop_remainder=training)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _delays_for(targets, label_delays):
    if label_delays is None:
        return [0] * len(targets)
    if isinstance(label_delays, int):
        return [label_delays] * len(targets)
    unknown = set(label_delays) - set(targets)
    if unknown:
        raise ValueError(f"label_delays names unknown targets {sorted(unknown)}; targets: {targets}")
    return [int(label_delays.get(t, 0)) for t in targets]
