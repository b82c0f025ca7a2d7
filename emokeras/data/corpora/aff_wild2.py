"""Aff-Wild2 (ABAW valence-arousal track): one label row per video frame,
official train / validation partitions.

Layout rules (ABAW annotation releases and the Aff-Wild2 page; see `TREE`):
- Annotations: `VA_Estimation_Challenge/{Train_Set,Validation_Set}/*.txt`
  (ABAW3 and later) or `VA_Set/{Training_Set,Train_Set,Validation_Set}/*.txt`
  (older releases), found up to four folders below the root (the shallowest
  one). Two annotation sets at that depth (two releases side by side) are
  refused rather than merged.
- Each file: the header `valence,arousal`, then one `v,a` row per video
  frame, values in [-1, 1]; `-5` in either column marks an unlabelled frame,
  read as NaN for both targets (a frame is labelled for both or neither).
- `<video>_left.txt` / `<video>_right.txt` label the person on that side of
  a two-person video: the video is `<video>`, and `face_side` says which face
  to crop.
- Videos (`.mp4` or `.avi`) are looked up by name under `batch1/` and
  `batch2/`, then anywhere below the root. An annotated video that is not
  found is an error naming it (never a silently smaller corpus); two videos
  with the same name are an error too.
- Labels are given per source frame (`label_series` times `None`): their
  times come from the video's own frame rate when it is prepared.
- The challenge's test labels are not public: there is no labelled test
  split.
"""

import os
import pathlib

import numpy as np

from emokeras.data.corpora.corpus import Corpus
from emokeras.data.corpora.naming import layout_error
from emokeras.data.corpora.naming import unique_recording_id
from emokeras.data.labels import LabelError
from emokeras.data.recording import Recording

NAME = "aff-wild2"
TREE = """\
ROOT/
  batch1/<video>.mp4|.avi, batch2/<video>.mp4|.avi   (or any folder below ROOT)
  .../VA_Estimation_Challenge/                     (older releases: VA_Set/)
    Train_Set/<video>.txt                          (older: Training_Set/)
    Validation_Set/<video>.txt
  <video>.txt: header "valence,arousal", then one "v,a" row per video frame,
    values in [-1, 1], -5 = unlabelled frame
  <video>_left.txt, <video>_right.txt: the person on that side of <video>"""

ANNOTATION_FOLDERS = ("VA_Estimation_Challenge", "VA_Set")
SPLIT_FOLDERS = {"Train_Set": "train", "Training_Set": "train", "Validation_Set": "dev"}
VIDEO_SUFFIXES = (".mp4", ".avi")
UNLABELLED = -5.0
SIDES = ("left", "right")
# Annotation folders sit a few levels down (e.g. "6th ABAW Annotations/...").
SEARCH_DEPTH = 4


def read(root, seed=0):
    """Reads an Aff-Wild2 tree (see `TREE`).

    Returns:
        A `Corpus` with per-frame valence and arousal in [-1, 1].

    Raises:
        ValueError: the root lacks the annotations, or an annotated video is
            missing or ambiguous.
        LabelError: a malformed annotation file (file and row named).
    """
    del seed  # official splits
    root = pathlib.Path(root)
    annotations = _annotation_folder(root)
    label_files = []
    for folder, split in SPLIT_FOLDERS.items():
        if (annotations / folder).is_dir():
            label_files += [(path, split) for path in sorted((annotations / folder).glob("*.txt"))]
    if not label_files:
        raise layout_error(
            "Aff-Wild2",
            root,
            f"no *.txt under {annotations}/{{{','.join(SPLIT_FOLDERS)}}}; folders found: {_children(annotations)}",
            TREE,
        )

    entries = []
    for path, split in label_files:
        video_name, side = _video_name_and_side(path.stem)
        entries.append((path, split, video_name, side))
    videos = _find_videos(root, {video_name for _, _, video_name, _ in entries})

    recordings, taken = [], set()
    for path, split, video_name, side in entries:
        valence, arousal = _read_annotation(path)
        recordings.append(
            Recording(
                recording_id=unique_recording_id(path.stem, taken),
                video=os.fspath(videos[video_name]),
                split=split,
                label_series=(None, {"valence": valence, "arousal": arousal}),
                face_side=side,
            )
        )
    return Corpus(
        name=NAME,
        recordings=tuple(sorted(recordings, key=lambda r: r.recording_id)),
        target_ranges={"valence": (-1.0, 1.0), "arousal": (-1.0, 1.0)},
        unit="frame",
        split_rule=(
            f"official ABAW partition ({annotations}): Train_Set (or Training_Set) -> train, Validation_Set -> dev; "
            "the challenge's test labels are not public, so there is no labelled test split"
        ),
    )


def _annotation_folder(root):
    if not root.is_dir():
        raise layout_error("Aff-Wild2", root, "the folder does not exist", TREE)
    # Breadth first, stopping at the shallowest level holding one: the walk
    # never lists the frame folders of a cropped-faces tree deeper down.
    level, found = [root], []
    for _ in range(SEARCH_DEPTH):
        level = sorted(p for folder in level for p in folder.iterdir() if p.is_dir())
        found = [p for p in level if p.name in ANNOTATION_FOLDERS]
        if found:
            break
    if not found:
        raise layout_error(
            "Aff-Wild2",
            root,
            f"no {' or '.join(ANNOTATION_FOLDERS)} folder (searched {SEARCH_DEPTH} levels down)",
            TREE,
        )
    if len(found) > 1:
        raise ValueError(
            f"{root}: several valence-arousal annotation sets: {', '.join(map(str, found))}. "
            "Keep one of them under the root (they are different releases)."
        )
    return found[0]


def _video_name_and_side(stem):
    for side in SIDES:
        if stem.endswith(f"_{side}"):
            return stem[: -len(side) - 1], side
    return stem, None


def _find_videos(root, names):
    """`{name: path}` for every name; batch1/ and batch2/ first, then the
    whole tree."""
    index = {}
    for folder in (root / "batch1", root / "batch2"):
        _index_videos(folder, index)
    if names - index.keys():
        index = {}
        _index_videos(root, index)
    missing = sorted(names - index.keys())
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(
            f"{root}: {len(missing)} annotated video(s) not found ({shown}); looked for <name>"
            f"{'|'.join(VIDEO_SUFFIXES)} under batch1/, batch2/ and every folder below the root. "
            f"Add the videos (a two-person video <name> serves <name>_left and <name>_right). Expected layout:\n{TREE}"
        )
    ambiguous = {n: index[n] for n in sorted(names) if len(index[n]) > 1}
    if ambiguous:
        name, paths = next(iter(ambiguous.items()))
        raise ValueError(
            f"{root}: {len(ambiguous)} video name(s) found more than once, e.g. {name}: "
            f"{', '.join(map(str, paths))}. Keep one file per video name."
        )
    return {n: index[n][0] for n in names}


def _index_videos(folder, index):
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for filename in sorted(filenames):
            path = pathlib.Path(dirpath) / filename
            if path.suffix.lower() in VIDEO_SUFFIXES:
                index.setdefault(path.stem, []).append(path)


def _read_annotation(path):
    with open(path) as file:
        lines = file.read().splitlines()
    header = lines[0].strip().lower().replace(" ", "") if lines else ""
    if header != "valence,arousal":
        raise LabelError(f"{path}, row 1: expected the header 'valence,arousal'; found {header!r}")
    valence, arousal = [], []
    for row, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split(",")
        try:
            v, a = (float(f) for f in fields)
        except ValueError:
            raise LabelError(f"{path}, row {row}: expected two numbers 'valence,arousal'; found {line!r}") from None
        if v == UNLABELLED or a == UNLABELLED:
            v = a = np.nan
        elif not (-1.0 <= v <= 1.0 and -1.0 <= a <= 1.0):
            raise LabelError(f"{path}, row {row}: {line!r} is outside [-1, 1] and is not the unlabelled marker -5")
        valence.append(v)
        arousal.append(a)
    if not valence:
        raise LabelError(f"{path} has no label rows after its header")
    return np.array(valence), np.array(arousal)


def _children(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
