"""The command line in a subprocess, as a user runs it: output, exit codes, Ctrl-C, odd files."""
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from playground import cli, config, data
from playground.errors import PlaygroundError
from playground.models import build_model
from playground.store import RunStore

from conftest import ROOT, cli_args, run_cli, tiny

pytestmark = pytest.mark.slow  # most of these start `python -m playground`


def stored_runs(home: Path) -> list:
    """The runs a home holds, without creating its database."""
    return RunStore(home).list_runs() if (home / "runs.db").exists() else []


def test_summary_prints_the_cnn_totals(tmp_path):
    assert "18,090" in run_cli("summary", "--arch", "cnn", home=tmp_path).stdout
    out = run_cli("summary", "--arch", "cnn", "--width", "32", home=tmp_path).stdout
    assert "38,386" in out and "Conv2d" in out and "[1, 32, 32, 32]" in out


@pytest.mark.parametrize("args, message", [
    (["--lr", "0"], "learning rate"),
    (["--batch-size", "0"], "batch size"),
    (["--arch", "mlp"], "invalid choice: 'mlp'"),
    (["--arch", "rnn", "--dropout", "0.5"], "use layers >= 2 or dropout 0"),
    (["--dropout", "1.5"], "dropout"),
    (["--recipe", "nope"], "invalid choice"),
    (["--epochs", "two"], "invalid int value"),
])
def test_bad_options_exit_non_zero_with_one_clear_line(tmp_path, args, message):
    proc = run_cli("train", *args, home=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert stored_runs(tmp_path) == []  # refused before anything was recorded


def test_train_prints_epochs_and_one_json_line_then_predict_reads_images(tmp_path):
    proc = run_cli("train", "--recipe", "lstm64", "--hidden", "32", "--limit", "2000", "--epochs", "2",
               "--val-fraction", "0.1", "--device", "cpu", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("epoch   1/2") and lines[1].startswith("epoch   2/2")
    result = json.loads(lines[-1])
    assert set(result) >= {"run_id", "checkpoint", "test_acc", "test_loss", "train_seconds", "samples_per_s"}
    assert 0.3 < result["test_acc"] <= 1.0  # 2,000 digits, two epochs: well above chance
    runs = run_cli("runs", home=tmp_path).stdout
    assert "finished" in runs and "lstm64" in runs

    ds = data.load_dataset("mnist")
    paths = []
    for i in range(3):
        digit = ds.test_x[i, 0].numpy()
        big = Image.fromarray(255 - digit).resize((140, 140))  # dark on light, 5x
        p = tmp_path / f"d{i}.png"
        big.save(p)
        paths.append(str(p))
    letter = tmp_path / "letter.png"  # a typed A, as the Draw page's test draws it: unlike any digit
    im = Image.new("L", (280, 280), 0)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 200)
    ImageDraw.Draw(im).text((40, 20), "A", fill=255, font=font)
    im.save(letter)
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    proc = run_cli("predict", "--checkpoint", result["checkpoint"], *paths, str(letter), str(blank), str(junk),
                   home=tmp_path)
    assert proc.returncode == 1  # some inputs were refused
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["image"] for o in out] == paths + [str(letter), str(blank), str(junk)]
    for o in out[:4]:
        assert len(o["probs"]) == 10 and abs(sum(o["probs"]) - 1) < 1e-3 and 0 <= o["label"] <= 9
        assert isinstance(o["unlike_digits"], bool)  # Draw's ❓ flag, the same for a file
    assert out[3]["unlike_digits"] is True
    assert "no ink" in out[4]["error"] and "not a readable image" in out[5]["error"]


def test_predict_refuses_a_non_checkpoint(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x80\x04junk")
    img = tmp_path / "x.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(img)
    proc = run_cli("predict", "--checkpoint", str(bad), str(img), home=tmp_path)
    assert proc.returncode == 2 and "not a readable checkpoint" in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ options
def test_choices_come_from_the_config_and_every_option_says_what_it_does():
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps subparsers only here
    # --dataset also takes own:<snapshot> (your own drawings), so its choices are named in its metavar
    expected = {"--recipe": list(config.RECIPES), "--arch": config.ARCHITECTURES,
                "--activation": config.ACTIVATIONS, "--optimizer": config.OPTIMIZERS,
                "--normalize": config.NORMALIZATIONS, "--device": config.DEVICES}
    seen = set()
    for name, sub in commands.items():
        for action in sub._actions:
            flag = (action.option_strings or [action.dest])[0]
            assert action.help, f"{name} {flag} has no help text"
            if flag in expected:
                assert list(action.choices) == list(expected[flag]), (name, flag)
                seen.add(flag)
            if flag == "--dataset":
                assert action.metavar == "{" + ",".join(config.DATASETS) + ",own:<snapshot>}", name
    assert seen == set(expected)
    assert list(commands["fetch"]._actions[-1].choices) == [*config.DATASETS, "all"]


def test_optimizer_and_other_flags_reach_the_config():
    args = cli.build_parser().parse_args(["train", "--recipe", "lstm64", "--optimizer", "sgd", "--momentum", "0.5",
                                          "--batch-size", "16", "--no-batchnorm", "--eval-every", "3"])
    cfg = cli.config_from_args(args)
    assert (cfg.optim.optimizer, cfg.optim.momentum, cfg.optim.batch_size) == ("sgd", 0.5, 16)
    assert cfg.optim.eval_every == 3
    assert cfg.model.hidden == config.RECIPES["lstm64"].model.hidden and cfg.reg.batchnorm is False


def test_a_user_error_is_one_line_but_a_bug_keeps_its_traceback(monkeypatch, capsys, home):
    class Refused(PlaygroundError):
        pass

    def refuse(_args):
        raise Refused("that cannot be done")

    def bug(_args):
        raise ValueError("a bug, not the user's fault")

    monkeypatch.setitem(cli.COMMANDS, "runs", refuse)
    assert cli.main(["runs"]) == 2
    assert capsys.readouterr().err == "python -m playground: error: that cannot be done\n"
    monkeypatch.setitem(cli.COMMANDS, "runs", bug)
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["runs"])


# ------------------------------------------------------------------ Ctrl-C
class Lines:
    """Collects a pipe's lines in a thread, so that waiting for one has a deadline."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self._thread.start()

    def wait_for(self, prefix: str, timeout: float) -> bool:
        """Whether a line starting with `prefix` came within `timeout` seconds (0: already there)."""
        deadline = time.monotonic() + timeout
        while True:
            if any(line.startswith(prefix) for line in list(self.lines)):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def text(self) -> str:
        self._thread.join(10)
        return "".join(self.lines)


def test_ctrl_c_twice_ends_the_run_as_stopped_with_its_json_line(tmp_path):
    args = cli_args("train", "--arch", "lstm", "--hidden", "16", "--limit", "3000", "--epochs", "200",
                    "--device", "cpu")
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PLAYGROUND_HOME": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        # The progress bar's first line comes once the run is training (not a tty: printed at once).
        assert err.wait_for("epoch ", timeout=120), err.lines
        proc.send_signal(signal.SIGINT)
        assert err.wait_for("stopping:", timeout=60), err.lines  # the first press is taken
        # A second press while the run winds down (the loop polls every 0.2 s: there is time, but a loaded
        # machine may let the run finish first; then there is nothing left to announce).
        ended_first = out.wait_for("{", timeout=0)
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    stderr = err.text()
    assert returncode == 130, stderr
    assert "Traceback" not in stderr and ("already stopping" in stderr or ended_first), stderr
    result = json.loads(out.text().strip().splitlines()[-1])
    assert result["status"] == "stopped"
    assert result["checkpoint"] and Path(result["checkpoint"]).is_file()
    assert [r.status for r in stored_runs(tmp_path)] == ["stopped"]


# ------------------------------------------------------------------ files that are not files
@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """An untrained LSTM checkpoint in the documented format; enough for predict to run."""
    cfg = tiny(hidden=8)
    path = tmp_path / "untrained.pt"
    torch.save({"config": cfg.to_dict(), "state_dict": build_model(cfg).state_dict(), "metrics": {}}, path)
    return path


def test_a_fifo_given_as_an_image_is_refused_without_blocking(tmp_path, checkpoint):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # nothing ever writes to it: reading it would block for ever
    digit = tmp_path / "digit.png"
    Image.fromarray(np.pad(np.full((12, 4), 255, np.uint8), 8)).save(digit)
    proc = run_cli("predict", "--checkpoint", str(checkpoint), str(fifo), str(digit), home=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert first["image"] == str(fifo) and first["error"].startswith(f"{fifo} is not") and "FIFO" in first["error"]
    assert second["image"] == str(digit) and 0 <= second["label"] <= 9


@pytest.mark.parametrize("where", ["directory", "/dev/zero"])
def test_a_directory_or_device_as_checkpoint_is_not_a_checkpoint_file(tmp_path, where):
    path = tmp_path if where == "directory" else Path(where)
    img = tmp_path / "x.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(img)
    proc = run_cli("predict", "--checkpoint", str(path), str(img), home=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"python -m playground: error: {path} is not a checkpoint file"), proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_a_missing_checkpoint_says_so(tmp_path):
    proc = run_cli("predict", "--checkpoint", str(tmp_path / "nope.pt"), str(tmp_path / "x.png"), home=tmp_path,
                   timeout=120)
    assert proc.returncode == 2 and "no such file" in proc.stderr and "Traceback" not in proc.stderr


def test_sigterm_stops_the_run_with_its_checkpoint(tmp_path):
    args = cli_args("train", "--arch", "gru", "--hidden", "256", "--layers", "2", "--limit", "3000",
                    "--epochs", "200", "--device", "cpu")
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PLAYGROUND_HOME": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        assert err.wait_for("epoch ", timeout=120), err.lines
        proc.terminate()  # SIGTERM, as `kill` or a service manager sends it
        returncode = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert returncode == 130, err.text()
    result = json.loads(out.text().strip().splitlines()[-1])
    assert result["status"] == "stopped" and result["test_acc"] is None  # no test pass in the way of stopping
    assert Path(result["checkpoint"]).is_file()


@pytest.mark.parametrize("at_once", ["-1", "0"])
def test_study_at_once_below_one_is_a_one_line_error(tmp_path, at_once):
    """Adversarial test: -1 gave a traceback and 0 silently meant 2."""
    proc = run_cli("study", "--recipe", "lstm64", "--at-once", at_once, home=tmp_path)
    assert proc.returncode == 2 and "use 1 or more" in proc.stderr and "Traceback" not in proc.stderr
    assert stored_runs(tmp_path) == []


def test_study_sizes_must_be_numbers(tmp_path):
    proc = run_cli("study", "--recipe", "lstm64", "--sizes", "300,lots", home=tmp_path)
    assert proc.returncode == 2 and "comma-separated ints" in proc.stderr and "Traceback" not in proc.stderr


def test_study_runs_cross_variants_with_data_sizes_and_noise():
    from playground.engine.study import study_runs

    runs = study_runs("lstm64", ["none", "l2"], 1, epochs=1, sizes=(300, 600), noises=(0.2,))
    assert [(r.variant, r.config.data.limit, r.config.data.label_noise) for r in runs] == [
        ("none", 300, 0.2), ("l2", 300, 0.2), ("none", 600, 0.2), ("l2", 600, 0.2)]
    assert runs[0].label == "lstm64 · baseline · 300 images · label noise 0.2 · seed 0"


def test_runs_lists_a_unicode_name_on_an_ascii_only_stdout(tmp_path):
    """Adversarial test: `runs` raised UnicodeEncodeError with an ASCII stdout and a unicode name."""
    store = RunStore(tmp_path)
    store.create_run(tiny(), "número ☃", status="finished")
    store.close()
    proc = run_cli("runs", home=tmp_path, env={"PYTHONIOENCODING": "ascii", "LC_ALL": "C"})
    assert proc.returncode == 0, proc.stderr
    assert "n\\xfamero \\u2603" in proc.stdout


def test_explain_writes_a_saliency_png_and_refuses_gradcam_for_a_recurrent_model(trained, tmp_path):
    digit = data.load_dataset("mnist").test_x[0, 0].numpy()  # a 7
    Image.fromarray(digit).resize((280, 280)).save(tmp_path / "seven.png")
    proc = run_cli("explain", "--checkpoint", trained.checkpoint, str(tmp_path / "seven.png"), "--method", "ig",
                   "--out", str(tmp_path / "map.png"), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout)
    assert line["label"] == 7 and line["target"] == 7 and line["method"] == "ig"
    assert Image.open(tmp_path / "map.png").size == (280, 280)
    refused = run_cli("explain", "--checkpoint", trained.checkpoint, str(tmp_path / "seven.png"), "--method",
                      "gradcam", "--out", str(tmp_path / "cam.png"), home=tmp_path)
    assert refused.returncode == 2 and "Grad-CAM needs a convolutional model" in refused.stderr


def test_train_takes_the_newer_settings_as_options():
    """Issue 23: schedules, label noise and augmentation work from the command line as on the page."""
    from playground.cli import build_parser, config_from_args

    args = build_parser().parse_args(["train", "--recipe", "lenet", "--schedule", "onecycle", "--label-noise", "0.2",
                                      "--augment", "--limit", "300"])
    cfg = config_from_args(args)
    assert (cfg.optim.schedule, cfg.data.label_noise, cfg.data.augment) == ("onecycle", 0.2, True)
    plain = config_from_args(build_parser().parse_args(["train", "--recipe", "lenet"]))
    assert (plain.optim.schedule, plain.data.label_noise, plain.data.augment) == ("constant", 0.0, False)


def test_train_takes_early_stopping_and_every_setting_as_options():
    """Issue 31: `train --patience N --min-delta X`; and no setting of the config is missing from the CLI."""
    from playground.cli import CONFIG_KEYS, build_parser, config_from_args

    args = build_parser().parse_args(["train", "--recipe", "lenet", "--patience", "4", "--min-delta", "0.005"])
    cfg = config_from_args(args)
    assert (cfg.optim.patience, cfg.optim.min_delta) == (4, 0.005)
    assert set(CONFIG_KEYS) == set(config.FLAT_FIELDS)
    with pytest.raises(config.ConfigError, match="val_fraction"):
        config_from_args(build_parser().parse_args(["train", "--patience", "2", "--val-fraction", "0"]))


def test_train_with_patience_stops_early_and_says_which_epoch_it_kept(tmp_path):
    """Issue 31: `train --patience 1` ends before its last epoch; the JSON line names the epoch whose weights the
    checkpoint holds, and the checkpoint says the same."""
    proc = run_cli("train", "--recipe", "lenet", "--limit", "200", "--epochs", "8", "--lr", "0.01", "--batch-size",
                   "32", "--seed", "1", "--patience", "1", "--device", "cpu", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    epochs = [int(line.split()[1].split("/")[0]) for line in lines[:-1]]
    assert epochs[-1] < 8 and result["kept_epoch"] < epochs[-1], proc.stdout
    assert f"kept epoch {result['kept_epoch']}" in proc.stderr
    assert not set(proc.stdout + proc.stderr) & PROGRESS_CONTROLS, proc.stderr  # piped: plain lines only
    saved = torch.load(result["checkpoint"], weights_only=True)
    assert saved["metrics"]["kept_epoch"] == result["kept_epoch"]


def test_a_study_prints_json_lines_and_a_summary_and_tags_its_runs_for_compare(tmp_path):
    """stdout: one JSON line per run (with the final gap); stderr: the progress to its end and a table a person
    reads; the runs are named '... · study N' like the page's, so Compare's study picker lists them. Its number
    comes from the store: study 1 taken by a page launching at the same moment (no run written yet), it is 2."""
    taken = RunStore(tmp_path)
    assert taken.new_study() == 1
    taken.close()
    proc = run_cli("study", "--recipe", "lenet", "--variants", "none,l2", "--epochs", "2", "--limit", "300",
                   home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["variant"] for r in rows] == ["none", "l2"] and all(r["final_gap"] is not None for r in rows)
    assert "study [##############################] 2/2 runs done" in proc.stderr and "test acc" in proc.stderr
    assert not set(proc.stdout + proc.stderr) & PROGRESS_CONTROLS, proc.stderr  # piped: plain lines only
    assert f"/compare?ids={rows[0]['run_id']},{rows[1]['run_id']}" in proc.stderr
    names = [r.name for r in RunStore(tmp_path).list_runs()]
    assert sorted(names) == ["lenet · L2 λ=0.03 · seed 0 · study 2", "lenet · baseline · seed 0 · study 2"]


@pytest.mark.parametrize("out", ["map", "missing/map.png", "folder", "folder/"])
def test_explain_refuses_an_out_it_cannot_write_before_any_work(trained, tmp_path, monkeypatch, capsys, out):
    """Issue 30: `--out map`, a missing folder or a directory gave a PIL traceback after the work was done."""
    (tmp_path / "folder").mkdir()
    Image.fromarray(data.load_dataset("mnist").test_x[0, 0].numpy()).save(tmp_path / "seven.png")
    monkeypatch.chdir(tmp_path)
    worked = []
    monkeypatch.setattr(cli, "saliency", lambda *a, **k: worked.append(1))
    with pytest.raises(SystemExit) as refused:
        cli.main(["explain", "--checkpoint", trained.checkpoint, "seven.png", "--out", out])
    err = capsys.readouterr().err
    assert refused.value.code == 2 and "--out" in err and out.rstrip("/") in err and not worked, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_explain_says_why_a_map_could_not_be_written(trained, tmp_path, monkeypatch, capsys):
    """Checked up front; a disk that fills during the work is one clear line too, exit 2."""
    Image.fromarray(data.load_dataset("mnist").test_x[0, 0].numpy()).save(tmp_path / "seven.png")

    def full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    code = cli.main(["explain", "--checkpoint", trained.checkpoint, str(tmp_path / "seven.png"),
                     "--out", str(tmp_path / "map.png")])
    assert code == 2 and "could not write" in capsys.readouterr().err


PROGRESS_CONTROLS = {"\r", "\x1b", "\b"}  # what a terminal's redrawn bar writes; a pipe must get none


def test_a_piped_progress_line_is_plain_ascii_at_its_epoch():
    """Issue 34: the bar is tqdm's meter in ASCII: what a log or pipe gets reads as text, 30 marks wide."""
    from playground.cli import bar_line
    from playground.engine.metrics import Snapshot
    from playground.errors import RunStatus

    snap = Snapshot(RunStatus.RUNNING, None, 1, 3, 15, 30, 10, None, None, None, [], [], {})
    assert bar_line(snap, epochs=3) == "epoch 2 [###############---------------] 5/10"
