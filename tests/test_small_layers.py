"""SelfAttention, the clip reshapes and the Inception units: numbers and the
shared contract (config, `.keras` round trip, a training step)."""

import keras
import numpy as np
import pytest

from emokeras.backbones import ConvBNReLU
from emokeras.backbones import InceptionModule
from emokeras.layers import FoldClips
from emokeras.layers import SelfAttention
from emokeras.layers import UnfoldClips
from tests import contract
from tests.numpy_references import self_attention_paper


def test_self_attention_matches_paper_equations():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    kernel = rng.normal(scale=0.5, size=(4, 4)).astype("float32")
    layer = SelfAttention()
    layer.build(x.shape)
    layer.kernel.assign(kernel)
    outputs, scores = layer(x, return_attention_scores=True)
    for b in range(2):
        expected, expected_scores = self_attention_paper(x[b].T.astype("float64"), kernel)
        np.testing.assert_allclose(np.asarray(outputs)[b], expected.T, atol=1e-5)
        np.testing.assert_allclose(np.asarray(scores)[b], expected_scores, atol=1e-5)


def test_self_attention_mask_and_contract(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    layer = SelfAttention(name="selfatt")
    mask = np.array([[True] * 5, [True] * 3 + [False] * 2])
    noisy = x.copy()
    noisy[1, 3:] = 50.0
    np.testing.assert_allclose(
        np.asarray(layer(x, mask=mask))[1, :3],
        np.asarray(layer(noisy, mask=mask))[1, :3],
        atol=1e-6,
    )
    contract.assert_config_round_trip(layer)
    model = contract.wrap_layer(SelfAttention(), [(5, 4)])
    contract.assert_save_load_identical(model, x, tmp_path)
    contract.assert_one_training_step_moves_weights(model, x, np.zeros_like(x))


def test_fold_and_unfold_clips_are_exact_inverses(tmp_path):
    video = np.arange(2 * 12 * 3, dtype="float32").reshape(2, 12, 3)
    folded = np.asarray(FoldClips(clips=4)(video))
    assert folded.shape == (8, 3, 3)
    # Clip c of sample b is frames [3c, 3c + 3) of that sample.
    np.testing.assert_array_equal(folded[1 * 4 + 2], video[1, 6:9])
    np.testing.assert_array_equal(np.asarray(UnfoldClips(clips=4)(folded)), video.reshape(2, 4, 3, 3))
    inputs = keras.Input((12, 3))
    model = keras.Model(inputs, UnfoldClips(4)(FoldClips(4)(inputs)))
    contract.assert_config_round_trip(FoldClips(clips=4))
    contract.assert_config_round_trip(UnfoldClips(clips=4))
    contract.assert_save_load_identical(model, video, tmp_path)


def test_fold_clips_rejects_a_window_that_does_not_divide():
    with pytest.raises(ValueError, match=r"multiple of 4.*\(None, 10, 3\)"):
        FoldClips(clips=4)(keras.Input((10, 3)))


def test_conv_bn_relu_uses_tf_same_padding_and_scale_free_batch_norm():
    import tensorflow as tf

    rng = np.random.default_rng(2)
    # Even sizes and stride 2: TF "SAME" pads more at the end than the start.
    x = rng.normal(size=(1, 6, 8, 8, 3)).astype("float32")
    unit = ConvBNReLU(filters=4, kernel_size=(3, 7, 7), strides=2, rank=3)
    unit.build(x.shape)
    assert [w.name for w in unit.batch_norm.weights] == [
        "beta",
        "moving_mean",
        "moving_variance",
    ]
    assert unit.batch_norm.epsilon == 1e-3
    kernel = rng.normal(size=(3, 7, 7, 3, 4)).astype("float32")
    beta, mean, variance = (rng.uniform(0.5, 1.5, 4).astype("float32") for _ in range(3))
    unit.conv.kernel.assign(kernel)
    unit.batch_norm.beta.assign(beta)
    unit.batch_norm.moving_mean.assign(mean)
    unit.batch_norm.moving_variance.assign(variance)
    expected = tf.nn.conv3d(x, kernel, [1, 2, 2, 2, 1], "SAME").numpy()
    expected = np.maximum((expected - mean) / np.sqrt(variance + 1e-3) + beta, 0.0)
    np.testing.assert_allclose(np.asarray(unit(x, training=False)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rank", [2, 3])
def test_inception_module_branches_and_contract(rank, tmp_path):
    rng = np.random.default_rng(3)
    shape = (4, 6, 6, 5) if rank == 3 else (6, 6, 5)
    x = rng.normal(size=(2,) + shape).astype("float32")
    block = InceptionModule(filters=(2, 3, 4, 1, 2, 3), rank=rank, name="Mixed_3b")
    y = np.asarray(block(x, training=False))
    assert y.shape == (2,) + shape[:-1] + (2 + 4 + 2 + 3,)
    conv = f"Conv{rank}d"
    assert sorted(block.units_by_scope()) == sorted(
        [
            f"Branch_0/{conv}_0a_1x1",
            f"Branch_1/{conv}_0a_1x1",
            f"Branch_1/{conv}_0b_3x3",
            f"Branch_2/{conv}_0a_1x1",
            f"Branch_2/{conv}_0b_3x3",
            f"Branch_3/{conv}_0b_1x1",
        ]
    )
    # Branch 0 is exactly its own 1x1 unit; the block concatenates in order.
    branch_0 = block.units_by_scope()[f"Branch_0/{conv}_0a_1x1"]
    np.testing.assert_allclose(y[..., :2], np.asarray(branch_0(x, training=False)), atol=1e-6)
    contract.assert_config_round_trip(block)
    model = contract.wrap_layer(block, [shape])
    contract.assert_save_load_identical(model, x, tmp_path)
    contract.assert_one_training_step_moves_weights(model, x, np.zeros_like(y))


def test_conv_bn_relu_contract(tmp_path):
    x = np.random.default_rng(4).normal(size=(2, 4, 8, 8, 3)).astype("float32")
    unit = ConvBNReLU(filters=4, kernel_size=3, strides=(1, 2, 2), rank=3, name="Conv3d_2c_3x3")
    contract.assert_config_round_trip(unit)
    model = contract.wrap_layer(unit, [x.shape[1:]])
    contract.assert_save_load_identical(model, x, tmp_path)
    contract.assert_one_training_step_moves_weights(model, x, np.ones((2, 4, 4, 4, 4), "float32"))
