import keras
from keras import ops

from emokeras.layers.neighbour_context import closeness_weighted_average


@keras.saving.register_keras_serializable(package="emokeras")
class MissingModalities(keras.layers.Layer):
    """Per-clip features of a modality that is not there (no face found, no
    voice) filled in from the clips of the same window where it is there,
    and marks of what was filled, so that the fusion leans on what is
    really seen and heard.

    An absent clip's features become the average of that modality's present
    clips in the window, weighted by `exp(-distance / fill_reach)` (distance
    in clips): the nearest dominate, as the emotion a face or a voice shows
    changes slowly. Where the window has no present clip of the modality (or
    `fill_reach=0`), a learned placeholder stands in. The returned
    `presence` marks tell the model which features are real.

    A clip with neither modality is dropped from the clip mask (as padding
    is): the fusions that mix clips ignore it, and its output is not a
    prediction. The layer has no training behaviour of its own: modality
    dropout is done on the marks, in the data
    (`emokeras.data.modality_marks.with_modality_dropout`).

    Args:
        visual_dim: visual feature size.
        audio_dim: audio feature size.
        fill_reach: the distance, in clips, over which a present clip's
            weight in a fill falls by a factor e; 0 fills with the
            placeholders only.
        **kwargs: base layer arguments.

    Call arguments:
        visual: `(batch, L, visual_dim)` features.
        audio: `(batch, L, audio_dim)` features.
        visual_present: `(batch, L)` 1 where the face is there, or `None`
            (all there).
        audio_present: `(batch, L)` likewise for the voice.
        clip_mask: `(batch, L)` 1 for real clips, or `None`. Padding clips
            never serve as a fill.

    Returns:
        `(visual, audio, clip_mask, presence)`: the features with the fills,
        the clip mask without the clips that have neither modality (`None`
        when no mask and no marks were given), and float32 `(batch, L, 2)`
        marks of the real face and voice (ones when nothing was given).

    Example:

    >>> layer = MissingModalities(visual_dim=1, audio_dim=1)
    >>> visual = keras.ops.convert_to_tensor([[[1.0], [3.0], [5.0]]])
    >>> face, voice = keras.ops.array([[1, 0, 1]]), keras.ops.array([[1, 1, 0]])
    >>> filled, _, mask, presence = layer(visual, visual, face, voice, None)
    >>> [round(float(x), 4) for x in keras.ops.convert_to_numpy(filled)[0, :, 0]]
    [1.0, 3.0, 5.0]
    >>> keras.ops.convert_to_numpy(presence)[0].tolist()
    [[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]
    """

    def __init__(self, visual_dim, audio_dim, fill_reach=1.0, **kwargs):
        super().__init__(**kwargs)
        self.visual_dim = int(visual_dim)
        self.audio_dim = int(audio_dim)
        if fill_reach < 0:
            raise ValueError(f"fill_reach must be >= 0 (clips). Received: fill_reach={fill_reach!r}")
        self.fill_reach = float(fill_reach)
        self.visual_placeholder = self.add_weight(
            shape=(self.visual_dim,), initializer=keras.initializers.RandomNormal(stddev=0.1), name="visual_placeholder"
        )
        self.audio_placeholder = self.add_weight(
            shape=(self.audio_dim,), initializer=keras.initializers.RandomNormal(stddev=0.1), name="audio_placeholder"
        )

    def call(self, visual, audio, visual_present=None, audio_present=None, clip_mask=None):
        clips_shape = ops.shape(visual)[:2]
        if visual_present is None and audio_present is None:
            return visual, audio, clip_mask, ops.ones((*clips_shape, 2), "float32")
        visual_there = _present(visual_present, clips_shape)
        audio_there = _present(audio_present, clips_shape)
        # Neither modality: not a clip to predict.
        either = ops.cast(ops.logical_or(visual_there, audio_there), "int32")
        clip_mask = either if clip_mask is None else ops.cast(clip_mask, "int32") * either
        real = ops.cast(clip_mask, "int32") > 0
        visual = self._fill(visual, ops.logical_and(visual_there, real), visual_there, self.visual_placeholder)
        audio = self._fill(audio, ops.logical_and(audio_there, real), audio_there, self.audio_placeholder)
        presence = ops.cast(ops.stack([visual_there, audio_there], axis=-1), "float32")
        return visual, audio, clip_mask, presence

    def _fill(self, features, sources, there, placeholder):
        """`features` where `there`, else the closeness-weighted average of
        the `sources` clips, else the placeholder."""
        if self.fill_reach:
            fill, _ = closeness_weighted_average(features, sources, self.fill_reach, placeholder)
        else:
            fill = ops.broadcast_to(ops.cast(placeholder, "float32")[None, None], ops.shape(features))
        return ops.where(there[..., None], features, ops.cast(fill, features.dtype))

    def compute_output_shape(self, visual_shape, audio_shape, *args, **kwargs):
        clips_shape = tuple(visual_shape[:2])
        return visual_shape, audio_shape, clips_shape, clips_shape + (2,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "visual_dim": self.visual_dim,
                "audio_dim": self.audio_dim,
                "fill_reach": self.fill_reach,
            }
        )
        return config


def _present(marks, clips_shape):
    if marks is None:
        return ops.ones(clips_shape, "bool")
    return ops.cast(marks, "int32") > 0
