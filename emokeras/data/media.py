"""Decoding video and audio with PyAV onto one clock.

Time zero is the container's presentation start. Video is resampled to a
fixed frame rate by presentation timestamp: output frame `k` (time
`k / frame_rate`) is the source frame on screen at that instant, i.e. the
last one whose timestamp is not later, so 29.97 fps, 30 fps and variable
frame rate sources all come out on the same clock. Audio is resampled to
mono at the target rate and placed on the same clock: a stream starting after
time zero is preceded by silence, samples before time zero are dropped.
"""

import contextlib
import fractions
import os

import av
import numpy as np

from emokeras.data.frame_clock import FrameClock


class MediaError(ValueError):
    """A media file cannot be used; the message names the file and the fix."""


@contextlib.contextmanager
def open_media(path):
    """`av.open` with errors that name the file and say what to do."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such media file: {path}")
    if os.path.getsize(path) == 0:
        raise MediaError(f"{path} is empty (0 bytes); re-copy or re-download it.")
    try:
        container = av.open(path)
    except av.error.FFmpegError as error:
        raise MediaError(
            f"{path} is not a media file FFmpeg can read ({error.strerror or error}). "
            "Check that it is a complete audio/video file, not a text file or a "
            "partial download."
        ) from None
    try:
        yield container
    finally:
        container.close()


def _seconds(value, time_base):
    return None if value is None else fractions.Fraction(value) * time_base


def _clock_start(container):
    """The container's presentation start, the clock's zero (in seconds)."""
    if container.start_time is not None:
        return fractions.Fraction(container.start_time, av.time_base)
    return fractions.Fraction(0)


def media_info(path):
    """Streams and timing of a media file.

    Returns:
        A dict with `duration` (seconds, float), `has_video`, `has_audio`,
        and for video `width`, `height`, `average_frame_rate`; for audio
        `audio_sample_rate`, `audio_channels`.
    """
    with open_media(path) as container:
        info = {
            "duration": None if container.duration is None else container.duration / av.time_base,
            "has_video": bool(container.streams.video),
            "has_audio": bool(container.streams.audio),
        }
        if container.streams.video:
            video = container.streams.video[0]
            rate = video.average_rate
            info.update(
                width=video.codec_context.width,
                height=video.codec_context.height,
                average_frame_rate=None if rate is None else float(rate),
            )
        if container.streams.audio:
            audio = container.streams.audio[0]
            info.update(
                audio_sample_rate=audio.codec_context.sample_rate,
                audio_channels=audio.codec_context.channels,
            )
    return info


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def image_sequence_files(folder):
    """The image frames of a folder, in natural order (`2.png` before
    `10.png`)."""
    import re

    folder = os.fspath(folder)
    names = [n for n in os.listdir(folder) if os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES]
    if not names:
        raise MediaError(
            f"{folder} holds no image frames ({', '.join(IMAGE_SUFFIXES)}); an image-sequence "
            "recording is a folder of frames"
        )

    def natural(name):
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]

    return [os.path.join(folder, n) for n in sorted(names, key=natural)]


def _timed_video_frames(path, frame_rate):
    """`(time, rgb, default_step)` for each decoded frame of a video file,
    time in seconds from the clock's zero (fractions)."""
    with open_media(path) as container:
        if not container.streams.video:
            raise MediaError(
                f"{path} has no video stream. For an audio-only recording leave the "
                "video empty (the `audio` column, or `--audio` in predict) and use an "
                "audio_only model."
            )
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        zero = _clock_start(container)
        default_step = 1 / (stream.average_rate or frame_rate)
        last_time = None
        decoded = 0
        try:
            for frame in container.decode(stream):
                time = _seconds(frame.pts, stream.time_base)
                time = (last_time + default_step) if time is None else time - zero
                last_time = time
                decoded += 1
                yield time, frame.to_ndarray(format="rgb24"), default_step
        except av.error.FFmpegError as error:
            raise MediaError(
                f"Decoding the video of {path} failed after {decoded} frames: {error}. "
                "The file may be truncated or corrupt; re-encode it "
                "(e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4)."
            ) from None


def _timed_image_frames(folder, source_frame_rate):
    """`(time, rgb, default_step)` for each image of a folder: image `k` is
    shown at `k / source_frame_rate`."""
    import cv2

    if not source_frame_rate or source_frame_rate <= 0:
        raise MediaError(f"{folder} is a folder of images: give its frame rate (e.g. video_frame_rate=25)")
    step = 1 / fractions.Fraction(source_frame_rate).limit_denominator(1001)
    for k, file in enumerate(image_sequence_files(folder)):
        bgr = cv2.imread(file, cv2.IMREAD_COLOR)
        if bgr is None:
            raise MediaError(f"{file} is not an image OpenCV can read; replace or remove it")
        yield k * step, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), step


def iter_video_frames(path, frame_rate=25, max_frames=None, source_frame_rate=None):
    """Yields RGB frames resampled to `frame_rate` by presentation time.

    Streams: only the current and the next source frame are held in memory.

    Args:
        path: a media file with a video stream, or a folder of image frames
            (an image sequence, in natural name order).
        frame_rate: output frames per second (int or fraction).
        max_frames: stop after this many output frames.
        source_frame_rate: the frame rate of an image-sequence folder.

    Yields:
        `(index, frame)`: output frame `index` shows the scene at time
        `index / frame_rate`; `frame` is `(height, width, 3)` uint8 RGB.

    Raises:
        MediaError: no video stream, or the stream cannot be decoded (the
            message names the file).
    """
    frame_rate = fractions.Fraction(frame_rate)
    path = os.fspath(path)
    if os.path.isdir(path):
        source = _timed_image_frames(path, source_frame_rate)
    else:
        source = _timed_video_frames(path, frame_rate)
    clock = FrameClock(frame_rate)
    for time, rgb, step in source:
        for index, frame in clock.add(time, rgb, step):
            yield index, frame
            if max_frames is not None and index + 1 >= max_frames:
                return
    if not clock.started:
        raise MediaError(f"{path}: the video has no decodable frame.")
    for index, frame in clock.finish():
        yield index, frame
        if max_frames is not None and index + 1 >= max_frames:
            return


def video_frame_times(path):
    """The presentation times (seconds, on the clock of `iter_video_frames`)
    of every frame of a video file, in display order, read from the
    container without decoding: labels given per source frame (one row per
    frame, e.g. Aff-Wild2) are timed by them, whatever the frame rate."""
    path = os.fspath(path)
    with open_media(path) as container:
        if not container.streams.video:
            raise MediaError(f"{path} has no video stream, so labels per video frame cannot be timed")
        stream = container.streams.video[0]
        zero = _clock_start(container)
        try:
            stamps = [packet.pts for packet in container.demux(stream) if packet.pts is not None]
        except av.error.FFmpegError as error:
            raise MediaError(f"Reading the frames of {path} failed: {error}. The file may be truncated.") from None
    if not stamps:
        raise MediaError(f"{path}: no timed video frames, so labels per video frame cannot be timed")
    return np.array([float(_seconds(stamp, stream.time_base) - zero) for stamp in sorted(stamps)])


def load_audio(path, sample_rate=16000):
    """Decodes the first audio stream to mono float32 on the media clock.

    Any container and codec FFmpeg reads (wav, mp3, aac, flv, mp4, ...); any
    channel count is averaged to mono and any rate resampled to
    `sample_rate`. Sample `n` is the sound at time `n / sample_rate` on the
    clock shared with `iter_video_frames`.

    Args:
        path: the media file.
        sample_rate: output rate in Hz.

    Returns:
        A float32 NumPy array `(samples,)`, nominally in [-1, 1].

    Raises:
        FileNotFoundError: `path` does not exist.
        MediaError: the file cannot be decoded, has no audio stream, or
            holds NaN / inf samples; the message names the file.
    """
    path = os.fspath(path)
    with open_media(path) as container:
        if not container.streams.audio:
            raise MediaError(
                f"{path} has no audio stream. Give the audio as a separate file (prepare: the "
                "manifest's `audio` column; predict: --audio), use silence in its place (prepare "
                "--silence-for-missing-audio), or use a visual_only model"
            )
        stream = container.streams.audio[0]
        zero = _clock_start(container)
        # Keep the channels through resampling and average them ourselves:
        # FFmpeg's own downmix adds channels at -3 dB (stereo comes out 1.41x
        # louder and can exceed [-1, 1]).
        resampler = av.AudioResampler(format="fltp", rate=sample_rate)
        chunks = []
        start = None
        try:
            for frame in container.decode(stream):
                if start is None and frame.pts is not None:
                    start = _seconds(frame.pts, stream.time_base) - zero
                for resampled in resampler.resample(frame):
                    chunks.append(resampled.to_ndarray().mean(axis=0))
            for resampled in resampler.resample(None):
                chunks.append(resampled.to_ndarray().mean(axis=0))
        except av.error.FFmpegError as error:
            raise MediaError(
                f"Decoding the audio of {path} failed: {error}. The file may be truncated or corrupt."
            ) from None
    samples = np.concatenate(chunks) if chunks else np.zeros((0,), np.float32)
    bad = ~np.isfinite(samples)
    if bad.any():
        # Float PCM can hold NaN / inf; a model would turn them into plausible numbers.
        raise MediaError(
            f"{path}: its audio holds {int(bad.sum())} NaN or inf sample(s), the first at "
            f"{np.argmax(bad) / sample_rate:.3f} s (after resampling to {sample_rate} Hz). Re-export the audio "
            "(e.g. ffmpeg -i in.wav -c:a pcm_s16le out.wav) after fixing the source."
        )
    offset = round((start or 0) * sample_rate)
    if offset > 0:  # the stream starts late: silence until it does
        samples = np.concatenate([np.zeros(offset, np.float32), samples])
    elif offset < 0:  # samples before the clock's zero (e.g. encoder priming)
        samples = samples[-offset:]
    return samples.astype(np.float32, copy=False)
