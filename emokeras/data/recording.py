import csv
import dataclasses
import math
import os
import pathlib

import numpy as np

from emokeras.data.labels import LabelError
from emokeras.data.labels import labels_on_frames
from emokeras.data.labels import read_arff_labels
from emokeras.data.labels import read_label_csv

MANIFEST_COLUMNS = ("recording_id", "video", "audio", "labels", "split")
SPLITS = ("train", "dev", "test")


@dataclasses.dataclass(frozen=True)
class Recording:
    """One recording to prepare: its media, its labels and its split.

    Exactly one label source is set: `label_csv` (a per-frame CSV with
    `time` and one column per target), `label_arff` (`{target: ARFF file}`,
    RECOLA / AVEC 2016), or `label_values` (`{target: value}`, one value for
    the whole recording, e.g. the paper's fatigue level).

    Args:
        recording_id: a unique name (letters, digits, `_`, `-`, `.`).
        video: the video file.
        audio: the audio file, or `None` for the video's own audio track.
        split: `"train"`, `"dev"` or `"test"`.
        label_csv: per-frame label CSV.
        label_arff: per-target ARFF files.
        label_values: per-target constants.
    """

    recording_id: str
    video: str
    audio: str = None
    split: str = "train"
    label_csv: str = None
    label_arff: dict = None
    label_values: dict = None

    def __post_init__(self):
        if not self.recording_id or not all(c.isalnum() or c in "_-." for c in self.recording_id):
            raise ValueError(
                f"recording_id {self.recording_id!r} may only contain letters, "
                "digits, '_', '-' and '.' (it names files)"
            )
        if self.split not in SPLITS:
            raise ValueError(f"{self.recording_id}: split must be one of {SPLITS}. Received: {self.split!r}")
        sources = [s for s in (self.label_csv, self.label_arff, self.label_values) if s]
        if len(sources) != 1:
            raise ValueError(
                f"{self.recording_id}: give exactly one label source (a label file, "
                "or values in columns named after the targets)"
            )

    @property
    def targets(self):
        if self.label_arff:
            return tuple(self.label_arff)
        if self.label_values:
            return tuple(self.label_values)
        return None  # the CSV's columns

    def frame_labels(self, frame_rate, num_frames=None, targets=None, allow_missing=False):
        """Labels on the frame clock: `({target: (m,)}, mask)` for the `m`
        labelled frames (at most `num_frames` when given)."""
        if self.label_values:
            if num_frames is None:
                raise ValueError("constant labels need num_frames")
            frames = {t: np.full(num_frames, float(v), np.float32) for t, v in self.label_values.items()}
            return frames, np.ones(num_frames, bool)
        if self.label_csv:
            times, values = read_label_csv(self.label_csv, targets, allow_missing)
            source = self.label_csv
        else:
            values = {}
            times = None
            for target, path in self.label_arff.items():
                target_times, values[target] = read_arff_labels(path, allow_missing)
                if times is not None and not np.array_equal(times, target_times):
                    raise LabelError(
                        f"{path}: its frame times differ from the other targets' files of recording {self.recording_id}"
                    )
                times = target_times
            source = ", ".join(os.fspath(p) for p in self.label_arff.values())
        frames, mask = labels_on_frames(times, values, frame_rate, source)
        return {t: v[:num_frames] for t, v in frames.items()}, mask[:num_frames]


def read_manifest(path):
    """Reads a manifest CSV: `recording_id,video,audio,labels,split`, plus
    optional columns named after targets holding one value per recording
    (used when `labels` is empty). Relative paths are relative to the
    manifest's folder.

    Returns:
        A list of `Recording`.
    """
    path = pathlib.Path(path)
    folder = path.parent
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        columns = reader.fieldnames or []
        missing = [c for c in MANIFEST_COLUMNS if c not in columns]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {missing}; a manifest has the columns "
                f"{','.join(MANIFEST_COLUMNS)} (plus optional target columns)"
            )
        value_columns = [c for c in columns if c not in MANIFEST_COLUMNS]
        recordings, seen = [], set()
        for row_number, row in enumerate(reader, start=2):
            where = f"{path}, row {row_number}"
            recording_id = row["recording_id"].strip()
            if recording_id in seen:
                raise ValueError(f"{where}: recording_id {recording_id!r} appears twice")
            seen.add(recording_id)

            def resolve(value):
                value = (value or "").strip()
                return os.fspath(folder / value) if value else None

            values = {}
            for column in value_columns:
                text = (row[column] or "").strip()
                if text:
                    try:
                        values[column] = float(text)
                    except ValueError:
                        raise ValueError(f"{where}: {column}={text!r} is not a number") from None
                    if math.isnan(values[column]):
                        raise ValueError(f"{where}: {column} is NaN")
            try:
                recordings.append(
                    Recording(
                        recording_id=recording_id,
                        video=resolve(row["video"]),
                        audio=resolve(row["audio"]),
                        split=row["split"].strip(),
                        label_csv=resolve(row["labels"]),
                        label_values=values or None,
                    )
                )
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
            if not recordings[-1].video:
                raise ValueError(f"{where}: the video column is empty")
    if not recordings:
        raise ValueError(f"{path} lists no recordings")
    return recordings


def recola_recordings(root):
    """The recordings of a RECOLA / AVEC 2016 tree.

    Layout: `recordings_video/<name>.mp4`, `recordings_audio/<name>.wav`,
    `ratings_gold_standard/{arousal,valence}/<name>.arff` (40 ms frames);
    `<name>` starts with `train_`, `dev_` or `test_`, which gives the split.
    Recordings without both gold-standard files (e.g. RECOLA's unlabelled
    test set) are not listed.
    """
    root = pathlib.Path(root)
    videos = sorted((root / "recordings_video").glob("*.mp4"))
    if not videos:
        raise ValueError(
            f"{root} does not look like RECOLA: no recordings_video/*.mp4 "
            "(expected recordings_video/, recordings_audio/, ratings_gold_standard/)"
        )
    recordings = []
    for video in videos:
        name = video.stem
        split = name.split("_")[0]
        if split not in SPLITS:
            raise ValueError(f"{video}: names must start with train_, dev_ or test_")
        audio = root / "recordings_audio" / f"{name}.wav"
        arff = {t: root / "ratings_gold_standard" / t / f"{name}.arff" for t in ("arousal", "valence")}
        if not all(p.exists() for p in arff.values()):
            continue
        recordings.append(
            Recording(
                recording_id=name,
                video=os.fspath(video),
                audio=os.fspath(audio) if audio.exists() else None,
                split=split,
                label_arff={t: os.fspath(p) for t, p in sorted(arff.items(), reverse=True)},
            )
        )
    return recordings
