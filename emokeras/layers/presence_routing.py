import keras
from keras import ops


@keras.saving.register_keras_serializable(package="emokeras")
class PresenceRouting(keras.layers.Layer):
    """Each clip's prediction from the head made for what the clip has: the
    fused head where the face and the voice are both there, the face-only
    head where the voice is missing, the voice-only head where the face is.

    A head of its own per case means the one that speaks for a clip without
    a voice does not share its units with the complete clips' reliance on
    the voice.

    Call arguments:
        both: `(batch, clips)` predictions of the fused head.
        face_only: `(batch, clips)` predictions of the face-only head.
        voice_only: `(batch, clips)` predictions of the voice-only head.
        presence: `(batch, clips, 2)` marks of the face and the voice (1 or
            0), as `MissingModalities` returns them.
        mask: Keras masks of the inputs; the first one (the clip mask
            reaching `both`) is kept.

    Returns:
        `(batch, clips)`: `both` where both marks are 1, else `face_only`
        where the face is there, else `voice_only` (a clip with neither is
        masked and its value meaningless).

    Example:

    >>> routing = PresenceRouting()
    >>> presence = keras.ops.convert_to_tensor([[[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]])
    >>> out = routing(keras.ops.zeros((1, 3)), keras.ops.ones((1, 3)), 2 * keras.ops.ones((1, 3)), presence)
    >>> keras.ops.convert_to_numpy(out).tolist()
    [[0.0, 1.0, 2.0]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, both, face_only, voice_only, presence, mask=None):
        face = presence[..., 0] > 0.5
        voice = presence[..., 1] > 0.5
        return ops.where(ops.logical_and(face, voice), both, ops.where(face, face_only, voice_only))

    def compute_mask(self, both, previous_mask=None):
        # Keras passes the first input and its mask: the clip mask.
        if isinstance(previous_mask, (list, tuple)):
            return previous_mask[0]
        return previous_mask

    def compute_output_shape(self, both_shape, *args):
        return tuple(both_shape)
