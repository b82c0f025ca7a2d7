"""Generated media for tests: pixels that encode the source frame index and
audio that encodes time, so alignment can be checked exactly."""

import fractions

import av
import numpy as np

RAMP_PERIOD = 4.0  # seconds
RAMP_HEIGHT = 0.9


def frame_code(index, size):
    """A flat RGB frame whose red / green levels spell `index` (0..255) in
    steps of 16, robust to lossy video codecs."""
    frame = np.empty((size[1], size[0], 3), np.uint8)
    frame[..., 0] = (index % 16) * 16 + 8
    frame[..., 1] = (index // 16 % 16) * 16 + 8
    frame[..., 2] = 128
    return frame


def read_frame_code(frame):
    """The index spelled by `frame_code` (centre region, rounded)."""
    h, w = frame.shape[:2]
    centre = frame[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].reshape(-1, 3).mean(axis=0)
    low, high = np.round((centre[:2] - 8) / 16).astype(int)
    return int(high * 16 + low)


def ramp(times):
    """The audio ramp: a sawtooth that tells the time modulo 4 s."""
    return RAMP_HEIGHT * (2.0 * np.mod(times / RAMP_PERIOD, 1.0) - 1.0)


def burst_onset(audio, sample_rate=16000):
    """Time of the first sample louder than 0.1 (the burst's start)."""
    return int(np.argmax(np.abs(audio) > 0.1)) / sample_rate


def ramp_time(value):
    return (value / RAMP_HEIGHT + 1.0) / 2.0 * RAMP_PERIOD


def write_media(
    path,
    seconds=3.0,
    frame_times=None,
    fps=fractions.Fraction(30000, 1001),
    size=(64, 48),
    video_codec="libx264",
    audio_codec="pcm_s16le",
    sample_rate=44100,
    channels=1,
    audio_start=0.0,
    video=True,
    audio=True,
    burst_at=None,
):
    """Writes a media file with coded frames and a ramp audio track.

    Args:
        frame_times: explicit presentation times (seconds) of the frames
            (variable frame rate); default every `1 / fps`.
        audio_start: the audio stream begins this late (seconds).
        burst_at: instead of the ramp (which lossy codecs' high-pass filters
            destroy), silence with one 50 ms 1 kHz tone burst at this time.
    """
    container = av.open(str(path), "w")
    streams = {}
    if video:
        rate = fractions.Fraction(fps).limit_denominator(100000)
        stream = container.add_stream(video_codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = fractions.Fraction(1, 30000)
        stream.codec_context.time_base = fractions.Fraction(1, 30000)
        if video_codec in ("libx264", "libx265"):
            stream.options = {"crf": "10", "preset": "ultrafast", "bf": "0"}
        streams["video"] = stream
        if frame_times is None:
            frame_times = [i / rate for i in range(int(seconds * rate))]
    if audio:
        stream = container.add_stream(audio_codec, rate=sample_rate)
        stream.layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
        streams["audio"] = stream
    if video:
        vstream = streams["video"]
        for index, time in enumerate(frame_times):
            frame = av.VideoFrame.from_ndarray(frame_code(index, size), format="rgb24")
            frame.pts = round(fractions.Fraction(time) / vstream.time_base)
            frame.time_base = vstream.time_base
            for packet in vstream.encode(frame):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
    if audio:
        astream = streams["audio"]
        total = int(round((seconds - audio_start) * sample_rate))
        times = audio_start + np.arange(total) / sample_rate
        if burst_at is None:
            signal = ramp(times).astype(np.float32)
        else:
            inside = (times >= burst_at) & (times < burst_at + 0.05)
            signal = (0.5 * np.sin(2 * np.pi * 1000 * times) * inside).astype(np.float32)
        chunk = 1024
        fmt = "s16" if audio_codec.startswith("pcm") else "fltp"
        for start in range(0, total, chunk):
            piece = signal[start : start + chunk]
            planes = np.repeat(piece[None], channels, axis=0)
            if fmt == "s16":
                data = (np.clip(planes, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(data, format="s16", layout=astream.layout.name)
            else:
                frame = av.AudioFrame.from_ndarray(planes.astype(np.float32), format="fltp", layout=astream.layout.name)
            frame.sample_rate = sample_rate
            frame.pts = round(audio_start * sample_rate) + start
            frame.time_base = fractions.Fraction(1, sample_rate)
            for packet in astream.encode(frame):
                container.mux(packet)
        for packet in astream.encode():
            container.mux(packet)
    container.close()
    return path


WARM = np.array([1.0, 0.75, 0.5])  # red > blue
COOL = np.array([0.5, 0.75, 1.0])  # blue > red


def two_faces_frame(left, right, right_zoom=1.0, hide=None):
    """Two real face frames (RGB uint8, same shape) side by side on a canvas
    twice as wide: two people in one video. The left frame is tinted `WARM`
    and the right one `COOL`, so that a crop tells by its mean colour whose
    face it shows. `right_zoom` scales the right frame about its centre (a
    bigger or smaller face, borders replicated); `hide="left"` or `"right"`
    paints that frame flat in its mean colour (that person's face is not
    found)."""
    import cv2

    if right_zoom != 1.0:
        height, width = right.shape[:2]
        shift = (1 - right_zoom) / 2
        matrix = np.array([[right_zoom, 0, shift * width], [0, right_zoom, shift * height]])
        right = cv2.warpAffine(right, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    halves = {"left": left * WARM, "right": right * COOL}
    if hide is not None:
        halves[hide] = np.broadcast_to(halves[hide].mean(axis=(0, 1)), halves[hide].shape)
    return np.concatenate([halves["left"], halves["right"]], axis=1).astype(np.uint8)
