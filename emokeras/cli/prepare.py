"""`emokeras prepare`: recordings -> face crops, audio and labels in
TFRecord shards."""

import argparse
import sys

from emokeras.cli.arguments import default_of
from emokeras.cli.arguments import given
from emokeras.cli.arguments import model_default


def add_parser(commands, name, summary):
    from emokeras.data import prepare_recordings

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
            "recording)."
        ),
        epilog=(
            "examples:\n  emokeras prepare manifest.csv --out data/prepared\n"
            "  emokeras prepare --recola RECOLA/ --out data/recola --skip-bad"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("manifest", nargs="?", help="manifest CSV")
    parser.add_argument("--recola", metavar="ROOT", help="a RECOLA / AVEC 2016 tree instead")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--targets", help="comma-separated target names (default: from the labels)")
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
    parser.add_argument("--skip-bad", action="store_true", help="exit 0 even if some recordings fail")
    parser.set_defaults(run=run)


def run(args):
    from emokeras.data import PrepareError
    from emokeras.data import WindowGeometry
    from emokeras.data import prepare_recordings
    from emokeras.data import read_manifest
    from emokeras.data import recola_recordings

    if bool(args.manifest) == bool(args.recola):
        print("emokeras prepare: give a MANIFEST or --recola ROOT (one of them)", file=sys.stderr)
        return 2
    recordings = read_manifest(args.manifest) if args.manifest else recola_recordings(args.recola)
    options = {name: model_default(name) for name in ("frame_rate", "sample_rate", "image_size", "frames_per_clip")}
    options.update(given(args, "frame_rate", "sample_rate", "image_size", "detect_every", "workers"))
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
    print(
        f"{len(done)} recording(s) ready in {args.out} "
        f"({sum(e['frames'] for e in done)} frames); report: {args.out}/report.json"
    )
    if report["failed"]:
        print(f"skipped (--skip-bad): {', '.join(report['failed'])}")
    return 0
