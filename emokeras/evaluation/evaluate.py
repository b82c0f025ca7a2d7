"""`evaluate`: CCC, PCC and RMSE per target, in the unit the corpus is
labelled in. Per-frame corpora: per recording and over all recordings
concatenated, at the annotation rate, with AVEC-style post-processing
fitted on the development split and applied to test. Utterance corpora (one
value per recording): one prediction per utterance, the mean over its real
frames of the window predictions (each clip weighted by its real frames),
scored over all utterances and, where the corpus asks for it (OMG-Emotion),
per group (source video) and averaged."""

import pathlib

import numpy as np

from emokeras.data import shard_format
from emokeras.data.modality_marks import PRESENCE_STRETCHES
from emokeras.evaluation.postprocessing import apply_postprocessing
from emokeras.evaluation.postprocessing import fit_postprocessing
from emokeras.metrics.ccc import concordance_correlation

ALL = "all"


def series_scores(prediction, truth, mask):
    """`{"ccc", "pcc", "rmse", "frames"}` of one series (masked frames and
    frames no window covered are left out)."""
    keep = np.asarray(mask, bool) & ~np.isnan(prediction)
    p = np.asarray(prediction, np.float64)[keep]
    t = np.asarray(truth, np.float64)[keep]
    if len(p) < 2:
        return {"ccc": float("nan"), "pcc": float("nan"), "rmse": float("nan"), "frames": int(len(p))}
    pcc = float(np.corrcoef(p, t)[0, 1]) if p.std() > 0 and t.std() > 0 else 0.0
    return {
        "ccc": float(concordance_correlation(t, p)),
        "pcc": pcc,
        "rmse": float(np.sqrt(np.mean((p - t) ** 2))),
        "frames": int(len(p)),
    }


def score_results(results, targets):
    """`{target: {recording_id | "all": scores}}`."""
    scores = {}
    for j, target in enumerate(targets):
        per = {rid: series_scores(pred[:, j], true[:, j], mask[:, j]) for rid, (pred, true, mask) in results.items()}
        per[ALL] = series_scores(
            np.concatenate([pred[:, j] for pred, _, _ in results.values()]),
            np.concatenate([true[:, j] for _, true, _ in results.values()]),
            np.concatenate([mask[:, j] for _, _, mask in results.values()]),
        )
        scores[target] = per
    return scores


def presence_scores(results, presence, targets):
    """Raw scores on the frames of each stretch of `PRESENCE_STRETCHES`
    (frames whose clip shows the face and holds a voice, the face hidden,
    the voice silent), all recordings concatenated: `{"frames": {stretch:
    count}, target: {stretch: scores}}`; `presence` as `frame_presence`
    gives it. Frames with neither are counted (`"neither"`), not scored."""
    # Annotation delays leave fewer labelled frames than media frames: the
    # results cover the first ones.
    visual = np.concatenate([presence[rid][0][: len(row[0])] for rid, row in results.items()])
    audio = np.concatenate([presence[rid][1][: len(row[0])] for rid, row in results.items()])
    stretches = {name: (visual == face) & (audio == voice) for name, (face, voice) in PRESENCE_STRETCHES.items()}
    report = {"frames": {name: int(where.sum()) for name, where in stretches.items()}}
    report["frames"]["neither"] = int((~visual & ~audio).sum())
    for j, target in enumerate(targets):
        prediction, truth, mask = (np.concatenate([row[k][:, j] for row in results.values()]) for k in range(3))
        report[target] = {name: series_scores(prediction, truth, mask & where) for name, where in stretches.items()}
    return report


def utterance_results(results):
    """Per-frame results -> one `(prediction, truth, mask)` row per
    utterance: the means over the scored frames (`(1, targets)` arrays)."""
    rows = {}
    for rid, (pred, true, mask) in results.items():
        keep = np.asarray(mask, bool) & ~np.isnan(pred)
        count = keep.sum(axis=0)
        with np.errstate(invalid="ignore"):
            mean_pred = np.where(keep, pred, 0.0).sum(axis=0) / count
            mean_true = np.where(keep, true, 0.0).sum(axis=0) / count
        rows[rid] = (mean_pred[None], mean_true[None], (count > 0)[None])
    return rows


def score_utterances(results, targets, groups=None):
    """`{target: {recording_id: {"prediction", "truth"}, "all": scores
    [, "per_group": {group: scores}, "per_group_mean": {"ccc", "pcc",
    "rmse", "groups"}]}}`; `scores` count `utterances`. `results` as
    `utterance_results` returns them; `groups` maps recording ids to groups
    for a per-group score (groups of one utterance have no CCC and are left
    out of the mean)."""
    scores = {}
    for j, target in enumerate(targets):
        per = {
            rid: {"prediction": float(pred[0, j]), "truth": float(true[0, j])}
            for rid, (pred, true, mask) in results.items()
            if mask[0, j]
        }
        per[ALL] = _as_utterances(series_scores(*_stacked(results, j)))
        if groups:
            by_group = {}
            for rid in results:
                by_group.setdefault(groups[rid], {})[rid] = results[rid]
            per["per_group"] = {g: _as_utterances(series_scores(*_stacked(r, j))) for g, r in sorted(by_group.items())}
            scored = [g for g in per["per_group"].values() if g["utterances"] >= 2]
            per["per_group_mean"] = {
                key: float(np.mean([g[key] for g in scored])) if scored else float("nan")
                for key in ("ccc", "pcc", "rmse")
            }
            per["per_group_mean"]["groups"] = len(scored)
        scores[target] = per
    return scores


def _stacked(results, j):
    return tuple(np.concatenate([row[k][:, j] for row in results.values()]) for k in range(3))


def _as_utterances(scores):
    scores = dict(scores)
    scores["utterances"] = scores.pop("frames")
    return scores


def evaluate_model(
    model,
    data_dir,
    dev_split="dev",
    test_split="test",
    median_width=None,
    label_delays=None,
    stride=None,
    last_window="pad",
    features_dir=None,
    batch_size=8,
    postprocess=True,
):
    """Scores an `AVEmotionRegressor` on `test_split`, raw and post-processed
    (fitted on `dev_split` only; test labels are never used to fit anything).

    Labels are processed as the model's training data was (its
    `data_contract`): pass `median_width` / `label_delays` only to override
    that (a value that contradicts training is warned about).

    Args:
        model: the model.
        data_dir: a folder written by `emokeras prepare`.
        dev_split: the split post-processing is fitted on.
        test_split: the split scored.
        median_width: label median filter width (default: as in training).
        label_delays: annotation delays in frames (default: as in training;
            0 for none).
        stride: frames between windows (default: one clip).
        last_window: the last-window rule. `"pad"` (the default) covers the
            end of every recording with a padded, masked window and keeps the
            windows on the clip grid, so that every labelled frame is scored
            once and scoring the raw model and scoring its fusion on cached
            clip features cut the same windows; `"align_end"` overlaps a last
            whole window instead.
        features_dir: features cached from the model's backbones (`emokeras
            extract-features`, or a two-stage run's `features/`): scores the
            model's fusion regressor on them, without running the backbones.
        batch_size: windows per prediction call.
        postprocess: also fit and score the post-processing.

    Returns:
        A JSON-able dict: `{"targets", "split", "unit", "label_processing",
        "raw": scores, "postprocessed": scores, "postprocessing": params,
        "by_presence": scores}` (scores as `score_results`; `by_presence`
        as `presence_scores`: raw scores where the face or the voice is
        missing and where both are there; for utterance-level corpora as
        `score_utterances`, and no post-processing: it filters series over
        time).
    """
    from emokeras.evaluation.frame_predictions import frame_presence
    from emokeras.evaluation.frame_predictions import model_frame_predictions
    from emokeras.models.av_emotion_regressor import training_settings

    settings = training_settings(model.data_contract, median_width=median_width, label_delays=label_delays)
    processing = {key: settings[key] for key in ("median_width", "label_delays") if key in settings}
    overrides = {"stride": stride} if stride else {}
    windows = model.window_geometry(label_delays=processing.get("label_delays"), last_window=last_window, **overrides)
    median = {"median_width": processing["median_width"]} if "median_width" in processing else {}
    options = dict(windows=windows, features_dir=features_dir, batch_size=batch_size, **median)
    test, targets = model_frame_predictions(model, data_dir, test_split, **options)
    # The data says how it is scored (one value per utterance, or per frame).
    metadata = shard_format.read_metadata(data_dir)
    unit = metadata["unit"]
    report = {"targets": targets, "split": test_split, "unit": unit, "label_processing": processing}
    if unit == "utterance":
        groups = None
        if metadata["scoring"] == "per_group":
            entries = shard_format.read_report(data_dir)["recordings"]
            groups = {rid: entries[rid].get("group", rid) for rid in test}
        report["raw"] = score_utterances(utterance_results(test), targets, groups)
        return report
    report["raw"] = score_results(test, targets)
    presence = frame_presence(data_dir, test_split, windows.frames_per_clip)
    report["by_presence"] = presence_scores(test, presence, targets)
    if postprocess:
        dev, _ = model_frame_predictions(model, data_dir, dev_split, **options)
        params = fit_postprocessing(dev, targets)
        report["postprocessing"] = {"fitted_on": dev_split, **params}
        report["postprocessed"] = score_results(apply_postprocessing(test, targets, params), targets)
    return report


def format_table(report, which="raw"):
    """A markdown table: one row per recording (and `all`), CCC / PCC /
    RMSE per target; for utterance-level scores one row over all
    utterances (and per group)."""
    targets = report["targets"]
    if report.get("unit") == "utterance":
        return _utterance_table(report[which], targets)
    scores = report[which]
    header = "| recording | " + " | ".join(f"{t} CCC | {t} PCC | {t} RMSE" for t in targets) + " |"
    rule = "|---|" + "---:|" * (3 * len(targets))
    rows = [header, rule]
    recordings = [r for r in scores[targets[0]] if r != ALL] + [ALL]
    for rid in recordings:
        cells = []
        for t in targets:
            s = scores[t][rid]
            cells += [f"{s['ccc']:.3f}", f"{s['pcc']:.3f}", f"{s['rmse']:.3f}"]
        name = f"**{rid}**" if rid == ALL else rid
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def presence_table(report):
    """A markdown table of `report["by_presence"]`: one row per stretch,
    its frames and CCC per target."""
    scores, targets = report["by_presence"], report["targets"]
    rows = [
        "| stretch | frames | " + " | ".join(f"{t} CCC" for t in targets) + " |",
        "|---|---:|" + "---:|" * len(targets),
    ]
    for name in PRESENCE_STRETCHES:
        cells = [f"{scores[t][name]['ccc']:.3f}" for t in targets]
        rows.append(f"| {name.replace('_', ' ')} | {scores['frames'][name]} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _utterance_table(scores, targets):
    header = "| utterances | count | " + " | ".join(f"{t} CCC | {t} PCC | {t} RMSE" for t in targets) + " |"
    rows = [header, "|---|---:|" + "---:|" * (3 * len(targets))]

    def row(name, per_target, count):
        cells = [
            f"{per_target[t]['ccc']:.3f} | {per_target[t]['pcc']:.3f} | {per_target[t]['rmse']:.3f}" for t in targets
        ]
        rows.append(f"| {name} | {count} | " + " | ".join(cells) + " |")

    first = scores[targets[0]]
    row(f"**{ALL}**", {t: scores[t][ALL] for t in targets}, first[ALL]["utterances"])
    if "per_group" in first:
        row(
            "**mean over groups**",
            {t: scores[t]["per_group_mean"] for t in targets},
            f"{first['per_group_mean']['groups']} groups",
        )
        for group in first["per_group"]:
            row(group, {t: scores[t]["per_group"][group] for t in targets}, first["per_group"][group]["utterances"])
    return "\n".join(rows)


def write_report(report, out_dir, stem="evaluation"):
    """Writes `<stem>.json` and `<stem>.md` (atomically); returns both paths."""
    from emokeras.atomic_write import write_json_atomically
    from emokeras.atomic_write import write_text_atomically

    out_dir = pathlib.Path(out_dir)
    json_path = write_json_atomically(out_dir / f"{stem}.json", report)
    unit = report.get("unit", "frame")
    how = (
        "Scored per utterance: one prediction per recording (the mean over its real frames), against its label."
        if unit == "utterance"
        else "Scored per frame, at the annotation rate."
    )
    text = [f"# Evaluation on {report['split']}", "", how, "", "## Raw predictions", "", format_table(report, "raw")]
    if "postprocessed" in report:
        params = report["postprocessing"]
        fitted = ", ".join(
            f"{t}: median {params[t]['median_width']}, delay {params[t]['delay']}, "
            f"scale {params[t]['scale']:.3f}, bias {params[t]['bias']:+.3f}"
            for t in report["targets"]
        )
        text += [
            "",
            f"## Post-processed (fitted on {params['fitted_on']}: {fitted})",
            "",
            format_table(report, "postprocessed"),
        ]
    if "by_presence" in report:
        text += ["", "## Where the face or the voice is missing (raw)", "", presence_table(report)]
    markdown_path = write_text_atomically(out_dir / f"{stem}.md", "\n".join(text) + "\n")
    return json_path, markdown_path
