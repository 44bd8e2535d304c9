"""Time estimates: the work a config asks for, the speed measured here (stored runs, else a probe), runs at once.
Each checked against an answer worked out by hand (in the comments), never against this machine's speed."""
import pytest

from playground import estimate
from playground.config import RunConfig, recipe
from playground.errors import RunStatus
from playground.store import HOST, RunRecord

from conftest import tiny

LSTM = recipe("lstm64").override(limit=1000, epochs=2, device="cpu")  # 900 trained, 100 held out, 1000 test
S = estimate.START_SECONDS  # a run's start, paid once per run


def finished(run_id, cfg, wall, host=HOST, node=None, device="cpu"):
    return RunRecord(id=run_id, name="r", status=RunStatus.FINISHED, config=cfg, device=device, started=1000.0,
                     ended=1000.0 + wall, host=host, node=node)


def test_the_work_of_a_run_in_samples_and_multiply_adds():
    assert estimate.split(LSTM) == (900, 100, 1000)
    # 2 epochs x (900 trained + (100 val + 900 train subset) / 3) + 1000 test / 3 = 2 x 1233.3 + 333.3 = 2800
    assert estimate.samples(LSTM) == pytest.approx(2800)
    # 28 rows x 4 gates x 64 x (28 inputs + 64) + the head 64 x 10 = 659,456 + 640
    assert estimate.work(LSTM) == 660_096
    assert estimate.work(LSTM.override(delay=10)) == 38 * 4 * 64 * 92 + 640
    # The CNN: conv1 16 x 32 x 32 outputs x 3 x 3 x 3, conv2 8 x 16 x 16 x 16 x 3 x 3, fc 512 x 32 and 32 x 2
    cnn = recipe("cnn")
    assert estimate.work(cnn) == 16 * 32 * 32 * 27 + 8 * 16 * 16 * 16 * 9 + 8 * 8 * 8 * 32 + 32 * 2
    assert estimate.split(cnn) == (9000, 1000, 2000)


def test_a_stored_run_on_this_machine_gives_the_speed_and_the_reference_answer():
    # The stored run took S + 28 s: S to start + 28 s for 2800 samples. Twice the epochs is
    # 4 x 1233.3 + 333.3 = 5266.7 samples: S + 5266.7 / 2800 x 28 = S + 52.67 s.
    runs = [finished(3, LSTM, S + 28.0)]
    got = estimate.estimate([LSTM.override(epochs=4)], runs, probe=_no_probe)
    assert got.seconds == pytest.approx(S + 52.667, abs=0.01) and got.sources == ("run #3",)
    assert got.text() == "about 55 s here (speed from run #3 on this machine)"
    # Twice the hidden units: 28 x 4 x 128 x 156 + 1280 = 2,237,696 multiply-adds, 3.39 x the work per sample.
    wide = estimate.estimate([LSTM.override(hidden=128)], runs, probe=_no_probe)
    assert wide.seconds == pytest.approx(S + 28 * 2_237_696 / 660_096, abs=0.01)


def test_runs_elsewhere_or_of_another_kind_are_not_this_machines_speed():
    others = [finished(1, LSTM, 29.0, host="elsewhere"), finished(2, LSTM, 29.0, node="10.0.0.2 GPU 0"),
              finished(3, LSTM, 29.0, device="cuda"), finished(4, LSTM.override(arch="gru"), 29.0),
              finished(5, LSTM, S / 2)]  # shorter than its start-up: nothing to learn from
    probed = []

    def probe(cfg, copies):
        probed.append(cfg)
        return estimate.Rate(1e-8, "a probe")

    got = estimate.estimate([LSTM], others, probe=probe)
    assert probed == [LSTM] and got.sources == ("a probe",)
    assert got.seconds == pytest.approx(S + 2800 * 660_096 * 1e-8)


def test_the_same_model_and_batch_is_preferred_then_the_nearest_work():
    same = finished(7, LSTM.override(epochs=20), 281.0)
    other = finished(8, LSTM.override(batch_size=256), 29.0)  # nearer in work, another batch size
    assert estimate.measured_rate(LSTM, [other, same]).source == "run #7"
    # A moving learning rate trains without CUDA graphs: a scheduled run's speed comes from a scheduled run.
    moving = finished(9, LSTM.override(epochs=20, schedule="cosine"), 281.0)
    assert estimate.measured_rate(LSTM.override(schedule="onecycle"), [same, moving]).source == "run #9"
    assert estimate.measured_rate(LSTM, [moving, same]).source == "run #7"


def test_runs_at_once_share_the_machine():
    assert estimate.total_seconds([60, 60, 60], at_once=2) == 120  # two rounds: the third run trains alone
    assert estimate.total_seconds([60, 60, 30, 30], at_once=2) == 90  # longest first: both slots end together
    assert estimate.total_seconds([100, 10], at_once=2) == 100  # never less than the longest run
    assert estimate.total_seconds([30, 30], at_once=1) == 60 and estimate.total_seconds([], 2) == 0
    # Sharing the machine slows each run (60 s shared, 30 s alone): two at once take 60 s, the third alone 30 s;
    # of a 60 s and a 20 s run, the long one has 2/3 left after 20 s, alone: 20 s more.
    assert estimate.total_seconds([60, 60, 60], at_once=2, alone=[30, 30, 30]) == pytest.approx(90)
    assert estimate.total_seconds([60, 20], at_once=2, alone=[30, 10]) == pytest.approx(40)


@pytest.mark.parametrize("seconds, text", [(3, "about 5 s"), (42, "about 40 s"), (130, "about 2 min"),
                                           (1500, "about 25 min"), (3480, "about 1 h"), (6000, "about 1 h 40 min")])
def test_durations_are_said_roughly(seconds, text):
    assert estimate.duration_text(seconds) == text


def test_the_probe_times_steps_after_the_first_with_the_given_clock():
    ticks = iter(x / 10 for x in range(100))  # 0.0, 0.1, 0.2, ... one reading per step
    cfg = tiny(hidden=8, batch_size=4)
    rate = estimate.probe_rate(cfg, seconds=0.35, clock=lambda: next(ticks))
    # The clock starts after step 1 (0.0) and stops at 0.4, after 4 timed steps of 4 samples each.
    assert rate.seconds_per_unit == pytest.approx(0.4 / (4 * 4 * estimate.work(cfg)))
    assert rate.source == "a 0.4 s probe"


def _no_probe(cfg: RunConfig, copies: int = 1):
    raise AssertionError("a stored run should have given the speed")


def test_a_short_runs_start_up_time_does_not_slow_the_estimate_of_a_long_one():
    """New-user issue: a 3 s run with 2.7 s of start-up made a 5-epoch run on all images read "about 2 min"."""
    short = recipe("lstm64").override(limit=3000, epochs=1)
    rec = finished(1, short, wall=4.0)
    rec.result = {"train_seconds": 1.3}  # the rest was loading, the split, the test pass
    rate = estimate.measured_rate(short, [rec])
    trained = 1 * estimate.split(short)[0] * estimate.work(short)
    assert rate.seconds_per_unit == pytest.approx(1.3 / trained)
    long = recipe("lstm64").override(epochs=5)
    assert estimate.run_seconds(long, rate) < 5 * 60_000 / 3000 * 1.3 * 1.6  # training time scaled, plus eval


def test_a_study_evaluates_as_often_as_its_training_set_affords():
    """The default study (900 trained, 600 validation + 900 probe evaluated) every 6th epoch: its evaluations cost
    at most a tenth of its training and its curves keep 18 points; a long full-data run still evaluates each epoch."""
    from playground.compare import StudyChoice, study_plan
    from playground.engine.study import STUDY_EPOCHS, STUDY_LIMIT, STUDY_LR, STUDY_VAL_FRACTION

    base = recipe("cnn").override(epochs=STUDY_EPOCHS, limit=STUDY_LIMIT, val_fraction=STUDY_VAL_FRACTION,
                                  lr=STUDY_LR)
    plan = study_plan(base, StudyChoice(baseline=True, l2=0.03, dropout=0.5, sizes=(750, 6000)))
    assert {cfg.optim.eval_every for _, cfg in plan} == {6, 5}
    for _, cfg in plan:
        n_train, _, _ = estimate.split(cfg)
        points = estimate.evaluations(cfg)
        assert points >= estimate.MIN_POINTS
        assert points * estimate.eval_samples(cfg) <= estimate.STUDY_EVAL_SHARE * cfg.optim.epochs * n_train
    assert estimate.evaluations(plan[0][1]) == 18  # epochs 1, 6, 12, ..., 96 and 100
    assert estimate.eval_every_for(recipe("lstm64").override(epochs=20)) == 1  # 54,000 trained, 11,400 evaluated
    assert estimate.eval_every_for(base.override(epochs=5)) == 1  # too few epochs to thin


def test_a_study_starts_its_longest_runs_first():
    """Batch-norm's runs do the same convolutions plus its normalization: they start first, ties keep their order."""
    plain = recipe("cnn").override(epochs=4, limit=500)
    configs = [plain, plain.override(l2=0.03), plain.override(batchnorm=True), plain.override(epochs=8)]
    assert estimate.longest_first(configs) == [3, 2, 0, 1]


def test_an_early_stopped_run_gives_the_speed_of_the_epochs_it_trained():
    """Issue 31: a run with patience 2 of 10 epochs trained 3 (2,700 samples) in 2.7 s: 1,000 samples/s, not the
    3,333/s that 10 configured epochs over 2.7 s would claim."""
    cfg = LSTM.override(epochs=10, patience=2)
    rec = finished(1, cfg, wall=5.0)
    rec.result = {"train_seconds": 2.7, "samples_per_s": 1000.0, "kept_epoch": 1}
    rate = estimate.measured_rate(cfg, [rec])
    assert rate.seconds_per_unit == pytest.approx(1 / (1000.0 * estimate.work(cfg)))


def test_a_first_use_estimate_counts_evaluation_and_runs_at_once_in_its_probe():
    """Issue 29: first-use estimates were 2-3.4x low. Each run's work counts its evaluations, and the probe is
    asked to time as many copies at once as the runs will train at once (they share the cores and the process)."""
    asked = []

    def probe(cfg, copies):
        asked.append(copies)
        return estimate.Rate(1e-8, "a probe")

    # 3 runs, 2 at a time: probed 2 at once; two rounds of S + 2800 samples (1,800 trained, 1,000 evaluated)
    got = estimate.estimate([LSTM] * 3, [], at_once=2, probe=probe)
    assert asked == [2, 1] * 3  # each run's speed shared, and alone (the last of a round trains by itself)
    assert got.seconds == pytest.approx(2 * (S + 2800 * 660_096 * 1e-8))
    every_other = LSTM.override(epochs=4, eval_every=2)  # evaluated after epochs 1, 2 and 4: 3 x 333.3 more
    assert estimate.samples(every_other) == pytest.approx(4 * 900 + 3 * 1000 / 3 + 1000 / 3)
    asked.clear()
    estimate.estimate([LSTM], [], at_once=2, probe=probe)  # one run trains alone
    assert asked == [1]


def test_the_probe_times_each_copy_in_its_own_thread():
    import threading

    seen: dict[int, int] = {}
    lock = threading.Lock()

    def clock() -> float:  # each thread its own readings: 0.0, 0.1, 0.2, ...
        with lock:
            n = seen[threading.get_ident()] = seen.get(threading.get_ident(), -1) + 1
        return n / 10
    cfg = tiny(hidden=8, batch_size=4)
    rate = estimate.probe_rate(cfg, seconds=0.35, clock=clock, copies=2)
    assert len(seen) == 2  # two copies stepped at once, each in its own thread
    assert rate.seconds_per_unit == pytest.approx(0.4 / (4 * 4 * estimate.work(cfg)))
    assert rate.source == "a 0.4 s probe, 2 at once"


def test_a_busy_machine_is_said_beside_the_estimate():
    assert estimate.busy_note(load=16.2, cpus=2).startswith("this machine is busy now (load 16 on 2 cores)")
    assert estimate.busy_note(load=2.0, cpus=2) is None  # two runs on two cores: busy with our own work only


def test_new_runs_queue_behind_the_runs_already_training():
    """Issue 29: runs launched while others train wait for a slot. Two slots, one held for 50 s more and one for
    10 s: two new 60 s runs end at 10 + 60 (the first slot freed) and at 50 + 60 = 110 s (the second)."""
    assert estimate.total_seconds([60, 60], at_once=2, ahead=[50, 10]) == 110
    assert estimate.total_seconds([60], at_once=2, ahead=[50]) == 60  # a free slot: no wait
    one = S + 2800 * 660_096 * 1e-8  # LSTM's run: start, training and evaluation at 1e-8 s per unit

    def probe(cfg, copies):
        return estimate.Rate(1e-8, "a probe")
    # A run half done ahead of it on one slot: it waits half a run, then trains.
    got = estimate.estimate([LSTM], [], at_once=1, probe=probe, ahead=[(LSTM, 0.5)])
    assert got.seconds == pytest.approx(one * 1.5)


def test_the_probe_measures_what_an_evaluated_image_costs_against_a_trained_one():
    """Issue 29: evaluation was counted at a third of a training step for every model; a CPU probe measured 0.15-0.2
    for lesson 2's RNNs and 0.55 for the study's CNN. The probe times the engine's own evaluation of its images."""
    ticks = iter(x / 10 for x in range(100))  # one reading per step, then one before and one after the evaluation
    cfg = tiny(hidden=8, batch_size=4)
    rate = estimate.probe_rate(cfg, seconds=0.35, clock=lambda: next(ticks))
    # Training: 0.4 s / 16 images = 0.025 s an image; evaluating its 16 images (4 x the batch): 0.1 s / 16.
    assert rate.eval_cost == pytest.approx(0.25)
    # A run's work counts its evaluations at that cost: 2 x 900 trained + 2 x 0.6 x (100 + 900) + 0.6 x 1000.
    measured = estimate.Rate(1e-8, "a probe", eval_cost=0.6)
    assert estimate.run_seconds(LSTM, measured) == pytest.approx(S + 3600 * 660_096 * 1e-8)
    assert estimate.Rate(1e-8, "run #3").eval_cost == estimate.EVAL_COST  # a stored run: not measured


def test_a_study_of_n_runs_two_at_a_time_takes_ceil_n_over_2_rounds():
    for n in range(1, 8):
        assert estimate.total_seconds([10.0] * n, at_once=2) == pytest.approx(10 * -(-n // 2))


def test_a_tiny_runs_fixed_cost_is_its_start_and_the_data_load_is_paid_once():
    """Issue 29: a tiny study was said at several times its wall time. A run pays its start (split, model, checkpoints:
    0.06-0.10 s measured) once, not per epoch; a dataset not yet in memory is loaded once for all the runs."""
    cfg = recipe("cnn").override(epochs=3, limit=100, val_fraction=0.4, device="cpu")  # 60 trained, 40 held out
    rate = estimate.Rate(1e-9, "a probe", eval_cost=0.5)
    work = estimate.work(cfg)
    # 3 x 60 trained + 3 evaluations x 0.5 x (40 + 60) + 0.5 x 100 = 180 + 150 + 50 = 380 samples
    assert estimate.run_seconds(cfg, rate) == pytest.approx(S + 380 * work * 1e-9)
    assert estimate.run_seconds(cfg.override(epochs=6), rate) - estimate.run_seconds(cfg, rate) == pytest.approx(
        (180 + 3 * 50) * work * 1e-9)  # 3 epochs more: their training and evaluations only, no fixed cost

    def probe(c, copies):
        return rate
    runs = [cfg, cfg.override(seed=1), cfg.override(seed=2)]
    warm = estimate.estimate(runs, [], at_once=2, probe=probe).seconds
    assert warm == pytest.approx(2 * estimate.run_seconds(cfg, rate))
    cold = estimate.estimate(runs, [], at_once=2, probe=probe, loaded=lambda name: False).seconds
    assert cold == pytest.approx(warm + estimate.LOAD_SECONDS)
