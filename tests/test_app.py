"""Every page under streamlit's AppTest: renders, trains, compares, survives a new session."""

from streamlit.testing.v1 import AppTest  # noqa: F401 (type in helpers)

from playground.engine.training import Trainer
from playground.store import RunStore
from ui.study_form import Key as StudyKey
from ui.train_form import RECIPE

from conftest import app_page as page
from conftest import poll_until, tiny


def finished_runs(home) -> list:
    return [r for r in RunStore(home).list_runs() if r.status == "finished"]


def test_home_renders_with_device_and_datasets(home):
    at = page("app.py").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown) + " ".join(i.value for i in at.info)
    assert "Device" in text and "MNIST digits" in text


def test_train_page_runs_a_tiny_run_to_the_end_and_a_new_session_sees_it(home):
    at = page("pages/train.py").run()
    assert not at.exception
    assert at.session_state["f_arch"] == "lstm"  # lstm64 recipe preloaded
    at.sidebar.number_input(key="f_limit").set_value(600)
    at.sidebar.number_input(key="f_hidden").set_value(16)
    at.sidebar.text_input(key="run_name").input("my <b>tiny</b> run")
    at.sidebar.button[0].click().run()
    assert not at.exception and not at.error
    assert at.sidebar.text_input(key="run_name").value == ""  # the name was for that run; the next gets its own
    poll_until(at, lambda a: any("✅" in s.value for s in a.subheader))
    runs = finished_runs(home)
    assert len(runs) == 1 and runs[0].name == "my <b>tiny</b> run"
    assert runs[0].result["test_acc"] is not None
    labels = [m.label for m in at.metric]
    assert "Test accuracy" in labels and "Samples/s" in labels
    assert len(at.get("plotly_chart")) >= 3  # step loss, epoch curves, confusion matrix
    # A new browser session (a reload) shows the same run from the store, with its history.
    again = page("pages/train.py")
    again.query_params["run"] = str(runs[0].id)
    again.run()
    assert not again.exception
    assert any("my \\<b\\>tiny\\</b\\> run" in s.value for s in again.subheader)  # shown as text, not HTML
    assert len(again.get("plotly_chart")) >= 2


def test_recipe_picker_fills_the_form(home):
    at = page("pages/train.py").run()
    at.sidebar.selectbox(key=RECIPE).select("cnn-bn-l2").run()
    assert at.session_state["f_arch"] == "cnn" and at.session_state["f_dataset"] == "cifar2"
    assert at.session_state["f_batchnorm"] is True and at.session_state["f_l2"] == 0.001


def test_editing_a_recipe_marks_the_form_custom(home):
    at = page("pages/train.py").run()
    assert at.session_state[RECIPE] == "lstm64"
    at.sidebar.number_input(key="f_hidden").set_value(32).run()
    assert at.session_state[RECIPE] == "(custom)" and at.session_state["f_hidden"] == 32
    assert at.session_state["f_lr"] == 0.01  # the rest of the recipe stays


def test_rejected_config_shows_the_reason_and_starts_nothing(home):
    at = page("pages/train.py").run()
    at.sidebar.slider(key="f_dropout").set_value(0.5)  # one-layer LSTM: dropout has nothing to act on
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert any("layers >= 2" in e.value for e in at.error)
    assert RunStore(home).list_runs() == []


def test_compare_renders_a_chosen_pair(home, store):
    a = store.create_run(tiny(epochs=2), "plain")
    Trainer(tiny(epochs=2), store, a).run()
    b = store.create_run(tiny(epochs=2, l2=0.01), "with L2")
    Trainer(tiny(epochs=2, l2=0.01), store, b).run()
    at = page("pages/compare.py")
    at.session_state["compare_ids"] = [a, b]
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2  # curves + generalization gap
    table = at.dataframe[0].value
    assert len(table) == 2 and "l2" in table.columns and "lr" not in table.columns  # only differing settings
    assert set(table["best epoch"]) <= {1, 2}
    assert list(table["details"]) == [f"/train?run={a}", f"/train?run={b}"]  # each run's page, a click away


def test_compare_without_validation_says_why_there_is_no_gap(home, store):
    cfg = tiny(epochs=1, val_fraction=0.0)
    run_id = store.create_run(cfg, "all data")
    Trainer(cfg, store, run_id).run()
    at = page("pages/compare.py")
    at.session_state["compare_ids"] = [run_id]
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1  # the curves; no empty gap chart
    assert any("no validation set" in c.value for c in at.caption)


def test_regularization_study_launches_variants_and_they_finish(home):
    at = page("pages/compare.py").run()
    at.selectbox(key=StudyKey.RECIPE).select("lstm64")
    at.number_input(key=StudyKey.EPOCHS).set_value(2)
    at.number_input(key=StudyKey.LIMIT).set_value(600)
    at.run()
    assert at.number_input(key=StudyKey.LR).value == 0.01  # lstm64's own, not the CNN study's 0.03
    at.button[0].click().run()
    assert not at.exception
    assert len(at.session_state["compare_ids"]) == 3  # baseline, L2, dropout (2 layers)
    poll_until(at, lambda a: len(finished_runs(home)) == 3, seconds=180)
    at.run()
    names = sorted(r.name for r in finished_runs(home))
    assert names == ["lstm64 · L2 λ=0.03 · seed 0 · study 1", "lstm64 · baseline · seed 0 · study 1",
                     "lstm64 · dropout 0.5 (2 layers) · seed 0 · study 1"]  # tagged: "select this study's runs"
    assert len(at.dataframe[0].value) == 3


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def run_picker(at: AppTest):
    """Rename/delete's run picker (its key changes after a delete: a new widget in the browser)."""
    return next(s for s in at.selectbox if s.label == "Run")


def test_rename_and_delete_with_confirmation(home, store):
    run_id = store.create_run(tiny(), "old", status="finished")
    at = page("pages/compare.py").run()
    assert run_picker(at).value is None and button(at, "Rename").disabled  # nothing acted on unless picked
    run_picker(at).select(run_id).run()
    at.text_input(key="manage_new_name").input("new name")
    button(at, "Rename").click().run()
    assert store.get_run(run_id).name == "new name"
    assert button(at, "Delete").disabled  # nothing is deleted without the confirmation
    at.checkbox(key="manage_confirm_delete").check().run()
    button(at, "Delete").click().run()
    assert not at.exception and store.get_run(run_id) is None
    assert any(f"Deleted run #{run_id}" in m.value and "new name" in m.value for m in at.toast)


def test_delete_after_rename_deletes_the_run_picked(home, store):
    """Issue 13: renaming #1 made the picker jump to the newest run, and Delete removed that one."""
    ids = [store.create_run(tiny(), f"run {i}", status="finished") for i in range(3)]
    at = page("pages/compare.py").run()
    run_picker(at).select(ids[0]).run()
    at.text_input(key="manage_new_name").input("renamed")
    button(at, "Rename").click().run()
    assert store.get_run(ids[0]).name == "renamed"
    picker = run_picker(at)
    assert picker.value == ids[0]  # still on the run picked
    # The browser keeps the label it was last sent and sends it back with the next click; a label
    # no longer among the options fell back to the newest run. The page sends the new label.
    assert picker.proto.set_value and picker.proto.raw_value == f"✅ #{ids[0]} renamed"
    assert f"#{ids[0]}" in at.checkbox(key="manage_confirm_delete").label
    at.checkbox(key="manage_confirm_delete").check().run()
    button(at, "Delete").click().run()
    assert store.get_run(ids[0]) is None and store.get_run(ids[1]) and store.get_run(ids[2])
    assert any(f"Deleted run #{ids[0]} “renamed”" in m.value for m in at.toast)
    # No run is shown picked, the confirmation is not ticked, and Delete waits for both.
    assert run_picker(at).value is None and button(at, "Delete").disabled and button(at, "Rename").disabled
    sure = at.checkbox(key="manage_confirm_delete")
    assert sure.value is False and at.session_state["manage_confirm_delete"] is False
    assert "#" not in at.checkbox(key="manage_confirm_delete").label


def _send_label(picker, label: str):
    """Make `picker` send `label` with the next run, as a browser still showing an old choice does."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from streamlit.testing.v1.element_tree import Selectbox

    class Stale(Selectbox):
        @property
        def _widget_state(self):
            return WidgetState(id=self.id, string_value=label)

    picker.__class__ = Stale
    return picker


def test_rename_after_a_delete_acts_on_the_run_shown_or_on_nothing(home, store):
    """New-user issue: after a delete the browser still showed the deleted run and sent its label back;
    Rename then took that label text for a run id ("Renamed run #✅ #15 ...") and renamed nothing."""
    ids = [store.create_run(tiny(), f"run {i}", status="finished") for i in range(3)]
    at = page("pages/compare.py").run()
    run_picker(at).select(ids[1]).run()
    before = run_picker(at)
    deleted_label = before.options[before.index]
    at.checkbox(key="manage_confirm_delete").check().run()
    button(at, "Delete").click().run()
    assert store.get_run(ids[1]) is None
    after = run_picker(at)
    assert after.id != before.id  # a new widget: the browser has no old choice to send back
    assert after.value is None and deleted_label not in after.options
    assert "#" not in at.checkbox(key="manage_confirm_delete").label and button(at, "Rename").disabled
    # A browser sending the deleted run's label anyway, with Rename: the label is no run id. Nothing renamed.
    run_picker(at).select(ids[2]).run()
    _send_label(run_picker(at), deleted_label)
    at.text_input(key="manage_new_name").input("x")
    button(at, "Rename").click().run()
    assert not at.exception and not at.toast
    assert sorted(r.name for r in store.list_runs()) == ["run 0", "run 2"]
    assert any("no longer exists" in e.value for e in at.error)
    assert run_picker(at).value is None and button(at, "Rename").disabled  # nothing shown picked
    # The run picked deleted elsewhere (another tab) before Rename: nothing renamed, said why.
    spare = store.create_run(tiny(), "spare", status="finished")
    at.run()
    run_picker(at).select(spare).run()
    store.delete_run(spare)
    button(at, "Rename").click().run()
    assert not at.exception and not at.toast and any("no longer exists" in e.value for e in at.error)
    assert run_picker(at).value is None and f"✅ #{spare} spare" not in run_picker(at).options
    # Picking a run renames exactly the run shown.
    run_picker(at).select(ids[2]).run()
    button(at, "Rename").click().run()
    assert store.get_run(ids[2]).name == "x" and store.get_run(ids[0]).name == "run 0"
    assert any(f"Renamed run #{ids[2]} to “x”" in m.value for m in at.toast)
    assert run_picker(at).value == ids[2] and f"#{ids[2]}" in at.checkbox(key="manage_confirm_delete").label


def test_picking_another_run_clears_the_confirmation(home, store):
    ids = [store.create_run(tiny(), f"run {i}", status="finished") for i in range(2)]
    at = page("pages/compare.py").run()
    run_picker(at).select(ids[1]).run()
    at.checkbox(key="manage_confirm_delete").check().run()
    run_picker(at).select(ids[0]).run()
    assert at.checkbox(key="manage_confirm_delete").value is False and button(at, "Delete").disabled


def test_compare_filters_drop_runs_they_hide(home, store):
    lstm = store.create_run(tiny(), "an lstm", status="finished")
    gru = store.create_run(tiny(arch="gru"), "a gru", status="finished")
    at = page("pages/compare.py")
    at.session_state["compare_ids"] = [lstm, gru]
    at.run()
    at.selectbox(key="filter_arch").select("gru").run()
    assert not at.exception
    assert at.multiselect(key="compare_ids").value == [gru]
    assert run_picker(at).options == [f"✅ #{gru} a gru"]
    at.selectbox(key="filter_status").select("failed").run()
    assert any("No runs match" in i.value for i in at.info)


def test_out_of_range_values_are_refused_with_the_reason_not_replaced(home):
    """Issue 13: a bounded box kept a typed 2000 red in the browser and Train started with hidden 64."""
    at = page("pages/train.py").run()
    for key, value, reason in (("f_hidden", 5000, "hidden size must be an integer in [1, 4096]"),
                               ("f_epochs", 0, "epochs must be an integer in [1, 1000]"),
                               ("f_batch_size", 0, "batch size must be an integer in [1, 65536]"),
                               ("f_lr", 0.0, "learning rate must be > 0")):
        box = at.sidebar.number_input(key=key)
        assert box.min is None and box.max is None  # no widget bound to swallow the value
        good = box.value
        box.set_value(value).run()
        assert at.session_state[key] == value  # the server sees what the user sees
        at.sidebar.button[0].click().run()
        assert not at.exception
        assert any(reason in e.value for e in at.error), [e.value for e in at.error]
        assert RunStore(home).list_runs() == []
        at.sidebar.number_input(key=key).set_value(good).run()
    at.sidebar.number_input(key="f_hidden").set_value(5000).run()
    at.sidebar.selectbox(key=RECIPE).select("lstm100").run()  # a recipe replaces the bad value
    assert at.session_state["f_hidden"] == 100 and at.sidebar.number_input(key="f_hidden").value == 100


def test_comparison_table_puts_settings_first_and_only_settings_that_apply():
    from playground.compare import KEPT, comparison_table
    from playground.store import RunRecord

    def rec(run_id, cfg):
        return RunRecord(id=run_id, name=f"r{run_id}", status="finished", config=cfg, device="cpu", params=1,
                         created=0, started=0, ended=0, message="", checkpoint=None, result={})

    epochs = [{"epoch": 1, "train_acc": 0.9, "val_acc": 0.8}]
    runs = [(rec(1, tiny(hidden=32, optimizer="sgd", momentum=0.9)), epochs),
            (rec(2, tiny(hidden=64, optimizer="adam", momentum=0.9)), epochs),
            (rec(3, tiny(arch="cnn", dataset="cifar2", width=8)), epochs)]
    table = comparison_table(runs)
    columns = list(table[0])
    assert columns[:2] == ["run", "status"]
    # Issue 31: what the run changed, then what it did (settings after eight results were off-screen).
    assert columns.index("arch") < columns.index("final val acc") < columns.index("test acc") < columns.index("params")
    assert "optimizer" in columns and "name" not in columns
    assert "width" not in columns and "activation" not in columns  # apply to one run only: nothing differs
    assert "momentum" not in columns  # applies to the SGD run only
    assert [row["hidden"] for row in table] == [32, 64, None]  # a CNN has no hidden size
    assert KEPT not in columns  # no run stopped early: no column for it


def test_comparison_table_shows_the_epoch_early_stopping_kept():
    from playground.compare import KEPT, comparison_table
    from playground.store import RunRecord

    epochs = [{"epoch": e, "train_acc": 0.9, "val_acc": 0.8} for e in (1, 2, 3)]
    runs = [(RunRecord(id=i, name=f"r{i}", status="finished", config=tiny(patience=p), device="cpu", params=1,
                       created=0, started=0, ended=0, message="", checkpoint=None, result=result), epochs)
            for i, p, result in ((1, 2, {"kept_epoch": 1, "test_acc": 0.8}), (2, 0, {"test_acc": 0.7}))]
    table = comparison_table(runs)
    assert [row[KEPT] for row in table] == [1, None]
    assert list(table[0]).index(KEPT) > list(table[0]).index("last measured epoch")
