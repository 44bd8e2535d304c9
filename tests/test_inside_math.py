"""Inside's "show the math" under AppTest, on checkpoints trained here: a LeNet, a batch-norm CNN and a stacked
LSTM. The numbers on screen are by_hand's, and by_hand's are PyTorch's (tests/test_by_hand.py)."""
import json

import pytest
import torch

from playground import by_hand, probes
from playground.data import sample
from playground.engine.training import Trainer
from playground.inference import load_checkpoint
from playground.store import RunStore
from ui.inside_pick import MATH
from ui.lesson_view import LESSON

from conftest import app_page, tiny


@pytest.fixture(scope="module")
def math_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("inside-math")
    store = RunStore(home)
    configs = {"lenet": tiny(arch="lenet", epochs=1, limit=300),
               "cnn bn": tiny(arch="cnn", epochs=1, limit=300, batchnorm=True, optimizer="sgd", momentum=0.9),
               "lstm 2 layers": tiny(arch="lstm", epochs=1, limit=300, hidden=16, layers=2)}
    ids = {}
    for name, cfg in configs.items():
        ids[name] = store.create_run(cfg, name)
        assert Trainer(cfg, store, ids[name]).run().status == "finished"
    runs = {r.id: r for r in store.list_runs()}
    store.close()
    return home, ids, runs


def open_inside(math_home, monkeypatch, model: str):
    home, ids, runs = math_home
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    at = app_page("pages/inside.py")
    at.session_state["inside_model"] = ids[model]
    at.session_state["inside_other"] = "nothing"
    at.session_state["inside_view"] = MATH  # the tab of the math, built only while open
    at.session_state[f"tmath-{ids[model]}-panel"] = True  # "One training step by hand" is built only while open
    return at.run(), ids[model], load_checkpoint(runs[ids[model]].checkpoint)


def test_the_training_step_is_worked_out_only_while_its_panel_is_open(math_home, monkeypatch):
    """Issue 36: shut, its forward and backward pass and its charts were computed and sent on every visit."""
    at, i, _ = open_inside(math_home, monkeypatch, "lenet")
    assert at.number_input(key=f"tmath-{i}-step") is not None
    at.session_state[f"tmath-{i}-panel"] = False
    at.run()
    assert not at.exception and f"tmath-{i}-step" not in [w.key for w in at.number_input]


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_a_lenet_cell_clicked_by_number_shows_its_sum_and_pytorchs_value(math_home, monkeypatch):
    at, i, loaded = open_inside(math_home, monkeypatch, "lenet")
    assert not at.exception
    k = f"math-{i}"
    at.selectbox(key=f"{k}-block").set_value(2)
    at.number_input(key=f"{k}-channel").set_value(5)
    at.run()
    at.number_input(key=f"{k}-row").set_value(4)
    at.number_input(key=f"{k}-col").set_value(7)
    at.run()
    assert not at.exception
    x, _, _ = sample(loaded.config, 0)  # the page's first input: test image 0
    cell = by_hand.conv_cell(loaded.model, x, 2, 4, 3, 6)
    text = markdown(at)
    assert "⌊(14 + 2·0 − 5) / 1⌋ + 1 = 10" in text
    assert f"= **{cell.total:+.4f}** (PyTorch's conv gives {cell.conv:+.4f})" in text
    assert f"**{cell.activation}**({cell.total:+.4f}) = **{cell.activated:+.4f}**" in text
    assert "Sum of the 150 products** (6 input channels × 25)" in text
    # the input channel picker starts at the channel whose products weigh most
    assert "input channel" in at.selectbox(key=f"{k}-in").format_func(at.selectbox(key=f"{k}-in").value)
    # no Plotly toolbar over the patch figures' titles ("What this cell sees", "input patch")
    figs = [c for c in at.get("plotly_chart") if any(f"{k}-{p}" in (c.proto.id or "") for p in ("field", "patch"))]
    assert len(figs) == 2 and all(json.loads(c.proto.config or "{}").get("displayModeBar") is False for c in figs)


def test_a_pooled_cell_of_a_batchnorm_cnn_shows_its_window_and_the_kept_value(math_home, monkeypatch):
    at, i, loaded = open_inside(math_home, monkeypatch, "cnn bn")
    k = f"math-{i}"
    at.radio(key=f"{k}-stage").set_value("after max-pool").run()
    at.number_input(key=f"{k}-row").set_value(7)
    at.number_input(key=f"{k}-col").set_value(8).run()
    assert not at.exception
    x, _, _ = sample(loaded.config, 0)
    pool = by_hand.pool_cell(loaded.model, x, 1, 0, 6, 7)
    text = markdown(at)
    assert f"keeps **{pool.kept:+.4f}**" in text and "batch-norm" in text
    assert "⌊(28 + 2·0 − 2) / 2⌋ + 1 = 14" in text  # the pool's own output size


def test_a_click_on_the_map_picks_the_cell(math_home, monkeypatch):
    """What the browser sends when a cell is clicked: the selection's point, rows and columns from 1."""
    at, i, _ = open_inside(math_home, monkeypatch, "lenet")
    k = f"math-{i}"
    at.session_state[f"{k}-map"] = {"selection": {"points": [{"x": 9, "y": 12}], "point_indices": [0],
                                                  "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    assert at.number_input(key=f"{k}-row").value == 12 and at.number_input(key=f"{k}-col").value == 9
    [spec] = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "click a cell" in c.proto.spec]
    [box] = spec["layout"]["shapes"]  # the clicked cell is outlined in the same run, not one click late
    assert (box["x0"], box["y0"]) == (8.5, 11.5)


def test_an_lstm_row_shows_the_cell_equations_with_pytorchs_state(math_home, monkeypatch):
    at, i, loaded = open_inside(math_home, monkeypatch, "lstm 2 layers")
    assert not at.exception
    k = f"rmath-{i}"
    at.slider(key=f"{k}-t").set_value(20)
    at.selectbox(key=f"{k}-layer").set_value(1).run()
    assert not at.exception
    x, _, _ = sample(loaded.config, 0)
    step = by_hand.recurrent_step(loaded.model, x, 19, 1)
    top = by_hand.unit_rows(step)[0]["unit"]
    assert at.number_input(key=f"{k}-unit").value == top  # the unit that changed most, at first
    [code] = [c.value for c in at.code if "c_t = f·c_(t−1)" in c.value]
    assert code == "\n".join(by_hand.unit_equations(step, top - 1))
    assert any("c_t = f \\odot c_{t-1}" in e.value for e in at.get("latex"))
    p = probes.row_predictions(loaded.model, x)[19]
    assert f"Answer after row 20: **{loaded.classes[int(p.argmax())]}** ({p.max():.0%} sure)" in markdown(at)
    # the page's own answer (one model: nothing beside it) stays the only metric (test_inside counts them)
    assert [m.label.split(" predicts")[0] for m in at.metric] == [f"#{i} LSTM, trained"]


@pytest.mark.parametrize("model", ["cnn bn", "lstm 2 layers"])
def test_one_training_step_by_hand_matches_the_optimizer(math_home, monkeypatch, model):
    at, i, loaded = open_inside(math_home, monkeypatch, model)
    k = f"tmath-{i}"
    at.number_input(key=f"{k}-step").set_value(2).run()
    assert not at.exception
    x, _, label = sample(loaded.config, 0)
    param = next(n for n, _ in loaded.model.named_parameters())
    s = by_hand.training_step(loaded.model, loaded.config, x, label, param, step=2)
    text = markdown(at)
    assert f"**{s.loss:.4f}**" in text and f"w = {s.torch_weight:+.6g}" in text
    if not s.l2_term:  # the loss is said once, not "= 0.0170 = 0.0170"
        assert f"= {s.loss:.4f} = **{s.loss:.4f}**" not in text
    assert f"{s.loss:.4f} → **{s.loss_after:.4f}**" in text
    [row] = [line for line in text.splitlines() if line.startswith(f"| {s.raw_grad:+.6g} |")]
    autograd, difference, relative = (float(v) for v in row.strip("| ").split(" | "))
    assert difference == pytest.approx(autograd, rel=1e-2) and relative < 1e-2
    [update] = [c.value for c in at.code if "w ← w" in c.value]
    assert update == "\n".join(s.lines)
    if loaded.config.optim.optimizer == "sgd":
        assert "v ← μ·v + g" in update  # the second step: momentum's buffer carries the first step
    else:
        assert "m ← β₁·m" in update
    at.number_input(key=f"{k}-weight").set_value(3).run()  # any weight: the 3rd of the tensor
    s3 = by_hand.training_step(loaded.model, loaded.config, x, label, param, (0,) * (len(s.index) - 1) + (2,),
                               step=2)
    assert s3.index[-1] == 2 and f"w = {s3.torch_weight:+.6g}" in markdown(at)
    assert torch.equal(dict(loaded.model.named_parameters())[param], dict(
        load_checkpoint(loaded.path).model.named_parameters())[param])


def test_the_conv_lesson_works_out_one_filter_by_hand(math_home, monkeypatch):
    """Learn's "What does one filter compute?": its sentences are the trained LeNet's own numbers."""
    from playground import lessons

    home, ids, runs = math_home
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    monkeypatch.setenv("PLAYGROUND_LESSON_SCALE", "tiny")
    at = app_page("pages/learn.py").run()
    at.radio(key=LESSON).set_value("conv").run()
    at.radio(key="guess-conv").set_value(lessons.BY_KEY["conv"].choices[0]).run()
    reuse = next(b for b in at.button if b.key == "reuse-conv")
    run_id = int(reuse.label.split("#")[1].split()[0])  # "Use my CNN run #N (no training)"
    reuse.click().run()
    assert not at.exception
    assert any(s.value == "What does one filter compute?" for s in at.subheader)
    loaded = load_checkpoint(runs[run_id].checkpoint)
    x, _, _ = sample(loaded.config, 0)
    story = by_hand.strongest_cell(loaded.model, x)
    assert story.text in markdown(at) and story.worst < 1e-4


def test_a_filter_beyond_the_next_layers_count_is_brought_back(math_home, monkeypatch):
    at, i, _ = open_inside(math_home, monkeypatch, "lenet")
    k = f"math-{i}"
    at.selectbox(key=f"{k}-block").set_value(2).run()
    at.number_input(key=f"{k}-channel").set_value(16)
    at.number_input(key=f"{k}-row").set_value(10).run()
    at.selectbox(key=f"{k}-block").set_value(1).run()  # conv 1 has 6 filters
    assert not at.exception
    assert at.number_input(key=f"{k}-channel").value == 1 and at.number_input(key=f"{k}-row").value == 10


def test_on_a_drawing_the_math_reads_the_drawing_and_the_step_asks_for_its_label(math_home, monkeypatch):
    """Draw's "Look inside" opens Inside on the drawing: every view works on it; a drawing has no true label,
    so the training step starts from the model's own answer and lets the learner say what was drawn."""
    import numpy as np

    from playground.data import load_dataset
    from ui.state import LAST_DIGIT

    home, ids, runs = math_home
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    digit = load_dataset("mnist").test_x[3, 0].numpy().astype(np.float32) / 255  # a "drawing" in [0, 1]
    at = app_page("pages/inside.py")
    at.session_state["inside_model"] = ids["lenet"]
    at.session_state["inside_other"] = "nothing"
    at.session_state[LAST_DIGIT] = digit
    at.session_state["inside_source"] = "my drawing"
    at.session_state["inside_view"] = MATH
    at.session_state[f"tmath-{ids['lenet']}-panel"] = True
    at.run()
    assert not at.exception
    loaded = load_checkpoint(runs[ids["lenet"]].checkpoint)
    x = probes.model_input(torch.as_tensor(digit)[None, None] * 255.0, loaded.config)
    cell = by_hand.conv_cell(loaded.model, x, 1, 0, 0, 0)
    assert f"= **{cell.total:+.4f}** (PyTorch's conv gives {cell.conv:+.4f})" in markdown(at)
    answer = int(probes.class_probabilities(loaded.model, x).argmax())
    label = at.selectbox(key=f"tmath-{ids['lenet']}-label")
    assert label.value == answer and label.help
    label.set_value((answer + 1) % 10).run()
    s = by_hand.training_step(loaded.model, loaded.config, x, (answer + 1) % 10,
                              next(n for n, _ in loaded.model.named_parameters()))
    assert f"**{s.loss:.4f}**" in markdown(at)


def test_the_clicked_cell_survives_a_visit_to_another_page(math_home, monkeypatch):
    """Issue 31: back on Inside by the sidebar, the math showed row 1, column 1 of the first filter again."""
    at, i, loaded = open_inside(math_home, monkeypatch, "lenet")
    k = f"math-{i}"
    at.selectbox(key=f"{k}-block").set_value(2)
    at.radio(key=f"{k}-stage").set_value("after max-pool")
    at.number_input(key=f"{k}-channel").set_value(5)
    at.run()
    at.number_input(key=f"{k}-row").set_value(4)
    at.number_input(key=f"{k}-col").set_value(3)
    at.run()
    before = markdown(at)
    at.switch_page("pages/home.py").run()
    assert not at.exception
    at.switch_page("pages/inside.py").run()
    assert not at.exception and at.session_state["inside_view"] == MATH  # the math's tab still open
    assert [at.number_input(key=f"{k}-{n}").value for n in ("channel", "row", "col")] == [5, 4, 3]
    assert at.selectbox(key=f"{k}-block").value == 2 and at.radio(key=f"{k}-stage").value == "after max-pool"
    assert "max-pool** of the window" in markdown(at) and markdown(at) == before  # the same cell, worked out
