import keras

from emokeras.backbones.conv_bn_relu import ConvBNReLU
from emokeras.layers.log_mel_spectrogram import LogMelSpectrogram

# Five conv units (conv -> batch norm -> ReLU) on the (mel, frame) plane, after
# the authors' audio network: (kernel, strides, max pool after the unit).
# Pools are (size, stride), "SAME" padded so short clips still fit.
AUDIO_CNN_SPEC = (
    ((5, 5), (1, 2), ((4, 4), (3, 3))),
    ((5, 5), (1, 2), None),
    ((3, 3), (1, 1), ((2, 2), (2, 2))),
    ((5, 5), (1, 1), None),
    ((3, 3), (1, 1), None),
)


@keras.saving.register_keras_serializable(package="emokeras")
class AudioCNN(keras.Model):
    """The audio backbone: log-mel front end and a 5-conv 2D CNN -> features.

    A clip's waveform becomes a standardised 128 x 65 log-mel spectrogram
    (`LogMelSpectrogram`, inside the graph, so exported models take raw
    audio), then five conv units (64-128-256-512-1024 filters, batch norm,
    ReLU; max pooling after the first and third) and a global average pool
    give one feature vector per clip.

    Args:
        clip_samples: samples per clip (0.64 s at 16 kHz = 10240), or `None`
            for any length.
        sample_rate: sampling rate in Hz.
        filters: the five filter counts; the last is the feature size.
        num_mel_bins: mel bands of the front end.
        pooling: `"avg"` (default) or `"max"` global pooling, or `None` for
            the final feature map.
        **kwargs: `name`, `trainable`.

    Call arguments:
        inputs: `(batch, clip_samples)` float32 waveforms in [-1, 1].
        training: whether batch norm runs in training mode.

    Returns:
        `(batch, filters[-1])` clip features.

    Example:

    >>> audio_cnn = AudioCNN(filters=(8, 16, 16, 32, 32))
    >>> tuple(audio_cnn(keras.ops.zeros((2, 10240))).shape)
    (2, 32)
    """

    def __init__(
        self,
        clip_samples=10240,
        sample_rate=16000,
        filters=(64, 128, 256, 512, 1024),
        num_mel_bins=128,
        pooling="avg",
        **kwargs,
    ):
        filters = tuple(int(f) for f in filters)
        if len(filters) != len(AUDIO_CNN_SPEC):
            raise ValueError(
                f"AudioCNN has {len(AUDIO_CNN_SPEC)} conv units; pass as many "
                f"filter counts. Received: filters={filters}"
            )
        if pooling not in ("avg", "max", None):
            raise ValueError(f"pooling must be 'avg', 'max' or None. Received: {pooling!r}")
        inputs = keras.Input((clip_samples,), name="waveform")
        x = LogMelSpectrogram(sample_rate=sample_rate, num_mel_bins=num_mel_bins, name="log_mel")(inputs)
        for index, (count, (kernel_size, strides, pool)) in enumerate(zip(filters, AUDIO_CNN_SPEC), start=1):
            x = ConvBNReLU(count, kernel_size, strides=strides, rank=2, name=f"conv{index}")(x)
            if pool is not None:
                pool_size, pool_strides = pool
                x = keras.layers.MaxPooling2D(pool_size, strides=pool_strides, padding="same", name=f"pool{index}")(x)
        if pooling == "avg":
            x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        elif pooling == "max":
            x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
        super().__init__(inputs=inputs, outputs=x, **kwargs)
        self.clip_samples = clip_samples
        self.sample_rate = sample_rate
        self.filters = filters
        self.num_mel_bins = num_mel_bins
        self.pooling = pooling

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "clip_samples": self.clip_samples,
            "sample_rate": self.sample_rate,
            "filters": self.filters,
            "num_mel_bins": self.num_mel_bins,
            "pooling": self.pooling,
        }
