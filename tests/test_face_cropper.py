"""FaceCropper: detection on real recordings, the centre fallback, the
person on one side of a two-person video, the search near the track against
the whole-frame search, and the box geometry (square, margin, padding,
smoothing) against hand-computed numbers with a faked detector."""

import doctest
import re

import cv2
import numpy as np
import pytest

from emokeras.data import face_cropper as face_cropper_module
from emokeras.data.face_cropper import FaceCropper
from emokeras.data.face_cropper import centre_crop
from tests.media_factory import two_faces_frame

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
    box = FaceCropper()._detect(cv2.cvtColor(first_crop, cv2.COLOR_RGB2GRAY))
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


def whole_frame_only(cropper):
    """`cropper` without its search near the track (the search before it)."""
    cropper._search_near = lambda gray: []
    return cropper


def count_calls(cropper, name):
    """Counts the calls of the method `name` of `cropper` (still run)."""
    method = getattr(cropper, name)
    calls = []

    def counted(*args):
        calls.append(args[0].shape)
        return method(*args)

    setattr(cropper, name, counted)
    return calls


def test_near_search_finds_the_face_of_the_whole_frame_search(shared_file):
    """On every frame of a real clip the search near the track finds the face
    (the whole frame is searched once, for the first face), and its boxes
    match those of the whole-frame search on every frame."""
    from emokeras.data import iter_video_frames

    frames = [f for _, f in iter_video_frames(shared_file(CREMA_D[3]), frame_rate=25)]
    tracking = FaceCropper()
    whole_calls = count_calls(tracking, "_search_frame")
    near_calls = count_calls(tracking, "_search_near")
    before = whole_frame_only(FaceCropper())
    for frame in frames:
        tracking.crop(frame)
        before.crop(frame)
        centre_x, centre_y, side = tracking._box
        old_x, old_y, old_side = before._box
        assert max(abs(centre_x - old_x), abs(centre_y - old_y)) < 0.05 * old_side
        assert abs(side / old_side - 1) < 0.15
    assert len(whole_calls) == 1
    assert len(near_calls) == len(frames) - 1
    assert tracking.report == before.report
    assert tracking.report["frames_with_face"] == len(frames)


# Two people in one video: real CREMA-D faces side by side (left tinted warm,
# right tinted cool, see tests.media_factory.two_faces_frame).


@pytest.fixture(scope="module")
def two_people(shared_file):
    """Frames of two CREMA-D clips (25 fps), as (left frames, right frames)."""
    from emokeras.data import iter_video_frames

    left = [f for _, f in iter_video_frames(shared_file(CREMA_D[3]), frame_rate=25)]
    right = [f for _, f in iter_video_frames(shared_file(CREMA_D[5]), frame_rate=25)]
    count = min(len(left), len(right))
    assert count >= 45
    return left[:count], right[:count]


def side_of(crop):
    """Whose face a crop shows: "left" (warm tint) or "right" (cool)."""
    red, _, blue = crop.reshape(-1, 3).mean(axis=0)
    return "left" if red > blue else "right"


@pytest.mark.parametrize("side", ["left", "right"])
def test_face_side_crops_that_person_in_every_frame(two_people, side):
    # The right face is the larger one: "left" must not take it.
    left, right = two_people
    width = left[0].shape[1]
    offset = 0 if side == "left" else width
    cropper = FaceCropper(face_side=side)
    alone = FaceCropper()  # on that person's half of the frame only
    for index, (a, b) in enumerate(zip(left, right)):
        frame = two_faces_frame(a, b, right_zoom=1.3)
        assert side_of(cropper.crop(frame)) == side, index
        # The same box as in that person's video alone (shifted by its offset).
        alone.crop(frame[:, offset : offset + width])
        centre_x, centre_y, box_side = cropper._box
        alone_x, alone_y, alone_side = alone._box
        assert abs(centre_x - offset - alone_x) < 0.05 * alone_side, index
        assert abs(centre_y - alone_y) < 0.05 * alone_side, index
        assert box_side == pytest.approx(alone_side, rel=0.15), index
    assert cropper.report == {**alone.report, "frames_with_face": len(left)}
    assert cropper.report["fallback_frames"] == 0


@pytest.mark.parametrize("right_zoom, largest", [(1.3, "right"), (0.75, "left")])
def test_face_side_none_takes_the_largest_face(two_people, right_zoom, largest):
    left, right = two_people
    cropper = FaceCropper()
    crops = [cropper.crop(two_faces_frame(a, b, right_zoom=right_zoom)) for a, b in zip(left, right)]
    assert [side_of(crop) for crop in crops] == [largest] * len(crops)
    assert cropper.report["frames_with_face"] == len(crops)


@pytest.mark.parametrize("side", ["left", "right"])
def test_face_side_never_moves_to_the_other_person(two_people, side):
    # That person's face is gone for 30 frames (longer than the 25 detector
    # runs after which the face on that side is looked for afresh): the crop
    # keeps its box, even though the other face is found on every frame.
    left, right = two_people
    hidden = range(10, 40)
    frames = [
        two_faces_frame(a, b, right_zoom=1.3, hide=side if index in hidden else None)
        for index, (a, b) in enumerate(zip(left, right))
    ]
    cropper = FaceCropper(face_side=side)
    boxes = []
    for index, frame in enumerate(frames):
        assert side_of(cropper.crop(frame)) == side, index
        boxes.append(cropper._box)
    assert cropper.report["frames_with_face"] == len(frames) - len(hidden)
    assert all(box == boxes[hidden[0] - 1] for box in boxes[hidden[0] : hidden[-1] + 1])


def test_face_side_none_moves_when_its_face_is_lost(two_people):
    # Without face_side: the largest face (right), then the only face found
    # while it is hidden (left), which stays tracked when the right returns.
    left, right = two_people
    frames = [
        two_faces_frame(a, b, right_zoom=1.3, hide="right" if 10 <= index < 40 else None)
        for index, (a, b) in enumerate(zip(left, right))
    ]
    cropper = FaceCropper()
    sides = [side_of(cropper.crop(frame)) for frame in frames]
    assert sides == ["right"] * 10 + ["left"] * (len(frames) - 10)
    assert cropper.report["frames_with_face"] == len(frames)


@pytest.mark.parametrize("side", ["left", "right"])
def test_face_side_waits_for_that_person(two_people, side):
    # The first 10 frames show only the other person, in the other half of
    # the frame: no face is taken (centre fallback) until that person shows.
    left, right = two_people
    frames = [two_faces_frame(a, b, hide=side if index < 10 else None) for index, (a, b) in enumerate(zip(left, right))]
    cropper = FaceCropper(face_side=side)
    crops = [cropper.crop(frame) for frame in frames]
    for frame, crop in zip(frames[:10], crops[:10]):
        np.testing.assert_array_equal(crop, centre_crop(frame, 224))
    assert [side_of(crop) for crop in crops[10:]] == [side] * (len(frames) - 10)
    assert cropper.report["fallback_frames"] == 10
    assert cropper.report["frames_with_face"] == len(frames) - 10


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


def stub_searches(monkeypatch, cropper, near, whole):
    """Replaces both searches: call i of each returns near[i] / whole[i] (a
    list of boxes); returns the calls made, as "near" / "whole"."""
    calls = []

    def search(kind, boxes):
        def run(gray):
            calls.append(kind)
            return boxes[calls.count(kind) - 1]

        return run

    monkeypatch.setattr(cropper, "_search_near", search("near", near))
    monkeypatch.setattr(cropper, "_search_frame", search("whole", whole))
    return calls


def test_near_search_first_then_the_whole_frame(monkeypatch):
    frame = position_frame(100, 200)
    cropper = FaceCropper(output_size=60, smoothing=0.0)
    calls = stub_searches(
        monkeypatch,
        cropper,
        near=[[(84, 30, 40, 40)], [], [(130, 30, 40, 40)]],
        whole=[[(80, 30, 40, 40)], [(84, 30, 40, 40)], [(150, 30, 40, 40), (130, 30, 40, 40)]],
    )
    cropper.crop(frame)  # no track yet: the whole frame only
    assert calls == ["whole"]
    cropper.crop(frame)  # found near the track: the whole frame is not searched
    assert calls == ["whole", "near"]
    assert cropper._box == (104.0, 50.0, 60.0)
    cropper.crop(frame)  # nothing near: the whole frame
    assert calls == ["whole", "near", "near", "whole"]
    # A face near the box but not within half a face side (centre 46 px
    # away, face 40 px) is not the tracked face: the whole frame's largest.
    cropper.crop(frame)
    assert calls == ["whole", "near", "near", "whole", "near", "whole"]
    assert cropper._box == (170.0, 50.0, 60.0)
    assert cropper.report["frames_with_face"] == 4


def test_face_side_choice(monkeypatch):
    frame = position_frame(100, 200)
    cropper = FaceCropper(output_size=60, smoothing=0.0, face_side="left")
    right_face, left_face, near_left = (150, 30, 20, 20), (20, 30, 20, 20), (24, 30, 20, 20)
    far_left = (60, 30, 20, 20)  # centre 40 px from the track: not the same face
    whole = [[right_face], [right_face, left_face], [right_face], [near_left, right_face]]
    whole += [[right_face, far_left]] * 26
    calls = stub_searches(monkeypatch, cropper, near=[[]] * 30, whole=whole)
    # A lone face in the right half is not the left person's.
    np.testing.assert_array_equal(cropper.crop(frame), centre_crop(frame, 60))
    # Of two faces, the leftmost.
    cropper.crop(frame)
    assert cropper._box == (30.0, 40.0, 30.0)
    # With a track, only a face on it: never the other person.
    cropper.crop(frame)
    assert cropper._box == (30.0, 40.0, 30.0)
    cropper.crop(frame)
    assert cropper._box == (34.0, 40.0, 30.0)
    assert cropper.report["frames_with_face"] == 2
    # After 25 detector runs without the tracked face, the leftmost face is
    # taken afresh.
    for _ in range(25):
        cropper.crop(frame)
        assert cropper._box == (34.0, 40.0, 30.0)
    cropper.crop(frame)
    assert cropper._box == (70.0, 40.0, 30.0)
    assert cropper.report["frames_with_face"] == 3
    assert calls.count("whole") == 30

    right = FaceCropper(output_size=60, smoothing=0.0, face_side="right")
    stub_searches(monkeypatch, right, near=[], whole=[[left_face], [right_face], [left_face, right_face]])
    right.crop(frame)
    assert right._box is None
    right.crop(frame)  # a lone face in the right half
    assert right._box == (160.0, 40.0, 30.0)


def test_near_search_region_and_sizes():
    cropper = FaceCropper()
    seen = {}

    class Cascade:
        def detectMultiScale(self, image, **kwargs):
            seen["image"] = image
            seen.update(kwargs)
            return np.array([[10, 12, 30, 30]])

    cropper._cascade = Cascade()
    gray = np.arange(720 * 1280, dtype=np.int64).reshape(720, 1280).astype(np.uint8)
    # Track: centre (500, 300), face 256 px (box 384 with margin 0.25). The
    # region is 2 face sides, 512 x 512 px from (244, 44), shrunk 8 times
    # (the face becomes 32 px); faces of 0.7-1.4 times 32 px.
    cropper._box = (500.0, 300.0, 384.0)
    faces = cropper._search_near(gray)
    expected = cv2.resize(gray[44 : 44 + 512, 244 : 244 + 512], (64, 64), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(seen["image"], expected)
    assert (seen["minSize"], seen["maxSize"]) == ((23, 23), (44, 44))
    assert faces == [(324.0, 140.0, 240.0, 240.0)]
    # Face 300 px: 9 times (66 x 66 blocks of the 600 px region, from
    # (200, 0), cut to the frame), then 63 / 66 (the face becomes 32 px).
    cropper._box = (500.0, 300.0, 450.0)
    faces = cropper._search_near(gray)
    blocks = cv2.resize(gray[0:594, 200:794], (66, 66), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(seen["image"], cv2.resize(blocks, (63, 63), interpolation=cv2.INTER_LINEAR))
    step = 594 / 63
    assert (seen["minSize"], seen["maxSize"]) == ((23, 23), (44, 44))
    assert faces == [pytest.approx((200 + 10 * step, 12 * step, 30 * step, 30 * step))]
    # Near a corner the region is cut to the frame: rows 0..285, columns
    # 0..295, in blocks of 8.
    cropper._box = (40.0, 30.0, 384.0)
    cropper._search_near(gray)
    assert seen["image"].shape == (35, 37)
    # A region smaller than the smallest face: no search.
    seen.clear()
    assert cropper._search_near(gray[:100]) == []
    assert seen == {}


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
        ({"face_side": "middle"}, "face_side='middle'"),
        ({"face_side": "Left"}, "face_side='Left'"),
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
