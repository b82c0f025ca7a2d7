"""`emokeras ablate`: the paper's rows on one tiny corpus, one table."""

import csv
import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.tiny import TINY_RUN


def _run(args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_ablate_writes_the_papers_rows(tmp_path, tiny_corpus):
    config = tmp_path / "ablate.yaml"
    config.write_text(yaml.safe_dump({**TINY_RUN, "epochs": 1, "stage1_epochs": 0}))
    # The demo test covers the other I3D rows (concatenation, cross-attention,
    # audio, visual); here the other fusions and the 2D CNN backbone.
    rows = "i3d_self_attention,cnn2d_lstm"
    result = _run(
        [
            sys.executable,
            "-m",
            "emokeras.cli",
            "ablate",
            "--config",
            str(config),
            "--data",
            str(tiny_corpus / "prepared"),
            "--out",
            str(tmp_path / "ablation"),
            "--rows",
            rows,
        ]
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = list(csv.DictReader(open(tmp_path / "ablation" / "ablation.csv")))
    # The paper's order, whatever order --rows gave.
    assert [r["model"] for r in rows] == ["2D CNN + LSTM", "I3D + self-attention"]
    assert rows[1]["paper_recola_valence"] == "0.623" and rows[1]["paper_recola_arousal"] == "0.787"
    markdown = (tmp_path / "ablation" / "ablation.md").read_text()
    assert markdown.startswith("| Model | valence_ccc |") and "| I3D + self-attention |" in markdown
    for row in rows:
        evaluation = json.loads((tmp_path / "ablation" / row["row"] / "evaluation.json").read_text())
        assert float(row["arousal_ccc"]) == pytest.approx(evaluation["raw"]["arousal"]["all"]["ccc"])
