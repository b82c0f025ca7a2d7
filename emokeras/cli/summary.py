"""`emokeras summary`: build an audio-visual model and print its layers."""

from emokeras.cli.arguments import given
from emokeras.cli.arguments import model_default


def add_parser(commands, name, summary):
    from emokeras.choices import FUSIONS
    from emokeras.choices import VISUAL_BACKBONES

    parser = commands.add_parser(
        name,
        help=summary,
        description="Build an audio-visual model and print its summary.",
        epilog="example: emokeras summary --fusion cross_attention --visual-backbone i3d --expand",
    )
    parser.add_argument("--fusion", choices=FUSIONS, help=f"default: {model_default('fusion')}")
    parser.add_argument(
        "--visual-backbone", choices=VISUAL_BACKBONES, help=f"default: {model_default('visual_backbone')}"
    )
    parser.add_argument("--targets", help=f"comma-separated names (default: {','.join(model_default('targets'))})")
    for flag in ("clips", "frames_per_clip", "image_size"):
        parser.add_argument(f"--{flag.replace('_', '-')}", type=int, help=f"default: {model_default(flag)}")
    parser.add_argument("--expand", action="store_true", help="show the layers of sub-models")
    parser.set_defaults(run=run)


def run(args):
    from emokeras.models import AVEmotionRegressor

    arguments = given(args, "fusion", "visual_backbone", "clips", "frames_per_clip", "image_size")
    if args.targets:
        arguments["targets"] = tuple(args.targets.split(","))
    AVEmotionRegressor(**arguments).summary(expand_nested=args.expand)
    return 0
