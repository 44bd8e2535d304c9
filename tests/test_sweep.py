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
