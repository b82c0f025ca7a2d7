"""Per-frame labels from CSV files, RECOLA / AVEC ARFF files, or one value
per recording, put on the video frame clock.

Rules (documented for users):
- Label samples are linearly interpolated at the frame times. A frame is
  labelled when its time lies within half a label period of the label
  samples (so 40 ms labels cover 25 fps frames exactly).
- Labels shorter than the media: the recording is cut to the labelled frames
  (the report says how many frames were dropped). Labels longer than the
  media: the extra labels are ignored (also reported).
- NaN (or empty) label values are an error naming the file and row, unless
  missing labels are allowed; then those frames are masked out of the loss
  and the metrics.
"""

import csv
import math
import os

import numpy as np


class LabelError(ValueError):
    """Labels cannot be used; the message names the file and row."""


def read_label_csv(path, targets=None, allow_missing=False):
    """Reads a per-frame label CSV: a `time` column (seconds) and one column
    per target.

    Args:
        path: the CSV file.
        targets: the target columns to read (default: every column but
            `time`).
        allow_missing: read NaN / empty cells as NaN instead of failing.

    Returns:
        `(times, values)`: float64 `(n,)` times and `{target: (n,) values}`.
    """
    path = os.fspath(path)
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        header = reader.fieldnames or []
        if "time" not in header:
            raise LabelError(
                f"{path}: a label CSV needs a `time` column (seconds) and one column "
                f"per target. Found columns: {header}"
            )
        targets = [c for c in header if c != "time"] if targets is None else list(targets)
        absent = [t for t in targets if t not in header]
        if absent:
            raise LabelError(f"{path}: no column for target(s) {absent}; columns: {header}")
        times, values = [], {t: [] for t in targets}
        for row_number, row in enumerate(reader, start=2):  # line 1 is the header
            times.append(_number(row["time"], path, row_number, "time", allow_missing=False))
            for target in targets:
                values[target].append(_number(row[target], path, row_number, target, allow_missing))
    return _checked_times(np.array(times), path), {t: np.array(v) for t, v in values.items()}


def read_arff_labels(path, allow_missing=False):
    """Reads a RECOLA / AVEC 2016 gold-standard ARFF file (instance name,
    `frameTime` in seconds, one value per line, 40 ms apart).

    Returns:
        `(times, values)`: float64 `(n,)` arrays.
    """
    path = os.fspath(path)
    attributes, times, values = [], [], []
    in_data = False
    with open(path) as file:
        for line_number, line in enumerate(file, start=1):
            line = line.strip()
            if not line or line.startswith("%"):
                continue
            lowered = line.lower()
            if not in_data:
                if lowered.startswith("@attribute"):
                    attributes.append(line.split()[1].strip("'\""))
                elif lowered.startswith("@data"):
                    in_data = True
                    if "frameTime" not in attributes or len(attributes) < 3:
                        raise LabelError(f"{path}: expected attributes (name, frameTime, value); found {attributes}")
                continue
            fields = [field.strip().strip("'\"") for field in line.split(",")]
            if len(fields) != len(attributes):
                raise LabelError(
                    f"{path}, line {line_number}: {len(fields)} fields, expected "
                    f"{len(attributes)} ({', '.join(attributes)})"
                )
            times.append(_number(fields[attributes.index("frameTime")], path, line_number, "frameTime", False))
            values.append(_number(fields[-1], path, line_number, attributes[-1], allow_missing))
    if not in_data:
        raise LabelError(f"{path}: no @data section; is this an ARFF file?")
    return _checked_times(np.array(times), path), np.array(values)


def _number(text, path, row, column, allow_missing):
    try:
        value = float(text) if str(text).strip() != "" else math.nan
    except ValueError:
        raise LabelError(f"{path}, row {row}: {column}={text!r} is not a number") from None
    if math.isnan(value) and not allow_missing:
        raise LabelError(
            f"{path}, row {row}: {column} is missing (NaN or empty). Fix the file, "
            "or allow missing labels (`--allow-missing-labels`) to mask such frames "
            "out of training and evaluation."
        )
    return value


def _checked_times(times, path):
    if len(times) == 0:
        raise LabelError(f"{path} has no label rows")
    if len(times) > 1 and not np.all(np.diff(times) > 0):
        row = int(np.argmax(np.diff(times) <= 0)) + 3
        raise LabelError(f"{path}, row {row}: times must increase strictly")
    return times


def labels_on_frames(times, values, frame_rate, source):
    """Interpolates label samples at the frame times `k / frame_rate`.

    Args:
        times: `(n,)` label times in seconds, increasing.
        values: `{target: (n,)}` label values (NaN = missing).
        frame_rate: video frames per second.
        source: the label file(s), for messages.

    Returns:
        `(frames, mask)`: `{target: (m,) float32}` for the `m` labelled
        frames from time zero, and a boolean `(m,)` mask of frames whose
        labels are all present.

    Raises:
        LabelError: the labels start later than half a period after time
            zero (no label for the first frames).
    """
    period = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / float(frame_rate)
    if times[0] > period / 2 + 1e-9:
        raise LabelError(
            f"{source}: labels start at {times[0]:.3f} s, but the media starts at "
            "0 s; give labels from the start of the recording."
        )
    count = int(math.floor((times[-1] + period / 2) * float(frame_rate) + 1e-9)) + 1
    frame_times = np.arange(count) / float(frame_rate)
    frames = {}
    mask = np.ones(count, bool)
    for target, series in values.items():
        present = ~np.isnan(series)
        interpolated = (
            np.interp(frame_times, times[present], series[present]) if present.any() else np.full(count, np.nan)
        )
        # A frame is missing if its nearest label sample is missing.
        nearest = np.clip(np.searchsorted(times, frame_times - period / 2), 0, len(times) - 1)
        interpolated[~present[nearest]] = np.nan
        mask &= ~np.isnan(interpolated)
        frames[target] = interpolated.astype(np.float32)
    return frames, mask
