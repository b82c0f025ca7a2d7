import os
import pathlib

import pytest

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


@pytest.fixture(autouse=True)
def _seed_and_policy():
    """Every test starts from the same seed and float32, whatever the test
    before it did."""
    import keras

    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


