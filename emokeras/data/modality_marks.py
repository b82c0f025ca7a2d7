"""Whether a modality is really there, per clip: a face the detector found,
sound above a level. One rule for `prepare`d data (in-graph, from each
frame's face flag and samples), `predict` and `emokeras stream` (NumPy):

- the face is there when a face was detected on at least `FACE_SHARE` of
  the clip's real frames (or a face-marks file says so, for videos cropped
  beforehand, or when no detector ran: crops taken as they are);
- the voice is there when the clip's real samples reach
  `VOICE_THRESHOLD_DBFS`;
- a clip of padding (no real frame) counts as having both: it is masked
  anyway.

`VOICE_THRESHOLD_DBFS` is the level (RMS over the clip, in dB relative to
samples of full scale 1.0) below which a clip counts as holding no voice:
-50 dBFS is well above digital silence and the noise floor of a quiet room
recorded at ordinary gain (-60 to -70 dBFS), and well below speech at a
normal distance (-35 to -15 dBFS).
"""

import numpy as np

VOICE_THRESHOLD_DBFS = -50.0
FACE_SHARE = 0.5
# The stretches evaluation scores apart: `(face there, voice there)`.
PRESENCE_STRETCHES = {"complete": (True, True), "no_face": (False, True), "no_voice": (True, False)}
# Below any 16-bit signal: the level of digital silence.
SILENCE_DBFS = -120.0


def voice_level_dbfs(samples):
    """RMS level of float samples (full scale 1.0) in dBFS; `SILENCE_DBFS`
    for silence or no samples."""
    samples = np.asarray(samples, np.float64)
    if samples.size == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(samples * samples)))
    return max(SILENCE_DBFS, 20.0 * np.log10(rms)) if rms > 0 else SILENCE_DBFS


def face_there(share):
    """Whether a clip whose frames had a face in `share` of them (`None`:
    no detector ran) counts as showing the face."""
    return share is None or share >= FACE_SHARE


def voice_there(level_dbfs):
    """Whether a clip at `level_dbfs` counts as holding a voice."""
    return level_dbfs is not None and level_dbfs >= VOICE_THRESHOLD_DBFS


def without_missing_clips(values, visual_present, audio_present):
    """Clip values `(batch, L, ...)` with NaN where a clip has neither the
    face nor the voice: a model trained with `modality_dropout` masks such a
    clip, so its value is not a prediction."""
    either = (np.asarray(visual_present) > 0) | (np.asarray(audio_present) > 0)
    values = np.asarray(values)
    return np.where(either.reshape(either.shape + (1,) * (values.ndim - either.ndim)), values, np.nan)


def clip_presence(face_flags, audio, frames_per_clip, valid_frames=None):
    """Per-clip marks of a window (or a whole recording on its clip grid),
    in NumPy: `(visual_present, audio_present)`, int32 `(clips,)`.

    Args:
        face_flags: `(frames,)` 1 where a face was found on the frame.
        audio: `(frames * samples_per_frame,)` samples.
        frames_per_clip: frames in a clip.
        valid_frames: the real frames (default: all); later clips are
            padding.
    """
    face_flags = np.asarray(face_flags, np.float64)
    frames = len(face_flags)
    valid = frames if valid_frames is None else int(valid_frames)
    per_frame = len(audio) // frames
    clips = -(-frames // frames_per_clip)
    visual, voice = np.ones(clips, np.int32), np.ones(clips, np.int32)
    for clip in range(clips):
        first, last = clip * frames_per_clip, min((clip + 1) * frames_per_clip, valid)
        if last <= first:
            continue
        visual[clip] = face_there(float(np.mean(face_flags[first:last])))
        voice[clip] = voice_there(voice_level_dbfs(audio[first * per_frame : last * per_frame]))
    return visual, voice


def clip_presence_in_graph(face_flags, audio, frames_per_clip, valid_frames):
    """`clip_presence` in TensorFlow ops, for `tf.data`: `face_flags`
    `(window,)`, `audio` `(window, samples_per_frame)`, `valid_frames` a
    scalar; the window a whole number of clips."""
    import tensorflow as tf

    real = tf.cast(tf.range(tf.shape(face_flags)[0]) < valid_frames, tf.float64)
    real = tf.reshape(real, [-1, frames_per_clip])
    count = tf.reduce_sum(real, axis=1)
    faces = tf.reduce_sum(tf.reshape(tf.cast(face_flags, tf.float64), [-1, frames_per_clip]) * real, axis=1)
    audio = tf.cast(audio, tf.float64)
    power = tf.reshape(tf.reduce_sum(audio * audio, axis=1), [-1, frames_per_clip])
    power = tf.reduce_sum(power * real, axis=1) / (count * tf.cast(tf.shape(audio)[1], tf.float64))
    padding = count == 0
    # The mean power at the threshold: the level compared without a log.
    threshold = 10.0 ** (VOICE_THRESHOLD_DBFS / 10.0)
    visual = tf.logical_or(padding, faces >= FACE_SHARE * count)
    voice = tf.logical_or(padding, power >= threshold)
    return tf.cast(visual, tf.int32), tf.cast(voice, tf.int32)


def with_modality_dropout(windows, rate, seed, reshuffle_each_iteration=True):
    """Modality dropout on a `tf.data` dataset of unbatched training windows
    `(inputs, outputs, weights)` whose inputs hold `"visual_present"` and
    `"audio_present"` `(L,)`: each clip loses its face mark with probability
    `rate / 2` and its voice mark with `rate / 2` (never both, never a
    clip's only modality), so that a model which fills in what is marked
    absent (`MissingModalities`) learns from clips like the ones with a
    real gap. Done on the marks, in the data, so that the training loss
    sees each clip's case (`AVFusionRegressor` scores each case apart).

    Args:
        windows: the dataset.
        rate: share of clips that lose one modality, in [0, 1).
        seed: seed of the draws (one draw per window and clip).
        reshuffle_each_iteration: other draws each time the dataset is
            iterated.
    """
    import tensorflow as tf

    if not 0.0 <= rate < 1.0:
        raise ValueError(f"modality_dropout must be in [0, 1). Received: {rate!r}")
    if "visual_present" not in windows.element_spec[0]:
        raise ValueError("modality_dropout hides presence marks: the windows need them (presence_marks=True)")
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=reshuffle_each_iteration)

    def hide(window, draw_seed):
        inputs, *rest = window
        face = inputs["visual_present"] > 0
        voice = inputs["audio_present"] > 0
        draw = tf.random.stateless_uniform(tf.shape(face), seed=tf.stack([draw_seed, tf.constant(0, tf.int64)]))
        hide_face = (draw < rate / 2) & voice
        hide_voice = (draw >= rate / 2) & (draw < rate) & face
        inputs = dict(inputs)
        inputs["visual_present"] = tf.cast(face & ~hide_face, inputs["visual_present"].dtype)
        inputs["audio_present"] = tf.cast(voice & ~hide_voice, inputs["audio_present"].dtype)
        return (inputs, *rest)

    return tf.data.Dataset.zip(windows, draws).map(hide)
