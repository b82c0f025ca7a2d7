import dataclasses
import fractions

LAST_WINDOW_RULES = ("align_end", "drop")


@dataclasses.dataclass(frozen=True)
class Window:
    """A span of one recording, in exact time, that selects frames, audio
    samples and labels together.

    A window starts at frame `start_frame` of a recording resampled to
    `frame_rate` and covers `frames` frames, i.e. the time span
    `[start, end)` with `start = start_frame / frame_rate` (a `Fraction`,
    exact). Frames, audio samples and per-frame labels all come from the same
    span, so the modalities cannot drift apart.

    Args:
        recording_id: the recording.
        start_frame: first frame (at `frame_rate`).
        frames: number of frames, `clips * frames_per_clip`.
        frame_rate: frames per second (int or `Fraction`).

    Example:

    >>> window = Window("rec_000", start_frame=16, frames=128, frame_rate=25)
    >>> window.start, window.end
    (Fraction(16, 25), Fraction(144, 25))
    >>> window.sample_slice(16000)
    slice(10240, 92160, None)
    """

    recording_id: str
    start_frame: int
    frames: int
    frame_rate: fractions.Fraction = fractions.Fraction(25)

    def __post_init__(self):
        object.__setattr__(self, "frame_rate", fractions.Fraction(self.frame_rate))
        if self.start_frame < 0 or self.frames <= 0:
            raise ValueError(
                f"A window needs start_frame >= 0 and frames > 0. Received: "
                f"start_frame={self.start_frame}, frames={self.frames}"
            )

    @property
    def start(self):
        """Start time in seconds (exact)."""
        return self.start_frame / self.frame_rate

    @property
    def end(self):
        """End time in seconds (exact, exclusive)."""
        return (self.start_frame + self.frames) / self.frame_rate

    def frame_slice(self):
        """The window's frames (and per-frame labels)."""
        return slice(self.start_frame, self.start_frame + self.frames)

    def sample_slice(self, sample_rate):
        """The window's audio samples at `sample_rate`.

        Raises:
            ValueError: the span is not a whole number of samples.
        """
        start, end = self.start * sample_rate, self.end * sample_rate
        if start.denominator != 1 or end.denominator != 1:
            raise ValueError(
                f"{self.frame_rate} fps and {sample_rate} Hz do not share a clock "
                "grid: choose a frame rate that divides the sample rate "
                "(e.g. 25 fps at 16000 Hz)."
            )
        return slice(int(start), int(end))

    def clip_starts(self, clips):
        """Start frames of the window's `clips` equal clips."""
        if self.frames % clips:
            raise ValueError(f"{self.frames} frames do not split into {clips} clips")
        length = self.frames // clips
        return [self.start_frame + c * length for c in range(clips)]


def plan_windows(num_frames, window_frames, stride, last_window="align_end"):
    """Start frames of the windows of a recording of `num_frames` frames.

    Windows start at `0, stride, 2 * stride, ...` while they fit. The last
    partial stretch is handled by `last_window`:
    - `"align_end"` (default): one more window ending exactly at the last
      frame (it overlaps its predecessor more), so every frame is covered
      and nothing is padded;
    - `"drop"`: the frames after the last full window are not used.

    Args:
        num_frames: frames in the recording.
        window_frames: frames per window (`clips * frames_per_clip`).
        stride: frames between window starts.
        last_window: `"align_end"` or `"drop"`.

    Returns:
        A list of start frames, increasing.

    Raises:
        ValueError: the recording is shorter than one window, or bad
            arguments.

    Example:

    >>> plan_windows(300, 128, 128)
    [0, 128, 172]
    """
    if window_frames <= 0 or stride <= 0:
        raise ValueError(
            f"window_frames and stride must be positive. Received: window_frames={window_frames}, stride={stride}"
        )
    if last_window not in LAST_WINDOW_RULES:
        raise ValueError(f"last_window must be one of {LAST_WINDOW_RULES}. Received: {last_window!r}")
    if num_frames < window_frames:
        raise ValueError(f"The recording has {num_frames} frames, shorter than one window of {window_frames} frames.")
    starts = list(range(0, num_frames - window_frames + 1, stride))
    final = num_frames - window_frames
    if last_window == "align_end" and starts[-1] != final:
        starts.append(final)
    return starts
