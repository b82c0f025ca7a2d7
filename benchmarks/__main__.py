"""`python -m benchmarks [--quick]`: every benchmark, each a table of
ratios against a baseline measured in the same run."""

import argparse
import os
import pathlib
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat (CI smoke run)")
    parser.add_argument(
        "--shared-data",
        default=os.environ.get(
            "EMOKERAS_SHARED_DATA", pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"
        ),
        help="real media for the decoding and face detection benchmarks (skipped when absent)",
    )
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}")
    from benchmarks import cpu_kernels
    from benchmarks import data_pipeline
    from benchmarks import face_detection
    from benchmarks import feature_cache
    from benchmarks import i3d_throughput
    from benchmarks import live_stream
    from benchmarks import peak_memory
    from benchmarks import serving

    i3d_throughput.run(quick=args.quick)
    cpu_kernels.run(quick=args.quick)
    feature_cache.run(quick=args.quick)
    peak_memory.run(quick=args.quick)
    data_pipeline.run(quick=args.quick, shared_data=args.shared_data)
    face_detection.run(quick=args.quick, shared_data=args.shared_data)
    serving.run(quick=args.quick)
    live_stream.run(quick=args.quick, shared_data=args.shared_data)


if __name__ == "__main__":
    main()
