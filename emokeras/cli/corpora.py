"""`emokeras corpora`: the corpus readers and the tree each expects."""


def add_parser(commands, name, summary):
    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "List the corpora `emokeras prepare --corpus NAME ROOT` reads, with the folder "
            "tree each expects under ROOT, its labels' units and how it is scored."
        ),
        epilog="example: emokeras corpora\n         emokeras corpora msp-podcast",
    )
    parser.add_argument("name", nargs="?", help="show one corpus only")
    parser.set_defaults(run=run)


def run(args):
    from emokeras.data.corpora import READERS
    from emokeras.data.corpora import corpus_module

    names = [args.name] if args.name else list(READERS)
    for name in names:
        module = corpus_module(name)
        summary = (module.__doc__ or "").strip().splitlines()[0]
        print(f"{name}: {summary}")
        print(f"  emokeras prepare --corpus {name} ROOT --out DIR")
        print("  " + module.TREE.replace("\n", "\n  "))
        print()
    return 0
