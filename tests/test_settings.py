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


def test_settings_is_the_only_reader_of_the_environment():
    import re

    from conftest import ROOT

    files = [p for folder in ("playground", "ui", "pages") for p in (ROOT / folder).rglob("*.py")]
    readers = [str(p.relative_to(ROOT)) for p in files
               if re.search(r"os\.environ\.get|os\.environ\[|getenv\(", p.read_text()) and p.name != "settings.py"]
    assert readers == []


def test_every_setting_is_read_from_the_environment_given():
    s = Settings.from_env({"PLAYGROUND_DATA": "/d", "PLAYGROUND_MNIST_DIR": "/m", "PLAYGROUND_CUDA_GRAPHS": "off",
                           "PLAYGROUND_LESSON_SCALE": "TINY", "PLAYGROUND_RAY_ADDRESS": " auto "})
    assert (str(s.data), s.dataset_dir("mnist"), s.dataset_dir("cifar2")) == ("/d", "/m", None)
    assert (s.cuda_graphs, s.lesson_scale, s.ray_address) == (False, "tiny", "auto")


def test_the_current_settings_follow_the_environment(monkeypatch):
    from playground import settings

    monkeypatch.setenv("PLAYGROUND_LESSON_SCALE", "cpu")
    assert settings.current().lesson_scale == "cpu"
    monkeypatch.setenv("PLAYGROUND_LESSON_SCALE", "gpu")
    assert settings.current().lesson_scale == "gpu"


def test_the_thread_count_bound_is_the_one_the_readme_states():
    with pytest.raises(SettingError, match="1 to 64"):
        Settings.from_env({"PLAYGROUND_THREADS": "-1"})
