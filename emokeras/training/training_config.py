"""The typed training configuration: YAML files, named presets and
`key=value` overrides, checked with errors that name the key and the
allowed values. Library functions take flat keyword arguments; this is the
experiment boundary (`emokeras train`, `emokeras ablate`, `emokeras demo`).

Every default is read from where it is used, never written here again: the
model keys from `AVEmotionRegressor`'s signature, the window keys from
`WindowGeometry`, the label processing and batch from `make_dataset`, the
feature batch from `extract_features`. Only what is the run's own (epochs,
learning rates, schedule...) and the two deliberate departures from the
model's neutral defaults (start from Kinetics I3D weights, frozen) are
written in this file. Presets list only what differs from these defaults.
"""

import dataclasses
import pathlib

import yaml

from emokeras.choices import FUSIONS
from emokeras.choices import VISUAL_BACKBONES
from emokeras.data.dataset import make_dataset
from emokeras.data.features import extract_features
from emokeras.data.window_geometry import LAST_WINDOW_RULES
from emokeras.data.window_geometry import WindowGeometry
from emokeras.models.av_emotion_regressor import AVEmotionRegressor
from emokeras.signatures import signature_defaults

SCHEDULES = ("two_stage", "end_to_end")
LR_SCHEDULES = ("paper", "constant")
DISTRIBUTIONS = ("none", "mirrored", "multi_worker")


MODEL_DEFAULTS = signature_defaults(AVEmotionRegressor.__init__)
WINDOW_DEFAULTS = signature_defaults(WindowGeometry)
DATASET_DEFAULTS = signature_defaults(make_dataset)
FEATURE_DEFAULTS = signature_defaults(extract_features)


def _default(value):
    """A field defaulting to `value`; sequences become YAML-friendly lists."""
    if isinstance(value, (list, tuple)):
        return dataclasses.field(default_factory=lambda: list(value))
    return dataclasses.field(default=value)


# The `AVEmotionRegressor` arguments a run chooses (targets and their ranges
# come from the data, `training_data` from the run).
MODEL_KEYS = (
    "fusion",
    "visual_backbone",
    "visual_weights",
    "freeze_visual_backbone",
    "freeze_audio_backbone",
    "clips",
    "frames_per_clip",
    "image_size",
    "frame_rate",
    "sample_rate",
    "width_multiplier",
    "audio_filters",
    "head_units",
    "dropout_rate",
    "lstm_units",
    "l2_normalize",
)


@dataclasses.dataclass
class TrainingConfig:
    """Everything `emokeras train` needs; every field is a YAML key.

    Data: `data` (a folder written by `emokeras prepare`), `out` (the run
    folder: checkpoints, logs, the final `model.keras`).

    Model: the `AVEmotionRegressor` arguments of the same names (`MODEL_KEYS`);
    `visual_weights` is a catalog name (`rgb_scratch`, `rgb_imagenet`, ... see
    `emokeras weights`), a `.weights.h5` path, or null for random weights.

    Windows and labels: `stride` (frames between training windows; null =
    one clip), `last_window` and `label_delays` (the annotation delay in
    frames per target; paper: valence 58, arousal 68) as in `WindowGeometry`;
    `median_width` as in `make_dataset`.

    Training: `schedule` is `two_stage` (stage 1 trains each unimodal branch
    on raw windows, stage 2 trains fusion and heads on cached features with
    the backbones frozen; the paper's "2-stage") or `end_to_end` (the whole
    model on raw windows). `epochs` / `stage1_epochs` count epochs of the
    fusion (or end-to-end) stage and of each unimodal stage. `lr_schedule`
    `paper` = Adam `learning_rate`, multiplied by `lr_decay_factor` every
    `lr_decay_every` epochs after `lr_decay_start`. `mixed_precision`:
    float16 on GPUs (bfloat16 on CPUs, which lack float16 3D pooling).
    `distribution`: `mirrored` (all GPUs of this machine, or its logical
    CPUs) or `multi_worker` (machines listed in `TF_CONFIG`).
    `modality_dropout` (fused models): the share of training clips whose face
    or voice is hidden, as in `make_dataset`; above 0 the model takes
    presence marks (`AVEmotionRegressor(presence_marks=True)`).
    """

    data: str = ""
    out: str = "runs/emokeras"
    # Model.
    fusion: str = _default(MODEL_DEFAULTS["fusion"])
    visual_backbone: str = _default(MODEL_DEFAULTS["visual_backbone"])
    # A run starts from the Kinetics I3D and keeps it frozen (features are
    # then computed once), where the model alone defaults to random weights.
    visual_weights: str | None = "rgb_scratch"
    freeze_visual_backbone: bool = True
    freeze_audio_backbone: bool = _default(MODEL_DEFAULTS["freeze_audio_backbone"])
    clips: int = _default(MODEL_DEFAULTS["clips"])
    frames_per_clip: int = _default(MODEL_DEFAULTS["frames_per_clip"])
    image_size: int = _default(MODEL_DEFAULTS["image_size"])
    frame_rate: int = _default(MODEL_DEFAULTS["frame_rate"])
    sample_rate: int = _default(MODEL_DEFAULTS["sample_rate"])
    width_multiplier: float = _default(MODEL_DEFAULTS["width_multiplier"])
    audio_filters: list = _default(MODEL_DEFAULTS["audio_filters"])
    head_units: list = _default(MODEL_DEFAULTS["head_units"])
    dropout_rate: float = _default(MODEL_DEFAULTS["dropout_rate"])
    lstm_units: int = _default(MODEL_DEFAULTS["lstm_units"])
    l2_normalize: bool = _default(MODEL_DEFAULTS["l2_normalize"])
    # Windows and labels.
    stride: int | None = _default(WINDOW_DEFAULTS["stride"])
    last_window: str = _default(WINDOW_DEFAULTS["last_window"])
    label_delays: dict | int | None = _default(WINDOW_DEFAULTS["label_delays"])
    median_width: int = _default(DATASET_DEFAULTS["median_width"])
    # Training.
    modality_dropout: float = _default(DATASET_DEFAULTS["modality_dropout"])
    schedule: str = "two_stage"
    epochs: int = 60
    stage1_epochs: int = 10
    batch_size: int = _default(DATASET_DEFAULTS["batch_size"])
    learning_rate: float = 1e-4
    stage1_learning_rate: float = 1e-4
    lr_schedule: str = "paper"
    lr_decay_start: int = 15
    lr_decay_every: int = 2
    lr_decay_factor: float = 0.8
    seed: int = _default(DATASET_DEFAULTS["seed"])
    mixed_precision: bool = False
    distribution: str = "none"
    feature_batch_size: int = _default(FEATURE_DEFAULTS["batch_size"])

    def __post_init__(self):
        self.check()

    def check(self):
        """Raises ValueError naming the first bad key and what is allowed."""
        choices = {
            "fusion": FUSIONS,
            "visual_backbone": VISUAL_BACKBONES,
            "schedule": SCHEDULES,
            "lr_schedule": LR_SCHEDULES,
            "distribution": DISTRIBUTIONS,
            "last_window": LAST_WINDOW_RULES,
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"config key {key!r} is {getattr(self, key)!r}; allowed values: {', '.join(allowed)}")
        positive = (
            "clips",
            "frames_per_clip",
            "image_size",
            "frame_rate",
            "sample_rate",
            "epochs",
            "batch_size",
            "lr_decay_every",
            "feature_batch_size",
        )
        for key in positive:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"config key {key!r} must be a positive integer; received {value!r}")
        for key in ("stage1_epochs", "lr_decay_start"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"config key {key!r} must be an integer >= 0; received {value!r}")
        if self.median_width < 1 or self.median_width % 2 == 0:
            raise ValueError(
                f"config key 'median_width' must be an odd positive integer; received {self.median_width!r}"
            )
        for key in ("learning_rate", "stage1_learning_rate", "lr_decay_factor"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"config key {key!r} must be a positive number; received {value!r}")
        if not 0 <= self.dropout_rate < 1:
            raise ValueError(f"config key 'dropout_rate' must be in [0, 1); received {self.dropout_rate!r}")
        if not 0 <= self.modality_dropout < 1:
            raise ValueError(f"config key 'modality_dropout' must be in [0, 1); received {self.modality_dropout!r}")
        if self.modality_dropout and self.fusion in ("audio_only", "visual_only"):
            raise ValueError(
                f"config key 'modality_dropout' ({self.modality_dropout}) needs a fused model; fusion is "
                f"{self.fusion!r}: set modality_dropout=0"
            )
        try:
            self.window_geometry()
        except ValueError as error:
            raise ValueError(f"config keys stride / label_delays / rates: {error}") from None

    def to_dict(self):
        return dataclasses.asdict(self)

    def model_arguments(self):
        """The `AVEmotionRegressor` keyword arguments this run sets; a run
        with modality dropout trains a model that takes presence marks."""
        return {**{key: getattr(self, key) for key in MODEL_KEYS}, "presence_marks": self.modality_dropout > 0}

    def window_geometry(self):
        """The training windows."""
        return WindowGeometry(
            clips=self.clips,
            frames_per_clip=self.frames_per_clip,
            frame_rate=self.frame_rate,
            sample_rate=self.sample_rate,
            stride=self.stride,
            last_window=self.last_window,
            label_delays=self.label_delays,
        )


PRESETS = {
    # GUIDE section 1, where it departs from the defaults: ImageNet-inflated
    # I3D trained in stage 1, 20 unimodal epochs, labels median-filtered (3)
    # and shifted by the annotation delay, mixed precision.
    "paper": {
        "visual_weights": "rgb_imagenet",
        "freeze_visual_backbone": False,
        "stage1_epochs": 20,
        "median_width": 3,
        "label_delays": {"valence": 58, "arousal": 68},
        "mixed_precision": True,
    },
    # The built-in synthetic corpus on 2 CPU cores in minutes: 96 px crops,
    # the Kinetics I3D frozen (features extracted once), a slimmer audio CNN
    # (same 1024-d output) trained on non-overlapping windows at random
    # offsets.
    "demo": {
        "image_size": 96,
        "audio_filters": [16, 32, 64, 128, 1024],
        # Chosen on the dev split.
        "dropout_rate": 0.2,
        "epochs": 20,
        # A higher rate let a tanh head saturate (constant output) in
        # cross-attention runs.
        "learning_rate": 5e-4,
        "stage1_learning_rate": 1e-3,
        "lr_schedule": "constant",
        "stride": 128,
    },
}


def describe_keys():
    """`key (default)` for every config key, for `--help`."""
    defaults = TrainingConfig().to_dict()
    return ", ".join(f"{key} ({value!r})" for key, value in defaults.items())


def config_keys():
    return [field.name for field in dataclasses.fields(TrainingConfig)]


def parse_overrides(pairs):
    """`["epochs=3", "head_units=[64, 32]"]` -> dict; values are YAML."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes key=value (e.g. --set epochs=5); received {pair!r}")
        overrides[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return overrides


def load_config(path=None, preset=None, overrides=None):
    """Builds a `TrainingConfig`: defaults < preset < YAML file < overrides.

    Args:
        path: optional YAML file of `key: value` pairs (a `preset:` key in it
            chooses a preset too).
        preset: a name in `PRESETS`.
        overrides: dict of keys to set last (e.g. from `--set`).
    """
    values = {}
    from_file = {}
    if path is not None:
        path = pathlib.Path(path)
        try:
            from_file = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path} is not valid YAML: {error}") from None
        if not isinstance(from_file, dict):
            raise ValueError(f"{path} must hold `key: value` pairs; found {type(from_file).__name__}")
        preset = from_file.pop("preset", None) if preset is None else preset
        from_file.pop("preset", None)
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; allowed values: {', '.join(sorted(PRESETS))}")
        values.update(PRESETS[preset])
    values.update(from_file)
    values.update(overrides or {})
    known = set(config_keys())
    unknown = sorted(set(values) - known)
    if unknown:
        where = f" in {path}" if path is not None else ""
        raise ValueError(f"unknown config key(s) {unknown}{where}; allowed keys: {', '.join(sorted(known))}")
    return TrainingConfig(**values)


def write_config(config, path):
    """Writes the resolved config as YAML (atomically) beside a run."""
    from emokeras.atomic_write import write_text_atomically

    write_text_atomically(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
