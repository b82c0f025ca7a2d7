import keras
import numpy as np
import pytest

from emokeras.data import load_audio
from emokeras.layers import LogMelSpectrogram
from tests import contract
from tests.numpy_references import hz_to_mel
from tests.numpy_references import log_mel_spectrogram

CLIP = 10240  # 0.64 s at 16 kHz


def test_paper_clip_gives_128_by_65():
    layer = LogMelSpectrogram()
    outputs = layer(np.zeros((2, CLIP), "float32") + 0.1)
    assert tuple(outputs.shape) == (2, 128, 65, 1)
    assert layer.compute_output_shape((2, CLIP)) == (2, 128, 65, 1)


def test_matches_independent_numpy_on_real_crema_d_audio(shared_file):
    waveform = load_audio(shared_file("real_media/crema_d/1001_DFA_ANG_XX.flv"))
    # Three clips: speech onset, middle, and the end of the sentence.
    starts = [0, len(waveform) // 2 - CLIP // 2, len(waveform) - CLIP]
    clips = np.stack([waveform[s : s + CLIP] for s in starts])
    assert np.abs(clips).max() > 0.05, "expected speech in the test clips"
    ours = np.asarray(LogMelSpectrogram(channels_axis=False)(clips))
    for clip, got in zip(clips, ours):
        expected = log_mel_spectrogram(clip)
        assert expected.shape == (128, 65)
        # float32 FFT round-off shows only in the quietest bins (|z| ~ 4):
        # typical bins agree to ~1e-6, every bin to 1e-3 relative + absolute.
        assert np.median(np.abs(got - expected)) < 1e-5
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)
        assert abs(got.mean()) < 1e-5 and abs(got.std() - 1.0) < 1e-4


def test_pure_tone_peaks_in_the_band_of_its_frequency():
    sample_rate, frequency = 16000, 1000.0
    t = np.arange(CLIP) / sample_rate
    tone = (0.5 * np.sin(2 * np.pi * frequency * t)).astype("float32")
    spectrogram = np.asarray(LogMelSpectrogram(channels_axis=False)(tone[None]))[0]
    band = int(np.argmax(spectrogram[:, 32]))
    centres = np.linspace(hz_to_mel(0.0), hz_to_mel(8000.0), 130)[1:-1]
    assert abs(centres[band] - hz_to_mel(frequency)) <= centres[1] - centres[0]


def test_silence_gives_zeros_not_nan():
    outputs = np.asarray(LogMelSpectrogram()(np.zeros((1, CLIP), "float32")))
    np.testing.assert_array_equal(outputs, 0.0)


def test_loudness_does_not_change_the_standardised_spectrogram():
    rng = np.random.default_rng(0)
    clip = rng.normal(scale=0.1, size=(1, CLIP)).astype("float32")
    layer = LogMelSpectrogram()
    np.testing.assert_allclose(np.asarray(layer(clip)), np.asarray(layer(clip * 4.0)), atol=1e-4)


def test_computes_in_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    layer = LogMelSpectrogram()
    outputs = layer(np.random.default_rng(1).normal(size=(1, CLIP)).astype("float32"))
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
    assert np.all(np.isfinite(np.asarray(outputs)))


def test_rejects_multichannel_input():
    with pytest.raises(ValueError, match=r"\(batch, samples\)"):
        LogMelSpectrogram()(np.zeros((1, CLIP, 2), "float32"))


def test_serialization_round_trip(tmp_path):
    layer = LogMelSpectrogram(num_mel_bins=64, hop_length=320, name="front_end")
    contract.assert_config_round_trip(layer)
    model = contract.wrap_layer(layer, [(CLIP,)])
    clip = np.random.default_rng(2).normal(size=(2, CLIP)).astype("float32")
    contract.assert_save_load_identical(model, clip, tmp_path)
