"""A run trained on your own data whose snapshot is gone (deleted by hand, a store copied from elsewhere): its
pages show its numbers and say what is missing, never a stack trace (found by the round-4 adversary)."""
import shutil

import pytest

from playground.data import known_spec
from playground.engine.training import Trainer
from playground.store import RunStore
from tests.conftest import app_page, tiny
from tests.test_draw_classes import _marks


@pytest.fixture(scope="module")
def gone_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("own-gone")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        store = RunStore(home)
        runs, marks = [], _marks(store)
        for seed in (0, 1):
            cfg = tiny(dataset=marks, epochs=1, limit=0, batch_size=8, hidden=16, seed=seed)
            runs.append(store.create_run(cfg, f"marks {seed}"))
            assert Trainer(cfg, store, runs[-1]).run().status == "finished"
        store.close()
    shutil.rmtree(home / "own")  # every snapshot folder: the data gone, the runs kept
    return home, runs, marks


def test_train_shows_a_run_whose_own_data_is_gone_and_says_so(gone_home, monkeypatch):
    home, (run_id, _), marks = gone_home
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    assert known_spec(marks) is None and known_spec("mnist") is not None
    at = app_page("pages/train.py")
    at.query_params["run"] = str(run_id)
    at.run()
    assert not at.exception, at.exception
    assert any(f"{marks} (no longer in this home)" in c.value for c in at.caption)
    assert any("is no longer in this home" in i.value for i in at.info)


def test_compare_of_two_such_runs_shows_them_without_their_images(gone_home, monkeypatch):
    home, runs, _ = gone_home
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    at = app_page("pages/compare.py")
    at.query_params["ids"] = ",".join(map(str, runs))
    at.run()
    assert not at.exception, at.exception
    assert not any(e.label.startswith("🔍 Where") for e in at.expander)  # no test images to compare
