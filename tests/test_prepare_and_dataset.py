"""`emokeras prepare` -> shards -> `make_dataset` / feature cache, on
generated media whose pixels and samples encode time, on a miniature RECOLA
tree, on bad input and on real media."""

import dataclasses
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from emokeras.data import PrepareError
from emokeras.data import Recording
from emokeras.data import WindowGeometry
from emokeras.data import make_dataset
from emokeras.data import prepare_recordings
from emokeras.data import read_manifest
from emokeras.data import recola_recordings
from tests.media_factory import ramp_time
from tests.media_factory import read_frame_code
from tests.media_factory import write_media

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLOCK = dict(frame_rate=25, sample_rate=16000)
SMALL = dict(**CLOCK, image_size=32, face_crop=False, min_frames=32, progress=False, workers=1)
# Windows of 2 clips of 16 frames, one clip apart.
WINDOWS = WindowGeometry(clips=2, frames_per_clip=16, **CLOCK)


def _labels_csv(path, seconds, rate=25, nan_row=None):
    times = np.arange(0, seconds, 1 / rate)
    rows = [f"{t:.4f},{t / 10:.6f},{-t / 10:.6f}" for t in times]
    if nan_row is not None:
        rows[nan_row] = f"{times[nan_row]:.4f},nan,0.0"
    path.write_text("time,valence,arousal\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    rows = ["recording_id,video,audio,labels,split"]
    for index, split in enumerate(["train", "train", "dev"]):
        write_media(folder / f"r{index}.mov", seconds=6.0, fps=25, size=(64, 48))
        _labels_csv(folder / f"r{index}.csv", 6.0)
        rows.append(f"r{index},r{index}.mov,,r{index}.csv,{split}")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def prepared(corpus):
    out = corpus / "prepared"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emokeras.cli",
            "prepare",
            str(corpus / "manifest.csv"),
            "--out",
            str(out),
            "--image-size",
            "32",
            "--no-face-crop",
            "--min-frames",
            "32",
            "--workers",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3 recording(s) ready" in result.stdout
    return out


def test_prepare_writes_shards_and_a_report(prepared):
    report = json.loads((prepared / "report.json").read_text())
    assert report["failed"] == []
    for recording_id, split in [("r0", "train"), ("r1", "train"), ("r2", "dev")]:
        entry = report["recordings"][recording_id]
        assert entry["status"] == "ok" and entry["split"] == split
        assert entry["frames"] == 150 and entry["duration"] == 6.0
        assert (prepared / "shards" / split / f"{recording_id}.tfrecord").exists()
    assert not list(prepared.rglob("*.partial"))
    metadata = json.loads((prepared / "metadata.json").read_text())
    assert metadata["targets"] == ["valence", "arousal"] and metadata["samples_per_frame"] == 640


def test_rerun_skips_finished_recordings(prepared, corpus):
    shard = prepared / "shards" / "train" / "r0.tfrecord"
    before = (shard.stat().st_mtime_ns, (prepared / "report.json").read_text())
    ended = subprocess.Popen([sys.executable, "-c", "pass"])  # a writer that is gone
    ended.wait()
    (shard.parent / f".r1.tfrecord.{ended.pid}.partial").write_bytes(b"half a shard from a killed run")
    report = prepare_recordings(read_manifest(corpus / "manifest.csv"), prepared, **SMALL)
    assert (shard.stat().st_mtime_ns, (prepared / "report.json").read_text()) == before
    assert report["failed"] == [] and not list(prepared.rglob("*.partial"))
    with pytest.raises(ValueError, match="other settings \\(image_size"):
        prepare_recordings(read_manifest(corpus / "manifest.csv"), prepared, **{**SMALL, "image_size": 64})


def test_training_dataset_yields_the_models_inputs(prepared):
    dataset = make_dataset(prepared, "train", windows=WINDOWS, batch_size=4, seed=1)
    inputs, targets, weights = next(iter(dataset))
    assert inputs["video"].shape == (4, 32, 32, 32, 3) and inputs["video"].dtype.name == "uint8"
    assert inputs["audio"].shape == (4, 32 * 640) and inputs["audio"].dtype.name == "float32"
    assert inputs["valid_frames"].numpy().tolist() == [32] * 4  # 6 s recordings: whole windows
    assert set(targets) == {"valence", "arousal"} and targets["valence"].shape == (4, 2)
    assert np.all(weights["arousal"].numpy() == 1.0)  # every clip real and labelled
    # Windows start at random offsets in training; the seed makes it repeatable.
    starts = lambda: [read_frame_code(x["video"][b, 0].numpy()) for x, _, _ in dataset.take(3) for b in range(4)]
    first = starts()
    assert first == starts() or len(set(first)) > 1


def test_eval_windows_align_video_audio_and_labels(prepared):
    seen = []
    for inputs, targets, info in make_dataset(prepared, "train", mode="eval", windows=WINDOWS, batch_size=5):
        for b in range(len(info["start_frame"])):
            start = int(info["start_frame"][b])
            assert float(info["start_time"][b]) == start / 25
            seen.append((info["recording_id"][b].numpy().decode(), start))
            video, audio = inputs["video"][b].numpy(), inputs["audio"][b].numpy()
            # Frame k of the window is source frame start + k (25 fps source).
            assert [read_frame_code(video[k]) for k in (0, 15, 31)] == [start, start + 15, start + 31]
            # Its audio begins at the window's start time, to 1 ms.
            assert abs(ramp_time(audio[0]) - (start / 25) % 4) < 1e-3
            # Clip targets are the means of the frame labels (valence = t / 10).
            expected = [np.mean((start + 16 * c + np.arange(16)) / 25 / 10) for c in range(2)]
            np.testing.assert_allclose(targets["valence"][b].numpy(), expected, atol=1e-5)
    # Every window once, recordings in order: 150 frames, window 32, stride 16.
    assert seen == [(r, s) for r in ("r0", "r1") for s in [0, 16, 32, 48, 64, 80, 96, 112, 118]]


def test_label_delay_and_median_filter_in_the_dataset(prepared):
    inputs, targets, info = next(
        iter(
            make_dataset(
                prepared,
                "train",
                mode="eval",
                windows=dataclasses.replace(WINDOWS, label_delays={"valence": 10}),
                batch_size=1,
                median_width=3,
            )
        )
    )
    # Valence paired with the labels 10 frames later (a linear ramp survives
    # the median filter unchanged).
    expected = [np.mean((10 + 16 * c + np.arange(16)) / 250) for c in range(2)]
    np.testing.assert_allclose(targets["valence"][0].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(
        targets["arousal"][0].numpy(), [-np.mean(np.arange(16) / 250), -np.mean((16 + np.arange(16)) / 250)], atol=1e-5
    )


def test_feature_cache_equals_the_raw_model(prepared, tmp_path):
    from emokeras.data.features import extract_features
    from emokeras.data.features import make_feature_dataset
    from emokeras.models import build_av_model

    model = build_av_model(
        clips=2,
        frames_per_clip=16,
        image_size=32,
        width_multiplier=1 / 16,
        audio_filters=(4, 8, 8, 16, 64),
        head_units=(16,),
    )
    assert extract_features(model, prepared, tmp_path, progress=False) == {"train": 2, "dev": 1}
    raw = {}
    for inputs, targets, info in make_dataset(prepared, "dev", mode="eval", windows=WINDOWS, batch_size=4):
        predictions = model.predict(inputs, verbose=0)
        for b, start in enumerate(info["start_frame"].numpy()):
            raw[int(start)] = (predictions["arousal"][b], targets["arousal"][b].numpy())
    compared = 0
    for inputs, targets, info in make_feature_dataset(tmp_path, "dev", windows=WINDOWS, mode="eval", batch_size=4):
        predictions = model.fusion_regressor.predict(inputs, verbose=0)
        for b, start in enumerate(info["start_frame"].numpy()):
            if int(start) in raw:
                np.testing.assert_allclose(predictions["arousal"][b], raw[int(start)][0], atol=1e-4)
                np.testing.assert_allclose(targets["arousal"][b].numpy(), raw[int(start)][1], atol=1e-6)
                compared += 1
    assert compared == 8  # every clip-aligned window of the 150-frame recording
    batch = next(iter(make_feature_dataset(tmp_path, "train", windows=WINDOWS, batch_size=3)))
    assert batch[0]["visual_features"].shape == (3, 2, 64)


def test_scalar_targets_per_recording(tmp_path):
    write_media(tmp_path / "a.mp4", seconds=2.0, fps=25, audio_codec="aac")
    (tmp_path / "m.csv").write_text("recording_id,video,audio,labels,split,fatigue\na,a.mp4,,,train,7.5\n")
    report = prepare_recordings(read_manifest(tmp_path / "m.csv"), tmp_path / "out", **SMALL)
    assert report["recordings"]["a"]["frames"] == 50
    _, targets, _ = next(iter(make_dataset(tmp_path / "out", "train", windows=WINDOWS, batch_size=1)))
    np.testing.assert_allclose(targets["fatigue"].numpy(), 7.5)


def _arff(path, name, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "@relation GoldStandard\n@attribute Instance_name string\n@attribute frameTime numeric\n"
        "@attribute GoldStandard numeric\n@data\n"
        + "".join(f"'{name}',{k * 0.04:.2f},{v:.6f}\n" for k, v in enumerate(values))
    )


def test_recola_layout(tmp_path):
    root = tmp_path / "RECOLA"
    for name in ("train_1", "dev_1", "test_1"):
        write_media(root / "recordings_video" / f"{name}.mp4", seconds=3.0, fps=25, audio=False) if (
            root / "recordings_video"
        ).mkdir(parents=True, exist_ok=True) or True else None
        write_media(root / "recordings_audio" / f"{name}.wav", seconds=3.0, video=False) if (
            root / "recordings_audio"
        ).mkdir(parents=True, exist_ok=True) or True else None
        if name != "test_1":  # RECOLA's test labels are not public
            _arff(root / "ratings_gold_standard" / "arousal" / f"{name}.arff", name, np.linspace(0, 0.5, 75))
            _arff(root / "ratings_gold_standard" / "valence" / f"{name}.arff", name, np.linspace(-0.5, 0, 75))
    recordings = recola_recordings(root)
    assert [(r.recording_id, r.split) for r in recordings] == [("dev_1", "dev"), ("train_1", "train")]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emokeras.cli",
            "prepare",
            "--recola",
            str(root),
            "--out",
            str(tmp_path / "out"),
            "--image-size",
            "32",
            "--no-face-crop",
            "--min-frames",
            "32",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metadata = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert metadata["targets"] == ["valence", "arousal"]
    _, targets, info = next(iter(make_dataset(tmp_path / "out", "dev", mode="eval", windows=WINDOWS, batch_size=1)))
    np.testing.assert_allclose(targets["arousal"][0].numpy()[0], np.linspace(0, 0.5, 75)[:16].mean(), atol=1e-5)


def _prepare_one(tmp_path, recording, **options):
    return prepare_recordings([recording], tmp_path / "out", **{**SMALL, **options})


def test_bad_inputs_fail_with_the_file_named_and_others_still_written(tmp_path, shared_file):
    good = write_media(tmp_path / "good.mp4", seconds=2.0, fps=25, audio_codec="aac")
    labels = _labels_csv(tmp_path / "labels.csv", 2.0)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "text.mp4"
    text.write_text("not a video")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[:3000])
    short = write_media(tmp_path / "short.mp4", seconds=1.0, fps=25, audio_codec="aac")
    cases = {
        "empty": (empty, "empty.mp4 is empty"),
        "text": (text, "text.mp4 is not a media file"),
        "truncated": (truncated, "truncated.mp4"),
        "no_video": (write_media(tmp_path / "voice.wav", seconds=2.0, video=False), "voice.wav has no video stream"),
        "no_audio": (
            shared_file("real_media/faces/carphone_no_audio.mp4"),
            "carphone_no_audio.mp4 has no audio stream",
        ),
        "short": (short, r"only 25 frames \(1.00 s\) .* at least 32 frames \(1.28 s\) are needed \(--min-frames\)"),
    }
    recordings = [Recording(name, str(path), label_csv=str(labels)) for name, (path, _) in cases.items()]
    recordings.append(Recording("good", str(good), label_csv=str(labels)))
    with pytest.raises(PrepareError) as error:
        prepare_recordings(recordings, tmp_path / "out", **SMALL)
    report = error.value.report
    assert report["failed"] == sorted(cases)
    for name, (_, message) in cases.items():
        assert pytest.importorskip("re").search(message, report["recordings"][name]["reason"]), name
        assert name in str(error.value)
    assert report["recordings"]["good"]["status"] == "ok"
    assert (tmp_path / "out" / "shards" / "train" / "good.tfrecord").exists()
    # --skip-bad: the same run is accepted.
    assert prepare_recordings(recordings, tmp_path / "out", skip_bad=True, **SMALL)["failed"] == sorted(cases)


def test_missing_audio_as_silence_by_option(tmp_path, shared_file):
    video = shared_file("real_media/faces/carphone_no_audio.mp4")
    labels = _labels_csv(tmp_path / "labels.csv", 4.0)
    report = _prepare_one(tmp_path, Recording("car", str(video), label_csv=str(labels)), missing_audio="silence")
    entry = report["recordings"]["car"]
    assert entry["status"] == "ok" and "silence used" in entry["warnings"][0]
    inputs, _, _ = next(iter(make_dataset(tmp_path / "out", "train", windows=WINDOWS, batch_size=1)))
    assert np.all(inputs["audio"].numpy() == 0.0)


def test_labels_shorter_or_longer_than_the_media(tmp_path, capsys):
    """Every cut is said (source, end, frames, seconds, why), and a
    recording that loses more than `max_media_cut` of its media fails."""
    video = write_media(tmp_path / "v.mov", seconds=3.0, fps=25)
    shorter = _labels_csv(tmp_path / "short.csv", 2.0)  # labels end 1 s early
    longer = _labels_csv(tmp_path / "long.csv", 5.0)
    recordings = [
        Recording("short", str(video), label_csv=str(shorter)),
        Recording("long", str(video), label_csv=str(longer)),
    ]
    with pytest.raises(PrepareError, match=r"short: only 50 of 75 frames .* 33% lost .*--max-media-cut 1"):
        prepare_recordings(recordings, tmp_path / "strict", **SMALL)
    assert not (tmp_path / "strict" / "shards" / "train" / "short.tfrecord").exists()
    report = prepare_recordings(recordings, tmp_path / "out", max_media_cut=1.0, **SMALL)
    short, long = report["recordings"]["short"], report["recordings"]["long"]
    assert short["frames"] == 50  # cut to the labelled span
    said = {cut["source"]: cut for cut in short["cuts"]}
    assert set(said) == {"video", "audio"}
    assert (said["video"]["end"], said["video"]["frames"], said["video"]["seconds"]) == ("last", 25, 1.0)
    assert said["video"]["said"] == "video: the last 25 frame(s) (1.00 s) dropped: the labels end at 2.00 s"
    assert long["frames"] == 75
    assert [(c["source"], c["frames"]) for c in long["cuts"]] == [("labels", 50)]
    assert "labels: the last 50 frame(s) (2.00 s) dropped: the audio and video end at 3.00 s" in long["warnings"]

    # Labels timed before the media start are cut from the first end, and said on the console.
    early = tmp_path / "early.csv"
    early.write_text("time,valence,arousal\n" + "".join(f"{t / 25 - 0.4:.2f},0.1,0.2\n" for t in range(86)))
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"recording_id,video,audio,labels,split\nearly,{video},,{early},train\n")
    from emokeras.cli import main

    assert main(["prepare", str(manifest), "--out", str(tmp_path / "cli"), "--image-size", "32", "--workers", "1"]) == 0
    console = capsys.readouterr().out
    assert "early: labels: the first 0.40 s dropped: timed before the media's start (0 s)" in console


def test_nan_labels_fail_or_are_masked(tmp_path):
    video = write_media(tmp_path / "v.mov", seconds=2.0, fps=25)
    labels = _labels_csv(tmp_path / "nan.csv", 2.0, nan_row=20)
    with pytest.raises(PrepareError, match=r"nan.csv, row 22: valence is missing"):
        _prepare_one(tmp_path, Recording("nan", str(video), label_csv=str(labels)))
    report = prepare_recordings(
        [Recording("nan", str(video), label_csv=str(labels))],
        tmp_path / "masked",
        allow_missing_labels=True,
        **SMALL,
    )
    assert report["recordings"]["nan"]["missing_label_frames"] == 1
    inputs, targets, weights = next(
        iter(make_dataset(tmp_path / "masked", "train", mode="train", windows=WINDOWS, batch_size=1))
    )
    assert set(weights) == {"valence", "arousal"} and weights["valence"].shape == (1, 2)


def test_real_crema_d_and_no_face_clips_with_face_cropping(tmp_path, shared_file):
    crema = shared_file("real_media/crema_d/1001_DFA_HAP_XX.flv")
    no_face = shared_file("real_media/faces/no_face.mp4")
    labels = _labels_csv(tmp_path / "labels.csv", 4.0)
    report = prepare_recordings(
        [Recording("hap", str(crema), label_csv=str(labels)), Recording("noface", str(no_face), label_csv=str(labels))],
        tmp_path / "out",
        **CLOCK,
        image_size=64,
        min_frames=32,
        progress=False,
        workers=1,
    )
    hap, noface = report["recordings"]["hap"], report["recordings"]["noface"]
    assert hap["faces"]["frames_without_face"] == 0 and hap["faces"]["fallback_frames"] == 0
    assert noface["faces"]["fallback_frames"] == noface["frames"] > 0
    assert any("centre crop used" in warning for warning in noface["warnings"])


def test_synth_cli_then_prepare(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emokeras.cli",
            "synth",
            "--out",
            str(tmp_path / "synth"),
            "--recordings",
            "3",
            "--seconds",
            "3",
            "--seed",
            "4",
            "--image-size",
            "64",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--no-face-crop" in result.stdout
    recordings = read_manifest(tmp_path / "synth" / "manifest.csv")
    assert {r.split for r in recordings} == {"train", "dev", "test"}
    report = prepare_recordings(
        recordings,
        tmp_path / "prepared",
        **CLOCK,
        image_size=64,
        face_crop=False,
        min_frames=32,
        progress=False,
        workers=1,
    )
    assert report["failed"] == [] and all(e["frames"] == 75 for e in report["recordings"].values())


def test_cli_exit_codes_and_extract_features(corpus, prepared, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    (tmp_path / "m.csv").write_text(
        "recording_id,video,audio,labels,split\n"
        f"bad,{bad},,{corpus / 'r0.csv'},train\ngood,{corpus / 'r0.mov'},,{corpus / 'r0.csv'},train\n"
    )
    command = [
        sys.executable,
        "-m",
        "emokeras.cli",
        "prepare",
        str(tmp_path / "m.csv"),
        "--out",
        str(tmp_path / "out"),
        "--image-size",
        "32",
        "--no-face-crop",
        "--min-frames",
        "32",
        "--workers",
        "1",
    ]
    failed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert failed.returncode == 1 and "bad.mp4 is not a media file" in failed.stderr
    assert (tmp_path / "out" / "shards" / "train" / "good.tfrecord").exists()
    accepted = subprocess.run(command + ["--skip-bad"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert accepted.returncode == 0 and "skipped (--skip-bad): bad" in accepted.stdout

    from emokeras.models import build_av_model

    model = build_av_model(
        clips=2,
        frames_per_clip=16,
        image_size=32,
        width_multiplier=1 / 16,
        audio_filters=(4, 8, 8, 16, 64),
        head_units=(16,),
    )
    model.save(tmp_path / "tiny.keras")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emokeras.cli",
            "extract-features",
            str(tmp_path / "tiny.keras"),
            "--data",
            str(prepared),
            "--out",
            str(tmp_path / "features"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "features" / "features" / "train").iterdir()) == [
        "r0.tfrecord",
        "r1.tfrecord",
    ]
