"""`python -m playground sweep` as a user runs it: refusals up front (exit 2, one line, nothing stored),
strict JSON lines, a conclusion, and SIGTERM stopping the whole sweep."""
import json
import os
import subprocess

import pytest
from test_cli import Lines

from playground import cli
from playground.store import RunStore

from conftest import ROOT, cli_args

TINY = ["--recipe", "lenet", "--limit", "300", "--epochs", "1", "--param", "lr=1e-3:1e-2:log"]


def refused(capsys, *args: str) -> str:
    """Run `sweep ARGS` in this process; assert it exits 2 with one line and no traceback; return the line."""
    try:
        code = cli.main(["sweep", *args])
    except SystemExit as exc:  # argparse's refusals
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("args, words", [
    (["--epochs", "0"], "base settings cannot train: epochs"),  # was 13,000 failing trials
    (["--trials", "0"], "0 trials: a sweep trains at least 1"),  # was --at-once's message
    (["--minutes", "-1"], "number >= 0 (0 = no limit)"), (["--minutes", "nan"], "number >= 0"),
    (["--grid", "-1"], "a grid takes 2 to 50"), (["--grid", "1000000000"], "a grid takes 2 to 50"),
    (["--param", "batch_size=16,abc"], "'abc' is not a whole number"),
    (["--param", "lr=1e-4:1e-1:lg"], "can only be 'log'"),
    (["--param", "lr=1e-4:1e-1"], "lr given twice"),
    (["--param", "hidden=16:64"], "hidden does nothing for lenet"),
    (["--storage", "sweep.db"], "takes a database URL"),
    (["--storage", "sqlite:///no/such/folder/sweep.db"], "does not exist"),
])
def test_a_sweep_that_cannot_run_is_refused_at_once(home, capsys, args, words):
    assert words in refused(capsys, *TINY, *args)
    assert not (home / "runs.db").exists() or RunStore(home).list_runs() == []


def test_help_says_what_minutes_0_means(capsys):
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--help"])
    assert "0 = no limit" in capsys.readouterr().out


def test_sigterm_stops_the_whole_sweep(tmp_path):
    """Once the first trial's line is out, SIGTERM: the trial training is stopped, none other starts, and the
    sweep ends with its summary (it used to print "stopping" and train every remaining trial)."""
    args = cli_args("sweep", "--recipe", "lenet", "--limit", "600", "--epochs", "10", "--trials", "6",
                    "--at-once", "1", "--no-prune", "--param", "lr=1e-3:1e-2:log")
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PLAYGROUND_HOME": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        assert out.wait_for('{"trial": 0', timeout=600), err.lines
        proc.terminate()
        returncode = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    lines = [json.loads(line) for line in out.text().strip().splitlines()]
    assert returncode == 130, err.text()
    trials, summary = lines[:-1], lines[-1]
    assert trials[0]["state"] == "complete" and all(t["state"] == "stopped" for t in trials[1:]), trials
    assert summary["completed"] == 1 and "Best trial 0: lr=" in err.text()
    runs = RunStore(tmp_path).list_runs()
    assert len(runs) == len(trials) <= 2  # none of the other four started
    assert runs[0].status == "finished" and all(r.status == "stopped" for r in runs[1:])
