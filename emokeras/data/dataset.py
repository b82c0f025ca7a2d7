"""`make_dataset`: prepared shards -> windows for `model.fit`, in-graph."""

import tensorflow as tf

from emokeras.data import shard_format
from emokeras.data.label_processing import clip_targets
from emokeras.data.label_processing import process_labels

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


def has_split(data_dir, split):
    """Whether a prepared folder has finished recordings in `split`."""
    report = shard_format.read_report(data_dir)
    return any(e["status"] == "ok" and e["split"] == split for e in report["recordings"].values())


def check_rates(windows, metadata, data_dir):
    """Refuses windows whose clock is not the prepared data's."""
    found = (metadata["frame_rate"], metadata["sample_rate"])
    if (windows.frame_rate, windows.sample_rate) != found:
        raise ValueError(
            f"{data_dir} was prepared at {found[0]} fps / {found[1]} Hz but the windows are "
            f"{windows.frame_rate} fps / {windows.sample_rate} Hz (the model's rates); prepare the data "
            "again at the model's rates, or use a model built for the data's"
        )


def make_dataset(
    data_dir,
    split="train",
    *,
    windows,
    mode="train",
    batch_size=16,
    seed=0,
    shuffle_buffer=512,
    median_width=1,
    cycle_length=4,
    modalities=("video", "audio"),
):
    """Windows of prepared recordings for the audio-visual model, in-graph.

    Reads the shards of one split (`emokeras prepare`) with a parallel
    interleave over recordings, cuts each recording into the windows of
    `windows` (in training from a random first offset, so windows start at
    different frames every epoch), decodes the JPEG crops, and yields what
    `AVEmotionRegressor` takes: `({"video": uint8 (batch, L*T, S, S, 3),
    "audio": float32 (batch, L*T*samples_per_frame)}, {target: (batch,
    L)})`, plus `{target: (batch, L)}` sample weights (fraction of labelled
    frames per clip) when the data was prepared with missing labels allowed.
    Clip targets are the means of the frames' labels after the optional
    median filter and the annotation delays of `windows`.

    Args:
        data_dir: the folder `emokeras prepare` wrote.
        split: `"train"`, `"dev"` or `"test"`.
        windows: an `emokeras.data.WindowGeometry`: clips, frames per clip,
            stride, last-window rule and label delays (e.g.
            `model.window_geometry()`); its rates must be the data's.
        mode: `"train"` (shuffled, random window offsets, full batches only,
            for `fit`) or `"eval"` (every window once, recordings and windows in
            order, last partial batch kept, and a third element
            `{"recording_id", "start_frame", "start_time"}` per window (time in
            seconds) so predictions can be put back on each recording's
            timeline).
        batch_size: windows per batch.
        seed: seed of the shuffling and window offsets.
        shuffle_buffer: windows in the shuffle buffer (train mode).
        median_width: odd width of the label median filter (1 = none; the
            paper uses 3).
        cycle_length: recordings read in parallel.
        modalities: the inputs to yield, `"video"` and/or `"audio"` (an
            audio-only model need not pay for decoding JPEG frames).

    Returns:
        A `tf.data.Dataset`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}. Received: {mode!r}")
    unknown = set(modalities) - {"video", "audio"}
    if unknown or not modalities:
        raise ValueError(f"modalities must name 'video' and/or 'audio'. Received: {modalities!r}")
    if windows.last_window == "pad":
        raise ValueError("make_dataset cuts whole windows only: last_window must be 'align_end' or 'drop', not 'pad'")
    metadata = shard_format.read_metadata(data_dir)
    check_rates(windows, metadata, data_dir)
    targets = metadata["targets"]
    delays = windows.delays_for(targets)
    window = windows.window_frames
    size = metadata["image_size"]
    spec = shard_format.frame_feature_spec(metadata["samples_per_frame"], len(targets))
    training = mode == "train"
    with_weights = metadata["allow_missing_labels"]

    def windows_of_recording(path, count, random_value):
        frames = tf.data.TFRecordDataset(path).map(lambda record: tf.io.parse_single_example(record, spec))
        # One element holding the whole recording (JPEG strings, not pixels).
        recording = frames.batch(count).get_single_element()
        labels, mask, _ = process_labels(recording["labels"], recording["label_mask"] > 0, median_width, delays)
        offset = windows.training_offset(random_value, count) if training else 0
        starts = windows.starts_in_graph(tf.cast(count, tf.int32), offset)

        def cut(start):
            span = slice(start, start + window)
            clip_labels, clip_weights = clip_targets(labels[span], mask[span], windows.clips)
            element = {
                "jpeg": recording["jpeg"][span],
                "audio": tf.reshape(recording["audio"][span], [windows.window_samples]),
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
            video = shard_format.decode_jpeg_frames(element["jpeg"])
            inputs["video"] = tf.ensure_shape(video, [window, size, size, 3])
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
