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
        assert rec.config.optim.lr == pytest.approx(t.params["lr"]) and rec.name == f"test sweep · trial {t.number}"
    registry.shutdown()


def test_a_combination_that_cannot_train_fails_its_trial_not_the_sweep(store):
    registry = JobRegistry(store, max_concurrent=1)
    seen = []
    run_sweep(registry, tiny(epochs=1, limit=300), [Param("dropout", 0.1, 0.5)], trials=2, on_trial=seen.append)
    assert [t.state for t in seen] == ["failed", "failed"] and "dropout" in seen[0].message  # 1-layer LSTM
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
    """Three trials that learn, then one at a learning rate that cannot (1e-7): below their median at
    epoch 2, it is stopped there, its run kept as stopped with the reason. 30 epochs of 270 images: the
    hopeless run is still training when the sweep looks (a run done before it is seen cannot be pruned)."""
    registry = JobRegistry(store, max_concurrent=1)
    seen = []
    good, hopeless = {"lr": 0.01}, {"lr": 1e-7}
    run_sweep(registry, tiny(arch="lenet", epochs=30, limit=300), [parse_param("lr=1e-7:1e-1:log", tiny())],
              trials=4, at_once=1, name="prune", on_trial=seen.append, first=[good, good, good, hopeless])
    assert [t.state for t in seen] == ["complete", "complete", "complete", "pruned"], [t.state for t in seen]
    pruned = store.get_run(seen[3].run_id)
    assert pruned.status == "stopped" and "pruned" in pruned.message and len(store.epochs(pruned.id)) < 30
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
