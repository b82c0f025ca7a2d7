"""`emokeras synth`: the built-in synthetic audio-visual corpus."""

from emokeras.cli.arguments import default_of
from emokeras.cli.arguments import given


def add_parser(commands, name, summary):
    from emokeras.data.synthetic_corpus import write_synthetic_corpus

    defaults = lambda flag: f"default: {default_of(write_synthetic_corpus, flag)}"
    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Write real media files (H.264 + AAC mp4) of a rendered face whose "
            "expression follows a valence trace and a voice whose loudness, pitch "
            "and tempo follow an arousal trace, with stretches where one modality "
            "is missing; per-frame labels (CSV, 25 Hz) and a manifest for "
            "`emokeras prepare` (the faces are already cropped: --no-face-crop)."
        ),
        epilog="example: emokeras synth --out data/synth --recordings 10 --seconds 60 --seed 0",
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--recordings", type=int, help=defaults("recordings"))
    parser.add_argument("--seconds", type=float, help=defaults("seconds"))
    parser.add_argument("--seed", type=int, help=defaults("seed"))
    parser.add_argument("--image-size", type=int, help=defaults("image_size"))
    parser.set_defaults(run=run)


def run(args):
    from emokeras.data.synthetic_corpus import write_synthetic_corpus

    manifest = write_synthetic_corpus(args.out, **given(args, "recordings", "seconds", "seed", "image_size"))
    print(
        f"wrote the synthetic corpus to {args.out}; manifest: {manifest}\n"
        f"next: emokeras prepare {manifest} --out PREPARED --no-face-crop"
    )
    return 0
