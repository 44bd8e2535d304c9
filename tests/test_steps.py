"""The training step and its seams: eager step against a hand-written update, the graph step's fallback,
seeded construction, and (on a CUDA machine) graph replay against eager."""
import threading

import pytest
import torch
import torch.nn.functional as F

import playground.engine.steps as steps
import playground.engine.training as training
from playground.config import RunConfig
from playground.data import Normalizer
from playground.engine.steps import EagerStep, GraphStep, l2_penalty, make_step, replay_plan
from playground.engine.training import Trainer, make_optimizer
from playground.errors import RunStatus
from playground.models import build_model, untrained

from conftest import tiny

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _batch(n=16, c=1, size=28, classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, c, size, size), generator=g, dtype=torch.uint8),
            torch.randint(0, classes, (n,), generator=g))


def test_eager_step_equals_a_hand_written_sgd_step_with_l2_and_clipping():
    cfg = RunConfig().override(arch="cnn", dataset="mnist", optimizer="sgd", lr=0.1, l2=1e-3, clip=0.5)
    x, y = _batch()
    model, reference = build_model(cfg, seed=3), build_model(cfg, seed=3)
    norm = Normalizer.of("mnist", "half")
    step = EagerStep(model, make_optimizer(cfg, model.parameters()), norm, x, y, l2=1e-3, clip=0.5)
    idx = torch.arange(8)
    step.step(idx)
    [(loss, l2)] = step.drain()

    data_loss = F.cross_entropy(reference(norm(x[idx])), y[idx])
    penalty = 1e-3 * sum((p ** 2).sum() for p in reference.parameters())
    (data_loss + penalty).backward()
    grads = [p.grad for p in reference.parameters()]
    scale = min(1.0, 0.5 / (torch.sqrt(sum((g ** 2).sum() for g in grads)) + 1e-6))
    with torch.no_grad():
        expected = [p - 0.1 * g * scale for p, g in zip(reference.parameters(), grads, strict=True)]
    assert loss == pytest.approx(data_loss.item(), rel=1e-6)
    assert l2 == pytest.approx(penalty.item(), rel=1e-6)
    for got, want in zip(model.parameters(), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert step.drain() == []  # drained once


def test_l2_penalty_is_the_sum_of_squares():
    model = torch.nn.Linear(3, 2)
    assert l2_penalty(model).item() == pytest.approx(sum((p ** 2).sum().item() for p in model.parameters()))


def test_graph_step_that_cannot_capture_trains_eagerly_and_says_so(monkeypatch):
    """On CPU a capture always fails: the run must still finish, with the same curve as eager."""
    def graph_step(model, optimizer, norm, train_x, train_y, l2, clip, batch_size, graphs):
        return GraphStep(model, optimizer, norm, train_x, train_y, l2=l2, clip=clip, batch_size=batch_size)

    eager = Trainer(tiny(epochs=1)).run()
    monkeypatch.setattr(training, "make_step", graph_step)
    snap = Trainer(tiny(epochs=1)).run()
    assert snap.status == RunStatus.FINISHED
    assert "without CUDA graphs" in snap.message
    assert [r["loss"] for r in snap.step_rows] == [r["loss"] for r in eager.step_rows]


def test_replay_plan_groups_full_batches_and_leaves_the_rest_single():
    # 15 full batches of 64 and a partial one of 40: one block of 8, 7 singles, the partial batch.
    plan = replay_plan(1000, 64, 8)
    assert plan[0] == (0, 8)
    assert plan[1:] == [(512 + 64 * j, 1) for j in range(7)] + [(960, 1)]
    assert replay_plan(1024, 64, 8) == [(0, 8), (512, 8)]  # whole blocks, nothing left
    assert replay_plan(100, 64, 8) == [(0, 1), (64, 1)]  # fewer full batches than a group
    assert replay_plan(0, 64, 8) == []
    assert replay_plan(1000, 64, 1) == [(i, 1) for i in range(0, 1000, 64)]  # one batch per call, as before
    for n, bs, k in [(1000, 64, 8), (54000, 64, 16), (17, 4, 3), (5, 8, 2), (4096, 32, 16)]:
        plan = replay_plan(n, bs, k)
        covered = [s for start, count in plan for s in range(start, min(start + count * bs, n))]
        assert covered == list(range(n))  # every sample once, in the epoch's order
        assert all(count in (1, k) for _, count in plan)
        assert [start for start, _ in plan] == sorted(start for start, _ in plan)
    with pytest.raises(ValueError):
        replay_plan(10, 4, 0)


@pytest.mark.parametrize("group", [1, 4])
def test_grouped_steps_train_like_single_steps_on_cpu(monkeypatch, group):
    """The trainer's grouped loop (a capture fails on CPU, so a group runs as single steps): same rows."""
    def graph_step(model, optimizer, norm, train_x, train_y, l2, clip, batch_size, graphs):
        return GraphStep(model, optimizer, norm, train_x, train_y, l2=l2, clip=clip, batch_size=batch_size,
                         group=group)

    cfg = tiny(epochs=2, limit=700)  # 630 train samples, batch 32: 19 full batches and a partial one
    eager = Trainer(cfg).run()
    monkeypatch.setattr(training, "make_step", graph_step)
    snap = Trainer(cfg).run()
    assert snap.status == RunStatus.FINISHED
    assert [r["step"] for r in snap.step_rows] == [r["step"] for r in eager.step_rows]
    assert [r["loss"] for r in snap.step_rows] == [r["loss"] for r in eager.step_rows]
    assert [r["lr"] for r in snap.step_rows] == [r["lr"] for r in eager.step_rows]
    assert [r["l2"] for r in snap.epoch_rows] == [r["l2"] for r in eager.epoch_rows]
    assert snap.epoch_rows[-1]["train_loss"] == eager.epoch_rows[-1]["train_loss"]


def test_an_eager_step_trains_one_batch_per_call():
    cfg = tiny()
    model = build_model(cfg, seed=0)
    x, y = _batch()
    step = EagerStep(model, make_optimizer(cfg, model.parameters()), Normalizer.of("mnist", "half"), x, y,
                     l2=0.0, clip=0.0)
    assert step.group == 1
    with pytest.raises(NotImplementedError):
        step.step_group(0)


def test_make_step_is_eager_on_cpu_even_with_graphs_on():
    cfg = tiny()
    model = build_model(cfg, seed=0)
    x, y = _batch()
    step = make_step(model, make_optimizer(cfg, model.parameters()), Normalizer.of("mnist", "half"), x, y,
                     0.0, 0.0, batch_size=8, graphs=True)
    assert type(step) is EagerStep


def test_seeded_build_ignores_other_threads_drawing_random_numbers():
    """Inside's untrained copy and a run's initial weights agree while other threads use the global RNG."""
    cfg = tiny(seed=7)
    expected = untrained(cfg).state_dict()
    stop = threading.Event()

    def draw():
        while not stop.is_set():
            torch.rand(100)

    threads = [threading.Thread(target=draw, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(20):
            got = build_model(cfg, seed=7).state_dict()
            assert all(torch.equal(got[k], expected[k]) for k in expected)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    build_model(cfg, seed=7)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random stream did not move


# ---------------------------------------------------------------- CUDA (skipped without a GPU)
ARCH_CASES = [dict(arch="rnn", hidden=32), dict(arch="lstm", hidden=32, layers=2, dropout=0.3),
              dict(arch="gru", hidden=32), dict(arch="lenet", activation="relu", optimizer="adamw"),
              dict(arch="cnn", dataset="cifar2", normalize="standard", dropout=0.3, batchnorm=True, l2=1e-3,
                   optimizer="sgd", momentum=0.9, clip=1.0),
              dict(arch="cnn", dataset="mnist", optimizer="rmsprop")]


@cuda
@pytest.mark.parametrize("case", ARCH_CASES, ids=lambda c: c["arch"] + ("-reg" if len(c) > 3 else ""))
def test_graph_and_eager_steps_give_the_same_losses(case):
    cfg = tiny(device="cuda", **case)
    shape = (3, 32) if cfg.data.dataset == "cifar2" else (1, 28)
    x, y = _batch(n=256, c=shape[0], size=shape[1], classes=2 if shape[0] == 3 else 10)
    x, y = x.cuda(), y.cuda()
    losses = []
    for graphs in (False, True):
        torch.cuda.manual_seed(0)
        model = build_model(cfg, seed=1).cuda()
        opt = make_optimizer(cfg, model.parameters(), capturable=graphs)
        step = make_step(model, opt, Normalizer.of(cfg.data.dataset, cfg.data.normalize, "cuda"), x, y,
                         cfg.reg.l2, cfg.optim.clip, batch_size=32, graphs=graphs)
        for i in range(8):
            step.step(torch.arange(i * 32, (i + 1) * 32, device="cuda"))
        losses.append(step.drain())
        assert not graphs or (step.graph is not None and step.note is None)
    # Float-equal to run-to-run noise: cuDNN's convolution weight gradients sum with atomics, so even two
    # eager CNN runs differ (measured on an H200: 2e-7 at step 5, 0.1% by step 8).
    torch.testing.assert_close(torch.tensor(losses[1]), torch.tensor(losses[0]), rtol=1e-2, atol=1e-4)


@cuda
def test_two_graph_runs_at_once_and_memory_freed():
    before = torch.cuda.memory_allocated()
    trainers = [Trainer(tiny(device="cuda", epochs=2, seed=s, arch="cnn", dataset="cifar2")) for s in (1, 2)]
    threads = [t.start() for t in trainers]
    for t in threads:
        t.join(timeout=300)
    for trainer in trainers:
        snap = trainer.snapshot()
        assert snap.status == RunStatus.FINISHED and snap.message is None, snap.message
    del trainers, threads
    torch.cuda.empty_cache()
    assert torch.cuda.memory_allocated() <= before + 1 << 20


@cuda
def test_graph_run_diverges_and_stops_like_eager():
    snap = Trainer(tiny(device="cuda", arch="rnn", optimizer="sgd", lr=1e3, epochs=3)).run()
    assert snap.status == RunStatus.DIVERGED
    trainer = Trainer(tiny(device="cuda", epochs=500, limit=5000))
    thread = trainer.start()
    for _ in range(600):
        if trainer.snapshot().step >= 20 or not thread.is_alive():
            break
        thread.join(timeout=0.05)
    trainer.stop()
    thread.join(timeout=30)
    assert not thread.is_alive() and trainer.snapshot().status == RunStatus.STOPPED


@cuda
def test_the_same_seed_gives_the_same_curve_on_the_gpu():
    runs = [Trainer(tiny(device="cuda", arch="cnn", dataset="mnist", epochs=2, dropout=0.2)).run() for _ in range(2)]
    assert all(s.status == RunStatus.FINISHED and s.message is None for s in runs), [s.message for s in runs]
    first, second = ([r["loss"] for r in s.step_rows] for s in runs)
    assert first[0] == second[0]  # same weights, same dropout mask, same batch: bit for bit
    # Then cuDNN's atomics add float noise (H200: 2e-7 at step 4): equal to that noise, not bit for bit.
    assert second == pytest.approx(first, rel=1e-2)


def _grouped_losses(case: dict, group: int, epochs: int = 2, n: int = 32 * 13 + 5):
    """Train `epochs` epochs of n samples (13 full batches of 32 and one of 5) the trainer's way:
    blocks of `group` batches by one replay, the rest single; losses and final weights."""
    cfg = tiny(device="cuda", **case)
    shape = (3, 32) if cfg.data.dataset == "cifar2" else (1, 28)
    x, y = _batch(n=n, c=shape[0], size=shape[1], classes=2 if shape[0] == 3 else 10)
    x, y = x.cuda(), y.cuda()
    torch.cuda.manual_seed(0)
    model = build_model(cfg, seed=1).cuda()
    opt = make_optimizer(cfg, model.parameters(), capturable=True)
    step = make_step(model, opt, Normalizer.of(cfg.data.dataset, cfg.data.normalize, "cuda"), x, y,
                     cfg.reg.l2, cfg.optim.clip, batch_size=32, graphs=True, group=group)
    g = torch.Generator().manual_seed(5)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=g).cuda()
        step.begin_epoch(order)
        for start, count in replay_plan(n, 32, group):
            if count == 1:
                step.step(order[start:start + 32])
            else:
                step.step_group(start)
        losses += step.drain()
    assert step.graph is not None and step.note is None
    assert group == 1 or (step.group_graph is not None and not step.group_failed)
    weights = [p.detach().clone() for p in model.parameters()]
    step.release()
    return losses, weights


@cuda
@pytest.mark.parametrize("case", ARCH_CASES, ids=lambda c: c["arch"] + ("-reg" if len(c) > 3 else ""))
def test_a_replay_of_k_steps_gives_the_losses_and_weights_of_k_single_replays(case):
    single, w_single = _grouped_losses(case, group=1)
    grouped, w_grouped = _grouped_losses(case, group=4)
    assert len(grouped) == len(single) == 2 * 14
    torch.testing.assert_close(torch.tensor(grouped), torch.tensor(single), rtol=1e-2, atol=1e-4)
    for a, b in zip(w_grouped, w_single, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-3)


def test_recurrent_models_keep_one_step_per_replay_by_default(monkeypatch):
    """The default groups convolutional models only (recurrent ones measured slower grouped)."""
    monkeypatch.setattr(torch.Tensor, "is_cuda", property(lambda self: True))  # reach the GraphStep branch
    monkeypatch.setattr(steps, "GraphStep", lambda *a, group, **k: group)
    x, y = _batch()
    norm = Normalizer.of("mnist", "half")
    for case, want in ((dict(arch="lstm", hidden=8), steps.RECURRENT_STEPS_PER_REPLAY),
                       (dict(arch="lenet"), steps.STEPS_PER_REPLAY)):
        model = build_model(tiny(**case), seed=0)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        assert steps.make_step(model, opt, norm, x, y, 0.0, 0.0, batch_size=8, graphs=True) == want
        assert steps.make_step(model, opt, norm, x, y, 0.0, 0.0, batch_size=8, graphs=True, group=3) == 3


@cuda
def test_grouped_graph_runs_train_and_stop_in_the_trainer(monkeypatch):
    """Whole runs with 16 steps per replay: finish like single replays, five at once, and stop."""
    runs = {}
    for group in (1, 16):
        monkeypatch.setattr(steps, "RECURRENT_STEPS_PER_REPLAY", group)
        runs[group] = Trainer(tiny(device="cuda", epochs=2, limit=1200)).run()  # 33 full batches an epoch
    for snap in runs.values():
        assert snap.status == RunStatus.FINISHED and snap.message is None, snap.message
    a, b = ([r["loss"] for r in runs[g].step_rows] for g in (1, 16))
    assert [r["step"] for r in runs[16].step_rows] == [r["step"] for r in runs[1].step_rows]
    assert b == pytest.approx(a, rel=2e-2, abs=1e-3)
    trainers = [Trainer(tiny(device="cuda", epochs=2, seed=s, limit=3000)) for s in range(5)]
    threads = [t.start() for t in trainers]
    for t in threads:
        t.join(timeout=300)
    assert all(t.snapshot().status == RunStatus.FINISHED for t in trainers)
    trainer = Trainer(tiny(device="cuda", epochs=500, limit=5000))
    thread = trainer.start()
    for _ in range(600):
        if trainer.snapshot().step >= 40 or not thread.is_alive():
            break
        thread.join(timeout=0.05)
    trainer.stop()
    thread.join(timeout=30)
    assert not thread.is_alive() and trainer.snapshot().status == RunStatus.STOPPED
