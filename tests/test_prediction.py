"""`emokeras predict`: windows over a whole video, stitched back per frame,
in-process and through TF Serving's protocols."""

import csv
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from emokeras.data import centre_crop
from emokeras.data import iter_video_frames
from emokeras.data import load_audio
from emokeras.models import build_av_model
from emokeras.prediction import LocalPredictor
from emokeras.prediction import ServerPredictor
from emokeras.prediction import predict_video
from emokeras.serving import export_saved_model
from tests.media_factory import write_media
from tests.serving_standin import ModelStandIn
from tests.serving_standin import make_grpc_server
from tests.serving_standin import make_rest_server
from tests.tiny import TINY_AV

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return build_av_model(**TINY_AV)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_media(tmp_path_factory.mktemp("video") / "talk.mov", seconds=3.0, fps=25, size=(64, 48))


def _stitched_by_hand(model, video, stride):
    """The same result computed window by window with NumPy."""
    frames = np.stack([centre_crop(f, 16) for _, f in iter_video_frames(video, 25)])
    audio = load_audio(video)
    starts = list(range(0, len(frames) - 16 + 1, stride))
    if starts[-1] != len(frames) - 16:
        starts.append(len(frames) - 16)
    sums, counts = np.zeros((len(frames), 2)), np.zeros(len(frames))
    for start in starts:
        outputs = model.predict(
            {"video": frames[None, start : start + 16], "audio": audio[None, start * 640 : (start + 16) * 640]},
            verbose=0,
        )
        for clip in range(2):
            span = slice(start + 8 * clip, start + 8 * clip + 8)
            sums[span, 0] += outputs["valence"][0, clip]
            sums[span, 1] += outputs["arousal"][0, clip]
            counts[span] += 1
    return sums / counts[:, None]


@pytest.mark.parametrize("stride", [8, 16, 5])
def test_stitched_predictions_match_a_window_by_window_computation(model, video, stride):
    windows = model.window_geometry(stride=stride)
    times, predictions = predict_video(
        video, LocalPredictor(model), windows=windows, face_crop=False, batch_size=3, progress=False
    )
    assert len(times) == 75 and times[1] == pytest.approx(0.04)
    expected = _stitched_by_hand(model, video, stride)
    np.testing.assert_allclose(predictions["valence"], expected[:, 0], atol=1e-5)
    np.testing.assert_allclose(predictions["arousal"], expected[:, 1], atol=1e-5)


def test_a_video_shorter_than_one_clip_is_refused(model, tmp_path):
    short = write_media(tmp_path / "short.mov", seconds=0.2, fps=25)
    with pytest.raises(ValueError, match=r"short.mov has 5 frames \(0.20 s\), shorter than one clip of 8 frames"):
        predict_video(short, LocalPredictor(model), face_crop=False, progress=False)


def test_cli_writes_csv_and_plot(model, video, tmp_path):
    model.save(tmp_path / "model.keras")
    labels = tmp_path / "talk.csv"
    labels.write_text("time,valence,arousal\n" + "".join(f"{k / 25:.2f},0.1,-0.2\n" for k in range(75)))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emokeras.cli",
            "predict",
            str(video),
            "--model",
            str(tmp_path / "model.keras"),
            "--labels",
            str(labels),
            "--out",
            str(tmp_path / "out"),
            "--no-face-crop",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.reader(open(tmp_path / "out" / "talk_predictions.csv")))
    assert rows[0] == ["time", "arousal", "valence", "arousal_true", "valence_true"]
    assert len(rows) == 76 and rows[1][3] == "-0.20000"
    png = (tmp_path / "out" / "talk_predictions.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_predicting_through_the_server_protocols(model, video, tmp_path):
    export_saved_model(model, tmp_path / "emokeras", version=1)
    stand_in = ModelStandIn(tmp_path / "emokeras")
    rest, rest_url = make_rest_server(stand_in)
    grpc_server, grpc_target = make_grpc_server(stand_in)
    try:
        _, expected = predict_video(video, LocalPredictor(model), face_crop=False, progress=False)
        over_grpc_predictor = ServerPredictor(grpc_target)
        # The served data contract is the model's own, not a guess from shapes.
        assert over_grpc_predictor.contract == model.data_contract
        assert ServerPredictor(rest_url).contract == model.data_contract
        _, over_grpc = predict_video(video, over_grpc_predictor, face_crop=False, progress=False)
        np.testing.assert_allclose(over_grpc["valence"], expected["valence"], atol=1e-5)
        # JPEG frames over REST.
        _, over_rest = predict_video(video, ServerPredictor(rest_url), face_crop=False, progress=False)
        # JPEG compression moves pixels by a few levels: close, not equal.
        np.testing.assert_allclose(over_rest["arousal"], expected["arousal"], atol=0.02)
        # Padded windows: a clip shorter than a window, and tails under "pad".
        short = write_media(tmp_path / "short.mov", seconds=0.44, fps=25)
        padded_tail = model.window_geometry(last_window="pad", stride=5)
        for clip, windows in ((short, None), (video, padded_tail)):
            times, local = predict_video(clip, LocalPredictor(model), windows=windows, face_crop=False, progress=False)
            _, served = predict_video(clip, over_grpc_predictor, windows=windows, face_crop=False, progress=False)
            assert len(served["valence"]) == len(times) and not np.isnan(served["valence"]).any()
            np.testing.assert_allclose(served["valence"], local["valence"], atol=1e-5)
    finally:
        rest.shutdown()
        grpc_server.stop(0)


def test_attention_maps_follow_the_papers_equations(model, video, tmp_path):
    from tests.numpy_references import cross_attention_paper

    frames = np.stack([centre_crop(f, 16) for _, f in iter_video_frames(video, 25)])[None, :16]
    audio = load_audio(video)[None, : 16 * 640]
    audio_map, visual_map = model.cross_attention_maps({"video": frames, "audio": audio})
    # Independent: encoder features, L2-normalised in NumPy, through equations (1)-(4).
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    x_v = unit(np.asarray(model.visual_encoder(frames)))[0].T
    x_a = unit(np.asarray(model.audio_encoder(audio)))[0].T
    kernel = np.asarray(model.fusion_regressor.get_layer("cross_attention").kernel)
    _, _, want_a, want_v = cross_attention_paper(x_a, x_v, kernel)
    np.testing.assert_allclose(audio_map[0], want_a, atol=1e-5)
    np.testing.assert_allclose(visual_map[0], want_v, atol=1e-5)

    model.save(tmp_path / "model.keras")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emokeras.cli",
            "predict",
            str(video),
            "--model",
            str(tmp_path / "model.keras"),
            "--out",
            str(tmp_path / "out"),
            "--no-face-crop",
            "--attention-maps",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    png = (tmp_path / "out" / "talk_attention.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
