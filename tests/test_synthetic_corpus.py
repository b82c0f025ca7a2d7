"""The synthetic corpus writes real, time-exact, deterministic media whose
content carries valence in the face and arousal in the voice."""

import csv
import doctest
import fractions

import av
import numpy as np
import pytest

from emokeras.data import synthetic_corpus
from emokeras.data.synthetic_corpus import write_synthetic_corpus

RECORDINGS = 3
SECONDS = 4.0
FRAME_RATE = 25
SAMPLE_RATE = 16000
IMAGE_SIZE = 112
FRAMES = int(SECONDS * FRAME_RATE)
SAMPLES = int(SECONDS * SAMPLE_RATE)
AAC_FRAME = 1024


def _read_csv(path):
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        return reader.fieldnames, list(reader)


def _labels(path):
    _, rows = _read_csv(path)
    return {name: np.array([float(row[name]) for row in rows]) for name in rows[0]}


def _decode(path):
    """`(frames, audio, info)`: grey uint8 frames, mono float32 audio and
    stream facts."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        info = {
            "video_start": video.start_time,
            "audio_start": audio.start_time,
            "audio_rate": audio.rate,
            "audio_channels": audio.codec_context.channels,
            "video_codec": video.codec_context.name,
            "audio_codec": audio.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
        }
        frames, video_times = [], []
        for frame in container.decode(video):
            frames.append(frame.to_ndarray(format="gray"))
            video_times.append(frame.pts * frame.time_base)
    with av.open(str(path)) as container:
        chunks, audio_pts = [], []
        for frame in container.decode(audio=0):
            chunks.append(frame.to_ndarray().reshape(-1))
            audio_pts.append(frame.pts * frame.time_base)
    info["video_times"] = video_times
    info["audio_times"] = audio_pts
    return np.stack(frames), np.concatenate(chunks), info


def _corpus(folder, **kwargs):
    arguments = dict(
        recordings=RECORDINGS,
        seconds=SECONDS,
        frame_rate=FRAME_RATE,
        sample_rate=SAMPLE_RATE,
        image_size=IMAGE_SIZE,
    )
    arguments.update(kwargs)
    return write_synthetic_corpus(folder, **arguments)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _corpus(tmp_path_factory.mktemp("corpus"), seed=0)


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory):
    """One 30 s recording: enough frames for stable correlations."""
    manifest = write_synthetic_corpus(tmp_path_factory.mktemp("long"), recordings=1, seconds=30.0, seed=7)
    return manifest.parent / "rec_000.mp4", manifest.parent / "rec_000.csv"


def test_files_manifest_and_labels(corpus):
    folder = corpus.parent
    columns, rows = _read_csv(corpus)
    assert columns == ["recording_id", "video", "audio", "labels", "split", "face_marks"]
    assert [row["recording_id"] for row in rows] == ["rec_000", "rec_001", "rec_002"]
    assert sorted(row["split"] for row in rows) == ["dev", "test", "train"]
    for row in rows:
        assert row["audio"] == ""
        assert (folder / row["video"]).is_file() and (folder / row["labels"]).is_file()
        header, _ = _read_csv(folder / row["labels"])
        assert header == ["time", "valence", "arousal"]
        labels = _labels(folder / row["labels"])
        assert len(labels["time"]) == FRAMES
        np.testing.assert_allclose(labels["time"], np.arange(FRAMES) / FRAME_RATE, atol=1e-6)
        for target in ("valence", "arousal"):
            assert np.all(np.abs(labels[target]) <= 1)
            # Smooth: at most about 1 unit per second.
            assert np.max(np.abs(np.diff(labels[target]))) < 0.05


def test_media_streams_and_timing(corpus):
    frames, audio, info = _decode(corpus.parent / "rec_000.mp4")
    assert info["video_codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["audio_codec"] == "aac" and info["audio_channels"] == 1
    assert abs(len(frames) - FRAMES) <= 1
    assert frames.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE)
    # Frame k is presented at exactly k / frame_rate.
    assert info["video_times"] == [fractions.Fraction(k, FRAME_RATE) for k in range(len(frames))]
    assert info["video_start"] == 0
    # The AAC priming (1024 samples) is trimmed by the mp4 edit list: the
    # audio starts at 0 and only the tail is padded to whole AAC frames
    # (64000 samples come back as 64512).
    assert info["audio_rate"] == SAMPLE_RATE
    assert info["audio_start"] == 0 and info["audio_times"][0] == 0
    assert SAMPLES <= len(audio) < SAMPLES + AAC_FRAME
    assert np.abs(audio[SAMPLES:]).max(initial=0) < 0.05


def test_audio_is_aligned_with_what_was_synthesised(corpus):
    # Not off by the encoder's priming: the decoded audio matches the
    # synthesised signal best at lag 0.
    seed_sequence = np.random.SeedSequence(0).spawn(RECORDINGS + 1)[0]
    content = synthetic_corpus._recording_content(seed_sequence, FRAMES, FRAME_RATE, SAMPLE_RATE, IMAGE_SIZE)
    _, audio, _ = _decode(corpus.parent / "rec_000.mp4")
    original = content["audio"]
    middle = original[4000 : SAMPLES - 4000]
    lags = np.arange(-1500, 1501)
    scores = [np.dot(middle, audio[4000 + lag : SAMPLES - 4000 + lag]) for lag in lags]
    assert lags[int(np.argmax(scores))] == 0
    error = audio[:SAMPLES] - original
    assert np.sqrt(np.mean(error**2)) < 0.2 * np.sqrt(np.mean(original**2))
    labels = _labels(corpus.parent / "rec_000.csv")
    np.testing.assert_allclose(labels["valence"], content["valence"], atol=1e-6)


def test_same_seed_same_corpus_other_seed_differs(corpus, tmp_path):
    again = _corpus(tmp_path / "again", seed=0)
    other = _corpus(tmp_path / "other", seed=1)
    assert again.read_bytes() == corpus.read_bytes()
    for index in range(RECORDINGS):
        name = f"rec_{index:03d}"
        labels = (corpus.parent / f"{name}.csv").read_bytes()
        assert (again.parent / f"{name}.csv").read_bytes() == labels
        assert (other.parent / f"{name}.csv").read_bytes() != labels
        frames, audio, _ = _decode(corpus.parent / f"{name}.mp4")
        frames_again, audio_again, _ = _decode(again.parent / f"{name}.mp4")
        frames_other, _, _ = _decode(other.parent / f"{name}.mp4")
        assert np.mean(np.abs(frames.astype(int) - frames_again)) == 0
        np.testing.assert_array_equal(audio, audio_again)
        assert np.mean(np.abs(frames.astype(int) - frames_other)) > 1


def _mouth_curvature(gray):
    """Per frame, how much the mouth curves up at the corners (smile > 0).

    Dark pixels (lips, mouth) of the lower face are weighted by how much
    darker than the skin they are, and their row is regressed on the squared
    horizontal distance from their centroid: the slope is the parabola's
    curvature, whatever the small head jitter.
    """
    size = gray.shape[1]
    region = gray[:, int(0.62 * size) : int(0.88 * size), int(0.3 * size) : int(0.7 * size)]
    skin = np.median(region, axis=(1, 2), keepdims=True)
    weight = np.clip(skin - region - 15, 0, None) + 1e-6
    weight /= weight.sum(axis=(1, 2), keepdims=True)
    rows, cols = np.mgrid[0 : region.shape[1], 0 : region.shape[2]]
    centre = (weight * cols).sum(axis=(1, 2), keepdims=True)
    spread = (cols - centre) ** 2
    spread -= (weight * spread).sum(axis=(1, 2), keepdims=True)
    rows = rows - (weight * rows).sum(axis=(1, 2), keepdims=True)
    return -(weight * spread * rows).sum(axis=(1, 2)) / (weight * spread**2).sum(axis=(1, 2))


def _missing(frames, audio, frame_count):
    """Detected `(face_hidden, voice_silent)` per frame: a flat grey frame,
    and a frame of audio at the noise floor."""
    hidden = frames.reshape(len(frames), -1).std(axis=1) < 8  # faces: > 15
    per_frame = SAMPLE_RATE // FRAME_RATE
    blocks = audio[: frame_count * per_frame].reshape(frame_count, per_frame)
    rms = np.sqrt(np.mean(blocks.astype(np.float64) ** 2, axis=1))
    return hidden[:frame_count], rms < 0.002, rms


def _correlations(video_path, labels_path):
    frames, audio, _ = _decode(video_path)
    labels = _labels(labels_path)
    count = len(labels["time"])
    hidden, silent, rms = _missing(frames, audio, count)
    curvature = _mouth_curvature(frames[:count].astype(np.float64))
    seen, heard = ~hidden, ~silent
    return {
        "face_valence": np.corrcoef(curvature[seen], labels["valence"][seen])[0, 1],
        "rms_arousal": np.corrcoef(rms[heard], labels["arousal"][heard])[0, 1],
        "hidden": hidden,
        "silent": silent,
    }


def test_face_carries_valence_and_voice_arousal(long_recording):
    labels = _labels(long_recording[1])
    # Over 30 s the latents cover most of [-1, 1].
    assert np.ptp(labels["valence"]) > 1.2 and np.ptp(labels["arousal"]) > 1.2
    found = _correlations(*long_recording)
    assert found["face_valence"] > 0.8
    assert found["rms_arousal"] > 0.7
    hidden, silent = found["hidden"], found["silent"]
    # Each modality drops out for 10-20 % of the recording, never both.
    assert 0.05 < hidden.mean() < 0.25 and 0.05 < silent.mean() < 0.25
    assert not np.any(hidden & silent)


def test_missing_stretches_on_short_recordings(corpus):
    for index in range(RECORDINGS):
        found = _correlations(corpus.parent / f"rec_{index:03d}.mp4", corpus.parent / f"rec_{index:03d}.csv")
        assert found["hidden"].any() and found["silent"].any()
        assert not np.any(found["hidden"] & found["silent"])


def test_detected_stretches_match_the_plan(corpus):
    seed_sequence = np.random.SeedSequence(0).spawn(RECORDINGS + 1)[1]
    content = synthetic_corpus._recording_content(seed_sequence, FRAMES, FRAME_RATE, SAMPLE_RATE, IMAGE_SIZE)
    frames, audio, _ = _decode(corpus.parent / "rec_001.mp4")
    hidden, silent, _ = _missing(frames, audio, FRAMES)
    np.testing.assert_array_equal(hidden, content["face_hidden"])
    np.testing.assert_array_equal(silent, content["voice_silent"])
    # The face marks the manifest points to say where the occluder is, as
    # measured on the decoded frames.
    marks = _labels(corpus.parent / "rec_001_face.csv")
    np.testing.assert_allclose(marks["time"], np.arange(FRAMES) / FRAME_RATE, atol=1e-6)
    np.testing.assert_array_equal(marks["face"] == 0, hidden)
    assert 0 < hidden.sum() < FRAMES


def test_no_temporary_files_remain(corpus):
    names = sorted(path.name for path in corpus.parent.iterdir())
    expected = ["manifest.csv"]
    expected += [f"rec_{i:03d}{end}" for i in range(RECORDINGS) for end in (".csv", ".mp4", "_face.csv")]
    assert names == sorted(expected)


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(synthetic_corpus, "_encode", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        _corpus(tmp_path, seed=0)
    # The labels and face marks of the first recording were complete;
    # nothing else is there.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["rec_000.csv", "rec_000_face.csv"]


def test_splits_and_arguments(tmp_path):
    splits = synthetic_corpus._assign_splits(np.random.default_rng(0), 10, 0.2, 0.2)
    assert sorted(splits).count("dev") == 2 and splits.count("test") == 2
    assert synthetic_corpus._assign_splits(np.random.default_rng(0), 1, 0.2, 0.2) == ["train"]
    assert sorted(synthetic_corpus._assign_splits(np.random.default_rng(0), 3, 0.1, 0.1)) == [
        "dev",
        "test",
        "train",
    ]
    with pytest.raises(ValueError, match="image_size"):
        write_synthetic_corpus(tmp_path, image_size=111)
    with pytest.raises(ValueError, match="train"):
        write_synthetic_corpus(tmp_path, dev_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="recordings"):
        write_synthetic_corpus(tmp_path, recordings=0)
    assert list(tmp_path.iterdir()) == []


def test_docstring_example():
    results = doctest.testmod(synthetic_corpus, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0 and results.failed == 0
