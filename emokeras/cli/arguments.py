"""What the commands share: defaults shown in `--help` from the
signatures that own them, flags left unset (None) so that those defaults
apply, and the training-config flags of `train` and `ablate`."""

from emokeras.signatures import signature_defaults


def default_of(function, name):
    """`function`'s default for argument `name`, for help texts."""
    return signature_defaults(function)[name]


def model_default(name):
    """`AVEmotionRegressor`'s default for argument `name`."""
    from emokeras.models import AVEmotionRegressor

    return default_of(AVEmotionRegressor.__init__, name)


def given(args, *names, rename=None):
    """`{name: value}` of the flags the user set (not None); `rename` maps a
    flag's name to the argument name it fills."""
    rename = rename or {}
    return {rename.get(name, name): getattr(args, name) for name in names if getattr(args, name) is not None}


def add_config_arguments(command):
    """`--config`, `--preset`, `--set`, `--data`, `--out` (train, ablate)."""
    from emokeras.training.training_config import PRESETS

    command.add_argument("--config", help="a YAML file of config keys (see `emokeras train --help`)")
    command.add_argument("--preset", choices=sorted(PRESETS), help="start from a named preset")
    command.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override one config key (YAML value), e.g. --set epochs=5; repeatable",
    )
    command.add_argument("--data", help="prepared data folder (config key `data`)")
    command.add_argument("--out", help="run folder (config key `out`)")


def training_config(args):
    """The `TrainingConfig` of `--config`, `--preset`, `--set`, `--data`,
    `--out`; a run needs data."""
    from emokeras.training.training_config import load_config
    from emokeras.training.training_config import parse_overrides

    overrides = parse_overrides(args.set or [])
    overrides.update(given(args, "data", "out"))
    config = load_config(args.config, preset=args.preset, overrides=overrides)
    if not config.data:
        raise ValueError(
            "no data: give --data PREPARED (a folder written by `emokeras prepare`) or `data:` in the config"
        )
    return config


def parse_shard(text):
    """`"2/4"` -> `(2, 4)`."""
    try:
        index, count = (int(value) for value in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r} is not I/N (e.g. 1/2 on the first of two machines)") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text!r}: I must be from 1 to N")
    return index, count
