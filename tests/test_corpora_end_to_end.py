"""Every corpus reader's miniature tree with generated media through
`emokeras prepare --corpus`: labels at the corpus's rate on the frame clock,
unlabelled codes masked, units and scoring in the data; unimodal corpora
trained, evaluated and predicted end to end; a fused model refused on them;
utterance-level and per-group scores against a NumPy reference."""

import json

import numpy as np
import pytest
import tensorflow as tf
import yaml

from emokeras.cli import main
from emokeras.data import shard_format
from emokeras.data.labels import labels_on_frames
from emokeras.data.media import video_frame_times
from emokeras.evaluation.evaluate import score_utterances
from emokeras.evaluation.evaluate import utterance_results
from tests import test_corpus_readers as trees
from tests.media_factory import write_media
from tests.numpy_references import ccc as numpy_ccc
from tests.tiny import TINY_RUN

TREES = {
    "aff-wild2": trees._aff_wild2,
    "msp-podcast": trees._msp_podcast,
    "afew-va": trees._afew_va,
    "sewa": trees._sewa,
    "omg-emotion": trees._omg,
    "crema-d": trees._crema_d,
}
AUDIO_CODECS = {".mp4": "aac", ".flv": "mp3", ".avi": "pcm_s16le"}


def _fill_with_media(root, seconds=1.2):
    """The trees' empty media placeholders become real generated files."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.stat().st_size == 0:
            if path.suffix == ".wav":
                write_media(path, seconds=seconds, video=False, sample_rate=16000)
            else:
                write_media(path, seconds=seconds, audio_codec=AUDIO_CODECS[path.suffix])


def _prepare(name, root, out, *extra):
    command = ["prepare", "--corpus", name, str(root), "--out", str(out), "--workers", "1"]
    # The trees' labels cover less than their generated media: accept the cuts.
    options = ["--image-size", "32", "--no-face-crop", "--min-frames", "1", "--max-media-cut", "1"]
    assert main(command + options + list(extra)) == 0
    return shard_format.read_metadata(out), shard_format.read_report(out)


def _shard_labels(out, entry):
    spec = shard_format.frame_feature_spec(640, len(shard_format.read_metadata(out)["targets"]))
    rows = [tf.io.parse_single_example(r, spec) for r in tf.data.TFRecordDataset(entry["shard"])]
    return np.stack([r["labels"].numpy() for r in rows]), np.stack([r["label_mask"].numpy() for r in rows])


@pytest.mark.parametrize("name", sorted(TREES))
def test_every_corpus_prepares_from_its_own_layout(tmp_path, name):
    TREES[name](tmp_path / "corpus")
    _fill_with_media(tmp_path / "corpus")
    metadata, report = _prepare(name, tmp_path / "corpus", tmp_path / "out")
    from emokeras.data.corpora import read_corpus

    corpus = read_corpus(name, tmp_path / "corpus")
    assert metadata["targets"] == corpus.targets
    assert metadata["target_ranges"] == {t: list(r) for t, r in corpus.target_ranges.items()}
    assert (metadata["unit"], metadata["scoring"]) == (corpus.unit, corpus.scoring)
    assert report["split_rule"] == corpus.split_rule
    entries = report["recordings"]
    assert sorted(entries) == sorted(r.recording_id for r in corpus.recordings)
    for recording in corpus.recordings:
        entry = entries[recording.recording_id]
        assert entry["status"] == "ok", entry
        assert entry["modalities"] == list(recording.modalities)
        if recording.group:
            assert entry["group"] == recording.group
    if name == "msp-podcast":
        assert all(e["modalities"] == ["audio"] for e in entries.values())
    if name == "afew-va":
        assert all(e["modalities"] == ["video"] for e in entries.values())


def test_labels_per_source_frame_and_unlabelled_codes_land_on_the_frame_clock(tmp_path):
    """Aff-Wild2: one row per 29.97 fps source frame, -5 = unlabelled,
    resampled onto 25 fps by the frames' own times."""
    root = tmp_path / "corpus"
    trees._aff_wild2(root)
    rows = np.round(np.sin(np.arange(60) / 7.0), 4)
    lines = ["valence,arousal"] + [f"{v},{-v}" for v in rows]
    lines[21:26] = ["-5,-5"] * 5  # rows 20-24 unlabelled
    (root / "6th ABAW Annotations/VA_Estimation_Challenge/Train_Set/vid_a.txt").write_text("\n".join(lines) + "\n")
    _fill_with_media(root, seconds=3.0)
    _, report = _prepare("aff-wild2", root, tmp_path / "out")
    entry = report["recordings"]["vid_a"]
    labels, mask = _shard_labels(tmp_path / "out", entry)
    # Independent reference: the rows at the source frames' times.
    times = video_frame_times(root / "batch1" / "vid_a.mp4")[:60]
    times[0] = 0.0
    values = np.where(np.isin(np.arange(60), range(20, 25)), np.nan, rows)
    expected, expected_mask = labels_on_frames(times, {"valence": values}, 25, "reference")
    count = len(labels)
    assert count == min(len(expected_mask), entry["frames"])
    np.testing.assert_array_equal(mask[:, 0] > 0, expected_mask[:count])
    np.testing.assert_allclose(
        labels[expected_mask[:count], 0], expected["valence"][:count][expected_mask[:count]], atol=1e-6
    )
    np.testing.assert_allclose(labels[:, 1][mask[:, 1] > 0], -labels[:, 0][mask[:, 0] > 0], atol=1e-6)
    # About 5 source frames of 30 fps are 4 frames of 25 fps.
    assert 3 <= entry["missing_label_frames"] <= 6


def test_sewa_labels_at_10_hz_are_interpolated_onto_25_fps(tmp_path):
    root = tmp_path / "corpus"
    trees._sewa(root)
    times = np.arange(20) / 10
    arousal = np.round(np.cos(times * 3), 6)
    lines = ["name;timestamp;arousal;valence;liking"] + [
        f"'Train_DE_01';{t:.6f};{a:.6f};{-a:.6f};0.000000" for t, a in zip(times, arousal)
    ]
    (root / "labels" / "Train_DE_01.csv").write_text("\n".join(lines) + "\n")
    _fill_with_media(root, seconds=3.0)
    _, report = _prepare("sewa", root, tmp_path / "out")
    labels, mask = _shard_labels(tmp_path / "out", report["recordings"]["Train_DE_01"])
    frame_times = np.arange(len(labels)) / 25
    # Labels span 1.95 s (+ half a period): 49 frames of 25 fps.
    assert len(labels) == 49 and mask.all()
    np.testing.assert_allclose(labels[:, 0], np.interp(frame_times, times, arousal), atol=1e-6)


def _msp_tree(root, count=8):
    """An MSP-Podcast tree of `count` real 1-2.4 s utterances whose
    loudness follows arousal (1-7), two per speaker."""
    splits = ["Train"] * (count - 4) + ["Development", "Development", "Test1", "Test1"]
    lines = ["FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"]
    (root / "Audios").mkdir(parents=True)
    for i in range(count):
        name = f"MSP-PODCAST_{i // 2:04d}_{i:04d}.wav"
        write_media(root / "Audios" / name, seconds=1.0 + 0.2 * i, video=False, sample_rate=16000)
        lines.append(f"{name},N,{1 + 0.7 * i:.2f},{7 - 0.6 * i:.2f},4.0,{i // 2},Female,{splits[i]}")
    (root / "Labels").mkdir(parents=True, exist_ok=True)
    (root / "Labels" / "labels_consensus.csv").write_text("\n".join(lines) + "\n")


def _train(tmp_path, data, fusion, name):
    config = tmp_path / f"{name}.yaml"
    config.write_text(yaml.safe_dump(dict(TINY_RUN, fusion=fusion, epochs=1, stage1_epochs=0, image_size=32)))
    return main(["train", "--config", str(config), "--data", str(data), "--out", str(tmp_path / name)])


def test_an_audio_only_corpus_trains_evaluates_and_predicts_in_its_units(tmp_path, capsys):
    _msp_tree(tmp_path / "msp")
    _prepare("msp-podcast", tmp_path / "msp", tmp_path / "data")
    assert _train(tmp_path, tmp_path / "data", "audio_only", "run") == 0
    evaluation = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    assert evaluation["unit"] == "utterance" and "postprocessed" not in evaluation
    assert evaluation["raw"]["arousal"]["all"]["utterances"] == 2
    for target in ("arousal", "valence", "dominance"):
        for rid in ("MSP-PODCAST_0003_0006", "MSP-PODCAST_0003_0007"):
            assert 1.0 <= evaluation["raw"][target][rid]["prediction"] <= 7.0  # the corpus's 1-7 scale
    assert evaluation["raw"]["arousal"]["MSP-PODCAST_0003_0007"]["truth"] == pytest.approx(1 + 0.7 * 7, abs=1e-5)
    assert "per utterance" in (tmp_path / "run" / "evaluation.md").read_text()
    # The model's contract carries the 1-7 ranges and the unit.
    wav = tmp_path / "msp" / "Audios" / "MSP-PODCAST_0003_0007.wav"
    capsys.readouterr()
    assert main(["predict", str(wav), "--model", str(tmp_path / "run" / "model.keras"), "--out", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    utterance = json.loads((tmp_path / "MSP-PODCAST_0003_0007_utterance.json").read_text())
    assert sorted(utterance) == ["arousal", "dominance", "valence"] and "utterance (mean over its frames)" in said
    table = np.genfromtxt(tmp_path / "MSP-PODCAST_0003_0007_predictions.csv", delimiter=",", names=True)
    assert len(table) == int(2.4 * 25)  # one row per 40 ms of audio
    assert utterance["arousal"] == pytest.approx(table["arousal"].mean(), abs=1e-4)

    # `ablate` scores its rows per utterance too.
    command = ["ablate", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "ablation"), "--rows", "audio_only"]
    config = tmp_path / "run.yaml"
    assert main(command + ["--config", str(config)]) == 0
    table = (tmp_path / "ablation" / "ablation.md").read_text()
    assert "one mean prediction per utterance" in table and "Audio only" in table
    assert json.loads((tmp_path / "ablation" / "audio_only" / "evaluation.json").read_text())["unit"] == "utterance"

    # A fused model refuses audio-only recordings, naming one and the options.
    assert _train(tmp_path, tmp_path / "data", "cross_attention", "fused") == 2
    error = capsys.readouterr().err
    assert "MSP-PODCAST_0000_0000" in error and "has no video" in error and "fusion=audio_only" in error
    # And so does predict, naming the file and the options.
    from emokeras.models import build_av_model
    from tests.tiny import TINY_AV

    build_av_model(fusion="cross_attention", **TINY_AV).save(tmp_path / "fused.keras")
    assert main(["predict", str(wav), "--model", str(tmp_path / "fused.keras"), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert str(wav) in error and "has no video" in error and "audio_only model" in error


def test_a_visual_only_corpus_of_image_sequences_trains_evaluates_and_predicts(tmp_path, capsys):
    import cv2

    from tests.media_factory import frame_code

    root = tmp_path / "afew"
    rng = np.random.default_rng(0)
    for clip in range(6):
        folder = root / f"{clip:03d}"
        folder.mkdir(parents=True)
        frames = {}
        for k in range(30 + 3 * clip):
            cv2.imwrite(str(folder / f"{k:05d}.png"), frame_code(k, (40, 40))[..., ::-1])
            frames[f"{k:05d}"] = {"valence": float(rng.integers(-10, 11)), "arousal": float(rng.integers(-10, 11))}
        (folder / f"{folder.name}.json").write_text(json.dumps({"actor": f"A{clip}", "frames": frames}))
    _, report = _prepare("afew-va", root, tmp_path / "data", "--split-seed", "3")
    assert {e["split"] for e in report["recordings"].values()} == {"train", "dev", "test"}
    # 30 PNGs at 25 fps: 30 frames of 40 ms.
    assert report["recordings"]["000"]["frames"] == 30
    assert _train(tmp_path, tmp_path / "data", "visual_only", "run") == 0
    evaluation = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    assert evaluation["unit"] == "frame"
    test_ids = [i for i, e in report["recordings"].items() if e["split"] == "test"]
    assert evaluation["raw"]["valence"]["all"]["frames"] == sum(report["recordings"][i]["frames"] for i in test_ids)
    clip = root / "005"
    model = str(tmp_path / "run" / "model.keras")
    assert main(["predict", str(clip), "--model", model, "--video-frame-rate", "25", "--out", str(tmp_path)]) == 0
    table = np.genfromtxt(tmp_path / "005_predictions.csv", delimiter=",", names=True)
    assert len(table) == 45 and np.all(np.abs(table["valence"]) <= 10)  # AFEW-VA's -10..10
    # A fused model cannot read a recording without sound.
    assert _train(tmp_path, tmp_path / "data", "concat", "fused") == 2
    assert "has no audio" in capsys.readouterr().err


def test_utterance_and_per_group_scores_equal_numpy(tmp_path):
    rng = np.random.default_rng(1)
    results, truths, means, groups = {}, {}, {}, {}
    for i in range(9):
        frames = 10 + i
        prediction = rng.normal(size=(frames, 1))
        mask = np.ones((frames, 1), bool)
        mask[: i % 3] = False  # a few unscored frames
        truth = np.full((frames, 1), rng.normal())
        results[f"u{i}"] = (prediction, truth, mask)
        means[f"u{i}"] = prediction[mask[:, 0], 0].mean()
        truths[f"u{i}"] = truth[0, 0]
        groups[f"u{i}"] = f"video{i % 3}"
    scores = score_utterances(utterance_results(results), ["valence"], groups)["valence"]
    ids = sorted(results)
    assert scores["all"]["ccc"] == pytest.approx(numpy_ccc([truths[i] for i in ids], [means[i] for i in ids]), abs=1e-6)
    per_group = [
        numpy_ccc([truths[i] for i in ids if groups[i] == g], [means[i] for i in ids if groups[i] == g])
        for g in ("video0", "video1", "video2")
    ]
    assert scores["per_group_mean"]["ccc"] == pytest.approx(np.mean(per_group), abs=1e-6)
    assert scores["u4"]["prediction"] == pytest.approx(means["u4"])


def test_the_corpora_command_lists_every_reader_with_its_tree(capsys):
    from emokeras.data.corpora import READERS
    from emokeras.data.corpora import corpus_module

    assert main(["corpora"]) == 0
    listing = capsys.readouterr().out
    for name in READERS:
        assert f"emokeras prepare --corpus {name} ROOT --out DIR" in listing
        assert corpus_module(name).TREE.splitlines()[1].strip() in listing
    assert main(["corpora", "nope"]) == 2
    assert "unknown corpus 'nope'" in capsys.readouterr().err


def test_the_real_crema_d_clips_prepare_as_a_corpus_with_their_ratings(tmp_path, shared_file):
    """The six real clips in CREMA-D's own layout: face crops, the crowd's
    audio-visual intensity on its 0-100 scale, one value per utterance."""
    table = shared_file("real_media/crema_d/processedResults/summaryTable.csv")
    root = tmp_path / "CREMA-D"
    (root / "VideoFlash").mkdir(parents=True)
    for clip in sorted(table.parents[1].glob("1001_DFA_*.flv")):
        (root / "VideoFlash" / clip.name).symlink_to(clip)
    (root / "processedResults").symlink_to(table.parent)
    command = ["prepare", "--corpus", "crema-d", str(root), "--out", str(tmp_path / "out"), "--image-size", "64"]
    assert main(command + ["--workers", "1"]) == 0
    metadata, report = shard_format.read_metadata(tmp_path / "out"), shard_format.read_report(tmp_path / "out")
    assert metadata["targets"] == ["intensity"] and metadata["target_ranges"] == {"intensity": [0.0, 100.0]}
    assert metadata["unit"] == "utterance" and "speaker-independent" in report["split_rule"]
    entries = report["recordings"]
    assert len(entries) == 6 and all(
        e["status"] == "ok" and e["modalities"] == ["video", "audio"] for e in entries.values()
    )
    assert all(e["faces"]["frames_with_face"] >= 0.9 * e["frames"] for e in entries.values())
    labels, mask = _shard_labels(tmp_path / "out", entries["1001_DFA_HAP_XX"])
    np.testing.assert_allclose(labels[:, 0], 57.9, rtol=1e-6)  # MultiModalLevel of the official table
    assert mask.all()
