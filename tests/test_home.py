"""Home under AppTest: the first-run button opens Learn at its first lesson."""
from playground.lessons import LESSONS
from ui.lesson_view import LESSON

from conftest import app_page


def test_start_here_opens_the_first_lesson(home):
    at = app_page("app.py").run()
    assert not at.exception
    start = at.button(key="start_here")
    assert start.label.startswith("▶ Start here") and LESSONS[0].title in start.label
    start.click().run()
    assert not at.exception
    assert any("Learn" in t.value for t in at.title)
    assert at.session_state[LESSON] == LESSONS[0].key
    assert at.query_params["lesson"] == LESSONS[0].key
