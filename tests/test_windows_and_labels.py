import dataclasses
import fractions
import math

import numpy as np
import pytest

from emokeras.data.label_processing import clip_targets
from emokeras.data.label_processing import process_labels
from emokeras.data.labels import LabelError
from emokeras.data.labels import labels_on_frames
from emokeras.data.labels import read_arff_labels
from emokeras.data.labels import read_label_csv
from emokeras.data.window import Window
from emokeras.data.window_geometry import WindowGeometry

PAPER = dict(clips=8, frames_per_clip=16, frame_rate=25, sample_rate=16000)
DELAYS = {"valence": 58, "arousal": 68}


def _geometry(stride=None, last_window="align_end", label_delays=None, **shape):
    return WindowGeometry(**{**PAPER, **shape}, stride=stride, last_window=last_window, label_delays=label_delays)


# Hand-checked starts: (frames, stride, rule, delays, expected).
WINDOW_TABLE = [
    (128, 16, "align_end", None, [0]),
    (129, 16, "align_end", None, [0, 1]),
    (129, 16, "drop", None, [0]),
    (129, 16, "pad", None, [0, 16]),
    (144, 16, "align_end", None, [0, 16]),
    (144, 16, "pad", None, [0, 16]),
    (150, 16, "align_end", None, [0, 16, 22]),
    (150, 16, "drop", None, [0, 16]),
    (150, 16, "pad", None, [0, 16, 32]),
    (300, 128, "align_end", None, [0, 128, 172]),
    (300, 128, "pad", None, [0, 128, 256]),
    (256, 128, "align_end", None, [0, 128]),
    # Shorter than one window: one padded window, whatever the rule.
    (127, 16, "align_end", None, [0]),
    (127, 16, "drop", None, [0]),
    (127, 16, "pad", None, [0]),
    (16, 16, "align_end", None, [0]),
    (1, 16, "pad", None, [0]),
    (0, 16, "pad", None, []),
    # Labels delayed by up to 68 frames leave N - 68 usable frames.
    (196, 16, "align_end", DELAYS, [0]),
    (195, 16, "align_end", DELAYS, [0]),
    (68, 16, "align_end", DELAYS, []),
    (195, 16, "pad", DELAYS, [0]),
    (197, 16, "align_end", DELAYS, [0, 1]),
    (200, 128, "align_end", 2, [0, 70]),
]


@pytest.mark.parametrize("frames, stride, rule, delays, expected", WINDOW_TABLE)
def test_window_starts_table(frames, stride, rule, delays, expected):
    assert _geometry(stride, rule, delays).starts(frames) == expected


def _boundary_lengths(window, stride, delay):
    """Recording lengths around every boundary of the rule."""
    edges = (window - 1, window, window + 1, window + stride, 2 * window, 2 * window + stride)
    return sorted({max(0, edge + delay + step) for edge in edges for step in (-1, 0, 1)})


@pytest.mark.parametrize("stride", [1, 5, 16, 128, 200])
@pytest.mark.parametrize("rule", ["align_end", "drop", "pad"])
@pytest.mark.parametrize("delays", [None, DELAYS, 3])
def test_python_and_in_graph_rules_agree_around_every_boundary(stride, rule, delays):
    geometry = _geometry(stride, rule, delays)
    for frames in _boundary_lengths(geometry.window_frames, stride, geometry.max_delay):
        for offset in sorted({0, stride // 2, stride - 1}):
            python = geometry.starts(frames, offset)
            graph = geometry.starts_in_graph(frames, offset).numpy().tolist()
            assert python == graph, (frames, offset)
            _check_rule(python, frames - geometry.max_delay, geometry.window_frames, stride, rule, offset)
        grid = geometry.grid_starts(frames, 2)
        assert grid == geometry.grid_starts_in_graph(frames, 2).numpy().tolist()
        # On the clip grid, "pad" and "drop" cut the frame rule's own windows.
        if rule != "align_end":
            frame_rule = dataclasses.replace(geometry, stride=2 * geometry.frames_per_clip).starts(frames)
            assert [start * geometry.frames_per_clip for start in grid] == frame_rule


def _check_rule(starts, usable, window, stride, rule, offset):
    """What each rule promises, checked from its definition."""
    whole = [s for s in starts if s + window <= usable]
    assert starts == sorted(set(starts)) and all(s >= offset for s in starts)
    regular = [s for s in range(offset, usable - window + 1) if (s - offset) % stride == 0]
    if not regular:  # shorter than a window: one padded window, or nothing to window
        assert starts == ([offset] if usable > offset else [])
        return
    assert whole[: len(regular)] == regular  # every window that fits on the stride grid
    if rule == "drop":
        assert starts == regular
    if rule == "align_end":
        assert starts == whole  # nothing past the end
        if usable >= window + offset:
            assert starts[-1] == usable - window  # the last frame is covered
    if rule == "pad" and usable > offset:
        assert starts[-1] + window >= usable  # covered to the end...
        assert len(starts) - len(regular) <= 1  # ...by at most one padded window
        if len(starts) > len(regular):
            assert starts[-1] == (regular[-1] + stride if regular else offset)


@pytest.mark.parametrize("frames", [127, 128, 150, 200, 255, 256, 300])
def test_every_training_offset_keeps_a_window_and_fewest_windows_is_their_minimum(frames):
    # The demo's geometry (stride of one window): at 200 frames (8 s) a random
    # offset must not push the only window off the end.
    geometry = _geometry(stride=128)
    counts = [len(geometry.starts(frames, offset)) for offset in geometry.offsets(frames)]
    if frames >= 128:
        assert min(counts) >= 1
    assert geometry.fewest_windows(frames) == min(counts)
    drawn = {int(geometry.training_offset(value, frames)) for value in range(0, 3000, 7)}
    assert drawn <= set(geometry.offsets(frames))
    assert len(drawn) == len(geometry.offsets(frames))  # every allowed offset occurs


def test_stitch_is_the_mean_of_the_clips_covering_each_frame():
    geometry = _geometry(stride=5, clips=3, frames_per_clip=4)
    rng = np.random.default_rng(0)
    starts = geometry.starts(31)
    values = rng.normal(size=(len(starts), 3, 2))
    sums, counts = np.zeros((33, 2)), np.zeros(33)
    for start, clip_values in zip(starts, values):
        for clip in range(3):
            for frame in range(start + 4 * clip, start + 4 * clip + 4):
                sums[frame] += clip_values[clip]
                counts[frame] += 1
    expected = sums[:31] / counts[:31, None]
    np.testing.assert_allclose(geometry.stitch(starts, values, 31), expected, rtol=1e-6)
    # One target as (windows, clips); frames past the end (padding) are dropped;
    # uncovered frames are NaN.
    stitched = geometry.stitch([4], values[:1, :, 0], 20)
    assert np.isnan(stitched[:4]).all() and np.isnan(stitched[16:]).all()
    np.testing.assert_allclose(stitched[4:16], np.repeat(values[0, :, 0], 4), rtol=1e-6)
    assert geometry.stitch([16], values[:1, :, 0], 20)[16:].tolist() == pytest.approx([values[0, 0, 0]] * 4)


def test_geometry_refuses_bad_values_and_names_them():
    with pytest.raises(ValueError, match="last_window must be one of align_end, drop, pad. Received: 'end'"):
        _geometry(last_window="end")
    with pytest.raises(ValueError, match="stride must be a positive number of frames or None. Received: stride=0"):
        _geometry(stride=0)
    with pytest.raises(ValueError, match="frame_rate=30 must divide sample_rate=16000"):
        _geometry(frame_rate=30)
    with pytest.raises(ValueError, match="label_delays must be frames >= 0"):
        _geometry(label_delays={"valence": -1})
    with pytest.raises(ValueError, match=r"label_delays names unknown targets \['valance'\]"):
        _geometry(label_delays={"valance": 3}).delays_for(["valence", "arousal"])
    assert _geometry(label_delays=DELAYS).delays_for(["arousal", "valence", "liking"]) == [68, 58, 0]
    assert _geometry().stride == 16 and _geometry().window_samples == 81920


@pytest.mark.parametrize(
    "start, frames, fps, rate, samples",
    [
        (0, 128, 25, 16000, (0, 81920)),
        (1, 128, 25, 16000, (640, 82560)),
        (3, 16, 50, 16000, (960, 6080)),
        (2, 10, fractions.Fraction(25), 48000, (3840, 23040)),
    ],
)
def test_window_times_and_samples_are_exact(start, frames, fps, rate, samples):
    window = Window("r", start, frames, fps)
    assert window.start == fractions.Fraction(start) / fps
    assert window.end - window.start == fractions.Fraction(frames) / fps
    assert (window.sample_slice(rate).start, window.sample_slice(rate).stop) == samples
    assert window.frame_slice() == slice(start, start + frames)


def test_window_refuses_a_clock_grid_that_does_not_fit():
    with pytest.raises(ValueError, match="divides the sample rate"):
        Window("r", 1, 16, fractions.Fraction(30000, 1001)).sample_slice(16000)
    geometry = _geometry()
    assert geometry.window("r", 32) == Window("r", 32, 128, 25)
    assert [span.start for span in geometry.clip_spans(32)] == [32, 48, 64, 80, 96, 112, 128, 144]


def _csv(tmp_path, text, name="labels.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_labels_on_frames_interpolate_and_cover_the_labelled_span(tmp_path):
    # 10 Hz labels -> 25 fps frames, linear in between.
    rows = "\n".join(f"{t / 10:.1f},{t / 10:.2f},{-t:.1f}" for t in range(11))
    path = _csv(tmp_path, "time,valence,arousal\n" + rows + "\n")
    times, values = read_label_csv(path)
    frames, mask = labels_on_frames(times, values, 25, path)
    # Covered up to half a label period after the last label (1.0 + 0.05 s).
    assert len(mask) == 27 and mask.all()
    np.testing.assert_allclose(frames["valence"][:26], np.arange(26) / 25, atol=1e-6)
    np.testing.assert_allclose(frames["arousal"][5], -10 * 0.2, atol=1e-6)


def test_nan_labels_name_the_file_and_row_or_are_masked(tmp_path):
    path = _csv(tmp_path, "time,valence\n0.00,0.1\n0.04,nan\n0.08,0.3\n")
    with pytest.raises(LabelError, match=r"labels.csv, row 3: valence is missing"):
        read_label_csv(path)
    times, values = read_label_csv(path, allow_missing=True)
    frames, mask = labels_on_frames(times, values, 25, path)
    assert mask.tolist() == [True, False, True]
    empty_cell = _csv(tmp_path, "time,valence\n0.00,0.1\n0.04,\n", "empty.csv")
    with pytest.raises(LabelError, match=r"empty.csv, row 3"):
        read_label_csv(empty_cell)
    with pytest.raises(LabelError, match="needs a `time` column"):
        read_label_csv(_csv(tmp_path, "t,valence\n0,1\n", "no_time.csv"))
    with pytest.raises(LabelError, match="row 3: times must increase"):
        read_label_csv(_csv(tmp_path, "time,v\n0.0,1\n0.0,2\n", "dup.csv"))
    with pytest.raises(LabelError, match="labels start at 1.000 s"):
        times, values = read_label_csv(_csv(tmp_path, "time,v\n1.0,1\n1.04,2\n", "late.csv"))
        labels_on_frames(times, values, 25, "late.csv")


def test_arff_gold_standard(tmp_path):
    path = tmp_path / "train_1.arff"
    path.write_text(
        "@relation GoldStandard\n\n@attribute Instance_name string\n"
        "@attribute frameTime numeric\n@attribute GoldStandard numeric\n\n@data\n\n"
        + "".join(f"'train_1',{k * 0.04:.2f},{math.sin(k / 10):.6f}\n" for k in range(50))
    )
    times, values = read_arff_labels(path)
    assert len(times) == 50 and times[1] == pytest.approx(0.04)
    frames, mask = labels_on_frames(times, {"arousal": values}, 25, path)
    assert len(mask) == 50
    np.testing.assert_allclose(frames["arousal"], np.sin(np.arange(50) / 10), atol=1e-6)
    broken = tmp_path / "broken.arff"
    broken.write_text(path.read_text().replace("'train_1',0.08,", "'train_1',0.08,?"))
    with pytest.raises(LabelError, match=r"broken.arff, row \d+: GoldStandard=.* is not a number"):
        read_arff_labels(broken)


def test_median_filter_delay_and_clip_means_match_numpy():
    rng = np.random.default_rng(0)
    labels = rng.normal(size=(40, 2)).astype("float32")
    mask = np.ones((40, 2), bool)
    out, out_mask, frames = process_labels(labels, mask, median_width=3, delays=[2, 5])
    padded = np.concatenate([labels[:1], labels, labels[-1:]])
    median = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    assert int(frames) == 35
    np.testing.assert_allclose(out.numpy()[:, 0], median[2:37, 0], atol=1e-6)
    np.testing.assert_allclose(out.numpy()[:, 1], median[5:40, 1], atol=1e-6)
    assert out_mask.numpy().all()

    window_labels = np.arange(16, dtype="float32").reshape(16, 1)
    window_mask = np.ones((16, 1), bool)
    window_mask[4:6] = False
    means, weights = clip_targets(window_labels, window_mask, clips=4)
    np.testing.assert_allclose(means.numpy()[:, 0], [1.5, 6.5, 9.5, 13.5])
    np.testing.assert_allclose(weights.numpy()[:, 0], [1.0, 0.5, 1.0, 1.0])
    with pytest.raises(ValueError, match="odd"):
        process_labels(labels, mask, median_width=2)
