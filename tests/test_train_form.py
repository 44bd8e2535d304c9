"""Train's sidebar form under AppTest: early stopping's boxes, and a bad number said at once (issue 31)."""
from playground.engine.study import STUDY_PATIENCE
from ui.train_form import EARLY, PATIENCE

from conftest import app_page


def page(params: dict | None = None):
    at = app_page("pages/train.py")
    at.query_params.update(params or {})
    return at.run()


def boxes(at) -> tuple[bool, bool]:
    """Whether the patience and minimum-gain boxes are disabled."""
    return at.sidebar.number_input(key=PATIENCE).disabled, at.sidebar.number_input(key="f_min_delta").disabled


def test_patience_and_minimum_gain_wait_for_the_early_stopping_box(home):
    at = page()  # lstm64: no early stopping
    assert at.sidebar.checkbox(key=EARLY).value is False and boxes(at) == (True, True)
    assert "patience" not in at.query_params
    at.sidebar.checkbox(key=EARLY).check().run()
    assert boxes(at) == (False, False) and at.session_state[PATIENCE] == STUDY_PATIENCE
    assert at.query_params["patience"] == str(STUDY_PATIENCE)  # the config (and the link) now say it
    at.sidebar.number_input(key=PATIENCE).set_value(2).run()
    at.sidebar.checkbox(key=EARLY).uncheck().run()
    assert boxes(at) == (True, True) and "patience" not in at.query_params  # off: patience 0 in the config
    at.sidebar.checkbox(key=EARLY).check().run()
    assert at.session_state[PATIENCE] == 2  # the number typed before comes back
    at.sidebar.number_input(key=PATIENCE).set_value(0).run()  # 0 is off, as in the config
    assert at.sidebar.checkbox(key=EARLY).value is False and boxes(at) == (True, True)
    assert not at.exception


def test_a_link_with_patience_ticks_early_stopping(home):
    at = page({"recipe": "lenet", "patience": "3"})
    assert at.sidebar.checkbox(key=EARLY).value is True and boxes(at) == (False, False)
    assert at.session_state[PATIENCE] == 3 and not at.exception


def test_every_box_takes_any_number_and_the_form_says_at_once_what_train_refuses(home):
    """Issue 31 asked for widget minimums; issue 13 showed why there are none: a value out of a box's bounds stays
    red in the browser, never reaches the server, and Train ran the last accepted value (seen again in Chromium with
    Streamlit 1.67). So every box takes the typed number, and the form names the rule it breaks as it is typed."""
    at = page()
    at.sidebar.checkbox(key=EARLY).check().run()  # patience and minimum gain enabled
    boxes = [b for b in at.sidebar.number_input if (b.key or "").startswith("f_") and not b.disabled]
    assert len(boxes) >= 14, [b.key for b in boxes]
    for box in boxes:
        assert box.min is None and box.max is None, box.key
        good = box.value
        at.sidebar.number_input(key=box.key).set_value(-1).run()
        assert len(at.sidebar.error) == 1 and "Train will refuse these settings" in at.sidebar.error[0].value, box.key
        at.sidebar.number_input(key=box.key).set_value(good).run()
        assert not at.sidebar.error and not at.exception, box.key


def test_a_number_train_would_refuse_is_said_at_once(home):
    """Issue 31: a user could type 0 or a negative number and learned it only on pressing Train. The boxes keep no
    widget bounds (issue 13: a value out of them never reached the server, and Train ran the last accepted one)."""
    at = page()
    assert not at.sidebar.error
    for key, value, reason in (("f_epochs", 0, "epochs must be an integer in [1, 1000]"),
                               ("f_batch_size", -5, "batch size must be an integer in [1, 65536]"),
                               ("f_limit", 5, "limit must be 0 (all) or at least 10 samples")):
        good = at.session_state[key]
        at.sidebar.number_input(key=key).set_value(value).run()
        assert [e.value for e in at.sidebar.error] == [f"Train will refuse these settings: {reason}."]
        at.sidebar.number_input(key=key).set_value(good).run()
        assert not at.sidebar.error


def test_a_link_that_fine_tunes_says_so_in_the_form(home):
    """Adversary, round 4: `?init_from=<path>` was taken silently; no widget shows it, so the form says it."""
    at = page({"recipe": "lstm64", "init_from": "/some/where/run-7.pt"})
    assert not at.exception
    said = [c.value for c in at.sidebar.caption if c.value.startswith("🔁 Starts from")]
    assert said and "run\\-7\\.pt" in said[0]  # the file's name, shown literally (markdown escaped)
    assert not [c.value for c in page({"recipe": "lstm64"}).sidebar.caption if c.value.startswith("🔁")]
