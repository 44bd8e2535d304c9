"""Why?'s "Explain" choice (issue 31): its labels name the current answer, and a learner's pick stays on its class
when the answer changes (a keyed selectbox once kept "its answer, 1" over maps of '8')."""
import numpy as np
from streamlit.testing.v1 import AppTest

from playground import inference
from tests.conftest import on_canvas
from tests.test_draw import draw_page, mnist_digit, tiny_home, why_titles  # noqa: F401 - fixtures used below
from ui.why_views import ANSWER, why_class_key


def _explain(answer_key: str = "answer"):
    """Explain for a model whose answer the test sets in session state; the class it explains written out."""
    import streamlit as st

    from ui.why_views import why_target

    st.write(f"target {why_target(st.session_state[answer_key], [str(d) for d in range(10)], 'test')}")


def explain_at(answer: int, at: AppTest) -> tuple[str, list[str], int]:
    """(the shown choice, the options' labels, the class explained) once the model answers `answer`."""
    at.session_state["answer"] = answer
    at.run()
    assert not at.exception
    box = at.selectbox(key=why_class_key("test", answer))
    return box.format_func(box.value), list(box.options), int(at.markdown[-1].value.split()[-1])


def test_explain_names_the_new_answer_and_keeps_a_picked_class_across_answers():
    at = AppTest.from_function(_explain)
    shown, options, target = explain_at(1, at)
    assert (shown, options[0], target) == ("its answer, 1", "its answer, 1", 1)
    before = at.selectbox(key=why_class_key("test", 1)).id
    shown, options, target = explain_at(8, at)  # a new drawing, read as 8
    assert (shown, options[0], target) == ("its answer, 8", "its answer, 8", 8)
    # A new widget in the browser: one of the same id kept the label it was first drawn with ("its answer, 1")
    assert at.selectbox(key=why_class_key("test", 8)).id != before
    assert at.selectbox(key=why_class_key("test", 8)).proto.set_value  # and the page sets the value it shows
    assert "why 8?" in options and "why 1?" not in options and "why not 1?" in options
    assert len([s for s in at.selectbox if s.label == "Explain"]) == 1  # no widget of the old answer left
    at.selectbox(key=why_class_key("test", 8)).set_value(2).run()
    assert at.markdown[-1].value == "target 2"
    shown, options, target = explain_at(5, at)
    assert (shown, options[0], target) == ("why not 2?", "its answer, 5", 2)  # the pick stays on 2, by class
    shown, _, target = explain_at(2, at)
    assert (shown, target) == ("why 2?", 2)  # now its answer, still the class picked
    at.selectbox(key=why_class_key("test", 2)).set_value(ANSWER).run()
    shown, _, target = explain_at(7, at)
    assert (shown, target) == ("its answer, 7", 7)  # "its answer" follows the answer again


def _answer(at) -> str:
    return at.get("metric")[0].value


def test_on_draw_the_label_follows_a_new_answer_and_why_not_2_stays_on_2(draw_page, monkeypatch):  # noqa: F811
    at, canvas, _ = draw_page
    # The tiny model reads every drawing as one digit: its probabilities are rolled so that it reads `reads["as"]`.
    real, reads = inference.predict_drawings, {"as": 1}

    def reading(loaded, drawings):
        p = real(loaded, drawings)
        return np.roll(p, reads["as"] - int(p[0].argmax()), axis=1)

    monkeypatch.setattr(inference, "predict_drawings", reading)
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.session_state["why-open-draw"] = True  # opened (AppTest cannot click an expander)
    at.run()
    assert _answer(at) == "1"
    box = at.selectbox(key=why_class_key("draw", 1))
    assert box.format_func(box.value) == "its answer, 1"
    reads["as"] = 8
    canvas["ink"] = on_canvas(mnist_digit(1), 180, 60, 30)  # a new drawing, read as 8
    at.run()
    assert not at.exception and _answer(at) == "8"
    box = at.selectbox(key=why_class_key("draw", 8))
    assert box.format_func(box.value) == "its answer, 8"  # the label names the new answer
    assert [s.label for s in at.selectbox].count("Explain") == 1
    assert all("trained: '8'" in t for t in why_titles(at))
    box.set_value(2).run()
    reads["as"] = 5
    canvas["ink"] = on_canvas(mnist_digit(0), 200, 40, 40)
    at.run()
    assert not at.exception and _answer(at) == "5"
    box = at.selectbox(key=why_class_key("draw", 5))
    assert box.value == 2 and box.format_func(2) == "why not 2?"  # the pick stays on 2 across the change
    assert len(why_titles(at)) == 2 and all("trained: '2'" in t for t in why_titles(at))  # the maps explain 2
