import fractions
import math

import numpy as np
import pytest

from emokeras.data.dataset import window_starts
from emokeras.data.label_processing import clip_targets
from emokeras.data.label_processing import process_labels
from emokeras.data.labels import LabelError
from emokeras.data.labels import labels_on_frames
from emokeras.data.labels import read_arff_labels
from emokeras.data.labels import read_label_csv
from emokeras.data.window import Window
from emokeras.data.window import plan_windows

# (frames, window, stride, rule, expected starts)
WINDOW_TABLE = [
    (128, 128, 16, "align_end", [0]),
    (129, 128, 16, "align_end", [0, 1]),
    (129, 128, 16, "drop", [0]),
    (144, 128, 16, "align_end", [0, 16]),
    (150, 128, 16, "align_end", [0, 16, 22]),
    (150, 128, 16, "drop", [0, 16]),
    (300, 128, 128, "align_end", [0, 128, 172]),
    (256, 128, 128, "align_end", [0, 128]),
    (40, 8, 1, "drop", list(range(33))),
]


@pytest.mark.parametrize("frames, window, stride, rule, expected", WINDOW_TABLE)
def test_window_plan_table(frames, window, stride, rule, expected):
    assert plan_windows(frames, window, stride, rule) == expected
    # The in-graph plan of make_dataset follows the same rule.
    assert window_starts(frames, window, stride, rule).numpy().tolist() == expected


@pytest.mark.parametrize("offset", [0, 3, 15])
def test_in_graph_plan_with_a_random_offset(offset):
    starts = window_starts(300, 128, 16, "align_end", offset).numpy().tolist()
    assert starts[0] == offset and starts[-1] == 172
    assert all(b - a <= 16 for a, b in zip(starts, starts[1:]))


def test_window_shorter_recording_and_bad_arguments():
    with pytest.raises(ValueError, match="100 frames, shorter than one window of 128"):
        plan_windows(100, 128, 16)
    with pytest.raises(ValueError, match="last_window"):
        plan_windows(200, 128, 16, "pad")
    with pytest.raises(ValueError, match="stride"):
        plan_windows(200, 128, 0)
    assert window_starts(100, 128, 16).numpy().tolist() == []


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
    assert Window("r", 32, 128, 25).clip_starts(8) == [32, 48, 64, 80, 96, 112, 128, 144]


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
