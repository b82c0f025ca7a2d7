import os
import pathlib

import pytest

import emokeras  # noqa: F401  (first, so tests run with its TensorFlow settings)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def shared_data_dir():
    """`$EMOKERAS_SHARED_DATA`, else `../shared/data` beside the checkout."""
    configured = os.environ.get("EMOKERAS_SHARED_DATA")
    if configured:
        return pathlib.Path(configured)
    return REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """The folder of real media and weights used by some tests; those tests
    skip, saying why, when it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(
            f"real test data not found at {path}: set EMOKERAS_SHARED_DATA to "
            "the shared data folder (see tests/README.md)"
        )
    return path


@pytest.fixture(scope="session")
def shared_file(shared_data):
    """`shared_file("i3d/label_map.txt")`: the path, or a skip saying which
    file is missing."""

    def find(relative):
        path = shared_data / relative
        if not path.exists():
            pytest.skip(
                f"{path} not found: run scripts/fetch_test_data.py (some files "
                "come from GitHub) or set EMOKERAS_SHARED_DATA"
            )
        return path

    return find


@pytest.fixture(autouse=True)
def _seed_and_policy():
    """Every test starts from the same seed and float32, whatever the test
    before it did."""
    import keras

    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    """Five 8 s synthetic recordings prepared at 32 px (3 train, 1 dev, 1
    test) and `tiny.yaml` holding `tests.tiny.TINY_RUN`."""
    import yaml

    from emokeras.data import prepare_recordings
    from emokeras.data import read_manifest
    from emokeras.data.synthetic_corpus import write_synthetic_corpus
    from tests.tiny import TINY_RUN

    root = tmp_path_factory.mktemp("training_corpus")
    manifest = write_synthetic_corpus(root / "synth", recordings=5, seconds=8, seed=0, image_size=32)
    prepare_recordings(
        read_manifest(manifest),
        root / "prepared",
        frame_rate=25,
        sample_rate=16000,
        image_size=32,
        face_crop=False,
        workers=1,
        min_frames=16,
        progress=False,
    )
    (root / "tiny.yaml").write_text(yaml.safe_dump(TINY_RUN))
    return root
