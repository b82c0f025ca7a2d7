"""`emokeras weights`: the pretrained visual weights, listed or fetched."""

import sys


def add_parser(commands, name, summary):
    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Without options: what pretrained I3D weights exist and how to get "
            "each. With --get NAME: the path of the converted weights in the "
            "cache, downloading and converting them first where possible."
        ),
        epilog="example: emokeras weights --get rgb_scratch",
    )
    parser.add_argument("--get", metavar="NAME", help="e.g. rgb_scratch")
    parser.add_argument("--source", help="convert this already downloaded checkpoint instead of downloading")
    parser.add_argument("--cache-dir", help="default: $EMOKERAS_CACHE or ~/.cache/emokeras")
    parser.set_defaults(run=run)


def run(args):
    from emokeras.weights import cached_i3d_weights
    from emokeras.weights import describe_weight_sources

    if args.get:
        try:
            path = cached_i3d_weights(args.get, cache_dir=args.cache_dir, source=args.source)
        except RuntimeError as error:
            print(f"emokeras weights: {error}", file=sys.stderr)
            return 1
        print(path)
        return 0
    print(describe_weight_sources(args.cache_dir))
    return 0
