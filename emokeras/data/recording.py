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
# Optional manifest columns that are not targets.
MANIFEST_OPTIONAL_COLUMNS = ("video_frame_rate", "face_side", "group", "face_marks")
SPLITS = ("train", "dev", "test")


@dataclasses.dataclass(frozen=True)
class Recording:
    """One recording to prepare: its media, its labels and its split.

    Exactly one label source is set: `label_csv` (a per-frame CSV with
    `time` and one column per target), `label_arff` (`{target: ARFF file}`,
    RECOLA / AVEC 2016), `label_series` (label samples a corpus reader has
    read: `(times, {target: values})`, NaN = unlabelled), or `label_values`
    (`{target: value}`, one value for the whole recording: an utterance's
    rating, the paper's fatigue level).

    One modality is enough: `video` may be `None` (audio only, e.g.
    MSP-Podcast; the frame clock then runs over the audio), and a recording
    has no audio when `audio` is `None` and `video` is a folder of images.

    Args:
        recording_id: a unique name (letters, digits, `_`, `-`, `.`).
        video: the video file, a folder of image frames (an image sequence,
            with `video_frame_rate`), or `None` for an audio-only recording.
        audio: the audio file, or `None` for the video's own audio track.
        split: `"train"`, `"dev"` or `"test"`.
        label_csv: per-frame label CSV.
        label_arff: per-target ARFF files.
        label_values: per-target constants.
        label_series: `(times, {target: values})`: label times in seconds,
            or `None` when there is one label row per frame of the source
            video (Aff-Wild2: the times then come from the video's frame
            rate).
        video_frame_rate: frames per second of an image-sequence folder.
        face_side: `None`, `"left"` or `"right"`: the face to crop when two
            people share the frame (Aff-Wild2's `_left` / `_right`).
        group: what the recording belongs to for per-group scores (e.g.
            OMG-Emotion's source video of an utterance).
        face_marks: a CSV `time,face` (1 = a face is on the frame, 0 = not,
            one row per frame or at any rate) for videos whose faces were
            found before (cropped-aligned frames, or a generator that knows
            where it hid the face): it says where the face is instead of the
            detector.
    """

    recording_id: str
    video: str = None
    audio: str = None
    split: str = "train"
    label_csv: str = None
    label_arff: dict = None
    label_values: dict = None
    label_series: tuple = None
    video_frame_rate: float = None
    face_side: str = None
    group: str = None
    face_marks: str = None

    def __post_init__(self):
        if not self.recording_id or not all(c.isalnum() or c in "_-." for c in self.recording_id):
            raise ValueError(
                f"recording_id {self.recording_id!r} may only contain letters, "
                "digits, '_', '-' and '.' (it names files)"
            )
        if self.split not in SPLITS:
            raise ValueError(f"{self.recording_id}: split must be one of {SPLITS}. Received: {self.split!r}")
        sources = [s for s in (self.label_csv, self.label_arff, self.label_values, self.label_series) if s]
        if len(sources) != 1:
            raise ValueError(
                f"{self.recording_id}: give exactly one label source (a label file, "
                "or values in columns named after the targets)"
            )
        if not self.video and not self.audio:
            raise ValueError(f"{self.recording_id}: give a video, an audio file, or both")
        if self.face_side not in (None, "left", "right"):
            raise ValueError(
                f"{self.recording_id}: face_side must be None, 'left' or 'right'. Received: {self.face_side!r}"
            )
        if self.is_image_sequence and not self.video_frame_rate:
            raise ValueError(
                f"{self.recording_id}: {self.video} is a folder of images; give its frame rate (video_frame_rate)"
            )

    @property
    def is_image_sequence(self):
        return bool(self.video) and os.path.isdir(self.video)

    @property
    def audio_source(self):
        """Where the audio is: the audio file, the video's own track, or
        `None` (an image sequence without an audio file)."""
        if self.audio:
            return self.audio
        return None if self.is_image_sequence else self.video

    @property
    def modalities(self):
        """What the recording offers: `("video", "audio")`, `("audio",)` or
        `("video",)` (a video file without an audio track is found out when
        it is decoded)."""
        return tuple(m for m, present in (("video", self.video), ("audio", self.audio_source)) if present)

    @property
    def targets(self):
        if self.label_arff:
            return tuple(self.label_arff)
        if self.label_values:
            return tuple(self.label_values)
        if self.label_series:
            return tuple(self.label_series[1])
        return None  # the CSV's columns

    def frame_face_marks(self, frame_rate):
        """`face_marks` on the frame clock: `(frames,)` bool, a face on the
        frame when the interpolated mark is at least 0.5."""
        times, values = read_label_csv(self.face_marks, ["face"], allow_missing=False)
        frames, _ = labels_on_frames(times, values, frame_rate, self.face_marks)
        return frames["face"] >= 0.5

    def frame_labels(
        self,
        frame_rate,
        num_frames=None,
        targets=None,
        allow_missing=False,
        source_frame_times=None,
        with_times=False,
    ):
        """Labels on the frame clock: `({target: (m,)}, mask)` for the `m`
        labelled frames (at most `num_frames` when given).
        `source_frame_times` are the source video's frame times, for labels
        given per source frame (`media.video_frame_times`). With
        `with_times`, also `(first, last)`: the times of the first and last
        label samples (seconds), so a caller can say what was cut."""
        if self.label_values:
            if num_frames is None:
                raise ValueError("constant labels need num_frames")
            frames = {t: np.full(num_frames, float(v), np.float32) for t, v in self.label_values.items()}
            return frames, np.ones(num_frames, bool)
        if self.label_csv:
            times, values = read_label_csv(self.label_csv, targets, allow_missing)
            source = self.label_csv
        elif self.label_series:
            times, values = self.label_series
            source = f"the labels of {self.recording_id}"
            if times is None:
                times = _per_frame_times(source_frame_times, len(next(iter(values.values()))), source)
            values = {t: np.asarray(v, np.float64) for t, v in values.items()}
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
        frames, mask = {t: v[:num_frames] for t, v in frames.items()}, mask[:num_frames]
        return (frames, mask, (float(times[0]), float(times[-1]))) if with_times else (frames, mask)


def _per_frame_times(frame_times, rows, source):
    """The times of `rows` label rows given one per source video frame: the
    frames' own times (the first from zero, as the decoder shows it); rows
    past the last frame continue at the median frame period (they are
    dropped with the media's end anyway)."""
    if frame_times is None or len(frame_times) == 0:
        raise LabelError(f"{source} are one row per video frame, but the video's frame times are unknown")
    frame_times = np.array(frame_times, np.float64)[:rows]
    # The decoder shows the first frame from time zero (`iter_video_frames`).
    frame_times[0] = min(frame_times[0], 0.0)
    if rows > len(frame_times):
        period = float(np.median(np.diff(frame_times))) if len(frame_times) > 1 else 1 / 25
        extra = frame_times[-1] + period * np.arange(1, rows - len(frame_times) + 1)
        frame_times = np.concatenate([frame_times, extra])
    return frame_times


def read_manifest(path):
    """Reads a manifest CSV: `recording_id,video,audio,labels,split`, plus
    optional columns named after targets holding one value per recording
    (used when `labels` is empty), and optional `video_frame_rate` (for a
    folder of images as `video`), `face_side`, `group` and `face_marks` (see
    `Recording`).
    `video` may be empty for audio-only recordings. Relative paths are
    relative to the manifest's folder.

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
        value_columns = [c for c in columns if c not in MANIFEST_COLUMNS + MANIFEST_OPTIONAL_COLUMNS]
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
                        video_frame_rate=float(row.get("video_frame_rate") or 0) or None,
                        face_side=(row.get("face_side") or "").strip() or None,
                        group=(row.get("group") or "").strip() or None,
                        face_marks=resolve(row.get("face_marks")),
                    )
                )
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None
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
