"""The TFRecord layout of prepared recordings, written once here and read
in-graph by `make_dataset`.

One file per recording, `<out>/shards/<split>/<recording_id>.tfrecord`, one
`tf.train.Example` per video frame, in time order:
- `recording_id` (bytes), `frame_index` (int64, frame `k` is the time
  `k / frame_rate`);
- `jpeg` (bytes): the face crop, `image_size` x `image_size` RGB (empty
  for an audio-only recording);
- `audio` (float x `sample_rate / frame_rate`): the samples of that frame's
  time span, 16 kHz mono by default (zeros for a recording without
  audio);
- `labels` (float x number of targets) and `label_mask` (int64 x number of
  targets, 1 = present);
- `face` (int64): 1 when a face is on the frame (found by the detector,
  said by a face-marks file, or taken on trust when no detector ran), 0
  when not (and for an audio-only recording); shards written before it
  read as 1.
`<out>/metadata.json` holds what is shared (rates, image size, targets, their
ranges, the evaluation unit) and `<out>/report.json` what happened to every
recording (with the modalities it has, so a model never reads a modality a
recording lacks).
"""

import json
import pathlib

METADATA_FILE = "metadata.json"
REPORT_FILE = "report.json"
# Quality of the stored face crops, and of the crops a client sends as JPEG.
JPEG_QUALITY = 90
# What metadata.json says when it does not say it.
METADATA_DEFAULTS = {"target_ranges": None, "unit": "frame", "scoring": "all"}


def shard_path(out_dir, split, recording_id):
    return pathlib.Path(out_dir) / "shards" / split / f"{recording_id}.tfrecord"


def read_metadata(data_dir):
    return read_metadata_file(pathlib.Path(data_dir) / METADATA_FILE)


def read_metadata_file(path):
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: {path.parent} was not written by `emokeras prepare` (or `emokeras extract-features`)"
        )
    metadata = json.loads(path.read_text())
    # Folders prepared before corpora had units and ranges.
    for key, value in METADATA_DEFAULTS.items():
        metadata.setdefault(key, value)
    return metadata


def report_file(shard=None):
    """The report's file name: `report.json`, or for one of N machines
    preparing a corpus together (`shard=(i, n)`, 1-based)
    `report.shard-<i>-of-<n>.json`."""
    return REPORT_FILE if shard is None else f"report.shard-{shard[0]}-of-{shard[1]}.json"


def read_report(data_dir, shard=None):
    """The report of a prepared folder (empty if none yet): every report in
    it merged (`report.json` and the per-shard reports of a corpus prepared
    on several machines), or with `shard=(i, n)` that shard's own."""
    data_dir = pathlib.Path(data_dir)
    if shard is not None:
        paths = [data_dir / report_file(shard)]
    else:
        paths = [data_dir / REPORT_FILE] + sorted(data_dir.glob("report.shard-*-of-*.json"))
    merged = {"recordings": {}, "failed": []}
    for path in paths:
        if path.exists():
            report = json.loads(path.read_text())
            merged.update({key: value for key, value in report.items() if key not in merged})
            merged["recordings"].update(report["recordings"])
            merged["failed"] = sorted(set(merged["failed"]) | set(report["failed"]))
    return merged


def frame_example(recording_id, frame_index, jpeg, audio, labels, label_mask, face=1):
    import tensorflow as tf

    feature = tf.train.Feature
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "recording_id": feature(bytes_list=tf.train.BytesList(value=[recording_id.encode()])),
                "frame_index": feature(int64_list=tf.train.Int64List(value=[frame_index])),
                "jpeg": feature(bytes_list=tf.train.BytesList(value=[jpeg])),
                "audio": feature(float_list=tf.train.FloatList(value=audio)),
                "labels": feature(float_list=tf.train.FloatList(value=labels)),
                "label_mask": feature(int64_list=tf.train.Int64List(value=label_mask)),
                "face": feature(int64_list=tf.train.Int64List(value=[int(face)])),
            }
        )
    ).SerializeToString(deterministic=True)  # map fields in key order: byte-identical shards


def frame_feature_spec(samples_per_frame, num_targets):
    import tensorflow as tf

    return {
        "recording_id": tf.io.FixedLenFeature([], tf.string),
        "frame_index": tf.io.FixedLenFeature([], tf.int64),
        "jpeg": tf.io.FixedLenFeature([], tf.string),
        "audio": tf.io.FixedLenFeature([samples_per_frame], tf.float32),
        "labels": tf.io.FixedLenFeature([num_targets], tf.float32),
        "label_mask": tf.io.FixedLenFeature([num_targets], tf.int64),
        # Shards written before the face marks: every frame has its face.
        "face": tf.io.FixedLenFeature([], tf.int64, default_value=1),
    }


def encode_jpeg(rgb, quality=JPEG_QUALITY):
    """An RGB uint8 image as JPEG bytes."""
    import cv2

    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"could not encode a {rgb.shape} image as JPEG")
    return jpeg.tobytes()


def decode_jpeg_frames(jpegs):
    """`(frames,)` JPEG strings -> `(frames, height, width, 3)` uint8, in
    TensorFlow ops (frames decoded in parallel inside a graph)."""
    import tensorflow as tf

    return tf.map_fn(
        lambda jpeg: tf.io.decode_jpeg(jpeg, channels=3),
        jpegs,
        fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8),
        parallel_iterations=16,
    )
