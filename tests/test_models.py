import pytest
import torch

from playground.config import ConfigError, RunConfig
from playground.data import SPECS
from playground.models import build_model, conv_out, count_parameters, summary

from conftest import tiny


def cfg(**kw) -> RunConfig:
    return RunConfig().override(**kw)


def rnn_params(kind: str, inp: int, hidden: int, layers: int, classes: int) -> int:
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    total = 0
    for layer in range(layers):
        i = inp if layer == 0 else hidden
        total += gates * (hidden * i + hidden * hidden + 2 * hidden)
    return total + hidden * classes + classes


def test_cnn_parameter_counts_match_the_book():
    assert count_parameters(build_model(cfg(arch="cnn", dataset="cifar2"))) == 18_090
    assert count_parameters(build_model(cfg(arch="cnn", dataset="cifar2", width=32))) == 38_386


def test_cnn_count_follows_the_formula_for_any_width_and_batchnorm():
    for width in (8, 16, 64):
        w2 = width // 2
        expected = (width * 27 + width) + (w2 * width * 9 + w2) + (w2 * 8 * 8 * 32 + 32) + (32 * 2 + 2)
        assert count_parameters(build_model(cfg(arch="cnn", dataset="cifar2", width=width))) == expected
        bn = count_parameters(build_model(cfg(arch="cnn", dataset="cifar2", width=width, batchnorm=True)))
        assert bn == expected + 2 * width + 2 * w2


@pytest.mark.parametrize("kind, hidden, layers", [("rnn", 128, 1), ("lstm", 64, 1), ("lstm", 100, 1),
                                                  ("gru", 200, 3)])
def test_recurrent_counts_follow_the_gate_formula(kind, hidden, layers):
    model = build_model(cfg(arch=kind, hidden=hidden, layers=layers))
    assert count_parameters(model) == rnn_params(kind, 28, hidden, layers, 10)


def test_recurrent_model_on_cifar_reads_32_rows_of_96_values():
    model = build_model(cfg(arch="gru", dataset="cifar2", hidden=16))
    assert model.rnn.input_size == 96
    assert count_parameters(model) == rnn_params("gru", 96, 16, 1, 2)


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru", "cnn", "lenet"])
@pytest.mark.parametrize("dataset", ["mnist", "cifar2"])
def test_forward_shape_for_every_model_and_dataset(arch, dataset):
    model = build_model(cfg(arch=arch, dataset=dataset, hidden=16))
    c, h, w = SPECS[dataset].shape
    out = model(torch.randn(5, c, h, w))
    assert out.shape == (5, len(SPECS[dataset].classes))


def test_unknown_architecture_lists_valid_names():
    bad = RunConfig().override(arch="mlp")
    with pytest.raises(ConfigError, match="valid: rnn, lstm, gru, cnn, lenet"):
        build_model(bad)


def test_summary_rows_add_up_and_show_conv_shapes():
    model = build_model(cfg(arch="cnn", dataset="cifar2"))
    rows = summary(model, (3, 32, 32))
    assert sum(r.params for r in rows) == 18_090
    shapes = {r.name: r.output_shape for r in rows}
    assert shapes["features.0.0"] == (1, 16, 32, 32)
    assert shapes["features.1.2"] == (1, 8, 8, 8)
    assert conv_out(32, 3, 1) == 32 and conv_out(32, 2, 0, 2) == 16 and conv_out(28, 5) == 24


def test_the_memory_estimate_counts_no_batch_larger_than_the_images_left():
    """Adversarial test: width 256 at batch 65,536 with limit 50 was refused as needing 269.7 GB."""
    from playground.config import recipe
    from playground.models import estimate_memory

    huge_batch = recipe("cnn").override(width=256, batch_size=65_536, limit=50)
    as_many_as_there_are = huge_batch.override(batch_size=45)  # 50 images, 10% held out
    assert estimate_memory(huge_batch) == estimate_memory(as_many_as_there_are) < 1e9


def test_a_layer_table_of_a_model_another_session_runs_is_its_own_and_leaves_it_training(monkeypatch):
    """Issue 30: the table's forward hooks sat on the model they were given, the one cached model every session
    shares: 375-642 of 3,000 tables caught another session's pass (extra rows), and eval() switched that
    session's dropout off. Here the other session runs the model exactly while the table's own pass is under way."""
    import threading

    from torch import nn

    from playground.models import layer_table

    cfg = tiny(arch="cnn", width=4, dropout=0.5)
    expected = layer_table(build_model(cfg, seed=0), cfg)
    shared = build_model(cfg, seed=0).train()
    inside, done, tables, training = threading.Event(), threading.Event(), [], []
    original = nn.Conv2d.forward

    def forward(self, x):  # the table's pass waits in its first conv until the other session's pass is over
        if threading.current_thread() is table and not inside.is_set():
            inside.set()
            assert done.wait(60)
        return original(self, x)

    def other_session():
        assert inside.wait(60)
        with torch.no_grad():
            shared(torch.zeros(2, 1, 28, 28))
        training.append(shared.training)
        done.set()

    monkeypatch.setattr(nn.Conv2d, "forward", forward)
    table = threading.Thread(target=lambda: tables.append(layer_table(shared, cfg)))
    other = threading.Thread(target=other_session)
    for t in (table, other):
        t.start()
    for t in (table, other):
        t.join(120)
    assert tables == [expected] and training == [True]
    assert shared.training and not shared._forward_hooks and next(shared.parameters()).device.type == "cpu"
