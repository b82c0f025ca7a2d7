"""The built-in synthetic audio-visual corpus: real mp4 files (H.264 video of a
cartoon face, AAC voice-like audio) with per-frame valence / arousal labels
and a manifest, for the end-to-end demo and for tests that need media files.

The face carries valence (arousal leaks in weakly), the voice carries arousal
(valence leaks in weakly), and each modality drops out in turn, so a model
has to fuse both to track both targets everywhere.
"""

import csv
import fractions
import io
import pathlib

import av
import cv2
import numpy as np

from emokeras.atomic_write import atomic_path
from emokeras.atomic_write import write_text_atomically
from emokeras.data.recording import MANIFEST_COLUMNS

# OpenCV draws with sub-pixel precision in fixed point with this many
# fractional bits, so that slow expression changes move the drawing smoothly.
_SHIFT = 4
_SCALE = 1 << _SHIFT

# BGR colours.
_SKIN_TONES = np.array(
    [[189, 211, 241], [150, 190, 230], [120, 160, 210], [90, 125, 175], [60, 90, 140]],
    np.float64,
)
_EYE_WHITE = (235, 238, 240)
_PUPIL = (50, 35, 25)
_BROW = (35, 45, 60)
_MOUTH_INSIDE = (25, 20, 60)
_OCCLUDER = (128, 128, 128)

_HARMONICS = 8


def write_synthetic_corpus(
    out_dir,
    recordings=10,
    seconds=60.0,
    seed=0,
    frame_rate=25,
    sample_rate=16000,
    image_size=112,
    dev_fraction=0.2,
    test_fraction=0.2,
):
    """Writes a synthetic audio-visual emotion corpus with known targets.

    Every recording has two independent, smooth latent traces in
    [-0.9, 0.9]: valence `v(t)` and arousal `a(t)`, each a sum of four slow
    sinusoids (periods of 6 to 40 s, random phases and weights) rescaled to
    span that whole range over the first 60 s (shorter recordings cover
    less of it, at the same speed). The targets are exactly these traces,
    sampled at every video frame.

    - Video (`rec_NNN.mp4`, H.264, yuv420p, `frame_rate` fps,
      `image_size` x `image_size`): an already-cropped cartoon face (skin
      ellipse, eyes, eyebrows, nose, mouth) filling most of the frame, on a
      per-recording background. Valence bends the mouth (smile for v > 0,
      frown for v < 0, corners move by up to 8 % of the frame) and shapes
      the eyebrows (arched for v > 0, inner ends raised for v < 0). Arousal
      leaks in weakly: the eyes and the mouth open a little
      wider. Small smooth head jitter and pixel noise are added.
    - Audio (AAC track of the same file, mono, `sample_rate` Hz): a harmonic,
      voice-like tone (8 harmonics) in syllable-like bursts. Arousal drives
      loudness (-26 to -2 dBFS peak), pitch (110 to 300 Hz fundamental) and
      tempo (2 to 6 syllables per second). Valence leaks in weakly as
      brightness (the harmonics roll off more slowly for positive valence).
      The phase integrates the instantaneous frequency, so there are no
      clicks; a little breath noise and a -66 dBFS noise floor are added.
    - Missing modalities: random stretches (up to 2 to 5 s each, 10 to 20 %
      of the recording per modality, at least 0.5 s apart, never both at
      once) where the face is hidden behind a grey occluder filling the
      frame, or the voice is silent (only the noise floor, with 5 ms fades
      inside the neighbouring voiced frames). The targets keep following the
      latents there.

    Measured on 10 x 60 s recordings: the mouth's curvature correlates with
    valence at 0.999 (visible frames), the per-frame audio RMS with arousal
    at 0.84 to 0.90 (voiced frames).

    Timing: video frame `k` has presentation time `k / frame_rate`, and the
    audio starts at time 0 (the AAC encoder's 1024-sample priming is
    trimmed by the mp4 edit list). Decoders return the audio padded to a
    whole number of 1024-sample AAC frames, i.e. up to 1023 near-silent
    samples past `seconds`.

    Files, in `out_dir`: `rec_NNN.mp4`, `rec_NNN.csv` (header
    `time,valence,arousal`, one row per video frame, `time = k /
    frame_rate`), `rec_NNN_face.csv` (header `time,face`, one row per
    frame: 0 where the occluder hides the face; a face detector cannot
    vouch for a cartoon face, the generator can) and `manifest.csv`
    (columns `recording_id, video, audio, labels, split, face_marks`, paths
    relative to `out_dir`; `audio` is empty, meaning the video's own audio
    track). The silent stretches need no file: `prepare` measures them. Splits are drawn from the seed; with 3 or
    more recordings every split with a positive fraction gets at least one
    recording, and train always keeps at least one. Every file is written
    under a temporary name in `out_dir` and renamed into place, and the
    manifest is written last, so an interrupted run leaves no partial file
    under a final name. The same seed gives the same labels and manifest
    byte for byte and the same decoded audio and video (on one machine;
    the video encoder runs single-threaded so its output does not depend
    on the number of cores). Ten 60 s recordings take about 15 to 20 s on
    one core and about 16 MB.

    Args:
        out_dir: the output folder (created if needed; files of the same
            names are replaced).
        recordings: number of recordings.
        seconds: duration of each recording in seconds.
        seed: random seed.
        frame_rate: video frames (and label rows) per second, an integer.
        sample_rate: audio samples per second, an integer.
        image_size: frame height and width in pixels, even and at least 32.
        dev_fraction: share of recordings in the `dev` split.
        test_fraction: share of recordings in the `test` split.

    Returns:
        The `pathlib.Path` of `manifest.csv`.

    Example:

    >>> import csv, tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> manifest = write_synthetic_corpus(folder.name, recordings=3, seconds=2.0)
    >>> with open(manifest) as file:
    ...     rows = list(csv.DictReader(file))
    >>> sorted(row["split"] for row in rows)
    ['dev', 'test', 'train']
    >>> rows[0]["video"], rows[0]["audio"], rows[0]["labels"]
    ('rec_000.mp4', '', 'rec_000.csv')
    >>> with open(manifest.parent / "rec_000.csv") as file:
    ...     print(file.readline().strip(), sum(1 for _ in file))
    time,valence,arousal 50
    >>> folder.cleanup()
    """
    recordings = _positive_int(recordings, "recordings")
    frame_rate = _positive_int(frame_rate, "frame_rate")
    sample_rate = _positive_int(sample_rate, "sample_rate")
    image_size = _positive_int(image_size, "image_size")
    if image_size < 32 or image_size % 2:
        raise ValueError(f"image_size must be even and at least 32 (H.264 yuv420p needs even sizes), got {image_size}")
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    frames = int(round(seconds * frame_rate))
    if frames < 2:
        raise ValueError(f"seconds * frame_rate must give at least 2 frames, got {seconds} s at {frame_rate} fps")
    for name, value in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    if dev_fraction + test_fraction >= 1:
        raise ValueError(
            f"dev_fraction + test_fraction must be below 1 so that train is not "
            f"empty, got {dev_fraction} + {test_fraction}"
        )

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # One independent stream per recording (and one for the splits), so a
    # recording's content depends only on the seed and its index.
    streams = np.random.SeedSequence(seed).spawn(recordings + 1)
    splits = _assign_splits(np.random.default_rng(streams[-1]), recordings, dev_fraction, test_fraction)
    names = [f"rec_{index:03d}" for index in range(recordings)]
    # One after the other: threads do not help, PyAV's encoders hold the GIL.
    for name, stream in zip(names, streams[:-1]):
        _write_recording(
            video_path=out_dir / f"{name}.mp4",
            labels_path=out_dir / f"{name}.csv",
            face_marks_path=out_dir / f"{name}_face.csv",
            seed_sequence=stream,
            frames=frames,
            frame_rate=frame_rate,
            sample_rate=sample_rate,
            image_size=image_size,
        )

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS + ("face_marks",))
    for name, split in zip(names, splits):
        writer.writerow([name, f"{name}.mp4", "", f"{name}.csv", split, f"{name}_face.csv"])
    manifest = out_dir / "manifest.csv"
    write_text_atomically(manifest, text.getvalue())
    return manifest


def _positive_int(value, name):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _assign_splits(rng, recordings, dev_fraction, test_fraction):
    """Split names per recording: rounded shares, at least one per split with
    a positive fraction when there are 3+ recordings, train never empty."""
    counts = []
    for fraction in (dev_fraction, test_fraction):
        count = int(np.floor(fraction * recordings + 0.5))
        if fraction > 0 and recordings >= 3:
            count = max(count, 1)
        counts.append(count)
    while sum(counts) > recordings - 1:
        counts[int(np.argmax(counts))] -= 1
    splits = np.full(recordings, "train", dtype=object)
    order = rng.permutation(recordings)
    splits[order[: counts[0]]] = "dev"
    splits[order[counts[0] : counts[0] + counts[1]]] = "test"
    return list(splits)


def _latent(rng, times):
    """A slow trace at `times` (evenly spaced from 0): four sinusoids with
    periods of 6-40 s and random phases and weights, rescaled to span
    [-0.9, 0.9] over the first 60 s (or the whole recording if longer), so
    that short recordings move as slowly as long ones."""
    frequencies = np.exp(rng.uniform(np.log(1 / 40), np.log(1 / 6), 4))
    phases = rng.uniform(0, 2 * np.pi, 4)
    weights = rng.uniform(0.5, 1.0, 4)

    def trace(t):
        return np.sin(2 * np.pi * frequencies * t[:, None] + phases) @ weights

    step = times[1] - times[0]
    span = trace(np.arange(max(len(times), int(np.ceil(60 / step)))) * step)
    low, high = span.min(), span.max()
    return 0.9 * (2 * (trace(times) - low) / max(high - low, 1e-9) - 1)


def _missing_stretches(rng, frames, frame_rate):
    """Boolean masks `(face_hidden, voice_silent)` over frames: intervals of up
    to 2-5 s covering 10-20 % of the frames each, at least 0.5 s apart from
    every other interval of either modality (so never both at once)."""
    occupied = np.zeros(frames, bool)
    gap = int(round(0.5 * frame_rate))
    shortest = max(1, int(round(0.2 * frame_rate)))
    masks = []
    for _ in range(2):
        mask = np.zeros(frames, bool)
        need = max(1, int(round(rng.uniform(0.1, 0.2) * frames)))
        length = 0
        while need >= shortest:
            if length == 0:
                length = min(need, int(round(rng.uniform(2, 5) * frame_rate)))
            starts = rng.integers(0, frames - length + 1, 64)
            for start in starts:
                if not occupied[max(0, start - gap) : start + length + gap].any():
                    mask[start : start + length] = True
                    occupied[start : start + length] = True
                    need -= length
                    length = 0
                    break
            else:
                # No hole fits: try a shorter piece, give up below `shortest`.
                length //= 2
                if length < shortest:
                    break
        masks.append(mask)
    return masks[0], masks[1]


def _write_recording(
    video_path, labels_path, face_marks_path, seed_sequence, frames, frame_rate, sample_rate, image_size
):
    content = _recording_content(seed_sequence, frames, frame_rate, sample_rate, image_size)
    lines = ["time,valence,arousal\n"]
    lines += [
        f"{k / frame_rate:.6f},{v:.6f},{a:.6f}\n"
        for k, (v, a) in enumerate(zip(content["valence"], content["arousal"]))
    ]
    write_text_atomically(labels_path, "".join(lines))
    marks = ["time,face\n"] + [
        f"{k / frame_rate:.6f},{int(not hidden)}\n" for k, hidden in enumerate(content["face_hidden"])
    ]
    write_text_atomically(face_marks_path, "".join(marks))
    with atomic_path(video_path, keep_suffix=True) as temporary:
        _encode(temporary, content["render"], content["audio"], frame_rate, sample_rate, image_size)


def _recording_content(seed_sequence, frames, frame_rate, sample_rate, image_size):
    """One recording before encoding: a dict of per-frame `valence`,
    `arousal`, `face_hidden` and `voice_silent`, the float32 `audio` and
    `render` (frame index to BGR image)."""
    rng = np.random.default_rng(seed_sequence)
    valence_rng, arousal_rng, gaps_rng, video_rng, audio_rng = rng.spawn(5)
    frame_times = np.arange(frames) / frame_rate
    valence = _latent(valence_rng, frame_times)
    arousal = _latent(arousal_rng, frame_times)
    face_hidden, voice_silent = _missing_stretches(gaps_rng, frames, frame_rate)
    # The audio follows the same latents, at the sample times.
    samples = int(round(frames * sample_rate / frame_rate))
    sample_times = np.arange(samples) / sample_rate
    audio = _synthesise_voice(
        audio_rng,
        np.interp(sample_times, frame_times, valence),
        np.interp(sample_times, frame_times, arousal),
        voice_silent,
        sample_rate,
    )
    render = _FaceRenderer(video_rng, valence, arousal, face_hidden, frame_rate, image_size)
    return dict(
        valence=valence,
        arousal=arousal,
        face_hidden=face_hidden,
        voice_silent=voice_silent,
        audio=audio,
        render=render,
    )


def _smooth(values, width):
    """Two passes of a moving average of `width` samples (a triangle), via
    cumulative sums; used to fade the voice in and out without clicks."""
    for _ in range(2):
        padded = np.concatenate([np.full(width, values[0]), values, np.full(width, values[-1])])
        total = np.cumsum(padded)
        values = (total[width:] - total[:-width])[width // 2 : width // 2 + len(values)] / width
    return values


def _synthesise_voice(rng, valence, arousal, voice_silent, sample_rate):
    """Voice-like audio, float32 in [-1, 1]; see `write_synthetic_corpus`."""
    samples = len(arousal)
    level = (arousal + 1) / 2  # 0 (calm) .. 1 (excited)
    # Syllables: integrate the tempo, so the rate can change smoothly.
    rate = 2.0 + 4.0 * level
    syllable_phase = rng.uniform(0, 1) + np.cumsum(rate) / sample_rate
    index = syllable_phase.astype(np.int64)
    within = syllable_phase - index
    stress = rng.uniform(0.7, 1.0, index[-1] + 1)[index]
    # Flat-topped bursts that fall to a soft floor between syllables.
    burst = np.minimum(1.0, 3.0 * np.sin(np.pi * within)) ** 2
    envelope = stress * (0.2 + 0.8 * burst)

    # Pitch: arousal sets the register, each syllable rises and falls a
    # little, and a slow random drift keeps it from sounding synthetic.
    drift_frequency = rng.uniform(0.2, 0.5)
    drift_phase = rng.uniform(0, 2 * np.pi)
    time = np.arange(samples) / sample_rate
    fundamental = 110.0 * (300.0 / 110.0) ** level
    fundamental *= 1 + 0.06 * np.sin(np.pi * within) - 0.03
    fundamental *= 1 + 0.02 * np.sin(2 * np.pi * drift_frequency * time + drift_phase)
    # Wrapped to [0, 2 pi) so that the harmonics can be computed in float32
    # without losing phase precision late in a long recording.
    phase = np.mod(2 * np.pi * np.cumsum(fundamental) / sample_rate, 2 * np.pi)

    # Valence leaks in as brightness: slower harmonic roll-off when positive.
    # Harmonics stop below 0.45 x the sample rate at the highest pitch
    # (about 320 Hz), so nothing aliases.
    rolloff = (1.3 - 0.4 * valence).astype(np.float32)
    tone = np.zeros(samples, np.float32)
    norm = np.zeros(samples, np.float32)
    for harmonic in range(1, _HARMONICS + 1):
        if harmonic > 1 and harmonic * 320 >= 0.45 * sample_rate:
            break
        weight = np.exp(-np.log(harmonic) * rolloff)
        tone += weight * np.sin((harmonic * phase).astype(np.float32))
        norm += weight
    tone /= norm  # peak amplitude at most 1 whatever the brightness
    tone += 0.03 * rng.standard_normal(samples, dtype=np.float32)  # breath

    loudness = 10 ** ((-26.0 + 24.0 * level) / 20)
    # Short fades (5 ms) against clicks, kept inside the voiced frames so
    # that every frame of a silent stretch is silent throughout: the silence
    # is first widened by twice the fade, then the edges smoothed.
    fade = max(1, sample_rate // 400)
    silent = np.repeat(voice_silent, _samples_per_frame(len(voice_silent), samples))
    widened = _smooth(silent.astype(np.float64), 2 * fade) > 1e-6
    gate = _smooth((~widened).astype(np.float64), fade)
    audio = (loudness * envelope * gate).astype(np.float32) * tone
    audio += 0.0005 * rng.standard_normal(samples, dtype=np.float32)  # noise floor
    return np.clip(audio, -1, 1)


def _samples_per_frame(frames, samples):
    """Repeat counts mapping every audio sample to the frame it falls in."""
    edges = (np.arange(frames + 1) * samples) // frames
    return np.diff(edges)


class _FaceRenderer:
    """Draws frame `k` of the cartoon face on demand (`renderer(k)` gives a
    BGR uint8 image); the per-frame geometry is computed up front."""

    def __init__(self, rng, valence, arousal, face_hidden, frame_rate, image_size):
        self.rng = rng
        self.hidden = face_hidden
        self.size = size = image_size
        frames = len(valence)
        time = np.arange(frames) / frame_rate
        level = (arousal + 1) / 2

        # Background: a vertical gradient between two random colours.
        top, bottom = rng.uniform(30, 220, (2, 3))
        mix = np.linspace(0, 1, size)[:, None, None]
        self.background = np.round(np.broadcast_to(top + (bottom - top) * mix, (size, size, 3))).astype(np.uint8)
        self.occluder = np.full((size, size, 3), _OCCLUDER, np.uint8)
        skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] + rng.uniform(-10, 10, 3)
        self.skin = tuple(float(c) for c in np.clip(skin, 0, 255))
        # Lips and nose are shades of the skin, so they contrast with any tone.
        self.nose = tuple(0.8 * c for c in self.skin)
        self.lips = tuple(0.55 * c + r for c, r in zip(self.skin, (0, 0, 40)))

        # Smooth head jitter (about 1.5 % of the frame) plus a slight tremor.
        def wobble(amplitude):
            frequencies = rng.uniform(0.2, 0.8, 2)
            phases = rng.uniform(0, 2 * np.pi, 2)
            slow = np.sin(2 * np.pi * frequencies * time[:, None] + phases).sum(axis=1) / 2
            return amplitude * (slow + 0.2 * rng.standard_normal(frames))

        self.center_x = size / 2 + wobble(0.015 * size)
        self.center_y = size * 0.53 + wobble(0.015 * size)
        self.scale = 1 + wobble(0.015)
        self.valence = valence
        self.level = level

    def __len__(self):
        return len(self.hidden)

    def __call__(self, k):
        if self.hidden[k]:
            image = self.occluder.copy()
        else:
            image = self.background.copy()
            self._draw_face(image, k)
        # Pixel noise from random bytes (a Gaussian draw per pixel would cost
        # more than the drawing): two 3-bit / 2-bit uniforms give a zero-mean,
        # bell-shaped noise in [-5, 5] with a standard deviation of 2.5.
        bits = np.frombuffer(self.rng.bytes(image.size), np.uint8).reshape(image.shape)
        noise = (bits & 7).astype(np.int16) + (bits >> 6) - 5
        return np.clip(image + noise, 0, 255).astype(np.uint8)

    _ACROSS = np.linspace(-1, 1, 17)  # points along the mouth

    def _draw_face(self, image, k):
        unit = self.size * self.scale[k]
        cx, cy = self.center_x[k], self.center_y[k]
        v, level = self.valence[k], self.level[k]

        def fixed(points):
            return np.round(np.asarray(points) * _SCALE).astype(np.int32)

        def ellipse(x, y, width, height, colour):
            centre, axes = tuple(fixed([x, y])), tuple(fixed([width, height]))
            cv2.ellipse(image, centre, axes, 0, 0, 360, colour, -1, cv2.LINE_AA, _SHIFT)

        def line(points, colour, thickness, closed=False):
            thickness = max(1, int(thickness))
            cv2.polylines(image, [fixed(points)], closed, colour, thickness, cv2.LINE_AA, _SHIFT)

        ellipse(cx, cy, 0.38 * unit, 0.46 * unit, self.skin)
        # Eyes open a little wider with arousal (weak leakage).
        eye_height = (0.035 + 0.02 * level) * unit
        for side in (-1, 1):
            ex, ey = cx + side * 0.15 * unit, cy - 0.1 * unit
            ellipse(ex, ey, 0.075 * unit, eye_height, _EYE_WHITE)
            ellipse(ex, ey, 0.03 * unit, 0.03 * unit, _PUPIL)
            # Eyebrows arch for positive valence and slant up at the inner
            # end for negative valence (worry); arousal lifts them slightly.
            brow_y = ey - (0.1 + 0.02 * level) * unit
            brow = [
                [ex - side * 0.07 * unit, brow_y - 0.05 * max(-v, 0) * unit],
                [ex, brow_y - 0.03 * max(v, 0) * unit],
                [ex + side * 0.08 * unit, brow_y + 0.01 * unit],
            ]
            line(brow, _BROW, 0.025 * unit)
        ellipse(cx, cy + 0.04 * unit, 0.035 * unit, 0.025 * unit, self.nose)

        # Mouth: a parabola whose corners rise by 8 % of the frame at v = 1
        # (smile) and fall as much at v = -1 (frown); arousal opens it a bit.
        across = self._ACROSS
        xs = cx + 0.16 * unit * across
        middle = cy + 0.22 * unit - 0.08 * unit * v * across**2
        opening = (0.01 + 0.04 * level) * unit * (1 - across**2)
        upper = np.stack([xs, middle - opening / 2], axis=1)
        lower = np.stack([xs, middle + opening / 2], axis=1)[::-1]
        outline = np.concatenate([upper, lower])
        cv2.fillPoly(image, [fixed(outline)], _MOUTH_INSIDE, cv2.LINE_AA, _SHIFT)
        line(outline, self.lips, 0.02 * unit, closed=True)


def _encode(path, render, audio, frame_rate, sample_rate, image_size):
    """Muxes H.264 video and AAC audio into an mp4, interleaved in time order.

    Video frame `k` gets pts `k` in a `1 / frame_rate` time base and audio
    chunk pts count samples, so both clocks start at exactly 0.
    """
    video_base = fractions.Fraction(1, frame_rate)
    audio_base = fractions.Fraction(1, sample_rate)
    chunk = 1024  # one AAC frame
    with av.open(path, "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=frame_rate)
        video.width = video.height = image_size
        video.pix_fmt = "yuv420p"
        video.time_base = video_base
        # One encoder thread: the output then does not depend on the number
        # of cores (and frames this small gain nothing from more).
        video.options = {"preset": "ultrafast", "crf": "21", "threads": "1"}
        sound = container.add_stream("aac", rate=sample_rate)
        sound.layout = "mono"
        sound.time_base = audio_base

        def encode_audio(until):
            nonlocal position
            while position < min(until, len(audio)):
                piece = audio[position : position + chunk]
                frame = av.AudioFrame.from_ndarray(piece[None], format="fltp", layout="mono")
                frame.sample_rate = sample_rate
                frame.time_base = audio_base
                frame.pts = position
                container.mux(sound.encode(frame))
                position += len(piece)

        position = 0
        for k in range(len(render)):
            # Audio up to the end of this video frame first, so the packets
            # reach the muxer roughly in time order.
            encode_audio(((k + 1) * sample_rate) // frame_rate)
            frame = av.VideoFrame.from_ndarray(render(k), format="bgr24")
            frame.time_base = video_base
            frame.pts = k
            container.mux(video.encode(frame))
        encode_audio(len(audio))
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
