"""SEWA as distributed for AVEC 2019 CES (and AVEC 2018): arousal, valence
and liking every 0.1 s, official partitions from the file names.

Layout rules (the AVEC 2018 / 2019 CES baseline scripts; see `TREE`):
- `labels/<Part>_<NN>.csv`, `;`-separated rows `name;timestamp;arousal;
  valence;liking`, one every 0.1 s. AVEC 2019 files start with that header
  line (columns are then found by name); AVEC 2018 files have no header
  (columns by position). Values in [-1, 1].
- `video/<name>.avi` is required for every label file (a missing one is an
  error naming it); `audio/<name>.wav` is the audio when present, else the
  video's own track.
- Split from the name: `Train_*` -> train, `Devel_*` -> dev, `Test_*` ->
  test. Test labels are not distributed, so usually there are no test
  recordings: recordings are the label files.
"""

import math
import os
import pathlib

import numpy as np

from emokeras.data.corpora.corpus import Corpus
from emokeras.data.corpora.naming import layout_error
from emokeras.data.corpora.naming import unique_recording_id
from emokeras.data.labels import LabelError
from emokeras.data.recording import Recording

NAME = "sewa"
TREE = """\
ROOT/
  audio/{Train,Devel,Test}_<Culture>_<NN>.wav
  video/{Train,Devel,Test}_<Culture>_<NN>.avi
  labels/{Train,Devel}_<Culture>_<NN>.csv   (test labels are not distributed)
    name;timestamp;arousal;valence;liking   (AVEC 2019 header; AVEC 2018 files have none)
    'Train_DE_01';0.000000;0.012;-0.034;0.101   (a row every 0.1 s, values in [-1, 1])"""

SPLITS = {"Train": "train", "Devel": "dev", "Test": "test"}
TARGETS = ("arousal", "valence", "liking")
COLUMNS = ("name", "timestamp", *TARGETS)
SCALE = (-1.0, 1.0)
# Rounding in the gold-standard files may overshoot the scale a hair.
TOLERANCE = 1e-6


def read(root, seed=0):
    """Reads a SEWA (AVEC 2019 / 2018 CES) tree (see `TREE`).

    Returns:
        A `Corpus` with arousal, valence and liking every 0.1 s, in [-1, 1].

    Raises:
        ValueError: the root lacks the layout, a label file's name has no
            partition prefix, or a labelled video is missing.
        LabelError: a malformed label file (file and row named).
    """
    del seed  # official splits
    root = pathlib.Path(root)
    label_files = sorted((root / "labels").glob("*.csv"))
    if not label_files:
        raise layout_error("SEWA (AVEC CES)", root, "no labels/*.csv", TREE)
    if not (root / "video").is_dir():
        raise layout_error("SEWA (AVEC CES)", root, "no video/ folder", TREE)

    recordings, taken, missing = [], set(), []
    for path in label_files:
        prefix = path.stem.split("_")[0]
        if prefix not in SPLITS:
            raise ValueError(f"{path}: label file names start with {', '.join(p + '_' for p in SPLITS)}; rename it")
        video = root / "video" / f"{path.stem}.avi"
        if not video.is_file():
            missing.append(video.name)
            continue
        audio = root / "audio" / f"{path.stem}.wav"
        recordings.append(
            Recording(
                recording_id=unique_recording_id(path.stem, taken),
                video=os.fspath(video),
                audio=os.fspath(audio) if audio.is_file() else None,
                split=SPLITS[prefix],
                label_series=_read_labels(path),
            )
        )
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(f"{root / 'video'}: {len(missing)} labelled video(s) are missing ({shown}). Add them.")
    counts = {s: sum(r.split == s for r in recordings) for s in SPLITS.values()}
    return Corpus(
        name=NAME,
        recordings=tuple(sorted(recordings, key=lambda r: r.recording_id)),
        target_ranges={t: SCALE for t in TARGETS},
        unit="frame",
        split_rule=(
            "official AVEC CES partition from the file name: Train_* -> train, Devel_* -> dev, Test_* -> test "
            f"({counts['train']} / {counts['dev']} / {counts['test']} labelled recordings; "
            "test labels are not distributed)"
        ),
    )


def _read_labels(path):
    """`(times, {target: values})` of one label file."""
    with open(path) as file:
        lines = file.read().splitlines()
    if not lines:
        raise LabelError(f"{path} is empty")
    separator = ";" if ";" in lines[0] else ","
    first = [_unquote(f).lower() for f in lines[0].split(separator)]
    if first[0] == "name":
        absent = [c for c in COLUMNS[1:] if c not in first]
        if absent:
            raise LabelError(f"{path}, row 1: missing column(s) {absent}; header: {lines[0]!r}")
        positions = [first.index(c) for c in COLUMNS[1:]]
        start = 1
    else:
        positions, start = list(range(1, len(COLUMNS))), 0
    times, values = [], []
    for row, line in enumerate(lines[start:], start=start + 1):
        if not line.strip():
            continue
        fields = line.split(separator)
        try:
            numbers = [float(fields[p]) for p in positions]
        except (IndexError, ValueError):
            raise LabelError(
                f"{path}, row {row}: expected {separator.join(COLUMNS)} with numbers; found {line!r}"
            ) from None
        if any(math.isnan(n) for n in numbers):
            raise LabelError(f"{path}, row {row}: NaN in {line!r}")
        if times and numbers[0] <= times[-1]:
            raise LabelError(f"{path}, row {row}: timestamp {numbers[0]} does not increase")
        if not all(SCALE[0] - TOLERANCE <= n <= SCALE[1] + TOLERANCE for n in numbers[1:]):
            raise LabelError(f"{path}, row {row}: a value of {line!r} is outside [-1, 1]")
        times.append(numbers[0])
        values.append(numbers[1:])
    if not times:
        raise LabelError(f"{path} has no label rows")
    values = np.array(values)
    return np.array(times), {t: values[:, i] for i, t in enumerate(TARGETS)}


def _unquote(text):
    return text.strip().strip("'\"")
