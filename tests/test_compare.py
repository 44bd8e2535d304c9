"""Compare: variants over seeds (mean, band, noise), study tags and repeats, live status chips, the
selection in the URL, bulk delete, colours that follow the run. Library tests first, then AppTest."""
import json

import pytest

from playground import charts
from playground.compare import (
    Difference,
    StudyChoice,
    already_run,
    band,
    default_selection,
    differences_to_first,
    effects,
    group_variants,
    next_study,
    one_seed_noise,
    one_study,
    shared_starts,
    status_counts,
    studies,
    study_of,
    study_plan,
    study_run_name,
    variant_series,
    variant_table,
)
from playground.config import recipe
from playground.errors import RunStatus
from playground.store import RunRecord
from ui.navigation import LAST_PAGE
from ui.study_form import Key as StudyKey

from conftest import app_page as page
from conftest import poll_until, tiny


def rec(run_id, cfg, name="r", status=RunStatus.FINISHED, test_acc=None):
    return RunRecord(id=run_id, name=name, status=status, config=cfg, result={"test_acc": test_acc})


def rows(*pairs):
    """Epoch rows from (train_acc, val_acc) per epoch."""
    return [{"epoch": e, "train_acc": t, "val_acc": v, "train_loss": 1 - t, "val_loss": 1 - v}
            for e, (t, v) in enumerate(pairs, 1)]


# ------------------------------------------------------------------ library
def test_study_plan_trains_each_variant_with_each_seed():
    base = recipe("cnn").override(epochs=2, seed=5)
    plan = study_plan(base, StudyChoice(baseline=True, l2=1e-3), seeds=3)
    assert [label for label, _ in plan] == ["baseline · seed 5", "L2 λ=0.001 · seed 5", "baseline · seed 6",
                                           "L2 λ=0.001 · seed 6", "baseline · seed 7", "L2 λ=0.001 · seed 7"]
    assert [cfg.seed for _, cfg in plan] == [5, 5, 6, 6, 7, 7]
    assert {cfg.reg.l2 for _, cfg in plan} == {0.0, 1e-3}


def test_the_data_is_a_study_axis_crossed_with_every_variant():
    base = recipe("cnn").override(epochs=2, limit=1500)
    plan = study_plan(base, StudyChoice(baseline=True, l2=0.03, sizes=(300, 6000), noises=(0.0, 0.5)), seeds=1)
    assert len(plan) == 2 * 2 * 2  # variants x sizes x noises
    assert plan[0][0] == "baseline · 300 images · label noise 0 · seed 0"
    assert [(c.data.limit, c.data.label_noise, c.reg.l2) for _, c in plan[:4]] == [
        (300, 0.0, 0.0), (300, 0.0, 0.03), (300, 0.5, 0.0), (300, 0.5, 0.03)]
    assert {c.data.limit for _, c in plan} == {300, 6000}
    assert [label for label, _ in study_plan(base, StudyChoice(baseline=True))] == ["baseline · seed 0"]
    assert study_plan(base, StudyChoice(baseline=True, sizes=(0,)))[0][1].data.limit == 0  # 0 = all images


def test_augmented_data_is_a_study_variant():
    plan = study_plan(recipe("cnn").override(augment=True), StudyChoice(baseline=True, augment=True))
    assert [(label, cfg.data.augment) for label, cfg in plan] == [("baseline · seed 0", False),
                                                                  ("augmented · seed 0", True)]


def test_early_stopping_is_a_study_variant_and_the_baseline_has_none():
    """Issue 31: the baseline trains every epoch (even from a base with patience); the variant stops early."""
    plan = study_plan(recipe("cnn").override(patience=3), StudyChoice(baseline=True, early_stopping=4))
    assert [(label, cfg.optim.patience) for label, cfg in plan] == [("baseline · seed 0", 0),
                                                                   ("early stopping (patience 4) · seed 0", 4)]
    from playground.engine.study import STUDY_PATIENCE, study_runs

    runs = study_runs("lenet", ["none", "early-stopping"], seeds=1, epochs=2, limit=300)
    assert [(r.variant, r.config.optim.patience) for r in runs] == [("none", 0), ("early-stopping", STUDY_PATIENCE)]


def test_study_tags_number_launches_and_find_their_runs():
    names = ["cnn · baseline · seed 0 · study 2", "my own run", "cnn · L2 λ=0.001 · seed 0 · study 2",
             "lstm64 · baseline · seed 0 · study 4"]
    assert [study_of(n) for n in names] == [2, None, 2, 4]
    assert next_study(names) == 5 and next_study(["plain"]) == 1
    assert study_run_name("cnn", "baseline · seed 1", 3) == "cnn · baseline · seed 1 · study 3"
    runs = [rec(i + 1, tiny(), n) for i, n in enumerate(names)]
    assert studies(runs) == {4: [4], 2: [1, 3]}  # newest study first


def test_already_run_matches_same_configs_that_count():
    a, b = tiny(seed=1), tiny(seed=2)
    runs = [rec(1, a), rec(2, a, status=RunStatus.FAILED), rec(3, tiny(seed=3)), rec(4, b, status=RunStatus.QUEUED)]
    assert [r.id for r in already_run([a, b], runs)] == [1, 4]  # a failed run is no result to keep


def test_status_counts_by_status_not_by_activity():
    counts = status_counts([RunStatus.QUEUED, "queued", RunStatus.RUNNING, "finished", RunStatus.QUEUED])
    assert counts == {RunStatus.QUEUED: 3, RunStatus.RUNNING: 1, RunStatus.FINISHED: 1}
    assert list(counts) == [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.FINISHED]


def test_band_is_mean_min_max_per_epoch_over_runs_of_any_length():
    x, mean, lo, hi = band([rows((0.6, 0.5), (0.8, 0.7)), rows((0.7, 0.6))], "val_acc")
    assert x == [1, 2] and mean == pytest.approx([0.55, 0.7]) and lo == [0.5, 0.7] and hi == [0.6, 0.7]
    gx, gap, _, _ = band([rows((0.6, 0.5), (0.9, 0.7))], "gap")
    assert gx == [1, 2] and gap == pytest.approx([0.1, 0.2])


def _seeded(variant_l2, seeds_acc, first_id):
    return [(rec(first_id + i, tiny(l2=variant_l2, seed=s), f"v{variant_l2} · seed {s} · study 1", test_acc=acc),
             rows((0.9, acc))) for i, (s, acc) in enumerate(seeds_acc)]


def table_of(runs) -> list[dict]:
    """The variant table as Compare shows it: with each variant's difference to the first (ui/)."""
    from ui.compare_view import with_differences

    variants = group_variants(runs)
    return with_differences(variant_table(variants), variants)


def trained_runs(store, configs_and_names) -> list[int]:
    """Tiny runs trained for real into the store (the page reads their epochs and checkpoints)."""
    from playground.engine.training import Trainer

    ids = []
    for cfg, name in configs_and_names:
        ids.append(store.create_run(cfg, name))
        Trainer(cfg, store, ids[-1]).run()
    return ids


def test_variants_group_by_config_without_seed_and_table_gives_mean_and_spread():
    runs = _seeded(0.0, [(0, 0.80), (1, 0.84)], 1) + _seeded(0.01, [(0, 0.83), (1, 0.85)], 3)
    variants = group_variants(runs)
    assert [len(v.runs) for v in variants] == [2, 2] and [v.color_id for v in variants] == [1, 3]
    assert variants[0].name.startswith("v0.0 (2 runs: #1, #2)")
    table = table_of(runs)
    assert table[0]["test acc"] == "82.0% ± 2.0%" and table[1]["test acc"] == "84.0% ± 1.0%"
    assert table[0]["seeds"] == "0, 1"
    # +2.0% is less than the 4.0% the baseline's seeds spread: noise.
    assert table[1]["test acc vs first"] == "+2.0% · noise (seeds spread 4.0%)"
    series = variant_series(variants)
    assert series[0]["n"] == 2 and series[0]["curves"]["val_acc"][1] == pytest.approx([0.82])


def test_a_difference_larger_than_the_seed_spread_is_not_noise():
    runs = _seeded(0.0, [(0, 0.80), (1, 0.81)], 1) + _seeded(0.01, [(0, 0.86), (1, 0.87)], 3)
    assert table_of(runs)[1]["test acc vs first"] == "+6.0%"
    [_, diff] = differences_to_first(group_variants(runs), "test acc")
    assert diff == Difference("test acc", pytest.approx(0.805), pytest.approx(0.865), pytest.approx(0.01))
    assert diff.noise is False and diff.change == pytest.approx(0.06)


def test_the_verdict_is_a_value_one_line_per_variant_on_gap_and_result():
    """Issue 29: "did it help, or is it noise?" on both the gap and test accuracy, as values ui/ formats."""
    from ui.compare_view import effect_line

    base = [(rec(1 + s, tiny(seed=s), f"none · seed {s} · study 1", test_acc=a), rows((0.98, v)))
            for s, (a, v) in enumerate([(0.83, 0.82), (0.81, 0.84)])]
    l2 = [(rec(3 + s, tiny(l2=0.03, seed=s), f"l2 · seed {s} · study 1", test_acc=a), rows((0.86, v)))
          for s, (a, v) in enumerate([(0.84, 0.81), (0.82, 0.82)])]
    [effect] = effects(group_variants(base + l2))
    assert effect.gap.reference == pytest.approx(0.15) and effect.gap.value == pytest.approx(0.045)
    assert effect.gap.noise is False  # 10.5 points beyond the 2-point spread of the gap over seeds
    assert effect.result.metric == "test acc" and effect.result.noise is True  # +1.0 within 2 points
    line = effect_line(effect)
    assert "gap 15.0 → 4.5 points, beyond the seeds' spread (2.0 points)" in line
    assert "test accuracy 82.0% → 83.0%, within the seeds' spread (2.0%): noise" in line
    one = effects(group_variants(base[:1] + l2[:1]))  # one seed each: no spread, and it says so
    assert one[0].gap.noise is None and "no spread" in effect_line(one[0])
    # An LSTM on digits beside a CNN on birds and airplanes: no variant of each other, no verdict (walkthrough)
    cnn = [(rec(9, tiny(arch="cnn", dataset="cifar2"), "cnn", test_acc=0.7), rows((0.9, 0.7)))]
    assert effects(group_variants(base[:1] + cnn)) == []


def test_one_seed_difference_smaller_than_the_seed_spread_is_flagged():
    spread = _seeded(0.0, [(0, 0.78), (1, 0.84)], 1)  # seeds alone move it 6 points
    one_a = [(rec(5, tiny(l2=0.01), "l2 one seed", test_acc=0.82), rows((0.9, 0.82)))]
    one_b = [(rec(6, tiny(dropout=0.0, hidden=64), "wide one seed", test_acc=0.85), rows((0.9, 0.85)))]
    far = [(rec(7, tiny(hidden=128), "far", test_acc=0.95), rows((0.9, 0.95)))]
    [(name, reference, diff)] = one_seed_noise(group_variants(spread + one_a + one_b + far))
    assert (name, reference) == ("#6 wide one seed", "#5 l2 one seed")
    assert diff.change == pytest.approx(0.03) and diff.spread == pytest.approx(0.06) and diff.noise
    assert one_seed_noise(group_variants(one_a + one_b)) == []  # no seed spread known: nothing claimed


def test_same_architecture_variants_share_initial_weights_and_a_wider_one_does_not():
    base = recipe("cnn").override(epochs=1, seed=0)
    plan = study_plan(base, StudyChoice(baseline=True, l2=1e-3, dropout=0.3, batchnorm=True, wider=True), 2)
    runs = [rec(i + 1, cfg, study_run_name("cnn", label, 1)) for i, (label, cfg) in enumerate(plan)]
    (said,) = shared_starts(runs)
    assert said.startswith("Seeds 0, 1: cnn · baseline, cnn · L2 λ=0.001, cnn · dropout 0.3, cnn · batch-norm "
                           "started from the same initial weights")
    assert "cnn · wider (width 32) started from its own" in said


def test_colour_follows_the_run_id_and_seeds_draw_a_band():
    assert charts.run_color(7) == charts.run_color(7 + len(charts.RUN_PALETTE)) != charts.run_color(8)
    runs = _seeded(0.0, [(0, 0.80), (1, 0.84)], 4)
    fig = charts.variant_curves(variant_series(group_variants(runs)))
    bands = [t for t in fig.data if t.fill == "toself"]
    assert bands and all(t.line.width == 0 for t in bands)
    # No markers on a band: plotly drew its corners as points in colours of no variant, not in the legend.
    assert all(t.mode == "lines" for t in bands)
    assert {t.line.color for t in bands} == {charts.run_color(4)}
    assert {t.fillcolor for t in bands} == {charts._rgba(charts.run_color(4), 0.18)}
    assert {t.line.color for t in fig.data if t.fill is None} == {charts.run_color(4)}
    assert len(charts.variant_gap(variant_series(group_variants(runs))).data) == 2  # band + mean


def _hue_distance(a: str, b: str) -> float:
    import colorsys

    rgb = [[int(c.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)] for c in (a, b)]
    (h1, _, s1), (h2, _, s2) = (colorsys.rgb_to_hls(*c) for c in rgb)
    return min(abs(h1 - h2), 1 - abs(h1 - h2)) + abs(s1 - s2)


def test_variants_on_one_chart_get_clearly_distinct_colours_that_follow_the_run():
    """New-user issue: baseline and dropout were two close pinks (Plotly's #FF6692 and #FF97FF)."""
    for first in range(len(charts.RUN_PALETTE)):  # three variants of a study: consecutive ids, any start
        colors = [charts.run_color(first + k) for k in range(3)]
        assert len(set(colors)) == 3
        assert all(_hue_distance(a, b) > 0.05 for i, a in enumerate(colors) for b in colors[i + 1:]), colors
    # Two variants whose ids share a colour: the later one takes the next free colour, the first keeps its own.
    n = len(charts.RUN_PALETTE)
    series = [{"color_id": 3}, {"color_id": 3 + n}, {"color_id": 4}]
    assert charts.variant_colors(series) == [charts.run_color(3), charts.run_color(4), charts.run_color(5)]
    runs = _seeded(0.0, [(0, 0.80), (1, 0.84)], 1) + _seeded(0.01, [(0, 0.7), (1, 0.75)], 1 + n)
    fig = charts.variant_curves(variant_series(group_variants(runs)))
    assert len({t.line.color for t in fig.data}) == 2


def _study_rec(run_id, dataset, name, status=RunStatus.FINISHED):
    cfg = recipe("cnn" if dataset == "cifar2" else "lenet").override(epochs=1)
    return rec(run_id, cfg, name, status=status)


def test_default_selection_is_the_newest_study_else_newest_runs_of_one_dataset():
    """New-user issue: a CNN on CIFAR was put beside LeNet on MNIST by default."""
    lone = [_study_rec(2, "mnist", "Learn · LeNet"), _study_rec(3, "cifar2", "cnn on cifar2")]
    assert default_selection(lone) == [3]
    more = [_study_rec(1, "cifar2", "older cnn"), *lone, _study_rec(4, "mnist", "failed", RunStatus.FAILED)]
    assert default_selection(more) == [3, 1]
    studied = [*more, *(_study_rec(5 + i, "cifar2", f"cnn · v{i} · seed 0 · study {1 + i // 2}") for i in range(4)),
               _study_rec(9, "mnist", "older, no study", RunStatus.STOPPED)]
    assert default_selection(studied) == [7, 8]  # study 2, whatever its runs' status
    assert default_selection([]) == []
    assert one_study(studied[-5:-3]) == 1 and one_study(studied[-5:-1]) is None and one_study(lone) is None


def test_default_selection_is_what_was_trained_last_and_never_an_lstm_beside_a_lenet():
    """Issue 31: Compare opened with an LSTM beside a noisy-label LeNet (same dataset, nothing else in common)."""
    lstm = rec(3, recipe("lstm64"), "lstm64")
    noisy = rec(2, recipe("lenet").override(label_noise=0.4), "lenet noisy")
    assert default_selection([rec(1, recipe("rnn128"), "rnn128"), noisy, lstm]) == [3, 1]  # the recurrent ones
    study = [_study_rec(4 + i, "cifar2", f"cnn · v{i} · seed 0 · study 1") for i in range(2)]
    assert default_selection([noisy, lstm, *study]) == [4, 5]  # the study is the latest thing trained
    assert default_selection([*study, rec(6, recipe("lenet"), "lenet"), noisy]) == [6, 2]  # runs after it


# ------------------------------------------------------------------ the page
def caption_text(at) -> str:
    return " ".join(c.value for c in at.caption)


def button(at, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def chart_colors(at) -> dict[str, str]:
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return {t["name"]: t["line"].get("color") for t in spec["data"] if "color" in t.get("line", {})}


def test_status_chips_count_each_status_at_each_poll(home, store):
    ids = [store.create_run(tiny(), f"q{i}") for i in range(3)]  # queued
    ids.append(store.create_run(tiny(), "r", status=RunStatus.RUNNING))
    ids.append(store.create_run(tiny(), "f", status=RunStatus.FINISHED))
    at = page("pages/compare.py")
    at.query_params["ids"] = ",".join(map(str, ids))
    at.run()
    assert not at.exception
    assert "⏳ 3 queued · 🏃 1 training · ✅ 1 finished" in caption_text(at)
    store.update_run(ids[0], status=RunStatus.RUNNING)
    store.update_run(ids[3], status=RunStatus.FINISHED)
    at.run()  # the next poll
    assert "⏳ 2 queued · 🏃 1 training · ✅ 2 finished" in caption_text(at)
    labels = at.multiselect(key="compare_ids").options
    assert f"🏃 #{ids[0]} q0" in labels and f"✅ #{ids[3]} r" in labels  # the pickers' labels follow too


def test_selection_lives_in_the_url_and_a_new_session_gets_it(home, store):
    ids = [store.create_run(tiny(), f"run {i}", status=RunStatus.FINISHED) for i in range(4)]
    at = page("pages/compare.py").run()
    at.multiselect(key="compare_ids").set_value([ids[0], ids[2], ids[3]]).run()
    assert not at.exception
    assert at.query_params["ids"] == f"{ids[0]},{ids[2]},{ids[3]}"
    again = page("pages/compare.py")  # a copied link, opened in a new session
    again.query_params["ids"] = at.query_params["ids"]
    again.run()
    assert again.multiselect(key="compare_ids").value == [ids[0], ids[2], ids[3]]
    again.query_params["ids"] = str(ids[1])  # a link from another page, followed in this same session
    again.session_state[LAST_PAGE] = "train"
    again.run()
    assert again.multiselect(key="compare_ids").value == [ids[1]]
    again.multiselect(key="compare_ids").set_value([ids[1], ids[0]]).run()
    assert again.multiselect(key="compare_ids").value == [ids[1], ids[0]]  # the user's pick, not the old link
    bad = page("pages/compare.py")
    bad.query_params["ids"] = f"{ids[1]},x9,"
    bad.run()
    assert not bad.exception and any("cannot be read" in w.value for w in bad.warning)
    gone = page("pages/compare.py")
    gone.query_params["ids"] = f"{ids[1]},999"
    gone.run()
    assert gone.multiselect(key="compare_ids").value == [ids[1]] and "#999" in caption_text(gone)


def _study(at, epochs=1, seeds=1):
    at.selectbox(key=StudyKey.RECIPE).select("lstm64")
    at.number_input(key=StudyKey.EPOCHS).set_value(epochs)
    at.number_input(key=StudyKey.LIMIT).set_value(300)
    at.number_input(key=StudyKey.SEEDS).set_value(seeds)
    at.checkbox(key=StudyKey.USE_P).uncheck()  # baseline + L2: two runs per seed
    return at


def _stop_all(home):
    from playground.settings import Settings
    from ui.common import _registry

    registry = _registry(str(Settings.from_env().home))
    for run_id in registry.active():
        registry.stop(run_id)
    for run_id in list(registry._jobs):
        registry.wait(run_id, timeout=60)


def test_the_selection_goes_to_the_url_in_place_and_a_lagging_url_does_not_undo_it(home, store, monkeypatch):
    """Issue 31: leaving Compare took two Backs (arriving wrote the default selection to the URL, a second
    entry), and each change of selection was one more: the URL is rewritten in place, never pushed. A rerun's
    URL may still be the one before the last write: only an arrival reads it."""
    from streamlit.runtime.state.query_params import QueryParams

    pushed = []
    send = QueryParams._send_query_param_msg
    monkeypatch.setattr(QueryParams, "_send_query_param_msg", lambda self: (pushed.append(str(self)), send(self)))
    ids = [store.create_run(tiny(l2=l2), f"l2 {l2}", status="finished") for l2 in (0.0, 0.01, 0.1)]
    at = page("pages/compare.py").run()
    assert at.multiselect(key="compare_ids").value == [ids[2], ids[1]]
    assert at.query_params["ids"] == f"{ids[2]},{ids[1]}"  # the default selection, named in place
    for chosen in ([ids[0]], [ids[0], ids[1]], [ids[2]]):
        at.multiselect(key="compare_ids").set_value(chosen).run()
        assert at.query_params["ids"] == ",".join(map(str, chosen))
    [script] = [e.proto.body for e in at.get("html") if "replaceState" in e.proto.body]
    assert f"ids={ids[2]}" in script and '"compare"' in script
    at.query_params["ids"] = str(ids[0])  # the browser had not taken the last write yet
    at.run()
    assert at.multiselect(key="compare_ids").value == [ids[2]] and not at.exception
    assert pushed == []


def test_reloading_during_a_study_keeps_its_live_view(home, store, step_gate):
    # Both runs hold from their third forward pass until the test ends: 50 tiny epochs could otherwise
    # finish before the reload on a fast moment of a loaded machine (CI saw exactly that).
    gate = step_gate(3, every_after=True)
    at = _study(page("pages/compare.py").run(), epochs=50)
    button(at, "🚀 Launch study").click().run()
    try:
        ids = at.session_state["compare_ids"]
        assert len(ids) == 2 and at.query_params["ids"] == ",".join(map(str, ids))
        reload = page("pages/compare.py")
        reload.query_params["ids"] = at.query_params["ids"]
        reload.run()
        assert not reload.exception
        assert reload.multiselect(key="compare_ids").value == ids
        assert "the charts update every second" in caption_text(reload)
        # Between evaluated epochs the curves stand still: the caption says where each training run is.
        # 180 s is a bound on a loaded machine, not a speed: the first study probes its speed before training.
        poll_until(reload, lambda a: all(f"#{i} epoch " in caption_text(a) for i in ids), seconds=180)
        assert "the charts update every second" in caption_text(reload)
    finally:
        gate.released.set()
        _stop_all(home)


def test_launching_the_same_study_twice_asks_first(home, store):
    at = _study(page("pages/compare.py").run())
    button(at, "🚀 Launch study").click().run()
    first = sorted(at.session_state["compare_ids"])
    assert len(first) == 2
    button(at, "🚀 Launch study").click().run()
    assert not at.exception
    assert any(f"These 2 runs already exist (#{first[0]}, #{first[1]})" in w.value for w in at.warning)
    assert not any("dropout masks" in w.value for w in at.warning)  # said only of dropout runs, which cannot repeat
    assert len(store.list_runs()) == 2  # nothing launched yet
    button(at, "Show the existing runs").click().run()
    assert sorted(at.session_state["compare_ids"]) == first and not at.warning
    at.number_input(key=StudyKey.SEEDS).set_value(2).run()
    button(at, "🚀 Launch study").click().run()
    assert any("2 of these 4 runs already exist" in w.value for w in at.warning)
    button(at, "Launch only the 2 new").click().run()
    runs = store.list_runs()
    assert len(runs) == 4 and sorted(r.config.seed for r in runs) == [0, 0, 1, 1]
    button(at, "🚀 Launch study").click().run()
    button(at, "Launch again anyway").click().run()
    assert len(store.list_runs()) == 8
    _stop_all(home)


def test_the_study_form_launches_a_data_size_axis(home, store):
    assert store.new_study() == 1  # another session launching now took study 1 (its runs not written yet)
    at = _study(page("pages/compare.py").run())
    at.checkbox(key=StudyKey.USE_L2).uncheck()
    at.multiselect(key=StudyKey.SIZES).select(300).select(750).run()
    assert any("2 runs" in c.value for c in at.caption if c.value.startswith("⏱")), [c.value for c in at.caption]
    button(at, "🚀 Launch study").click().run()
    assert not at.exception and not at.error
    runs = store.list_runs()
    assert sorted(r.config.data.limit for r in runs) == [300, 750]
    assert all("images" in r.name and "study 2" in r.name for r in runs)
    _stop_all(home)


def test_the_study_form_launches_an_early_stopping_variant(home, store):
    at = _study(page("pages/compare.py").run())
    at.checkbox(key=StudyKey.USE_L2).uncheck()
    at.checkbox(key=StudyKey.USE_P).uncheck()
    at.checkbox(key=StudyKey.ES).check()
    at.number_input(key=StudyKey.PATIENCE).set_value(3).run()
    button(at, "🚀 Launch study").click().run()
    assert not at.exception and not at.error
    runs = store.list_runs()
    assert sorted((r.config.optim.patience, "early stopping" in r.name) for r in runs) == [(0, False), (3, True)]
    _stop_all(home)


def test_select_this_studys_runs(home, store):
    one = [store.create_run(tiny(seed=s), f"lstm64 · baseline · seed {s} · study 1", status="finished")
           for s in (0, 1)]
    store.create_run(tiny(), "mine", status="finished")
    two = [store.create_run(tiny(l2=0.1), "lstm64 · L2 λ=0.1 · seed 0 · study 2", status="finished")]
    at = page("pages/compare.py").run()
    at.selectbox(key="compare_study").select(1)
    button(at, "Select this study's runs").click().run()
    assert not at.exception and at.multiselect(key="compare_ids").value == one
    at.selectbox(key="compare_study").select(2)
    button(at, "Select this study's runs").click().run()
    assert at.multiselect(key="compare_ids").value == two
    # Runs picked by hand (or launched, or linked) that are one study's: the picker names that study.
    at.multiselect(key="compare_ids").set_value(one).run()
    assert at.selectbox(key="compare_study").value == 1


def test_bulk_delete_confirms_once_says_what_went_and_refuses_running_runs(home, store):
    done = [store.create_run(tiny(), f"done {i}", status="finished") for i in range(3)]
    running = store.create_run(tiny(), "busy", status=RunStatus.RUNNING)
    keep = store.create_run(tiny(), "keep", status="finished")
    at = page("pages/compare.py")
    at.query_params["ids"] = ",".join(map(str, [*done, running]))
    at.run()
    button(at, "Take the runs selected for comparison").click().run()
    assert at.multiselect(key="bulk_ids").value == [*done, running]
    assert button(at, "Delete 4 runs").disabled  # one confirmation first
    at.checkbox(key="bulk_confirm").check().run()
    button(at, "Delete 4 runs").click().run()
    assert not at.exception
    assert [r.id for r in store.list_runs()] == [keep, running]
    assert any("Deleted 3 runs" in s.value and "done 0" in s.value and f"#{done[2]}" in s.value
               for s in at.success)
    assert any(f"#{running}" in w.value and "stop it before deleting it" in w.value for w in at.warning)
    assert at.multiselect(key="bulk_ids").value == [running]  # what was refused stays picked
    assert at.multiselect(key="compare_ids").value == [running]
    assert at.checkbox(key="bulk_confirm").value is False


def test_a_runs_colour_does_not_depend_on_what_else_is_selected(home, store):
    from playground.engine.training import Trainer

    ids = []
    for i, hidden in enumerate((8, 16, 24)):
        cfg = tiny(epochs=1, limit=200, hidden=hidden)
        ids.append(store.create_run(cfg, f"h{i}"))
        Trainer(cfg, store, ids[-1]).run()
    at = page("pages/compare.py")
    at.query_params["ids"] = str(ids[2])
    at.run()
    name = f"#{ids[2]} h2 (val)"
    first = chart_colors(at)[name]
    at.multiselect(key="compare_ids").set_value(ids).run()  # now third on the chart, not first
    assert chart_colors(at)[name] == first == charts.run_color(ids[2])


def test_seeds_show_as_a_band_with_mean_and_spread_on_the_page(home, store):
    from playground.engine.training import Trainer

    ids = []
    for l2 in (0.0, 0.01):
        for seed in (0, 1):
            cfg = tiny(epochs=1, limit=200, l2=l2, seed=seed)
            ids.append(store.create_run(cfg, f"l2 {l2} · seed {seed} · study 1"))
            Trainer(cfg, store, ids[-1]).run()
    at = page("pages/compare.py")
    at.query_params["ids"] = ",".join(map(str, ids))
    at.run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sum(t.get("fill") == "toself" for t in spec["data"]) == 8  # per variant: train, val x loss, acc
    table = at.dataframe[0].value
    assert list(table["seeds"]) == ["0, 1", "0, 1"] and all("±" in v for v in table["test acc"])
    assert "test acc vs first" in table.columns
    assert "started from the same initial weights" in caption_text(at)
    [helped] = [m.value for m in at.markdown if m.value.startswith("**Helped, or noise?**")]
    assert "vs l2 0.0 (2 runs" in helped and " gap " in helped and "test accuracy" in helped
    assert "seeds' spread" in helped and "no spread" not in helped  # two seeds each: a spread to judge by


def test_the_study_form_says_what_its_defaults_show_and_how_long_they_take(home):
    from playground.engine.study import STUDY_EPOCHS, STUDY_LIMIT, STUDY_LR, STUDY_VAL_FRACTION

    at = page("pages/compare.py").run()
    assert any("epochs" in c.value and "minutes" in c.value and "5 seeds" in c.value for c in at.caption)
    # Measured (bench/results/settings-study.json): the defaults that open a gap beyond seed noise.
    assert at.number_input(key=StudyKey.EPOCHS).value == STUDY_EPOCHS == 100
    assert at.number_input(key=StudyKey.LIMIT).value == STUDY_LIMIT == 1500
    assert at.number_input(key=StudyKey.LR).value == STUDY_LR
    assert at.slider(key=StudyKey.VAL).value == STUDY_VAL_FRACTION
    assert any(c.value.startswith("⏱ 3 runs") and "here" in c.value for c in at.caption)  # an estimate before Launch
    assert any("every 6th epoch and the last" in c.value for c in at.caption)  # which epochs get a point


def test_the_study_forms_cnn_note_shows_for_cnn_recipes_only(home):
    """New-user issue: the CNN measurements showed under gru3x200 too."""
    at = page("pages/compare.py").run()
    assert any("the plain CNN ends at" in c.value for c in at.caption)
    at.selectbox(key=StudyKey.RECIPE).select("gru3x200").run()
    assert not at.exception and not any("CNN" in c.value or "900 training images" in c.value for c in at.caption)
    assert any("No overfitting timings were measured for gru3x200" in c.value for c in at.caption)


def test_default_selection_and_seed_note_on_the_page(home, store):
    """New-user issue: by default a CNN on CIFAR beside LeNet on MNIST, with a "One seed per variant" note."""
    older = store.create_run(tiny(), "older lstm on mnist", status="finished")
    lenet = store.create_run(recipe("lenet").override(epochs=1), "Learn · LeNet", status="finished")
    cnn = store.create_run(recipe("cnn").override(epochs=1), "cnn on cifar2", status="finished")
    at = page("pages/compare.py").run()
    assert not at.exception and at.multiselect(key="compare_ids").value == [cnn]  # one dataset only
    at.multiselect(key="compare_ids").set_value([lenet, older]).run()  # two unrelated runs: no seed note
    assert not at.exception and "One seed per variant" not in caption_text(at)
    study = [store.create_run(tiny(l2=l2), f"lstm · v{l2} · seed 0 · study 1", status="finished")
             for l2 in (0.0, 0.01)]
    fresh = page("pages/compare.py").run()
    assert fresh.multiselect(key="compare_ids").value == study  # the newest study's runs
    assert "One seed per variant" in caption_text(fresh)


def test_the_runs_table_shows_every_header_whole(home, store):
    """Issue 31: headers were cut on the right ("last meas…", "test a…"): each column is as wide as its header."""
    from ui.compare_view import header_px

    ids = trained_runs(store, [(tiny(epochs=1, limit=200, l2=l2), f"l2 {l2}") for l2 in (0.0, 0.01)])
    at = page("pages/compare.py").run()
    at.multiselect(key="compare_ids").set_value(ids).run()
    columns = json.loads(at.dataframe[0].proto.columns)
    for name in ("last measured epoch", "test acc", "final train acc", "l2", "status"):
        assert columns[name]["width"] >= header_px(name) >= 7.5 * len(name) + 16, name


def test_the_variant_table_gives_its_spread_columns_room(home, store):
    """New-user issue: "69.0% ± 3.2%" showed as "69.0% ± 3." in a column sized to its header."""
    from ui.compare_view import text_px

    ids = trained_runs(store, [(tiny(epochs=1, limit=200, seed=s), f"b · seed {s} · study 1") for s in (0, 1)])
    at = page("pages/compare.py").run()
    assert at.multiselect(key="compare_ids").value == ids
    columns = json.loads(at.dataframe[0].proto.columns)
    table = at.dataframe[0].value
    for name in ("val acc", "gap", "test acc"):  # each as wide as its longest text (Chromium: test_browser_fit.py)
        assert columns[name]["width"] >= max(text_px(v) for v in table[name]), name
    assert text_px("100.0% ± 10.0%") >= 7.5 * len("100.0% ± 10.0%") + 16  # ~7.5 px a character, and padding


def test_runs_repeated_with_one_seed_are_not_a_spread():
    """Adversarial test: two runs of seed 0 showed "80.0% ± 0.0%" and could never be noise."""
    runs = _seeded(0.0, [(0, 0.80), (0, 0.80)], 1) + _seeded(0.01, [(0, 0.81)], 3)
    table = table_of(runs)
    assert table[0]["test acc"] == "80.0%" and table[0]["seeds"] == "0 (+1 repeated)"
    assert table[1]["test acc vs first"] == "+1.0%"  # no seeds' spread to call it noise by
    spread = _seeded(0.0, [(0, 0.80), (0, 0.80), (1, 0.84)], 1) + _seeded(0.01, [(0, 0.83)], 4)
    assert table_of(spread)[1]["test acc vs first"] == "+1.0% · noise (seeds spread 4.0%)"


def test_two_finished_runs_show_the_test_images_where_they_differ(home, store):
    ids = trained_runs(store, [(tiny(epochs=1, limit=300, seed=s), f"seed {s}") for s in (0, 1)])
    at = page("pages/compare.py")
    at.query_params["ids"] = f"{ids[0]},{ids[1]}"
    at.run()
    assert not at.exception
    assert any(e.label.startswith(f"🔍 Where #{ids[0]} and #{ids[1]} differ") for e in at.expander)
    assert not [m for m in at.markdown if "right, #" in m.value]  # built only while open (issue 36)
    at.session_state["panel-differ"] = True
    at.run()
    said = [m.value for m in at.markdown if "right, #" in m.value]
    assert len(said) == 2 and said[0].startswith(f"**#{ids[0]} right, #{ids[1]} wrong:")


def test_which_settings_matter_draws_parallel_coordinates_and_importance(home, store):
    from playground.compare import importance_trust

    ids = trained_runs(store, [(tiny(epochs=1, limit=300, lr=lr, hidden=h), f"lr {lr}")
                               for lr, h in ((0.001, 8), (0.01, 8), (0.05, 16), (0.003, 16))])
    at = page("pages/compare.py")
    at.query_params["ids"] = ",".join(map(str, ids))
    at.run()
    assert not at.exception
    assert any(e.label.startswith("🧭 Which settings matter: 4 finished runs over") for e in at.expander)
    assert "parcoords" not in " ".join(c.proto.spec for c in at.get("plotly_chart"))  # built only while open
    at.session_state["panel-settings-matter"] = True
    at.run()
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "parcoords" in specs and "share of the result" in specs
    assert any("Trust it little" in c.value for c in at.caption)
    assert importance_trust(2, 1).startswith("not at all") and importance_trust(40, 2).startswith("fairly")


def test_a_sweep_launched_from_compare_trains_its_trials_and_follows_them(home, store):
    assert store.new_study() == 1  # another session launching now took study 1 (its runs not written yet)
    at = page("pages/compare.py").run()
    at.number_input(key="sweep_epochs").set_value(1)
    at.number_input(key="sweep_limit").set_value(300)
    at.number_input(key="sweep_trials").set_value(3)
    at.text_input(key="sweep_range_batch_size").set_value("16:0")  # low > high: said, nothing launched
    button(at, "🎛 Launch sweep").click().run()
    assert any("Cannot run this sweep" in e.value and "low < high" in e.value for e in at.error)
    assert store.list_runs() == []
    at.text_input(key="sweep_range_batch_size").set_value("16:64")
    button(at, "🎛 Launch sweep").click().run()
    assert not at.exception and not at.error

    def concluded(a) -> bool:  # its three runs finished and the sweep's thread ended (it tells Optuna last)
        runs = store.list_runs()
        return len(runs) == 3 and all(r.status == RunStatus.FINISHED for r in runs) and \
            any(m.value.startswith("Best trial ") for m in a.success)

    poll_until(at, concluded)
    at.run()
    runs = store.list_runs()
    assert all(r.name.startswith("lenet · trial ") and r.name.endswith("· study 2") for r in runs)
    assert sorted(at.session_state["compare_ids"]) == sorted(r.id for r in runs)  # followed as they started
    assert any(e.label.startswith("🧭 Which settings matter: 3 finished runs") for e in at.expander)
    best = [m.value for m in at.success if m.value.startswith("Best trial ")]  # the sweep's conclusion
    assert best and "batch_size=" in best[0] and "over the median trial" in best[0], [m.value for m in at.success]
    assert all("lr=" in r.name for r in runs)  # each trial's name shows its settings
    assert not any("Seeds ≥ 2" in c.value for c in at.caption)  # no seeds hint under a sweep


def test_one_stop_stops_a_sweep_launched_from_compare(home, store):
    """Stopping the running trial used to start the next (6 presses for 6 trials): one Stop ends the sweep."""
    at = page("pages/compare.py").run()
    at.number_input(key="sweep_epochs").set_value(50)
    at.number_input(key="sweep_limit").set_value(300)
    at.number_input(key="sweep_trials").set_value(20)
    button(at, "🎛 Launch sweep").click().run()
    poll_until(at, lambda a: len(store.list_runs()) >= 1)
    button(at, "⏹ Stop sweep").click().run()
    poll_until(at, lambda a: not any(b.label.startswith("⏹ Stop sweep") for b in a.button), seconds=180)
    runs = store.list_runs()
    assert len(runs) <= 3 and all(r.status not in ("queued", "running") for r in runs), \
        [(r.name, r.status) for r in runs]
    assert any("stopped with its sweep" in w.value for w in at.warning)


def test_a_sweep_no_trial_of_which_could_train_is_refused_with_why(home, store):
    """lstm64 (one layer) with the form's dropout range: every trial was refused, silently."""
    at = page("pages/compare.py").run()
    at.selectbox(key="sweep_recipe").set_value("lstm64").run()
    at.multiselect(key="sweep_params").set_value(["dropout"]).run()
    button(at, "🎛 Launch sweep").click().run()
    assert any("no trial could train" in e.value and "layers >= 2" in e.value for e in at.error), at.error
    assert store.list_runs() == []


def test_the_study_forms_numbers_are_the_measured_ones(home):
    """Issue 29: the form said "dropout 0.5 to ~8 (8–10), in every seed" beside a 7.6–9.9 measurement."""
    from pathlib import Path

    from playground.engine.study import STUDY_DROPOUT, STUDY_EPOCHS, STUDY_L2, STUDY_LIMIT, STUDY_LR, STUDY_VAL_FRACTION
    from playground.measured import STUDY_EVAL, STUDY_WALL

    results = Path(__file__).resolve().parents[1] / "bench" / "results"
    study = json.loads((results / "settings-study.json").read_text())["configs"]
    for name, entry in study.items():  # measured with the defaults the form opens with
        cfg = entry["config"]
        assert (cfg["limit"], cfg["val_fraction"], cfg["lr"], cfg["epochs"]) == (
            STUDY_LIMIT, STUDY_VAL_FRACTION, STUDY_LR, STUDY_EPOCHS), name
    assert study["l2"]["config"]["l2"] == STUDY_L2 and study["dropout"]["config"]["dropout"] == STUDY_DROPOUT
    wall = json.loads((results / STUDY_WALL[0]).read_text())
    assert wall["wall"] == STUDY_WALL[1] and wall["args"]["variants"] == "none,l2,dropout"
    every = json.loads((results / STUDY_EVAL[0]).read_text())
    assert (every["phases"]["evaluation"], every["phases"]["train epochs"]) == STUDY_EVAL[1:]
    at = page("pages/compare.py").run()
    note = next(c.value for c in at.caption if "the plain CNN ends at" in c.value)
    for name in ("none", "l2", "dropout"):
        gap = study[name]["gap"]
        assert f"{gap['min'] * 100:.1f}–{gap['max'] * 100:.1f} points" in note, name
    assert ("in every seed" in note) == (max(study["l2"]["gap"]["max"], study["dropout"]["gap"]["max"])
                                         < study["none"]["gap"]["min"])
    assert f"took {wall['wall']:.0f} s" in note and "bench/README" not in note and "/learn#how-we-measured" in note
    # The default (one seed) says plainly that it has no spread; more seeds do not.
    assert any(c.value.startswith("⏱") and "no spread" in c.value for c in at.caption)
    at.number_input(key=StudyKey.SEEDS).set_value(3).run()
    assert not any(c.value.startswith("⏱") and "no spread" in c.value for c in at.caption)


def test_a_study_size_beyond_the_dataset_is_capped_and_labelled_with_the_size_used():
    """Issue 29: CIFAR-2's "first 12,000 samples" of 10,000 and `--sizes 20000,50000` were labelled as asked."""
    from playground.compare import StudyChoice, data_variants
    from playground.engine.study import study_runs

    made = data_variants(recipe("cnn"), StudyChoice(sizes=(3000, 12000, 50000)))
    assert [cfg.data.limit for _, cfg in made] == [3000, 10000]  # 50,000 caps to the same 10,000: one entry
    assert [label for label, _ in made] == ["3,000 images", "10,000 images (all there are; 12,000 asked)"]
    runs = study_runs("cnn", ["none"], seeds=1, sizes=(20000, 50000))
    assert [r.config.data.limit for r in runs] == [10000] and "(all there are; 20,000 asked)" in runs[0].label
    runs = study_runs("lstm64", ["none"], seeds=1, sizes=(20000, 50000))  # MNIST: 60,000 training images
    assert [r.config.data.limit for r in runs] == [20000, 50000]
    runs = study_runs("lstm64", ["none"], seeds=1, sizes=(70000,))
    assert runs[0].config.data.limit == 60000 and "60,000 images (all there are; 70,000 asked)" in runs[0].label


def test_shut_forms_build_no_widgets_and_keep_their_values(home, store):
    """Issue 36: the study and sweep forms (~40 widgets) were built on every visit though their panels were
    shut; now only while open, and what the learner set outlives shutting the panel."""
    from ui.study_form import Key

    from conftest import COMPARE_PANELS

    trained_runs(store, [(tiny(epochs=1, limit=200), "one")])
    at = page("pages/compare.py")
    for panel in COMPARE_PANELS:
        at.session_state[panel] = False
    at.run()
    assert not at.exception
    assert not [w for w in at.number_input if (w.key or "").startswith(("study_", "sweep_"))]
    at.session_state["panel-study"] = True
    at.run()
    at.number_input(key=Key.EPOCHS).set_value(7).run()
    at.session_state["panel-study"] = False
    at.run()
    assert not [w for w in at.number_input if w.key == Key.EPOCHS]
    at.session_state["panel-study"] = True
    at.run()
    assert at.number_input(key=Key.EPOCHS).value == 7 and not at.exception  # kept while it was shut
