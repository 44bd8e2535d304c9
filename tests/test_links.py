"""Links that reproduce a setup: config <-> query parameters, Compare selections <-> run ids."""
import pytest

from playground.config import RECIPES, ConfigError, RunConfig, recipe
from playground.links import (
    PAGE_PARAMS,
    compare_params,
    config_from_params,
    config_params,
    ids_from_params,
    own_params,
    run_id,
)


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_round_trips_as_just_its_name(name):
    params = config_params(recipe(name), name)
    assert params == {"recipe": name}
    assert config_from_params(params) == recipe(name)


@pytest.mark.parametrize("name", list(RECIPES))
def test_a_recipe_with_overrides_round_trips_and_names_only_the_changes(name):
    cfg = recipe(name).override(epochs=2, lr=0.0003, seed=7, limit=6000)
    params = config_params(cfg, name)
    assert params == {"recipe": name, "epochs": "2", "lr": "0.0003", "seed": "7", "limit": "6000"}
    assert config_from_params(params) == cfg
    assert all(isinstance(v, str) for v in params.values())


@pytest.mark.parametrize("cfg", [
    RunConfig(),
    RunConfig().override(arch="rnn", hidden=128, delay=20, clip=1.0, normalize="unit", val_fraction=0.0),
    RunConfig().override(dataset="cifar2", arch="cnn", batchnorm=True, l2=1e-05, dropout=0.4, width=32,
                         activation="relu", optimizer="sgd", momentum=0.9, weight_decay=0.0005),
    RunConfig().override(arch="gru", layers=3, hidden=200, dropout=0.2, optimizer="rmsprop", device="cpu"),
    RunConfig().override(schedule="onecycle", lr=0.05),
])
def test_configs_without_a_recipe_round_trip(cfg):
    params = config_params(cfg)
    assert "recipe" not in params
    assert config_from_params(params) == cfg


def test_a_recipe_turned_off_reads_back():
    cfg = recipe("cnn-bn-l2").override(batchnorm=False, l2=0.0)
    params = config_params(cfg, "cnn-bn-l2")
    assert params == {"recipe": "cnn-bn-l2", "batchnorm": "false", "l2": "0.0"}
    assert config_from_params(params) == cfg


def test_the_documented_link_reads_and_page_keys_are_left_alone():
    cfg = config_from_params({"recipe": "rnn128", "epochs": "2", "run": "5", "batchnorm": "0"})
    assert cfg == recipe("rnn128").override(epochs=2)


@pytest.mark.parametrize("params, named", [
    ({"recipe": "nope"}, "recipe"),
    ({"epochs": "abc"}, "epochs"),
    ({"epochs": "0"}, "epochs"),
    ({"lr": "-1"}, "lr"),
    ({"lr": "nan"}, "lr"),
    ({"batchnorm": "maybe"}, "batchnorm"),
    ({"arch": "transformer"}, "arch"),
    ({"epoch": "2"}, "epoch"),
    ({"recipe": "lstm64", "dropout": "0.5"}, "dropout"),  # one-layer LSTM: dropout has nothing to act on
    ({"limit": "9" * 200}, "limit"),
])
def test_a_bad_value_raises_config_error_naming_it(params, named):
    with pytest.raises(ConfigError, match=named):
        config_from_params(params)


def test_compare_selection_round_trips():
    assert compare_params([3, 5, 3, 8]) == {"ids": "3,5,8"}
    assert ids_from_params(compare_params([3, 5, 8])) == [3, 5, 8]
    assert ids_from_params({}) == [] and ids_from_params({"ids": ""}) == []
    assert ids_from_params({"ids": " 4, 2 ,,4"}) == [4, 2]
    for bad in ("1,x", "-3", "1.5"):
        with pytest.raises(ConfigError, match="ids"):
            ids_from_params({"ids": bad})


@pytest.mark.parametrize("bad", ["²", "𝟏", "١", "٣2", "-3", "+3", "1.5", "1e3", "", " ", "x", "1" * 19, "3\x00"])
def test_one_parser_reads_every_run_id_ascii_digits_only(bad):
    """'²'.isdigit() is True (int('²') then crashed /compare) and int('𝟏') == 1 (a link silently named run 1)."""
    with pytest.raises(ConfigError, match="not a run id"):
        run_id(bad)
    if bad.strip():
        with pytest.raises(ConfigError, match="ids"):
            ids_from_params({"ids": f"2,{bad}"})


def test_run_id_reads_plain_digits():
    assert run_id("7") == 7 and run_id(" 42 ") == 42 and run_id("9" * 18) == int("9" * 18)


def test_the_run_links_of_train_use_the_same_parser():
    from ui.run_facts import run_from_link

    for text in ("²", "𝟏", "1" * 19):
        assert run_from_link(text, [1])[0] is None and "not a run number" in run_from_link(text, [1])[1]
    assert run_from_link("1", [1]) == (1, None)


def test_each_page_keeps_only_its_own_query_parameters():
    url_params = {"recipe": "lstm64", "hidden": "32", "run": "19", "ids": "15,16", "lesson": "memory"}
    assert own_params("train", url_params) == {"recipe": "lstm64", "hidden": "32", "run": "19"}
    assert own_params("compare", url_params) == {"ids": "15,16"}
    assert own_params("learn", url_params) == {"lesson": "memory"}
    assert own_params("draw", {**url_params, "model": "3"}) == {"model": "3"}  # a lesson's link names its model
    assert own_params("home", url_params) == url_params  # a page not listed keeps what it has
    assert not PAGE_PARAMS["compare"] & PAGE_PARAMS["train"] and not PAGE_PARAMS["learn"] & PAGE_PARAMS["train"]


def test_a_schedule_rides_in_the_link_and_a_bad_one_is_named():
    cfg = recipe("cnn").override(schedule="cosine")
    params = config_params(cfg, "cnn")
    assert params == {"recipe": "cnn", "schedule": "cosine"}
    assert config_from_params(params) == cfg
    with pytest.raises(ConfigError, match="schedule=warmup: unknown learning-rate schedule"):
        config_from_params({"recipe": "cnn", "schedule": "warmup"})


def test_early_stopping_rides_in_the_link_and_a_bad_value_is_named():
    """Issue 31: patience and min_delta in a Train link, read back exactly; a link's bad value names its setting."""
    cfg = recipe("lenet").override(patience=5, min_delta=0.005)
    params = config_params(cfg, "lenet")
    assert params == {"recipe": "lenet", "patience": "5", "min_delta": "0.005"}
    assert config_from_params(params) == cfg
    with pytest.raises(ConfigError, match="patience: '2.5' is not a whole number"):
        config_from_params({"recipe": "lenet", "patience": "2.5"})
    with pytest.raises(ConfigError, match="patience=3, val_fraction=0.0: early stopping watches validation"):
        config_from_params({"recipe": "lenet", "patience": "3", "val_fraction": "0.0"})
