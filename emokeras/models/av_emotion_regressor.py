import warnings

import keras

from emokeras.backbones.audio_cnn import AudioCNN
from emokeras.backbones.i3d import I3D
from emokeras.backbones.inception_v1 import InceptionV1
from emokeras.choices import VISUAL_BACKBONES
from emokeras.data.window_geometry import WindowGeometry
from emokeras.layers.clip_mask import ClipMask
from emokeras.layers.fold_clips import FoldClips
from emokeras.layers.unfold_clips import UnfoldClips
from emokeras.layers.window_padding import WindowPadding
from emokeras.losses.loss_by_presence_case import loss_by_presence_case
from emokeras.models.av_fusion_regressor import PRESENCE_INPUTS
from emokeras.models.av_fusion_regressor import AVFusionRegressor
from emokeras.models.av_fusion_regressor import check_fusion_arguments
from emokeras.models.av_fusion_regressor import upgraded_config
from emokeras.models.optional_inputs import with_optional_inputs


@keras.saving.register_keras_serializable(package="emokeras")
class AVEmotionRegressor(keras.Model):
    """Audio-visual dimensional emotion regressor (Praveen et al., FG 2021).

    One window of face video and the audio of the same time span go in;
    per-clip predictions for every target come out. The window is cut into
    `clips` clips of `frames_per_clip` frames (paper: 8 x 16 at 25 fps =
    5.12 s) by reshaping time into the batch. Each video clip goes through
    the visual backbone (I3D, or a 2D Inception-v1 per frame averaged over
    the clip), each 0.64 s of audio through the log-mel front end and the
    audio CNN, giving `(batch, clips, 1024)` per modality; then
    `AVFusionRegressor` fuses them and regresses every target.

    Sub-models: `visual_encoder` and `audio_encoder` (window ->
    `(batch, clips, features)`, what a feature cache stores),
    `visual_backbone`, `audio_backbone` (per clip) and `fusion_regressor` (the
    features-input form, sharing its weights with this model).

    Args:
        fusion: `"cross_attention"` (default), `"concat"`, `"lstm"`,
            `"self_attention"`, `"audio_only"` or `"visual_only"`.
        visual_backbone: `"i3d"` or `"cnn2d"`.
        targets: output names, e.g. `("valence", "arousal")`.
        target_ranges: optional `{target: (low, high)}`, default (-1, 1).
        clips: clips per window, `L`.
        frames_per_clip: frames per clip, `T`.
        image_size: face crop height and width in pixels.
        frame_rate: video frames per second.
        sample_rate: audio samples per second.
        l2_normalize: L2-normalise features before fusion (paper).
        head_units: hidden sizes of each regression head.
        dropout_rate: dropout at the input of each head.
        lstm_units: LSTM size for `fusion="lstm"`.
        width_multiplier: channel scale of the visual backbone (1.0 = the
            real network; smaller for tiny test models).
        audio_filters: the audio CNN's five filter counts; the last must equal
            the visual feature size (`1024 * width_multiplier`) for the
            attention fusions.
        freeze_visual_backbone: make the visual backbone non-trainable (batch
            norm then also runs in inference mode).
        freeze_audio_backbone: same for the audio backbone.
        visual_weights: optional `.weights.h5` of the visual backbone (e.g.
            converted Kinetics I3D weights).
        training_data: what the model was trained on, recorded by
            `emokeras train` so that evaluation, prediction and serving treat
            new data alike: a dict with any of `median_width`, `label_delays`
            (the label processing), `face_crop` (whether the crops came from
            the face detector), `stride`, `last_window` (the training
            windows), `unit` and `scoring` (how the corpus is evaluated:
            `"frame"` or `"utterance"`; `"all"` or `"per_group"`). See
            `data_contract`.
        presence_marks: (fused models) the model also takes per-clip
            `visual_present` / `audio_present` marks (a face found, a voice
            heard) and predicts each clip from what it has, a clip with
            neither masked; see `AVFusionRegressor`. Trained end to end,
            each clip is scored in its own case (scoring every case's heads
            on every clip, as `AVFusionRegressor` does in the two-stage
            schedule, would run the backbones twice).
        **kwargs: `name`, `trainable`.

    Call arguments:
        inputs: dict with `"video"`: `(batch, clips * frames_per_clip,
            image_size, image_size, 3)` RGB face crops, uint8 or float in
            [0, 255] (scaled to [-1, 1] inside), and `"audio"`:
            `(batch, clips * samples_per_clip)` float32 mono at
            `sample_rate`, covering the same time span. Unimodal fusions take
            only their modality. Optionally `"valid_frames"`: int `(batch,)`,
            the real frames of each window (a recording or tail shorter than
            a window is padded at the end); the padded part's content is
            replaced (the last real frame repeated, silent audio) and clips
            with no real frame are masked in the fusion, so outputs at valid
            clips do not depend on the padding. Absent: every frame is real.

    Returns:
        Dict `{target: (batch, clips)}` float32 per-clip predictions.

    Example:

    >>> model = AVEmotionRegressor(clips=2, frames_per_clip=8, image_size=32,
    ...     width_multiplier=1 / 16, audio_filters=(4, 8, 8, 16, 64),
    ...     head_units=(16,))
    >>> outputs = model({"video": keras.ops.zeros((1, 16, 32, 32, 3)),
    ...                  "audio": keras.ops.zeros((1, 10240))})
    >>> tuple(outputs["arousal"].shape)
    (1, 2)
    """

    def __init__(
        self,
        fusion="cross_attention",
        visual_backbone="i3d",
        targets=("valence", "arousal"),
        target_ranges=None,
        clips=8,
        frames_per_clip=16,
        image_size=224,
        frame_rate=25,
        sample_rate=16000,
        l2_normalize=True,
        head_units=(512, 256),
        dropout_rate=0.5,
        lstm_units=512,
        width_multiplier=1.0,
        audio_filters=(64, 128, 256, 512, 1024),
        freeze_visual_backbone=False,
        freeze_audio_backbone=False,
        visual_weights=None,
        training_data=None,
        presence_marks=False,
        **kwargs,
    ):
        targets, ranges = check_fusion_arguments(fusion, targets, target_ranges)
        training_data = dict(training_data or {})
        unknown = sorted(set(training_data) - set(TRAINING_DATA_KEYS))
        if unknown:
            raise ValueError(
                f"training_data takes the keys {', '.join(TRAINING_DATA_KEYS)}. Received unknown keys: {unknown}"
            )
        if visual_backbone not in VISUAL_BACKBONES:
            raise ValueError(
                f"Unknown visual_backbone={visual_backbone!r}. Allowed values: {', '.join(VISUAL_BACKBONES)}"
            )
        geometry = WindowGeometry(clips, frames_per_clip, frame_rate, sample_rate)
        clip_samples = geometry.samples_per_clip
        audio_filters = tuple(int(f) for f in audio_filters)
        inputs = {}
        features = {}
        visual_encoder = audio_encoder = None
        valid_frames = keras.Input((), dtype="int32", name="valid_frames", optional=True)
        if fusion != "audio_only":
            inputs["video"] = keras.Input((clips * frames_per_clip, image_size, image_size, 3), name="video")
            visual_encoder = _visual_encoder(
                visual_backbone,
                clips,
                frames_per_clip,
                image_size,
                width_multiplier,
                visual_weights,
            )
            video = WindowPadding(fill="repeat_last", name="video_padding")(inputs["video"], valid_frames)
            features["visual_features"] = visual_encoder(video)
        if fusion != "visual_only":
            inputs["audio"] = keras.Input((clips * clip_samples,), name="audio")
            audio_encoder = _audio_encoder(clips, clip_samples, sample_rate, audio_filters)
            audio = WindowPadding(fill="zeros", steps_per_frame=geometry.samples_per_frame, name="audio_padding")(
                inputs["audio"], valid_frames
            )
            features["audio_features"] = audio_encoder(audio)
        features["clip_mask"] = ClipMask(clips, frames_per_clip, name="clip_mask")(valid_frames)
        inputs["valid_frames"] = valid_frames
        if presence_marks:
            for name in PRESENCE_INPUTS:
                inputs[name] = features[name] = keras.Input((clips,), dtype="int32", name=name, optional=True)
        fusion_regressor = AVFusionRegressor(
            fusion=fusion,
            targets=targets,
            target_ranges=ranges,
            clips=clips,
            visual_dim=visual_encoder.output.shape[-1] if visual_encoder else None,
            audio_dim=audio_filters[-1],
            l2_normalize=l2_normalize,
            head_units=head_units,
            dropout_rate=dropout_rate,
            lstm_units=lstm_units,
            presence_marks=presence_marks,
            name="fusion_regressor",
        )
        outputs = fusion_regressor(features)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.fusion_regressor = fusion_regressor
        self.visual_encoder = visual_encoder
        self.audio_encoder = audio_encoder
        self.visual_backbone = _backbone_of(visual_encoder, "visual_backbone", freeze_visual_backbone)
        self.audio_backbone = _backbone_of(audio_encoder, "audio_backbone", freeze_audio_backbone)
        self.fusion = fusion
        self.visual_backbone_name = visual_backbone
        self.targets = targets
        self.target_ranges = {t: list(r) for t, r in ranges.items()}
        self.clips = clips
        self.frames_per_clip = frames_per_clip
        self.image_size = image_size
        self.frame_rate = frame_rate
        self.sample_rate = sample_rate
        self.samples_per_clip = clip_samples
        self.l2_normalize = l2_normalize
        self.head_units = tuple(head_units)
        self.dropout_rate = dropout_rate
        self.lstm_units = lstm_units
        self.width_multiplier = width_multiplier
        self.audio_filters = audio_filters
        self.freeze_visual_backbone = freeze_visual_backbone
        self.freeze_audio_backbone = freeze_audio_backbone
        self.training_data = training_data
        self.presence_marks = bool(presence_marks)

    def __call__(self, inputs, *args, **kwargs):
        # A window without `valid_frames` is all real frames (with both
        # modalities, for a model that takes presence marks).
        optional = ["valid_frames", *(PRESENCE_INPUTS if self.presence_marks else ())]
        return super().__call__(with_optional_inputs(inputs, optional), *args, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not self.presence_marks or sample_weight is None:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        # Each clip scored in its own case: scoring every case on every clip,
        # as `AVFusionRegressor` does, would run the backbones twice.
        return loss_by_presence_case(
            lambda predictions, weights: super(AVEmotionRegressor, self).compute_loss(
                x, y, predictions, weights, training
            ),
            x,
            sample_weight,
            y_pred,
        )

    def encode_clips(self, windows):
        """Per-clip features of raw windows, exactly as this model computes
        them (padding replaced, then the encoders): `{"visual_features",
        "audio_features"}` (those of its modalities), each `(batch, clips,
        dim)`, and `"clip_mask"` (or None). What a feature cache stores."""
        valid = windows.get("valid_frames")
        features = {"clip_mask": self.get_layer("clip_mask")(valid)}
        if self.visual_encoder is not None:
            video = self.get_layer("video_padding")(windows["video"], valid)
            features["visual_features"] = self.visual_encoder(video, training=False)
        if self.audio_encoder is not None:
            audio = self.get_layer("audio_padding")(windows["audio"], valid)
            features["audio_features"] = self.audio_encoder(audio, training=False)
        return features

    @property
    def data_contract(self):
        """What data this model takes, as a JSON-able dict: the window
        geometry (`clips`, `frames_per_clip`, `frame_rate`, `sample_rate`,
        `samples_per_clip`), `image_size`, the `inputs` it reads, `targets`
        and `target_ranges`, and `training_data` (see the argument). Stored
        in the `.keras` file (through the config) and exported beside the
        SavedModel."""
        return {
            "clips": self.clips,
            "frames_per_clip": self.frames_per_clip,
            "frame_rate": self.frame_rate,
            "sample_rate": self.sample_rate,
            "samples_per_clip": self.samples_per_clip,
            "image_size": self.image_size,
            "inputs": [name for name in ("video", "audio") if name in self.input],
            # Shorter windows are padded at the end and say how many frames
            # are real (`valid_frames`); a recording needs one clip.
            "min_frames": self.frames_per_clip,
            "targets": list(self.targets),
            "target_ranges": self.target_ranges,
            "training_data": dict(self.training_data),
            # Whether it takes per-clip `visual_present` / `audio_present`.
            "presence_marks": self.presence_marks,
        }

    def window_geometry(self, **options):
        """The `WindowGeometry` of this model's windows, with the label
        delays it was trained with; `options` (`stride`, `last_window`,
        `label_delays`) override."""
        return geometry_of_contract(self.data_contract, **options)

    def cross_attention_maps(self, windows):
        """The cross-attention maps `(A_a, A_v)` for a batch of raw windows
        (`{"video", "audio"[, "valid_frames"]}`); see
        `AVFusionRegressor.cross_attention_maps`."""
        # A model without cross-attention is refused before features are needed.
        features = self.encode_clips(windows) if self.fusion == "cross_attention" else None
        return self.fusion_regressor.cross_attention_maps(features)

    @classmethod
    def from_config(cls, config):
        return super().from_config(upgraded_config(config))

    def get_config(self):
        # `visual_weights` is not kept: a saved model carries its weights.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "fusion": self.fusion,
            "visual_backbone": self.visual_backbone_name,
            "targets": list(self.targets),
            "target_ranges": self.target_ranges,
            "clips": self.clips,
            "frames_per_clip": self.frames_per_clip,
            "image_size": self.image_size,
            "frame_rate": self.frame_rate,
            "sample_rate": self.sample_rate,
            "l2_normalize": self.l2_normalize,
            "head_units": list(self.head_units),
            "dropout_rate": self.dropout_rate,
            "lstm_units": self.lstm_units,
            "width_multiplier": self.width_multiplier,
            "audio_filters": list(self.audio_filters),
            "freeze_visual_backbone": self.freeze_visual_backbone,
            "freeze_audio_backbone": self.freeze_audio_backbone,
            "training_data": dict(self.training_data),
            "presence_marks": self.presence_marks,
        }


# The keys of `training_data`, each the name of the data option it records.
TRAINING_DATA_KEYS = ("median_width", "label_delays", "face_crop", "stride", "last_window", "unit", "scoring")


def training_settings(contract, **overrides):
    """The data settings a model was trained with (its contract's
    `training_data`), with `overrides` replacing them; `None` means not
    given. An override that contradicts training is warned about: the model
    then sees data unlike its training data.

    Example:

    >>> training_settings({"training_data": {"median_width": 3}}, median_width=None)
    {'median_width': 3}
    """
    recorded = contract.get("training_data", {})
    settings = dict(recorded)
    for name, value in overrides.items():
        if value is None:
            continue
        if name in recorded and recorded[name] != value:
            warnings.warn(
                f"{name}={value!r} overrides the {recorded[name]!r} the model was trained with",
                stacklevel=2,
            )
        settings[name] = value
    return settings


def geometry_of_contract(contract, **options):
    """The `WindowGeometry` a data contract describes (the training windows'
    label delays included); `options` override."""
    training = contract.get("training_data", {})
    settings = {"label_delays": training.get("label_delays"), **options}
    return WindowGeometry(
        clips=contract["clips"],
        frames_per_clip=contract["frames_per_clip"],
        frame_rate=contract["frame_rate"],
        sample_rate=contract["sample_rate"],
        **settings,
    )


def _visual_encoder(visual_backbone, clips, frames_per_clip, image_size, width_multiplier, weights):
    """Video window `(batch, clips * T, H, W, 3)` in [0, 255] ->
    `(batch, clips, features)`."""
    video = keras.Input((clips * frames_per_clip, image_size, image_size, 3), name="video")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="video_scaling")(video)
    if visual_backbone == "i3d":
        x = FoldClips(clips, name="video_clips")(x)
        backbone = I3D(
            include_top=False,
            pooling="avg",
            frames=frames_per_clip,
            image_size=image_size,
            width_multiplier=width_multiplier,
            weights=weights,
            name="visual_backbone",
        )
        x = backbone(x)
    else:
        # Every frame through the 2D network, then the mean over each clip.
        x = FoldClips(clips * frames_per_clip, name="video_frames")(x)
        x = keras.layers.Reshape((image_size, image_size, 3), name="frames")(x)
        backbone = InceptionV1(
            include_top=False,
            pooling="avg",
            image_size=image_size,
            width_multiplier=width_multiplier,
            weights=weights,
            name="visual_backbone",
        )
        x = backbone(x)
        x = UnfoldClips(frames_per_clip, name="frame_features")(x)
        x = keras.layers.GlobalAveragePooling1D(name="clip_average")(x)
    features = UnfoldClips(clips, name="visual_features")(x)
    return keras.Model(video, features, name="visual_encoder")


def _audio_encoder(clips, clip_samples, sample_rate, audio_filters):
    """Audio window `(batch, clips * samples)` -> `(batch, clips, features)`."""
    audio = keras.Input((clips * clip_samples,), name="audio")
    x = FoldClips(clips, name="audio_clips")(audio)
    x = AudioCNN(
        clip_samples=clip_samples,
        sample_rate=sample_rate,
        filters=audio_filters,
        name="audio_backbone",
    )(x)
    features = UnfoldClips(clips, name="audio_features")(x)
    return keras.Model(audio, features, name="audio_encoder")


def _backbone_of(encoder, name, freeze):
    """The backbone inside an encoder (None without one), frozen if asked."""
    if encoder is None:
        return None
    backbone = encoder.get_layer(name)
    if freeze:
        backbone.trainable = False
    return backbone


def build_av_model(**kwargs):
    """Builds an `AVEmotionRegressor`; takes the same keyword arguments.

    Example:

    >>> model = build_av_model(fusion="cross_attention",
    ...                        targets=("valence", "arousal"))  # doctest: +SKIP
    """
    return AVEmotionRegressor(**kwargs)
