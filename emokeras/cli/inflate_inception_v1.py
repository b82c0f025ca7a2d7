"""`emokeras inflate-inception-v1`: ImageNet Inception-v1 -> I3D."""


def add_parser(commands, name, summary):
    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Load a TF-Slim inception_v1 checkpoint and inflate it to I3D "
            "(each 2D kernel repeated over time and divided by its length)."
        ),
        epilog="example: emokeras inflate-inception-v1 inception_v1.ckpt i3d_inflated.weights.h5",
    )
    parser.add_argument("source")
    parser.add_argument("output", help="a path ending in .weights.h5")
    parser.add_argument("--overwrite", action="store_true")
    parser.set_defaults(run=run)


def run(args):
    from emokeras.backbones import I3D
    from emokeras.backbones import InceptionV1
    from emokeras.weights import inflate_2d_to_3d
    from emokeras.weights import load_inception_v1_weights
    from emokeras.weights import save_weights_atomically

    source = InceptionV1(include_top=False)
    load_inception_v1_weights(source, args.source)
    target = I3D(include_top=False, frames=None)
    inflate_2d_to_3d(source, target)
    output = save_weights_atomically(target, args.output, overwrite=args.overwrite)
    print(f"wrote {output} (I3D without the top: load with I3D(include_top=False, ...))")
    return 0
