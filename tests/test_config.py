import json

import pytest

from playground.config import RECIPES, ConfigError, RunConfig, recipe, validate

from conftest import tiny


def test_json_round_trip_keeps_every_field():
    cfg = tiny(l2=0.001, dropout=0.0, width=32, optimizer=None)
    assert RunConfig.from_json(cfg.to_json()) == cfg
    assert json.loads(cfg.to_json())["reg"]["l2"] == 0.001


def test_every_recipe_is_valid():
    for cfg in RECIPES.values():
        validate(cfg)
    assert recipe("lstm64").optim.lr == 0.01 and recipe("lstm64").model.hidden == 64
    assert recipe("gru3x200").model.layers == 3 and recipe("gru3x200").reg.dropout == 0.2
    assert recipe("cnn-bn-l2").reg.batchnorm and recipe("cnn-bn-l2").reg.l2 == 0.001


def test_unknown_recipe_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="lstm64"):
        recipe("nope")


@pytest.mark.parametrize("override, message", [
    (dict(lr=0.0), "learning rate"),
    (dict(lr=-1.0), "learning rate"),
    (dict(lr=float("nan")), "learning rate"),
    (dict(batch_size=0), "batch size"),
    (dict(arch="transformer"), "valid: rnn, lstm, gru, cnn, lenet"),
    (dict(dataset="imagenet"), "unknown dataset"),
    (dict(hidden=0), "hidden size"),
    (dict(dropout=1.0), "dropout"),
    (dict(dropout=0.5, layers=1), "layers >= 2"),
    (dict(epochs=0), "epochs"),
    (dict(width=3, arch="cnn"), "even"),
    (dict(l2=-0.1), "L2"),
    (dict(optimizer=None, name="lbfgs"), "optimizer"),
    (dict(batchnorm=True), "CNNs only"),
    (dict(limit=5), "at least 10"),
    (dict(schedule="warmup"), "unknown learning-rate schedule 'warmup'; valid: constant, step, cosine, onecycle"),
])
def test_invalid_configs_are_rejected_with_the_reason(override, message):
    with pytest.raises(ConfigError, match=message):
        validate(tiny(**{k: v for k, v in override.items() if k != "optimizer"}))


def test_unknown_keys_are_errors_not_silently_dropped():
    with pytest.raises(ConfigError, match="unknown"):
        RunConfig.from_dict({"optim": {"lr": 0.1, "learning_rate": 3}})
    with pytest.raises(ConfigError, match="unknown setting"):
        RunConfig().override(lrate=0.1)


def test_stored_settings_with_the_optimizers_old_field_name_still_read():
    import json

    from playground.config import RunConfig

    old = json.loads(RunConfig().to_json())
    old["optim"]["name"] = old["optim"].pop("optimizer")
    old["optim"]["name"] = "sgd"
    assert RunConfig.from_json(json.dumps(old)).optim.optimizer == "sgd"


def test_a_schedule_round_trips_through_json_and_settings_stored_before_schedules_read_as_constant():
    cfg = tiny(schedule="onecycle")
    assert RunConfig.from_json(cfg.to_json()) == cfg and json.loads(cfg.to_json())["optim"]["schedule"] == "onecycle"
    old = json.loads(RunConfig().to_json())
    del old["optim"]["schedule"]  # a run stored before schedules existed
    assert validate(RunConfig.from_json(json.dumps(old))).optim.schedule == "constant"
