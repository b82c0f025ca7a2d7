"""AVEC-style post-processing of per-frame predictions: median filter,
delay, bias and scale, fitted on the development split only."""

import numpy as np

from emokeras.metrics.ccc import concordance_correlation

MEDIAN_WIDTHS = (1, 3, 5, 9, 15, 25, 41)
DELAYS = tuple(range(0, 101, 4))


def _ccc(prediction, truth, mask):
    return float(concordance_correlation(truth[mask], prediction[mask]))


def smooth_and_shift(series, median_width, delay):
    """Median filter of `median_width` frames, then shift later by `delay`
    frames (the prediction for frame t is used for frame t + delay; the
    first `delay` frames repeat the first value)."""
    series = np.asarray(series, np.float64)
    if median_width > 1:
        half = median_width // 2
        padded = np.pad(series, half, mode="edge")
        series = np.median(np.lib.stride_tricks.sliding_window_view(padded, median_width), axis=1)
    if delay:
        # A recording shorter than the delay (an utterance) is all first value.
        delay = min(delay, len(series))
        series = np.concatenate([np.full(delay, series[0]), series[: len(series) - delay]])
    return series


def fit_postprocessing(results, targets):
    """Chooses, per target, the median width and delay that maximise the
    CCC on `results` (the development split), then the bias and scale
    that map the processed predictions' mean and standard deviation onto
    the labels'.

    Args:
        results: `{recording_id: (predictions, labels, mask)}`, `(F, targets)`.
        targets: names of the columns.

    Returns:
        `{target: {"median_width", "delay", "bias", "scale"}}`.
    """
    params = {}
    for j, target in enumerate(targets):
        best = None
        for width in MEDIAN_WIDTHS:
            for delay in DELAYS:
                pred, true, mask = _concatenated(results, j, width, delay)
                if mask.sum() < 2:
                    continue
                score = _ccc(pred, true, mask)
                if best is None or score > best[0]:
                    best = (score, width, delay)
        _, width, delay = best
        pred, true, mask = _concatenated(results, j, width, delay)
        pred_std = pred[mask].std()
        scale = float(true[mask].std() / pred_std) if pred_std > 0 else 1.0
        bias = float(true[mask].mean() - scale * pred[mask].mean())
        params[target] = {"median_width": width, "delay": delay, "bias": bias, "scale": scale}
    return params


def apply_postprocessing(results, targets, params):
    """`results` with every recording's predictions processed by `params`."""
    processed = {}
    for rid, (pred, true, mask) in results.items():
        columns = []
        for j, target in enumerate(targets):
            p = params[target]
            series = smooth_and_shift(_filled(pred[:, j]), p["median_width"], p["delay"])
            columns.append(p["scale"] * series + p["bias"])
        processed[rid] = (np.stack(columns, axis=1).astype(np.float32), true, mask)
    return processed


def _filled(series):
    """Frames no window covered (NaN) take the nearest covered value."""
    series = np.asarray(series, np.float64)
    valid = np.flatnonzero(~np.isnan(series))
    if len(valid) == len(series) or not len(valid):
        return series
    return np.interp(np.arange(len(series)), valid, series[valid])


def _concatenated(results, j, width, delay):
    preds, trues, masks = [], [], []
    for pred, true, mask in results.values():
        preds.append(smooth_and_shift(_filled(pred[:, j]), width, delay))
        trues.append(true[:, j])
        masks.append(mask[:, j] & ~np.isnan(preds[-1]))
    return np.concatenate(preds), np.concatenate(trues), np.concatenate(masks)
