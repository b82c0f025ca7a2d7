"""FaceCropper: detection on real recordings, the centre fallback, and the
box geometry (square, margin, padding, smoothing) against hand-computed
numbers with a faked detector."""

import doctest
import re

import cv2
import numpy as np
import pytest

from emokeras.data import face_cropper as face_cropper_module
from emokeras.data.face_cropper import FaceCropper
from emokeras.data.face_cropper import centre_crop

CREMA_D = [f"real_media/crema_d/1001_DFA_{emotion}_XX.flv" for emotion in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")]
EVERY = 5  # decode everything, crop every 5th frame: keeps the file fast


def sampled_frames(path, every=EVERY):
    """RGB uint8 frames 0, every, 2 * every, ... of the first video stream."""
    import av

    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every == 0:
                yield frame.to_ndarray(format="rgb24")


def position_frame(height, width):
    """A frame whose pixel (y, x) holds (y, x, 7): crops show where they
    came from."""
    assert height < 256 and width < 256
    y, x = np.mgrid[:height, :width]
    return np.stack([y, x, np.full_like(y, 7)], axis=-1).astype(np.uint8)


def fake_detector(monkeypatch, cropper, boxes):
    """Replaces the cascade: call i returns boxes[i] (a box or None)."""
    calls = []

    def detect(gray):
        calls.append(gray.shape)
        return boxes[len(calls) - 1]

    monkeypatch.setattr(cropper, "_detect", detect)
    return calls


# Real recordings.


@pytest.mark.parametrize("relative", CREMA_D + ["real_media/faces/single_face.mp4"])
def test_face_found_in_every_sampled_frame(shared_file, relative):
    path = shared_file(relative)
    cropper = FaceCropper()
    count = 0
    for frame in sampled_frames(path):
        crop = cropper.crop(frame)
        assert crop.shape == (224, 224, 3)
        assert crop.dtype == np.uint8
        if count == 0:
            first_crop = crop
        count += 1
    report = cropper.report
    assert count >= 10
    assert report["frames"] == count
    assert report["frames_with_face"] == count
    assert report["frames_without_face"] == 0
    assert report["fallback_frames"] == 0
    assert report["fallback"] == "centre"
    # The crop is centred on the face: the detector finds it again there,
    # with its centre near the middle and filling about 1 / (1 + 2 * 0.25).
    box = cropper._detect(cv2.cvtColor(first_crop, cv2.COLOR_RGB2GRAY))
    assert box is not None
    x, y, w, h = box
    assert abs(x + w / 2 - 112) < 0.1 * 224
    assert abs(y + h / 2 - 112) < 0.1 * 224
    assert 0.5 * 224 < w < 0.85 * 224


def test_no_face_recording_takes_the_centre_fallback(shared_file):
    path = shared_file("real_media/faces/no_face.mp4")
    cropper = FaceCropper()
    count = 0
    for frame in sampled_frames(path):
        np.testing.assert_array_equal(cropper.crop(frame), centre_crop(frame, 224))
        count += 1
    assert count >= 10
    assert cropper.report == {
        "frames": count,
        "frames_with_face": 0,
        "frames_without_face": count,
        "fallback_frames": count,
        "fallback": "centre",
    }


def test_small_faces_are_ignored(shared_file):
    # The face in single_face.mp4 is ~190 px wide on a 360 px short side.
    frame = next(sampled_frames(shared_file("real_media/faces/single_face.mp4")))
    kept = FaceCropper(min_face_fraction=0.4)
    kept.crop(frame)
    assert kept.report["frames_with_face"] == 1
    cropper = FaceCropper(min_face_fraction=0.9)
    np.testing.assert_array_equal(cropper.crop(frame), centre_crop(frame, 224))
    assert cropper.report["fallback_frames"] == 1


# Geometry with a faked detector, on a 100 x 200 frame whose pixels give
# their own coordinates. output_size equals the square's side where the
# pixels are compared, so the resize is a copy.


def test_square_box_with_margin(monkeypatch):
    frame = position_frame(100, 200)
    cropper = FaceCropper(output_size=60, margin=0.25)
    # Face 40 x 30 at (80, 30): centre (100, 45); side 40 * 1.5 = 60.
    fake_detector(monkeypatch, cropper, [(80, 30, 40, 30)])
    np.testing.assert_array_equal(cropper.crop(frame), frame[15:75, 70:130])
    assert cropper._box == (100.0, 45.0, 60.0)
    assert cropper.report["frames_with_face"] == 1


def test_margin_zero_and_resize(monkeypatch):
    frame = position_frame(100, 200)
    cropper = FaceCropper(output_size=20, margin=0.0)
    fake_detector(monkeypatch, cropper, [(50, 20, 40, 40)])
    expected = cv2.resize(frame[20:60, 50:90], (20, 20), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(cropper.crop(frame), expected)


def test_box_leaving_the_frame_is_padded_with_the_border(monkeypatch):
    frame = position_frame(100, 200)
    cropper = FaceCropper(output_size=60, margin=0.25)
    # Face at the top-left corner: the square spans rows and columns -10..49.
    fake_detector(monkeypatch, cropper, [(0, 0, 40, 40)])
    crop = cropper.crop(frame)
    rows = np.clip(np.arange(-10, 50), 0, 99)
    cols = np.clip(np.arange(-10, 50), 0, 199)
    np.testing.assert_array_equal(crop, frame[rows][:, cols])
    # The face's centre (20, 20) stays at the crop's centre (30, 30).
    assert tuple(crop[30, 30, :2]) == (20, 20)
    assert tuple(crop[0, 0, :2]) == (0, 0)

    # Bottom-right corner, centre (180, 100): rows 70..129, columns 150..209.
    cropper.reset()
    fake_detector(monkeypatch, cropper, [(160, 80, 40, 40)])
    rows = np.clip(np.arange(70, 130), 0, 99)
    cols = np.clip(np.arange(150, 210), 0, 199)
    np.testing.assert_array_equal(cropper.crop(frame), frame[rows][:, cols])


def test_moving_average_of_the_box(monkeypatch):
    frame = position_frame(100, 200)
    cropper = FaceCropper(output_size=60, margin=0.25, smoothing=0.5)
    fake_detector(
        monkeypatch,
        cropper,
        [(80, 30, 40, 40), (100, 30, 40, 40), (100, 30, 40, 40), (80, 20, 60, 60)],
    )
    cropper.crop(frame)
    assert cropper._box == (100.0, 50.0, 60.0)
    # Centre 0.5 * 100 + 0.5 * 120 = 110: columns 80..139.
    np.testing.assert_array_equal(cropper.crop(frame), frame[20:80, 80:140])
    assert cropper._box == pytest.approx((110.0, 50.0, 60.0))
    cropper.crop(frame)
    assert cropper._box == pytest.approx((115.0, 50.0, 60.0))
    # New face: centre (110, 50), side 90 -> (112.5, 50, 75).
    cropper.crop(frame)
    assert cropper._box == pytest.approx((112.5, 50.0, 75.0))


def test_default_smoothing_and_none(monkeypatch):
    frame = position_frame(100, 200)
    smooth = FaceCropper(output_size=60)
    fake_detector(monkeypatch, smooth, [(80, 30, 40, 40), (100, 30, 40, 40)])
    smooth.crop(frame)
    smooth.crop(frame)
    # 0.6 * 100 + 0.4 * 120 = 108.
    assert smooth._box == pytest.approx((108.0, 50.0, 60.0))

    follow = FaceCropper(output_size=60, smoothing=0.0)
    fake_detector(monkeypatch, follow, [(80, 30, 40, 40), (100, 30, 40, 40)])
    follow.crop(frame)
    np.testing.assert_array_equal(follow.crop(frame), frame[20:80, 90:150])


def test_frame_without_detection_reuses_the_last_box(monkeypatch):
    frame = position_frame(100, 200)
    cropper = FaceCropper(output_size=60)
    fake_detector(monkeypatch, cropper, [None, (80, 30, 40, 40), None, None])
    # No face seen yet: the centre fallback.
    np.testing.assert_array_equal(cropper.crop(frame), centre_crop(frame, 60))
    np.testing.assert_array_equal(cropper.crop(frame), frame[20:80, 70:130])
    # Face lost: the same box, not the fallback.
    np.testing.assert_array_equal(cropper.crop(frame), frame[20:80, 70:130])
    np.testing.assert_array_equal(cropper.crop(frame), frame[20:80, 70:130])
    assert cropper.report == {
        "frames": 4,
        "frames_with_face": 1,
        "frames_without_face": 3,
        "fallback_frames": 1,
        "fallback": "centre",
    }


def test_detections_below_min_face_fraction_are_ignored(monkeypatch):
    frame = position_frame(100, 200)
    cropper = FaceCropper(output_size=60, min_face_fraction=0.1)
    # Shorter side 100: a 9 px face is dropped, a 10 px face is kept.
    fake_detector(monkeypatch, cropper, [(100, 50, 9, 9), (95, 45, 10, 10)])
    np.testing.assert_array_equal(cropper.crop(frame), centre_crop(frame, 60))
    cropper.crop(frame)
    assert cropper._box == (100.0, 50.0, 15.0)
    assert cropper.report["frames_with_face"] == 1


def test_detect_every(monkeypatch):
    frame = position_frame(100, 200)
    cropper = FaceCropper(output_size=60, detect_every=3, smoothing=0.0)
    calls = fake_detector(monkeypatch, cropper, [(80, 30, 40, 40), None, (100, 30, 40, 40)])
    crops = [cropper.crop(frame) for _ in range(7)]
    # The detector runs on frames 0, 3 and 6, on the grayscale frame.
    assert calls == [(100, 200)] * 3
    np.testing.assert_array_equal(crops[2], frame[20:80, 70:130])
    np.testing.assert_array_equal(crops[5], frame[20:80, 70:130])
    np.testing.assert_array_equal(crops[6], frame[20:80, 90:150])
    # Skipped frames count like the last frame the detector saw.
    assert cropper.report["frames_with_face"] == 4
    assert cropper.report["frames_without_face"] == 3


def test_detector_scales_boxes_back_to_the_frame():
    # A 640 x 480 frame is detected at 320 x 240; the real cascade's boxes
    # must come back in full-frame pixels. A blank frame has no face.
    cropper = FaceCropper()
    assert cropper._detect(np.zeros((480, 640), np.uint8)) is None
    gray = np.full((480, 640), 128, np.uint8)
    # Stub detectMultiScale to see the scale and the minimum size it gets.
    seen = {}

    class Cascade:
        def detectMultiScale(self, gray, **kwargs):
            seen["shape"] = gray.shape
            seen["minSize"] = kwargs["minSize"]
            return np.array([[10, 20, 30, 30], [100, 50, 40, 50]])

    cropper._cascade = Cascade()
    assert cropper._detect(gray) == (200.0, 100.0, 80.0, 100.0)
    assert seen == {"shape": (240, 320), "minSize": (24, 24)}


# reset and validation.


def test_reset_forgets_the_track_and_counters(monkeypatch):
    frame = position_frame(100, 200)
    cropper = FaceCropper(output_size=60)
    fake_detector(monkeypatch, cropper, [(80, 30, 40, 40), None, None])
    cropper.crop(frame)
    cropper.crop(frame)
    cropper.reset()
    assert cropper.report == {
        "frames": 0,
        "frames_with_face": 0,
        "frames_without_face": 0,
        "fallback_frames": 0,
        "fallback": "centre",
    }
    # A new recording with no face: the fallback, not the old box.
    np.testing.assert_array_equal(cropper.crop(frame), centre_crop(frame, 60))
    assert cropper.report["fallback_frames"] == 1


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"output_size": 0}, "output_size=0"),
        ({"output_size": -3}, "output_size=-3"),
        ({"output_size": 22.5}, "output_size=22.5"),
        ({"smoothing": 1.0}, "smoothing=1.0"),
        ({"smoothing": -0.1}, "smoothing=-0.1"),
        ({"margin": -0.5}, "margin=-0.5"),
        ({"detect_every": 0}, "detect_every=0"),
        ({"min_face_fraction": 1.5}, "min_face_fraction=1.5"),
        ({"fallback": "black"}, "fallback='black'"),
        ({"fallback": None}, "fallback=None"),
    ],
)
def test_bad_constructor_values(kwargs, words):
    with pytest.raises(ValueError, match=re.escape(words)) as error:
        FaceCropper(**kwargs)
    # The message also says what is allowed.
    assert re.search(r"must be|one of", str(error.value))


@pytest.mark.parametrize(
    "frame, words",
    [
        (np.zeros((10, 20, 3), np.float32), "shape=(10, 20, 3), dtype=float32"),
        (np.zeros((10, 20), np.uint8), "shape=(10, 20), dtype=uint8"),
        (np.zeros((10, 20, 4), np.uint8), "shape=(10, 20, 4), dtype=uint8"),
        (np.zeros((0, 20, 3), np.uint8), "shape=(0, 20, 3), dtype=uint8"),
    ],
)
def test_bad_frames(frame, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        FaceCropper().crop(frame)
    with pytest.raises(ValueError, match=re.escape(words)):
        centre_crop(frame, 224)


def test_centre_crop():
    frame = position_frame(100, 200)
    np.testing.assert_array_equal(centre_crop(frame, 100), frame[:, 50:150])
    tall = position_frame(120, 80)
    np.testing.assert_array_equal(centre_crop(tall, 80), tall[20:100])
    with pytest.raises(ValueError, match=re.escape("output_size=0")):
        centre_crop(frame, 0)


def test_non_contiguous_frames_are_accepted():
    frame = position_frame(100, 200)
    flipped = frame[:, ::-1]
    np.testing.assert_array_equal(centre_crop(flipped, 100), np.ascontiguousarray(flipped[:, 50:150]))


def test_docstring_examples():
    results = doctest.testmod(face_cropper_module, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0
    assert results.failed == 0
