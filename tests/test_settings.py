"""PLAYGROUND_* settings: defaults, bounds, and a clear message (not a traceback) for bad values."""
import pytest

from playground.settings import SettingError, Settings

from conftest import app_page


def test_defaults_follow_the_executor():
    s = Settings.from_env({})
    assert s.max_concurrent is None and s.threads_per_run == 1 and s.ray_address is None


@pytest.mark.parametrize(("name", "value", "match"), [
    ("PLAYGROUND_MAX_CONCURRENT", "0", "out of range"), ("PLAYGROUND_MAX_CONCURRENT", "abc", "not a whole number"),
    ("PLAYGROUND_THREADS", "-1", "out of range")])
def test_bad_values_are_refused_by_name(name, value, match):
    with pytest.raises(SettingError, match=f"{name}.*{match}"):
        Settings.from_env({name: value})


def test_a_bad_setting_is_a_message_on_the_page(home, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_CONCURRENT", "abc")
    at = app_page("pages/train.py").run()
    assert not at.exception
    assert any("PLAYGROUND_MAX_CONCURRENT='abc' is not a whole number" in e.value for e in at.error)
