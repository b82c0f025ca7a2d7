"""`make_dataset`: prepared shards -> windows for `model.fit`, in-graph."""

import tensorflow as tf

from emokeras.data import shard_format
from emokeras.data.label_processing import clip_targets
from emokeras.data.label_processing import process_labels
from emokeras.data.modality_marks import clip_presence_in_graph
from emokeras.data.modality_marks import with_modality_dropout

MODES = ("train", "eval")


def shard_files(data_dir, split, modalities=None):
    """The finished shards of a split and their frame counts, from the
    report `emokeras prepare` keeps; with `modalities`, a recording that
    lacks one of them is refused."""
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
    for entry in entries:
        check_modalities(entry, modalities or (), data_dir)
    files = [str(shard_format.shard_path(data_dir, split, e["recording_id"])) for e in entries]
    return files, [e["frames"] for e in entries]


def check_modalities(entry, modalities, data_dir):
    """Refuses a prepared recording without a modality the model reads."""
    # Folders prepared before recordings could lack one had both.
    present = entry.get("modalities", ["video", "audio"])
    absent = [m for m in modalities if m not in present]
    if absent:
        unimodal = "audio_only" if "audio" in present else "visual_only"
        raise ValueError(
            f"recording {entry['recording_id']!r} in {data_dir} has no {' or '.join(absent)} "
            f"(it has {', '.join(present) or 'nothing'}), but the model reads {' and '.join(modalities)}. "
            f"Train the {unimodal} model on this data (`--set fusion={unimodal}`), or prepare the data "
            "without this recording"
        )


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
    presence_marks=False,
    modality_dropout=0.0,
    reshuffle_each_iteration=True,
):
    """Windows of prepared recordings for the audio-visual model, in-graph.

    Reads the shards of one split (`emokeras prepare`) with a parallel
    interleave over recordings, cuts each recording into the windows of
    `windows` (in training from a random first offset, so windows start at
    different frames every epoch), decodes the JPEG crops, and yields what
    `AVEmotionRegressor` takes: `({"video": uint8 (batch, L*T, S, S, 3),
    "audio": float32 (batch, L*T*samples_per_frame), "valid_frames": int32
    (batch,)}, {target: (batch, L)}, {target: (batch, L)})`: inputs, clip
    targets and clip sample weights. A recording (or a padded tail) shorter
    than a window fills one window: `valid_frames` real frames, then the last
    frame repeated and silence. Clip targets are the means of the labelled
    real frames after the optional median filter and the annotation delays
    of `windows`; a clip's weight is its share of labelled real frames (0 for
    a clip of padding, below 1 for a partly filled or partly labelled clip).

    Args:
        data_dir: the folder `emokeras prepare` wrote.
        split: `"train"`, `"dev"` or `"test"`.
        windows: an `emokeras.data.WindowGeometry`: clips, frames per clip,
            stride, last-window rule and label delays (e.g.
            `model.window_geometry()`); its rates must be the data's.
        mode: `"train"` (shuffled, random window offsets, full batches only,
            for `fit`) or `"eval"` (every window once, recordings and windows in
            order, last partial batch kept, and as third element
            `{"recording_id", "start_frame", "start_time", "weights",
            "presence"}` per
            window (time in seconds) so predictions can be put back on each
            recording's timeline).
        batch_size: windows per batch.
        seed: seed of the shuffling and window offsets.
        shuffle_buffer: windows in the shuffle buffer (train mode).
        median_width: odd width of the label median filter (1 = none; the
            paper uses 3).
        cycle_length: recordings read in parallel.
        modalities: the inputs to yield, `"video"` and/or `"audio"` (an
            audio-only model need not pay for decoding JPEG frames).
        presence_marks: also yield `"visual_present"` and `"audio_present"`,
            int32 `(batch, L)`: whether each clip shows the face and holds
            a voice (`emokeras.data.modality_marks`), for a model built
            with `presence_marks`. Evaluation reads them in its info
            (`"presence"`) either way.
        modality_dropout: in `"train"` mode with `presence_marks`, the
            share of clips whose face or voice mark is turned off at random
            (`modality_marks.with_modality_dropout`), to train such a model
            for the clips where one is really missing.
        reshuffle_each_iteration: another order and other window offsets
            each time the dataset is iterated (each epoch of a `fit` over
            it); `False` for one fixed order given the seed (the trainer
            builds each epoch with its own seed, so that an epoch's data
            does not depend on how often the dataset was iterated before).

    Returns:
        A `tf.data.Dataset`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}. Received: {mode!r}")
    unknown = set(modalities) - {"video", "audio"}
    if unknown or not modalities:
        raise ValueError(f"modalities must name 'video' and/or 'audio'. Received: {modalities!r}")
    metadata = shard_format.read_metadata(data_dir)
    check_rates(windows, metadata, data_dir)
    targets = metadata["targets"]
    delays = windows.delays_for(targets)
    window = windows.window_frames
    size = metadata["image_size"]
    spec = shard_format.frame_feature_spec(metadata["samples_per_frame"], len(targets))
    training = mode == "train"

    def windows_of_recording(path, count, random_value):
        frames = tf.data.TFRecordDataset(path).map(lambda record: tf.io.parse_single_example(record, spec))
        # One element holding the whole recording (JPEG strings, not pixels).
        recording = frames.batch(count).get_single_element()
        labels, mask, _ = process_labels(recording["labels"], recording["label_mask"] > 0, median_width, delays)
        offset = windows.training_offset(random_value, count) if training else 0
        frames = tf.cast(count, tf.int32)
        starts = windows.starts_in_graph(frames, offset)

        def cut(start):
            # A window past the end (a short recording, a padded tail) holds
            # `valid` real frames, then the last frame again and silence; the
            # model masks its empty clips and the loss weighs each clip by
            # its labelled real frames (none in padding).
            valid = tf.minimum(window, frames - start)
            padding = window - valid
            jpeg = recording["jpeg"][start : start + valid]
            labelled = slice(start, start + window)
            unlabelled = window - tf.shape(labels[labelled])[0]
            clip_labels, clip_weights = clip_targets(
                tf.pad(labels[labelled], [[0, unlabelled], [0, 0]]),
                tf.pad(mask[labelled], [[0, unlabelled], [0, 0]]),
                windows.clips,
            )
            audio = tf.pad(recording["audio"][start : start + valid], [[0, padding], [0, 0]])
            faces = tf.pad(recording["face"][start : start + valid], [[0, padding]])
            visual_present, audio_present = clip_presence_in_graph(faces, audio, windows.frames_per_clip, valid)
            return {
                "jpeg": tf.concat([jpeg, tf.repeat(jpeg[-1:], padding)], 0),
                "audio": tf.reshape(audio, [windows.window_samples]),
                "valid_frames": valid,
                "labels": clip_labels,
                "weights": clip_weights,
                "recording_id": recording["recording_id"][0],
                "start_frame": start,
                "visual_present": visual_present,
                "audio_present": audio_present,
            }

        return tf.data.Dataset.from_tensor_slices(starts).map(cut)

    paths, counts = shard_files(data_dir, split, modalities)
    files = tf.data.Dataset.from_tensor_slices((paths, tf.constant(counts, tf.int64)))
    if training:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=reshuffle_each_iteration)
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=reshuffle_each_iteration)
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
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=reshuffle_each_iteration)

    def to_model_inputs(element):
        inputs = {"valid_frames": element["valid_frames"]}
        if "video" in modalities:
            video = shard_format.decode_jpeg_frames(element["jpeg"])
            inputs["video"] = tf.ensure_shape(video, [window, size, size, 3])
        if "audio" in modalities:
            inputs["audio"] = element["audio"]
        if presence_marks:
            inputs.update({name: element[name] for name in ("visual_present", "audio_present")})
        outputs = {t: element["labels"][:, j] for j, t in enumerate(targets)}
        weights = {t: element["weights"][:, j] for j, t in enumerate(targets)}
        if mode == "eval":
            info = {
                "recording_id": element["recording_id"],
                "start_frame": element["start_frame"],
                "start_time": tf.cast(element["start_frame"], tf.float64) / metadata["frame_rate"],
                "weights": weights,
                "presence": {name: element[name] for name in ("visual_present", "audio_present")},
            }
            return inputs, outputs, info
        return inputs, outputs, weights

    dataset = dataset.map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if training and modality_dropout:
        dataset = with_modality_dropout(dataset, modality_dropout, seed, reshuffle_each_iteration)
    dataset = dataset.batch(batch_size, drop_remainder=training)
    return dataset.prefetch(tf.data.AUTOTUNE)
