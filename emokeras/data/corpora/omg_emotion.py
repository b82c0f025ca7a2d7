"""OMG-Emotion: YouTube monologue utterances with gold-standard arousal
(0..1) and valence (-1..1), official partitions, scored per video.

Layout rules (the challenge repository's README, CSVs and prepare_data.py;
see `TREE`):
- `omg_TrainVideos.csv`, `omg_ValidationVideos.csv` and, when present,
  `omg_TestVideos_WithLabels.csv` (columns `link,start,end,video,utterance,
  arousal,valence,EmotionMaxVote`), at the root or up to two folders below;
  the unlabelled `omg_TestVideos_WithoutLabels.csv` is not used.
- The media are the challenge script's cuts, `<video>/<utterance>` (e.g.
  `8c49a05d3_1/utterance_1.mp4`), in any folder below the root.
- The script skips YouTube videos that can no longer be downloaded, so a
  missing utterance file is expected: such rows are left out and counted in
  the split rule (the corpus is what could be downloaded).
- One value per utterance; `group` = the source video, since the challenge
  scores CCC per video and averages.
"""

import csv
import math
import os
import pathlib

from emokeras.data.corpora.corpus import Corpus
from emokeras.data.corpora.naming import layout_error
from emokeras.data.corpora.naming import unique_recording_id
from emokeras.data.labels import LabelError
from emokeras.data.recording import Recording

NAME = "omg-emotion"
TREE = """\
ROOT/
  omg_TrainVideos.csv, omg_ValidationVideos.csv, omg_TestVideos_WithLabels.csv
    link,start,end,video,utterance,arousal,valence,EmotionMaxVote
    (arousal 0..1, valence -1..1; the CSVs may also sit one or two folders down)
  <any folder>/<video>/<utterance>   (e.g. videos/8c49a05d3_1/utterance_1.mp4,
                                      as cut by the challenge's prepare_data.py)"""

CSV_FILES = {
    "omg_TrainVideos.csv": "train",
    "omg_ValidationVideos.csv": "dev",
    "omg_TestVideos_WithLabels.csv": "test",
}
REQUIRED = ("omg_TrainVideos.csv", "omg_ValidationVideos.csv")
TARGET_RANGES = {"arousal": (0.0, 1.0), "valence": (-1.0, 1.0)}
SEARCH_DEPTH = 2


def read(root, seed=0):
    """Reads an OMG-Emotion tree (see `TREE`).

    Returns:
        A `Corpus` of utterances with one arousal and valence value each,
        grouped by source video (`scoring="per_group"`).

    Raises:
        ValueError: the root lacks the CSVs or holds none of their
            utterances.
        LabelError: a malformed CSV (file and row named).
    """
    del seed  # official splits
    root = pathlib.Path(root)
    tables = _find_tables(root)
    absent = [n for n in REQUIRED if n not in tables]
    if absent:
        raise layout_error("OMG-Emotion", root, f"no {' or '.join(absent)} (searched {SEARCH_DEPTH} levels down)", TREE)

    rows = []
    for csv_name, split in CSV_FILES.items():
        if csv_name in tables:
            rows += [(*row, split) for row in _read_table(tables[csv_name])]
    seen = {}
    for video, utterance, _, where, _ in rows:
        if (video, utterance) in seen:
            raise LabelError(f"{where}: {video}/{utterance} is already labelled in {seen[video, utterance]}")
        seen[video, utterance] = where

    media = _find_media(root, {video for video, *_ in rows})
    recordings, taken, skipped = [], set(), {s: 0 for s in CSV_FILES.values()}
    for video, utterance, values, _, split in rows:
        path = media.get((video, utterance)) or media.get((video, f"{utterance}.mp4"))
        if path is None:
            skipped[split] += 1
            continue
        recordings.append(
            Recording(
                recording_id=unique_recording_id(f"{video}-{pathlib.Path(utterance).stem}", taken),
                video=os.fspath(path),
                split=split,
                label_values=values,
                group=video,
            )
        )
    if not recordings:
        raise layout_error(
            "OMG-Emotion", root, f"none of the {len(rows)} labelled utterances has its <video>/<utterance> file", TREE
        )
    test = "" if "omg_TestVideos_WithLabels.csv" in tables else "; no omg_TestVideos_WithLabels.csv, so no test split"
    return Corpus(
        name=NAME,
        recordings=tuple(sorted(recordings, key=lambda r: r.recording_id)),
        target_ranges=dict(TARGET_RANGES),
        unit="utterance",
        split_rule=(
            "official OMG-Emotion partition: omg_TrainVideos.csv -> train, omg_ValidationVideos.csv -> dev, "
            f"omg_TestVideos_WithLabels.csv -> test{test}; utterances without a downloaded file left out "
            f"(train {skipped['train']}, dev {skipped['dev']}, test {skipped['test']})"
        ),
        scoring="per_group",
    )


def _find_tables(root):
    tables, level = {}, [root] if root.is_dir() else []
    for _ in range(SEARCH_DEPTH + 1):
        for folder in level:
            for name in CSV_FILES:
                if name not in tables and (folder / name).is_file():
                    tables[name] = folder / name
        level = sorted(p for folder in level for p in folder.iterdir() if p.is_dir())
    return tables


def _read_table(path):
    """`[(video, utterance, {target: value}, where)]` of one CSV."""
    rows = []
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        header = reader.fieldnames or []
        absent = [c for c in ("video", "utterance", *TARGET_RANGES) if c not in header]
        if absent:
            raise LabelError(f"{path}, row 1: missing column(s) {absent}; columns: {header}")
        for row_number, row in enumerate(reader, start=2):
            where = f"{path}, row {row_number}"
            video, utterance = (row["video"] or "").strip(), (row["utterance"] or "").strip()
            if not video or not utterance:
                raise LabelError(f"{where}: video and utterance must not be empty")
            values = {}
            for target, (low, high) in TARGET_RANGES.items():
                try:
                    values[target] = float(row[target])
                except (TypeError, ValueError):
                    raise LabelError(f"{where}: {target}={row[target]!r} is not a number") from None
                if math.isnan(values[target]) or not low <= values[target] <= high:
                    raise LabelError(f"{where}: {target}={row[target]!r} is outside [{low:g}, {high:g}]")
            rows.append((video, utterance, values, where))
    return rows


def _find_media(root, videos):
    """`{(video, utterance): path}` for files in folders named after a video."""
    media = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        folder = pathlib.Path(dirpath)
        if folder.name not in videos:
            continue
        for filename in sorted(filenames):
            key = (folder.name, filename)
            if key in media:
                raise ValueError(
                    f"{root}: {folder.name}/{filename} is found twice ({media[key]}, {folder / filename}); keep one"
                )
            media[key] = folder / filename
    return media
