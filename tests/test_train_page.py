"""The Train page under AppTest: the form in the URL, the run view's words, unreadable rows, bad links,
a test accuracy on demand, the code behind a run. Runs are made in the store directly (tiny, or none
trained at all) so each test takes seconds."""
import json
import sqlite3
import time

import pytest

from playground import codegen, inference
from playground.config import RECIPES
from playground.engine.training import Snapshot, Trainer
from playground.errors import RunStatus
from playground.store import RunRecord, RunStore
from ui.run_facts import progress, run_from_link, trained_by
from ui.train_form import RECIPE

from conftest import app_page, tiny


def page(params: dict | None = None):
    at = app_page("pages/train.py")
    at.query_params.update(params or {})
    return at.run()


def settings(at) -> dict:
    return {k: v for k, v in at.query_params.items() if k != "run"}


def by_label(elements, label: str):
    return next(e for e in elements if e.label == label)


def labels(at, kind: str) -> list[str]:
    return [e.proto.label for e in at.get(kind)]


def sql(home, statement: str, *args) -> None:
    db = sqlite3.connect(home / "runs.db")
    with db:
        db.execute(statement, args)
    db.close()


# ------------------------------------------------------------------ the form in the URL
def test_the_form_lives_in_the_url_and_a_reload_keeps_it(home):
    at = page()
    assert not at.exception and settings(at) == {"recipe": "lstm64"}  # in place: no second history entry
    at.sidebar.number_input(key="f_hidden").set_value(32).run()
    at.sidebar.number_input(key="f_epochs").set_value(3).run()
    assert settings(at) == {"recipe": "lstm64", "hidden": "32", "epochs": "3"}
    # A reload, or the link in a new tab: a new session reads the same form back.
    again = page(at.query_params)
    assert not again.exception and not again.sidebar.warning
    assert again.session_state["f_hidden"] == 32 and again.session_state["f_epochs"] == 3
    assert again.session_state[RECIPE] == "(custom)" and again.session_state["f_lr"] == RECIPES["lstm64"].optim.lr
    # Back from another page by the sidebar (Streamlit drops the query): the form is kept, and goes back into
    # the URL at once (rewritten in place, ui.navigation.show_in_url: a reload right then keeps it too).
    again.switch_page("pages/compare.py").run()
    again.query_params.clear()
    again.switch_page("pages/train.py").run()
    assert again.session_state["f_hidden"] == 32
    assert settings(again) == {"recipe": "lstm64", "hidden": "32", "epochs": "3"}
    again.sidebar.number_input(key="f_epochs").set_value(4).run()
    assert settings(again) == {"recipe": "lstm64", "hidden": "32", "epochs": "4"}


def test_a_link_fills_the_form_and_a_recipe_link_names_the_recipe(home, monkeypatch):
    at = page({"recipe": "cnn", "epochs": "3"})
    assert at.session_state["f_arch"] == "cnn" and at.session_state["f_epochs"] == 3
    assert at.session_state[RECIPE] == "(custom)"
    plain = page({"recipe": "gru3x200"})
    assert plain.session_state[RECIPE] == "gru3x200" and plain.session_state["f_layers"] == 3
    # A link from another page (Learn's "try next") in a session that already has a form wins over it.
    plain.switch_page("pages/compare.py").run()
    plain.query_params.clear()
    plain.query_params.update({"recipe": "rnn128", "arch": "lstm"})
    plain.switch_page("pages/train.py").run()
    assert not plain.exception
    assert plain.session_state["f_arch"] == "lstm" and plain.session_state["f_hidden"] == 128


def test_a_rerun_with_an_older_url_keeps_the_users_edit(home):
    """A rerun sent before the browser took the newest URL carries the one before: it must not undo an edit."""
    at = page()
    at.sidebar.number_input(key="f_hidden").set_value(32).run()
    at.query_params.clear()
    at.query_params.update({"recipe": "lstm64"})  # the URL before that edit
    at.sidebar.number_input(key="f_epochs").set_value(3).run()
    assert (at.session_state["f_hidden"], at.session_state["f_epochs"]) == (32, 3)
    assert settings(at) == {"recipe": "lstm64", "hidden": "32", "epochs": "3"}


def test_a_bad_link_is_a_message_and_leaves_the_url(home):
    at = page({"recipe": "lstm64", "hidden": "abc"})
    assert not at.exception
    assert any("hidden" in w.value and "not a whole number" in w.value for w in at.sidebar.warning)
    assert at.session_state["f_hidden"] == 64 and settings(at) == {"recipe": "lstm64"}
    assert not page({"recipe": "nope"}).exception


def test_train_clears_the_name_and_keeps_the_settings_in_the_url(home):
    at = page({"recipe": "lstm64", "hidden": "8", "limit": "600", "epochs": "1", "device": "cpu"})
    at.sidebar.text_input(key="run_name").input("first")
    at.sidebar.button[0].click().run()
    assert not at.exception and at.sidebar.text_input(key="run_name").value == ""
    run_id = RunStore(home).list_runs()[0].id
    assert at.query_params["run"] == str(run_id) and settings(at)["hidden"] == "8"
    RunStore(home).request_stop(run_id)  # nothing more is needed from it
    jobs_wait(home, run_id)


def test_a_schedule_is_picked_in_the_form_kept_in_the_url_and_the_run_and_drawn_under_its_loss(home):
    """Issue 23: the schedule select next to the learning rate; the run trains with it and charts its rate."""
    from playground.settings import Settings
    from ui.common import _registry

    at = page({"recipe": "lstm64", "hidden": "8", "limit": "300", "epochs": "1", "device": "cpu"})
    select = at.sidebar.selectbox(key="f_schedule")
    assert select.label == "Learning-rate schedule" and select.value == "constant"
    assert select.options == ["constant", "step", "cosine", "one-cycle"] and "OneCycleLR" in select.help
    select.set_value("onecycle").run()
    assert settings(at)["schedule"] == "onecycle"
    by_label(at.sidebar.button, "Train").click().run()
    assert not at.exception
    run_id = int(at.query_params["run"])
    assert RunStore(home).get_run(run_id).config.optim.schedule == "onecycle"
    snap = _registry(str(Settings.from_env().home)).wait(run_id, timeout=120)  # the app's own registry
    assert snap.status == RunStatus.FINISHED, snap.message
    rates = [r["lr"] for r in RunStore(home).steps(run_id)]
    assert rates[0] == pytest.approx(0.01 / 25) and max(rates) == pytest.approx(0.01, rel=0.05)  # lstm64's lr 0.01
    at.run()
    traces = [t.get("name") for c in at.get("plotly_chart") for t in json.loads(c.proto.spec)["data"]]
    assert "learning rate" in traces


def test_augmentation_is_a_form_setting_with_a_preview_of_the_batch_it_trains_on(home):
    """Issue 23: a checkbox, kept in the URL and the run; the preview shows the first batch stored and augmented."""
    at = page({"recipe": "lenet", "limit": "300", "epochs": "1", "device": "cpu"})
    assert not at.sidebar.get("image")  # the preview is built only while its panel is open (issue 36)
    at.session_state["panel-batch"] = True
    at.run()
    assert "Tick **Augment training images**" in " ".join(c.value for c in at.sidebar.caption)
    box = at.sidebar.checkbox(key="f_augment")
    assert box.label == "Augment training images" and not box.value
    box.check().run()
    assert not at.exception and settings(at)["augment"] in ("true", "True", "1")
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "as the first step trains on them" in captions
    assert len(at.sidebar.get("image")) == 2  # stored, then augmented
    by_label(at.sidebar.button, "Train").click().run()
    run_id = int(at.query_params["run"])
    assert RunStore(home).get_run(run_id).config.data.augment is True


def jobs_wait(home, run_id: int, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while RunStore(home).get_run(run_id).status in (RunStatus.QUEUED, RunStatus.RUNNING):
        assert time.time() < deadline
        time.sleep(0.2)


def test_train_again_with_one_change_loads_the_run_into_the_form_and_the_url(home, store):
    cfg = tiny(hidden=24, epochs=3, lr=0.005)
    run_id = store.create_run(cfg, "earlier", status="finished")
    at = page({"run": str(run_id)})
    by_label(at.button, "🔁 Train again with one change").click().run()
    assert not at.exception
    s = at.session_state
    assert (s["f_hidden"], s["f_epochs"], s["f_lr"], s["f_limit"]) == (24, 3, 0.005, 600)
    assert settings(at)["hidden"] == "24" and settings(at)["lr"] == "0.005"
    assert any(f"run #{run_id}'s settings" in m.value for m in at.sidebar.success)
    assert at.sidebar.number_input(key="f_hidden").value == 24


def test_a_study_runs_evaluation_schedule_shows_in_the_form_not_hidden_in_it(home, store):
    """A study run evaluates every few epochs; loaded into the form, that setting is a field the user sees (and a
    link parameter), not a hidden value the next run would silently inherit."""
    run_id = store.create_run(tiny(epochs=12, eval_every=6), "study run", status="finished")
    at = page({"run": str(run_id)})
    by_label(at.button, "🔁 Train again with one change").click().run()
    assert not at.exception
    assert at.sidebar.number_input(key="f_eval_every").value == 6 and settings(at)["eval_every"] == "6"
    at.sidebar.number_input(key="f_eval_every").set_value(1).run()
    assert "eval_every" not in settings(at)


# ------------------------------------------------------------------ the run view's words
def snap(**kw) -> Snapshot:
    base = dict(status=RunStatus.STOPPED, message=None, epoch=5, epochs=10, step=500, total_steps=1000,
                steps_per_epoch=100, started=0.0, ended=15.0, samples_per_s=None, step_rows=[], epoch_rows=[],
                result={})
    return Snapshot(**{**base, **kw})


def test_progress_says_the_epochs_done_and_never_a_question_mark():
    assert progress(snap())[1] == "5/10 epochs done · step 500/1,000"  # not "epoch 6/10"
    assert progress(snap(step=530))[1] == "5/10 epochs done and part of epoch 6 · step 530/1,000"
    assert progress(snap(total_steps=0, steps_per_epoch=0)) == (0.5, "5/10 epochs done · 500 steps")
    failed = progress(snap(status=RunStatus.FAILED, epoch=0, step=0, total_steps=0, steps_per_epoch=0))
    assert failed == (0.0, "0/10 epochs done · no training step")
    assert progress(snap(status=RunStatus.RUNNING, step=530)) == (0.53, "epoch 6/10 · step 530/1,000")
    assert "?" not in progress(snap(status=RunStatus.RUNNING, epoch=0, step=0, total_steps=0))[1]
    assert progress(snap(status=RunStatus.FINISHED, epoch=10, step=1000))[0] == 1.0


def record(**kw) -> RunRecord:
    return RunRecord(**{"id": 1, "name": "r", "status": RunStatus.RUNNING, "config": tiny(), **kw})


def test_trained_by_names_the_process():
    from playground.store import PROCESS_TOKEN

    assert trained_by(record(owner=PROCESS_TOKEN, pid=7, host="h")) == "Training in this server (pid 7 on host h)."
    other = trained_by(record(owner="cli", pid=4242, host="box"))
    assert "another process (pid 4242 on host box)" in other and "Stop asks it through the run store" in other
    assert trained_by(record(owner="cli", pid=1, host="b", status=RunStatus.FINISHED)).startswith("Trained in another")
    ray = trained_by(record(owner=PROCESS_TOKEN, node="10.0.0.2 GPU 0 (ab12cd34)", executor="ray auto"))
    assert ray == "Training on Ray node 10.0.0.2 GPU 0 (ab12cd34), sent by this server."


def test_run_from_link_takes_ascii_digits_of_known_runs_only():
    assert run_from_link("3", [3]) == (3, None) and run_from_link(None, [3]) == (None, None)
    for text, why in (("²", "not a run number"), ("-1", "not a run number"), ("abc", "not a run number"),
                      ("99999", "there is no run #99999"), ("1" * 40, "not a run number")):
        assert run_from_link(text, [3])[0] is None and why in run_from_link(text, [3])[1]


@pytest.mark.parametrize("bad", ["²", "-1", "99999", "abc"])
def test_a_bad_run_in_the_url_is_dropped_with_a_message(home, store, bad):
    run_id = store.create_run(tiny(), "only", status="finished")
    at = page({"run": bad})
    assert not at.exception and any("The link's run was not shown" in w.value for w in at.warning)
    assert at.query_params["run"] == str(run_id)  # replaced by the run shown
    at.run()
    assert not at.warning  # said once


def test_a_bad_run_in_the_url_without_runs_is_dropped_too(home):
    at = page({"run": "²"})
    assert not at.exception and "run" not in at.query_params and at.warning


def test_a_failed_run_offers_no_empty_csv_and_no_question_mark(home, store):
    run_id = store.create_run(tiny(), "broken")
    store.update_run(run_id, status="failed", message="RuntimeError: boom", started=time.time() - 3,
                     ended=time.time())
    at = page({"run": str(run_id)})
    assert not at.exception and any("boom" in e.value for e in at.error)
    assert "⬇ Metrics (.csv)" not in labels(at, "download_button")
    text = at.get("progress")[0].proto.text
    assert "?" not in text and "no training step" in text


def test_another_process_run_says_where_it_trains_and_stop_is_a_request(home, store):
    run_id = store.create_run(tiny(), "from the CLI")
    sql(home, "UPDATE runs SET owner = 'cli', pid = 4242, host = 'elsewhere', status = 'running', started = ? "
              "WHERE id = ?", time.time(), run_id)
    at = page({"run": str(run_id)})
    assert not at.exception
    assert any("another process (pid 4242 on host elsewhere)" in c.value for c in at.caption)
    by_label(at.button, "⏹ Stop").click().run()
    assert not at.exception and store.stop_requested(run_id)
    assert any("Stop requested" in i.value and "pid 4242" in i.value for i in at.info)
    at.run()
    assert any("Stop requested" in i.value for i in at.info) and "⏹ Stop" not in [b.label for b in at.button]


# ------------------------------------------------------------------ a stopped run's test accuracy
@pytest.fixture
def stopped_run(home, store):
    """A tiny run trained to the end, then recorded as stopped without its test numbers (as a stop ends)."""
    cfg = tiny(epochs=1)
    run_id = store.create_run(cfg, "stopped early")
    done = Trainer(cfg, store, run_id).run()
    keep = {k: v for k, v in done.result.items() if k in ("train_seconds", "params", "samples_per_s")}
    store.update_run(run_id, status="stopped", message="stopped by the user", result=keep)
    return run_id, done.result["test_acc"]


def test_test_accuracy_of_a_checkpoint_matches_the_runs_own_test_pass(stopped_run, store):
    run_id, acc = stopped_run
    out = inference.test_accuracy(inference.load_checkpoint(store.checkpoint_path(run_id)))
    assert out["test_acc"] == pytest.approx(acc) and out["test_samples"] == 600
    assert sum(map(sum, out["confusion"])) == 600


def test_a_stopped_run_computes_its_test_accuracy_on_demand(stopped_run, store):
    run_id, acc = stopped_run
    at = page({"run": str(run_id)})
    assert not at.exception and "Test accuracy" not in [m.label for m in at.metric]
    assert {"Wall time", "Training time"} <= {m.label for m in at.metric}
    assert any("training steps" in c.value and "evaluation and checkpoints" in c.value for c in at.caption)
    by_label(at.button, "🧪 Compute test accuracy").click().run()
    assert not at.exception
    assert store.get_run(run_id).result["test_acc"] == pytest.approx(acc)
    assert by_label(at.metric, "Test accuracy").value == f"{acc:.2%}"
    assert any("computed afterwards from the checkpoint" in c.value for c in at.caption)
    assert "🧪 Compute test accuracy" not in [b.label for b in at.button]
    assert any(f"test acc {acc:.1%}" in o for o in at.selectbox(key="watch").options)  # the picker's label too


def test_compute_test_accuracy_survives_a_click_on_another_button(stopped_run, store):
    """In the browser: press Compute, then "Train again with one change" a second later. The second click's
    rerun used to cut the script between the evaluation and the store, dropping the accuracy silently.
    Both clicks in one rerun is what Streamlit makes of a click that arrives before the first one's rerun
    has started (it merges the two requests); one that arrives later waits for the callback, which
    never yields to Streamlit before the result is stored (checked below by calling it with no Streamlit)."""
    run_id, acc = stopped_run
    at = page({"run": str(run_id)})
    by_label(at.button, "🧪 Compute test accuracy").click()
    by_label(at.button, "🔁 Train again with one change").click().run()
    assert not at.exception
    assert store.get_run(run_id).result["test_acc"] == pytest.approx(acc)  # kept with the run
    assert by_label(at.metric, "Test accuracy").value == f"{acc:.2%}"
    assert any(f"run #{run_id}'s settings" in m.value for m in at.sidebar.success)  # the other click counted too
    # A rerun from another widget afterwards (the form) keeps it: it lives in the store, not in the session.
    at.sidebar.number_input(key="f_hidden").set_value(48).run()
    assert not at.exception and by_label(at.metric, "Test accuracy").value == f"{acc:.2%}"
    again = page({"run": str(run_id)})  # and a new session (a reload) reads it back
    assert by_label(again.metric, "Test accuracy").value == f"{acc:.2%}"


def test_the_compute_callback_needs_no_streamlit_and_a_second_click_does_nothing(stopped_run, store, monkeypatch):
    from ui import run_report

    run_id, acc = stopped_run
    run_report.compute_test_accuracy(store, run_id, {})  # outside any script run: no st.* call, no session state
    assert store.get_run(run_id).result["test_acc"] == pytest.approx(acc)
    assert store.get_run(run_id).result["train_seconds"] is not None  # the rest of the result kept
    monkeypatch.setattr(inference, "test_accuracy", lambda loaded: pytest.fail("evaluated twice"))
    run_report.compute_test_accuracy(store, run_id, {})


def test_a_test_accuracy_that_cannot_be_computed_says_why(stopped_run, store, monkeypatch):
    from playground.errors import PlaygroundError
    from ui import run_report

    def refused(loaded):
        raise PlaygroundError("the test set is not on this machine")

    real = inference.test_accuracy
    monkeypatch.setattr(inference, "test_accuracy", refused)
    run_id, _ = stopped_run
    at = page({"run": str(run_id)})
    by_label(at.button, "🧪 Compute test accuracy").click().run()
    assert not at.exception and "test_acc" not in store.get_run(run_id).result
    assert any("No test accuracy" in w.value and "not on this machine" in w.value for w in at.warning)
    other = page({"run": str(run_id)})  # another browser session: not this one's failure message
    assert not any("No test accuracy" in w.value for w in other.warning)
    monkeypatch.setattr(inference, "test_accuracy", real)  # a second try that works clears the message
    by_label(at.button, "🧪 Compute test accuracy").click().run()
    assert not at.warning, [w.value for w in at.warning]
    assert "Test accuracy" in [m.label for m in at.metric]
    assert run_id not in at.session_state[run_report.TEST_FAILURES]


def metric_columns(at) -> dict[str, int]:
    """Each metric's label -> the index of its column in its row of columns."""
    out = {}

    def walk(node) -> None:
        kids = list(getattr(node, "children", {}).values())
        for i, kid in enumerate(kids):
            if getattr(kid, "type", None) == "column":
                out.update({m.label: i for m in kid.get("metric")})
            walk(kid)

    walk(at.main)
    return out


def test_the_times_add_up_and_training_time_starts_its_row(stopped_run, store):
    run_id, _ = stopped_run
    at = page({"run": str(run_id)})
    assert metric_columns(at)["Training time"] == 0  # not alone in a third column
    by_label(at.button, "🧪 Compute test accuracy").click().run()
    columns = metric_columns(at)
    assert (columns["Test accuracy"], columns["Test loss"], columns["Training time"]) == (0, 1, 2)


def test_wall_split_parts_add_up_on_the_shown_numbers():
    import re

    from ui.run_facts import wall_split

    assert wall_split(2.04, 1.24) == ("Wall time 2.0s = training steps 1.2s + loading data, building the model, "
                                      "evaluation and checkpoints 0.8s.")
    for wall, train in ((2.04, 1.24), (1.96, 1.96), (5.55, 0.05), (24.31, 23.46), (59.97, 10.0), (61.4, 60.6),
                        (3725.5, 3600.2), (3.0, 3.2), (0.0, 0.0)):
        numbers = re.findall(r"(?:(\d+)m )?(\d+(?:\.\d)?)s", wall_split(wall, train))
        w, t, rest = (int(m or 0) * 60 + float(s) for m, s in numbers)
        assert len(numbers) == 3 and round(t + rest, 1) == round(w, 1), (wall, train, numbers)
    assert "1m 01s = training steps 1m 01s" in wall_split(61.4, 60.6)  # whole seconds from a minute on
    assert wall_split(3.0, 3.2).endswith("checkpoints 0.0s.")  # training never more than the wall time


# ------------------------------------------------------------------ unreadable rows
def test_an_unreadable_row_is_shown_as_such_with_export_and_delete(home, store):
    good = store.create_run(tiny(), "fine", status="finished")
    bad = store.create_run(tiny(), "from a newer version", status="finished")
    newer = json.loads(tiny().to_json())
    newer["model"]["future"] = 1
    sql(home, "UPDATE runs SET config = ? WHERE id = ?", json.dumps(newer), bad)
    at = page({"run": str(good)})
    assert not at.exception
    assert f"⚠️ #{bad} from a newer version (unreadable)" in at.selectbox(key="watch").options
    at.selectbox(key="watch").select(bad).run()
    assert not at.exception and any("cannot show" in w.value and "future" in w.value for w in at.warning)
    export = next(e for e in at.get("download_button") if e.proto.label == "⬇ Export (.json)")
    assert export.proto.url  # served: the row and its metrics as JSON
    assert by_label(at.button, "Delete").disabled
    at.checkbox(key="confirm_delete_unreadable").check().run()
    by_label(at.button, "Delete").click().run()
    assert not at.exception and store.get_run(bad) is None and store.get_run(good) is not None
    assert at.selectbox(key="watch").value == good


# ------------------------------------------------------------------ the code behind a run or the form
def code_blocks(at) -> list[str]:
    return [c.value.rstrip() for c in [*at.sidebar.code, *at.main.code]]


def test_show_the_code_for_the_form_and_for_the_run(home, store):
    cfg = tiny(hidden=24)
    run_id = store.create_run(cfg, "coded", status="finished")
    at = page({"run": str(run_id), "recipe": "gru3x200"})
    assert not code_blocks(at)  # built only while their panels are open (issue 36)
    at.session_state["panel-form-code"] = at.session_state[f"panel-run-code-{run_id}"] = True
    at.run()
    blocks = code_blocks(at)
    assert codegen.script(RECIPES["gru3x200"]).rstrip() in blocks  # the form's current state
    assert codegen.script(cfg).rstrip() in blocks  # the run shown
    assert labels(at, "download_button").count("⬇ train.py") == 2
    at.sidebar.number_input(key="f_hidden").set_value(5000).run()
    assert not at.exception
    assert any("No script for the form's settings" in w.value for w in at.sidebar.warning)


# ------------------------------------------------------------------ in a real browser
@pytest.mark.browser
def test_browser_reload_keeps_the_form_and_the_grid_has_one_image_size(tmp_path):
    """What only a browser shows: the URL really carries the form through a reload, and the CIFAR
    test images are drawn at one size whatever their captions ("airplane (bird)" vs "bird (bird)")."""
    from browser import ARTIFACTS, browser_page, require_chromium, streamlit_server, wait_idle

    require_chromium()
    home = tmp_path / "home"
    store = RunStore(home)
    cfg = tiny(dataset="cifar2", arch="cnn", width=8, epochs=1)
    run_id = store.create_run(cfg, "cifar tiny")
    assert Trainer(cfg, store, run_id).run().status == "finished"
    store.close()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "browser-train-page.log"
    with streamlit_server(home, log) as (url, _), browser_page("train-page") as page:
        page.goto(f"{url}/train?run={run_id}&recipe=lstm64&hidden=32&epochs=3")
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        page.wait_for_function("document.querySelectorAll('.pg-tiles img').length >= 24", timeout=60_000)
        wait_idle(page)
        assert page.get_by_label("Hidden size").input_value() == "32"
        # The test images (an HTML grid): one size for all, and a row's images side by side at one height
        boxes = page.eval_on_selector_all(".pg-tiles img", """imgs => imgs.map(e => {
            const r = e.getBoundingClientRect();
            return [Math.round(r.width), Math.round(r.height), Math.round(r.top)]; })""")
        assert len(boxes) == 24 and len({(w, h) for w, h, _ in boxes}) == 1 and boxes[0][0] > 20, boxes
        assert len({top for _, _, top in boxes[:12]}) == 1, boxes  # 12 a row on a finished run
        page.locator(".pg-tiles").first.scroll_into_view_if_needed()
        page.locator(".pg-tiles").first.screenshot(path=str(ARTIFACTS / "train-grid.png"))
        page.screenshot(path=str(ARTIFACTS / "train-report.png"))
        page.get_by_label("Epochs", exact=True).fill("4")
        page.get_by_label("Epochs", exact=True).press("Enter")
        wait_idle(page)
        page.wait_for_url("**epochs=4**", timeout=30_000)  # written in place once the page has drawn the run
        page.reload()
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        wait_idle(page)
        assert page.get_by_label("Hidden size").input_value() == "32"
        assert page.get_by_label("Epochs", exact=True).input_value() == "4"
        assert "hidden=32" in page.url and "epochs=4" in page.url and f"run={run_id}" in page.url
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]


def test_a_finished_run_shows_its_worst_mistakes_and_confused_classes(trained):
    at = page({"run": str(trained.id)})
    assert not at.exception
    assert not any(e.label.startswith("🔍 Its mistakes") for e in at.expander)  # in the open, not collapsed
    assert any(m.value.startswith("**Most confused:**") for m in at.markdown)
    # Issue 31: one confusion matrix, the clickable one (a twin only showed a tooltip), and it says so.
    matrices = [c for c in at.get("plotly_chart") if '"title":{"text":"predicted"}' in c.proto.spec.replace(" ", "")]
    assert len(matrices) == 1 and '"clickmode":"event+select"' in matrices[0].proto.spec.replace(" ", "")
    assert any("Click a cell" in c.value for c in at.caption)
    at.selectbox(key=f"mistake-cell-{trained.id}").select_index(1).run()  # the most confused pair's images
    assert not at.exception and at.selectbox(key=f"mistake-cell-{trained.id}").index == 1
    # The pair's images: an HTML grid (no Plotly toolbar over the top row's labels), each titled with its answer
    grids = [h.proto.body for h in at.get("html") if 'class="pg-tiles"' in h.proto.body]
    assert len(grids) == 2 and "❌" in grids[1]  # the run's test images, then the pair's mistakes


# ------------------------------------------------------------------ sliders span every valid value
EDGES = dict(label_noise=0.95, dropout=0.95, layers=2, val_fraction=0.45)


def test_a_link_with_values_at_the_edge_of_the_valid_range_opens_the_form(home):
    at = page({"recipe": "lstm64", **{k: str(v) for k, v in EDGES.items()}})
    assert not at.exception and not at.sidebar.warning
    for name in ("label_noise", "dropout", "val_fraction"):
        assert at.sidebar.slider(key="f_" + name).value == EDGES[name]


@pytest.mark.parametrize("values", [EDGES, dict(dropout=0.99, layers=3, val_fraction=0.49, label_noise=0)])
def test_train_again_on_a_cli_run_with_values_at_the_edge_opens_the_form(home, store, values):
    """The CLI accepts whatever validate() accepts (0.99 dropout, 0.49 held out): the form shows it as it is."""
    run_id = store.create_run(tiny(**values), "from the CLI", status="finished")
    at = page({"run": str(run_id)})
    by_label(at.button, "🔁 Train again with one change").click().run()
    assert not at.exception
    for name in ("label_noise", "dropout", "val_fraction"):
        assert at.sidebar.slider(key="f_" + name).value == values[name]


def test_early_stopping_is_a_form_setting_and_the_run_shows_the_epoch_it_kept(home, store):
    """Issue 31: patience and its minimum gain in the form and the URL; a run that stopped early says which epoch
    its checkpoint holds and stars it on the curves."""
    at = page({"recipe": "lenet", "patience": "4", "min_delta": "0.01"})
    assert not at.exception
    assert at.sidebar.number_input(key="f_patience").value == 4
    assert at.sidebar.number_input(key="f_min_delta").value == 0.01
    assert any("less if early stopping ends it sooner" in i.value for i in at.sidebar.info)  # the estimate's caveat
    at.sidebar.number_input(key="f_patience").set_value(6).run()
    assert settings(at)["patience"] == "6"
    cfg = tiny(epochs=10, patience=2)
    run_id = store.create_run(cfg, "stopped at its best", status="finished")
    for epoch, acc in ((1, 0.5), (2, 0.7), (3, 0.65), (4, 0.6)):
        store.add_epoch(run_id, {"epoch": epoch, "train_loss": 1.0 / epoch, "train_acc": 0.5 + epoch / 10,
                                 "val_loss": 1.0 - acc, "val_acc": acc, "l2": 0.0, "seconds": 1.0,
                                 "samples_per_s": 100.0})
    store.update_run(run_id, result={"test_acc": 0.69, "test_loss": 0.9, "kept_epoch": 2},
                     message="early stopping: validation accuracy did not gain more than 0 in 2 evaluations; "
                             "kept epoch 2 (70.0%)")
    at = page({"run": str(run_id)})
    assert not at.exception
    assert any("Early stopping kept epoch 2" in c.value for c in at.caption)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    stars = [t for fig in charts for t in fig["data"] if t.get("name") == "kept: epoch 2"]
    assert [t["y"] for t in stars] == [[pytest.approx(0.3)], [0.7]]


def test_lenet_shows_its_fixed_width_as_not_editable(home):
    """LeNet-5 ignores the width setting (6 then 16 channels): the field is disabled there, editable for a CNN."""
    at = page({"recipe": "lenet"})
    assert not at.exception and at.sidebar.number_input(key="f_width").disabled
    assert "6 filters, then 16" in (at.sidebar.number_input(key="f_width").help or "")
    at = page({"recipe": "lenet", "arch": "cnn"})
    assert not at.exception and not at.sidebar.number_input(key="f_width").disabled
