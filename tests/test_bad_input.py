"""The bad-input table: what a user (or an attacker) can get wrong, command
by command, and what they see: one line naming the file or value and the
fix, exit 2 (or 1 for `prepare`, which writes the good recordings and
reports the rest), and nothing already written lost. A new command joins
the table. Serving requests and pickles have their own modules
(test_serving_contract.py, test_bounded_unpickling.py)."""

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import av
import keras
import numpy as np
import pytest

from emokeras.cli import main
from emokeras.models import build_av_model
from tests.media_factory import write_media
from tests.tiny import TINY_AV

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _write_float_wav(path, samples, sample_rate=16000):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_f32le", rate=sample_rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None], format="flt", layout="mono")
        frame.sample_rate = sample_rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A good model, damaged copies of it, and media with bad samples."""
    folder = tmp_path_factory.mktemp("bad_input")
    keras.utils.set_random_seed(0)
    build_av_model(**TINY_AV).save(folder / "model.keras")
    keras.utils.set_random_seed(0)
    build_av_model(fusion="audio_only", **TINY_AV).save(folder / "audio_only.keras")
    good = (folder / "model.keras").read_bytes()
    (folder / "text.keras").write_text("this is not a model\n")
    (folder / "truncated.keras").write_bytes(good[: len(good) // 2])
    with zipfile.ZipFile(folder / "model.keras") as archive:
        info = archive.getinfo("model.weights.h5")
    # Flip a byte inside the weights member's data: its CRC no longer holds.
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    damaged = bytearray(good)
    damaged[offset] ^= 0xFF
    (folder / "crc.keras").write_bytes(bytes(damaged))
    speech = np.sin(np.arange(32000) / 16000 * 2 * np.pi * 220) * 0.3
    with_nan = speech.copy()
    with_nan[8000] = np.nan
    _write_float_wav(folder / "nan.wav", with_nan)
    with_inf = speech.copy()
    with_inf[100:110] = np.inf
    _write_float_wav(folder / "inf.wav", with_inf)
    write_media(folder / "video_nan_audio.mp4", seconds=2.0, audio=False)
    import pickle

    whole = pickle.dumps({"w": np.zeros((4, 4), np.float32)}, protocol=4)
    (folder / "truncated.ckpt").write_bytes(whole[: len(whole) - 20])
    return folder


# (case, argv with {f} = the files folder, exit code, what the one line says)
TABLE = [
    (
        "a text file named .keras",
        ["predict", "{f}/nan.wav", "--model", "{f}/text.keras", "--out", "{out}"],
        2,
        "text.keras: not a Keras model file",
    ),
    (
        "a truncated .keras",
        ["predict", "{f}/nan.wav", "--model", "{f}/truncated.keras", "--out", "{out}"],
        2,
        "truncated.keras: not a Keras model file",
    ),
    (
        "a .keras with a damaged member",
        ["evaluate", "{f}/crc.keras", "--data", "{f}"],
        2,
        "crc.keras: damaged (CRC error in model.weights.h5)",
    ),
    (
        "a model file that does not exist",
        ["export", "{f}/missing.keras", "--base-dir", "{out}", "--version", "1"],
        2,
        "missing.keras: no such model file",
    ),
    (
        "audio with a NaN sample",
        ["predict", "{f}/nan.wav", "--model", "{f}/audio_only.keras", "--out", "{out}"],
        2,
        "nan.wav: its audio holds 1 NaN or inf sample(s), the first at 0.500 s",
    ),
    (
        "audio with inf samples",
        ["predict", "{f}/inf.wav", "--model", "{f}/audio_only.keras", "--out", "{out}"],
        2,
        "inf.wav: its audio holds",
    ),
    (
        "a video without sound for a fused model: predict names its own flag",
        ["predict", "{f}/video_nan_audio.mp4", "--model", "{f}/model.keras", "--out", "{out}"],
        2,
        "has no audio, but the model reads video and audio: give the audio as a separate file (--audio)",
    ),
    (
        "a model that is a text file, for feature extraction",
        ["extract-features", "{f}/text.keras", "--data", "{f}", "--out", "{out}"],
        2,
        "text.keras: not a Keras model file",
    ),
    (
        "training on a folder that was never prepared",
        ["train", "--data", "{f}/nowhere", "--out", "{out}"],
        2,
        "nowhere",
    ),
    (
        "an ablation row that does not exist",
        ["ablate", "--data", "{f}", "--out", "{out}", "--rows", "i3d_magic"],
        2,
        "unknown ablation row(s) ['i3d_magic']",
    ),
    (
        "a corpus emokeras has no reader for",
        ["prepare", "--corpus", "iemocap", "{f}", "--out", "{out}"],
        2,
        "unknown corpus 'iemocap'",
    ),
    (
        "a truncated weights pickle",
        ["convert-i3d", "{f}/truncated.ckpt", "{out}/i3d.weights.h5"],
        2,
        "truncated.ckpt",
    ),
    (
        "a stream source that is not there",
        ["stream", "{f}/missing.mp4", "--model", "{f}/model.keras", "--out", "{out}/lines.jsonl"],
        2,
        "cannot open {f}/missing.mp4",
    ),
    (
        "an unreachable server",
        ["predict", "{f}/nan.wav", "--server", "http://127.0.0.1:9", "--out", "{out}"],
        2,
        "127.0.0.1:9",
    ),
]


@pytest.mark.parametrize("case, argv, code, said", TABLE, ids=[row[0] for row in TABLE])
def test_the_bad_input_table(files, tmp_path, capsys, case, argv, code, said):
    out = tmp_path / "out"
    argv = [word.format(f=files, out=out) for word in argv]
    said = said.format(f=files)
    before = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    assert main(argv) == code, case
    error = capsys.readouterr().err.strip()
    assert said in error, error
    assert len(error.splitlines()) == 1, error  # one line, no traceback
    assert error.startswith(f"emokeras {argv[0]}: error: ")
    # Nothing written, nothing lost.
    assert not out.exists() or not any(out.iterdir())
    assert {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()} == before


def test_debug_shows_the_traceback(files, tmp_path):
    with pytest.raises(ValueError, match="not a Keras model file"):
        main(["predict", str(files / "nan.wav"), "--model", str(files / "text.keras"), "--debug"])


def test_prepare_fails_a_recording_with_nan_audio_and_keeps_the_others(files, tmp_path, capsys):
    write_media(tmp_path / "good.mp4", seconds=1.5)
    shutil.copy(files / "nan.wav", tmp_path / "nan.wav")
    write_media(tmp_path / "face.mp4", seconds=2.0, audio=False)
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "recording_id,video,audio,labels,split,valence\ngood,good.mp4,,,train,0.5\nbad,face.mp4,nan.wav,,train,0.1\n"
    )
    command = ["prepare", str(manifest), "--out", str(tmp_path / "out"), "--image-size", "32", "--workers", "1"]
    assert main(command) == 1
    error = capsys.readouterr().err
    assert "bad: " in error and "nan.wav: its audio holds 1 NaN or inf sample(s)" in error
    assert (tmp_path / "out" / "shards" / "train" / "good.tfrecord").exists()
    assert not (tmp_path / "out" / "shards" / "train" / "bad.tfrecord").exists()


def test_evaluate_names_the_recording_whose_shard_holds_nan_audio(tmp_path, tiny_corpus, capsys):
    """Shards written by an older or foreign tool can hold NaN: evaluation
    refuses to score them instead of scoring plausible numbers."""
    import tensorflow as tf

    from emokeras.data import shard_format

    data = tmp_path / "data"
    shutil.copytree(tiny_corpus / "prepared", data)
    report = shard_format.read_report(data)
    test_id = next(i for i, e in report["recordings"].items() if e["split"] == "test")
    shard = shard_format.shard_path(data, "test", test_id)
    metadata = shard_format.read_metadata(data)
    spec = shard_format.frame_feature_spec(metadata["samples_per_frame"], len(metadata["targets"]))
    records = [tf.io.parse_single_example(r, spec) for r in tf.data.TFRecordDataset(str(shard))]
    with tf.io.TFRecordWriter(str(shard)) as writer:
        for index, record in enumerate(records):
            audio = record["audio"].numpy()
            if index == 40:
                audio[3] = np.nan
            writer.write(
                shard_format.frame_example(
                    test_id,
                    index,
                    record["jpeg"].numpy(),
                    audio,
                    record["labels"].numpy(),
                    record["label_mask"].numpy(),
                )
            )
    keras.utils.set_random_seed(0)
    model = build_av_model(
        fusion="audio_only", clips=2, frames_per_clip=8, image_size=32, audio_filters=(4, 8, 8, 16, 64)
    )
    model.save(tmp_path / "model.keras")
    assert main(["evaluate", str(tmp_path / "model.keras"), "--data", str(data), "--out", str(tmp_path / "eval")]) == 2
    error = capsys.readouterr().err
    assert f"recording {test_id}: input `audio` holds" in error and "NaN or inf" in error
    assert not (tmp_path / "eval" / "evaluation.json").exists()


def test_the_keras_serving_path_refuses_nan_audio():
    from emokeras.prediction import LocalPredictor

    model = build_av_model(fusion="audio_only", **TINY_AV)
    window = {"audio": np.zeros((2, 2 * 5120), np.float32), "valid_frames": np.array([16, 16], np.int32)}
    window["audio"][1, 7] = np.inf
    with pytest.raises(ValueError, match=r"input `audio` holds 1 NaN or inf value\(s\) \(first in window 1\)"):
        LocalPredictor(model)(window)


def test_shards_are_identical_byte_for_byte_across_runs(tmp_path):
    """Two clean `prepare` runs (separate processes, different hash seeds)
    write the same bytes: users can compare shards by checksum."""
    write_media(tmp_path / "v.mp4", seconds=1.5)
    (tmp_path / "m.csv").write_text("recording_id,video,audio,labels,split,valence\nr,v.mp4,,,train,0.5\n")
    digests = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        command = [sys.executable, "-m", "emokeras.cli", "prepare", str(tmp_path / "m.csv"), "--out", str(out)]
        env = dict(os.environ, PYTHONHASHSEED=seed, TF_CPP_MIN_LOG_LEVEL="2")
        result = subprocess.run(command + ["--image-size", "32"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        digests.append(hashlib.sha256((out / "shards" / "train" / "r.tfrecord").read_bytes()).hexdigest())
    assert digests[0] == digests[1]
