import fractions


class FrameClock:
    """Puts decoded frames, timed by presentation time at any (even
    variable) rate, on a fixed frame rate: output frame `k` is the frame on
    screen at `k / frame_rate`; instants before the first frame show it, and
    the last frame stays on screen for its own frame period.

    Files (`iter_video_frames`) and live streams feed it frame by frame, so
    only the frame on screen is held.

    Args:
        frame_rate: output frames per second (int or fraction).

    Example:

    >>> clock = FrameClock(2)
    >>> clock.add(0.0, "a", 0.4), clock.add(0.4, "b", 0.4), clock.finish()
    ([], [(0, 'a')], [(1, 'b')])
    """

    def __init__(self, frame_rate):
        self.frame_rate = fractions.Fraction(frame_rate)
        self.count = 0  # output frames so far
        self._held = None
        self._end = None

    @property
    def started(self):
        """Whether a frame was added."""
        return self._held is not None

    def add(self, time, frame, period):
        """Adds a frame shown from `time` (seconds) on, nominally for
        `period`; returns `[(index, frame)]` of the output instants before
        `time`, which show the previous frame."""
        due = self._until(time)
        self._held, self._end = frame, time + period
        return due

    def finish(self):
        """The output instants the last frame still covers."""
        return self._until(self._end) if self.started else []

    def _until(self, time):
        due = []
        while self._held is not None and self.count / self.frame_rate < time:
            due.append((self.count, self._held))
            self.count += 1
        return due
