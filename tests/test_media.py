"""Decoding onto one clock: containers, frame-rate resampling by timestamp,
audio resampling and downmix, and bad files."""

import fractions

import numpy as np
import pytest

from emokeras.data import MediaError
from emokeras.data import WindowGeometry
from emokeras.data import iter_video_frames
from emokeras.data import load_audio
from emokeras.data import media_info
from tests.media_factory import RAMP_PERIOD
from tests.media_factory import burst_onset
from tests.media_factory import ramp_time
from tests.media_factory import read_frame_code
from tests.media_factory import write_media

NTSC = fractions.Fraction(30000, 1001)


def _source_frame_times(frame_times, fps, count):
    return list(frame_times) if frame_times is not None else [i / fps for i in range(count)]


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("ntsc.mov", dict(fps=NTSC)),  # 29.97 fps, H.264 + PCM
        ("pal.avi", dict(fps=25, video_codec="mpeg4", sample_rate=22050, channels=2)),
        ("vfr.mkv", dict(frame_times="vfr", audio_start=0.3, sample_rate=48000, channels=6)),
    ],
)
def test_every_window_takes_frames_and_samples_from_the_same_span(tmp_path, name, kwargs):
    seconds = 6.0
    frame_times = None
    if kwargs.get("frame_times") == "vfr":
        # Variable frame rate: gaps of 20 to 60 ms.
        steps = np.random.default_rng(0).uniform(0.02, 0.06, 400)
        frame_times = [float(t) for t in np.concatenate([[0], np.cumsum(steps)]) if t < seconds]
        kwargs = dict(kwargs, frame_times=frame_times)
    path = write_media(tmp_path / name, seconds=seconds, **kwargs)
    fps = kwargs.get("fps", NTSC)
    source_times = _source_frame_times(frame_times, fps, int(seconds * fps))
    frames = [frame for _, frame in iter_video_frames(path, frame_rate=25)]
    audio = load_audio(path, sample_rate=16000)
    assert abs(len(frames) / 25 - seconds) <= 0.08 and abs(len(audio) / 16000 - seconds) <= 0.08

    geometry = WindowGeometry(clips=2, frames_per_clip=16, frame_rate=25, sample_rate=16000)
    for start in geometry.starts(min(len(frames), len(audio) // 640)):
        window = geometry.window("test", start)
        for offset, frame in enumerate(frames[window.frame_slice()]):
            time = float((window.start_frame + offset) / fractions.Fraction(25))
            shown = source_times[read_frame_code(frame)]
            # The frame on screen at `time`: shown at or before it (Matroska
            # stores milliseconds), within one source frame period.
            assert shown <= time + 1e-3 and time - shown < 0.061, (time, shown)
        samples = audio[window.sample_slice(16000)]
        expected = float(window.start) % RAMP_PERIOD
        audio_start = kwargs.get("audio_start", 0.0)
        if float(window.start) < audio_start:  # audio starts late: silence until then
            assert samples[0] == 0.0
            first = round(audio_start * 16000) - window.sample_slice(16000).start
            assert abs(ramp_time(samples[first + 1]) - audio_start) < 1e-3
        else:
            assert abs(ramp_time(samples[0]) - expected) < 1e-3, (window.start, ramp_time(samples[0]))


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("h264_aac.mp4", dict(video_codec="libx264", audio_codec="aac")),
        ("hevc.mov", dict(video_codec="libx265", audio_codec="aac")),
        ("vp8.webm", dict(video_codec="libvpx", audio_codec="libopus", sample_rate=48000)),
        ("sorenson.flv", dict(video_codec="flv", audio_codec="libmp3lame", sample_rate=44100)),
        ("mpeg4.avi", dict(video_codec="mpeg4", audio_codec="libmp3lame")),
    ],
)
def test_decodes_common_containers(tmp_path, name, kwargs):
    path = write_media(tmp_path / name, seconds=2.0, fps=25, size=(64, 48), burst_at=1.0, **kwargs)
    frames = list(iter_video_frames(path, frame_rate=25))
    assert 48 <= len(frames) <= 52
    assert frames[10][1].shape == (48, 64, 3)
    codes = [read_frame_code(f) for _, f in frames[:40]]
    # Some muxers delay video by a few tens of ms: frame k shows source
    # frame k, or k - 1 or k - 2 while the stream has not caught up.
    assert codes == sorted(codes) and all(k - 2 <= c <= k for k, c in enumerate(codes)), codes
    audio = load_audio(path)
    assert audio.dtype == np.float32 and abs(len(audio) / 16000 - 2.0) < 0.1
    # Encoder delays are compensated (or tiny): the burst is where it was put.
    assert abs(burst_onset(audio) - 1.0) < 0.03, burst_onset(audio)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("speech.wav", dict(audio_codec="pcm_s16le", sample_rate=8000, channels=2)),
        ("speech.mp3", dict(audio_codec="libmp3lame", sample_rate=44100)),
        ("speech.aac", dict(audio_codec="aac", sample_rate=48000)),
    ],
)
def test_decodes_audio_only_files_at_16k_mono(tmp_path, name, kwargs):
    path = write_media(tmp_path / name, seconds=2.0, video=False, burst_at=0.5, **kwargs)
    audio = load_audio(path)
    assert abs(len(audio) - 32000) < 1600
    assert 0.3 < np.abs(audio).max() <= 0.6  # channels averaged, not summed
    assert abs(burst_onset(audio) - 0.5) < 0.03, burst_onset(audio)


def test_real_crema_d_clip_decodes_on_one_clock(shared_file):
    path = shared_file("real_media/crema_d/1001_DFA_ANG_XX.flv")  # VP6 at 29.97 fps + MP3
    info = media_info(path)
    assert info["has_video"] and info["has_audio"] and info["width"] == 480
    frames = list(iter_video_frames(path, 25))
    audio = load_audio(path)
    assert abs(len(frames) / 25 - info["duration"]) < 0.1
    assert abs(len(audio) / 16000 - info["duration"]) < 0.1


def test_bad_files_name_the_file(tmp_path, shared_file):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty.mp4 is empty"):
        list(iter_video_frames(empty))
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(MediaError, match="notes.mp4 is not a media file"):
        load_audio(text)
    good = write_media(tmp_path / "good.mp4", seconds=3.0, fps=25, audio_codec="aac")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(MediaError, match="truncated.mp4"):
        list(iter_video_frames(truncated))
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        load_audio(tmp_path / "missing.mp4")
    audio_only = write_media(tmp_path / "voice.wav", seconds=1.0, video=False)
    with pytest.raises(MediaError, match="voice.wav has no video stream"):
        list(iter_video_frames(audio_only))
    no_audio = shared_file("real_media/faces/carphone_no_audio.mp4")
    with pytest.raises(MediaError, match="carphone_no_audio.mp4 has no audio stream"):
        load_audio(no_audio)


def test_a_folder_of_images_decodes_like_a_video(tmp_path):
    """Image `k` of a 10 fps sequence (names in natural order: 2.png before
    10.png) is on screen from `k / 10` s, so 25 fps output frame `n` shows
    image `floor(n * 10 / 25)`; the last image stays for one period."""
    import cv2

    from tests.media_factory import frame_code

    for k in range(12):
        cv2.imwrite(str(tmp_path / f"{k}.png"), frame_code(k, (32, 24))[..., ::-1])
    (tmp_path / "notes.txt").write_text("not a frame")
    frames = list(iter_video_frames(tmp_path, 25, source_frame_rate=10))
    assert [index for index, _ in frames] == list(range(30))  # 12 images of 0.1 s = 1.2 s
    assert [read_frame_code(frame) for _, frame in frames] == [n * 10 // 25 for n in range(30)]
    assert frames[0][1].shape == (24, 32, 3)
    with pytest.raises(MediaError, match="frame rate"):
        next(iter_video_frames(tmp_path, 25))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MediaError, match="holds no image frames"):
        next(iter_video_frames(tmp_path / "empty", 25, source_frame_rate=10))
