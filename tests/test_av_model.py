import keras
import numpy as np
import pytest

from emokeras.models import FUSIONS
from emokeras.models import VISUAL_BACKBONES
from emokeras.models import AVEmotionRegressor
from emokeras.models import AVFusionRegressor
from emokeras.models import build_av_model
from tests import contract
from tests.tiny import TINY_AV
from tests.tiny import tiny_window


def _inputs_for(model, window):
    return {name: window[name] for name in model.input}


@pytest.mark.parametrize("visual_backbone", VISUAL_BACKBONES)
@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_table_row_builds_predicts_and_round_trips(fusion, visual_backbone, tmp_path):
    model = build_av_model(fusion=fusion, visual_backbone=visual_backbone, **TINY_AV)
    window = _inputs_for(model, tiny_window(batch=3))
    expected_inputs = {"audio_only": {"audio"}, "visual_only": {"video"}}.get(fusion, {"audio", "video"})
    expected_inputs |= {"valid_frames"}
    assert set(model.input) == expected_inputs
    outputs = model.predict(window, verbose=0)
    assert set(outputs) == {"valence", "arousal"}
    for values in outputs.values():
        assert values.shape == (3, 2) and values.dtype == np.float32
        assert np.all(np.abs(values) <= 1.0)
    contract.assert_config_round_trip(model)
    contract.assert_save_load_identical(model, window, tmp_path)
    # Any length: a padded window's valid clips ignore the padding, in every fusion.
    contract.assert_padding_changes_no_valid_output(model, window)


def test_cross_attention_model_uses_the_paper_layout():
    model = build_av_model(**TINY_AV)
    head = model.fusion_regressor
    assert head.get_layer("cross_attention").kernel.shape == (64, 64)
    # [X_att,v ; X_att,a]: visual first, then audio.
    fused = head.get_layer("fused")
    assert [t._keras_history.operation.name for t in fused.input] == [
        "cross_attention",
        "cross_attention",
    ]
    assert [t._keras_history.tensor_index for t in fused.input] == [1, 0]
    assert tuple(fused.output.shape) == (None, 2, 128)
    assert [head.get_layer(f"valence_dense_{i}").units for i in (1,)] == [16]
    assert head.get_layer("valence_dropout").rate == 0.5
    paper = build_av_model()
    units = [paper.fusion_regressor.get_layer(f"arousal_dense_{i}").units for i in (1, 2)]
    assert units == [512, 256]
    assert paper.input["video"].shape == (None, 128, 224, 224, 3)
    assert paper.input["audio"].shape == (None, 81920)
    assert paper.fusion_regressor.output["valence"].shape == (None, 8)


def test_uint8_and_float_video_give_the_same_predictions():
    model = build_av_model(**TINY_AV)
    window = tiny_window()
    as_float = dict(window, video=window["video"].astype("float32"))
    np.testing.assert_allclose(
        model.predict(window, verbose=0)["valence"],
        model.predict(as_float, verbose=0)["valence"],
        atol=1e-6,
    )


def test_clips_are_cut_in_time_order():
    # Clip c of the window must see frames [cT, (c+1)T) and samples
    # [cS, (c+1)S): compare with the backbones run on each clip by hand.
    model = build_av_model(**TINY_AV)
    window = tiny_window(batch=2, seed=1)
    visual = model.visual_encoder.predict(window["video"], verbose=0)
    audio = model.audio_encoder.predict(window["audio"], verbose=0)
    frames = window["video"].astype("float32") / 127.5 - 1.0
    for clip in range(2):
        by_hand = model.visual_backbone.predict(frames[:, clip * 8 : (clip + 1) * 8], verbose=0)
        np.testing.assert_allclose(visual[:, clip], by_hand, atol=1e-5)
        samples = window["audio"][:, clip * 5120 : (clip + 1) * 5120]
        by_hand = model.audio_backbone.predict(samples, verbose=0)
        np.testing.assert_allclose(audio[:, clip], by_hand, atol=1e-5)


def test_cnn2d_averages_per_frame_features_over_each_clip():
    model = build_av_model(visual_backbone="cnn2d", **TINY_AV)
    window = tiny_window(batch=1, seed=2)
    features = model.visual_encoder.predict(window["video"], verbose=0)
    frames = window["video"][0].astype("float32") / 127.5 - 1.0
    per_frame = model.visual_backbone.predict(frames, verbose=0)
    np.testing.assert_allclose(features[0], per_frame.reshape(2, 8, -1).mean(axis=1), atol=1e-5)


def test_features_input_model_shares_weights_with_the_raw_model():
    model = build_av_model(**TINY_AV)
    window = tiny_window(seed=3)
    features = {
        "visual_features": model.visual_encoder.predict(window["video"], verbose=0),
        "audio_features": model.audio_encoder.predict(window["audio"], verbose=0),
    }
    raw = model.predict(window, verbose=0)
    from_features = model.fusion_regressor.predict(features, verbose=0)
    for target in ("valence", "arousal"):
        np.testing.assert_allclose(from_features[target], raw[target], atol=1e-5)

    # A separately trained features-input regressor drops into the raw model.
    standalone = AVFusionRegressor(clips=2, visual_dim=64, audio_dim=64, head_units=(16,), lstm_units=8)
    standalone.compile(optimizer="adam", loss="mse", jit_compile=False)
    standalone.fit(features, {"valence": np.ones((2, 2)), "arousal": np.zeros((2, 2))}, verbose=0)
    model.fusion_regressor.set_weights(standalone.get_weights())
    assembled = model.predict(window, verbose=0)
    expected = standalone.predict(features, verbose=0)
    for target in ("valence", "arousal"):
        np.testing.assert_allclose(assembled[target], expected[target], atol=1e-5)


def test_single_score_target_with_its_own_range():
    model = build_av_model(targets=("fatigue",), target_ranges={"fatigue": (0, 10)}, **TINY_AV)
    outputs = model.predict(tiny_window(batch=4, seed=4), verbose=0)
    assert set(outputs) == {"fatigue"}
    assert np.all((outputs["fatigue"] >= 0) & (outputs["fatigue"] <= 10))
    tanh = model.fusion_regressor.get_layer("fatigue_tanh").output
    probe = keras.Model(model.fusion_regressor.input, [tanh, model.fusion_regressor.output["fatigue"]])
    features = {
        "visual_features": np.random.default_rng(5).normal(size=(3, 2, 64)),
        "audio_features": np.random.default_rng(6).normal(size=(3, 2, 64)),
        "clip_mask": None,  # every clip real
    }
    raw, scaled = probe.predict(features, verbose=0)
    np.testing.assert_allclose(scaled, 5.0 * raw + 5.0, atol=1e-5)


def test_freezing_backbones():
    model = build_av_model(freeze_visual_backbone=True, freeze_audio_backbone=True, **TINY_AV)
    trainable = {w.path for w in model.trainable_weights}
    assert trainable and all("backbone" not in path for path in trainable)
    assert {w.path for w in model.fusion_regressor.trainable_weights} == trainable
    model.visual_backbone.trainable = True
    assert len(model.trainable_weights) > len(trainable)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(fusion="sum"), "cross_attention, concat, lstm"),
        (dict(visual_backbone="resnet"), "i3d, cnn2d"),
        (dict(targets=()), "non-empty"),
        (dict(targets=("valence", "valence")), "distinct"),
        (dict(targets=("val/ence",)), "letters, digits"),
        (dict(target_ranges={"valence": (1, -1)}), "low < high"),
        (dict(target_ranges={"fatigue": (0, 10)}), "not in targets"),
        (dict(frame_rate=30), "whole number"),
        (dict(audio_filters=(4, 8, 8, 16, 32)), r"\(None, 2, 32\).*\(None, 2, 64\)"),
    ],
)
def test_bad_configurations_say_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_av_model(**{**TINY_AV, **kwargs})


def test_mixed_precision_outputs_stay_float32():
    keras.config.set_dtype_policy("mixed_bfloat16")  # CPU: see test_backbones
    model = build_av_model(**TINY_AV)
    outputs = model(tiny_window(), training=False)
    for values in outputs.values():
        assert keras.backend.standardize_dtype(values.dtype) == "float32"
        assert np.all(np.isfinite(np.asarray(values)))


def test_build_av_model_is_the_class():
    assert isinstance(build_av_model(fusion="concat", **TINY_AV), AVEmotionRegressor)


def test_saved_model_loads_in_a_fresh_process(tmp_path):
    import subprocess
    import sys

    model = build_av_model(**TINY_AV)
    window = tiny_window(seed=9)
    np.save(tmp_path / "video.npy", window["video"])
    np.save(tmp_path / "audio.npy", window["audio"])
    np.save(tmp_path / "expected.npy", model.predict(window, verbose=0)["valence"])
    model.save(tmp_path / "model.keras")
    script = (
        "import numpy as np, sys; from emokeras.saving import load_model; "
        f"m = load_model(r'{tmp_path / 'model.keras'}'); "
        f"x = {{'video': np.load(r'{tmp_path / 'video.npy'}'), 'audio': np.load(r'{tmp_path / 'audio.npy'}')}}; "
        f"np.testing.assert_array_equal(m.predict(x, verbose=0)['valence'], np.load(r'{tmp_path / 'expected.npy'}')); "
        "print('same')"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "same" in result.stdout, result.stderr[-2000:]
