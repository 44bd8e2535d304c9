"""Issue 31's leftovers on Train, Compare and the study/sweep forms: each a fix with the test that shows it."""
import json

from test_compare import trained_runs

from ui.study_form import Key as StudyKey

from conftest import app_page as page
from conftest import tiny


def _toolbars(at) -> list[str]:
    """The keys (or specs' starts) of the page's Plotly charts that would show Plotly's toolbar on hover."""
    return [c.proto.id or c.proto.spec[:80] for c in at.get("plotly_chart")
            if json.loads(c.proto.config or "{}").get("displayModeBar") is not False]


def test_train_shows_no_plotly_toolbar_over_its_charts(trained):
    """The step-loss chart's toolbar covered its title and legend on hover (the other charts hid it already)."""
    at = page("pages/train.py")
    at.query_params["run"] = str(trained.id)
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) >= 3  # steps, epochs, confusion at least
    assert _toolbars(at) == []


def test_compare_shows_no_plotly_toolbar_over_its_charts(home, store):
    """Compare's accuracy, gap and "which settings matter" charts showed Plotly's toolbar over their titles."""
    ids = trained_runs(store, [(tiny(epochs=1, limit=200, l2=l2), f"l2 {l2}") for l2 in (0.0, 0.01, 0.03)])
    at = page("pages/compare.py").run()
    at.session_state["panel-settings-matter"] = True  # its charts are built only while it is open
    at.multiselect(key="compare_ids").set_value(ids).run()
    assert not at.exception
    keys = [c.proto.id for c in at.get("plotly_chart")]
    assert len(keys) >= 5 and any("parallel-settings" in k for k in keys), keys  # curves, gap, the three below
    assert _toolbars(at) == []


TRAIN_COMPARE_LEARN = ("pages/train.py", "pages/compare.py", "pages/learn.py", "ui/run_view.py", "ui/compare_view.py",
                       "ui/lesson_view.py", "ui/run_report.py", "ui/lr_finder_view.py")


def plotly_calls_without_static(source: str) -> list[int]:
    """Lines of the st.plotly_chart calls in `source` that do not pass config=charts.STATIC."""
    import ast

    return [n.lineno for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "plotly_chart"
            and not any(k.arg == "config" and ast.unparse(k.value) == "charts.STATIC" for k in n.keywords)]


def test_every_chart_on_train_compare_and_learn_passes_the_one_toolbar_setting():
    """One helper (charts.STATIC) everywhere, including charts the AppTests above do not reach (a live lesson)."""
    from conftest import ROOT

    missing = {f: lines for f in TRAIN_COMPARE_LEARN if (lines := plotly_calls_without_static((ROOT / f).read_text()))}
    assert missing == {}
    assert plotly_calls_without_static('st.plotly_chart(fig, width="stretch")') == [1]  # the check can fail


def shown(selectbox) -> str | None:
    """What the browser shows in a selectbox: the value a rerun wrote (none: its placeholder), else the default."""
    p = selectbox.proto
    if p.set_value:
        return p.raw_value if p.HasField("raw_value") else None
    return p.options[p.default]


def test_compares_filters_read_all_after_a_study_is_launched(home, store):
    """After a study's launch they showed "Choose an option": a None value written back is no selection."""
    from test_compare import _stop_all, _study, button

    at = _study(page("pages/compare.py").run())
    button(at, "🚀 Launch study").click().run()
    assert not at.exception and len(store.list_runs()) == 2
    for key in ("filter_dataset", "filter_arch", "filter_status"):
        assert shown(at.selectbox(key=key)) == "all", key
    assert at.selectbox(key="filter_arch").value == "all" and len(at.multiselect(key="compare_ids").value) == 2
    at.selectbox(key="filter_arch").select("gru").run()  # a filter still filters
    assert any("No runs match these filters" in i.value for i in at.info)
    _stop_all(home)


def test_the_range_tests_caption_says_what_the_test_runs(home, monkeypatch):
    """It typed "100 batches … 10⁻⁶ to 1": now formatted from range_test's own defaults, which the button uses."""
    from playground import lr_find
    from ui.lr_finder_view import decade

    assert [decade(x) for x in (1e-6, 1.0, 1e3, 0.5)] == ["10⁻⁶", "1", "10³", "0.5"]
    at = page("pages/train.py").run()
    assert any("100 batches" in c.value and "from 10⁻⁶ to 1." in c.value for c in at.sidebar.caption)
    monkeypatch.setattr(lr_find.range_test, "__defaults__", (1e-5, 10.0, 60, 1))  # start, end, steps, threads
    at.run()
    assert any("60 batches" in c.value and "from 10⁻⁵ to 10." in c.value for c in at.sidebar.caption)


def test_the_study_note_says_which_images_the_forms_own_size_trains_on(home):
    """After N was changed it still said "on its 900 training images" of "these defaults"."""
    from playground.engine.study import STUDY_LIMIT, STUDY_VAL_FRACTION

    def note(at) -> str:
        return next(c.value for c in at.caption if "the plain CNN ends at" in c.value)

    at = page("pages/compare.py").run()
    held = int(STUDY_LIMIT * STUDY_VAL_FRACTION)
    assert "with these defaults" in note(at) and f"on its {STUDY_LIMIT - held:,} training images" in note(at)
    at.number_input(key="study_limit").set_value(3000).run()
    assert note(at).startswith("These settings train on 1,800 images and hold out 1,200.")
    assert "with these defaults" not in note(at) and f"the first {STUDY_LIMIT:,} samples" in note(at)
    at.multiselect(key="study_sizes").select(300).select(750).run()  # each size replaces N
    assert note(at).startswith("These settings train on 180 / 450 images and hold out 120 / 300.")


def test_a_cifar_study_or_sweep_without_cifar_here_says_so_and_launches_nothing(home, store, monkeypatch, tmp_path):
    """In a clone without CIFAR its runs failed one by one, the reason only in their logs."""
    from playground import data

    monkeypatch.delenv("PLAYGROUND_CIFAR2_DIR", raising=False)  # no folder, no shared copy, no torchvision files
    monkeypatch.setattr(data, "CIFAR_SHARED", tmp_path / "no-shared")
    real, kept = data.data_dir(), tmp_path / "data"  # MNIST's files stay; CIFAR-10's torchvision files do not
    kept.mkdir()
    for f in [*real.glob(data.MNIST_WHEEL_GLOB), real / "MNIST"]:
        if f.exists():
            (kept / f.name).symlink_to(f)
    monkeypatch.setenv("PLAYGROUND_DATA", str(kept))
    monkeypatch.delitem(data._cache, "cifar2", raising=False)
    at = page("pages/compare.py").run()  # the study form opens on the CNN recipe (CIFAR-2)
    [said] = [w.value for w in at.warning if "not on this machine" in w.value]
    assert "playground fetch cifar2" in said and "PLAYGROUND_CIFAR2_DIR" in said and "Launch downloads it" in said
    next(b for b in at.button if b.label == "🚀 Launch study").click().run()  # offline here: the download fails
    [refused] = [e.value for e in at.error if e.value.startswith("Cannot run this study here")]
    assert "The download failed too" in refused and "dataset 'cifar2' is not available" in refused
    at.selectbox(key="sweep_recipe").set_value("cnn").run()
    assert any("not on this machine" in w.value for w in at.warning)
    at.multiselect(key="sweep_params").set_value(["lr"]).run()
    next(b for b in at.button if b.label == "🎛 Launch sweep").click().run()
    assert any(e.value.startswith("Cannot run this sweep here") for e in at.error)
    assert store.list_runs() == []
    at.selectbox(key=StudyKey.RECIPE).select("lenet").run()  # MNIST is here: nothing to say
    assert not any("not on this machine" in w.value for w in at.warning if "MNIST" in w.value)


def test_a_study_downloads_its_dataset_once_at_launch_where_it_can(home, store, monkeypatch):
    """Online users keep the real download: Launch fetches the data once, then the runs train from memory."""
    from playground import data

    fetched = []
    monkeypatch.setattr(data, "missing_offline", lambda name: None if fetched else f"{name} is not on this machine.")
    monkeypatch.setattr(data, "load_dataset", lambda name: fetched.append(name))
    at = page("pages/compare.py").run()
    at.selectbox(key=StudyKey.RECIPE).select("lenet").run()
    at.number_input(key="study_epochs").set_value(1)
    at.number_input(key="study_limit").set_value(300)
    next(b for b in at.button if b.label == "🚀 Launch study").click().run()
    try:
        assert fetched == ["mnist"] and not any(e.value.startswith("Cannot run") for e in at.error)
        assert len(store.list_runs()) >= 2
    finally:
        from playground.settings import Settings
        from ui.common import _registry

        registry = _registry(str(Settings.from_env().home))
        for run_id in registry.active():
            registry.stop(run_id)


def test_trains_first_notice_says_how_long_the_picked_recipe_takes_as_measured(home):
    """It always said "(LSTM 64 takes seconds per epoch)", whatever was picked and however fast this machine is."""
    def said(at) -> tuple[str, str]:
        [notice] = [i.value for i in at.info if i.value.startswith("No runs yet")]
        [took] = [c.value.removeprefix("⏱ One run: ") for c in at.sidebar.caption if c.value.startswith("⏱ One run")]
        return notice, took

    at = page("pages/train.py").run()
    notice, took = said(at)
    assert "seconds per epoch" not in notice and notice.endswith(f"one run of lstm64 takes {took}")
    at.sidebar.selectbox(key="f_recipe").select("lenet").run()
    notice, took = said(at)
    assert notice.endswith(f"one run of lenet takes {took}") and "here (speed from" in took


def test_the_sweeps_estimate_counts_only_the_trials_it_would_train(home):
    """It said "8 trials at the base settings … pruning makes it shorter" of a 3-point grid, unpruned."""
    def estimate(at) -> str:
        [text] = [c.value for c in at.caption if c.value.startswith("⏱") and "base settings" in c.value]
        return text

    at = page("pages/compare.py").run()
    assert estimate(at).startswith("⏱ 8 trials, ") and "the pruner may stop some sooner" in estimate(at)
    at.multiselect(key="sweep_params").set_value(["lr"]).run()
    at.radio(key="sweep_search").set_value("grid").run()  # 3 values of one range: 3 combinations, not 8
    assert estimate(at).startswith("⏱ 3 trials (all the grid's 3), ")
    at.checkbox(key="sweep_prune").uncheck().run()
    at.number_input(key="sweep_minutes").set_value(5.0).run()
    assert "pruner" not in estimate(at) and estimate(at).endswith("; no new trial starts after 5 min.")
