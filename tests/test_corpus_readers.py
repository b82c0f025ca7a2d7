"""The corpus readers on miniature trees written in each corpus's own
syntax (label files exactly as the corpora ship them), and CREMA-D on its
real clips.

Video and audio files are empty placeholders: the readers only find media,
they never open it (decoding is `prepare`'s job and is tested there). AFEW-VA
frames are real PNGs, since an image folder is the recording itself."""

import json
import math
import os

import cv2
import numpy as np
import pytest

from emokeras.data.corpora import READERS
from emokeras.data.corpora import corpus_module
from emokeras.data.corpora import read_corpus
from emokeras.data.corpora.splits import speaker_independent_split
from emokeras.data.labels import LabelError

NEW_READERS = ("aff-wild2", "msp-podcast", "afew-va", "sewa", "omg-emotion", "crema-d")
NAN = math.nan


def _write(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _by_id(corpus):
    return {r.recording_id: r for r in corpus.recordings}


def _assert_values(actual, expected):
    np.testing.assert_array_equal(np.asarray(actual, np.float64), np.asarray(expected, np.float64))


@pytest.mark.parametrize("name", NEW_READERS)
def test_every_reader_is_registered_and_shows_its_layout_when_it_is_missing(tmp_path, name):
    module = corpus_module(name)
    assert READERS[name] == module.__name__.rsplit(".", 1)[1]
    assert module.NAME == name and "ROOT/" in module.TREE
    for root in (tmp_path, tmp_path / "absent"):
        with pytest.raises(ValueError) as error:
            read_corpus(name, root, seed=0)
        assert module.TREE in str(error.value) and str(root) in str(error.value)


# --- Aff-Wild2 ---------------------------------------------------------------

AFF_WILD2_A = "valence,arousal\n0.5,-0.25\n-5,-5\n0.1,-5\n-1,1\n"


def _aff_wild2(root, annotations="6th ABAW Annotations/VA_Estimation_Challenge", train="Train_Set"):
    _write(root / "batch1" / "vid_a.mp4")
    _write(root / "batch2" / "two_people.avi")
    _write(root / "other_videos" / "more" / "val_c.mp4")  # found by the whole-tree search
    labels = root / annotations
    _write(labels / train / "vid_a.txt", AFF_WILD2_A)
    _write(labels / train / "two_people_left.txt", "valence,arousal\n0.2,0.3\n0.25,0.35\n")
    _write(labels / train / "two_people_right.txt", "valence,arousal\n-0.2,-0.3\n-0.25,-0.35\n")
    _write(labels / "Validation_Set" / "val_c.txt", "valence,arousal\n0,0\n")
    return labels


def test_aff_wild2_reads_frames_sides_and_unlabelled_marks(tmp_path):
    _aff_wild2(tmp_path)
    corpus = read_corpus("aff-wild2", tmp_path)
    recordings = _by_id(corpus)
    assert list(recordings) == ["two_people_left", "two_people_right", "val_c", "vid_a"]
    assert {i: r.split for i, r in recordings.items()} == {
        "two_people_left": "train",
        "two_people_right": "train",
        "val_c": "dev",
        "vid_a": "train",
    }
    assert recordings["two_people_left"].face_side == "left"
    assert recordings["two_people_right"].face_side == "right"
    assert recordings["vid_a"].face_side is None
    assert recordings["two_people_left"].video == recordings["two_people_right"].video
    assert recordings["two_people_left"].video == os.fspath(tmp_path / "batch2" / "two_people.avi")
    assert recordings["val_c"].video == os.fspath(tmp_path / "other_videos" / "more" / "val_c.mp4")
    assert recordings["vid_a"].audio is None  # the video's own track

    times, values = recordings["vid_a"].label_series
    assert times is None  # one row per source frame
    # -5 in either column: the frame is unlabelled for both targets.
    _assert_values(values["valence"], [0.5, NAN, NAN, -1.0])
    _assert_values(values["arousal"], [-0.25, NAN, NAN, 1.0])
    frames, mask = recordings["vid_a"].frame_labels(frame_rate=30, source_frame_times=np.arange(4) / 30)
    assert mask.tolist() == [True, False, False, True]
    assert frames["valence"][0] == 0.5 and frames["arousal"][3] == 1.0

    assert corpus.target_ranges == {"valence": (-1.0, 1.0), "arousal": (-1.0, 1.0)}
    assert corpus.unit == "frame" and corpus.scoring == "all"
    assert "no labelled test split" in corpus.split_rule


def test_aff_wild2_older_release_layout(tmp_path):
    _aff_wild2(tmp_path, annotations="annotations/VA_Set", train="Training_Set")
    corpus = read_corpus("aff-wild2", tmp_path)
    assert sorted(r.split for r in corpus.recordings) == ["dev", "train", "train", "train"]


def test_aff_wild2_names_become_safe_unique_ids(tmp_path):
    labels = _aff_wild2(tmp_path)
    _write(tmp_path / "batch1" / "talk show (1).mp4")
    _write(tmp_path / "batch1" / "talk_show__1_.mp4")
    _write(labels / "Train_Set" / "talk show (1).txt", "valence,arousal\n0,0\n")
    _write(labels / "Train_Set" / "talk_show__1_.txt", "valence,arousal\n0.5,0.5\n")
    recordings = _by_id(read_corpus("aff-wild2", tmp_path))
    assert recordings["talk_show__1_"].video.endswith("talk show (1).mp4")
    assert recordings["talk_show__1_-2"].video.endswith("talk_show__1_.mp4")


@pytest.mark.parametrize(
    "text, message",
    [
        ("valence,arousal\n0.5,0.1\n0.5;0.2\n", "row 3"),
        ("valence,arousal\n1.5,0\n", "row 2: '1.5,0' is outside [-1, 1]"),
        ("arousal,valence\n0,0\n", "row 1: expected the header"),
        ("valence,arousal\n", "no label rows"),
    ],
)
def test_aff_wild2_malformed_annotation_names_file_and_row(tmp_path, text, message):
    labels = _aff_wild2(tmp_path)
    _write(labels / "Train_Set" / "vid_a.txt", text)
    with pytest.raises(LabelError, match="vid_a.txt") as error:
        read_corpus("aff-wild2", tmp_path)
    assert message in str(error.value)


def test_aff_wild2_missing_duplicate_videos_and_two_releases_are_errors(tmp_path):
    labels = _aff_wild2(tmp_path)
    _write(labels / "Validation_Set" / "gone.txt", "valence,arousal\n0,0\n")
    with pytest.raises(ValueError, match=r"1 annotated video\(s\) not found \(gone\)"):
        read_corpus("aff-wild2", tmp_path)
    (labels / "Validation_Set" / "gone.txt").unlink()

    _write(tmp_path / "batch2" / "vid_a.avi")
    with pytest.raises(ValueError, match="vid_a: .*batch1.*batch2"):
        read_corpus("aff-wild2", tmp_path)
    (tmp_path / "batch2" / "vid_a.avi").unlink()

    _write(tmp_path / "5th ABAW Annotations" / "VA_Estimation_Challenge" / "Train_Set" / "vid_a.txt", AFF_WILD2_A)
    with pytest.raises(ValueError, match="several valence-arousal annotation sets"):
        read_corpus("aff-wild2", tmp_path)


# --- MSP-Podcast -------------------------------------------------------------

MSP_LABELS = (
    "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"
    "MSP-PODCAST_0001_0008.wav,N,2.2,4.0,2.6,30,Male,Test1\n"
    "MSP-PODCAST_0002_0001.wav,A,5.9,2.5,5.1,127,Female,Train\n"
    "MSP-PODCAST_0003_0002.wav,H,4.0,6.333333,4.5,12,Male,Development\n"
    "MSP-PODCAST_0004_0001.wav,N,3.0,4.0,3.0,Unknown,Unknown,Test2\n"
    "MSP-PODCAST_0005_0001.wav,,,,,Unknown,Unknown,Test3\n"
)


def _msp_podcast(root, labels=MSP_LABELS, name="labels_consensus.csv"):
    _write(root / "Labels" / name, labels)
    for stem in ("MSP-PODCAST_0001_0008", "MSP-PODCAST_0002_0001", "MSP-PODCAST_0003_0002"):
        _write(root / "Audios" / f"{stem}.wav")


@pytest.mark.parametrize("name", ["labels_consensus.csv", "labels_concensus.csv"])
def test_msp_podcast_reads_audio_only_utterances_on_the_1_to_7_scale(tmp_path, name):
    _msp_podcast(tmp_path, name=name)
    corpus = read_corpus("msp-podcast", tmp_path)
    recordings = _by_id(corpus)
    assert list(recordings) == ["MSP-PODCAST_0001_0008", "MSP-PODCAST_0002_0001", "MSP-PODCAST_0003_0002"]
    assert [r.split for r in recordings.values()] == ["test", "train", "dev"]
    train = recordings["MSP-PODCAST_0002_0001"]
    assert train.video is None and train.modalities == ("audio",)
    assert train.audio == os.fspath(tmp_path / "Audios" / "MSP-PODCAST_0002_0001.wav")
    assert train.label_values == {"arousal": 5.9, "valence": 2.5, "dominance": 5.1}
    assert recordings["MSP-PODCAST_0003_0002"].label_values["valence"] == 6.333333
    assert corpus.target_ranges == {t: (1.0, 7.0) for t in ("arousal", "valence", "dominance")}
    assert corpus.unit == "utterance"
    assert "1 Test2, 1 Test3 rows" in corpus.split_rule


@pytest.mark.parametrize(
    "row, message",
    [
        ("MSP-PODCAST_0002_0001.wav,A,5.9,8.5,5.1,127,Female,Train", "row 3: EmoVal='8.5' is outside the 1-7 scale"),
        ("MSP-PODCAST_0002_0001.wav,A,high,2.5,5.1,127,Female,Train", "row 3: EmoAct='high' is not a number"),
        ("MSP-PODCAST_0002_0001.wav,A,5.9,2.5,5.1,127,Female,Validation", "row 3: Split_Set 'Validation'"),
        ("MSP-PODCAST_0001_0008.wav,A,5.9,2.5,5.1,127,Female,Train", "row 3: MSP-PODCAST_0001_0008.wav is already"),
    ],
)
def test_msp_podcast_malformed_labels_name_file_and_row(tmp_path, row, message):
    lines = MSP_LABELS.splitlines()
    lines[2] = row
    _msp_podcast(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(LabelError, match="labels_consensus.csv") as error:
        read_corpus("msp-podcast", tmp_path)
    assert message in str(error.value)


def test_msp_podcast_missing_audio_is_named(tmp_path):
    _msp_podcast(tmp_path)
    (tmp_path / "Audios" / "MSP-PODCAST_0003_0002.wav").unlink()
    with pytest.raises(ValueError, match=r"1 labelled audio file\(s\) .* \(MSP-PODCAST_0003_0002.wav\)"):
        read_corpus("msp-podcast", tmp_path)


# --- AFEW-VA -----------------------------------------------------------------


def _afew_clip(folder, count, labels, actor=None):
    folder.mkdir(parents=True)
    for index in range(count):
        assert cv2.imwrite(str(folder / f"{index:05d}.png"), np.full((8, 8, 3), index, np.uint8))
    frames = {k: {"valence": v, "arousal": a, "landmarks": [[1.0, 2.0]] * 68} for k, (v, a) in labels.items()}
    content = {"frames": frames, "video_id": folder.name, **({"actor": actor} if actor else {})}
    (folder / f"{folder.name}.json").write_text(json.dumps(content))


def _afew_va(root):
    # 00002 has no label; 00009 has no PNG.
    labels = {"00000": (-3, 5), "00001": (0, 6), "00003": (10, -10), "00009": (1, 1)}
    _afew_clip(root / "01" / "001", 4, labels, actor="Actor A")
    _afew_clip(root / "002", 2, {"00000.png": (2, 2), "00001.png": (3, 3)}, actor="Actor A")
    (root / "002" / "002_cropped").mkdir()  # face crops some copies carry: not frames, not a clip
    cv2.imwrite(str(root / "002" / "002_cropped" / "00000.png"), np.zeros((4, 4, 3), np.uint8))
    _afew_clip(root / "003", 3, {"00000": (1, 1), "00001": (1, 1), "00002": (1, 1)})
    _afew_clip(root / "004", 1, {"00000": (-1, -1)}, actor="Actor B")


def test_afew_va_reads_image_sequences_with_frame_times_and_actor_split(tmp_path):
    _afew_va(tmp_path)
    corpus = read_corpus("afew-va", tmp_path, seed=3)
    recordings = _by_id(corpus)
    assert list(recordings) == ["001", "002", "003", "004"]
    clip = recordings["001"]
    assert clip.video == os.fspath(tmp_path / "01" / "001") and clip.is_image_sequence
    assert clip.video_frame_rate == 25.0 and clip.audio is None and clip.modalities == ("video",)
    times, values = clip.label_series
    _assert_values(times, [0.0, 0.04, 0.08, 0.12])
    _assert_values(values["valence"], [-3, 0, NAN, 10])
    _assert_values(values["arousal"], [5, 6, NAN, -10])
    assert recordings["002"].label_series[0].shape == (2,)  # 002_cropped/ holds no frames of 002
    _assert_values(recordings["002"].label_series[1]["valence"], [2, 3])
    _, mask = clip.frame_labels(frame_rate=25)
    assert mask.tolist() == [True, True, False, True]

    expected, _ = speaker_independent_split(
        {"001": "Actor A", "002": "Actor A", "003": "clip 003", "004": "Actor B"}, seed=3
    )
    assert {i: r.split for i, r in recordings.items()} == expected
    assert "seed 3" in corpus.split_rule and "1 labelled frame(s) without a PNG" in corpus.split_rule
    assert corpus.target_ranges == {"valence": (-10.0, 10.0), "arousal": (-10.0, 10.0)}
    assert corpus.unit == "frame"


def test_afew_va_malformed_json_and_clips_without_frames(tmp_path):
    _afew_va(tmp_path)
    annotation = tmp_path / "003" / "003.json"
    annotation.write_text(json.dumps({"frames": {"00001": {"valence": 11, "arousal": 0}}}))
    with pytest.raises(LabelError, match=r"003.json, frame '00001': valence=11 is outside -10..10"):
        read_corpus("afew-va", tmp_path)
    annotation.write_text(json.dumps({"actor": "X"}))
    with pytest.raises(LabelError, match="003.json: no 'frames' object"):
        read_corpus("afew-va", tmp_path)
    annotation.write_text('{"frames": {')
    with pytest.raises(LabelError, match="003.json, line 1: not valid JSON"):
        read_corpus("afew-va", tmp_path)
    annotation.write_text(json.dumps({"frames": {}}))
    for png in (tmp_path / "003").glob("*.png"):
        png.unlink()
    with pytest.raises(ValueError, match="003: no PNG frames"):
        read_corpus("afew-va", tmp_path)


# --- SEWA (AVEC 2019 / 2018 CES) ----------------------------------------------

SEWA_2019 = (
    "name;timestamp;arousal;valence;liking\n"
    "'Train_DE_01';0.000000;0.100000;-0.200000;0.300000\n"
    "'Train_DE_01';0.100000;0.150000;-0.250000;0.350000\n"
    "'Train_DE_01';0.200000;0.200000;-0.300000;-1.000000\n"
)
SEWA_2018 = "'Devel_HU_02';0.000000;-0.5;0.5;0.0\n'Devel_HU_02';0.100000;-0.4;0.4;0.1\n"


def _sewa(root):
    _write(root / "labels" / "Train_DE_01.csv", SEWA_2019)
    _write(root / "labels" / "Devel_HU_02.csv", SEWA_2018)
    for name in ("Train_DE_01", "Devel_HU_02", "Test_CN_01"):
        _write(root / "video" / f"{name}.avi")
    _write(root / "audio" / "Train_DE_01.wav")


def test_sewa_reads_both_label_formats_with_their_timestamps(tmp_path):
    _sewa(tmp_path)
    corpus = read_corpus("sewa", tmp_path)
    recordings = _by_id(corpus)
    assert list(recordings) == ["Devel_HU_02", "Train_DE_01"]  # Test_CN_01 has no labels
    train, dev = recordings["Train_DE_01"], recordings["Devel_HU_02"]
    assert (train.split, dev.split) == ("train", "dev")
    assert train.audio == os.fspath(tmp_path / "audio" / "Train_DE_01.wav")
    assert dev.audio is None and dev.audio_source == os.fspath(tmp_path / "video" / "Devel_HU_02.avi")
    times, values = train.label_series
    _assert_values(times, [0.0, 0.1, 0.2])
    _assert_values(values["arousal"], [0.1, 0.15, 0.2])
    _assert_values(values["valence"], [-0.2, -0.25, -0.3])
    _assert_values(values["liking"], [0.3, 0.35, -1.0])
    times, values = dev.label_series
    _assert_values(times, [0.0, 0.1])
    _assert_values(values["valence"], [0.5, 0.4])
    frames, mask = train.frame_labels(frame_rate=25)
    assert mask.all() and frames["arousal"][0] == np.float32(0.1) and frames["liking"][5] == np.float32(-1.0)
    assert corpus.target_ranges == {t: (-1.0, 1.0) for t in ("arousal", "valence", "liking")}
    assert corpus.unit == "frame" and "1 / 1 / 0 labelled recordings" in corpus.split_rule


@pytest.mark.parametrize(
    "text, message",
    [
        (SEWA_2019.replace("0.100000;0.15", "0.000000;0.15"), "row 3: timestamp 0.0 does not increase"),
        (SEWA_2019.replace("-0.250000", "x"), "row 3: expected name;timestamp;arousal;valence;liking"),
        (SEWA_2019.replace("0.350000", "1.5"), "row 3: a value of"),
        (SEWA_2019.replace("liking", "likability"), "row 1: missing column(s) ['liking']"),
    ],
)
def test_sewa_malformed_labels_name_file_and_row(tmp_path, text, message):
    _sewa(tmp_path)
    _write(tmp_path / "labels" / "Train_DE_01.csv", text)
    with pytest.raises(LabelError, match="Train_DE_01.csv") as error:
        read_corpus("sewa", tmp_path)
    assert message in str(error.value)


def test_sewa_missing_video_and_unknown_partition_are_errors(tmp_path):
    _sewa(tmp_path)
    (tmp_path / "video" / "Devel_HU_02.avi").unlink()
    with pytest.raises(ValueError, match=r"1 labelled video\(s\) are missing \(Devel_HU_02.avi\)"):
        read_corpus("sewa", tmp_path)
    _write(tmp_path / "video" / "Devel_HU_02.avi")
    _write(tmp_path / "labels" / "Extra_DE_01.csv", SEWA_2018)
    with pytest.raises(ValueError, match="Extra_DE_01.csv: label file names start with Train_, Devel_, Test_"):
        read_corpus("sewa", tmp_path)


# --- OMG-Emotion -------------------------------------------------------------

OMG_HEADER = "link,start,end,video,utterance,arousal,valence,EmotionMaxVote\n"
OMG_TRAIN = OMG_HEADER + (
    "https://www.youtube.com/watch?v=CROcsl0lIec,15.41,19.68,5b44393ed,utterance_4.mp4,0.17009126740299998,"
    "-0.0236966881471,4\n"
    "https://www.youtube.com/watch?v=CROcsl0lIec,21.25,36.79,5b44393ed,utterance_6.mp4,0.417668314388,"
    "0.292946929716,3\n"
    "https://www.youtube.com/watch?v=Zrx1BfbOysg,0.0,0.66,8c56c5ac5,utterance_1.mp4,0.101285536061,"
    "-0.345701782852,5\n"
)
OMG_VALIDATION = OMG_HEADER + (
    "https://www.youtube.com/watch?v=xfsvvbTlR38,0.87,16.93,74de88564,utterance_1.mp4,0.057386889393300014,"
    "0.114515408794,4\n"
    "https://www.youtube.com/watch?v=gG1zIeeobkA,0.0,10.20,8c49a05d3_1,utterance_1.mp4,0.807007378812,"
    "0.194555983839,0\n"
)
OMG_TEST = OMG_HEADER + (
    "https://www.youtube.com/watch?v=_bg0TrqHcBs,0.0,16.23,1f61459b0,utterance_1.mp4,0.468657983622,"
    "0.6965706155500001,3\n"
)


def _omg(root, tables="omg_csv"):
    _write(root / tables / "omg_TrainVideos.csv", OMG_TRAIN)
    _write(root / tables / "omg_ValidationVideos.csv", OMG_VALIDATION)
    _write(root / tables / "omg_TestVideos_WithLabels.csv", OMG_TEST)
    for video, utterance in [
        ("5b44393ed", "utterance_4.mp4"),
        ("5b44393ed", "utterance_6.mp4"),  # 8c56c5ac5 could not be downloaded
        ("74de88564", "utterance_1.mp4"),
        ("8c49a05d3_1", "utterance_1.mp4"),
        ("1f61459b0", "utterance_1.mp4"),
    ]:
        _write(root / "videos" / video / utterance)
    _write(root / "videos" / "youtube_videos_temp" / "5b44393ed.mp4")  # the full download, not an utterance


def test_omg_emotion_reads_utterances_grouped_by_video(tmp_path):
    _omg(tmp_path)
    corpus = read_corpus("omg-emotion", tmp_path)
    recordings = _by_id(corpus)
    assert list(recordings) == [
        "1f61459b0-utterance_1",
        "5b44393ed-utterance_4",
        "5b44393ed-utterance_6",
        "74de88564-utterance_1",
        "8c49a05d3_1-utterance_1",
    ]
    assert [r.split for r in recordings.values()] == ["test", "train", "train", "dev", "dev"]
    utterance = recordings["5b44393ed-utterance_4"]
    assert utterance.video == os.fspath(tmp_path / "videos" / "5b44393ed" / "utterance_4.mp4")
    assert utterance.group == "5b44393ed" and recordings["8c49a05d3_1-utterance_1"].group == "8c49a05d3_1"
    assert utterance.label_values == {"arousal": 0.17009126740299998, "valence": -0.0236966881471}
    assert corpus.target_ranges == {"arousal": (0.0, 1.0), "valence": (-1.0, 1.0)}
    assert corpus.unit == "utterance" and corpus.scoring == "per_group"
    assert "(train 1, dev 0, test 0)" in corpus.split_rule


def test_omg_emotion_errors(tmp_path):
    _omg(tmp_path, tables=".")
    _write(tmp_path / "omg_TrainVideos.csv", OMG_TRAIN.replace("0.417668314388", "1.4"))
    with pytest.raises(LabelError, match=r"omg_TrainVideos.csv, row 3: arousal='1.4' is outside \[0, 1\]"):
        read_corpus("omg-emotion", tmp_path)
    _write(tmp_path / "omg_TrainVideos.csv", OMG_TRAIN + OMG_TRAIN.splitlines()[1] + "\n")
    with pytest.raises(LabelError, match="row 5: 5b44393ed/utterance_4.mp4 is already labelled"):
        read_corpus("omg-emotion", tmp_path)
    _write(tmp_path / "omg_TrainVideos.csv", OMG_TRAIN)
    os.rename(tmp_path / "videos", tmp_path / "elsewhere")
    os.rename(tmp_path / "elsewhere" / "5b44393ed", tmp_path / "elsewhere" / "renamed")
    assert len(read_corpus("omg-emotion", tmp_path).recordings) == 3  # any folder below the root
    (tmp_path / "omg_ValidationVideos.csv").unlink()
    with pytest.raises(ValueError, match="no omg_ValidationVideos.csv"):
        read_corpus("omg-emotion", tmp_path)


# --- CREMA-D -----------------------------------------------------------------

CREMA_TABLE = (
    '"","FileName","VoiceVote","VoiceLevel","FaceVote","FaceLevel","MultiModalVote","MultiModalLevel"\n'
    '"60","1001_DFA_HAP_XX","N","75.25","H","66.57","H","57.9"\n'
    '"62","1001_DFA_ANG_XX","A","47.33","A","41.8","A","41.5"\n'
    '"120","1002_IEO_SAD_HI","N","60.14","A:F","30.67:51.00","A:F","30.67:51.00"\n'
    '"200","1003_TIE_NEU_XX","N","69.1","N","92.22","N","64.78"\n'
    '"300","1004_TIE_NEU_XX","N","69.1","N","92.22","N","64.78"\n'
)


def _crema_d(root, table=CREMA_TABLE):
    _write(root / "processedResults" / "summaryTable.csv", table)
    for name in ("1001_DFA_ANG_XX", "1001_DFA_HAP_XX", "1002_IEO_SAD_HI", "1003_TIE_NEU_XX", "1040_ITH_SAD_X"):
        _write(root / "VideoFlash" / f"{name}.flv")
    _write(root / "AudioWAV" / "1001_DFA_ANG_XX.wav")


def test_crema_d_reads_intensities_and_splits_by_actor(tmp_path):
    _crema_d(tmp_path)
    corpus = read_corpus("crema-d", tmp_path, seed=5)
    recordings = _by_id(corpus)
    # 1004 has a row but no clip; 1040_ITH_SAD_X has a clip but no row.
    assert list(recordings) == ["1001_DFA_ANG_XX", "1001_DFA_HAP_XX", "1002_IEO_SAD_HI", "1003_TIE_NEU_XX"]
    assert {i: r.label_values["intensity"] for i, r in recordings.items()} == {
        "1001_DFA_ANG_XX": 41.5,
        "1001_DFA_HAP_XX": 57.9,
        "1002_IEO_SAD_HI": (30.67 + 51.0) / 2,  # a tie: the mean of the tied levels
        "1003_TIE_NEU_XX": 64.78,
    }
    assert recordings["1001_DFA_ANG_XX"].audio == os.fspath(tmp_path / "AudioWAV" / "1001_DFA_ANG_XX.wav")
    assert recordings["1001_DFA_HAP_XX"].audio is None
    assert recordings["1001_DFA_HAP_XX"].video == os.fspath(tmp_path / "VideoFlash" / "1001_DFA_HAP_XX.flv")
    expected, _ = speaker_independent_split({i: i.split("_")[0] for i in recordings}, seed=5)
    assert {i: r.split for i, r in recordings.items()} == expected
    assert "seed 5" in corpus.split_rule and "1 clip(s) without a summaryTable row" in corpus.split_rule
    assert corpus.target_ranges == {"intensity": (0.0, 100.0)} and corpus.unit == "utterance"


@pytest.mark.parametrize(
    "old, new, message",
    [
        ('"57.9"', '"high"', "row 2: MultiModalLevel='high' is not a number"),
        ('"41.5"', '"141.5"', "row 3: MultiModalLevel='141.5' is outside 0-100"),
        ("1003_TIE_NEU_XX", "1001_DFA_ANG_XX", "row 5: 1001_DFA_ANG_XX already has row 3"),
    ],
)
def test_crema_d_malformed_table_names_file_and_row(tmp_path, old, new, message):
    _crema_d(tmp_path, CREMA_TABLE.replace(old, new))
    with pytest.raises(LabelError, match="summaryTable.csv") as error:
        read_corpus("crema-d", tmp_path)
    assert message in str(error.value)


def test_crema_d_real_clips_carry_the_official_intensities(tmp_path, shared_file):
    table = shared_file("real_media/crema_d/processedResults/summaryTable.csv")
    (tmp_path / "VideoFlash").mkdir()
    for clip in sorted(table.parents[1].glob("*.flv")):
        (tmp_path / "VideoFlash" / clip.name).symlink_to(clip)
    (tmp_path / "processedResults").symlink_to(table.parent)
    corpus = read_corpus("crema-d", tmp_path)
    # MultiModalLevel of processedResults/summaryTable.csv in the CREMA-D release.
    assert {r.recording_id: r.label_values["intensity"] for r in corpus.recordings} == {
        "1001_DFA_ANG_XX": 41.5,
        "1001_DFA_DIS_XX": 41.83,
        "1001_DFA_FEA_XX": 44.8,
        "1001_DFA_HAP_XX": 57.9,
        "1001_DFA_NEU_XX": 75.88,
        "1001_DFA_SAD_XX": 63.6,
    }
    assert all(r.split == "train" and r.audio is None for r in corpus.recordings)  # one actor; the flv's track
    assert all(os.path.isfile(r.video) for r in corpus.recordings)
