"""Inside page under AppTest, on checkpoints made here: a CNN (plain and batch-norm) and RNN/LSTM/GRU."""
import json

import pytest

from playground.store import RunStore
from playground.training import Trainer
from conftest import app_page, tiny


@pytest.fixture(scope="module")
def inside_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("inside")
    store = RunStore(home)
    configs = {
        "cnn plain": tiny(arch="cnn", epochs=1, limit=300),
        "cnn bn": tiny(arch="cnn", epochs=1, limit=300, batchnorm=True),
        "rnn": tiny(arch="rnn", epochs=1, limit=300),
        "gru": tiny(arch="gru", epochs=1, limit=300),
        "lstm": tiny(arch="lstm", epochs=1, limit=300),
    }
    ids = {}
    for name, cfg in configs.items():
        ids[name] = store.create_run(cfg, name)
        assert Trainer(cfg, store, ids[name]).run().status == "finished"
    store.close()
    return home, ids


def chart_texts(at) -> list[str]:
    """Each plotly chart's spec as readable text (titles, subplot titles)."""
    return [json.dumps(json.loads(c.proto.spec), ensure_ascii=False) for c in at.get("plotly_chart")]


def open_inside(inside_home, monkeypatch, model: str):
    home, ids = inside_home
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    at = app_page("pages/inside.py")
    at.session_state["inside_model"] = ids[model]
    return at.run(), ids


def test_cnn_maps_table_and_filters(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "cnn plain")
    assert not at.exception
    table = at.dataframe[0].value
    assert "⌊(28 + 2·1 − 3) / 1⌋ + 1 = 28" in set(table["output size"])
    titles = chart_texts(at)
    assert len(titles) == 1 + 6 + 1  # input, 2 blocks x (conv, activation, pool), filters
    assert any("block 2 after pool (8×7×7)" in t for t in titles)


def test_cnn_side_by_side_with_batchnorm_and_untrained(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "cnn plain")
    at.selectbox(key="inside_other").set_value(ids["cnn bn"]).run()
    assert not at.exception
    at.toggle(key="inside_untrained").set_value(True).run()
    assert not at.exception
    specs = chart_texts(at)
    assert any("untrained" in s for s in specs) and any(f"#{ids['cnn bn']}: first-layer filters" in s for s in specs)


def test_lstm_hidden_states_gates_and_gradient_through_time(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "lstm")
    assert not at.exception
    specs = chart_texts(at)
    assert any("forget gate" in s for s in specs)
    assert any("Gradient through time" in s for s in specs)
    assert any("How the prediction forms" in s for s in specs)
    assert len(at.multiselect(key="gtt_models").value) == 3  # rnn, gru, lstm on one chart


def test_gru_and_a_random_input(inside_home, monkeypatch):
    at, ids = open_inside(inside_home, monkeypatch, "gru")
    [b for b in at.button if "Random" in b.label][0].click().run()
    assert not at.exception
    assert any("update gate" in t for t in chart_texts(at))


def test_a_broken_checkpoint_to_compare_with_is_a_warning_not_a_crash(store, home):
    cfg = tiny(arch="cnn", epochs=1, limit=300)
    good = store.create_run(cfg, "good")
    assert Trainer(cfg, store, good).run().status == "finished"
    broken = store.create_run(cfg, "broken")
    path = store.checkpoint_path(broken)
    path.write_bytes(store.checkpoint_path(good).read_bytes()[:200])  # a truncated copy
    store.update_run(broken, status="finished", checkpoint=str(path))
    at = app_page("pages/inside.py")
    at.session_state["inside_model"] = good
    at.run()
    at.selectbox(key="inside_other").set_value(broken).run()
    assert not at.exception
    assert any(f"run-{broken}.pt" in w.value for w in at.warning)
    assert len(chart_texts(at)) == 1 + 6 + 1  # the good model's views are all still there
