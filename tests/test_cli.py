import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playground import data

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PLAYGROUND_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "playground", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_summary_prints_the_cnn_totals(tmp_path):
    assert "18,090" in cli("summary", "--arch", "cnn", home=tmp_path).stdout
    out = cli("summary", "--arch", "cnn", "--width", "32", home=tmp_path).stdout
    assert "38,386" in out and "Conv2d" in out and "[1, 32, 32, 32]" in out


@pytest.mark.parametrize("args, message", [
    (["--lr", "0"], "learning rate"),
    (["--batch-size", "0"], "batch size"),
    (["--arch", "mlp"], "unknown architecture 'mlp'; valid"),
    (["--dropout", "1.5"], "dropout"),
    (["--recipe", "nope"], "invalid choice"),
    (["--epochs", "two"], "invalid int value"),
])
def test_bad_options_exit_non_zero_with_one_clear_line(tmp_path, args, message):
    proc = cli("train", *args, home=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "runs.db").exists() or "Traceback" not in proc.stderr


def test_train_prints_epochs_and_one_json_line_then_predict_reads_images(tmp_path):
    proc = cli("train", "--recipe", "lstm64", "--hidden", "32", "--limit", "2000", "--epochs", "2",
               "--val-fraction", "0.1", "--device", "cpu", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("epoch   1/2") and lines[1].startswith("epoch   2/2")
    result = json.loads(lines[-1])
    assert set(result) >= {"run_id", "checkpoint", "test_acc", "test_loss", "train_seconds", "samples_per_s"}
    assert 0.3 < result["test_acc"] <= 1.0  # 2,000 digits, two epochs: well above chance
    runs = cli("runs", home=tmp_path).stdout
    assert "finished" in runs and "lstm64" in runs

    ds = data.load_dataset("mnist")
    paths = []
    for i in range(3):
        digit = ds.test_x[i, 0].numpy()
        big = Image.fromarray(255 - digit).resize((140, 140))  # dark on light, 5x
        p = tmp_path / f"d{i}.png"
        big.save(p)
        paths.append(str(p))
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    proc = cli("predict", "--checkpoint", result["checkpoint"], *paths, str(blank), str(junk), home=tmp_path)
    assert proc.returncode == 1  # some inputs were refused
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["image"] for o in out] == paths + [str(blank), str(junk)]
    for o in out[:3]:
        assert len(o["probs"]) == 10 and abs(sum(o["probs"]) - 1) < 1e-3 and 0 <= o["label"] <= 9
    assert "no ink" in out[3]["error"] and "not a readable image" in out[4]["error"]


def test_predict_refuses_a_non_checkpoint(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x80\x04junk")
    img = tmp_path / "x.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(img)
    proc = cli("predict", "--checkpoint", str(bad), str(img), home=tmp_path)
    assert proc.returncode == 2 and "not a readable checkpoint" in proc.stderr and "Traceback" not in proc.stderr
