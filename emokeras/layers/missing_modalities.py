import keras
from keras import ops


@keras.saving.register_keras_serializable(package="emokeras")
class MissingModalities(keras.layers.Layer):
    """Per-clip features of a modality that is not there (no face found, no
    voice) replaced by a learned placeholder, so that the fusion leans on the
    other modality instead of on a stale crop or on silence; and, in
    training, one modality of a share of the clips hidden at random
    (modality dropout), which teaches the placeholders and the fusion to
    cope.

    A clip with neither modality is dropped from the clip mask (as padding
    is): the fusions that mix clips ignore it, and its output is not a
    prediction. Dropout never hides a clip's only modality.

    Args:
        visual_dim: visual feature size.
        audio_dim: audio feature size.
        dropout_rate: share of clips that lose one modality in training,
            half of them the face and half the voice.
        seed: seed of the dropout.
        **kwargs: base layer arguments.

    Call arguments:
        visual: `(batch, L, visual_dim)` features.
        audio: `(batch, L, audio_dim)` features.
        visual_present: `(batch, L)` 1 where the face is there, or `None`
            (all there).
        audio_present: `(batch, L)` likewise for the voice.
        clip_mask: `(batch, L)` 1 for real clips, or `None`.
        training: apply the dropout.

    Returns:
        `(visual, audio, clip_mask)`: the features with placeholders, and the
        clip mask without the clips that have neither modality (`None` when
        no mask and no marks were given).

    Example:

    >>> layer = MissingModalities(visual_dim=4, audio_dim=3)
    >>> visual, audio = keras.ops.ones((1, 2, 4)), keras.ops.ones((1, 2, 3))
    >>> _, _, mask = layer(visual, audio, keras.ops.convert_to_tensor([[1, 0]]),
    ...                    keras.ops.convert_to_tensor([[1, 0]]), None)
    >>> keras.ops.convert_to_numpy(mask).tolist()
    [[1, 0]]
    """

    def __init__(self, visual_dim, audio_dim, dropout_rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= dropout_rate < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1). Received: dropout_rate={dropout_rate!r}")
        self.visual_dim = int(visual_dim)
        self.audio_dim = int(audio_dim)
        self.dropout_rate = float(dropout_rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.visual_placeholder = self.add_weight(
            shape=(self.visual_dim,), initializer=keras.initializers.RandomNormal(stddev=0.1), name="visual_placeholder"
        )
        self.audio_placeholder = self.add_weight(
            shape=(self.audio_dim,), initializer=keras.initializers.RandomNormal(stddev=0.1), name="audio_placeholder"
        )

    def call(self, visual, audio, visual_present=None, audio_present=None, clip_mask=None, training=None):
        if visual_present is None and audio_present is None and not (training and self.dropout_rate):
            return visual, audio, clip_mask
        clips_shape = ops.shape(visual)[:2]
        visual_there = _present(visual_present, clips_shape)
        audio_there = _present(audio_present, clips_shape)
        # Neither modality: not a clip to predict (before dropout, which
        # never takes a clip's last modality).
        either = ops.cast(ops.logical_or(visual_there, audio_there), "int32")
        clip_mask = either if clip_mask is None else ops.cast(clip_mask, "int32") * either
        if training and self.dropout_rate:
            draw = keras.random.uniform(clips_shape, seed=self.seed_generator)
            hide_visual = ops.logical_and(draw < self.dropout_rate / 2, audio_there)
            hide_audio = ops.logical_and(
                ops.logical_and(draw >= self.dropout_rate / 2, draw < self.dropout_rate), visual_there
            )
            visual_there = ops.logical_and(visual_there, ops.logical_not(hide_visual))
            audio_there = ops.logical_and(audio_there, ops.logical_not(hide_audio))
        placeholder = ops.cast(self.visual_placeholder, visual.dtype)
        visual = ops.where(visual_there[..., None], visual, placeholder)
        placeholder = ops.cast(self.audio_placeholder, audio.dtype)
        audio = ops.where(audio_there[..., None], audio, placeholder)
        return visual, audio, clip_mask

    def compute_output_shape(self, visual_shape, audio_shape, *args, **kwargs):
        return visual_shape, audio_shape, tuple(visual_shape[:2])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "visual_dim": self.visual_dim,
                "audio_dim": self.audio_dim,
                "dropout_rate": self.dropout_rate,
                "seed": self.seed,
            }
        )
        return config


def _present(marks, clips_shape):
    if marks is None:
        return ops.ones(clips_shape, "bool")
    return ops.cast(marks, "int32") > 0
