import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from emokeras.layers import CrossAttention
from tests import contract
from tests.numpy_references import cross_attention_paper

BATCH, STEPS, FEATURES = 3, 6, 5


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    audio = rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    visual = rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    kernel = rng.normal(scale=0.5, size=(FEATURES, FEATURES)).astype("float32")
    return audio, visual, kernel


def _layer_with_kernel(kernel):
    layer = CrossAttention()
    layer.build((None, STEPS, FEATURES), (None, STEPS, FEATURES))
    layer.kernel.assign(kernel)
    return layer


def test_matches_paper_equations_in_k_by_l_orientation():
    audio, visual, kernel = _inputs()
    layer = _layer_with_kernel(kernel)
    att_a, att_v, a_a, a_v = layer(audio, visual, return_attention_scores=True)
    for b in range(BATCH):
        # The paper stacks time steps as columns: X is K x L.
        ref_a, ref_v, ref_a_a, ref_a_v = cross_attention_paper(
            audio[b].T.astype("float64"), visual[b].T.astype("float64"), kernel
        )
        np.testing.assert_allclose(np.asarray(att_a)[b], ref_a.T, atol=1e-5)
        np.testing.assert_allclose(np.asarray(att_v)[b], ref_v.T, atol=1e-5)
        np.testing.assert_allclose(np.asarray(a_a)[b], ref_a_a, atol=1e-5)
        np.testing.assert_allclose(np.asarray(a_v)[b], ref_a_v, atol=1e-5)


def test_attention_columns_sum_to_one_and_differ_between_modalities():
    audio, visual, kernel = _inputs(1)
    _, _, a_a, a_v = _layer_with_kernel(kernel)(audio, visual, return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(a_a).sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(a_v).sum(axis=1), 1.0, atol=1e-6)
    assert not np.allclose(np.asarray(a_a), np.asarray(a_v))


def test_only_weight_is_the_square_kernel():
    layer = CrossAttention()
    layer(*_inputs()[:2])
    assert [w.name for w in layer.weights] == ["kernel"]
    assert [w.name for w in layer.trainable_weights] == ["kernel"]
    assert tuple(layer.kernel.shape) == (FEATURES, FEATURES)


def test_mask_gives_padded_steps_no_weight_and_no_influence():
    audio, visual, kernel = _inputs(2)
    layer = _layer_with_kernel(kernel)
    mask = np.ones((BATCH, STEPS), bool)
    mask[0, 4:] = False  # the first sample has 4 valid steps
    mask[1, 1:] = False  # the second only one
    att_a, att_v, a_a, a_v = (np.asarray(t) for t in layer(audio, visual, mask=mask, return_attention_scores=True))
    for scores in (a_a, a_v):
        np.testing.assert_array_equal(scores[0, 4:, :], 0.0)
        np.testing.assert_array_equal(scores[1, 1:, :], 0.0)
        np.testing.assert_allclose(scores[0, :4, :4].sum(axis=0), 1.0, atol=1e-6)

    # Changing padded values changes nothing at valid steps.
    rng = np.random.default_rng(3)
    noisy_audio, noisy_visual = audio.copy(), visual.copy()
    noisy_audio[~mask] = rng.normal(scale=100.0, size=noisy_audio[~mask].shape)
    noisy_visual[~mask] = rng.normal(scale=100.0, size=noisy_visual[~mask].shape)
    noisy_a, noisy_v = (np.asarray(t) for t in layer(noisy_audio, noisy_visual, mask=mask))
    np.testing.assert_allclose(noisy_a[mask], att_a[mask], atol=1e-6)
    np.testing.assert_allclose(noisy_v[mask], att_v[mask], atol=1e-6)

    # Valid steps equal the unpadded computation on the valid part alone.
    ref_a, ref_v, _, _ = cross_attention_paper(
        audio[0, :4].T.astype("float64"), visual[0, :4].T.astype("float64"), kernel
    )
    np.testing.assert_allclose(att_a[0, :4], ref_a.T, atol=1e-5)
    np.testing.assert_allclose(att_v[0, :4], ref_v.T, atol=1e-5)
    # Padded steps attend to nothing: tanh(X).
    np.testing.assert_allclose(att_a[0, 4:], np.tanh(audio[0, 4:]), atol=1e-6)


def test_fully_masked_sample_stays_finite():
    audio, visual, kernel = _inputs(4)
    mask = np.ones((BATCH, STEPS), bool)
    mask[2] = False
    outputs = _layer_with_kernel(kernel)(audio, visual, mask=mask, return_attention_scores=True)
    for tensor in outputs:
        assert np.all(np.isfinite(np.asarray(tensor)))


@pytest.mark.parametrize(
    "audio_shape, visual_shape",
    [((2, 6, 5), (2, 6, 4)), ((2, 6, 5), (2, 7, 5))],
)
def test_mismatched_shapes_name_both(audio_shape, visual_shape):
    with pytest.raises(ValueError) as error:
        CrossAttention()(np.zeros(audio_shape, "f4"), np.zeros(visual_shape, "f4"))
    assert str(audio_shape) in str(error.value)
    assert str(visual_shape) in str(error.value)


def test_mismatch_is_caught_when_building_a_functional_model():
    with pytest.raises(ValueError, match=r"\(None, 8, 32\).*\(None, 8, 16\)"):
        CrossAttention()(keras.Input((8, 32)), keras.Input((8, 16)))


def test_serialization_round_trip_and_safe_mode_load(tmp_path):
    audio, visual, _ = _inputs(5)
    layer = CrossAttention(kernel_regularizer="l2", name="fusion")
    contract.assert_config_round_trip(layer)
    model = contract.wrap_layer(layer, [(STEPS, FEATURES)] * 2, return_attention_scores=True)
    restored = contract.assert_save_load_identical(model, [audio, visual], tmp_path)
    assert isinstance(restored.get_layer("fusion"), CrossAttention)
    assert restored.get_layer("fusion").get_config() == layer.get_config()


def test_trains_inside_a_functional_model():
    audio, visual, _ = _inputs(6)
    model = contract.wrap_layer(CrossAttention(), [(STEPS, FEATURES)] * 2)
    targets = [np.zeros_like(audio), np.zeros_like(visual)]
    contract.assert_one_training_step_moves_weights(model, [audio, visual], targets)


def test_mixed_precision_stays_finite_and_close():
    audio, visual, kernel = _inputs(7)
    reference = [np.asarray(t) for t in _layer_with_kernel(kernel)(audio, visual)]
    keras.config.set_dtype_policy("mixed_float16")
    layer = _layer_with_kernel(kernel)
    outputs = layer(audio, visual, return_attention_scores=True)
    assert layer.kernel.dtype == "float32"
    assert all(keras.backend.standardize_dtype(t.dtype) == "float16" for t in outputs)
    for got, want in zip(outputs[:2], reference):
        np.testing.assert_allclose(np.asarray(got, "float32"), want, atol=1e-2)


JAX_CHECK = """
import numpy as np, keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from emokeras.layers import CrossAttention, SelfAttention
from tests.numpy_references import cross_attention_paper, self_attention_paper
rng = np.random.default_rng(0)
audio, visual = rng.normal(size=(2, 2, 6, 5)).astype("float32")
kernel = rng.normal(scale=0.5, size=(5, 5)).astype("float32")
layer = CrossAttention(); layer.build(audio.shape, visual.shape); layer.kernel.assign(kernel)
mask = np.array([[True] * 6, [True] * 4 + [False] * 2])
outputs = layer(audio, visual, mask=mask, return_attention_scores=True)
for b, valid in ((0, 6), (1, 4)):
    refs = cross_attention_paper(audio[b, :valid].T.astype("float64"),
                                 visual[b, :valid].T.astype("float64"), kernel)
    np.testing.assert_allclose(np.asarray(outputs[0])[b, :valid], refs[0].T, atol=1e-5)
    np.testing.assert_allclose(np.asarray(outputs[1])[b, :valid], refs[1].T, atol=1e-5)
    np.testing.assert_allclose(np.asarray(outputs[2])[b, :valid, :valid], refs[2], atol=1e-5)
selfatt = SelfAttention(); selfatt.build(audio.shape); selfatt.kernel.assign(kernel)
ref, _ = self_attention_paper(audio[0].T.astype("float64"), kernel)
np.testing.assert_allclose(np.asarray(selfatt(audio))[0], ref.T, atol=1e-5)
# Trainable on JAX too: one fit step through the layer.
a_in, v_in = keras.Input((6, 5)), keras.Input((6, 5))
model = keras.Model([a_in, v_in], keras.layers.Concatenate()(list(CrossAttention()(a_in, v_in))))
model.compile(optimizer="sgd", loss="mse")
model.fit([audio, visual], np.zeros((2, 6, 10), "float32"), epochs=1, verbose=0)
print("jax ok")
"""


def test_runs_on_the_jax_backend():
    pytest.importorskip("jax", reason="install the [test] extra for the JAX check")
    root = pathlib.Path(__file__).resolve().parents[1]
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    result = subprocess.run(
        [sys.executable, "-c", JAX_CHECK],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "jax ok" in result.stdout


def test_mask_flows_through_a_functional_model():
    audio = keras.Input((STEPS, FEATURES))
    visual = keras.Input((STEPS, FEATURES))
    mask = keras.Input((STEPS,), dtype="bool")
    attended_audio, _ = CrossAttention()(audio, visual, mask=mask)
    model = keras.Model([audio, visual, mask], attended_audio)
    a, v, _ = _inputs(8)
    valid = np.ones((BATCH, STEPS), bool)
    valid[:, 3:] = False
    noisy = a.copy()
    noisy[:, 3:] = 9.0
    np.testing.assert_allclose(
        model.predict([a, v, valid], verbose=0)[:, :3],
        model.predict([noisy, v, valid], verbose=0)[:, :3],
        atol=1e-6,
    )
