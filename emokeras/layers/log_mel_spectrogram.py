import keras
from keras import ops


@keras.saving.register_keras_serializable(package="emokeras")
class LogMelSpectrogram(keras.layers.Layer):
    """Waveform -> standardised log-mel spectrogram, inside the graph.

    The audio front end of the paper: 16 kHz audio, an STFT with a 400-sample
    (25 ms) periodic Hann window centred in a 1024-point FFT, hop 160
    (10 ms), reflect padding of `fft_length // 2` at both ends (so 0.64 s,
    10240 samples, gives 65 frames), power spectrum, 128 mel bands (HTK mel
    scale, triangles as `keras.layers.MelSpectrogram`), natural log, then
    each spectrogram standardised to zero mean and unit variance.

    The STFT and mel filterbank are `keras.layers.MelSpectrogram`'s; this
    layer adds the log and the per-spectrogram standardisation, and always
    computes in float32 (FFTs have no float16 kernel), also under mixed
    precision.

    Args:
        sample_rate: sampling rate of the input in Hz.
        fft_length: FFT size.
        window_length: analysis window length in samples.
        hop_length: hop between frames in samples.
        num_mel_bins: number of mel bands.
        min_freq: lowest mel band edge in Hz.
        max_freq: highest mel band edge in Hz; `None` means `sample_rate / 2`.
        log_floor: power values are clipped below to this before the log, so
            digital silence gives a finite spectrogram (and, after
            standardisation, zeros: spectrograms whose log values spread less
            than 1e-3 are returned as zeros rather than NaN).
        standardize: z-score each spectrogram over all its bins and frames.
        channels_axis: if `True`, append a channel axis so that the output
            feeds a 2D CNN directly.
        **kwargs: base layer arguments.

    Call arguments:
        waveform: `(batch, samples)` float audio in [-1, 1].

    Returns:
        `(batch, num_mel_bins, frames)` (plus a trailing channel axis of 1 when
        `channels_axis=True`), `frames = 1 + samples // hop_length`.

    Example:

    >>> waveform = keras.random.uniform((2, 10240), -1.0, 1.0)
    >>> tuple(LogMelSpectrogram()(waveform).shape)
    (2, 128, 65, 1)
    """

    def __init__(
        self,
        sample_rate=16000,
        fft_length=1024,
        window_length=400,
        hop_length=160,
        num_mel_bins=128,
        min_freq=0.0,
        max_freq=None,
        log_floor=1e-10,
        standardize=True,
        channels_axis=True,
        **kwargs,
    ):
        # FFTs run in float32 whatever the global policy says.
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.sample_rate = sample_rate
        self.fft_length = fft_length
        self.window_length = window_length
        self.hop_length = hop_length
        self.num_mel_bins = num_mel_bins
        self.min_freq = min_freq
        self.max_freq = max_freq
        self.log_floor = log_floor
        self.standardize = standardize
        self.channels_axis = channels_axis
        self.mel_spectrogram = keras.layers.MelSpectrogram(
            fft_length=fft_length,
            sequence_stride=hop_length,
            sequence_length=window_length,
            window="hann",
            sampling_rate=sample_rate,
            num_mel_bins=num_mel_bins,
            min_freq=min_freq,
            max_freq=max_freq if max_freq is not None else sample_rate / 2,
            power_to_db=False,
            mag_exp=2.0,
            dtype="float32",
            name="mel_spectrogram",
        )

    def build(self, waveform_shape):
        if len(waveform_shape) != 2:
            raise ValueError(
                "LogMelSpectrogram expects a batch of mono waveforms "
                f"(batch, samples). Received: shape={tuple(waveform_shape)}"
            )
        self.mel_spectrogram.build(waveform_shape)

    def call(self, waveform):
        power = self.mel_spectrogram(ops.cast(waveform, "float32"))
        log_mel = ops.log(ops.maximum(power, self.log_floor))
        if self.standardize:
            centred = log_mel - ops.mean(log_mel, axis=(1, 2), keepdims=True)
            std = ops.std(log_mel, axis=(1, 2), keepdims=True)
            # A (near) constant spectrogram, e.g. digital silence, has no
            # spread to normalise: it becomes zeros rather than NaN or noise.
            is_flat = std < 1e-3
            log_mel = ops.where(is_flat, 0.0, centred / ops.where(is_flat, 1.0, std))
        if self.channels_axis:
            log_mel = log_mel[..., None]
        return log_mel

    def compute_output_shape(self, waveform_shape):
        samples = waveform_shape[1]
        frames = None if samples is None else 1 + samples // self.hop_length
        shape = (waveform_shape[0], self.num_mel_bins, frames)
        return shape + (1,) if self.channels_axis else shape

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        config.update(
            {
                "sample_rate": self.sample_rate,
                "fft_length": self.fft_length,
                "window_length": self.window_length,
                "hop_length": self.hop_length,
                "num_mel_bins": self.num_mel_bins,
                "min_freq": self.min_freq,
                "max_freq": self.max_freq,
                "log_floor": self.log_floor,
                "standardize": self.standardize,
                "channels_axis": self.channels_axis,
            }
        )
        return config
