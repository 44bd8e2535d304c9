"""The batched model (engine/batched.py): copy k of K runs trained as one must be run k trained alone, step for
step; the reference is the engine's own EagerStep with the run's own optimizer, init and batch order."""
import pytest
import torch

from playground.config import ConfigError, RunConfig
from playground.data import Normalizer
from playground.engine.batched import (
    BatchedModel,
    BatchedStep,
    batched_optimizer,
    can_batch,
    epoch_orders,
)
from playground.engine.steps import EagerStep, l2_penalty
from playground.engine.training import make_optimizer
from playground.models import build_model

NORM = Normalizer.of("mnist", "half")
BATCH = 16


def _data(n=88, seed=0):
    """Random MNIST-shaped images; 88 = five full batches of 16 and a partial one of 8."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8),
            torch.randint(0, 10, (n,), generator=g))


def _configs(seeds=(0, 1, 2), l2s=(0.0, 0.0, 1e-3), **settings):
    base = RunConfig().override(dataset="mnist", batch_size=BATCH, device="cpu", **settings)
    return [base.override(seed=s, l2=lam) for s, lam in zip(seeds, l2s, strict=True)]


def _batched(configs, x, y):
    model = BatchedModel(configs)
    return BatchedStep(model, batched_optimizer(model), [NORM], x, y, clip=configs[0].optim.clip)


def _separate(cfg, x, y):
    """Run k on its own, as the Trainer builds it: seeded model, its optimizer, the eager step."""
    model = build_model(cfg, seed=cfg.seed)
    return EagerStep(model, make_optimizer(cfg, model.parameters()), NORM, x, y, cfg.reg.l2, cfg.optim.clip)


def _assert_copies_match_separate_runs(configs):
    x, y = _data()
    batched = _batched(configs, x, y)
    separate = [_separate(c, x, y) for c in configs]
    # Each run's own order, drawn as the Trainer draws it (a generator seeded with the run's seed).
    orders = epoch_orders([torch.Generator().manual_seed(c.seed) for c in configs], len(y), "cpu")  # [K, N]
    for k, cfg in enumerate(configs):
        assert torch.equal(orders[k], torch.randperm(len(y), generator=torch.Generator().manual_seed(cfg.seed)))
    for i in range(0, len(y), BATCH):  # one epoch, the partial last batch included
        idx = orders[:, i:i + BATCH]  # [K, B]
        batched.step(idx)
        for k, run in enumerate(separate):
            run.step(idx[k])
            want = run.model.state_dict()
            for name, got in batched.model.unstack(k).items():
                torch.testing.assert_close(got, want[name], atol=1e-5, rtol=1e-4, msg=f"copy {k} {name} step {i}")
    for got, run in zip(batched.drain(), separate, strict=True):
        for (loss, l2), (want_loss, want_l2) in zip(got, run.drain(), strict=True):
            assert loss == pytest.approx(want_loss, rel=1e-5, abs=1e-6)
            assert l2 == pytest.approx(want_l2, rel=1e-5, abs=1e-9)


def test_lenet_adam_copies_train_as_their_separate_runs():
    _assert_copies_match_separate_runs(_configs(arch="lenet", optimizer="adam", lr=1e-3, weight_decay=1e-4))


@pytest.mark.parametrize("clip", [0.0, 0.5])
def test_cnn_sgd_momentum_copies_train_as_their_separate_runs(clip):
    """With clipping, each copy is clipped by its own gradient norm, as its separate run is."""
    _assert_copies_match_separate_runs(_configs(arch="cnn", optimizer="sgd", lr=0.05, momentum=0.9, clip=clip))


def test_l2_term_per_copy():
    configs = _configs(arch="cnn", l2s=(0.0, 1e-3, 0.5))
    model = BatchedModel(configs)
    terms = model.l2_terms()
    assert terms[0].item() == 0.0
    for k in (1, 2):
        want = configs[k].reg.l2 * l2_penalty(build_model(configs[k], seed=configs[k].seed))
        assert terms[k].item() == pytest.approx(want.item(), rel=1e-6)


def test_dropout_copies_draw_their_own_masks_and_still_train():
    # Three identical copies (one seed, one λ) fed one batch: only their dropout masks can tell them apart.
    configs = _configs(seeds=(0, 0, 0), l2s=(0.0, 0.0, 0.0), arch="cnn", dropout=0.5, optimizer="adam", lr=3e-3)
    x, y = _data(n=32)
    step = _batched(configs, x, y)
    model = step.model
    same = torch.arange(32).expand(3, 32)  # [K, B]: every copy the same images
    inputs = step.inputs(same)
    with torch.no_grad():
        out = model.train()(inputs)
        assert not torch.allclose(out[0], out[1]) and not torch.allclose(out[1], out[2])
        out = model.eval()(inputs)
        torch.testing.assert_close(out[0], out[1])
    model.train()
    before = _eval_losses(model, inputs, y[same])
    for _ in range(30):
        step.step(same)
    after = _eval_losses(model, inputs, y[same])
    assert (after < before - 0.1).all(), (before, after)  # each copy learns (measured without dropout noise)
    losses = step.drain()
    assert losses[0] != losses[1]  # and each on its own masks


def _eval_losses(model, inputs, y):
    """[K]: each copy's mean cross-entropy in eval mode (no dropout)."""
    with torch.no_grad():
        logits = model.eval()(inputs)
    model.train()
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view_as(y).mean(1)


def test_unstacked_state_loads_into_build_model_and_gives_the_batched_outputs():
    configs = _configs(arch="lenet", optimizer="sgd", lr=0.1)
    x, y = _data()
    step = _batched(configs, x, y)
    orders = epoch_orders([torch.Generator().manual_seed(c.seed) for c in configs], len(y), "cpu")
    for i in range(0, 48, BATCH):
        step.step(orders[:, i:i + BATCH])
    probe = NORM(x[:20])
    with torch.no_grad():
        batched = step.model.eval()(probe.expand(3, *probe.shape))  # [K, 20, classes]
        for k, cfg in enumerate(configs):
            model = build_model(cfg, seed=cfg.seed + 100)  # other weights, all overwritten by the load
            model.load_state_dict(step.model.unstack(k))
            torch.testing.assert_close(model.eval()(probe), batched[k], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(step.model.copy_model(k)(probe), batched[k], atol=1e-5, rtol=1e-5)


def test_can_batch_says_why_not():
    ok = _configs(arch="cnn")
    assert can_batch(ok) is None
    assert can_batch(_configs(arch="lenet", dropout=0.3, clip=1.0, augment=True)) is None
    assert "no runs" in can_batch([])
    assert "batch-norm" in can_batch(_configs(arch="cnn", batchnorm=True))
    assert "vmap batching rule" in can_batch(_configs(arch="lstm"))
    assert "vmap batching rule" in can_batch(_configs(arch="gru"))
    differ = can_batch([ok[0], ok[1].override(lr=0.1)])
    assert "lr (0.001 vs 0.1)" in differ and "only in seed and l2" in differ
    assert "arch ('cnn' vs 'lenet')" in can_batch([ok[0], ok[1].override(arch="lenet")])
    assert "dropout" in can_batch([ok[0], ok[1].override(dropout=0.5)])
    assert "limit must be" in can_batch([ok[0].override(limit=3)])
    with pytest.raises(ValueError, match="momentum"):  # ConfigError is a ValueError
        BatchedModel([ok[0], ok[1].override(optimizer="sgd", momentum=0.9)])
    with pytest.raises(ConfigError, match="batch-norm"):
        BatchedModel(_configs(arch="lenet", batchnorm=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")
@pytest.mark.parametrize("arch,optimizer", [("cnn", "sgd"), ("lenet", "adam")])
def test_the_batched_step_as_a_cuda_graph_gives_the_eager_steps_losses_and_weights(arch, optimizer):
    """Warm-up, capture, replays and the partial last batch: each copy's losses and weights as the eager batched
    step's, within cuDNN's float noise (its weight gradients sum with atomics)."""
    from playground.engine.batched_graph import BatchedGraphStep

    configs = [c.override(device="cuda") for c in _configs(arch=arch, optimizer=optimizer, lr=1e-2, momentum=0.0)]
    x, y = (t.cuda() for t in _data(n=8 * BATCH + 8))
    norm = Normalizer.of("mnist", "half", torch.device("cuda"))
    eager_model, graph_model = BatchedModel(configs, "cuda"), BatchedModel(configs, "cuda")
    eager = BatchedStep(eager_model, batched_optimizer(eager_model), [norm], x, y, clip=0.0)
    graph = BatchedGraphStep(graph_model, batched_optimizer(graph_model, capturable=True), [norm], x, y, clip=0.0,
                             batch_size=BATCH)
    orders = epoch_orders([torch.Generator().manual_seed(c.seed) for c in configs], len(y), "cuda")
    for i in range(0, len(y), BATCH):
        eager.step(orders[:, i:i + BATCH])
        graph.step(orders[:, i:i + BATCH])
    assert graph.graph is not None and graph.note is None  # captured, and replayed after the warm-up
    for got, want in zip(graph.drain(), eager.drain(), strict=True):
        assert len(got) == len(want) == 9
        for (loss, l2), (want_loss, want_l2) in zip(got, want, strict=True):
            assert loss == pytest.approx(want_loss, rel=1e-3) and l2 == pytest.approx(want_l2, rel=1e-3, abs=1e-9)
    for k in range(len(configs)):
        for name, t in graph_model.unstack(k).items():
            torch.testing.assert_close(t, eager_model.unstack(k)[name], atol=1e-4, rtol=1e-3, msg=f"copy {k} {name}")
    graph.release()
