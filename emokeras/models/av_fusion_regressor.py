import keras

from emokeras.choices import FUSIONS
from emokeras.layers.cross_attention import CrossAttention
from emokeras.layers.missing_modalities import MissingModalities
from emokeras.layers.neighbour_context import NeighbourContext
from emokeras.layers.presence_routing import PresenceRouting
from emokeras.layers.self_attention import SelfAttention
from emokeras.losses.loss_by_presence_case import loss_by_presence_case
from emokeras.models.optional_inputs import with_optional_inputs

# Per-clip marks of the modalities really there, for `presence_marks` models.
PRESENCE_INPUTS = ("visual_present", "audio_present")


def check_fusion_arguments(fusion, targets, target_ranges):
    """Validates `fusion`, `targets` and `target_ranges`; returns the ranges
    as a `{target: (low, high)}` dict (default (-1, 1))."""
    if fusion not in FUSIONS:
        raise ValueError(f"Unknown fusion={fusion!r}. Allowed values: {', '.join(FUSIONS)}")
    if isinstance(targets, str):
        targets = (targets,)
    targets = tuple(targets)
    if not targets or len(set(targets)) != len(targets):
        raise ValueError(
            "targets must be a non-empty list of distinct names, e.g. "
            f"('valence', 'arousal'). Received: targets={targets}"
        )
    for target in targets:
        if not isinstance(target, str) or not target.isidentifier():
            raise ValueError(
                "Each target must be a name made of letters, digits and "
                f"underscores (it names an output). Received: {target!r}"
            )
    target_ranges = dict(target_ranges or {})
    unknown = set(target_ranges) - set(targets)
    if unknown:
        raise ValueError(f"target_ranges names targets that are not in targets={targets}: {sorted(unknown)}")
    ranges = {}
    for target in targets:
        low, high = target_ranges.get(target, (-1.0, 1.0))
        if not float(low) < float(high):
            raise ValueError(f"target_ranges[{target!r}] must be (low, high) with low < high. Received: {(low, high)}")
        ranges[target] = (float(low), float(high))
    return targets, ranges


@keras.saving.register_keras_serializable(package="emokeras")
class AVFusionRegressor(keras.Model):
    """Fusion and regression heads on per-clip features (features input).

    The part of the audio-visual model after the backbones: optional L2
    normalisation of each modality's clip features, a fusion, and one fully
    connected head per target applied to every clip (the paper's Dropout
    0.5 -> 512 tanh -> 256 tanh -> 1 tanh). `AVEmotionRegressor` contains one
    of these as `fusion_regressor`, so a regressor trained on cached features
    carries over to the raw-input model unchanged (`set_weights`).

    Fusions (the rows of the paper's Tables 1-2):
    - `"cross_attention"`: `CrossAttention`, then the attended visual and
      audio features concatenated (`[X_att,v ; X_att,a]`), the paper's model;
    - `"concat"`: visual and audio features concatenated;
    - `"lstm"`: concatenated, then an LSTM over the clips;
    - `"self_attention"`: concatenated, then `SelfAttention` over the clips;
    - `"audio_only"`, `"visual_only"`: one modality.

    Args:
        fusion: one of the fusions above.
        targets: output names, e.g. `("valence", "arousal")` or
            `("fatigue",)`.
        target_ranges: optional `{target: (low, high)}`; each head's tanh
            output is mapped onto its range (default (-1, 1); the paper's
            fatigue level is `(0, 10)`).
        clips: clips per window, `L`.
        visual_dim: visual feature size per clip.
        audio_dim: audio feature size per clip.
        l2_normalize: L2-normalise each modality's features first (paper).
        head_units: hidden layer sizes of each head.
        dropout_rate: dropout at the input of each head.
        lstm_units: LSTM size for `fusion="lstm"`.
        presence_marks: (fusions of both modalities) the model also takes
            `"visual_present"` / `"audio_present"` marks per clip and
            predicts each clip from what it has (`PresenceRouting`): a
            complete clip by a head on the fused features (an absent
            modality's features filled in from the window's clips that have
            it first, `MissingModalities`, so that the fusions that mix
            clips are not misled); a clip with the face only (the voice
            only) by the average of a head on its visual (audio) features
            alone and one on them with the voice's (face's)
            `NeighbourContext`; a clip with neither is masked. In training
            each case's heads are scored on every clip that has what they
            need (`emokeras.losses.loss_by_presence_case`), so the
            face-only heads learn from every face the visual-only model
            sees, the voice-only heads from every voice. Train it on data with the marks
            (`make_dataset(..., presence_marks=True)`; `modality_dropout`
            there hides a share of them).
        **kwargs: `name`, `trainable`.

    Call arguments:
        inputs: dict with `"visual_features"` `(batch, clips, visual_dim)`
            and/or `"audio_features"` `(batch, clips, audio_dim)` (only the
            modality used by a unimodal fusion), and optionally
            `"clip_mask"`: int `(batch, clips)`, 0 for the clips of a padded
            window that hold no real frame, 1 for the others. The fusions that mix clips
            (cross-attention, self-attention, LSTM) ignore masked clips, so
            the outputs at valid clips do not depend on them; outputs at
            masked clips are meaningless. With `presence_marks`,
            optionally `"visual_present"` / `"audio_present"`: int
            `(batch, clips)`, 1 where the face (the voice) is really there
            (default: both everywhere).

    Returns:
        Dict `{target: (batch, clips)}` float32 per-clip predictions.

    Example:

    >>> head = AVFusionRegressor(clips=4, visual_dim=32, audio_dim=32)
    >>> outputs = head({"visual_features": keras.ops.zeros((2, 4, 32)),
    ...                 "audio_features": keras.ops.zeros((2, 4, 32))})
    >>> tuple(outputs["valence"].shape)
    (2, 4)
    """

    def __init__(
        self,
        fusion="cross_attention",
        targets=("valence", "arousal"),
        target_ranges=None,
        clips=8,
        visual_dim=1024,
        audio_dim=1024,
        l2_normalize=True,
        head_units=(512, 256),
        dropout_rate=0.5,
        lstm_units=512,
        presence_marks=False,
        **kwargs,
    ):
        targets, ranges = check_fusion_arguments(fusion, targets, target_ranges)
        uses_visual = fusion != "audio_only"
        uses_audio = fusion != "visual_only"
        if presence_marks and not (uses_visual and uses_audio):
            raise ValueError(f"presence_marks needs a fusion of both modalities; fusion={fusion!r} reads one")
        inputs = {}
        if uses_visual:
            inputs["visual_features"] = keras.Input((clips, visual_dim), name="visual_features")
        if uses_audio:
            inputs["audio_features"] = keras.Input((clips, audio_dim), name="audio_features")
        features = dict(inputs)
        inputs["clip_mask"] = keras.Input((clips,), dtype="int32", name="clip_mask", optional=True)
        clip_mask = inputs["clip_mask"]
        if presence_marks:
            # Which modality each clip really has (default: both).
            for name in PRESENCE_INPUTS:
                inputs[name] = keras.Input((clips,), dtype="int32", name=name, optional=True)
            unfilled = dict(features)
            missing = MissingModalities(visual_dim, audio_dim, name="missing_modalities")
            features["visual_features"], features["audio_features"], clip_mask, presence = missing(
                features["visual_features"],
                features["audio_features"],
                inputs["visual_present"],
                inputs["audio_present"],
                clip_mask,
            )
        if l2_normalize:
            features = {
                key: keras.layers.UnitNormalization(axis=-1, name=f"{key}_l2")(x) for key, x in features.items()
            }
        fused = _fuse(fusion, features, lstm_units, clip_mask)
        if presence_marks:
            singles = _single_modality_inputs(features, unfilled, inputs, clip_mask, l2_normalize)
            cases = {
                target: _case_heads(fused, singles, target, ranges[target], clips, head_units, dropout_rate)
                for target in targets
            }
            outputs = {
                target: PresenceRouting(name=target, dtype="float32")(*cases[target], presence) for target in targets
            }
        else:
            outputs = {
                target: _regression_head(fused, target, ranges[target], clips, head_units, dropout_rate)
                for target in targets
            }
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.fusion = fusion
        self.targets = targets
        self.target_ranges = {t: list(r) for t, r in ranges.items()}
        self.clips = clips
        self.visual_dim = visual_dim
        self.audio_dim = audio_dim
        self.l2_normalize = l2_normalize
        self.head_units = tuple(head_units)
        self.dropout_rate = dropout_rate
        self.lstm_units = lstm_units
        self.presence_marks = bool(presence_marks)
        if presence_marks:
            # Every case's predictions for every clip, for the training loss:
            # the same layers, not an output (kept out of Keras' tracking).
            self.__dict__["_case_predictions"] = keras.Model(inputs, cases, name=f"{self.name}_cases")

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(self._with_defaults(inputs), *args, **kwargs)

    def _with_defaults(self, inputs):
        # A window without a clip mask is all real clips (with both
        # modalities, for a model that takes presence marks).
        return with_optional_inputs(inputs, ["clip_mask", *(PRESENCE_INPUTS if self.presence_marks else ())])

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not self.presence_marks or sample_weight is None:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        # Each case's heads scored on every clip that has what they need.
        cases = self._case_predictions(self._with_defaults(x), training=training)
        return loss_by_presence_case(
            lambda predictions, weights: super(AVFusionRegressor, self).compute_loss(
                x, y, predictions, weights, training
            ),
            x,
            sample_weight,
            tuple({target: cases[target][case] for target in self.targets} for case in range(3)),
        )

    def cross_attention_maps(self, features):
        """The cross-attention maps of a `fusion="cross_attention"` model.

        Args:
            features: `{"visual_features", "audio_features"}`, each
                `(batch, clips, dim)`, and optionally `"clip_mask"`.

        Returns:
            `(A_a, A_v)` NumPy arrays, each `(batch, L, L)` in the paper's
            orientation (`A[b, i, j]`: weight of clip `i` in the attended
            features of clip `j`; columns sum to one), computed by this
            model's own L2 normalisation and `CrossAttention` layer.
        """
        if self.fusion != "cross_attention":
            raise ValueError(f"attention maps need fusion='cross_attention'; this model has fusion={self.fusion!r}")
        visual, audio = features["visual_features"], features["audio_features"]
        if self.l2_normalize:
            visual = self.get_layer("visual_features_l2")(visual)
            audio = self.get_layer("audio_features_l2")(audio)
        _, _, audio_map, visual_map = self.get_layer("cross_attention")(
            audio, visual, mask=features.get("clip_mask"), return_attention_scores=True
        )
        return keras.ops.convert_to_numpy(audio_map), keras.ops.convert_to_numpy(visual_map)

    @classmethod
    def from_config(cls, config):
        return super().from_config(upgraded_config(config))

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "fusion": self.fusion,
            "targets": list(self.targets),
            "target_ranges": self.target_ranges,
            "clips": self.clips,
            "visual_dim": self.visual_dim,
            "audio_dim": self.audio_dim,
            "l2_normalize": self.l2_normalize,
            "head_units": list(self.head_units),
            "dropout_rate": self.dropout_rate,
            "lstm_units": self.lstm_units,
            "presence_marks": self.presence_marks,
        }


def upgraded_config(config):
    """A model config saved by an earlier version, for this one: its
    `modality_dropout` of 0 (no presence marks) is dropped; a model trained
    with modality dropout then (a placeholder for what is missing, one head
    per target) has no counterpart here and is refused."""
    config = dict(config)
    dropout = config.pop("modality_dropout", 0.0)
    if dropout:
        raise ValueError(
            f"this model was saved by an earlier emokeras with modality_dropout={dropout} (a placeholder for a "
            "missing face or voice and one head per target), which this version replaced by a prediction per case "
            f"(presence_marks); train it again with `--set modality_dropout={dropout}`"
        )
    return config


def _fuse(fusion, features, lstm_units, clip_mask):
    """The fused per-clip features; the fusions that mix clips take the mask
    (the others treat every clip on its own)."""
    if fusion == "audio_only":
        return features["audio_features"]
    if fusion == "visual_only":
        return features["visual_features"]
    visual, audio = features["visual_features"], features["audio_features"]
    if fusion == "cross_attention":
        attended_audio, attended_visual = CrossAttention(name="cross_attention")(audio, visual, mask=clip_mask)
        return keras.layers.Concatenate(name="fused")([attended_visual, attended_audio])
    concatenated = keras.layers.Concatenate(name="fused")([visual, audio])
    if fusion == "concat":
        return concatenated
    if fusion == "lstm":
        return keras.layers.LSTM(lstm_units, return_sequences=True, name="lstm")(concatenated, mask=clip_mask)
    return SelfAttention(name="self_attention")(concatenated, mask=clip_mask)


def _single_modality_inputs(features, unfilled, inputs, clip_mask, l2_normalize):
    """What the face-only and voice-only heads read: `{case: (alone,
    in_context)}`, the modality's own features, and those with the other
    modality's `NeighbourContext` (its features on the window's other clips,
    and how close the nearest is)."""
    contexts = {}
    for key, present in (("visual_features", "visual_present"), ("audio_features", "audio_present")):
        name = key.split("_")[0]
        layer = NeighbourContext(unfilled[key].shape[-1], name=f"{name}_context")
        context, closeness = layer(unfilled[key], inputs[present], clip_mask)
        if l2_normalize:
            context = keras.layers.UnitNormalization(axis=-1, name=f"{name}_context_l2")(context)
        contexts[key] = (context, closeness)
    singles = {}
    for case, own, other in (
        ("face", "visual_features", "audio_features"),
        ("voice", "audio_features", "visual_features"),
    ):
        in_context = keras.layers.Concatenate(name=f"{case}_in_context")([features[own], *contexts[other]])
        singles[case] = (features[own], in_context)
    return singles


def _case_heads(fused, singles, target, value_range, clips, head_units, dropout_rate):
    """`(both, face_only, voice_only)` predictions of every clip for one
    target: a head on the fused features, and for each modality the average
    of a head on that modality alone and a head on it in context (two views
    that err differently: the context helps where it is fresh and can
    mislead where it is stale)."""
    both = _regression_head(fused, f"{target}_both", value_range, clips, head_units, dropout_rate)
    single = []
    for case, (alone, in_context) in singles.items():
        heads = [
            _regression_head(alone, f"{target}_{case}_alone", value_range, clips, head_units, dropout_rate),
            _regression_head(in_context, f"{target}_{case}_in_context", value_range, clips, head_units, dropout_rate),
        ]
        single.append(keras.layers.Average(name=f"{target}_{case}_only", dtype="float32")(heads))
    return [both, *single]


def _regression_head(x, target, value_range, clips, head_units, dropout_rate):
    """Dropout -> Dense tanh ... -> Dense(1, tanh) per clip, mapped onto
    `value_range`, float32 output named `target`."""
    x = keras.layers.Dropout(dropout_rate, name=f"{target}_dropout")(x)
    for index, units in enumerate(head_units, start=1):
        x = keras.layers.Dense(units, activation="tanh", name=f"{target}_dense_{index}")(x)
    x = keras.layers.Dense(1, activation="tanh", name=f"{target}_output")(x)
    low, high = value_range
    per_clip = keras.layers.Reshape(
        (clips,), dtype="float32", name=target if (low, high) == (-1.0, 1.0) else f"{target}_tanh"
    )
    # The clip mask of a padded window reaches the output, as Keras masks do
    # (a (batch, clips) mask fits the (batch, clips) output).
    per_clip.supports_masking = True
    x = per_clip(x)
    if (low, high) == (-1.0, 1.0):
        return x
    return keras.layers.Rescaling(
        scale=(high - low) / 2.0,
        offset=(high + low) / 2.0,
        dtype="float32",
        name=target,
    )(x)
