import pathlib
import shutil

import keras
import numpy as np
import pytest

from emokeras.backbones import I3D
from emokeras.backbones import I3D_ENDPOINTS
from emokeras.backbones import AudioCNN
from emokeras.backbones import ConvBNReLU
from emokeras.backbones import InceptionModule
from emokeras.backbones import InceptionV1
from emokeras.backbones import i3d_variable_map
from emokeras.layers import LogMelSpectrogram
from tests import contract

# DeepMind's endpoint shapes for a 16 x 224 x 224 clip: (T, H, W, C).
DEEPMIND_ENDPOINT_SHAPES = {
    "Conv3d_1a_7x7": (8, 112, 112, 64),
    "MaxPool3d_2a_3x3": (8, 56, 56, 64),
    "Conv3d_2b_1x1": (8, 56, 56, 64),
    "Conv3d_2c_3x3": (8, 56, 56, 192),
    "MaxPool3d_3a_3x3": (8, 28, 28, 192),
    "Mixed_3b": (8, 28, 28, 256),
    "Mixed_3c": (8, 28, 28, 480),
    "MaxPool3d_4a_3x3": (4, 14, 14, 480),
    "Mixed_4b": (4, 14, 14, 512),
    "Mixed_4c": (4, 14, 14, 512),
    "Mixed_4d": (4, 14, 14, 512),
    "Mixed_4e": (4, 14, 14, 528),
    "Mixed_4f": (4, 14, 14, 832),
    "MaxPool3d_5a_2x2": (2, 7, 7, 832),
    "Mixed_5b": (2, 7, 7, 832),
    "Mixed_5c": (2, 7, 7, 1024),
}

TINY = dict(width_multiplier=1 / 16, image_size=32)


@pytest.fixture(scope="module")
def full_i3d():
    return I3D(frames=16)


def _checkpoint_variables(shared_file, name, tmp_path):
    """Names and shapes listed by a DeepMind `.index` file (data not needed)."""
    import tensorflow as tf

    shutil.copy(shared_file(f"i3d/{name}.model.ckpt.index"), tmp_path / "model.ckpt.index")
    return {n: tuple(s) for n, s in tf.train.list_variables(str(tmp_path / "model.ckpt"))}


def _golden_variables():
    """The same listing, checked in (tests/golden), for runs without the
    shared data."""
    path = pathlib.Path(__file__).parent / "golden/deepmind_i3d_rgb_variables.tsv"
    rows = [line.split("\t") for line in path.read_text().splitlines() if line[0] != "#"]
    return {name: tuple(int(s) for s in shape.split(",")) for name, shape in rows}


def test_golden_listing_is_the_real_index(shared_file, tmp_path):
    assert _golden_variables() == _checkpoint_variables(shared_file, "rgb_scratch", tmp_path)


@pytest.mark.parametrize("checkpoint", ["golden", "rgb_scratch", "rgb_imagenet"])
def test_weights_match_deepmind_checkpoint_one_for_one(full_i3d, tmp_path, checkpoint, request):
    if checkpoint == "golden":
        listed = _golden_variables()
    else:
        shared_file = request.getfixturevalue("shared_file")
        listed = _checkpoint_variables(shared_file, checkpoint, tmp_path)
    mapped = i3d_variable_map(full_i3d)
    assert len(listed) == 230
    assert set(mapped) == set(listed)
    mismatched = {name: (tuple(v.shape), listed[name]) for name, v in mapped.items() if tuple(v.shape) != listed[name]}
    assert not mismatched
    # ...and the map covers every weight of the model, each once.
    assert len({id(v) for v in mapped.values()}) == len(full_i3d.weights) == 230


def test_every_endpoint_has_deepminds_shape():
    for endpoint in I3D_ENDPOINTS:
        model = I3D(include_top=False, final_endpoint=endpoint, frames=16)
        assert tuple(model.output.shape[1:]) == DEEPMIND_ENDPOINT_SHAPES[endpoint], endpoint
        assert model.layers[-1].name == endpoint


def test_top_averages_logits_over_time(full_i3d):
    rng = np.random.default_rng(0)
    clip = rng.uniform(-1, 1, (1, 16, 224, 224, 3)).astype("float32")
    per_time = keras.Model(full_i3d.input, full_i3d.get_layer("Logits_Conv3d_0c_1x1").output)
    logits_over_time = np.asarray(per_time(clip, training=False))
    assert logits_over_time.shape == (1, 1, 1, 1, 400)
    np.testing.assert_allclose(
        np.asarray(full_i3d(clip, training=False)),
        logits_over_time.mean(axis=(1, 2, 3)),
        rtol=1e-6,
    )


@pytest.mark.slow
@pytest.mark.parametrize("frames, size", [(8, 112), (8, 224), (32, 112), (64, 224)])
def test_runs_on_8_to_64_frames_at_112_and_224(frames, size):
    rng = np.random.default_rng(frames)
    clip = rng.uniform(-1, 1, (1, frames, size, size, 3)).astype("float32")
    with_top = I3D(frames=frames, image_size=size)
    logits = np.asarray(with_top(clip, training=False))
    assert logits.shape == (1, 400) and np.all(np.isfinite(logits))
    features = I3D(include_top=False, pooling="avg", frames=frames, image_size=size)
    features.set_weights(with_top.get_weights()[: len(features.weights)])
    pooled = np.asarray(features(clip, training=False))
    assert pooled.shape == (1, 1024)


def test_logits_pool_follows_deepmind_for_long_clips():
    # 64 frames -> 8 time steps after Mixed_5c; DeepMind pools 2 x 7 x 7 with
    # stride 1 (VALID) and averages the 7 remaining logits.
    model = I3D(frames=64)
    pool = model.get_layer("Logits_AvgPool")
    assert pool.pool_size == (2, 7, 7) and pool.strides == (1, 1, 1)
    assert tuple(pool.output.shape[1:4]) == (7, 1, 1)


def test_bad_endpoint_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="Mixed_4f"):
        I3D(final_endpoint="Mixed_9z")
    with pytest.raises(ValueError, match="include_top=False"):
        I3D(final_endpoint="Mixed_4f")


def test_tiny_i3d_contract(tmp_path):
    model = I3D(num_classes=5, frames=8, classifier_activation="softmax", **TINY)
    clip = np.random.default_rng(1).uniform(-1, 1, (2, 8, 32, 32, 3)).astype("float32")
    contract.assert_config_round_trip(model)
    contract.assert_save_load_identical(model, clip, tmp_path)
    contract.assert_one_training_step_moves_weights(
        model, clip, np.eye(5, dtype="float32")[[0, 3]], loss="categorical_crossentropy"
    )


def test_weights_file_loads_by_path(tmp_path):
    model = I3D(frames=8, **TINY)
    path = tmp_path / "i3d_tiny.weights.h5"
    model.save_weights(path)
    reloaded = I3D(frames=8, weights=str(path), **TINY)
    clip = np.random.default_rng(2).uniform(-1, 1, (1, 8, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(clip, training=False)), np.asarray(reloaded(clip, training=False)))
    assert "weights" not in reloaded.get_config()


def test_mixed_precision_logits_are_float32():
    # bfloat16 on CPU: TensorFlow has no float16 MaxPool3D kernel for CPUs
    # (mixed_float16 is for GPUs).
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = I3D(frames=8, classifier_activation="softmax", **TINY)
    probabilities = model(np.zeros((1, 8, 32, 32, 3), "float32"), training=False)
    assert keras.backend.standardize_dtype(probabilities.dtype) == "float32"
    assert model.get_layer("Mixed_5c").compute_dtype == "bfloat16"
    np.testing.assert_allclose(np.asarray(probabilities).sum(), 1.0, rtol=1e-3)


def test_inception_v1_is_the_2d_twin_of_i3d(full_i3d):
    cnn = InceptionV1(include_top=True)
    assert len(cnn.weights) == len(full_i3d.weights)
    for endpoint in I3D_ENDPOINTS:
        twin = endpoint.replace("Conv3d", "Conv2d").replace("MaxPool3d", "MaxPool")
        layer_3d, layer_2d = full_i3d.get_layer(endpoint), cnn.get_layer(twin)
        if isinstance(layer_3d, ConvBNReLU):
            assert isinstance(layer_2d, ConvBNReLU)
            units = {"": (layer_3d, layer_2d)}
        elif isinstance(layer_3d, InceptionModule):
            assert isinstance(layer_2d, InceptionModule)
            units_2d = layer_2d.units_by_scope()
            units = {
                scope: (unit, units_2d[scope.replace("Conv3d", "Conv2d")])
                for scope, unit in layer_3d.units_by_scope().items()
            }
        else:
            assert layer_2d.pool_size == layer_3d.pool_size[1:], endpoint
            assert layer_2d.strides == layer_3d.strides[1:], endpoint
            continue
        for scope, (unit_3d, unit_2d) in units.items():
            # A 2D kernel (H, W, Cin, Cout) inflates to (T, H, W, Cin, Cout).
            assert tuple(unit_3d.conv.kernel.shape[1:]) == tuple(unit_2d.conv.kernel.shape), (
                endpoint,
                scope,
            )
    features = InceptionV1(pooling="avg", image_size=112)
    assert tuple(features(np.zeros((2, 112, 112, 3), "float32")).shape) == (2, 1024)


def test_tiny_inception_v1_contract(tmp_path):
    model = InceptionV1(pooling="avg", **TINY)
    frames = np.random.default_rng(3).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    contract.assert_config_round_trip(model)
    contract.assert_save_load_identical(model, frames, tmp_path)
    contract.assert_one_training_step_moves_weights(model, frames, np.ones((2, 64), "float32"))


def test_audio_cnn_paper_shapes():
    model = AudioCNN()
    assert isinstance(model.layers[1], LogMelSpectrogram)
    assert tuple(model.layers[1].output.shape) == (None, 128, 65, 1)
    assert [model.get_layer(f"conv{i}").filters for i in range(1, 6)] == [64, 128, 256, 512, 1024]
    assert tuple(model(np.zeros((2, 10240), "float32")).shape) == (2, 1024)


def test_audio_cnn_rejects_wrong_number_of_filters():
    with pytest.raises(ValueError, match="five|5 conv units"):
        AudioCNN(filters=(8, 16))


def test_tiny_audio_cnn_contract(tmp_path):
    model = AudioCNN(filters=(4, 8, 8, 16, 16))
    waves = np.random.default_rng(4).normal(scale=0.1, size=(3, 10240)).astype("float32")
    contract.assert_config_round_trip(model)
    contract.assert_save_load_identical(model, waves, tmp_path)
    contract.assert_one_training_step_moves_weights(model, waves, np.ones((3, 16), "float32"))
