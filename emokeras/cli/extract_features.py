"""`emokeras extract-features`: a model's backbone features, cached per clip."""

import argparse

from emokeras.cli.arguments import default_of
from emokeras.cli.arguments import given
from emokeras.cli.arguments import parse_shard


def add_parser(commands, name, summary):
    from emokeras.data.features import extract_features

    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Compute per-clip visual and audio features of prepared recordings with "
            "the backbones of a saved audio-visual model (.keras), for training the "
            "fusion on cached features."
        ),
        epilog=(
            "example: emokeras extract-features model.keras --data data/prepared --out data/features\n"
            "on two machines sharing the folders:\n"
            "  emokeras extract-features model.keras --data data/prepared --out data/features --shard 1/2\n"
            "  emokeras extract-features model.keras --data data/prepared --out data/features --shard 2/2"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="a saved AVEmotionRegressor (.keras)")
    parser.add_argument("--data", required=True, help="a folder written by `emokeras prepare`")
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--batch-size", type=int, help=f"windows per call (default: {default_of(extract_features, 'batch_size')})"
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help=(
            "extract shard I of N of the recordings (as `prepare --shard`), so that N processes or "
            "machines share the work; shard 1 waits for the others' files, then writes the metadata"
        ),
    )
    parser.set_defaults(run=run)


def run(args):
    from emokeras.data.features import extract_features
    from emokeras.saving import load_model

    shard = parse_shard(args.shard) if args.shard else None
    model = load_model(args.model)
    written = extract_features(model, args.data, args.out, shard=shard, **given(args, "batch_size"))
    print(f"features of {sum(written.values())} recording(s) in {args.out}: {written}")
    return 0
