"""`ablate`: the paper's Table 1/2 rows trained and evaluated on the same
data, written as markdown and CSV."""

import csv
import dataclasses
import io
import json
import os
import pathlib
import shutil

from emokeras.data.modality_marks import PRESENCE_STRETCHES

# (key, row label, visual backbone, fusion, paper's RECOLA dev CCC valence / arousal)
PAPER_ROWS = (
    ("cnn2d_concat", "2D CNN + concatenation", "cnn2d", "concat", (0.538, 0.680)),
    ("cnn2d_lstm", "2D CNN + LSTM", "cnn2d", "lstm", (0.552, 0.697)),
    ("i3d_concat", "I3D + concatenation", "i3d", "concat", (0.579, 0.732)),
    ("i3d_self_attention", "I3D + self-attention", "i3d", "self_attention", (0.623, 0.787)),
    ("i3d_cross_attention", "I3D + cross-attention (ours)", "i3d", "cross_attention", (0.685, 0.835)),
    ("audio_only", "Audio only (2D CNN)", "i3d", "audio_only", (0.463, 0.822)),
    ("visual_only", "Visual only (I3D)", "i3d", "visual_only", (0.642, 0.582)),
)
# Not the paper's: concatenation, given the presence marks (a head per case,
# each case scored on every clip that has what it needs) and trained with
# modality dropout (`config.modality_dropout`, or this share when it is 0).
# Concatenation, not cross-attention: measured in the README's "When a face
# or the voice drops out".
DROPOUT_ROW = (
    "i3d_concat_dropout",
    "I3D + concatenation + modality dropout",
    "i3d",
    "concat",
    None,
)
DEFAULT_MODALITY_DROPOUT = 0.2
ROWS = PAPER_ROWS + (DROPOUT_ROW,)
ROW_KEYS = tuple(row[0] for row in ROWS)
STRETCH_NAMES = tuple(PRESENCE_STRETCHES)
_STRETCH_ENDINGS = tuple(f"_ccc_{stretch}" for stretch in STRETCH_NAMES)


def ablate(config, rows=ROW_KEYS, progress=True):
    """Trains and evaluates each row of the paper's tables on `config.data`.

    Each row is a run in `<config.out>/<row>` with `config`'s settings and
    the row's backbone and fusion. Rows with the same backbone share stage 1
    (the unimodal branches) and the cached features in `two_stage` runs,
    exactly as if each had trained them (same seed, same data): only the
    fusion stage differs. 2D CNN rows use random visual weights unless
    `config.visual_weights` is a file (no ImageNet Inception-v1 here).
    Fused rows take `config.modality_dropout`; the unimodal rows none; the
    `i3d_concat_dropout` row `config.modality_dropout`, or
    `DEFAULT_MODALITY_DROPOUT` when that is 0.

    Returns:
        `(rows, markdown_path, csv_path)`; `rows` is a list of dicts with the
        test CCC per target (raw and post-processed, and on frame-level data
        `<target>_ccc_<stretch>`: raw, on the frames whose clip shows the
        face and holds a voice (`complete`), or lacks one (`no_face`,
        `no_voice`); also in `stretches.md`).
    """
    from emokeras.data.dataset import has_split
    from emokeras.training.trainer import train

    unknown = sorted(set(rows) - set(ROW_KEYS))
    if unknown:
        raise ValueError(f"unknown ablation row(s) {unknown}; allowed values: {', '.join(ROW_KEYS)}")
    if not has_split(config.data, "test"):
        raise ValueError(f"{config.data} has no test split to score the rows on; prepare one (split column 'test')")
    base = pathlib.Path(config.out)
    results = []
    shared = {}
    for key, label, backbone, fusion, paper in ROWS:
        if key not in rows:
            continue
        weights = config.visual_weights
        if backbone == "cnn2d" and not (weights and os.path.exists(weights)):
            weights = None
        dropout = config.modality_dropout
        if fusion in ("audio_only", "visual_only"):
            dropout = 0.0
        elif key == DROPOUT_ROW[0]:
            dropout = dropout or DEFAULT_MODALITY_DROPOUT
        row_config = dataclasses.replace(
            config,
            out=str(base / key),
            visual_backbone=backbone,
            fusion=fusion,
            visual_weights=weights,
            modality_dropout=dropout,
        )
        if config.schedule == "two_stage":
            _reuse_stage_one(shared.get(backbone), base / key, fusion)
        print(f"emokeras ablate: {label} -> {row_config.out}")
        train(row_config, progress=progress)
        if config.schedule == "two_stage" and fusion not in ("audio_only", "visual_only"):
            # Both backbones and both feature sets: shareable with any row.
            shared.setdefault(backbone, base / key)
        # `train` scored the row on the test split.
        report = json.loads((base / key / "evaluation.json").read_text())
        results.append(_row(key, label, backbone, fusion, paper, report))
    return results, *write_table(results, base)


def _reuse_stage_one(source, target, fusion):
    """Hard-links a sibling row's finished stage 1 and feature cache."""
    if source is None:
        return
    for name in ("stage1_audio", "stage1_visual", "features"):
        src = source / name
        done = src / ("model.keras" if name.startswith("stage1") else "features_metadata.json")
        if done.exists() and not (target / name).exists():
            shutil.copytree(src, target / name, copy_function=os.link)


def _row(key, label, backbone, fusion, paper, report):
    row = {
        "row": key,
        "model": label,
        "visual_backbone": backbone,
        "fusion": fusion,
        "unit": report.get("unit", "frame"),
    }
    for target in report["targets"]:
        row[f"{target}_ccc"] = report["raw"][target]["all"]["ccc"]
        if "per_group_mean" in report["raw"][target]:  # OMG-Emotion's score
            row[f"{target}_ccc_per_group"] = report["raw"][target]["per_group_mean"]["ccc"]
        if "postprocessed" in report:
            row[f"{target}_ccc_postprocessed"] = report["postprocessed"][target]["all"]["ccc"]
    for target, value in zip(("valence", "arousal"), paper or ()):
        row[f"paper_recola_{target}"] = value
    for target in report["targets"] if "by_presence" in report else ():
        for stretch, scores in report["by_presence"][target].items():
            row[f"{target}_ccc_{stretch}"] = scores["ccc"]
    if "by_presence" in report:
        row.update({f"frames_{stretch}": count for stretch, count in report["by_presence"]["frames"].items()})
    return row


def write_table(rows, out_dir):
    """Writes `ablation.md` and `ablation.csv` (atomically)."""
    from emokeras.atomic_write import write_text_atomically

    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    csv_path = write_text_atomically(pathlib.Path(out_dir) / "ablation.csv", buffer.getvalue())
    stretch_columns = [c for c in columns if c.startswith("frames_") or c.endswith(_STRETCH_ENDINGS)]
    numbers = [c for c in columns if c not in ("row", "model", "visual_backbone", "fusion", "unit", *stretch_columns)]
    lines = [
        "| Model | " + " | ".join(numbers) + " |",
        "|---|" + "---:|" * len(numbers),
    ]
    for row in rows:
        cells = [f"{row[c]:.3f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in numbers]
        lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    scored = (
        "one mean prediction per utterance, over all test utterances (`_per_group`: a CCC per group, averaged)"
        if rows and rows[0]["unit"] == "utterance"
        else "all frames concatenated (`_postprocessed`: after median filter, delay, bias and scale fitted on dev)"
    )
    note = (
        f"\nCCC on the test recordings, {scored}. `paper_recola_*`: the paper's RECOLA dev numbers, for the "
        "shape of the comparison only (different data)."
    )
    markdown_path = write_text_atomically(pathlib.Path(out_dir) / "ablation.md", "\n".join(lines) + "\n" + note + "\n")
    if stretch_columns:
        write_text_atomically(pathlib.Path(out_dir) / "stretches.md", stretch_table(rows))
    return markdown_path, csv_path


def stretch_table(rows):
    """The rows' raw test CCC where the face or the voice is missing and
    where both are there, as markdown (rows scored per frame only)."""
    rows = [row for row in rows if "frames_complete" in row]
    targets = [c[: -len("_ccc_complete")] for c in rows[0] if c.endswith("_ccc_complete")]
    stretches = [stretch for stretch in STRETCH_NAMES if f"frames_{stretch}" in rows[0]]
    header = [f"{target} {stretch.replace('_', ' ')}" for target in targets for stretch in stretches]
    lines = ["| Model | " + " | ".join(header) + " |", "|---|" + "---:|" * len(header)]
    for row in rows:
        cells = [f"{row[f'{target}_ccc_{stretch}']:.3f}" for target in targets for stretch in stretches]
        lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    frames = ", ".join(f"{stretch.replace('_', ' ')} {rows[0][f'frames_{stretch}']}" for stretch in stretches)
    note = (
        f"\nRaw CCC on the test frames whose clip shows the face and holds a voice (complete), or lacks one "
        f"(`emokeras.data.modality_marks`). Frames: {frames}."
    )
    return "\n".join(lines) + "\n" + note + "\n"
