import pathlib
import re

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "emokeras" / "__init__.py").read_text()).group(1)

setup(
    name="emokeras",
    version=VERSION,
    description=(
        "Audio-visual dimensional emotion recognition (valence, arousal) in "
        "TensorFlow / Keras 3: cross-attentional fusion of I3D and audio CNN "
        "features."
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["emokeras", "emokeras.*"]),
    # Pinned to the releases the test suite runs against.
    install_requires=[
        "tensorflow==2.21.0",
        "keras==3.15.1",
        "numpy>=1.26",
        "av>=14",
        # Face detection (Haar cascades ship inside the wheel), JPEG, drawing.
        "opencv-python-headless>=4.8,<5",
        # TF Serving's protos: warm-up requests at export, the gRPC client.
        "tensorflow-serving-api==2.21.0",
        "matplotlib>=3.7",
        # Training configs (`emokeras train --config run.yaml`).
        "pyyaml>=6",
        # keras.callbacks.TensorBoard (TensorFlow 2.21 no longer pulls it in).
        "tensorboard>=2.21",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            # Two test processes: CI has two cores and much of a test is tracing.
            "pytest-xdist>=3.5",
            "scipy>=1.11",
            # Runs the backend-agnostic layers on a second Keras backend.
            "jax[cpu]>=0.4.30",
            # Reads the deployment files (docker compose, Kubernetes).
            "pyyaml>=6",
            # Linter and formatter (.ci/run); pinned so that CI and a
            # developer's machine agree on the rules.
            "ruff==0.17.6",
        ],
    },
    entry_points={"console_scripts": ["emokeras=emokeras.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
