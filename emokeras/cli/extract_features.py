"""`emokeras extract-features`: a model's backbone features, cached per clip."""

from emokeras.cli.arguments import default_of
from emokeras.cli.arguments import given


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
        epilog="example: emokeras extract-features model.keras --data data/prepared --out data/features",
    )
    parser.add_argument("model", help="a saved AVEmotionRegressor (.keras)")
    parser.add_argument("--data", required=True, help="a folder written by `emokeras prepare`")
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--batch-size", type=int, help=f"windows per call (default: {default_of(extract_features, 'batch_size')})"
    )
    parser.set_defaults(run=run)


def run(args):
    from emokeras.data.features import extract_features
    from emokeras.saving import load_model

    model = load_model(args.model)
    written = extract_features(model, args.data, args.out, **given(args, "batch_size"))
    print(f"features of {sum(written.values())} recording(s) in {args.out}: {written}")
    return 0
