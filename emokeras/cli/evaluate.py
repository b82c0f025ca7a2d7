"""`emokeras evaluate`: CCC, PCC and RMSE per target, per recording and overall."""

from emokeras.cli.arguments import default_of
from emokeras.cli.arguments import given


def add_parser(commands, name, summary):
    from emokeras.data.window_geometry import LAST_WINDOW_RULES
    from emokeras.evaluation.evaluate import evaluate_model

    default = lambda flag: f"default: {default_of(evaluate_model, flag)}"
    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Predict every window of a split, map the clip predictions back onto frames "
            "(the annotation rate), and score CCC, PCC and RMSE per target, per recording "
            "and on all recordings concatenated; then the same after AVEC-style "
            "post-processing (median filter, delay, bias, scale) fitted on the dev split only. "
            "Labels are processed as the model's training data was (its data contract); "
            "--median-width and --label-delays override that. "
            "Writes evaluation.json and evaluation.md."
        ),
        epilog="example: emokeras evaluate runs/demo/model.keras --data demo/prepared --out runs/demo",
    )
    parser.add_argument("model", help="a saved AVEmotionRegressor (.keras)")
    parser.add_argument("--data", required=True, help="prepared data folder")
    parser.add_argument("--features", help="features cached from this model's backbones (skips running them)")
    parser.add_argument("--out", default=".", help="where the report goes (default: the current folder)")
    parser.add_argument("--split", help=default("test_split"))
    parser.add_argument("--dev-split", help=f"the split post-processing is fitted on ({default('dev_split')})")
    parser.add_argument("--median-width", type=int, help="label median filter (default: as in training)")
    parser.add_argument(
        "--label-delays",
        help="annotation delays in frames, e.g. valence=58,arousal=68, or 0 for none (default: as in training)",
    )
    parser.add_argument("--stride", type=int, help="frames between windows (default: one clip)")
    parser.add_argument("--last-window", choices=LAST_WINDOW_RULES, help=default("last_window"))
    parser.add_argument("--batch-size", type=int, help=default("batch_size"))
    parser.add_argument("--no-postprocessing", action="store_true")
    parser.set_defaults(run=run)


def parse_delays(text):
    """`"valence=58,arousal=68"` -> dict; `"0"` -> 0 (no delay)."""
    if text.strip().isdigit():
        return int(text)
    delays = {}
    for pair in text.split(","):
        target, sep, frames = pair.partition("=")
        if not sep or not frames.strip().isdigit():
            raise ValueError(f"--label-delays takes target=frames pairs, e.g. valence=58,arousal=68; received {text!r}")
        delays[target.strip()] = int(frames)
    return delays


def run(args):
    from emokeras.evaluation.evaluate import evaluate_model
    from emokeras.evaluation.evaluate import format_table
    from emokeras.evaluation.evaluate import write_report
    from emokeras.saving import load_model

    names = ("median_width", "stride", "last_window", "batch_size", "split", "dev_split")
    options = given(args, *names, rename={"split": "test_split"})
    if args.label_delays is not None:
        options["label_delays"] = parse_delays(args.label_delays)
    report = evaluate_model(
        load_model(args.model, compile=False),
        args.data,
        features_dir=args.features,
        postprocess=not args.no_postprocessing,
        **options,
    )
    json_path, markdown_path = write_report(report, args.out)
    print(format_table(report, "raw"))
    if "postprocessed" in report:
        print("\npost-processed (fitted on the dev split):")
        print(format_table(report, "postprocessed"))
    print(f"\nwrote {json_path} and {markdown_path}")
    return 0
