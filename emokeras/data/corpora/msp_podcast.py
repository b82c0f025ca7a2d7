"""MSP-Podcast: audio-only utterances with consensus arousal, valence and
dominance (1-7), official partitions.

Layout rules (the corpus's `labels_consensus.csv`, as read by the
MSP-Podcast challenge code; see `TREE`):
- `Labels/labels_consensus.csv` (older releases spell it
  `labels_concensus.csv`), columns `FileName, EmoClass, EmoAct, EmoVal,
  EmoDom, SpkrID, Gender, Split_Set`; EmoAct -> arousal, EmoVal -> valence,
  EmoDom -> dominance, kept on the corpus's 1-7 scale.
- `Split_Set`: Train -> train, Development -> dev, Test1 -> test. Test2 is
  not used (a second test set with its own speakers; evaluate on it
  separately) and Test3 has no public labels; their rows are counted in the
  split rule.
- Every used row's `Audios/<FileName>` must exist: a missing audio file is an
  error naming it.
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

NAME = "msp-podcast"
TREE = """\
ROOT/
  Audios/<FileName>.wav
  Labels/labels_consensus.csv   (older releases: labels_concensus.csv)
    FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set
    (EmoAct/EmoVal/EmoDom on 1-7; Split_Set Train, Development, Test1, Test2, Test3)"""

LABEL_FILES = ("labels_consensus.csv", "labels_concensus.csv")
TARGET_COLUMNS = {"arousal": "EmoAct", "valence": "EmoVal", "dominance": "EmoDom"}
SPLITS = {"Train": "train", "Development": "dev", "Test1": "test"}
UNUSED_SPLITS = ("Test2", "Test3")
SCALE = (1.0, 7.0)


def read(root, seed=0):
    """Reads an MSP-Podcast tree (see `TREE`).

    Returns:
        A `Corpus` of audio-only recordings with one arousal, valence and
        dominance value each (1-7).

    Raises:
        ValueError: the root lacks the layout, or audio files are missing.
        LabelError: a malformed label file (file and row named).
    """
    del seed  # official splits
    root = pathlib.Path(root)
    labels = next((root / "Labels" / n for n in LABEL_FILES if (root / "Labels" / n).is_file()), None)
    if labels is None:
        raise layout_error("MSP-Podcast", root, f"no Labels/{' or Labels/'.join(LABEL_FILES)}", TREE)
    if not (root / "Audios").is_dir():
        raise layout_error("MSP-Podcast", root, "no Audios/ folder", TREE)

    rows, unused = _read_labels(labels)
    recordings, taken, missing = [], set(), []
    for file_name, split, values in rows:
        audio = root / "Audios" / file_name
        if not audio.is_file():
            missing.append(file_name)
            continue
        recordings.append(
            Recording(
                recording_id=unique_recording_id(pathlib.Path(file_name).stem, taken),
                audio=os.fspath(audio),
                split=split,
                label_values=values,
            )
        )
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(
            f"{root / 'Audios'}: {len(missing)} labelled audio file(s) of {labels.name} are missing ({shown}). "
            "Add them (the corpus's Audios/ folder), or remove their rows from a copy of the label file."
        )
    counts = ", ".join(f"{n} {name}" for name, n in unused.items())
    return Corpus(
        name=NAME,
        recordings=tuple(sorted(recordings, key=lambda r: r.recording_id)),
        target_ranges={t: SCALE for t in TARGET_COLUMNS},
        unit="utterance",
        split_rule=(
            f"official MSP-Podcast partition ({labels.name}, Split_Set): Train -> train, Development -> dev, "
            f"Test1 -> test; not used: Test2 (a separate test set) and Test3 (no public labels) ({counts} rows)"
        ),
    )


def _read_labels(path):
    """`([(file_name, split, {target: value})], {unused split: row count})`."""
    rows, seen, unused = [], {}, dict.fromkeys(UNUSED_SPLITS, 0)
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        header = reader.fieldnames or []
        absent = [c for c in ("FileName", "Split_Set", *TARGET_COLUMNS.values()) if c not in header]
        if absent:
            raise LabelError(f"{path}, row 1: missing column(s) {absent}; columns: {header}")
        for row_number, row in enumerate(reader, start=2):
            where = f"{path}, row {row_number}"
            split_set = (row["Split_Set"] or "").strip()
            if split_set in unused:
                unused[split_set] += 1
                continue
            if split_set not in SPLITS:
                raise LabelError(f"{where}: Split_Set {split_set!r} is not one of {[*SPLITS, *UNUSED_SPLITS]}")
            file_name = (row["FileName"] or "").strip()
            if not file_name:
                raise LabelError(f"{where}: FileName is empty")
            if not file_name.lower().endswith(".wav"):
                file_name += ".wav"
            if file_name in seen:
                raise LabelError(f"{where}: {file_name} is already labelled in row {seen[file_name]}")
            seen[file_name] = row_number
            values = {t: _score(row[c], where, c) for t, c in TARGET_COLUMNS.items()}
            rows.append((file_name, SPLITS[split_set], values))
    return rows, unused


def _score(text, where, column):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise LabelError(f"{where}: {column}={text!r} is not a number") from None
    if math.isnan(value) or not SCALE[0] <= value <= SCALE[1]:
        raise LabelError(f"{where}: {column}={text!r} is outside the 1-7 scale")
    return value
