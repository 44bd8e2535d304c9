"""The Learn page under AppTest: every lesson renders; guess, Run, live runs, verdict; progress survives a reload."""
import time

import pytest

from playground import lessons
from playground.errors import RunStatus
from playground.store import RunStore

from conftest import app_page as page


@pytest.fixture(autouse=True)
def tiny_lessons(monkeypatch):
    """Lesson runs at the tiny scale (300 samples, 1 epoch, CPU): about a second each."""
    monkeypatch.setenv(lessons.SCALE_ENV, "tiny")


def poll_until(at, done, seconds: float = 90):
    """AppTest never fires run_every by itself: rerun as the browser's timer would."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        time.sleep(0.5)
    raise AssertionError("condition not reached")


def run_button(at):
    return next(b for b in at.button if b.key and b.key.startswith("run-"))


def text(at) -> str:
    parts = [m.value for m in at.markdown] + [s.value for s in at.success] + [i.value for i in at.info]
    return " ".join(parts + [e.value for e in at.error] + [w.value for w in at.warning])


def test_every_lesson_renders_with_its_question_and_a_disabled_run_button(home):
    at = page("pages/learn.py").run()
    assert not at.exception
    for lesson in lessons.LESSONS:
        at.radio(key="lesson").set_value(lesson.key).run()
        assert not at.exception, lesson.key
        assert at.header[0].value == lesson.title
        assert at.radio(key=f"guess-{lesson.key}").options == list(lesson.choices)
        assert run_button(at).disabled, "no guess yet: Run stays disabled"
        assert at.query_params["lesson"] in (lesson.key, [lesson.key])
        assert "Tiny scale" in text(at)


def test_lessons_data_is_complete():
    for scale in ("cpu", "gpu", "tiny"):
        for lesson in lessons.LESSONS:
            for run, cfg in lesson.configs(scale):
                assert cfg.data.limit == {"gpu": run.full.data.limit, "cpu": run.cpu.get("limit", 0),
                                          "tiny": 300}[scale]
    for lesson in lessons.LESSONS:
        assert lesson.judge({}) is None or lesson.key == "conv"  # no results: no verdict
        assert all(link.page in ("train", "compare", "draw", "inside") for link in lesson.next)
        assert all(k in {r.key for r in lesson.runs} for link in lesson.next for k in link.runs)
        assert all(run.measured is not None for run in lesson.runs), f"{lesson.key}: measure with bench/lessons.py"


def test_guess_then_run_shows_the_verdict_and_progress_survives_a_new_session(home):
    at = page("pages/learn.py").run()
    lesson = lessons.BY_KEY["rnn-rows"]
    guess = lesson.choices[0]
    at.radio(key="guess-rnn-rows").set_value(guess).run()
    assert RunStore(home).lessons()["rnn-rows"]["guess"] == guess  # saved before anything runs
    assert not run_button(at).disabled
    run_button(at).click().run()
    assert not at.exception and not at.error
    ids = RunStore(home).lessons()["rnn-rows"]["run_ids"]
    assert len(ids) == 1
    rec = RunStore(home).get_run(ids[0])
    assert rec.config.data.limit == 300 and rec.config.optim.epochs == 1 and rec.config.model.arch == "rnn"
    poll_until(at, lambda a: any(s.value == "What happened" for s in a.subheader))
    assert RunStore(home).get_run(ids[0]).status == RunStatus.FINISHED
    assert "Your guess" in text(at) and "97.4%" in text(at)
    links = at.get("page_link")
    assert len(links) >= len(lesson.next)
    assert RunStore(home).lessons()["rnn-rows"]["done"]
    # A reload: a new session on the same home shows the lesson done, the guess and the result.
    again = page("pages/learn.py").run()
    assert not again.exception
    assert again.radio(key="guess-rnn-rows").value == guess
    assert again.radio(key="lesson").options[0].endswith("✓")
    assert any(s.value == "What happened" for s in again.subheader)
    assert "1 of 6 lessons done" in again.sidebar.get("progress")[0].proto.text


def test_a_failing_run_shows_its_message_not_a_traceback(home, monkeypatch):
    from playground.training import Trainer

    def broken(self):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(Trainer, "prepare", broken)
    at = page("pages/learn.py").run()
    at.radio(key="guess-rnn-rows").set_value(lessons.BY_KEY["rnn-rows"].choices[1]).run()
    run_button(at).click().run()
    poll_until(at, lambda a: any("disk is on fire" in e.value for e in a.error))
    assert any("no verdict" in w.value for w in at.warning)
    assert not RunStore(home).lessons()["rnn-rows"]["done"]


def test_a_run_that_cannot_start_says_why(home, monkeypatch):
    monkeypatch.setattr(lessons.LessonRun, "config", lambda self, scale: lessons.RunConfig().override(epochs=0))
    at = page("pages/learn.py").run()
    at.radio(key="guess-rnn-rows").set_value(lessons.BY_KEY["rnn-rows"].choices[1]).run()
    run_button(at).click().run()
    assert not at.exception
    assert any("Cannot start" in e.value and "epochs" in e.value for e in at.error)
    assert RunStore(home).list_runs() == []


def test_a_lesson_link_opens_that_lesson(home):
    at = page("pages/learn.py")
    at.query_params["lesson"] = "memory"
    at.run()
    assert not at.exception
    assert at.header[0].value == lessons.BY_KEY["memory"].title
