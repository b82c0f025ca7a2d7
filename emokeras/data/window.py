import dataclasses
import fractions


@dataclasses.dataclass(frozen=True)
class Window:
    """A span of one recording, in exact time, that selects frames, audio
    samples and labels together.

    A window starts at frame `start_frame` of a recording resampled to
    `frame_rate` and covers `frames` frames, i.e. the time span
    `[start, end)` with `start = start_frame / frame_rate` (a `Fraction`,
    exact). Frames, audio samples and per-frame labels all come from the same
    span, so the modalities cannot drift apart. `WindowGeometry` decides
    where windows start; this is one of them in time.

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
    frame_rate: fractions.Fraction

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
