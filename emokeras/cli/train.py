"""`emokeras train`: a TrainingConfig -> a trained model (`model.keras`)."""

import argparse

from emokeras.cli.arguments import add_config_arguments
from emokeras.cli.arguments import training_config


def add_parser(commands, name, summary):
    from emokeras.training.training_config import describe_keys

    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Train from prepared data (`emokeras prepare`) with the CCC loss and Adam, then "
            "score the model on the test split (evaluation.json / .md). "
            "Configuration: defaults < --preset < --config YAML < --set KEY=VALUE. "
            "Keys (default): " + describe_keys() + ". "
            "A killed run resumes from its last finished epoch when the same command is "
            "run again; the best epoch by validation CCC is kept; logs in CSV and TensorBoard."
        ),
        epilog=(
            "examples:\n  emokeras train --preset demo --data demo/prepared --out runs/demo\n"
            "  emokeras train --preset paper --data data/recola --out runs/paper --set distribution=mirrored\n"
            "  emokeras train --config run.yaml --set epochs=5 --set fusion=concat"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(parser)
    parser.set_defaults(run=run)


def run(args):
    from emokeras.training.trainer import train

    train(training_config(args))
    return 0
