"""Learn, "Teach it your handwriting" (issue 33): the lesson runs what bench/finetune.py measured, on your drawings."""
import json
from pathlib import Path

import pytest

from playground import lessons, measured, own
from playground.config import recipe
from playground.engine.training import Trainer
from tests.conftest import app_page, poll_until
from tests.test_draw import mnist_digit
from ui.lesson_view import LESSON as PICKER

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"
LESSON = lessons.BY_KEY["handwriting"]


def test_the_lesson_runs_what_the_bench_measured():
    from bench.finetune import TRAIN_PER_DIGIT, VARIANTS

    for key, setup in measured.FINETUNE.items():
        got = json.loads((RESULTS / setup.file).read_text())
        assert setup.file == measured.MEASURED[key].file
        assert (setup.lr, setup.epochs, setup.batch_size, setup.replay, setup.base_test_acc) == \
            (got["lr"], got["epochs"], got["batch_size"], got["replay"], got["base_test_acc"])
        assert setup.trained_on == got["configs"]["all"]["trained_on"]["mean"] == 10 * TRAIN_PER_DIGIT
        assert setup.held_out == got["configs"]["all"]["held_out"]["mean"]
    ft = measured.FINETUNE["finetune-lr0.01"]
    assert measured.MEASURED["handwriting"] is measured.MEASURED["finetune-lr0.01"]
    for run, cfg in LESSON.configs("cpu"):
        change = VARIANTS[run.key]
        assert cfg.model == recipe("lstm64").model and cfg.data.normalize == recipe("lstm64").data.normalize
        assert (cfg.optim.lr, cfg.optim.epochs, cfg.optim.batch_size) == (ft.lr, ft.epochs, ft.batch_size)
        assert (cfg.optim.train_layers, cfg.data.replay) == (change["train_layers"], change.get("replay", 0))


def test_the_handwriting_verdict_follows_the_measured_runs():
    judge, choices = LESSON.judge, LESSON.choices
    assert judge({}) is None and judge({"all": {"test_acc": 0.9}}) is None  # not a fine-tune: no verdict
    got = measured.runs("handwriting")["all"]
    for gain, loss in ((got.own_gain.low, got.mnist_loss.low), (got.own_gain.high, got.mnist_loss.high)):
        assert choices[judge({"all": {"own_gain": gain, "mnist_loss": loss}})] == choices[3]  # every seed's
    assert choices[3].startswith("yours less than") and choices[3].endswith("2 points or more")
    assert judge({"all": {"own_gain": 0.10, "mnist_loss": 0.0}}) == 0
    assert judge({"all": {"own_gain": 0.10, "mnist_loss": 0.05}}) == 1
    assert judge({"all": {"own_gain": -0.10, "mnist_loss": 0.01}}) == 2
    # What the text says "in every seed" holds in every seed.
    assert ("forgotten in every seed" in LESSON.explanation) == (got.mnist_loss.low > 0)
    assert measured.runs("handwriting")["last"].mnist_loss.high < got.mnist_loss.low  # the remedies forget less
    assert measured.runs("handwriting")["replay"].mnist_loss.mean < got.mnist_loss.mean


def test_a_fine_tunes_result_is_judged_by_before_and_after():
    got = lessons.run_result({"test_acc": 0.9, "fine_tune": {"own_before": 0.8, "own_after": 0.9, "held_out": 10,
                                                             "mnist_before": 0.95, "mnist_after": 0.9}}, [])
    assert got["own_gain"] == pytest.approx(0.1) and got["mnist_loss"] == pytest.approx(0.05)


def _keep(store, per_digit: int, start: int = 0) -> None:
    """MNIST test digits kept as drawings: `per_digit` of each, labelled as they are."""
    from playground.data import load_dataset

    ds = load_dataset("mnist")
    for d in range(10):
        for i in (ds.test_y == d).nonzero().flatten()[start:start + per_digit].tolist():
            store.add_drawing(ds.test_x[i, 0].numpy() / 255.0, d)


def test_the_fine_tunes_train_on_two_of_each_digit_and_hold_out_as_many_of_each(home, store):
    base = type("Run", (), {"checkpoint": "/nowhere/base.pt"})()
    _keep(store, 2)
    with pytest.raises(own.OwnDataError, match="at least 3 kept drawings of every digit"):
        lessons.handwriting_configs(LESSON, base, store.list_drawings(), "cpu")
    _keep(store, 3, start=2)
    store.add_drawing(mnist_digit(0) / 255.0, 7)  # a sixth 7: the lesson takes 5 of each, the first kept
    drawings = store.list_drawings()
    runs = lessons.handwriting_configs(LESSON, base, drawings, "cpu")
    assert [r.key for r, _ in runs] == ["all", "last", "replay"]
    assert all(cfg.model.init_from == "/nowhere/base.pt" for _, cfg in runs)
    snap = own.read_snapshot(runs[0][1].data.dataset)
    assert len(snap.train_ids) == 20 and len(snap.test_ids) == 30 and not set(snap.train_ids) & set(snap.test_ids)
    labels = {d.id: d.label for d in drawings}
    assert [sum(labels[i] == d for i in snap.train_ids) for d in range(10)] == [2] * 10
    assert drawings[-1].id not in snap.train_ids + snap.test_ids
    assert lessons.handwriting_sizes([d.label for d in drawings]) == (20, 30)


@pytest.fixture
def base_home(home, store, monkeypatch):
    """A home with a tiny model of the LSTM 64 recipe's shape (300 images), lessons at the tiny scale."""
    monkeypatch.setenv(lessons.SCALE_ENV, "tiny")
    cfg = recipe("lstm64").override(limit=300, device="cpu")
    assert Trainer(cfg, store, store.create_run(cfg, "lstm64 base")).run().status == "finished"
    return store


def _open(at):
    at.run()
    at.radio(key=PICKER).set_value("handwriting").run()
    at.radio(key="guess-handwriting").set_value(LESSON.choices[3]).run()
    return at


def _run_button(at):
    return at.button(key="run-handwriting")


def test_without_enough_drawings_the_lesson_sends_you_to_draw(base_home):
    _keep(base_home, 1)
    at = _open(app_page("pages/learn.py"))
    assert not at.exception
    assert any("needs at least 3 kept drawings of every digit" in i.value for i in at.info)
    assert any("draw" in link.proto.page for link in at.get("page_link"))
    assert _run_button(at).disabled  # a guess, but not the drawings


def test_with_drawings_the_lesson_fine_tunes_the_base_and_judges_the_guess(base_home):
    _keep(base_home, 3)
    [base] = base_home.list_runs()
    at = _open(app_page("pages/learn.py", timeout=120))
    assert not _run_button(at).disabled and any(f"fine-tunes #{base.id}" in c.value for c in at.caption)
    assert any("it trains on 20 and holds out 10" in c.value and "by 10%" in c.value for c in at.caption)
    _run_button(at).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    ids = base_home.lessons()["handwriting"]["run_ids"]
    runs = [base_home.get_run(i) for i in ids]
    assert [r.config.optim.train_layers for r in runs] == ["all", "last", "all"]
    assert all(own.is_own(r.config.data.dataset) and r.config.model.init_from == str(base.checkpoint) for r in runs)
    poll_until(at, lambda a: any(s.value == "What happened" for s in a.subheader), seconds=180)
    [table] = [df.value for df in at.table if "your held-out drawings" in df.value.columns]
    assert list(table["held out"]) == ["10"] * 3 and all("→" in v for v in table["MNIST test"])
    assert any("on your held-out drawings (never trained on)" in c.value for c in at.caption)
    assert not any("This run's validation accuracy" in c.value for c in at.caption)  # it has none
    assert any("The runs say" in m.value or "The runs agree" in m.value for m in [*at.info, *at.success])
    assert base_home.lessons()["handwriting"]["done"]
