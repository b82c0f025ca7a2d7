"""Presence marks in the data: `prepare` marks each frame's face, the
datasets, the feature cache, evaluation, `predict` and the exported
signatures turn the marks into per-clip `visual_present` / `audio_present`
by one rule (`emokeras.data.modality_marks`), checked here against NumPy
written from the rule's statement and against the synthetic corpus's own
plan of where it hid the face."""

import csv
import math

import numpy as np
import pytest
import tensorflow as tf

from emokeras.data import WindowGeometry
from emokeras.data.modality_marks import clip_presence
from emokeras.data.modality_marks import clip_presence_in_graph
from tests.tiny import TINY_AV

RECORDINGS, SECONDS = 3, 12.0


def _rule(face_flags, audio, frames_per_clip, valid):
    """The rule as the docs state it, clip by clip: a face on at least half
    the real frames; an RMS level of at least -50 dBFS over the real
    samples; a clip without real frames has both."""
    per_frame = len(audio) // len(face_flags)
    visual, voice = [], []
    for first in range(0, len(face_flags), frames_per_clip):
        last = min(first + frames_per_clip, valid)
        if last <= first:
            visual.append(1)
            voice.append(1)
            continue
        visual.append(int(2 * sum(face_flags[first:last]) >= last - first))
        samples = np.asarray(audio[first * per_frame : last * per_frame], np.float64)
        rms = math.sqrt(float(np.mean(samples**2)))
        voice.append(int(rms > 0 and 20 * math.log10(rms) >= -50))
    return visual, voice  # lists


@pytest.mark.parametrize("valid", [16, 11, 8, 3])
def test_numpy_and_in_graph_marks_follow_the_stated_rule(valid):
    rng = np.random.default_rng(valid)
    for _ in range(20):
        faces = rng.integers(0, 2, 16)
        # Loud, quiet and silent clips around the threshold.
        level = 10 ** (rng.uniform(-70, -30, 2) / 20)
        audio = (rng.standard_normal((16, 640)) * np.repeat(level, 8)[:, None]).astype(np.float32)
        expected = _rule(faces, audio.ravel(), 8, valid)
        visual, voice = clip_presence(faces, audio.ravel(), 8, valid)
        assert (visual.tolist(), voice.tolist()) == expected
        in_graph = clip_presence_in_graph(tf.constant(faces), tf.constant(audio), 8, tf.constant(valid))
        assert tuple(t.numpy().tolist() for t in in_graph) == expected


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from emokeras.data.synthetic_corpus import write_synthetic_corpus

    root = tmp_path_factory.mktemp("marks")
    manifest = write_synthetic_corpus(root / "synth", recordings=RECORDINGS, seconds=SECONDS, seed=2, image_size=32)
    return root, _prepare(manifest, root / "prepared")


def _prepare(manifest, out):
    """The synthetic corpus prepared as it is: 32 px crops taken as they are."""
    from emokeras.data import prepare_recordings
    from emokeras.data import read_manifest

    return prepare_recordings(
        read_manifest(manifest),
        out,
        frame_rate=25,
        sample_rate=16000,
        image_size=32,
        face_crop=False,
        workers=1,
        progress=False,
    )


def _shard(root, recording_id):
    from emokeras.data import shard_format

    split = {row["recording_id"]: row["split"] for row in csv.DictReader(open(root / "synth" / "manifest.csv"))}
    spec = shard_format.frame_feature_spec(640, 2)
    path = shard_format.shard_path(root / "prepared", split[recording_id], recording_id)
    records = tf.data.TFRecordDataset(str(path)).batch(100_000).get_single_element()
    parsed = tf.io.parse_example(records, spec)
    return parsed["face"].numpy(), parsed["audio"].numpy()


def test_prepare_marks_the_frames_where_the_generator_hid_the_face(prepared):
    from emokeras.data import synthetic_corpus

    root, report = prepared
    streams = np.random.SeedSequence(2).spawn(RECORDINGS + 1)
    frames = int(SECONDS * 25)
    for index in range(RECORDINGS):
        recording_id = f"rec_{index:03d}"
        plan = synthetic_corpus._recording_content(streams[index], frames, 25, 16000, 32)
        faces, audio = _shard(root, recording_id)
        np.testing.assert_array_equal(faces, (~plan["face_hidden"]).astype(np.int64))
        assert report["recordings"][recording_id]["face_frames"] == int((~plan["face_hidden"]).sum())
        # The voice is measured, not told: its clips in the planned silent
        # stretches are silent, those without silence hold the voice.
        _, voice = clip_presence(faces, audio.ravel(), 16)
        silent = plan["voice_silent"][: len(faces)]
        for clip, there in enumerate(voice):
            planned = silent[clip * 16 : (clip + 1) * 16]
            if planned.all():
                assert there == 0
            elif not planned.any():
                assert there == 1


def test_datasets_and_feature_cache_give_the_marks_of_the_frames(prepared, tmp_path):
    import keras

    from emokeras.data import make_dataset
    from emokeras.data.features import extract_features
    from emokeras.data.features import make_feature_dataset
    from emokeras.models import AVEmotionRegressor

    root, _ = prepared
    geometry = WindowGeometry(clips=2, frames_per_clip=8, stride=8, frame_rate=25, sample_rate=16000, last_window="pad")
    whole = {f"rec_{i:03d}": _shard(root, f"rec_{i:03d}") for i in range(RECORDINGS)}
    marked = 0
    for mode in ("train", "eval"):
        dataset = make_dataset(
            root / "prepared", "train", windows=geometry, mode=mode, batch_size=1, seed=5, presence_marks=True
        )
        for inputs, _, info in dataset.take(60):
            if mode == "train":
                # A random offset: find the window in the recording by its audio.
                audio = inputs["audio"].numpy()[0]
                for faces, samples in whole.values():
                    flat = samples.ravel()
                    hits = [
                        s
                        for s in range(0, len(faces) - 16 + 1)
                        if np.array_equal(flat[s * 640 : s * 640 + 64], audio[:64])
                    ]
                    if hits:
                        start = hits[0]
                        break
            else:
                faces, samples = whole[info["recording_id"].numpy()[0].decode()]
                flat = samples.ravel()
                start = int(info["start_frame"].numpy()[0])
            valid = int(inputs["valid_frames"].numpy()[0])
            window_faces = list(faces[start : start + valid]) + [0] * (16 - valid)
            window_audio = np.pad(flat[start * 640 : (start + valid) * 640], (0, (16 - valid) * 640))
            expected = tuple(_rule(window_faces, window_audio, 8, valid))
            got = (inputs["visual_present"].numpy()[0].tolist(), inputs["audio_present"].numpy()[0].tolist())
            assert got == expected
            marked += 0 in expected[0] + expected[1]
    assert marked, "no window with a missing modality was checked"

    keras.utils.set_random_seed(0)
    model = AVEmotionRegressor(**{**TINY_AV, "image_size": 32})
    extract_features(model, root / "prepared", tmp_path / "cache", splits=("train",), progress=False)
    cached = make_feature_dataset(
        tmp_path / "cache", "train", windows=geometry, mode="eval", batch_size=1, presence_marks=True
    )
    for inputs, _, info in cached:
        faces, samples = whole[info["recording_id"].numpy()[0].decode()]
        start = int(info["start_frame"].numpy()[0])
        visual, voice = _rule(faces, samples.ravel(), 8, len(faces))
        clips = int(inputs["clip_mask"].numpy()[0].sum())
        first = start // 8
        assert inputs["visual_present"].numpy()[0, :clips].tolist() == visual[first : first + clips]
        assert inputs["audio_present"].numpy()[0, :clips].tolist() == voice[first : first + clips]
        assert info["presence"]["visual_present"].numpy()[0].tolist() == inputs["visual_present"].numpy()[0].tolist()


def test_shards_and_caches_from_before_the_marks_read_as_complete(tmp_path):
    from emokeras.data import shard_format

    # A frame of a shard written before the `face` feature existed.
    old = tf.train.Example(
        features=tf.train.Features(
            feature={
                "recording_id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"r"])),
                "frame_index": tf.train.Feature(int64_list=tf.train.Int64List(value=[0])),
                "jpeg": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b""])),
                "audio": tf.train.Feature(float_list=tf.train.FloatList(value=[0.0] * 640)),
                "labels": tf.train.Feature(float_list=tf.train.FloatList(value=[0.0])),
                "label_mask": tf.train.Feature(int64_list=tf.train.Int64List(value=[1])),
            }
        )
    ).SerializeToString()
    parsed = tf.io.parse_single_example(old, shard_format.frame_feature_spec(640, 1))
    assert int(parsed["face"]) == 1


def test_face_marks_that_stop_early_are_refused_naming_the_file(tmp_path):
    from emokeras.data import PrepareError
    from emokeras.data.synthetic_corpus import write_synthetic_corpus

    manifest = write_synthetic_corpus(tmp_path / "synth", recordings=1, seconds=2.0, image_size=32)
    marks = tmp_path / "synth" / "rec_000_face.csv"
    lines = marks.read_text().splitlines()
    marks.write_text("\n".join(lines[:26]) + "\n")  # one second of marks
    with pytest.raises(PrepareError, match="rec_000_face.csv: the face marks end at 1.00 s"):
        _prepare(manifest, tmp_path / "prepared")


def test_stretch_scores_equal_numpy_on_the_frames_of_each_stretch():
    from emokeras.evaluation.evaluate import presence_scores
    from tests.numpy_references import ccc as ccc_numpy

    rng = np.random.default_rng(0)
    results, presence = {}, {}
    # With annotation delays a recording has fewer labelled frames than
    # media frames ("b": 6 fewer): its first frames are scored.
    for name, frames, delay in (("a", 200, 0), ("b", 120, 6)):
        truth = rng.uniform(-1, 1, (frames - delay, 2))
        results[name] = (truth + rng.normal(0, 0.3, truth.shape), truth, np.ones(truth.shape, bool))
        presence[name] = (rng.random(frames) > 0.3, rng.random(frames) > 0.3)
    scores = presence_scores(results, presence, ["valence", "arousal"])
    visual = np.concatenate([presence["a"][0], presence["b"][0][:114]])
    audio = np.concatenate([presence["a"][1], presence["b"][1][:114]])
    for stretch, where in (("complete", visual & audio), ("no_face", ~visual & audio), ("no_voice", visual & ~audio)):
        assert scores["frames"][stretch] == where.sum()
        for j, target in enumerate(["valence", "arousal"]):
            prediction = np.concatenate([results[n][0][:, j] for n in results])[where]
            truth = np.concatenate([results[n][1][:, j] for n in results])[where]
            assert scores[target][stretch]["ccc"] == pytest.approx(ccc_numpy(truth, prediction), abs=1e-6)
    assert scores["frames"]["neither"] == (~visual & ~audio).sum()
