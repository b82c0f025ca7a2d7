"""`emokeras prepare`: recordings -> face crops, audio and labels in
TFRecord shards."""

import argparse
import sys

from emokeras.cli.arguments import default_of
from emokeras.cli.arguments import given
from emokeras.cli.arguments import model_default
from emokeras.cli.arguments import parse_shard


def add_parser(commands, name, summary):
    from emokeras.data import prepare_recordings
    from emokeras.data.corpora import read_corpus

    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Turn recordings into training data: frames resampled to one clock, "
            "face crops (JPEG), mono audio and per-frame labels, one TFRecord "
            "shard per recording, plus report.json. Resumable: finished recordings "
            "are skipped on a re-run. The MANIFEST is a CSV with columns "
            "recording_id,video,audio,labels,split (audio empty = the video's own "
            "track; labels = a per-frame CSV with `time` and one column per target, "
            "or empty when extra columns named after targets hold one value per "
            "recording; optional columns video_frame_rate, face_side, group, face_marks). Or a corpus "
            "in its own layout: --corpus NAME ROOT (see `emokeras corpora`)."
        ),
        epilog=(
            "examples:\n  emokeras prepare manifest.csv --out data/prepared\n"
            "  emokeras prepare --corpus msp-podcast MSP-PODCAST/ --out data/msp\n"
            "  emokeras prepare --corpus recola RECOLA/ --out data/recola --skip-bad"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("manifest", nargs="?", help="manifest CSV")
    parser.add_argument(
        "--corpus",
        nargs=2,
        metavar=("NAME", "ROOT"),
        help="a corpus in its own layout instead of a manifest (names: `emokeras corpora`)",
    )
    parser.add_argument("--recola", metavar="ROOT", help="the same as --corpus recola ROOT")
    parser.add_argument(
        "--split-seed",
        type=int,
        help="seed of the speaker-independent split of corpora without official splits "
        f"(default: {default_of(read_corpus, 'seed')})",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--targets", help="comma-separated target names (default: from the labels)")
    parser.add_argument(
        "--target-ranges",
        metavar="T=LOW:HIGH,...",
        help="the labels' scale per target, e.g. valence=1:7,arousal=1:7 (default: a corpus's own; "
        "else -1:1); the model's heads span it and predict in these units",
    )
    for flag in ("frame_rate", "sample_rate", "image_size"):
        parser.add_argument(
            f"--{flag.replace('_', '-')}", type=int, help=f"default: {model_default(flag)}, the model's"
        )
    parser.add_argument(
        "--min-frames",
        type=int,
        help=f"shortest recording kept (default: one clip, {model_default('frames_per_clip')} frames); "
        "a recording shorter than a window is padded into one",
    )
    parser.add_argument(
        "--max-media-cut",
        type=float,
        help="largest share of a recording's video or audio that may be cut because the labels or the "
        f"other medium end earlier (default: {default_of(prepare_recordings, 'max_media_cut')}; 1 accepts any)",
    )
    parser.add_argument("--no-face-crop", action="store_true", help="videos are already face crops")
    parser.add_argument(
        "--detect-every",
        type=int,
        help="run the face detector every N frames (faster; boxes carry over; default: "
        f"{default_of(prepare_recordings, 'detect_every')})",
    )
    parser.add_argument("--allow-missing-labels", action="store_true", help="mask NaN labels instead of failing")
    parser.add_argument(
        "--silence-for-missing-audio",
        action="store_true",
        help="use silence (with a warning) for videos without an audio stream",
    )
    parser.add_argument("--workers", type=int, help="parallel processes (default: CPU count)")
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="prepare only share I of N (1-based) into OUT, for N machines preparing one corpus "
        "without coordination: disjoint recordings, one report.shard-I-of-N.json each, read together",
    )
    parser.add_argument("--skip-bad", action="store_true", help="exit 0 even if some recordings fail")
    parser.set_defaults(run=run)


def parse_target_ranges(text):
    """`"valence=1:7,arousal=1:7"` -> `{"valence": (1.0, 7.0), ...}`."""
    ranges = {}
    for item in text.split(","):
        try:
            target, bounds = item.split("=")
            low, high = (float(value) for value in bounds.split(":"))
        except ValueError:
            raise ValueError(f"--target-ranges: {item!r} is not TARGET=LOW:HIGH (e.g. valence=1:7)") from None
        if not low < high:
            raise ValueError(f"--target-ranges: {item!r} needs LOW < HIGH")
        ranges[target.strip()] = (low, high)
    return ranges


def run(args):
    from emokeras.data import PrepareError
    from emokeras.data import WindowGeometry
    from emokeras.data import prepare_recordings
    from emokeras.data import read_manifest
    from emokeras.data.corpora import read_corpus
    from emokeras.data.shard_format import report_file

    corpus = ("recola", args.recola) if args.recola else args.corpus
    if bool(args.manifest) == bool(corpus) or (args.recola and args.corpus):
        print("emokeras prepare: give a MANIFEST or --corpus NAME ROOT (one of them)", file=sys.stderr)
        return 2
    options = {}
    if args.manifest:
        recordings = read_manifest(args.manifest)
    else:
        seed = {} if args.split_seed is None else {"seed": args.split_seed}
        corpus = read_corpus(*corpus, **seed)
        recordings = list(corpus.recordings)
        options.update(corpus.prepare_options())
        print(f"{corpus.name}: {len(recordings)} recording(s); {corpus.split_rule}")
    options.update(
        {name: model_default(name) for name in ("frame_rate", "sample_rate", "image_size", "frames_per_clip")}
    )
    options.update(given(args, "frame_rate", "sample_rate", "image_size", "detect_every", "workers", "max_media_cut"))
    options["min_frames"] = args.min_frames or options["frames_per_clip"]
    # The report counts windows and padded clips at the model's default geometry.
    options["windows"] = WindowGeometry(
        clips=model_default("clips"),
        frames_per_clip=options.pop("frames_per_clip"),
        frame_rate=options["frame_rate"],
        sample_rate=options["sample_rate"],
    )
    if args.targets:
        options["targets"] = args.targets.split(",")
    if args.target_ranges:
        options["target_ranges"] = parse_target_ranges(args.target_ranges)
    if args.shard:
        options["shard"] = parse_shard(args.shard)
    try:
        report = prepare_recordings(
            recordings,
            args.out,
            face_crop=not args.no_face_crop,
            allow_missing_labels=args.allow_missing_labels,
            missing_audio="silence" if args.silence_for_missing_audio else "error",
            skip_bad=args.skip_bad,
            **options,
        )
    except PrepareError as error:
        print(f"emokeras prepare: {error}", file=sys.stderr)
        return 1
    done = [e for e in report["recordings"].values() if e["status"] == "ok"]
    for entry in done:
        # Every cut and substitution is said, here and in report.json.
        for warning in entry.get("warnings", []):
            print(f"  {entry['recording_id']}: {warning}")
    print(
        f"{len(done)} recording(s) ready in {args.out} "
        f"({sum(e['frames'] for e in done)} frames); report: {args.out}/{report_file(options.get('shard'))}"
    )
    if report["failed"]:
        print(f"skipped (--skip-bad): {', '.join(report['failed'])}")
    return 0
