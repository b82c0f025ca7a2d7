"""`emokeras ablate`: the paper's Table 1/2 rows on the same data."""

from emokeras.cli.arguments import add_config_arguments
from emokeras.cli.arguments import training_config


def add_parser(commands, name, summary):
    from emokeras.training.ablation import ROW_KEYS

    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Train and evaluate the paper's rows (2D CNN + concatenation, 2D CNN + LSTM, "
            "I3D + concatenation, I3D + self-attention, I3D + cross-attention, audio only, "
            "visual only) with one config, and write ablation.md and ablation.csv. Rows with "
            "the same backbone share stage 1 and the feature cache."
        ),
        epilog=(
            "example: emokeras ablate --preset demo --data demo/prepared --out runs/ablation "
            "--rows i3d_concat,i3d_cross_attention"
        ),
    )
    add_config_arguments(parser)
    parser.add_argument("--rows", help="comma-separated subset of: " + ", ".join(ROW_KEYS))
    parser.set_defaults(run=run)


def run(args):
    from emokeras.training.ablation import ROW_KEYS
    from emokeras.training.ablation import ablate

    rows = args.rows.split(",") if args.rows else ROW_KEYS
    _, markdown_path, csv_path = ablate(training_config(args), rows=rows)
    print(markdown_path.read_text())
    print(f"wrote {markdown_path} and {csv_path}")
    return 0
