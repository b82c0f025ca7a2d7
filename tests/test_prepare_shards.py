"""`emokeras prepare --shard I/N`: N machines prepare one corpus into one
folder without talking to each other; together they write what one run
writes, byte for byte, and every reader sees all of it."""

import hashlib
import json

from emokeras.cli import main
from emokeras.data import WindowGeometry
from emokeras.data.dataset import shard_files
from emokeras.data.prepare import in_shard
from tests.media_factory import write_media


def _digests(folder):
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((folder / "shards").rglob("*.tfrecord"))
    }


def test_two_shards_write_what_one_run_writes(tmp_path, capsys):
    lines = ["recording_id,video,audio,labels,split,valence"]
    for i in range(7):
        write_media(tmp_path / f"r{i}.mp4", seconds=1.0 + 0.1 * i)
        lines.append(f"r{i},r{i}.mp4,,,{'train' if i < 5 else 'test'},{i / 10}")
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join(lines) + "\n")
    common = ["--image-size", "32", "--no-face-crop", "--workers", "1"]
    assert main(["prepare", str(manifest), "--out", str(tmp_path / "one"), *common]) == 0
    for shard in ("1/2", "2/2"):
        assert main(["prepare", str(manifest), "--out", str(tmp_path / "two"), "--shard", shard, *common]) == 0
    said = capsys.readouterr().out
    assert "report: " + str(tmp_path / "two" / "report.shard-2-of-2.json") in said

    # Disjoint shares, each with its own report, together every recording.
    reports = [json.loads((tmp_path / "two" / f"report.shard-{i}-of-2.json").read_text()) for i in (1, 2)]
    shares = [set(report["recordings"]) for report in reports]
    assert shares[0] and shares[1] and not shares[0] & shares[1]
    assert shares[0] | shares[1] == {f"r{i}" for i in range(7)}
    assert all(in_shard(rid, (i + 1, 2)) for i, share in enumerate(shares) for rid in share)
    assert not (tmp_path / "two" / "report.json").exists()
    # The same bytes as one machine's run, and every reader sees them all.
    assert _digests(tmp_path / "two") == _digests(tmp_path / "one")
    for split in ("train", "test"):
        assert shard_files(tmp_path / "two", split) == (
            [p.replace("/one/", "/two/") for p in shard_files(tmp_path / "one", split)[0]],
            shard_files(tmp_path / "one", split)[1],
        )
    windows = WindowGeometry(clips=2, frames_per_clip=8, frame_rate=25, sample_rate=16000)
    from emokeras.data import make_dataset

    counted = sum(
        int(x["valid_frames"].shape[0])
        for x, _, _ in make_dataset(tmp_path / "two", "train", windows=windows, mode="eval", batch_size=4)
    )
    assert counted == sum(windows.starts(frames).__len__() for frames in shard_files(tmp_path / "two", "train")[1])

    # A rerun of a shard resumes its own share only; a bad shard spec is one line.
    assert main(["prepare", str(manifest), "--out", str(tmp_path / "two"), "--shard", "1/2", *common]) == 0
    assert main(["prepare", str(manifest), "--out", str(tmp_path / "two"), "--shard", "3/2", *common]) == 2
    assert "--shard '3/2': I must be from 1 to N" in capsys.readouterr().err
