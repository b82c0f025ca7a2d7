"""Any length: windows padded at the end with a validity mask, from the
dataset through the loss and the metric, evaluation and prediction (every
fusion's padding invariance is checked with the model contract in
test_av_model.py, the serving side in test_serving.py)."""

import json

import keras
import numpy as np
import pytest

from emokeras.data import Recording
from emokeras.data import WindowGeometry
from emokeras.data import make_dataset
from emokeras.data import prepare_recordings
from emokeras.losses import ConcordanceCorrelationLoss
from emokeras.metrics import ConcordanceCorrelation
from emokeras.models import build_av_model
from emokeras.prediction import LocalPredictor
from emokeras.prediction import predict_video
from tests.media_factory import write_media
from tests.tiny import TINY_AV

CLOCK = dict(frame_rate=25, sample_rate=16000)


def _numpy_ccc(truth, prediction, weight):
    truth, prediction, weight = (np.asarray(a, np.float64).ravel() for a in (truth, prediction, weight))
    mean_t, mean_p = np.average(truth, weights=weight), np.average(prediction, weights=weight)
    covariance = np.average((truth - mean_t) * (prediction - mean_p), weights=weight)
    var_t = np.average((truth - mean_t) ** 2, weights=weight)
    var_p = np.average((prediction - mean_p) ** 2, weights=weight)
    return 2 * covariance / (var_t + var_p + (mean_t - mean_p) ** 2)


def test_loss_and_metric_leave_padded_clips_out():
    rng = np.random.default_rng(3)
    truth, prediction = rng.normal(size=(4, 8)), rng.normal(size=(4, 8))
    # Windows holding 8, 5, 3 and 1 clips; padded clips get wild values.
    weight = (np.arange(8)[None, :] < np.array([8, 5, 3, 1])[:, None]).astype("float32")
    prediction[weight == 0] = 1e3
    valid = weight > 0
    expected = _numpy_ccc(truth[valid], prediction[valid], np.ones(valid.sum()))
    loss = ConcordanceCorrelationLoss()(truth, prediction, sample_weight=weight)
    assert float(loss) == pytest.approx(1 - expected, abs=1e-6)
    metric = ConcordanceCorrelation()
    metric.update_state(truth[:2], prediction[:2], sample_weight=weight[:2])
    metric.update_state(truth[2:], prediction[2:], sample_weight=weight[2:])
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)
    # A partly filled clip weighs by its share of real frames.
    weight[1, 4] = 7 / 16
    loss = ConcordanceCorrelationLoss()(truth, prediction, sample_weight=weight)
    assert float(loss) == pytest.approx(1 - _numpy_ccc(truth, prediction, weight), abs=1e-6)


@pytest.fixture(scope="module")
def mixed_corpus(tmp_path_factory):
    """Recordings of 0.5 s, 1 s and 3 s (windows of 4 clips of 8 frames =
    1.28 s): two shorter than a window, one with a tail."""
    folder = tmp_path_factory.mktemp("mixed")
    recordings = []
    for name, seconds in (("half", 0.5), ("one", 1.0), ("three", 3.0)):
        video = write_media(folder / f"{name}.mov", seconds=seconds, fps=25, size=(32, 32))
        times = np.arange(0, seconds, 0.04)
        rows = "".join(f"{t:.2f},{np.sin(t):.5f},{np.cos(3 * t):.5f}\n" for t in times)
        (folder / f"{name}.csv").write_text("time,valence,arousal\n" + rows)
        recordings.append(Recording(name, str(video), label_csv=str(folder / f"{name}.csv")))
    windows = WindowGeometry(clips=4, frames_per_clip=8, **CLOCK)
    report = prepare_recordings(
        recordings,
        folder / "prepared",
        **CLOCK,
        image_size=16,
        face_crop=False,
        min_frames=8,
        windows=windows,
        workers=1,
        progress=False,
    )
    return folder / "prepared", report, windows


def test_prepare_reports_windows_and_padded_clips(mixed_corpus):
    _, report, windows = mixed_corpus
    assert report["windows"]["clips"] == 4 and report["failed"] == []
    entries = report["recordings"]
    # 12 frames: one window, 2 of its 4 clips hold real frames (the second
    # partly); 25 frames: 4 real clips, the last with 1 frame; 75 frames:
    # whole windows, the tail aligned to the end.
    assert [
        (entries[n]["frames"], entries[n]["windows"], entries[n]["padded_clips"]) for n in ("half", "one", "three")
    ] == [
        (12, 1, 2),
        (25, 1, 0),
        (75, len(windows.starts(75)), 0),
    ]


def test_a_batch_of_short_and_long_recordings_trains(mixed_corpus):
    prepared, _, windows = mixed_corpus
    dataset = make_dataset(prepared, "train", windows=windows, batch_size=6, seed=0)
    inputs, targets, weights = next(iter(dataset))
    valid = sorted(inputs["valid_frames"].numpy().tolist())
    assert valid[0] == 12 and valid[-1] == 32  # short and whole windows in one batch
    short = int(np.argmin(inputs["valid_frames"].numpy()))
    # 12 real labelled frames: clip 0 whole, clip 1 half, clips 2-3 padding.
    np.testing.assert_allclose(weights["valence"].numpy()[short], [1.0, 0.5, 0.0, 0.0])
    keras.utils.set_random_seed(0)
    # A frozen I3D: the data path is under test, not the 3D convolutions' gradient.
    model = build_av_model(**{**TINY_AV, "clips": 4}, freeze_visual_backbone=True)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss={t: ConcordanceCorrelationLoss() for t in ("valence", "arousal")},
        weighted_metrics={t: [ConcordanceCorrelation(name="ccc")] for t in ("valence", "arousal")},
    )
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(dataset, epochs=1, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert any(not np.array_equal(b, np.array(w)) for b, w in zip(before, model.trainable_weights))


def _by_hand(model, frames, audio, starts, windows):
    """Stitched predictions computed window by window with NumPy padding."""
    sums, counts = np.zeros((len(frames), 2)), np.zeros(len(frames))
    for start in starts:
        valid = windows.valid_frames(start, len(frames))
        video = np.concatenate(
            [frames[start : start + valid]] + [frames[start + valid - 1 : start + valid]] * (16 - valid)
        )
        sound = np.pad(audio[start * 640 : (start + valid) * 640], (0, (16 - valid) * 640))
        outputs = model.predict(
            {"video": video[None], "audio": sound[None], "valid_frames": np.array([valid])}, verbose=0
        )
        for clip in range(-(-valid // 8)):
            span = slice(start + 8 * clip, min(start + 8 * clip + 8, len(frames)))
            sums[span] += [outputs["valence"][0, clip], outputs["arousal"][0, clip]]
            counts[span] += 1
    return sums / counts[:, None]


@pytest.mark.parametrize("seconds, rule", [(0.4, "align_end"), (1.5, "align_end"), (1.5, "pad")])
def test_every_frame_gets_one_prediction_under_every_rule(seconds, rule, tmp_path):
    from emokeras.data import centre_crop
    from emokeras.data import iter_video_frames
    from emokeras.data import load_audio

    keras.utils.set_random_seed(3)
    model = build_av_model(**TINY_AV)
    video = write_media(tmp_path / "clip.mov", seconds=seconds, fps=25, size=(48, 48))
    windows = model.window_geometry(last_window=rule)
    times, predictions = predict_video(
        video, LocalPredictor(model), windows=windows, face_crop=False, batch_size=2, progress=False
    )
    frames = np.stack([centre_crop(f, 16) for _, f in iter_video_frames(video, 25)])
    assert len(times) == len(frames) and abs(len(frames) - seconds * 25) <= 1
    assert not np.isnan(predictions["valence"]).any()  # every real frame, under every rule
    expected = _by_hand(model, frames, load_audio(video), windows.starts(len(frames)), windows)
    np.testing.assert_allclose(predictions["valence"], expected[:, 0], atol=1e-5)
    np.testing.assert_allclose(predictions["arousal"], expected[:, 1], atol=1e-5)


def test_evaluation_scores_each_labelled_frame_once_and_no_padding(mixed_corpus, tmp_path):
    from emokeras.evaluation.frame_predictions import model_frame_predictions

    prepared, _, windows = mixed_corpus
    keras.utils.set_random_seed(4)
    model = build_av_model(**{**TINY_AV, "clips": 4})
    for rule in ("pad", "align_end"):
        results, _ = model_frame_predictions(model, prepared, "train", model.window_geometry(last_window=rule))
        counts = {rid: len(prediction) for rid, (prediction, _, _) in results.items()}
        assert counts == {"half": 12, "one": 25, "three": 75}
        assert all(not np.isnan(prediction).any() for prediction, _, _ in results.values())


@pytest.mark.slow
def test_the_six_crema_d_clips_prepare_train_and_predict_at_the_paper_geometry(tmp_path, shared_file):
    """Real 2.2 s utterances (55 frames at 25 fps) at 8 x 16 frames, 224 px."""
    import csv

    from emokeras.cli import main

    folder = shared_file("real_media/crema_d/1001_DFA_HAP_XX.flv").parent
    names = sorted(path.stem for path in folder.glob("1001_DFA_*.flv"))
    assert len(names) == 6
    # One value per utterance: a coarse valence of the intended emotion (the
    # data path is under test; CREMA-D's crowd ratings need a corpus reader).
    valence = {"ANG": -0.5, "DIS": -0.4, "FEA": -0.3, "HAP": 0.6, "NEU": 0.0, "SAD": -0.5}
    splits = ["train", "train", "train", "train", "dev", "test"]
    lines = ["recording_id,video,audio,labels,split,valence"]
    for name, split in zip(names, splits):
        lines.append(f"{name},{folder / (name + '.flv')},,,{split},{valence[name.split('_')[2]]}")
    (tmp_path / "crema_d.csv").write_text("\n".join(lines) + "\n")
    prepared = tmp_path / "prepared"
    assert main(["prepare", str(tmp_path / "crema_d.csv"), "--out", str(prepared), "--workers", "1"]) == 0
    report = json.loads((prepared / "report.json").read_text())
    for name in names:
        entry = report["recordings"][name]
        # About 2.2 s: one window of 128 frames, its 8 clips of 16 partly padding.
        assert entry["status"] == "ok" and 40 <= entry["frames"] < 128, entry
        assert entry["windows"] == 1 and entry["padded_clips"] == 8 - -(-entry["frames"] // 16), entry
    config = tmp_path / "run.yaml"
    # The paper's geometry (8 clips of 16 frames, 224 px) with slim networks:
    # the data path is what is tested, and a full-width I3D would take minutes.
    config.write_text(
        "visual_weights: null\nwidth_multiplier: 0.125\nepochs: 1\nstage1_epochs: 0\nbatch_size: 2\n"
        "lr_schedule: constant\naudio_filters: [8, 16, 32, 64, 128]\nhead_units: [16]\nlstm_units: 8\n"
    )
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--data", str(prepared), "--out", str(out)]) == 0
    evaluation = json.loads((out / "evaluation.json").read_text())
    # One value per recording: scored per utterance (the test split holds one).
    assert evaluation["unit"] == "utterance"
    assert evaluation["raw"]["valence"]["all"]["utterances"] == 1
    scored = evaluation["raw"]["valence"][names[-1]]
    assert scored["truth"] == pytest.approx(valence["SAD"]) and -1 <= scored["prediction"] <= 1
    video = folder / f"{names[0]}.flv"
    assert (
        main(["predict", str(video), "--model", str(out / "model.keras"), "--out", str(tmp_path / "predictions")]) == 0
    )
    table = list(csv.DictReader(open(tmp_path / "predictions" / f"{names[0]}_predictions.csv")))
    assert len(table) == report["recordings"][names[0]]["frames"]  # one row per real frame
