"""The CLI's tables through rich: colour on a terminal, plain columns when piped (issue 34)."""
import io

import pytest

from playground import cli
from playground.terminal import Column, error, render, status

from conftest import tiny

COLUMNS = (Column("id", right=True), Column("status"), Column("name"))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def colour_terminal(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "100")


def test_a_piped_table_is_plain_aligned_columns():
    rows = [("7", status("finished"), "a [red]name[/] " * 20), ("12", status("failed"), "b")]
    text = render(COLUMNS, rows, io.StringIO())
    lines = text.splitlines()
    assert "\x1b" not in text and len(lines) == 3  # a header and one line a row, however long (no wrap at 80)
    assert lines[0].split() == ["id", "status", "name"]
    assert lines[1].startswith(" 7  finished  a [red]name[/] ")  # numbers right, markup shown as typed
    assert lines[2] == "12  failed    b" and all(line == line.rstrip() for line in lines)


def test_a_terminal_gets_a_bold_header_and_coloured_statuses(colour_terminal):
    text = render(COLUMNS, [("7", status("finished"), "x"), ("8", status("failed"), "y")], Terminal())
    assert "\x1b[1m" in text and "\x1b[32mfinished" in text and "\x1b[31mfailed" in text


def test_no_color_set_leaves_a_terminal_without_colour(colour_terminal, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    text = render(COLUMNS, [("7", status("finished"), "x")], Terminal())
    assert "finished" in text and "\x1b[32m" not in text


def test_an_error_is_red_on_a_terminal_only(colour_terminal):
    assert error("no such run", io.StringIO()) == "error: no such run"
    assert "\x1b[1;31merror:" in error("no such run", Terminal())
    assert "\n" not in error("long " * 40, Terminal())  # one line, the terminal wraps it


def test_runs_piped_keeps_its_columns_and_rows(home, store, capsys):
    store.create_run(tiny(), "número ☃", status="finished")
    store.create_run(tiny(arch="gru"), "second", status="failed")
    assert cli.main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "status", "dataset", "arch", "test", "acc", "seconds", "name"]
    assert [line.split()[:4] for line in lines[1:]] == [["2", "failed", "mnist", "gru"],
                                                        ["1", "finished", "mnist", "lstm"]]
    assert lines[2].endswith("número ☃") and not any("\x1b" in line for line in lines)


def test_summary_piped_lists_layers_and_the_total(capsys):
    assert cli.main(["summary", "--arch", "cnn"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["layer", "type", "output", "shape", "params"]
    assert lines[2].split()[:2] == ["features.0.0", "Conv2d"] and lines[-1].split() == ["total", "18,090"]


def test_study_summary_piped_is_a_plain_table_then_where_to_compare():
    from types import SimpleNamespace
    runs = [SimpleNamespace(label="lenet · baseline · seed 0"), SimpleNamespace(label="lenet · L2 · seed 0")]
    rows = [{"run_id": 4, "status": "finished", "test_acc": 0.91, "best_val_acc": 0.9, "final_gap": 0.02,
             "train_seconds": 3.25},
            {"run_id": 5, "status": "diverged", "test_acc": None, "best_val_acc": None, "final_gap": None}]
    lines = cli.study_summary(runs, rows, io.StringIO()).splitlines()
    assert lines[0].split() == ["run", "test", "acc", "best", "val", "gap", "train", "s", "name"]
    assert lines[1].split() == ["#4", "91.0%", "90.0%", "2.0%", "3.2", "lenet", "·", "baseline", "·", "seed", "0"]
    assert lines[2].split()[:5] == ["#5", "–", "–", "–", "–"] and lines[2].endswith("seed 0 (diverged)")
    assert lines[3].endswith("/compare?ids=4,5") and "\x1b" not in "".join(lines)
