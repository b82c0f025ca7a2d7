"""`emokeras demo`: the whole method on the built-in synthetic corpus."""

import sys

from emokeras.cli.arguments import default_of
from emokeras.cli.arguments import given


def add_parser(commands, name, summary):
    from emokeras.demo import run_demo

    default = lambda flag: f"default: {default_of(run_demo, flag)}"
    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "synth -> prepare -> stage 1 (audio CNN) -> features (pretrained Kinetics I3D, "
            "frozen) -> stage 2 (cross-attention, concatenation with and without modality dropout, "
            "audio only, visual only) -> evaluate on unseen recordings (also where the face or the "
            "voice is missing) -> export for TF Serving -> predict an unseen "
            "recording with its plot. Resumable. The I3D weights are fetched once "
            "(`emokeras weights --get rgb_scratch`) and cached."
        ),
        epilog="example: emokeras demo --out demo",
    )
    parser.add_argument("--out", help=f"output folder ({default('out')})")
    parser.add_argument("--recordings", type=int, help=default("recordings"))
    parser.add_argument("--seconds", type=float, help=f"length of each recording ({default('seconds')})")
    parser.add_argument(
        "--test-fraction", type=float, help=f"share of the recordings held out for testing ({default('test_fraction')})"
    )
    parser.add_argument("--seed", type=int, help=default("seed"))
    parser.add_argument("--epochs", type=int, help="fusion-stage epochs (default: the demo preset)")
    parser.add_argument("--stage1-epochs", type=int, help="audio-stage epochs (default: the demo preset)")
    parser.add_argument("--batch-size", type=int, help="windows per batch (default: the demo preset)")
    parser.add_argument("--no-export", action="store_true", help="skip the TF Serving export")
    parser.set_defaults(run=run)


def run(args):
    from emokeras.demo import run_demo

    options = given(
        args, "out", "recordings", "seconds", "test_fraction", "seed", "epochs", "stage1_epochs", "batch_size"
    )
    try:
        run_demo(export=not args.no_export, **options)
    except RuntimeError as error:
        print(f"emokeras demo: {error}", file=sys.stderr)
        return 1
    return 0
