"""Evaluation at the annotation rate: window -> frame stitching, scores
against independent formulas, and dev-fitted post-processing."""

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from emokeras.data import WindowGeometry
from emokeras.evaluation.evaluate import format_table
from emokeras.evaluation.evaluate import score_results
from emokeras.evaluation.evaluate import series_scores
from emokeras.evaluation.frame_predictions import frame_predictions
from emokeras.evaluation.postprocessing import apply_postprocessing
from emokeras.evaluation.postprocessing import fit_postprocessing
from emokeras.evaluation.postprocessing import smooth_and_shift


def _window_batches(starts, recording="rec"):
    """Eval-mode batches for windows of 2 clips x 2 frames; the "model"
    predicts clip value = 10 * window start + clip index."""
    for start in starts:
        info = {"recording_id": tf.constant([recording.encode()]), "start_frame": tf.constant([start])}
        yield {"start": np.array([start])}, None, info


def test_overlapping_windows_are_averaged_per_frame():
    def predict(inputs):
        start = inputs["start"][0]
        return {"valence": np.array([[10.0 * start, 10.0 * start + 1]])}

    # Windows of 4 frames at starts 0, 2, 4 over 9 frames (frame 8 uncovered).
    windows = WindowGeometry(clips=2, frames_per_clip=2, frame_rate=25, sample_rate=16000)
    result = frame_predictions(predict, _window_batches([0, 2, 4]), ["valence"], {"rec": 9}, windows)
    # frame: 0-1 window 0 clip 0 (0); 2-3 window 0 clip 1 (1) and window 2
    # clip 0 (20) -> 10.5; 4-5 window 2 clip 1 (21) and window 4 clip 0 (40);
    # 6-7 window 4 clip 1 (41).
    np.testing.assert_allclose(result["rec"][:8, 0], [0, 0, 10.5, 10.5, 30.5, 30.5, 41, 41])
    assert np.isnan(result["rec"][8, 0])


def _reference_ccc(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    covariance = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * covariance / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def test_scores_against_independent_formulas():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=300)
    prediction = 0.6 * truth + rng.normal(scale=0.5, size=300) + 0.2
    mask = rng.random(300) > 0.1
    prediction_with_gap = prediction.copy()
    prediction_with_gap[:5] = np.nan  # frames no window covered
    scores = series_scores(prediction_with_gap, truth, mask)
    keep = mask.copy()
    keep[:5] = False
    assert scores["frames"] == keep.sum()
    assert scores["ccc"] == pytest.approx(_reference_ccc(prediction[keep], truth[keep]), abs=1e-5)
    assert scores["pcc"] == pytest.approx(scipy.stats.pearsonr(prediction[keep], truth[keep])[0], abs=1e-9)
    assert scores["rmse"] == pytest.approx(np.sqrt(np.mean((prediction[keep] - truth[keep]) ** 2)), abs=1e-9)


def test_all_recordings_are_scored_concatenated_not_averaged():
    # Two recordings, each perfectly correlated but offset: per-recording PCC
    # is 1, while the concatenated CCC sees the offsets.
    t = np.linspace(-1, 1, 50)
    results = {
        "a": (np.stack([t + 0.5], 1), np.stack([t], 1), np.ones((50, 1), bool)),
        "b": (np.stack([t - 0.5], 1), np.stack([t], 1), np.ones((50, 1), bool)),
    }
    scores = score_results(results, ["arousal"])["arousal"]
    assert scores["a"]["pcc"] == pytest.approx(1.0)
    expected = _reference_ccc(np.concatenate([t + 0.5, t - 0.5]), np.concatenate([t, t]))
    assert scores["all"]["ccc"] == pytest.approx(expected, abs=1e-5)
    assert scores["all"]["ccc"] < 0.9 < scores["a"]["pcc"]
    table = format_table({"targets": ["arousal"], "raw": score_results(results, ["arousal"])})
    assert table.splitlines()[0] == "| recording | arousal CCC | arousal PCC | arousal RMSE |"
    assert table.splitlines()[-1].startswith("| **all** |")


def _lagged(truth, lag, scale, bias):
    """A prediction that runs `lag` frames ahead of the labels, scaled."""
    return scale * np.concatenate([truth[lag:], np.full(lag, truth[-1])]) + bias


def test_postprocessing_fitted_on_dev_recovers_delay_scale_and_bias():
    rng = np.random.default_rng(1)
    frames = 600

    def smooth_series():
        return np.convolve(rng.normal(size=frames + 60), np.ones(30) / 30, mode="same")[30:-30]

    dev = {}
    test = {}
    for name, store in (("d1", dev), ("d2", dev), ("t1", test)):
        truth = smooth_series()
        prediction = _lagged(truth, 8, 0.5, 0.3)
        store[name] = (prediction[:, None].astype(np.float32), truth[:, None], np.ones((frames, 1), bool))
    params = fit_postprocessing(dev, ["valence"])["valence"]
    assert params["delay"] == 8
    assert params["scale"] == pytest.approx(2.0, rel=0.02)
    assert params["bias"] == pytest.approx(-0.6, abs=0.02)
    raw = score_results(test, ["valence"])["valence"]["all"]["ccc"]
    processed = score_results(apply_postprocessing(test, ["valence"], {"valence": params}), ["valence"])
    assert raw < 0.9
    assert processed["valence"]["all"]["ccc"] > 0.99


def test_smooth_and_shift_against_a_direct_computation():
    series = np.array([0.0, 5.0, 1.0, 2.0, 9.0, 3.0, 4.0])
    # Median of 3 with edge padding, then 2 frames later.
    medians = [np.median(np.pad(series, 1, mode="edge")[i : i + 3]) for i in range(len(series))]
    expected = [medians[0], medians[0]] + medians[:-2]
    np.testing.assert_allclose(smooth_and_shift(series, 3, 2), expected)
    # A series shorter than the delay (a 2 s utterance against a 4 s delay)
    # keeps its length: every frame takes the first value.
    np.testing.assert_allclose(smooth_and_shift(series, 1, 100), [series[0]] * len(series))
    padded = np.pad(series, 20, mode="edge")
    medians = [np.median(padded[i : i + 41]) for i in range(len(series))]
    np.testing.assert_allclose(smooth_and_shift(series, 41, 7), [medians[0]] * len(series))
