import keras
from keras import ops


def closeness_weighted_average(features, sources, reach, fallback, exclusion_radius=None):
    """For each clip `j` of a window, the average of `features` over the
    `sources` clips other than `j`, weighted by `exp(-|i - j| / reach)`;
    `fallback` where no source reaches the clip.

    Args:
        features: `(batch, L, dim)`.
        sources: bool `(batch, L)`, the clips that may contribute.
        reach: clips over which a source's weight falls by a factor e.
        fallback: `(dim,)`, e.g. a learned placeholder.
        exclusion_radius: optional `(batch, 1, L)`; the sources within
            this distance of clip `j` are left out of its average.

    Returns:
        `(average, nearest)`: `(batch, L, dim)` float32, and `(batch, L)`
        the largest weight of a source (`exp(-distance / reach)` of the
        nearest), 0 where none reached the clip.
    """
    clips = ops.shape(features)[1]
    positions = ops.cast(ops.arange(clips), "float32")
    distance = ops.abs(positions[:, None] - positions[None, :])
    closeness = ops.exp(-distance / reach) * (1.0 - ops.eye(clips))
    # weights[b, i, j]: how much source clip i gives to clip j.
    weights = closeness[None] * ops.cast(sources, "float32")[:, :, None]
    if exclusion_radius is not None:
        weights = weights * ops.cast(distance[None] > exclusion_radius, "float32")
    total = ops.sum(weights, axis=1)
    average = ops.einsum("bij,bik->bjk", weights, ops.cast(features, "float32"))
    average = average / ops.maximum(total, 1e-30)[..., None]
    # A far source's weight can underflow to 0: then no source.
    nearest = ops.max(weights, axis=1)
    average = ops.where((nearest > 0)[..., None], average, ops.cast(fallback, "float32")[None, None])
    return average, nearest


@keras.saving.register_keras_serializable(package="emokeras")
class NeighbourContext(keras.layers.Layer):
    """What the other clips of a window show of a modality, for each clip:
    the average of that modality's features over the window's other clips
    that have it, weighted by `exp(-distance / reach)` (a learned placeholder
    where none has it), and how close the nearest of them is.

    A clip without its voice is then predicted from its face and the voice
    of the clips around it (arousal changes slowly, and the face shows
    little of it), and the closeness tells the model how stale that voice
    is. The clip's own features never enter its context, so the context of
    a clip that has the modality is what it would be if the clip lost it;
    and in training each clip's context also leaves out the clips within a
    random distance of 0 to `exclusion` clips (uniform), as a clip in the
    middle of a gap of a few seconds sees only distant ones.

    Args:
        dim: feature size.
        reach: clips over which a clip's weight falls by a factor e.
        exclusion: the largest distance, in clips, left out in training.
        seed: seed of the training draws.
        **kwargs: base layer arguments.

    Call arguments:
        features: `(batch, L, dim)`.
        present: `(batch, L)` 1 where the clip has the modality, or `None`
            (everywhere).
        clip_mask: `(batch, L)` 1 for real clips, or `None`; padding is
            never a source.
        training: draw the exclusions.

    Returns:
        `(context, closeness)`: float32 `(batch, L, dim)` and `(batch, L,
        1)`, `exp(-distance / reach)` of the nearest source, 0 where none.

    Example:

    >>> layer = NeighbourContext(dim=1)
    >>> context, closeness = layer(keras.ops.convert_to_tensor([[[1.0], [3.0], [9.0]]]), None, None)
    >>> [round(float(x), 3) for x in keras.ops.convert_to_numpy(context)[0, :, 0]]
    [4.614, 5.0, 2.462]
    """

    def __init__(self, dim, reach=1.0, exclusion=4, seed=None, **kwargs):
        super().__init__(**kwargs)
        if reach <= 0:
            raise ValueError(f"reach must be > 0 (clips). Received: reach={reach!r}")
        if int(exclusion) != exclusion or exclusion < 0:
            raise ValueError(f"exclusion must be a whole number of clips >= 0. Received: exclusion={exclusion!r}")
        self.dim = int(dim)
        self.reach = float(reach)
        self.exclusion = int(exclusion)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.placeholder = self.add_weight(
            shape=(self.dim,), initializer=keras.initializers.RandomNormal(stddev=0.1), name="placeholder"
        )

    def call(self, features, present=None, clip_mask=None, training=None):
        clips_shape = ops.shape(features)[:2]
        sources = ops.ones(clips_shape, "bool") if present is None else ops.cast(present, "int32") > 0
        if clip_mask is not None:
            sources = ops.logical_and(sources, ops.cast(clip_mask, "int32") > 0)
        radius = None
        if training and self.exclusion:
            draw = keras.random.uniform((clips_shape[0], 1, clips_shape[1]), seed=self.seed_generator)
            radius = ops.floor(draw * (self.exclusion + 1))
        context, nearest = closeness_weighted_average(features, sources, self.reach, self.placeholder, radius)
        return context, nearest[..., None]

    def compute_output_shape(self, features_shape, *args, **kwargs):
        return tuple(features_shape), tuple(features_shape[:2]) + (1,)

    def get_config(self):
        config = super().get_config()
        config.update({"dim": self.dim, "reach": self.reach, "exclusion": self.exclusion, "seed": self.seed})
        return config
