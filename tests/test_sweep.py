"""Sweeps: parameter ranges, Optuna trials trained as our runs, and parameter importance."""
import numpy as np
import pytest

from playground.config import ConfigError, recipe
from playground.engine.jobs import JobRegistry
from playground.engine.sweep import Param, importances, parse_param, run_sweep

from conftest import tiny


def test_ranges_parse_to_optuna_distributions():
    base = recipe("lstm64")
    assert parse_param("lr=1e-4:1e-1:log", base) == Param("lr", 1e-4, 1e-1, log=True)
    assert parse_param("hidden=16:128", base) == Param("hidden", 16, 128, integer=True)
    assert parse_param("optimizer=adam,sgd", base) == Param("optimizer", choices=("adam", "sgd"))
    assert parse_param("schedule=constant,onecycle", base) == Param("schedule", choices=("constant", "onecycle"))
    for bad, words in (("lr", "looks like"), ("lr=1:0", "low < high"), ("lr=0:1:log", "low > 0"),
                       ("dataset=mnist,cifar2", "cannot be swept"), ("optimizer=adam", "two choices")):
        with pytest.raises(ConfigError, match=words):
            parse_param(bad, base)


def test_a_sweep_trains_its_trials_as_runs_and_reports_each(store):
    registry = JobRegistry(store, max_concurrent=2)
    seen = []
    study = run_sweep(registry, tiny(epochs=1, limit=300), [parse_param("lr=1e-3:1e-1:log", tiny())], trials=3,
                      at_once=2, name="test sweep", on_trial=seen.append)
    assert len(study.trials) == 3 and sorted(t.number for t in seen) == [0, 1, 2]
    for t in seen:
        assert t.state == "complete" and t.run_id is not None and 0 <= t.value <= 1
        rec = store.get_run(t.run_id)
        assert rec.config.optim.lr == pytest.approx(t.params["lr"])
        assert rec.name == f"test sweep · trial {t.number}: lr={t.params['lr']:.3g}"  # its settings in its name
    registry.shutdown()


def test_a_combination_that_cannot_train_fails_its_trial_not_the_sweep(store):
    registry = JobRegistry(store, max_concurrent=1)
    seen = []
    params = [Param("dropout", 0.1, 0.5), Param("layers", 1, 2, integer=True)]
    run_sweep(registry, tiny(epochs=1, limit=300, hidden=8), params, trials=2, on_trial=seen.append,
              first=[{"dropout": 0.2, "layers": 1}, {"dropout": 0.2, "layers": 2}])
    assert [t.state for t in seen] == ["failed", "complete"] and "refused: dropout" in seen[0].message
    registry.shutdown()


def test_importance_goes_to_the_setting_that_moves_the_metric():
    rng = np.random.default_rng(0)
    rows = [({"lr": float(lr), "hidden": int(h)}, float(-abs(np.log10(lr) + 2)))
            for lr, h in zip(10 ** rng.uniform(-4, -1, 30), rng.integers(8, 128, 30), strict=True)]
    got = importances(rows)
    assert got["lr"] > 0.8 and got["hidden"] < 0.2
    assert importances(rows[:2]) == {}  # too few runs to say anything


def test_six_tiny_trials_finish_as_ordinary_runs(store):
    registry = JobRegistry(store, max_concurrent=2)
    study = run_sweep(registry, tiny(epochs=1, limit=300, hidden=8), [parse_param("lr=1e-3:1e-1:log", tiny()),
                      parse_param("batch_size=16:64", tiny())], trials=6, at_once=2, name="six")
    assert len(study.trials) == 6 and all(t.value is not None for t in study.trials)
    runs = store.list_runs()
    assert len(runs) == 6 and all(r.status == "finished" and r.checkpoint for r in runs)
    registry.shutdown()


def test_the_median_pruner_stops_a_hopeless_trial(store):
    """Three short trials that learn, then one at a learning rate that cannot (1e-7): below their median at
    epoch 1, it is stopped there, its run kept as stopped with the reason. The hopeless trial reads 3x the
    images per epoch, so it is still training when the sweep looks (a run done before it is seen cannot be
    pruned), while the three before it stay cheap."""
    registry = JobRegistry(store, max_concurrent=1)
    seen = []
    good, hopeless = {"lr": 0.01, "limit": 1000}, {"lr": 1e-7, "limit": 3000}
    params = [parse_param("lr=1e-7:1e-1:log", tiny()), parse_param("limit=1000:12000", tiny())]
    run_sweep(registry, tiny(arch="lenet", epochs=4), params, trials=4, at_once=1, name="prune",
              on_trial=seen.append, first=[good, good, good, hopeless])
    assert [t.state for t in seen] == ["complete", "complete", "complete", "pruned"], [t.state for t in seen]
    pruned = store.get_run(seen[3].run_id)
    assert pruned.status == "stopped" and "pruned" in pruned.message and len(store.epochs(pruned.id)) < 4
    assert "below the median of the finished trials at that epoch" in seen[3].message  # with both numbers
    registry.shutdown()


def test_a_grid_tries_every_combination_once(store):
    registry = JobRegistry(store, max_concurrent=2)
    params = [parse_param("lr=1e-3:1e-2:log", tiny()), parse_param("batch_size=16,32", tiny())]
    assert params[0].grid(2) == [0.001, 0.01] and params[1].grid(3) == [16, 32]
    study = run_sweep(registry, tiny(epochs=1, limit=300, hidden=8), params, trials=10, grid=2, name="grid")
    combos = sorted((t.params["lr"], t.params["batch_size"]) for t in study.trials)
    assert combos == [(0.001, 16), (0.001, 32), (0.01, 16), (0.01, 32)]  # 4, not the 10 asked
    registry.shutdown()


def test_a_grid_of_integers_keeps_whole_distinct_values():
    assert parse_param("hidden=16:18", tiny()).grid(5) == [16, 17, 18]


# ------------------------------------------------------------------ refusals, bounds, stop, resume, conclusion
class FakeRuns:
    """A registry whose runs end at once with accuracy `acc(settings)`, or (finish=False) only once stopped:
    the sweep's own logic, without training."""

    def __init__(self, acc=lambda cfg: 0.5, finish: bool = True):
        self.acc, self.finish, self.submitted, self.stopped = acc, finish, [], {}

    def submit(self, cfg, name):
        self.submitted.append((cfg, name))
        return len(self.submitted)

    def snapshot(self, run_id, **_kw):
        from types import SimpleNamespace

        from playground.errors import RunStatus

        cfg = self.submitted[run_id - 1][0]
        if run_id in self.stopped:
            return SimpleNamespace(done=True, status=RunStatus.STOPPED, message=self.stopped[run_id],
                                   epoch_rows=[], result={})
        if not self.finish:
            return SimpleNamespace(done=False, status=RunStatus.RUNNING, message=None, epoch_rows=[], result={})
        return SimpleNamespace(done=True, status=RunStatus.FINISHED, message=None, result={},
                               epoch_rows=[{"epoch": 1, "val_acc": self.acc(cfg)}])

    def stop(self, run_id, message="stopped"):
        self.stopped[run_id] = message


@pytest.fixture
def fast_polls(monkeypatch):
    from playground.engine import sweep

    monkeypatch.setattr(sweep, "POLL_SECONDS", 0.0)


@pytest.mark.parametrize("text, words", [
    ("hidden=16,abc", "'abc' is not a whole number"),  # was a ValueError traceback
    ("hidden=0.5:128:log", "'0.5' is not a whole number"),  # was Optuna's traceback
    ("lr=1e-4:1e-1:lg", "can only be 'log'"), ("lr=1e-4:1e-1:log10", "can only be 'log'"),  # were linear
    ("lr=1e-4:1e-1:log:x", "a range is low:high"), ("lr=nan:1", "not a number"),
    ("seed=0:1000", "bookkeeping"), ("eval_every=1:5", "bookkeeping"), ("device=cpu,cuda", "bookkeeping"),
])
def test_a_bad_range_is_one_clear_error(text, words):
    with pytest.raises(ConfigError, match=words):
        parse_param(text, tiny())


def test_log_is_read_in_any_case():
    assert parse_param("lr=1e-4:1e-1:LOG", tiny()) == parse_param("lr=1e-4:1e-1:Log", tiny()) == \
        Param("lr", 1e-4, 1e-1, log=True)


@pytest.mark.parametrize("base, ranges, words", [
    (tiny(epochs=0), ["lr=1e-3:1e-2"], "base settings cannot train: epochs"),
    (tiny(), ["lr=1e-3:1e-2", "lr=1e-2:1e-1"], "lr given twice"),
    (recipe("lenet"), ["hidden=16:128"], "hidden does nothing for lenet"),
    (recipe("lenet"), ["momentum=0:0.9"], "momentum does nothing for lenet with adam"),
    (recipe("lstm64"), ["dropout=0:0.6"], "no trial could train: at dropout=0.3: dropout in a recurrent"),
    (recipe("lenet"), ["dropout=0:1.5"], "dropout=1.5 .an end of its range. cannot train"),
    (recipe("lenet"), ["optimizer=adam,adma"], "optimizer=adma .one of its choices. cannot train: unknown optim"),
    (recipe("lenet"), ["lr=1e-3:1e-2", "schedule=constant,ｓtep"], "schedule=ｓtep .one of its choices. cannot"),
])
def test_a_sweep_that_cannot_mean_anything_is_refused_before_any_trial(base, ranges, words):
    from playground.engine.sweep import check_sweep

    params = [parse_param(r, base) for r in ranges]
    runs = FakeRuns()
    with pytest.raises(ConfigError, match=words):
        run_sweep(runs, base, params, trials=3)
    assert runs.submitted == []
    check_sweep(recipe("lenet"), [parse_param("momentum=0:0.9", recipe("lenet")),  # applies to the sgd trials
                                  parse_param("optimizer=sgd,adam", recipe("lenet"))])


def test_a_huge_grid_is_never_built(fast_polls):
    """Compare's 14 ranges made 8.5 million combinations before the first trial (3 GB): now at most the
    trials are drawn, one at a time."""
    import tracemalloc

    base = recipe("lenet")
    params = [parse_param(f"{k}={r}", base) for k, r in (("lr", "1e-4:1e-2:log"), ("l2", "1e-5:1e-3:log"),
              ("dropout", "0:0.5"), ("batch_size", "16:256"), ("label_noise", "0:0.5"), ("limit", "1000:12000"))]
    runs = FakeRuns()
    tracemalloc.start()
    study = run_sweep(runs, base, params, trials=3, grid=40)  # 40**6 = 4.1e9 combinations
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(runs.submitted) == len(study.trials) == 3 and peak < 20e6, peak
    assert len({repr(sorted(t.params.items())) for t in study.trials}) == 3
    with pytest.raises(ConfigError, match="2 to 50 values"):
        run_sweep(runs, base, params, trials=3, grid=-1)


def test_a_huge_trial_budget_over_a_grid_lists_nothing():
    """`--trials 10**9 --grid 50` over 5 ranges once shuffled a list of all 312 million combinations (GBs); over 3
    ranges here (125,000: the old list is 6 MB, not tens of GB, when this test fails)."""
    import tracemalloc

    from playground.engine.sweep import _grid

    base = recipe("lenet")
    params = [parse_param(f"{k}={r}", base) for k, r in (("lr", "1e-4:1e-2:log"), ("l2", "1e-5:1e-3:log"),
              ("dropout", "0:0.5"))]
    tracemalloc.start()
    drawn = [values for values, _ in zip(_grid(params, 50, 10**6, 0), range(5), strict=False)]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len({repr(sorted(v.items())) for v in drawn}) == 5 and peak < 1e6, peak
    small = [parse_param("dropout=0:0.5", base), parse_param("lr=1e-4:1e-2", base)]  # 9 combinations, all of them
    assert len({repr(sorted(v.items())) for v in _grid(small, 3, 10**9, 0)}) == 9


def test_long_lists_of_choices_are_refused_and_checked_at_a_few_values(monkeypatch):
    """Four settings of 200 choices each made check_sweep validate 200**4 probes before any trial (hung)."""
    from playground.engine import sweep

    base = recipe("lstm64")
    many = ",".join(str(v) for v in range(16, 216))
    with pytest.raises(ConfigError, match="200 choices; give at most 50"):
        parse_param(f"hidden={many}", base)
    fifty = ",".join(str(v) for v in range(16, 66))
    params = [parse_param(f"{k}={fifty}", base) for k in ("hidden", "batch_size", "limit")]
    params.append(parse_param("layers=1,2,3", base))
    calls = []
    real = sweep.validate
    monkeypatch.setattr(sweep, "validate", lambda cfg: calls.append(1) or real(cfg))
    sweep.check_sweep(base, params)
    choices = sum(len(p.choices) for p in params)  # each tried once more alone (it trains: one check each)
    assert len(calls) <= 2 * 4**4 + choices + 1, len(calls)


def test_stop_ends_the_whole_sweep(fast_polls):
    """One stop: the running trials are stopped and no other starts (a stopped trial used to start the next)."""
    runs = FakeRuns(finish=False)
    seen = []
    run_sweep(runs, tiny(), [Param("lr", 1e-3, 1e-2)], trials=10, at_once=2, on_trial=seen.append,
              stop=lambda: len(runs.submitted) >= 2)
    assert len(runs.submitted) == 2 and sorted(runs.stopped) == [1, 2]
    assert [t.state for t in seen] == ["stopped", "stopped"]


def test_a_kept_study_resumes_instead_of_retraining(tmp_path, fast_polls):
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    runs = FakeRuns()
    params = [Param("lr", 1e-3, 1e-2)]
    run_sweep(runs, tiny(), params, trials=3, name="kept", storage=url)
    run_sweep(runs, tiny(), params, trials=3, name="kept", storage=url)  # the same command: nothing to train
    assert len(runs.submitted) == 3
    study = run_sweep(runs, tiny(), params, trials=5, name="kept", storage=url)  # two more
    assert len(runs.submitted) == 5 and len(study.trials) == 5
    # ... and new ones: the resumed sampler, seeded as the first session's was, proposed trial 0's lr again
    assert len({cfg.optim.lr for cfg, _ in runs.submitted}) == 5, [cfg.optim.lr for cfg, _ in runs.submitted]


@pytest.mark.parametrize("storage, words", [
    ("sweep.db", "takes a database URL, e.g. sqlite:///sweep.db"),
    ("sqlite:///{tmp}/no/such/sweep.db", "folder .* does not exist"),
    ("sqlite:///{tmp}", "is a directory"),
    ("postgresql://user@localhost/db", "needs a database driver|cannot open --storage"),
])
def test_a_storage_that_cannot_be_used_is_one_clear_error(tmp_path, storage, words):
    from playground.engine.sweep import open_study

    with pytest.raises(ConfigError, match=words):
        open_study("s", storage.format(tmp=tmp_path), None, None)


def test_a_read_only_storage_folder_is_refused(tmp_path):
    import os

    from playground.engine.sweep import check_storage

    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who may write anywhere (root)")
        with pytest.raises(ConfigError, match="read-only"):
            check_storage(f"sqlite:///{folder / 'sweep.db'}")
    finally:
        folder.chmod(0o700)


def test_a_sweep_ends_with_what_won_by_how_much_and_what_each_failure_hit():
    from playground.engine.sweep import TrialResult, conclusion

    results = [TrialResult(0, 1, {"lr": 0.001, "batch_size": 64}, "complete", 0.928),
               TrialResult(1, 2, {"lr": 0.01, "batch_size": 32}, "complete", 0.90),
               TrialResult(2, 3, {"lr": 0.0003, "batch_size": 128}, "complete", 0.85),
               TrialResult(3, 4, {"lr": 0.09, "batch_size": 16}, "complete", 0.101),
               TrialResult(4, 5, {"lr": 1e-4, "batch_size": 256}, "pruned", 0.3, "pruned by the sweep at epoch 1"),
               TrialResult(5, 6, {"lr": 0.5, "batch_size": 16}, "diverged", None, "the loss became NaN")]
    lines, flagged = conclusion(results, chance=0.1)
    assert lines[0] == "Best trial 0: lr=0.001, batch_size=64 → 92.8% validation accuracy."
    assert lines[1].startswith("That is +5.3 points over the median trial (87.5%)")
    assert flagged == ["trial 3 (lr=0.09, batch_size=16) did not learn: validation accuracy 10.1%, chance is 10%",
                       "trial 4 (lr=0.0001, batch_size=256) pruned: pruned by the sweep at epoch 1",
                       "trial 5 (lr=0.5, batch_size=16) diverged: the loss became NaN"]
    assert conclusion(results[4:])[0][0].startswith("No trial trained to the end")


def test_sweep_json_lines_are_strict():
    import json

    from playground.cli import strict_json

    line = strict_json({"value": float("nan"), "importance": {"lr": float("inf")}, "ok": [0.5, float("-inf")]})
    assert json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c}")) == \
        {"value": None, "importance": {"lr": None}, "ok": [0.5, None]}


def test_which_settings_matter_never_ranks_bookkeeping_and_draws_the_seed_as_noise_floor():
    """eval_every came first at 46% and seed at 52%: neither is a setting. The seed's share is kept apart,
    as the noise floor a setting's share must beat."""
    from types import SimpleNamespace

    from playground.compare import settings_and_results
    from playground.engine.sweep import setting_shares

    rng = np.random.default_rng(0)
    pairs = []
    for i in range(24):
        lr, seed, every = (1e-3, 1e-2)[i % 2], i // 2 % 4, 1 + i % 3
        acc = (0.6 if lr == 1e-3 else 0.9) + float(rng.normal(0, 0.01))
        rec = SimpleNamespace(id=i, name=f"r{i}", status="finished", result={"test_acc": acc},
                              config=tiny(lr=lr, seed=seed, eval_every=every, device=("cpu", "auto")[i % 2]))
        pairs.append((rec, [{"epoch": 1, "val_acc": acc, "train_acc": acc}]))
    settings, rows = settings_and_results(pairs)
    assert settings == ["lr"]
    shares, floor = setting_shares(rows, settings)
    assert list(shares) == ["lr"] and floor is not None and shares["lr"] > 0.8 > floor
    one_seed = [{**r, "seed": 0} for r in rows]
    assert setting_shares(one_seed, settings)[1] is None  # one seed: no floor to draw


def test_default_ranges_are_measured_values_at_which_lenet_learned():
    """The default L2 range reached 0.1, where LeNet stays at chance: each numeric default now ends on values
    bench/sweep_ranges.py measured, every measured value inside learned, and the table equals its file."""
    import json
    from pathlib import Path

    from playground.engine.sweep import DEFAULT_RANGES, LEARNS_AT, RANGES_FILE, RANGES_MEASURED, RANGES_SCALE

    recorded = json.loads((Path(__file__).resolve().parents[1] / "bench" / "results" / RANGES_FILE).read_text())
    assert recorded["learns_at"] == LEARNS_AT and recorded["args"] == RANGES_SCALE
    assert set(recorded["settings"]) == set(RANGES_MEASURED)
    for name, measured in RANGES_MEASURED.items():
        got = recorded["settings"][name]
        assert list(measured) == got["values"] and list(measured.values()) == pytest.approx(got["val_acc"], abs=5e-4)
        p = parse_param(f"{name}={DEFAULT_RANGES[name]}", recipe("lenet"))
        assert p.low in measured and p.high in measured, name  # both ends were tried
        assert all(acc >= LEARNS_AT for v, acc in measured.items() if p.low <= v <= p.high), name


def test_two_sweeps_on_one_storage_share_its_trial_budget(tmp_path, fast_polls):
    """Two CLIs sweeping one --storage at once each trained the whole budget (3 + 3 of a 3-trial sweep): the
    budget is the study's. Their trials stay running until both sweeps could have asked for all they wanted."""
    import threading
    import time

    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    release, hung, lock, total, errors = threading.Event(), threading.Event(), threading.Lock(), [0], []
    started = time.monotonic()

    class Held(FakeRuns):  # runs that end once three have started in all (a hang guard ends them after 60 s)
        def submit(self, cfg, name):
            with lock:
                total[0] += 1
                if total[0] >= 3:
                    release.set()
            return super().submit(cfg, name)

        def snapshot(self, run_id, **kw):
            if not release.is_set() and time.monotonic() - started > 60:
                hung.set()
            self.finish = release.is_set() or hung.is_set()
            return super().snapshot(run_id, **kw)

    def sweep(runs):
        try:
            run_sweep(runs, tiny(), [Param("lr", 1e-3, 1e-2)], trials=3, at_once=2, name="shared", storage=url)
        except Exception as exc:  # noqa: BLE001  e.g. both creating the new storage's tables at once
            errors.append(exc)

    sweeps = [Held(finish=False) for _ in range(2)]
    threads = [threading.Thread(target=sweep, args=(runs,)) for runs in sweeps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and not hung.is_set(), (errors, [len(runs.submitted) for runs in sweeps])
    assert sum(len(runs.submitted) for runs in sweeps) == 3
    import optuna

    study = optuna.load_study(study_name="shared", storage=url)
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 3


def test_a_trial_left_running_by_a_dead_sweep_is_trained_again(tmp_path, fast_polls):
    """The shared budget counts running trials of live processes only: one a killed CLI left "running" does not
    use up the budget of the sweep resumed after it."""
    import optuna

    from playground.engine import sweep

    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    study = optuna.create_study(study_name="kept", storage=url, direction="maximize")
    dead = study.ask()
    dead.set_user_attr(sweep.OWNER, f"{sweep.HOST}:999999999:gone")  # no such pid on this machine
    runs = FakeRuns()
    run_sweep(runs, tiny(), [Param("lr", 1e-3, 1e-2)], trials=2, name="kept", storage=url)
    assert len(runs.submitted) == 2
