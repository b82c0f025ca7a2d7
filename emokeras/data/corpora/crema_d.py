"""CREMA-D: acted sentences with the raters' audio-visual emotion intensity
(0-100) as the target; a seeded speaker-independent split.

Layout rules (the corpus's README and `processedResults/summaryTable.csv`;
see `TREE`):
- Recordings are the clips in `VideoFlash/*.flv`; `AudioWAV/<clip>.wav` is
  their audio when present, else the flv's own track.
- `summaryTable.csv` (`"", FileName, VoiceVote, VoiceLevel, FaceVote,
  FaceLevel, MultiModalVote, MultiModalLevel`): `intensity` =
  `MultiModalLevel`, the mean intensity the audio-visual raters gave the
  winning emotion. A tie lists one level per tied emotion (`30.67:51.00`);
  their mean is used.
- The table covers the whole corpus: its rows without a clip (a partial
  download) are not recordings; clips without a row (e.g. a misnamed file)
  are left out and counted in the split rule.
- Names are `ActorID_Sentence_Emotion_Level`: the speaker is the ActorID,
  and `speaker_independent_split` deals actors to train / dev / test.
"""

import csv
import math
import os
import pathlib

from emokeras.data.corpora.corpus import Corpus
from emokeras.data.corpora.naming import layout_error
from emokeras.data.corpora.naming import unique_recording_id
from emokeras.data.corpora.splits import speaker_independent_split
from emokeras.data.labels import LabelError
from emokeras.data.recording import Recording

NAME = "crema-d"
TREE = """\
ROOT/
  VideoFlash/<ActorID>_<Sentence>_<Emotion>_<Level>.flv
  AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav   (optional)
  processedResults/summaryTable.csv
    "","FileName","VoiceVote","VoiceLevel","FaceVote","FaceLevel","MultiModalVote","MultiModalLevel"
    (intensity = MultiModalLevel, 0-100; ties "A:F" / "30.67:51.00" -> mean)"""

SCALE = (0.0, 100.0)


def read(root, seed=0):
    """Reads a CREMA-D tree (see `TREE`).

    Args:
        root: the corpus folder.
        seed: the seed of the speaker-independent split.

    Returns:
        A `Corpus` of clips with one `intensity` (0-100) each.

    Raises:
        ValueError: the root lacks the layout, or a clip name has no ActorID.
        LabelError: a malformed summary table (file and row named).
    """
    root = pathlib.Path(root)
    table = root / "processedResults" / "summaryTable.csv"
    clips = sorted(p for p in (root / "VideoFlash").glob("*.flv") if p.is_file())
    if not clips:
        raise layout_error("CREMA-D", root, "no VideoFlash/*.flv", TREE)
    if not table.is_file():
        raise layout_error("CREMA-D", root, "no processedResults/summaryTable.csv", TREE)
    levels = _read_table(table)

    recordings, speaker_of, taken, unlabelled = [], {}, set(), []
    for clip in clips:
        if clip.stem not in levels:
            unlabelled.append(clip.name)
            continue
        if "_" not in clip.stem:
            raise ValueError(f"{clip}: CREMA-D names are ActorID_Sentence_Emotion_Level; rename it")
        recording_id = unique_recording_id(clip.stem, taken)
        speaker_of[recording_id] = clip.stem.split("_", 1)[0]
        audio = root / "AudioWAV" / f"{clip.stem}.wav"
        recordings.append((recording_id, clip, audio if audio.is_file() else None, levels[clip.stem]))
    if not recordings:
        raise ValueError(f"{table}: none of the {len(clips)} clips in VideoFlash/ has a row (FileName = the clip name)")

    split_of, rule = speaker_independent_split(speaker_of, seed=seed)
    note = f"; {len(unlabelled)} clip(s) without a summaryTable row left out" if unlabelled else ""
    return Corpus(
        name=NAME,
        recordings=tuple(
            Recording(
                recording_id=recording_id,
                video=os.fspath(clip),
                audio=os.fspath(audio) if audio else None,
                split=split_of[recording_id],
                label_values={"intensity": level},
            )
            for recording_id, clip, audio, level in sorted(recordings, key=lambda r: r[0])
        ),
        target_ranges={"intensity": SCALE},
        unit="utterance",
        split_rule=f"{rule}; speaker = the ActorID (first field of the clip name){note}",
    )


def _read_table(path):
    """`{FileName: intensity}`."""
    levels, rows = {}, {}
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        header = reader.fieldnames or []
        absent = [c for c in ("FileName", "MultiModalLevel") if c not in header]
        if absent:
            raise LabelError(f"{path}, row 1: missing column(s) {absent}; columns: {header}")
        for row_number, row in enumerate(reader, start=2):
            where = f"{path}, row {row_number}"
            name = (row["FileName"] or "").strip()
            if not name:
                raise LabelError(f"{where}: FileName is empty")
            if name in rows:
                raise LabelError(f"{where}: {name} already has row {rows[name]}")
            rows[name] = row_number
            levels[name] = _level(row["MultiModalLevel"], where)
    return levels


def _level(text, where):
    try:
        parts = [float(p) for p in (text or "").split(":")]
    except ValueError:
        raise LabelError(f"{where}: MultiModalLevel={text!r} is not a number (or numbers joined by ':')") from None
    if any(math.isnan(p) or not SCALE[0] <= p <= SCALE[1] for p in parts):
        raise LabelError(f"{where}: MultiModalLevel={text!r} is outside 0-100")
    # Tied emotions: one level each; the clip's intensity is their mean.
    return sum(parts) / len(parts)
