"""AFEW-VA: film clips as PNG frame folders with per-frame valence and
arousal (-10..10); no audio, no official split.

Layout rules (the AFEW-VA release as its users read it; see `TREE`):
- One folder per clip, `<clip>/<clip>.json` beside the clip's PNG frames,
  found up to three folders below the root (the release's zip parts unpack
  to `01/001/` as well as `001/`). Only the clip folder's own PNGs are
  frames (not sub-folders such as `*_cropped/`).
- The JSON: `frames` -> `<frame>` -> `valence`, `arousal` (integers
  -10..10) and `landmarks` (ignored); `<frame>` is the PNG's name with or
  without `.png`. An optional `actor` names the person on screen.
- Frame `k` of the name-sorted PNGs is at `k / FRAME_RATE` seconds, the
  order the image-sequence decoder reads them in; frames without labels are
  NaN. Labels of frames that have no PNG cannot be placed: they are left out
  and counted in the split rule.
- `FRAME_RATE` (25 fps): the clips come from PAL film sources (720x576
  frames); no source we found states the rate, so change it here if yours
  differs.
- Split: `speaker_independent_split` over actors (the JSON's `actor`, else
  the clip itself), seeded.
"""

import json
import math
import os
import pathlib

import numpy as np

from emokeras.data.corpora.corpus import Corpus
from emokeras.data.corpora.naming import layout_error
from emokeras.data.corpora.naming import unique_recording_id
from emokeras.data.corpora.splits import speaker_independent_split
from emokeras.data.labels import LabelError
from emokeras.data.recording import Recording

NAME = "afew-va"
TREE = """\
ROOT/                          (clip folders may also sit one level down: 01/001/)
  <clip>/<clip>.json           {"actor": ..., "frames": {"00000": {"valence": v, "arousal": a,
                                "landmarks": [...]}, ...}}, v and a in -10..10
  <clip>/00000.png, 00001.png, ...   (frames, FRAME_RATE fps)"""

FRAME_RATE = 25.0
TARGETS = ("valence", "arousal")
SCALE = (-10.0, 10.0)
SEARCH_DEPTH = 3


def read(root, seed=0):
    """Reads an AFEW-VA tree (see `TREE`).

    Args:
        root: the corpus folder.
        seed: the seed of the speaker-independent split.

    Returns:
        A `Corpus` of image-sequence recordings (no audio) with per-frame
        valence and arousal (-10..10).

    Raises:
        ValueError: the root holds no clip folders, or a clip has no PNG.
        LabelError: a malformed JSON file (file and frame named).
    """
    root = pathlib.Path(root)
    clips = _clip_folders(root)
    if not clips:
        raise layout_error("AFEW-VA", root, f"no <clip>/<clip>.json folder up to {SEARCH_DEPTH} levels down", TREE)

    recordings, speaker_of, taken, unplaced = [], {}, set(), 0
    for clip in clips:
        annotation = clip / f"{clip.name}.json"
        frames = sorted(p for p in clip.iterdir() if p.suffix.lower() == ".png" and p.is_file())
        if not frames:
            raise ValueError(f"{clip}: no PNG frames beside {annotation.name}. Expected layout:\n{TREE}")
        actor, values, unplaced_here = _read_annotation(annotation, frames)
        unplaced += unplaced_here
        recording_id = unique_recording_id(clip.name, taken)
        speaker_of[recording_id] = actor or f"clip {clip.name}"
        times = np.arange(len(frames)) / FRAME_RATE
        recordings.append((recording_id, clip, (times, values)))

    split_of, rule = speaker_independent_split(speaker_of, seed=seed)
    note = f"; {unplaced} labelled frame(s) without a PNG were left out" if unplaced else ""
    return Corpus(
        name=NAME,
        recordings=tuple(
            Recording(
                recording_id=recording_id,
                video=os.fspath(clip),
                split=split_of[recording_id],
                label_series=series,
                video_frame_rate=FRAME_RATE,
            )
            for recording_id, clip, series in sorted(recordings, key=lambda r: r[0])
        ),
        target_ranges={t: SCALE for t in TARGETS},
        unit="frame",
        split_rule=f"{rule}; speaker = the JSON's actor, else the clip{note}",
    )


def _clip_folders(root):
    if not root.is_dir():
        return []
    clips, level = [], [root]
    for _ in range(SEARCH_DEPTH):
        level = sorted(p for folder in level for p in folder.iterdir() if p.is_dir())
        clips += [p for p in level if (p / f"{p.name}.json").is_file()]
        # A clip folder's sub-folders are crops, not more clips.
        level = [p for p in level if not (p / f"{p.name}.json").is_file()]
    return sorted(clips, key=lambda p: (p.name, str(p)))


def _read_annotation(path, frames):
    """`(actor, {target: (len(frames),) values}, labels without a PNG)`."""
    try:
        with open(path) as file:
            content = json.load(file)
    except json.JSONDecodeError as error:
        raise LabelError(f"{path}, line {error.lineno}: not valid JSON ({error.msg})") from None
    labelled = content.get("frames") if isinstance(content, dict) else None
    if not isinstance(labelled, dict):
        raise LabelError(f"{path}: no 'frames' object (frame name -> valence, arousal)")
    index = {p.stem: i for i, p in enumerate(frames)}
    values = {t: np.full(len(frames), np.nan) for t in TARGETS}
    unplaced = 0
    for key, entry in labelled.items():
        position = index.get(key[:-4] if key.lower().endswith(".png") else key)
        for target in TARGETS:
            value = entry.get(target) if isinstance(entry, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise LabelError(f"{path}, frame {key!r}: {target}={value!r} is not a number")
            if not SCALE[0] <= value <= SCALE[1]:
                raise LabelError(f"{path}, frame {key!r}: {target}={value!r} is outside -10..10")
            if position is not None:
                values[target][position] = value
        unplaced += position is None
    actor = content.get("actor")
    return (str(actor).strip() if actor else None), values, unplaced
