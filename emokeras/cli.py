"""The `emokeras` command line. Subcommands import TensorFlow only when they
run, so `emokeras --help` answers at once."""

import argparse
import json
import sys


def _info(args):
    import keras
    import tensorflow as tf

    import emokeras

    report = {
        "emokeras": emokeras.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "devices": [device.name for device in tf.config.list_physical_devices()],
    }
    print(json.dumps(report, indent=2))
    return 0


def _summary(args):
    from emokeras.models import AVEmotionRegressor

    model = AVEmotionRegressor(
        fusion=args.fusion,
        visual_backbone=args.visual_backbone,
        targets=tuple(args.targets.split(",")),
        clips=args.clips,
        frames_per_clip=args.frames_per_clip,
        image_size=args.image_size,
    )
    model.summary(expand_nested=args.expand)
    return 0


def build_parser():
    from emokeras.choices import FUSIONS
    from emokeras.choices import VISUAL_BACKBONES

    parser = argparse.ArgumentParser(
        prog="emokeras",
        description="Audio-visual dimensional emotion recognition in Keras.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    info = commands.add_parser(
        "info",
        help="print versions, Keras backend and devices",
        description="Print versions, the Keras backend and the devices.",
        epilog="example: emokeras info",
    )
    info.set_defaults(run=_info)

    summary = commands.add_parser(
        "summary",
        help="print the layers of an audio-visual model",
        description="Build an audio-visual model and print its summary.",
        epilog=(
            "example: emokeras summary --fusion cross_attention "
            "--visual-backbone i3d --expand"
        ),
    )
    summary.add_argument("--fusion", choices=FUSIONS, default="cross_attention")
    summary.add_argument(
        "--visual-backbone", choices=VISUAL_BACKBONES, default="i3d"
    )
    summary.add_argument(
        "--targets", default="valence,arousal", help="comma-separated names"
    )
    summary.add_argument("--clips", type=int, default=8)
    summary.add_argument("--frames-per-clip", type=int, default=16)
    summary.add_argument("--image-size", type=int, default=224)
    summary.add_argument(
        "--expand", action="store_true", help="show the layers of sub-models"
    )
    summary.set_defaults(run=_summary)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"emokeras {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
