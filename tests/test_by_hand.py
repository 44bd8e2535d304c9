"""Show the math (by_hand) against PyTorch as the oracle: every conv cell's patch · kernel + bias is the conv's
output, every hand-stepped row is nn.LSTM / nn.GRU / nn.RNN's state, the finite difference is autograd's
gradient, and the shown update is the weight the optimizer actually wrote."""
import numpy as np
import pytest
import torch

from playground import by_hand, probes
from playground.config import RunConfig
from playground.models import build_model


def model_of(**kw):
    torch.manual_seed(0)
    return build_model(RunConfig().override(**kw)).eval()


def image(c=1, h=28, w=28):
    torch.manual_seed(1)
    return torch.randn(1, c, h, w)


CONV_MODELS = [dict(arch="lenet"), dict(arch="lenet", activation="tanh"), dict(arch="cnn"),
               dict(arch="cnn", activation="relu", width=8), dict(arch="cnn", dataset="cifar2"),
               dict(arch="cnn", batchnorm=True), dict(arch="lenet", batchnorm=True, dropout=0.3)]


def _with_running_stats(model):
    """Batch-norm layers with statistics other than 0 and 1, so that their step is really checked."""
    g = torch.Generator().manual_seed(2)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5, generator=g)
            m.running_var.uniform_(0.5, 2.0, generator=g)
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.2, 0.2, generator=g)
    return model


@pytest.mark.parametrize("kw", CONV_MODELS, ids=lambda kw: "-".join(map(str, kw.values())))
def test_every_conv_cell_is_patch_times_kernel_plus_bias(kw):
    model = _with_running_stats(model_of(**kw))
    x = image(3 if kw.get("dataset") == "cifar2" else 1, *((32, 32) if kw.get("dataset") == "cifar2" else (28, 28)))
    maps = probes.feature_maps(model, x)
    for block in (1, 2):
        conv = next(f.maps for f in maps if (f.block, f.stage) == (block, "conv"))
        act = next(f.maps for f in maps if (f.block, f.stage) == (block, "activation"))
        c, h, w = conv.shape
        reader = by_hand.ConvReader(model, x, block)  # what conv_cell reads, read once for all cells
        for ch in range(c):  # every cell of every channel of every conv layer
            for r in range(h):
                for q in range(w):
                    cell = reader.cell(ch, r, q)
                    assert cell.total == pytest.approx(float(conv[ch, r, q]), abs=1e-4, rel=1e-4)
                    assert cell.activated == pytest.approx(float(act[ch, r, q]), abs=1e-4, rel=1e-4)
                    if not kw.get("batchnorm"):
                        assert cell.conv == pytest.approx(cell.total, abs=1e-4, rel=1e-4)
        assert cell.patch.shape == cell.kernel.shape == cell.products.shape
        assert cell.formula.endswith(f"= {h}")


def test_a_cell_reads_its_own_patch_with_the_padding_as_zeros():
    model = model_of(arch="lenet")
    x = image()
    corner = by_hand.conv_cell(model, x, 1, 0, 0, 0)  # LeNet pads conv 1 by 2: two rows and columns of zeros
    assert corner.patch.shape == (1, 5, 5)
    assert (corner.patch[0, :2] == 0).all() and (corner.patch[0, :, :2] == 0).all()
    np.testing.assert_allclose(corner.patch[0, 2:, 2:], x[0, 0, :3, :3].numpy(), atol=1e-7)
    assert corner.rows == (-2, 2) and corner.field_rows == (0, 2)
    assert corner.formula == "⌊(28 + 2·2 − 5) / 1⌋ + 1 = 28"
    # conv 2 reads 6 channels of 14×14 pooled maps; its cell (0, 0) depends on image rows 0..13
    deep = by_hand.conv_cell(model, x, 2, 3, 0, 0)
    assert deep.patch.shape == (6, 5, 5) and deep.formula == "⌊(14 + 2·0 − 5) / 1⌋ + 1 = 10"
    assert deep.field_rows == (0, 11)  # pooled rows 0..4 = conv-1 rows 0..9 = image rows −2..11
    with pytest.raises(IndexError):
        by_hand.conv_cell(model, x, 2, 0, 10, 0)


@pytest.mark.parametrize("kw", [dict(arch="lenet"), dict(arch="cnn"), dict(arch="cnn", batchnorm=True)])
def test_every_pooled_cell_keeps_the_largest_of_its_window(kw):
    model = _with_running_stats(model_of(**kw))
    x = image()
    for block in (1, 2):
        maps = by_hand.stage_maps(model, x, block)
        pooled = maps["pool"]
        c, h, w = pooled.shape
        for ch in range(c):
            for r in range(h):
                for q in range(w):
                    cell = by_hand.pool_cell(model, x, block, ch, r, q, maps)
                    assert cell.kept == pytest.approx(float(pooled[ch, r, q]), abs=1e-6) == cell.pooled
                    assert cell.window.shape == (2, 2) and cell.kept == cell.window.max()
        src = by_hand.conv_cell(model, x, block, ch, *cell.source)
        assert src.activated == pytest.approx(cell.kept, abs=1e-4)


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_every_row_by_hand_is_torchs_hidden_and_cell_state(arch, layers):
    model = model_of(arch=arch, hidden=12, layers=layers, dropout=0.2 if layers > 1 else 0.0, delay=2)
    x = image()
    seq = model.rows(x)
    out, state = model.rnn(seq)  # top layer's h_t for every row; each layer's final state
    for layer in range(layers):
        for t in range(seq.shape[1]):  # all 28 rows and the 2 blank ones
            step = by_hand.recurrent_step(model, x, t, layer)
            np.testing.assert_allclose(step.h, step.torch_h, atol=1e-5)
            if layer == layers - 1:
                np.testing.assert_allclose(step.h, out[0, t].detach().numpy(), atol=1e-5)
            if arch == "lstm":
                np.testing.assert_allclose(step.c, step.torch_c, atol=1e-5)
        final = state[0] if arch == "lstm" else state
        np.testing.assert_allclose(step.h, final[layer, 0].detach().numpy(), atol=1e-5)
        if arch == "lstm":
            np.testing.assert_allclose(step.c, state[1][layer, 0].detach().numpy(), atol=1e-5)


def test_the_lstm_equations_hold_unit_by_unit_and_the_summary_sorts_by_change():
    model = model_of(arch="lstm", hidden=8)
    step = by_hand.recurrent_step(model, image(), 14)
    g = step.gates
    np.testing.assert_allclose(step.c, g["f"] * step.c_prev + g["i"] * g["g"], atol=1e-12)
    np.testing.assert_allclose(step.h, g["o"] * np.tanh(step.c), atol=1e-12)
    rows = by_hand.unit_rows(step)
    changes = [abs(r["change"]) for r in rows]
    assert changes == sorted(changes, reverse=True) and len(rows) == 8
    top = rows[0]["unit"] - 1
    lines = by_hand.unit_equations(step, top)
    assert len(lines) == 6 and lines[-1].endswith(f"{step.h[top]:+.3f}")
    gru = by_hand.recurrent_step(model_of(arch="gru", hidden=8), image(), 3)
    assert by_hand.unit_equations(gru, 0)[-1].endswith(f"{gru.h[0]:+.3f}")


@pytest.mark.parametrize("kw", [dict(arch="lenet"), dict(arch="lstm", hidden=8), dict(arch="cnn", l2=0.01),
                                dict(arch="gru", hidden=8, clip=0.01)])
def test_the_finite_difference_agrees_with_autograd(kw):
    model = model_of(**kw)
    cfg = RunConfig().override(**kw, optimizer="sgd", lr=0.1)
    s = by_hand.training_step(model, cfg, image(), label=3)
    assert s.raw_grad != 0
    assert s.finite_difference == pytest.approx(s.raw_grad, rel=2e-3, abs=1e-7)
    assert s.loss == pytest.approx(s.torch_loss, rel=1e-5)
    np.testing.assert_allclose(s.probs.sum(), 1, atol=1e-9)
    if kw.get("clip"):
        assert s.clip_scale < 1 and s.grad == pytest.approx(s.raw_grad * s.clip_scale, rel=1e-4)


@pytest.mark.parametrize("opt", [dict(optimizer="sgd", lr=0.1), dict(optimizer="sgd", lr=0.05, momentum=0.9),
                                 dict(optimizer="adam", lr=0.01), dict(optimizer="adamw", lr=0.01, weight_decay=0.1),
                                 dict(optimizer="rmsprop", lr=0.001), dict(optimizer="sgd", lr=0.1, weight_decay=0.01)])
@pytest.mark.parametrize("step", [1, 3])
def test_the_update_shown_is_the_optimizers_own_step(opt, step):
    model = model_of(arch="cnn", width=8)
    cfg = RunConfig().override(arch="cnn", width=8, **opt)
    s = by_hand.training_step(model, cfg, image(), label=7, param="features.1.0.weight", step=step)
    assert s.new_weight == pytest.approx(s.torch_weight, rel=1e-5, abs=1e-8)
    assert s.new_weight != s.weight and s.step == step
    if step > 1 and opt.get("momentum"):
        assert "momentum_buffer" in s.state and "μ" in s.lines[0]
    if opt["optimizer"].startswith("adam"):
        assert set(s.state) >= {"exp_avg", "exp_avg_sq"} and s.state["step"] == step
    assert s.lines[-1].endswith(f"{s.new_weight:+.6g}")
    # the model looked at is a shared cached copy: the step happens on a copy
    assert all(p.grad is None for p in model.parameters())
    assert float(dict(model.named_parameters())["features.1.0.weight"][s.index]) == pytest.approx(s.weight) \
        if step == 1 else True


def test_a_step_down_the_gradient_lowers_the_loss_on_that_image():
    model = model_of(arch="lenet")
    cfg = RunConfig().override(arch="lenet", optimizer="sgd", lr=0.01)
    s = by_hand.training_step(model, cfg, image(), label=2)
    assert s.loss_after < s.loss


@pytest.mark.parametrize("kw", [dict(arch="lenet"), dict(arch="cnn", dataset="cifar2"), dict(arch="cnn", width=8)])
def test_all_totals_at_once_are_the_cell_by_cell_sums_and_the_story_tells_the_strongest(kw):
    model = model_of(**kw)
    x = image(3, 32, 32) if kw.get("dataset") else image()
    for block in (1, 2):
        reader = by_hand.ConvReader(model, x, block)
        totals = reader.all_totals()
        assert totals.shape == reader.out.shape
        np.testing.assert_allclose(totals, reader.out, atol=1e-4)
        assert totals[1, 3, 2] == pytest.approx(reader.cell(1, 3, 2).total, abs=1e-9)
    story = by_hand.strongest_cell(model, x)
    act = by_hand.stage_maps(model, x, 1)["activation"]
    assert story.cell.activated == pytest.approx(float(act.max()), abs=1e-5)
    assert story.worst < 1e-4 and story.cells == act.numel()
    assert f"{story.cell.total:+.3f}" in story.text and f"at most {story.worst:.1e}" in story.text
