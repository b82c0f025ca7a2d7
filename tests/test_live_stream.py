"""`emokeras stream`: a live HTTP stream served by another process gives
the clip predictions `predict` gives on the same media, while the stream
still runs; a prediction slower than the stream skips windows instead of
drifting behind; Ctrl-C stops it with every line written."""

import csv
import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.tiny import TINY_AV

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
# A window of the tiny model: 2 clips of 8 frames at 25 fps.
WINDOW_FRAMES = TINY_AV["clips"] * TINY_AV["frames_per_clip"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A 6 s synthetic talk as MPEG-TS (what the live server sends, so the
    stream and `predict` decode the same packets) and a tiny model."""
    import av
    import keras

    from emokeras.data.synthetic_corpus import write_synthetic_corpus
    from emokeras.models import AVEmotionRegressor

    root = tmp_path_factory.mktemp("live")
    write_synthetic_corpus(root / "synth", recordings=2, seconds=6, seed=3, image_size=32)
    talk = root / "talk.ts"
    with av.open(str(sorted((root / "synth").glob("*.mp4"))[0])) as source, av.open(str(talk), "w") as copy:
        copies = {s.index: copy.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is not None:
                packet.stream = copies[packet.stream.index]
                copy.mux(packet)
    keras.utils.set_random_seed(5)
    model = AVEmotionRegressor(**TINY_AV, training_data={"face_crop": False, "last_window": "pad"})
    model.save(root / "tiny.keras")
    return talk, root / "tiny.keras"


def _file_predictions(talk, model_path, stride):
    """`predict`'s per-frame series on the file, windows `stride` apart,
    the tail padded as the stream pads it."""
    from emokeras.models.av_emotion_regressor import geometry_of_contract
    from emokeras.prediction import LocalPredictor
    from emokeras.prediction import predict_video
    from emokeras.saving import load_model

    predictor = LocalPredictor(load_model(model_path, compile=False))
    windows = dataclasses.replace(geometry_of_contract(predictor.contract, stride=stride), last_window="pad")
    return predict_video(str(talk), predictor, windows=windows, progress=False)


def _clip_values(times, predictions, line, target):
    inside = (times >= line["start"] - 1e-6) & (times < line["end"] - 1e-6)
    values = predictions[target][inside]
    assert values.size and np.ptp(values) == 0  # one value per clip
    return values[0]


@pytest.mark.slow
def test_a_live_http_stream_gives_the_file_predictions_while_it_runs(live):
    talk, model_path = live
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.live_http_source", str(talk)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env=ENV,
    )
    port = int(server.stdout.readline().split()[1])
    # Windows side by side: every clip in exactly one window, so `predict`
    # gives each clip that window's value too.
    command = [sys.executable, "-m", "emokeras.cli", "stream", f"http://127.0.0.1:{port}", "--model"]
    command += [str(model_path), "--stride", str(WINDOW_FRAMES)]
    stream = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    arrivals = [(time.monotonic(), json.loads(line)) for line in stream.stdout]
    stderr = stream.stderr.read()
    assert stream.wait(timeout=120) == 0, stderr[-3000:]
    sent = server.stdout.readline().split()
    server.wait(timeout=60)
    stream_seconds, stream_ended = float(sent[1]), float(sent[2])

    lines = [line for _, line in arrivals]
    assert not [line for line in lines if line.get("skipped")], "the tiny model fell behind a 25 fps stream"
    # Every clip of the file, in order, once.
    times, predictions = _file_predictions(talk, model_path, WINDOW_FRAMES)
    assert [line["start"] for line in lines] == pytest.approx([0.32 * i for i in range(len(lines))])
    assert lines[-1]["end"] == pytest.approx(len(times) / 25)
    assert stream_seconds > 5.5, "the server did not pace the stream at its clock"
    # Lines came while the stream was still being sent, not at its end.
    early = [line for wall, line in arrivals if wall < stream_ended - 2.0]
    assert len(early) >= 5, (len(early), stream_ended - arrivals[0][0])

    for line in lines:
        for target in ("valence", "arousal"):
            assert line[target] == pytest.approx(_clip_values(times, predictions, line, target), abs=1e-5)
        # No face detection: the video counts as present. The synthetic talk
        # has silent stretches: the sound counts where it is above -50 dBFS.
        assert line["face"] is None
        voiced = line["voice_dbfs"] >= -50
        assert line["modalities"] == ["video", "audio"] if voiced else ["video"]
        assert 0 <= line["delay"] < 2.0
    assert 0 < sum("audio" in line["modalities"] for line in lines) < len(lines)


def test_a_prediction_slower_than_the_stream_skips_windows_and_stays_close(live):
    """Each window (one clip, 0.32 s, apart) takes 1 s to predict: in
    order, the delay would grow by 0.68 s a clip, to 11 s by the end; the
    stream instead predicts the newest window and says what it passed over."""
    from emokeras.prediction import LocalPredictor
    from emokeras.prediction.live_stream import stream_clip_predictions
    from emokeras.saving import load_model

    talk, model_path = live
    local = LocalPredictor(load_model(model_path, compile=False))

    class SlowPredictor:
        contract = local.contract

        def __call__(self, windows):
            time.sleep(1.0)
            return local(windows)

    lines = list(stream_clip_predictions(str(talk), SlowPredictor(), realtime=True))
    skipped = [line for line in lines if line.get("skipped")]
    predicted = [line for line in lines if not line.get("skipped")]
    assert skipped and predicted
    assert max(line["windows_skipped"] for line in predicted) >= 2
    # Every clip once, in order: predicted, or said to be skipped.
    assert [line["start"] for line in lines] == pytest.approx([0.32 * i for i in range(len(lines))])
    assert all(line["behind"] > 0 for line in skipped)
    # Bounded by about one prediction and one window, not growing.
    assert max(line["delay"] for line in predicted) < 3.0, [line["delay"] for line in predicted]

    # Without the sleep nothing is skipped, and a clip's line is its value in
    # the window it ends (the causal reading; `predict` also averages the
    # next window in). Clip 2k + 1 ends the window at clip 2k, which is
    # also a window of the side-by-side grid.
    lines = list(stream_clip_predictions(str(talk), local, realtime=True))
    assert not [line for line in lines if line.get("skipped")]
    times, side_by_side = _file_predictions(talk, model_path, WINDOW_FRAMES)
    # (A window passed over on a busy machine gives its clips another's.)
    compared = [line for line in lines[1::2] if not line["windows_skipped"]]
    assert len(compared) >= 0.8 * len(lines[1::2])
    for line in compared:
        assert line["valence"] == pytest.approx(_clip_values(times, side_by_side, line, "valence"), abs=1e-5)


@pytest.mark.slow
def test_ctrl_c_stops_the_stream_with_every_line_written(live, tmp_path):
    talk, model_path = live
    out, plot = tmp_path / "live.csv", tmp_path / "live.png"
    command = [sys.executable, "-m", "emokeras.cli", "stream", str(talk), "--realtime", "--model", str(model_path)]
    command += ["--csv", "--out", str(out), "--plot", str(plot)]
    stream = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 120
    while not (out.exists() and len(out.read_text().splitlines()) >= 4):
        assert stream.poll() is None, stream.stderr.read()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stream.send_signal(signal.SIGINT)
    _, stderr = stream.communicate(timeout=60)
    assert stream.returncode == 0, stderr[-3000:]
    assert "stopped (Ctrl-C)" in stderr
    rows = list(csv.DictReader(out.open()))
    assert 3 <= len(rows) < 18  # stopped before the end of the 6 s
    assert float(rows[-1]["end"]) < 6.0
    assert all(row["modalities"] in ("video+audio", "video") and np.isfinite(float(row["valence"])) for row in rows)
    assert plot.stat().st_size > 0
    assert f"{len(rows)} clip(s)" in stderr


def test_a_server_gets_whole_windows_and_gives_what_clips_encoded_once_give(live, tmp_path):
    """The same stream through TF Serving's gRPC protocol (a stand-in
    serving the exported SavedModel), where every window is predicted whole,
    and locally, where each clip is encoded once: the same lines."""
    from emokeras.prediction import LocalPredictor
    from emokeras.prediction import ServerPredictor
    from emokeras.prediction.live_stream import stream_clip_predictions
    from emokeras.saving import load_model
    from emokeras.serving.export import export_saved_model
    from tests.serving_standin import ModelStandIn
    from tests.serving_standin import make_grpc_server

    talk, model_path = live
    model = load_model(model_path, compile=False)
    export_saved_model(model, tmp_path / "emokeras", version=1)
    server, target = make_grpc_server(ModelStandIn(tmp_path / "emokeras"))
    try:
        timings = {}
        served = list(stream_clip_predictions(str(talk), ServerPredictor(target), timings=timings))
        assert timings["prediction"] > 0 and "visual_backbone" not in timings
    finally:
        server.stop(0)
    timings = {}
    local = list(stream_clip_predictions(str(talk), LocalPredictor(model), timings=timings))
    assert timings["visual_backbone"] > 0 and timings["fusion"] > 0
    assert len(served) == len(local) > 10
    for one, other in zip(served, local):
        assert (one["start"], one["end"]) == (other["start"], other["end"])
        for target_name in ("valence", "arousal"):
            assert one[target_name] == pytest.approx(other[target_name], abs=1e-5)


def test_one_modality_and_the_sound_from_a_second_source(live, tmp_path):
    """An audio-only model streams a sound file; a fused model takes the
    pictures of a silent video and the sound of a second source (each on
    its own clock, as `predict --audio` reads them), with `predict`'s
    values."""
    import av
    import keras

    from emokeras.models import AVEmotionRegressor
    from emokeras.models.av_emotion_regressor import geometry_of_contract
    from emokeras.prediction import LocalPredictor
    from emokeras.prediction import predict_video
    from emokeras.prediction.live_stream import stream_clip_predictions
    from emokeras.saving import load_model

    talk, model_path = live
    silent, sound = tmp_path / "silent.ts", tmp_path / "sound.ts"
    with av.open(str(talk)) as source, av.open(str(silent), "w") as pictures, av.open(str(sound), "w") as voice:
        copies = {
            source.streams.video[0].index: (pictures, pictures.add_stream_from_template(source.streams.video[0])),
            source.streams.audio[0].index: (voice, voice.add_stream_from_template(source.streams.audio[0])),
        }
        for packet in source.demux():
            if packet.dts is not None:
                container, packet.stream = copies[packet.stream.index]
                container.mux(packet)
    fused = LocalPredictor(load_model(model_path, compile=False))
    apart = list(stream_clip_predictions(str(silent), fused, audio=str(sound), stride=WINDOW_FRAMES))
    windows = dataclasses.replace(geometry_of_contract(fused.contract, stride=WINDOW_FRAMES), last_window="pad")
    times, predicted = predict_video(str(silent), fused, audio=str(sound), windows=windows, progress=False)
    assert len(apart) > 10
    for line in apart:
        assert line["valence"] == pytest.approx(_clip_values(times, predicted, line, "valence"), abs=1e-5)
    with pytest.raises(ValueError, match="has no audio stream, but the model reads audio: give --audio"):
        list(stream_clip_predictions(str(silent), fused))

    keras.utils.set_random_seed(2)
    audio_only = AVEmotionRegressor(**{**TINY_AV, "fusion": "audio_only"}, training_data={"last_window": "pad"})
    lines = list(stream_clip_predictions(str(sound), LocalPredictor(audio_only)))
    assert len(lines) > 10 and all(line["modalities"] in (["audio"], []) for line in lines)
    assert all(line["face"] is None for line in lines)
