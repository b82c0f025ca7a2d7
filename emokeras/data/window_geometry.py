"""How recordings are cut into windows, and how clip predictions go back
onto frames: the one home of the window rule, in Python and in-graph."""

import dataclasses
import fractions

import numpy as np

from emokeras.data.window import Window

LAST_WINDOW_RULES = ("align_end", "drop", "pad")


@dataclasses.dataclass(frozen=True)
class WindowGeometry:
    """Windows of `clips` clips of `frames_per_clip` frames, cut every
    `stride` frames from a recording on a `frame_rate` clock, with the audio
    of the same span at `sample_rate`.

    After pytorchvideo's clip samplers: one object answers every question
    about windows, so the dataset, the trainer's epoch length, the feature
    cache, evaluation and prediction cannot disagree.

    Label delays: raters react late, so frame `t` is trained on the label
    annotated `label_delays[target]` frames later, and the last
    `max_delay` frames have no label for some target: with labels, a
    recording of `N` frames is windowed over its first `N - max_delay`
    frames (`usable_frames`). A geometry for unlabelled video has no delays.

    The last partial stretch (frames after the last window that fits at
    `offset, offset + stride, ...`) follows `last_window`:
    - `"align_end"`: one more window ending at the last usable frame (it
      overlaps its predecessor more; nothing is padded);
    - `"drop"`: those frames are not used;
    - `"pad"`: one more window, `stride` after the last one, reaching past
      the end; its frames beyond the recording are padding.
    A recording shorter than one window gives one padded window under every
    rule.

    Padding: a window starting at `s` in a recording of `N` frames holds
    `valid_frames = min(L T, N - s)` real frames, then padding. A clip counts
    (is valid) when it holds at least one real frame, so every real frame is
    predicted; the model fills the padded frames of a window itself (the
    last real frame repeated, silent audio), so their content never matters.
    In the loss, a clip weighs by its share of labelled real frames.

    Args:
        clips: clips per window, `L`.
        frames_per_clip: frames per clip, `T`.
        frame_rate: frames per second; must divide into `sample_rate`
            samples per frame exactly.
        sample_rate: audio samples per second.
        stride: frames between window starts (default: one clip).
        last_window: `"align_end"`, `"drop"` or `"pad"`.
        label_delays: annotation delay in frames, one int for every target
            or `{target: frames}` (paper: valence 58, arousal 68 at 25 fps).

    Example:

    >>> geometry = WindowGeometry(clips=8, frames_per_clip=16, frame_rate=25,
    ...                           sample_rate=16000, stride=128)
    >>> geometry.starts(300)
    [0, 128, 172]
    >>> geometry.window_samples
    81920
    """

    clips: int
    frames_per_clip: int
    frame_rate: int
    sample_rate: int
    stride: int | None = None
    last_window: str = "align_end"
    label_delays: int | dict | None = None

    def __post_init__(self):
        for name in ("clips", "frames_per_clip", "frame_rate", "sample_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
        if self.stride is None:
            object.__setattr__(self, "stride", self.frames_per_clip)
        elif isinstance(self.stride, bool) or not isinstance(self.stride, int) or self.stride < 1:
            raise ValueError(f"stride must be a positive number of frames or None. Received: stride={self.stride!r}")
        if self.last_window not in LAST_WINDOW_RULES:
            raise ValueError(
                f"last_window must be one of {', '.join(LAST_WINDOW_RULES)}. Received: {self.last_window!r}"
            )
        if self.sample_rate % self.frame_rate:
            raise ValueError(
                f"frame_rate={self.frame_rate} must divide sample_rate={self.sample_rate} so that every frame "
                "spans a whole number of audio samples (e.g. 25 fps at 16000 Hz)"
            )
        delays = self.label_delays
        values = [] if delays is None else [delays] if isinstance(delays, int) else list(delays.values())
        if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in values):
            raise ValueError(f"label_delays must be frames >= 0. Received: {delays!r}")
        if isinstance(delays, dict):
            object.__setattr__(self, "label_delays", dict(delays))

    @property
    def window_frames(self):
        return self.clips * self.frames_per_clip

    @property
    def samples_per_frame(self):
        return self.sample_rate // self.frame_rate

    @property
    def samples_per_clip(self):
        return self.frames_per_clip * self.samples_per_frame

    @property
    def window_samples(self):
        return self.window_frames * self.samples_per_frame

    @property
    def max_delay(self):
        delays = self.label_delays
        if delays is None:
            return 0
        return delays if isinstance(delays, int) else max(delays.values(), default=0)

    def delays_for(self, targets):
        """The delay of each target, in `targets` order."""
        delays = self.label_delays
        if delays is None or isinstance(delays, int):
            return [delays or 0] * len(targets)
        unknown = sorted(set(delays) - set(targets))
        if unknown:
            raise ValueError(f"label_delays names unknown targets {unknown}; the targets are {list(targets)}")
        return [delays.get(target, 0) for target in targets]

    def without_labels(self):
        """The same windows for unlabelled video (no delay cut)."""
        return dataclasses.replace(self, label_delays=None)

    def usable_frames(self, num_frames):
        """Frames of a recording of `num_frames` that windows may cover."""
        return max(int(num_frames) - self.max_delay, 0)

    def starts(self, num_frames, offset=0):
        """Start frames of the windows of a recording of `num_frames`
        frames, the first at `offset` (see `training_offset`)."""
        return _starts(self.usable_frames(num_frames), self.window_frames, self.stride, self.last_window, offset)

    def starts_in_graph(self, num_frames, offset=0):
        """`starts` in TensorFlow ops (`num_frames`, `offset`: int32
        scalars), for tf.data."""
        import tensorflow as tf

        usable = tf.maximum(num_frames - self.max_delay, 0)
        return _starts_in_graph(usable, self.window_frames, self.stride, self.last_window, offset)

    def offsets(self, num_frames):
        """The first-window offsets training draws from: `0 ..
        min(stride, usable - window + 1) - 1`, so that every offset leaves at
        least one whole window when the recording has one."""
        room = self.usable_frames(num_frames) - self.window_frames + 1
        return range(max(1, min(self.stride, room)))

    def training_offset(self, random_value, num_frames):
        """In-graph: a random first-window offset from `offsets` (uniform for
        a uniform non-negative int64 `random_value`)."""
        import tensorflow as tf

        usable = tf.maximum(tf.cast(num_frames, tf.int64) - self.max_delay, 0)
        choices = tf.maximum(tf.minimum(tf.cast(self.stride, tf.int64), usable - self.window_frames + 1), 1)
        return tf.cast(random_value % choices, tf.int32)

    def is_regular_start(self, start, offset=0):
        """Whether `start` is on the stride grid from `offset`: such a window
        is in `starts(n)` for every `n` it fits in, so a stream can predict
        it as soon as its last frame arrives (the last-window rule's window
        waits for the end)."""
        return start >= offset and (start - offset) % self.stride == 0

    def valid_frames(self, start, num_frames):
        """Real frames of the window at `start` in a recording of
        `num_frames` video frames (the rest of the window is padding)."""
        return max(0, min(self.window_frames, int(num_frames) - start))

    def valid_clips(self, start, num_frames):
        """Clips of that window holding at least one real frame."""
        return -(-self.valid_frames(start, num_frames) // self.frames_per_clip)

    def fewest_windows(self, num_frames):
        """The fewest windows any training offset gives: what one epoch can
        count on."""
        return min(len(self.starts(num_frames, offset)) for offset in self.offsets(num_frames))

    def grid_starts(self, num_frames, stride_clips=1):
        """Start clips of the windows over a recording cached clip by clip
        (the feature cache: clip `c` = frames `[c T, (c + 1) T)`): the frame
        rule with a stride of `stride_clips` clips, each start moved down to
        its clip (only `"align_end"`'s last window moves), duplicates
        dropped."""
        stride = dataclasses.replace(self, stride=stride_clips * self.frames_per_clip)
        return sorted({start // self.frames_per_clip for start in stride.starts(num_frames)})

    def grid_starts_in_graph(self, num_frames, stride_clips=1):
        """`grid_starts` in TensorFlow ops."""
        import tensorflow as tf

        stride = dataclasses.replace(self, stride=stride_clips * self.frames_per_clip)
        starts = stride.starts_in_graph(num_frames) // self.frames_per_clip
        return tf.unique(starts).y

    def clip_spans(self, start):
        """The frames of each clip of the window starting at `start`."""
        length = self.frames_per_clip
        return [slice(start + c * length, start + (c + 1) * length) for c in range(self.clips)]

    def window(self, recording_id, start):
        """The window at `start` as an exact time span."""
        return Window(recording_id, start, self.window_frames, fractions.Fraction(self.frame_rate))

    def stitch(self, starts, clip_values, num_frames):
        """Clip predictions back onto frames: every frame gets the mean of
        the predictions of the clips covering it.

        Args:
            starts: `(windows,)` start frames.
            clip_values: `(windows, clips)` or `(windows, clips, targets)`.
            num_frames: frames of the recording; frames past it (padding)
                are dropped.

        Returns:
            `(num_frames,)` or `(num_frames, targets)` float32; NaN where no
            window covers a frame.
        """
        values = np.asarray(clip_values, np.float64)
        squeeze = values.ndim == 2
        values = values.reshape(len(values), self.clips, -1)
        frames = np.asarray(starts, np.int64)[:, None] + np.arange(self.window_frames)[None, :]
        per_frame = np.repeat(values, self.frames_per_clip, axis=1)
        keep = frames < num_frames
        sums = np.zeros((num_frames, values.shape[-1]))
        counts = np.zeros((num_frames, 1))
        np.add.at(sums, frames[keep], per_frame[keep])
        np.add.at(counts, frames[keep], 1.0)
        with np.errstate(invalid="ignore"):
            means = (sums / counts).astype(np.float32)
        return means[:, 0] if squeeze else means

    def to_dict(self):
        return dataclasses.asdict(self)


def _starts(frames, window, stride, rule, offset):
    """The window rule on `frames` usable frames (Python)."""
    starts = list(range(offset, frames - window + 1, stride))
    if not starts:
        # Shorter than one window: one padded window, whatever the rule.
        return [offset] if frames > offset else []
    if rule == "align_end" and starts[-1] != frames - window:
        starts.append(frames - window)
    elif rule == "pad" and starts[-1] + window < frames:
        starts.append(starts[-1] + stride)
    return starts


def _starts_in_graph(frames, window, stride, rule, offset):
    """The window rule of `_starts` in TensorFlow ops."""
    import tensorflow as tf

    frames = tf.cast(frames, tf.int32)
    offset = tf.cast(offset, tf.int32)
    last = frames - window
    # An empty range (not an error) when no whole window fits.
    starts = tf.range(offset, tf.maximum(last + 1, offset), stride)
    count = tf.size(starts)
    if rule == "align_end":
        tail = tf.logical_and(last >= offset, tf.logical_not(tf.reduce_any(starts == last)))
        extra = last
    elif rule == "pad":
        tail = offset + (count - 1) * stride + window < frames
        extra = offset + count * stride
    else:
        tail, extra = False, offset
    # Shorter than one window: one padded window, whatever the rule.
    short = tf.logical_and(count == 0, frames > offset)
    needed = tf.logical_or(short, tf.logical_and(count > 0, tail))
    extra = tf.where(short, offset, extra)
    return tf.cond(needed, lambda: tf.concat([starts, [extra]], 0), lambda: starts)
