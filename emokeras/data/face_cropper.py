"""Face crops for the visual stream, one frame at a time.

Why OpenCV's Haar cascade: its model file ships inside the maintained
opencv-python-headless wheel (nothing to download), it is deterministic, and
it needs no extra runtime while running in milliseconds per frame on a CPU.
"""

import math

import cv2
import numpy as np

# The whole-frame search sees a copy whose longest side is at most this many
# pixels: faces in talking-head recordings stay far above the cascade's 24 px
# window, and detection on fewer pixels is faster.
_DETECT_SIDE = 320
# OpenCV's usual values. Every frame of the CREMA-D and test clips is found
# with them; scale_factor=1.2 is faster but loses small, low-contrast faces.
_SCALE_FACTOR = 1.1
_MIN_NEIGHBORS = 5
_CASCADE_FILE = "haarcascade_frontalface_default.xml"
_FALLBACKS = ("centre",)
_FACE_SIDES = (None, "left", "right")
# The search near the track (see `FaceCropper`): a square of _NEAR_SPAN face
# sides around it, shrunk so that the tracked face is _NEAR_FACE_PX pixels
# (smaller faces are not enlarged), for faces of _NEAR_SIZES times the tracked
# face's side. The cascade spends its time in the windows on and around a
# face, so few pixels per face and few scales make this search much cheaper
# than the whole-frame one (benchmarks/face_detection.py). Smaller faces, or a
# size range not wide around 1, let the box size drift (the range follows the
# box), and a scale factor of 1.2 misses faces.
_NEAR_SPAN = 2.0
_NEAR_FACE_PX = 32
_NEAR_SIZES = (0.7, 1.4)
_NEAR_SCALE_FACTOR = 1.15
# A detection continues the track when its centre is within this many face
# sides of the track's centre.
_SAME_FACE = 0.5
# With `face_side`, detector runs in a row without a face on the track before
# the face on that side is looked for afresh.
_REACQUIRE_AFTER = 25


def _check_frame(frame):
    """`frame` as a C-contiguous HxWx3 uint8 array, or a ValueError."""
    array = np.asarray(frame)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            "Expected an RGB frame of shape (height, width, 3) and dtype "
            f"uint8. Received: shape={array.shape}, dtype={array.dtype}"
        )
    # OpenCV needs contiguous memory (e.g. after frame[..., ::-1]).
    return np.ascontiguousarray(array)


def _check_output_size(output_size):
    if isinstance(output_size, bool) or not isinstance(output_size, (int, np.integer)) or output_size <= 0:
        raise ValueError(f"output_size must be a positive integer. Received: output_size={output_size!r}")
    return int(output_size)


def _check_number(name, value, low, high, high_included):
    """`value` as a float in [low, high] or [low, high), or a ValueError."""
    allowed = f"[{low}, {high}]" if high_included else f"[{low}, {high})"
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    inside = low <= number <= high if high_included else low <= number < high
    if isinstance(value, bool) or not inside:
        raise ValueError(f"{name} must be a number in {allowed}. Received: {name}={value!r}")
    return number


def centre_crop(frame, output_size):
    """The centred square of a frame (side = its shorter side), resized.

    Used by `FaceCropper` before a face has been seen, and directly when face
    cropping is off (datasets whose frames are already face crops).

    Args:
        frame: `(height, width, 3)` uint8 RGB array.
        output_size: side of the returned square, in pixels.

    Returns:
        A `(output_size, output_size, 3)` uint8 RGB array.

    Raises:
        ValueError: `frame` is not HxWx3 uint8, or `output_size` is not a
            positive integer.

    Example:

    >>> frame = np.zeros((360, 480, 3), np.uint8)
    >>> centre_crop(frame, 112).shape
    (112, 112, 3)
    """
    frame = _check_frame(frame)
    output_size = _check_output_size(output_size)
    height, width = frame.shape[:2]
    side = min(height, width)
    top = (height - side) // 2
    left = (width - side) // 2
    square = frame[top : top + side, left : left + side]
    return cv2.resize(square, (output_size, output_size), interpolation=cv2.INTER_AREA)


class FaceCropper:
    """Crops the face out of the frames of one recording, frame by frame.

    Streaming: call `crop` on each frame in order, so a long video never has
    to sit in memory; call `reset` before the next recording.

    Every `detect_every` frames OpenCV's frontal-face Haar cascade runs on a
    grayscale copy of the frame. Detections whose width is below
    `min_face_fraction` of the frame's shorter side are ignored.

    Which face is kept. Once a face is tracked (the smoothed box below), the
    detector first looks near it: in the square of 2 face sides around the
    box's centre, shrunk so the face is 32 px, for faces of 0.7-1.4 times the
    tracked size; the detection whose centre is nearest the box's centre is
    kept if it is within half a face side of it. That search costs about a
    fifth of a whole-frame one and finds the face on nearly every frame of a
    talking-head recording. Only when it finds nothing does the detector
    search the whole frame, downscaled so its longest side is at most 320 px
    (boxes are scaled back), and then `face_side` decides:

    - `None`: the largest face in the frame (the first face of a recording,
      and whenever the tracked face is not found near its box; so with two
      people the crop stays on the tracked one while it is found, and may
      move to the other when it is lost).
    - `"left"` / `"right"` (two people in the frame, e.g. Aff-Wild2's
      `*_left` / `*_right` labels): a face is taken only if its centre is
      within half a face side of the track, so the crop never moves to the
      other person. With no track yet, or after 25 detector runs in a row
      without the tracked face, the face on that side is taken afresh: the
      detection whose centre is leftmost (rightmost), but a lone detection
      only if its centre lies in that half of the frame (the other person may
      be the only face found).

    The kept face's box becomes a square centred on the face, of side
    `max(w, h) * (1 + 2 * margin)`, and that square is smoothed over time with
    an exponential moving average of its centre and side,
    `box = smoothing * previous_box + (1 - smoothing) * new_box`, so that
    crops do not jitter. Parts of the square outside the frame are filled by
    replicating the border pixels (the face stays centred), and the square is
    resized with `cv2.INTER_AREA`.

    A frame without a detection keeps the last smoothed box of the recording.
    Before any face has been seen in the recording the fallback is used:
    `fallback="centre"` is the centred square of the whole frame
    (`centre_crop`). Frames on which the detector is not run (see
    `detect_every`) count like the last frame on which it ran.

    Args:
        output_size: side of the returned crops, in pixels.
        margin: fraction of the face size added on each side of it; 0.25
            keeps the whole head and chin in view.
        smoothing: weight of the previous box in the moving average, in
            [0, 1); 0 follows every detection exactly.
        detect_every: run the detector on one frame in `detect_every` (the
            first, then every `detect_every`-th); the others reuse the box.
        min_face_fraction: smallest face width kept, as a fraction of the
            frame's shorter side, in [0, 1]; drops small false detections and
            background faces.
        fallback: crop used while no face has been seen yet in the recording;
            only `"centre"` for now.
        face_side: `None` (the largest face), or `"left"` / `"right"`: with
            two people in the frame, the person on that side, followed
            through the recording (see above).

    Methods:
        crop(frame): the face crop of one `(height, width, 3)` uint8 RGB
            frame (e.g. PyAV's `frame.to_ndarray(format="rgb24")`).
        reset(): forgets the face track and zeroes the counters; call it
            between recordings.
        report: counters since the last `reset`, a dict with keys `"frames"`,
            `"frames_with_face"`, `"frames_without_face"` (no detection on
            that frame), `"fallback_frames"` (the fallback crop was used
            because no face had been seen yet) and `"fallback"`.

    Returns:
        `crop` returns a `(output_size, output_size, 3)` uint8 RGB array.

    Raises:
        ValueError: a constructor value is out of range (the message names
            it and what is allowed), or a frame is not HxWx3 uint8 (the
            message gives its shape and dtype).

    Example:

    >>> cropper = FaceCropper(output_size=112)
    >>> blank = np.zeros((360, 480, 3), np.uint8)
    >>> cropper.crop(blank).shape
    (112, 112, 3)
    >>> report = cropper.report
    >>> report["frames"], report["frames_without_face"], report["fallback_frames"]
    (1, 1, 1)
    """

    def __init__(
        self,
        output_size=224,
        margin=0.25,
        smoothing=0.6,
        detect_every=1,
        min_face_fraction=0.1,
        fallback="centre",
        face_side=None,
    ):
        self.output_size = _check_output_size(output_size)
        self.margin = _check_number("margin", margin, 0.0, math.inf, True)
        self.smoothing = _check_number("smoothing", smoothing, 0.0, 1.0, False)
        if isinstance(detect_every, bool) or not isinstance(detect_every, (int, np.integer)) or detect_every < 1:
            raise ValueError(f"detect_every must be an integer >= 1. Received: detect_every={detect_every!r}")
        self.detect_every = int(detect_every)
        self.min_face_fraction = _check_number("min_face_fraction", min_face_fraction, 0.0, 1.0, True)
        if fallback not in _FALLBACKS:
            raise ValueError(f"fallback must be one of {_FALLBACKS}. Received: fallback={fallback!r}")
        self.fallback = fallback
        if face_side not in _FACE_SIDES:
            raise ValueError(f"face_side must be one of {_FACE_SIDES}. Received: face_side={face_side!r}")
        self.face_side = face_side
        path = cv2.data.haarcascades + _CASCADE_FILE
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"Could not load the face detector {path}. Reinstall opencv-python-headless.")
        self.reset()

    def reset(self):
        """Forgets the face track and zeroes the counters (new recording)."""
        # The smoothed square as (centre_x, centre_y, side) in frame pixels.
        self._box = None
        # Whether the last detector run found a face (for skipped frames).
        self._last_found = False
        # Detector runs in a row without a face on the track.
        self._misses = 0
        self._frames = 0
        self._frames_with_face = 0
        self._fallback_frames = 0

    @property
    def report(self):
        """Counters since the last `reset` (a new dict each time)."""
        return {
            "frames": self._frames,
            "frames_with_face": self._frames_with_face,
            "frames_without_face": self._frames - self._frames_with_face,
            "fallback_frames": self._fallback_frames,
            "fallback": self.fallback,
        }

    @property
    def last_frame_has_face(self):
        """Whether the detector found the face on (or, with `detect_every`
        above 1, last before) the frame `crop` was last given."""
        return self._last_found

    def crop(self, frame):
        """The face crop of one HxWx3 uint8 RGB frame (see the class)."""
        frame = _check_frame(frame)
        if self._frames % self.detect_every == 0:
            face = self._detect(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
            min_width = self.min_face_fraction * min(frame.shape[:2])
            if face is not None and face[2] < min_width:
                face = None
            self._last_found = face is not None
            self._misses = 0 if self._last_found else self._misses + 1
            if face is not None:
                self._update(face)
        self._frames += 1
        self._frames_with_face += self._last_found
        if self._box is None:
            self._fallback_frames += 1
            return centre_crop(frame, self.output_size)
        return self._cut(frame, self._box)

    def _detect(self, gray):
        """The face to keep, `(x, y, w, h)` in full-frame pixels, or None:
        near the track first, else in the whole frame (see the class)."""
        min_width = self.min_face_fraction * min(gray.shape)
        if self._box is not None:
            face = self._nearest([box for box in self._search_near(gray) if box[2] >= min_width])
            if face is not None:
                return face
        faces = [box for box in self._search_frame(gray) if box[2] >= min_width]
        if not faces:
            return None
        if self.face_side is None:
            return max(faces, key=lambda box: box[2] * box[3])
        if self._box is not None and self._misses < _REACQUIRE_AFTER:
            return self._nearest(faces)
        return self._on_side(faces, gray.shape[1])

    def _search_frame(self, gray):
        """Every face `(x, y, w, h)` in the whole frame, in its pixels."""
        height, width = gray.shape
        scale = min(1.0, _DETECT_SIDE / max(height, width))
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        # Skipping small windows early is the bulk of the speed-up.
        min_side = max(1, int(self.min_face_fraction * min(height, width) * scale))
        faces = self._cascade.detectMultiScale(
            gray,
            scaleFactor=_SCALE_FACTOR,
            minNeighbors=_MIN_NEIGHBORS,
            minSize=(min_side, min_side),
        )
        return [(x / scale, y / scale, w / scale, h / scale) for x, y, w, h in faces]

    def _search_near(self, gray):
        """The faces `(x, y, w, h)` near the track, in frame pixels."""
        height, width = gray.shape
        centre_x, centre_y, side = self._box
        face = side / (1 + 2 * self.margin)
        half = _NEAR_SPAN * face / 2
        left = max(0, int(centre_x - half))
        top = max(0, int(centre_y - half))
        # Shrunk by a whole factor first (OpenCV's fast INTER_AREA path: a
        # whole number of factor x factor blocks), then by less than 2 to
        # bring the face to _NEAR_FACE_PX.
        factor = max(1, int(face / _NEAR_FACE_PX))
        cols = (min(width, int(math.ceil(centre_x + half))) - left) // factor
        rows = (min(height, int(math.ceil(centre_y + half))) - top) // factor
        if min(rows, cols) < 1:
            return []
        region = gray[top : top + rows * factor, left : left + cols * factor]
        if factor > 1:
            region = cv2.resize(region, (cols, rows), interpolation=cv2.INTER_AREA)
        rest = min(1.0, _NEAR_FACE_PX * factor / face)
        if rest < 1.0:
            size = (max(1, round(cols * rest)), max(1, round(rows * rest)))
            region = cv2.resize(region, size, interpolation=cv2.INTER_LINEAR)
        # Frame pixels per region pixel, along x and y.
        step_x, step_y = cols * factor / region.shape[1], rows * factor / region.shape[0]
        min_side = max(1, int(math.ceil(_NEAR_SIZES[0] * face / step_x)))
        max_side = max(min_side, int(_NEAR_SIZES[1] * face / step_x))
        if min(region.shape) < min_side:
            return []
        faces = self._cascade.detectMultiScale(
            region,
            scaleFactor=_NEAR_SCALE_FACTOR,
            minNeighbors=_MIN_NEIGHBORS,
            minSize=(min_side, min_side),
            maxSize=(max_side, max_side),
        )
        return [(left + x * step_x, top + y * step_y, w * step_x, h * step_y) for x, y, w, h in faces]

    def _nearest(self, faces):
        """The face whose centre is nearest the track's, if it is the same
        face (within `_SAME_FACE` face sides), else None."""
        centre_x, centre_y, side = self._box
        reach = _SAME_FACE * side / (1 + 2 * self.margin)
        distance = lambda box: math.hypot(box[0] + box[2] / 2 - centre_x, box[1] + box[3] / 2 - centre_y)
        face = min(faces, key=distance, default=None)
        return face if face is not None and distance(face) <= reach else None

    def _on_side(self, faces, width):
        """The face on `face_side`: the leftmost (rightmost) centre; a lone
        face only if its centre lies in that half of the frame."""
        centre = lambda box: box[0] + box[2] / 2
        if self.face_side == "left":
            face = min(faces, key=centre)
            inside = centre(face) <= width / 2
        else:
            face = max(faces, key=centre)
            inside = centre(face) >= width / 2
        return face if inside or len(faces) > 1 else None

    def _update(self, face):
        """Moves the smoothed square towards the square around `face`."""
        x, y, w, h = (float(value) for value in face)
        square = (x + w / 2, y + h / 2, max(w, h) * (1 + 2 * self.margin))
        if self._box is None:
            self._box = square
            return
        keep = self.smoothing
        self._box = tuple(keep * old + (1 - keep) * new for old, new in zip(self._box, square))

    def _cut(self, frame, box):
        """The square `box` of `frame`, padded where it leaves the frame."""
        height, width = frame.shape[:2]
        centre_x, centre_y, side = box
        side_px = max(1, int(math.floor(side + 0.5)))
        left = int(math.floor(centre_x - side_px / 2 + 0.5))
        top = int(math.floor(centre_y - side_px / 2 + 0.5))
        # Keep at least one pixel of the frame inside the window (only
        # matters if the frame size changed within a recording).
        left = min(max(left, 1 - side_px), width - 1)
        top = min(max(top, 1 - side_px), height - 1)
        right, bottom = left + side_px, top + side_px
        inside = frame[max(top, 0) : min(bottom, height), max(left, 0) : min(right, width)]
        pads = (
            max(0, -top),
            max(0, bottom - height),
            max(0, -left),
            max(0, right - width),
        )
        if any(pads):
            inside = cv2.copyMakeBorder(inside, *pads, cv2.BORDER_REPLICATE)
        return cv2.resize(inside, (self.output_size, self.output_size), interpolation=cv2.INTER_AREA)
