"""Independent NumPy versions of the paper's equations, written in the
paper's orientation (features x time), for tests to compare against."""

import numpy as np


def column_softmax(z):
    z = z - z.max(axis=0, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=0, keepdims=True)


def cross_attention_paper(x_a, x_v, w):
    """Equations (1)-(4) of Praveen et al. for one sample.

    x_a, x_v: K x L (columns are time steps); w: K x K.
    Returns X_att,a, X_att,v (K x L) and A_a, A_v (L x L).
    """
    z = x_a.T @ w @ x_v
    a_a = column_softmax(z)
    a_v = column_softmax(z.T)
    return np.tanh(x_a + x_a @ a_a), np.tanh(x_v + x_v @ a_v), a_a, a_v


def self_attention_paper(x, w):
    """The same equations with one sequence x (D x L) attending to itself."""
    a = column_softmax(x.T @ w @ x)
    return np.tanh(x + x @ a), a


def ccc(y_true, y_pred):
    """Concordance correlation coefficient, population statistics."""
    y_true = np.asarray(y_true, np.float64).ravel()
    y_pred = np.asarray(y_pred, np.float64).ravel()
    covariance = np.mean((y_true - y_true.mean()) * (y_pred - y_pred.mean()))
    return 2 * covariance / (y_true.var() + y_pred.var() + (y_true.mean() - y_pred.mean()) ** 2)


def hz_to_mel(hz):
    """HTK mel scale."""
    return 1127.0 * np.log1p(np.asarray(hz, np.float64) / 700.0)


def mel_filterbank(sample_rate, fft_length, num_mel_bins, min_freq, max_freq):
    """(fft_length // 2 + 1, num_mel_bins) triangular filters with unit peaks,
    laid out on the mel scale; the DC bin gets no weight."""
    bins_mel = hz_to_mel(np.linspace(0.0, sample_rate / 2, fft_length // 2 + 1))
    edges = np.linspace(hz_to_mel(min_freq), hz_to_mel(max_freq), num_mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (center - lower)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0] = 0.0
    return weights


def log_mel_spectrogram(
    waveform,
    sample_rate=16000,
    fft_length=1024,
    window_length=400,
    hop_length=160,
    num_mel_bins=128,
    min_freq=0.0,
    max_freq=8000.0,
    log_floor=1e-10,
):
    """Standardised log-mel spectrogram (num_mel_bins, frames) of one clip,
    computed frame by frame with NumPy / SciPy in float64."""
    from scipy.signal import get_window

    padded = np.pad(np.asarray(waveform, np.float64), fft_length // 2, mode="reflect")
    window = np.zeros(fft_length)
    offset = (fft_length - window_length) // 2
    window[offset : offset + window_length] = get_window("hann", window_length)
    frames = 1 + (len(padded) - fft_length) // hop_length
    power = np.stack(
        [np.abs(np.fft.rfft(padded[i * hop_length : i * hop_length + fft_length] * window)) ** 2 for i in range(frames)]
    )
    mel = power @ mel_filterbank(sample_rate, fft_length, num_mel_bins, min_freq, max_freq)
    log_mel = np.log(np.maximum(mel, log_floor)).T
    return (log_mel - log_mel.mean()) / log_mel.std()
