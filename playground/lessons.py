"""The Learn page's lessons as data: what each classic experiment asks, a question to answer before
running, the runs (scaled down on a CPU, the full recipe on a GPU), the number the original reported,
the spread our own runs gave over seeds (bench/lessons.py), why, and where to try next.

No streamlit here: pages/learn.py and ui/lesson_view.py display what this module describes.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

from . import measured, settings
from .config import RunConfig, recipe
from .links import MODEL_KEY, RUN_KEY, compare_params, config_params
from .measured import CHANCE, MEASURED, Spread

SCALE_ENV = "PLAYGROUND_LESSON_SCALE"  # "cpu", "gpu" or "tiny" (tests); unset: gpu if CUDA is available
TINY = {"limit": 300, "epochs": 1}  # the "tiny" scale: every lesson run trains in about a second

DEEP_LEARNING_WITH_PYTORCH = ('Deep Learning with PyTorch (Stevens, Antiga, Viehmann), '
                              'ch. 8 "Using convolutions to generalize"')
RNN_TUTORIALS = ("the PyTorch RNN-on-MNIST tutorials (MorvanZhou's PyTorch-Tutorial, 402_RNN_classifier, and the "
                 '"Recurrent Neural Networks with PyTorch" style tutorials)')


@dataclass(frozen=True)
class LessonRun:
    key: str
    label: str
    full: RunConfig  # the recipe as the original ran it (on a GPU)
    cpu: dict[str, Any]  # overrides that scale it down for a CPU (limit, epochs)
    measured: Spread | None = None  # our CPU-scale spread of test accuracy (bench/lessons.py)
    measured_train: Spread | None = None  # ... of the last epoch's training accuracy, where the lesson needs it
    measured_gap: Spread | None = None  # ... of its generalization gap (train - validation), where measured
    measured_forgot: Spread | None = None  # ... of the MNIST test accuracy a fine-tune lost, where measured

    def config(self, scale: str) -> RunConfig:
        return self.scaled(self.full, scale)

    def scaled(self, cfg: RunConfig, scale: str) -> RunConfig:
        """`cfg` at `scale` as this run is scaled: as it is on a GPU, with this run's CPU overrides on a CPU."""
        if scale == "gpu":
            return cfg
        cfg = cfg.override(**self.cpu)
        return cfg.override(**TINY, device="cpu") if scale == "tiny" else cfg


@dataclass(frozen=True)
class Link:
    """A "try next" link: a page and its query parameters; `runs` adds this lesson's run ids to it.

    A Train link carries a `config` (named as changes to `recipe`), which `scaled_like` (a run's key)
    scales as the lesson scales that run: on a CPU it opens with the lesson's limit and epochs, not the
    full recipe the lesson did not run. A link without it opens the config as it is (one that says
    "the full recipe")."""
    label: str
    page: str  # train | compare | draw | inside
    params: Mapping[str, str] = field(default_factory=dict)
    runs: tuple[str, ...] = ()  # keys of this lesson's runs: Compare gets all their ids, other pages the first
    config: RunConfig | None = None
    recipe: str | None = None
    scaled_like: str | None = None


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    source: str  # the book or tutorial the experiment comes from, by title
    asks: str  # what the experiment asks, in a few sentences
    question: str
    choices: tuple[str, ...]
    judge: Callable[[dict[str, dict[str, float]]], int | None]  # results -> the index of the right choice
    runs: tuple[LessonRun, ...]
    scale_note: str  # what the CPU scale is, in words
    reference: str  # what the original reported
    explanation: str
    next: tuple[Link, ...] = ()
    reuse_cnn: bool = False  # an existing finished MNIST CNN run may stand in for training
    feature_maps: str | None = None  # a run (key) whose trained first conv layer the result shows on a test digit
    one_filter: str | None = None  # a run (key) whose strongest first-layer cell the result works out by hand
    deletion: str | None = None  # a run (key) whose checkpoint gets explain.deletion_scores, added to its results
    scaled: bool = True  # False: the CPU runs the same recipe as a GPU (scale_note says what it is)
    gap: bool = False  # the lesson asks about the generalization gap: show it (a column and its chart)
    own_data: bool = False  # its runs fine-tune a model on your kept drawings (handwriting_configs builds them)

    def configs(self, scale: str | None = None) -> list[tuple[LessonRun, RunConfig]]:
        scale = scale or current_scale()
        return [(r, r.config(scale)) for r in self.runs]


def current_scale() -> str:
    """"gpu" (full recipes) when CUDA is available, else "cpu" (scaled down); PLAYGROUND_LESSON_SCALE overrides."""
    forced = settings.current().lesson_scale
    if forced:
        return forced
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def run_result(result: Mapping[str, Any], epoch_rows: list[Mapping[str, Any]]) -> dict[str, float]:
    """What a lesson judges a finished run by: its test accuracy and last training (and validation) accuracy,
    and the gap between those two."""
    out = {}
    if result.get("test_acc") is not None:
        out["test_acc"] = float(result["test_acc"])
    last = epoch_rows[-1] if epoch_rows else {}
    for key in ("train_acc", "val_acc"):
        if last.get(key) is not None:
            out[key] = float(last[key])
    if "train_acc" in out and "val_acc" in out:
        out["gap"] = out["train_acc"] - out["val_acc"]
    moved = result.get("fine_tune") or {}
    for key in ("own_before", "own_after", "mnist_before", "mnist_after", "held_out"):
        if moved.get(key) is not None:
            out[key] = float(moved[key])
    if "own_after" in out and "own_before" in out:
        out["own_gain"] = out["own_after"] - out["own_before"]
    if "mnist_after" in out and "mnist_before" in out:
        out["mnist_loss"] = out["mnist_before"] - out["mnist_after"]
    return out


def curve_story(epoch_rows: list[Mapping[str, Any]], key: str = "val_acc", listed: int = 6) -> str:
    """What this run's curve did, from its own rows: every point when there are few (`58.0% → 74.0% → 79.9%`),
    else where it peaked and where it ended."""
    points = [(int(r["epoch"]) + 1, float(r[key])) for r in epoch_rows if r.get(key) is not None]
    if not points:
        return "–"
    if len(points) <= listed:
        return " → ".join(f"{v:.1%}" for _, v in points)
    best_epoch, best = max(points, key=lambda p: p[1])
    if best_epoch == points[-1][0]:
        return f"{points[0][1]:.1%} at epoch {points[0][0]} → {best:.1%} at the last, its best"
    return f"best {best:.1%} at epoch {best_epoch} → {points[-1][1]:.1%} at the last ({points[-1][0]})"


def link_config(lesson: Lesson, link: Link, scale: str) -> RunConfig | None:
    """The settings a Train link opens with at `scale` (None for a link without settings)."""
    if link.config is None:
        return None
    if link.scaled_like is None:
        return link.config
    run = next(r for r in lesson.runs if r.key == link.scaled_like)
    return run.scaled(link.config, scale)


def link_params(link: Link, run_ids: Mapping[str, int], lesson: Lesson | None = None,
                scale: str = "gpu") -> dict[str, str]:
    """The link's query parameters at `scale`, with this lesson's run ids filled in (those that exist)."""
    ids = [run_ids[k] for k in link.runs if k in run_ids]
    params = dict(link.params)
    cfg = link_config(lesson, link, scale) if lesson is not None else link.config
    if cfg is not None:
        params.update(config_params(cfg, link.recipe))
    if ids and link.page == "compare":
        params.update(compare_params(ids))
    elif ids:  # Inside opens the model its `model` names: a `run` there opened the newest run, not the lesson's
        params[MODEL_KEY if link.page in ("inside", "draw") else RUN_KEY] = str(ids[0])
    return params


# ------------------------------------------------------------------ judges: results -> the right choice
def _bins(run: str, edges: tuple[float, ...]) -> Callable[[dict], int | None]:
    def judge(results: dict) -> int | None:
        acc = results.get(run, {}).get("test_acc")
        return None if acc is None else sum(acc >= e for e in edges)
    return judge


HOLDS = 0.5  # "reads it well": far above chance (10%)


def _memory(results: dict) -> int | None:
    rnn, lstm = (results.get(k, {}).get("test_acc") for k in ("rnn_delay", "lstm_delay"))
    if rnn is None or lstm is None:
        return None
    return {(True, True): 0, (False, True): 1, (True, False): 2, (False, False): 3}[(rnn >= HOLDS, lstm >= HOLDS)]


def _smallest_gap(results: dict) -> int | None:
    """The variant (in lesson order) whose training accuracy is least above its accuracy on held-out images:
    the gap to validation as the table and the chart show it (to test without a validation set)."""
    rows = [results.get(k, {}) for k in ("cnn", "width", "dropout", "bn_l2")]
    if any("test_acc" not in r or "train_acc" not in r for r in rows):
        return None
    gaps = [r["gap"] if "gap" in r else r["train_acc"] - r["test_acc"] for r in rows]
    return gaps.index(min(gaps))


def _optimizer(results: dict) -> int | None:
    sgd, adam = (results.get(k, {}).get("test_acc") for k in ("sgd", "adam"))
    if sgd is None or adam is None:
        return None
    return 2 if abs(sgd - adam) < 0.02 else (0 if sgd > adam else 1)


def _memorized(results: dict) -> int | None:
    clean, noisy = results.get("clean", {}), results.get("noisy", {})
    if "test_acc" not in clean or "test_acc" not in noisy or "train_acc" not in noisy:
        return None
    if noisy["test_acc"] < 0.2:
        return 2
    return 0 if noisy["train_acc"] >= 0.8 and noisy["test_acc"] < clean["test_acc"] - 0.1 else 1


DELETION_MARGIN = 0.1  # of probability: "further" means by at least this much


def _looked(results: dict) -> int | None:
    got = results.get("lenet", {})
    if "salient_drop" not in got or "random_drop" not in got:
        return None
    lead = got["salient_drop"] - got["random_drop"]
    return 0 if lead >= DELETION_MARGIN else (2 if lead <= -DELETION_MARGIN else 1)


SAME_WITHIN = 0.01  # "about the same": test accuracies within a point (more data won by 1.7-4.6 over 5 seeds)


def _more_data(results: dict) -> int | None:
    l2, more = (results.get(k, {}).get("test_acc") for k in ("l2", "more"))
    if l2 is None or more is None:
        return None
    return 0 if more - l2 >= SAME_WITHIN else (1 if l2 - more >= SAME_WITHIN else 2)


GAIN, FORGOT = 0.05, 0.02  # "better": 5 points or more on your held-out drawings; "forgot": 2 points or more of MNIST


def _taught(results: dict) -> int | None:
    """The all-layers fine-tune: did your held-out drawings gain GAIN, and did MNIST lose FORGOT (a 2 x 2)?"""
    got = results.get("all", {})
    if "own_gain" not in got or "mnist_loss" not in got:
        return None
    return 2 * (got["own_gain"] < GAIN) + (got["mnist_loss"] >= FORGOT)


def _always(index: int) -> Callable[[dict], int | None]:
    return lambda results: index


ACCURACY_CHOICES = ("below 50%", "50% to 80%", "80% to 95%", "95% or more")
ACCURACY_EDGES = (0.5, 0.8, 0.95)

# ------------------------------------------------------------------ texts with measured numbers
TEMPLATES: dict[tuple[str, str], str] = {}  # (lesson key, field) -> its text before the numbers went in


def _says(key: str, field: str, template: str, **extra: Any) -> str:
    """`template` with its `{run.metric.format}` fields filled from what our runs of lesson `key` measured
    (playground/measured.py): numbers are formatted from the data, never typed (tests/test_learn.py checks)."""
    TEMPLATES[(key, field)] = template
    got = measured.runs(key)
    return template.format(**got, **extra, seeds=MEASURED[key].seeds, chance=f"{CHANCE:.0%}")


def _every_seed(below: bool) -> str:
    """What a comparison of two spreads supports: every seed, or only the means."""
    return "in every seed" if below else "on average (not in every seed)"


def smallest_gap_claim(key: str, run: str) -> bool:
    """`run`'s gap lies below every other run's of `key` in every seed (the overfitting text says so only then)."""
    got = measured.runs(key)
    return all(got[run].gap.below(other.gap) for name, other in got.items() if name != run)


def _spread_of(spreads: list[Spread]) -> Spread:
    """Several runs' spreads as one: lowest low, highest high, mean of the means."""
    return Spread(min(s.low for s in spreads), max(s.high for s in spreads),
                  sum(s.mean for s in spreads) / len(spreads))


_over = measured.runs("overfitting")
_look = measured.runs("look")["lenet"]
_data = measured.runs("data")

# ------------------------------------------------------------------ the lessons
# Our measured spreads are in playground/measured.py (python -m bench.lessons writes the files it copies).
_memory_base = recipe("lstm64").override(val_fraction=0.1, batch_size=32, clip=1.0, epochs=3)
_rnn128 = recipe("rnn128")
# Lesson 7: LeNet on 2,000 digits for 60 epochs, measured over 5 seeds (bench/README.md).
_noise_base = recipe("lenet").override(limit=2000, val_fraction=0.25, epochs=60)
NOISE_PATIENCE = 5  # the early-stopping link's patience, as measured (bench/results/settings-early-stopping.json)
# Lesson 4 on a CPU: 900 images trained on for 100 epochs at lr 0.03 overfit as the book's 9,000 for 100 at
# 0.01 did; 600 held out, so that a gap of a few points is not the noise of a small validation set.
OVERFIT_CPU = {"limit": 1500, "val_fraction": 0.4, "epochs": 100, "lr": 0.03}
# Lesson 9 at the study's scale (OVERFIT_CPU): 900 images trained on, or 3,600 (limit 6,000), 40% held out.
_data_base = recipe("cnn").override(val_fraction=0.4, lr=0.03)

# Lesson 10 runs what bench/finetune.py measured at lstm64's own learning rate; its settings come from the file.
_FT, _SLOW = measured.FINETUNE["finetune-lr0.01"], measured.FINETUNE["finetune"]
_teach = recipe("lstm64").override(lr=_FT.lr, epochs=_FT.epochs, batch_size=_FT.batch_size, limit=0,
                                   val_fraction=0.0)
_better, _not_better = f"yours {GAIN * 100:.0f} points better or more", \
    f"yours less than {GAIN * 100:.0f} points better (or worse)"
_kept, _lost = f"MNIST loses less than {FORGOT * 100:.0f} points", f"MNIST loses {FORGOT * 100:.0f} points or more"
_taught_runs = measured.runs("handwriting")

LESSONS: tuple[Lesson, ...] = (
    Lesson(
        key="rnn-rows",
        title="An RNN reads a digit row by row",
        source=RNN_TUTORIALS,
        asks=("A recurrent network does not see the image at once: it reads the 28 rows of a digit one after "
              "another, 28 pixels per step, and keeps what it has seen in a hidden state of 128 numbers. "
              "Only after the last row does it answer. Can such a reader recognise handwritten digits?"),
        question="How accurate will the plain RNN be on test digits it has never seen?",
        choices=ACCURACY_CHOICES,
        judge=_bins("rnn", ACCURACY_EDGES),
        runs=(LessonRun("rnn", "RNN 128, Adam", _rnn128, {"limit": 12000, "epochs": 3}),),
        scale_note="on a CPU: the first 12,000 training images (10% held out for validation) for 3 epochs, "
                   "instead of 60,000 for 10",
        reference=("The tutorial reported 97.4% test accuracy after 10 epochs on all of MNIST. Our full recipe "
                   "holds 10% of the training images out for validation, so expect it a little lower."),
        explanation=_says("rnn-rows", "explanation", (
            "Each step mixes one new row into the hidden state through the same weights, so the state has to "
            "carry everything the answer needs: a stroke in row 5 must still be there at row 28. It works "
            "for digits, but a plain RNN learns slowly and unevenly: gradients are multiplied by the same "
            "matrix at every step back in time, so they shrink or grow. Over {seeds} seeds at this scale the "
            "same recipe ended anywhere in {rnn.test.pct} on test digits, {rnn.test.span} apart from the "
            "seed alone (the table above shows how this run's validation accuracy rose, epoch by epoch). With "
            "less data and fewer epochs the CPU run stops well before the tutorial's number.")),
        next=(
            Link("✏️ Draw a digit: at which row does it know?", "draw", runs=("rnn",)),
            Link("🔬 Its hidden state over the 28 rows", "inside", runs=("rnn",)),
            Link("🏋️ The same with an LSTM", "train", config=_rnn128.override(arch="lstm"), recipe="rnn128",
                 scaled_like="rnn"),
        ),
    ),
    Lesson(
        key="memory",
        title="Memory: RNN vs LSTM when the answer is far away",
        source=RNN_TUTORIALS + "; the delay is our variation on them",
        asks=("Here each digit is followed by 10 blank rows, and the network must answer only after them: it "
              "sees the digit, then 10 steps of nothing, then is asked what it saw. The same setup trains a "
              "plain RNN without the delay (the control), a plain RNN with it, and an LSTM with it."),
        question="With 10 blank rows between the digit and the answer, what happens?",
        choices=("both still read it well", "the RNN fails, the LSTM holds", "the LSTM fails, the RNN holds",
                 "both fail"),
        judge=_memory,
        runs=(
            LessonRun("rnn_plain", "RNN 64, no delay", _memory_base.override(arch="rnn"),
                      {"limit": 12000}),
            LessonRun("rnn_delay", "RNN 64, 10 blank rows", _memory_base.override(arch="rnn", delay=10),
                      {"limit": 12000}),
            LessonRun("lstm_delay", "LSTM 64, 10 blank rows", _memory_base.override(delay=10),
                      {"limit": 12000}),
        ),
        scale_note="on a CPU: the first 12,000 training images for 3 epochs (on a GPU all 60,000); "
                   "Adam lr 0.01, gradients clipped at norm 1, batch 32, for all three",
        reference=("The original tutorials ask for the answer right after the last row, where both reach the "
                   "high 90s; the delay is ours, so the reference is the control run without it."),
        explanation=_says("memory", "explanation", (
            "Chance is {chance}. The plain RNN's state is rewritten at every step, blank or not: after 10 steps of "
            "nothing, little of the digit is left, and the gradient that should teach it to keep the digit "
            "fades on the way back through those 10 steps (see it on Inside: gradient through time). The "
            "LSTM keeps a separate cell that its forget gate can leave untouched, so the digit survives the "
            "wait and the gradient reaches the rows that mattered. Memory is not the whole story, though: the "
            "learning rate matters too. Over {seeds} seeds at this scale, at lr 0.01 the delayed RNN falls to "
            "near chance ({rnn_delay.test.pct0}) and the no-delay RNN only reaches {rnn_plain.test.pct0}; at "
            "lr 0.001 the same delayed RNN reaches {lr.rnn_delay.test.pct0}, on average still below the "
            "{lr.rnn_plain.test.pct0} it gets without the delay at that rate. The LSTM holds at both "
            "({lstm_delay.test.pct0} at 0.01, {lr.lstm_delay.test.pct0} at 0.001). Try the delayed RNN at "
            "lr 0.001 (below) to see both effects."), lr=SimpleNamespace(**measured.runs("memory-lr"))),
        next=(
            Link("🔬 Gradient through time: RNN vs LSTM on this task", "inside", runs=("rnn_delay", "lstm_delay")),
            Link("📊 Compare the three curves", "compare", runs=("rnn_plain", "rnn_delay", "lstm_delay")),
            Link("🏋️ A GRU with the same delay", "train", config=_memory_base.override(arch="gru", delay=10),
                 recipe="lstm64", scaled_like="lstm_delay"),
            Link("🏋️ The delayed RNN at lr 0.001", "train",
                 config=_memory_base.override(arch="rnn", delay=10, lr=0.001), recipe="lstm64",
                 scaled_like="rnn_delay"),
        ),
    ),
    Lesson(
        key="deeper",
        title="A deeper recurrent net",
        source=RNN_TUTORIALS,
        asks=("Stack three GRU layers of 200 units, drop 20% of the signal between them while training, and "
              "train with RMSprop. Gated units keep information longer than the plain RNN, and the extra "
              "layers can build on each other's summaries of the rows."),
        question="After one pass over the scaled-down data, how accurate is the 3-layer GRU on test digits?",
        choices=ACCURACY_CHOICES,
        judge=_bins("gru", ACCURACY_EDGES),
        runs=(LessonRun("gru", "GRU 3x200, dropout 0.2, RMSprop", recipe("gru3x200"),
                        {"limit": 6000, "epochs": 1}),),
        scale_note="on a CPU: the first 6,000 training images for 1 epoch, instead of 60,000 for 3 "
                   "(it has ~600,000 parameters: each step costs ~20x the RNN's)",
        reference="The tutorial reported 98.5% test accuracy after 3 epochs.",
        explanation=_says("deeper", "explanation", (
            "The GRU's update gate decides, per unit and per step, how much of the old state to keep, so "
            "what the first rows showed is not washed out by the later ones. Stacking layers lets the upper "
            "ones work on the lower ones' features rather than on raw pixels; dropout between them keeps the "
            "layers from relying on one another's quirks. RMSprop scales each weight's step by its recent "
            "gradient size, which suits recurrent nets whose gradients vary a lot. One epoch on 6,000 images "
            "is early in its training: at that scale our {seeds} seeds landed anywhere in {gru.test.pct0}.")),
        next=(
            Link("🔬 Its gates, row by row", "inside", runs=("gru",)),
            Link("✏️ Draw for it", "draw", runs=("gru",)),
            Link("🏋️ The full recipe", "train", config=recipe("gru3x200"), recipe="gru3x200"),
        ),
    ),
    Lesson(
        key="overfitting",
        title="Overfitting, and what each regularizer does",
        source=DEEP_LEARNING_WITH_PYTORCH,
        asks=("A small CNN tells birds from airplanes (CIFAR-10's two classes). Four variants train side by "
              "side: the plain net, twice as wide, with dropout 0.4, and with batch-norm plus an L2 penalty. "
              "We compare what each does to accuracy on the training images and on images it never saw."),
        question="Which variant ends with the smallest gap between its accuracy on its training images and on "
                 "held-out ones?",
        choices=("the plain CNN", "twice as wide", "dropout 0.4", "batch-norm + L2"),
        judge=_smallest_gap,
        gap=True,
        runs=tuple(LessonRun(k, label, recipe(name), OVERFIT_CPU) for k, label, name in (
            ("cnn", "CNN (plain)", "cnn"), ("width", "CNN, width 32", "cnn-width"),
            ("dropout", "CNN, dropout 0.4", "cnn-dropout"), ("bn_l2", "CNN, batch-norm + L2", "cnn-bn-l2"))),
        scale_note="on a CPU: the first 1,500 training images (900 trained on, 600 held out for validation) for "
                   "100 epochs at learning rate 0.03, and 1,500 test images, instead of 10,000 images for 100 "
                   "epochs at 0.01: the higher rate makes 900 images overfit within a CPU's minutes",
        reference=("The book reported, over these variants after 100 epochs, training accuracy from 0.904 to "
                   "0.986 while validation accuracy only went from 0.877 to 0.881: training accuracy moved "
                   "ten times more than accuracy on new images."),
        explanation=_says("overfitting", "explanation", (
            "A network with enough capacity learns the training images themselves, not only what birds and "
            "airplanes have in common: training accuracy keeps climbing while accuracy on new images stalls, "
            "and the gap between them is overfitting. Here, over {seeds} seeds, the plain CNN ends at "
            "{cnn.train.pct} on its training images and {cnn.val.pct} on the held-out ones, a gap of "
            "{cnn.gap.pts} (mean {cnn.gap.mean_pts}). Width and batch-norm add capacity or speed, so they "
            "overfit as much or more: training accuracy {width.train.pct} and {bn_l2.train.pct}, gaps of "
            "{width.gap.pts} and {bn_l2.gap.pts}. Dropout 0.4 switches off a random part of the network at "
            "every step, so it cannot memorize as easily: its training accuracy stays at {dropout.train.pct} "
            "and its gap is {dropout.gap.pts}, the smallest {smallest}. Test accuracy barely moves across all "
            "four ({test.pct}): as in the book, regularization narrows the gap mostly by holding training "
            "accuracy back, and lifts accuracy on new images little at this size (the L2 penalty of λ 0.001 "
            "here is too weak to matter: Compare's study uses 0.03)."),
            smallest=_every_seed(smallest_gap_claim("overfitting", "dropout")),
            test=_spread_of([r.test for r in _over.values()])),
        next=(
            Link("📊 Compare the four: curves and generalization gap", "compare",
                 runs=("cnn", "width", "dropout", "bn_l2")),
            Link("🏋️ The plain CNN for 100 epochs on all images", "train", config=recipe("cnn"), recipe="cnn"),
        ),
    ),
    Lesson(
        key="conv",
        title="What a conv layer sees",
        source=DEEP_LEARNING_WITH_PYTORCH + ", here on MNIST digits so that you can draw your own",
        asks=("A convolution slides small learned filters (5x5 here) over the image; each filter gives one "
              "feature map that is bright where the image looks like the filter. After a nonlinearity and "
              "pooling, the next layer looks for patterns of those patterns."),
        question="What will most of the first layer's feature maps of a trained net show?",
        choices=("strokes and edges of the digit, each map a different direction or side",
                 "a blurred picture of a typical digit of each class", "random noise"),
        judge=_always(0),
        runs=(LessonRun("lenet", "LeNet, Adam", recipe("lenet"), {"limit": 12000, "epochs": 1}),),
        scale_note="on a CPU: the first 12,000 training images for 1 epoch, instead of 60,000 for 3 "
                   "(or no training at all: use a CNN you already trained on MNIST)",
        reference="Not a number: the book shows feature maps that respond to edges and strokes.",
        explanation=(
            "Early filters learn what every digit is made of: edges at a few orientations, ends and corners "
            "of strokes. A map lights up where its filter matches, keeping the layout of the image; pooling "
            "then keeps the strongest response in each small patch, so later layers care less about exactly "
            "where a stroke is. Class-specific shapes appear only deeper, combined from these parts."),
        next=(
            Link("🔬 Its feature maps on your drawing", "inside", runs=("lenet",)),
            Link("✏️ Draw a digit first", "draw", runs=("lenet",)),
        ),
        reuse_cnn=True,
        feature_maps="lenet",
        one_filter="lenet",  # "What does one filter compute?": by_hand.strongest_cell on the same digit
    ),
    Lesson(
        key="optimizer",
        title="The optimizer matters",
        source=RNN_TUTORIALS,
        asks=("The same LSTM with 100 units, trained three ways: plain SGD (learning rate 0.01, no momentum), "
              "SGD with momentum 0.9 (this app's lstm100 recipe), and Adam for a fifth of the epochs."),
        question="Plain SGD trains five times as long as Adam. Which ends with the higher test accuracy?",
        choices=("plain SGD", "Adam", "about the same (within 2 points)"),
        judge=_optimizer,
        runs=(
            LessonRun("sgd", "LSTM 100, plain SGD", recipe("lstm100").override(momentum=0.0),
                      {"limit": 6000, "epochs": 5}),
            LessonRun("momentum", "LSTM 100, SGD + momentum 0.9", recipe("lstm100"),
                      {"limit": 6000, "epochs": 5}),
            LessonRun("adam", "LSTM 100, Adam", recipe("lstm100").override(optimizer="adam", lr=1e-3, momentum=0.0,
                                                                           epochs=2),
                      {"limit": 6000, "epochs": 1}),
        ),
        scale_note="on a CPU: the first 6,000 training images, 5 epochs of SGD against 1 of Adam, instead of "
                   "60,000 images, 20 epochs against 2",
        reference=("The setup this lesson follows ran plain SGD at lr 0.01 for 20 epochs against Adam for 2 on "
                   "all of MNIST; we have no accuracy from it that we could check, so compare with our spread."),
        explanation=(
            "Plain SGD moves every weight by the same multiple of its gradient. An LSTM's gradients are tiny "
            "at first (many small factors through time), so at lr 0.01 it barely moves for a long while and "
            "sits near chance. Momentum adds up steps that keep pointing the same way and gets going; Adam "
            "divides each weight's step by its recent gradient size, so small gradients still make useful "
            "steps from the first batch."),
        next=(
            Link("📊 Compare the three loss curves", "compare", runs=("sgd", "momentum", "adam")),
            Link("🏋️ Plain SGD with a 10x learning rate", "train",
                 config=recipe("lstm100").override(momentum=0.0, lr=0.1), recipe="lstm100", scaled_like="sgd"),
        ),
    ),
    Lesson(
        key="noise",
        title="What memorizing noise looks like",
        source=("Zhang et al., \"Understanding deep learning requires rethinking generalization\" (ICLR 2017), "
                "here with LeNet on MNIST"),
        asks=("Two LeNets learn the same 1,500 handwritten digits (500 more held out, with their true labels). "
              "For the second, half of the training labels were replaced by a class drawn at random: a 7 may be "
              "labelled 3, and nothing in the image says why. The same images are mislabelled for every seed."),
        question="After 60 epochs, what does the LeNet trained on the noisy labels do?",
        choices=("memorizes them: near 100% on its training labels, far worse than the clean run on test digits",
                 "ignores them: about 55% on its training labels (those still right), test accuracy close to the "
                 "clean run", "cannot learn at all: test accuracy near chance (10%)"),
        judge=_memorized,
        runs=(LessonRun("clean", "LeNet, clean labels", _noise_base, {"limit": 2000}),
              LessonRun("noisy", "LeNet, half the labels random", _noise_base.override(label_noise=0.5),
                        {"limit": 2000})),
        scale_note="the first 2,000 training images (a quarter held out for validation) for 60 epochs: "
                   "memorizing needs few images",
        scaled=False,
        reference=("Zhang et al. showed that networks reach 100% training accuracy on labels that are entirely "
                   "random, and that test accuracy falls steadily as more labels are noisy."),
        explanation=_says("noise", "explanation", (
            "A network with enough weights can learn any labels, true or not: it fits the random half by "
            "remembering each image. Over {seeds} seeds here the noisy run ends at {noisy.train.pct0} on its "
            "training labels (the clean run: {clean.train.pct0}), but only {noisy.test.pct0} on test digits "
            "(the clean run: {clean.test.pct0}). Its validation accuracy tells the story: at its best "
            "{noisy.best_val.pct0}, while the true half was being learned, then falling to {noisy.val.pct0} as "
            "memorizing the false half took over (the table above shows this run's). Stopping at the best "
            "validation epoch keeps much of what the true labels teach: over {es_seeds} seeds with early stopping "
            "(patience {patience}: the run ends after {patience} epochs without a gain in validation accuracy and "
            "is tested on its best epoch's weights) the noisy run kept epoch {es[noisy_es].kept.whole} and scored "
            "{es[noisy_es].test.pct} on test digits, against {es[noisy].test.pct} trained all its epochs. On "
            "clean labels, where there is nothing to stop early for, it scored {es[clean_es].test.pct} against "
            "{es[clean].test.pct}."),
            es=measured.runs("noise-es"), es_seeds=MEASURED["noise-es"].seeds, patience=NOISE_PATIENCE),
        next=(
            Link("📊 Compare: validation rises, then falls", "compare", runs=("clean", "noisy")),
            Link("🏋️ A fifth of the labels noisy instead of half", "train",
                 config=_noise_base.override(label_noise=0.2), recipe="lenet", scaled_like="noisy"),
            Link("🏋️ The noisy run with early stopping (keeps its best validation epoch)", "train",
                 config=_noise_base.override(label_noise=0.5, patience=NOISE_PATIENCE), recipe="lenet",
                 scaled_like="noisy"),
        ),
    ),
    Lesson(
        key="look",
        title="What does the model look at?",
        source=("Sundararajan et al., \"Axiomatic Attribution for Deep Networks\" (ICML 2017), Integrated "
                "Gradients as Captum implements it, checked by the deletion test of Samek et al., \"Evaluating "
                "the visualization of what a deep neural network has learned\" (2017)"),
        asks=("A saliency map gives each pixel a share of the model's answer (Draw and Inside show one under "
              "\"Why?\"). But does it point at what the model really uses, or only draw something plausible? "
              "Test it: a LeNet learns MNIST; then, on 200 test digits, black out the four 4×4 squares the map "
              "credits most, or four random 4×4 squares with ink in them, and measure how far the probability "
              "of the true class falls."),
        question="Where does the true class's probability fall further?",
        choices=("for the squares the map picks, by 10 points or more",
                 "about the same for both (within 10 points): the map is no better than chance",
                 "for the random inked squares, by 10 points or more"),
        judge=_looked,
        runs=(LessonRun("lenet", "LeNet, Adam", recipe("lenet"), {"limit": 12000, "epochs": 1}),),
        scale_note="on a CPU: the first 12,000 training images for 1 epoch, instead of 60,000 for 3; the test "
                   "on the first 200 test digits at every scale",
        reference=("Samek et al. blacked out the regions a map ranked first and showed that a good map makes "
                   "the score fall fastest; Adebayo et al. (\"Sanity checks for saliency maps\", 2018) showed that "
                   "some maps look the same for a trained and a randomized model, which is why the untrained copy "
                   "is measured here too."),
        explanation=_says("look", "explanation", (
            "Over {seeds} seeds here, blacking out the four squares Integrated Gradients credits most cut the "
            "true class's probability by {lenet.salient.pts0}; four random squares of ink cut it by "
            "{lenet.random.pts0}. The map finds the strokes this model's answer rests on. The untrained copy's "
            "answer hardly moves whatever is blacked out ({untrained} at most): with random weights its output "
            "barely depends on the input, so its map, however it looks, explains nothing. A map shows what a "
            "model uses, not that it is right to: a model that learned a shortcut would light up the shortcut."),
            untrained=f"{max(_look.untrained_salient.high, _look.untrained_random.high) * 100:.1f} points"),
        next=(
            Link("✏️ Draw a digit and open \"Why?\"", "draw", runs=("lenet",)),
            Link("🔬 Its saliency on a test digit, beside the untrained copy", "inside", runs=("lenet",)),
        ),
        deletion="lenet",
    ),
    Lesson(
        key="data",
        title="More data or more regularization?",
        source=DEEP_LEARNING_WITH_PYTORCH + ", and its advice that the best regularizer is more data",
        asks=_says("data", "asks", (
              "The CNN of the overfitting lesson learns birds and airplanes from 900 images (600 more held out) "
              "and overfits: about {plain.train.mean_pct0} on its training images, {plain.test.mean_pct0} on new "
              "ones. Two ways to fight it: an "
              "L2 penalty (λ 0.03) on the same 900 images, or no regularization and four times the images "
              "(3,600, with 2,400 held out). Both train 100 epochs.")),
        question="Which ends with the higher test accuracy?",
        choices=("four times the data", "L2 on the same 900 images", "about the same (within 1 point)"),
        judge=_more_data,
        gap=True,
        runs=(LessonRun("plain", "CNN, 900 images", _data_base.override(limit=1500), {"limit": 1500}),
              LessonRun("l2", "CNN + L2 λ 0.03, 900 images", _data_base.override(limit=1500, l2=0.03),
                        {"limit": 1500}),
              LessonRun("more", "CNN, 3,600 images", _data_base.override(limit=6000), {"limit": 6000})),
        scale_note="100 epochs at learning rate 0.03; the test set is the first 1,500 of CIFAR-2's 2,000 test "
                   "images for the 900-image runs and all 2,000 for the larger (the 1,500 are among them)",
        scaled=False,
        reference=("The book trains this CNN on all 10,000 images and shows that regularization narrows the "
                   "train/validation gap; it gives no number for four times the data, so compare with our spread."),
        explanation=_says("data", "explanation", (
            "Over {seeds} seeds here, four times the images raised test accuracy to {more.test.pct}, against "
            "{l2.test.pct} with L2 and {plain.test.pct} with neither: more data won {won}, by {lead.pts} over "
            "L2. L2 did something else: it narrowed the gap between training and test accuracy by holding "
            "training accuracy down ({l2.train.pct}, against {plain.train.pct} for the plain run), while test "
            "accuracy stayed where it was. With more data training accuracy stays high ({more.train.pct}: the "
            "network still fits most of its 3,600 images), but what it fits is closer to what birds and "
            "airplanes look like. A regularizer changes what a model prefers; data changes what there is to "
            "learn. Where more images cannot be had, augmentation (a Train setting) makes new ones from the old."),
            won=_every_seed(_data["l2"].test.below(_data["more"].test)),
            lead=_data["more"].test.minus(_data["l2"].test)),
        next=(
            Link("📊 Compare the three: curves and generalization gap", "compare", runs=("plain", "l2", "more")),
            Link("🏋️ Four times the data with L2 too", "train", config=_data_base.override(limit=6000, l2=0.03),
                 recipe="cnn", scaled_like="more"),
            Link("🏋️ The 900 images, augmented", "train", config=_data_base.override(limit=1500, augment=True),
                 recipe="cnn", scaled_like="plain"),
        ),
    ),
    Lesson(
        key="handwriting",
        title="Teach it your handwriting",
        source=("Teachable Machine's idea (a model trained on examples you make), and catastrophic forgetting "
                "as McCloskey and Cohen (1989) and Kirkpatrick et al., \"Overcoming catastrophic forgetting in "
                "neural networks\" (PNAS 2017), describe it"),
        asks=(f"An LSTM 64 that learned MNIST (the LSTM 64 recipe) is fine-tuned on {_FT.trained_on} of the digits "
              f"you kept on Draw, {_FT.per_digit} of each; your other drawings (as many of each digit) are held out. "
              "They measure it before and after, as MNIST's test digits measure what it forgets. Three fine-tunes: "
              f"all its layers at its own learning rate ({_FT.lr:g}) for {_FT.epochs} epochs, the last layer only, "
              f"and all layers with {_FT.replay} MNIST training images mixed in."),
        question=f"Fine-tuning all its layers on your {_FT.trained_on} drawings: what happens?",
        choices=tuple(f"{a}; {b}" for a in (_better, _not_better) for b in (_kept, _lost)),
        judge=_taught,
        runs=(LessonRun("all", "LSTM 64 taught your drawings, all layers", _teach, {}),
              LessonRun("last", "LSTM 64 taught your drawings, the last layer only",
                        _teach.override(train_layers="last"), {}),
              LessonRun("replay", f"LSTM 64 taught your drawings, {_FT.replay} MNIST images mixed in",
                        _teach.override(replay=_FT.replay), {})),
        scale_note=(f"fine-tunes of seconds, {_FT.epochs} epochs on {_FT.trained_on} drawings; we measured them on "
                    f"{_FT.held_out} held-out drawings, you may hold out fewer: then one drawing is a bigger step"),
        scaled=False,
        own_data=True,
        reference=("McCloskey and Cohen found that a network taught something new abruptly lost what it knew; "
                   "Kirkpatrick et al. protect the weights the old task needs. Teachable Machine trains only a "
                   "small head on top of a fixed pretrained network: the \"last layer only\" run here."),
        explanation=_says("handwriting", "explanation", (
            "Over {seeds} seeds here, on digits drawn with a mouse (rendered from strokes: {ft.trained_on} to "
            "train on, {ft.held_out} held out), the base already read {all.own_before.pct0} of the held-out "
            "drawings: there was little to gain, and all layers left them at {all.own_after.pct0}. MNIST "
            "test accuracy fell from {all.mnist_before.pct} to {all.mnist_after.pct}, {all.mnist_loss.pts} "
            "forgotten {every}: a few examples pull every weight towards them, and nothing holds the rest of what it "
            "knew in place. Training the last layer only leaves the features alone and lost {last.mnist_loss.pts}; "
            "mixing MNIST images in keeps rehearsing the old task and lost {replay.mnist_loss.pts}. Smaller steps "
            "barely move the model: at learning rate {slow_ft.lr:g} for {slow_ft.epochs} epochs MNIST ended at "
            "{slow[all].mnist_after.pct} and the held-out drawings at {slow[all].own_after.pct0}. Your drawings may "
            "be less like MNIST than ours; where the base reads them worse, there is more to gain."),
            ft=_FT, slow_ft=_SLOW, slow=measured.runs("finetune"),
            every=_every_seed(_taught_runs["all"].mnist_loss.low > 0)),
        next=(
            Link("📊 Compare the three fine-tunes", "compare", runs=("all", "last", "replay")),
            Link("✏️ Draw: keep more drawings, see the taught models read them", "draw"),
        ),
    ),
)

def _measured(lesson: Lesson) -> Lesson:
    def spread(run: str, metric: str) -> Spread | None:
        return measured.spread(lesson.key, run, metric)

    # A fine-tune's test set is your held-out drawings: its test accuracy is what bench/finetune.py calls own_after.
    test = "own_after" if lesson.own_data else "test_acc"
    return replace(lesson, runs=tuple(replace(run, measured=spread(run.key, test),
                                              measured_train=spread(run.key, "train_acc"),
                                              measured_gap=spread(run.key, "gap"),
                                              measured_forgot=spread(run.key, "mnist_loss")) for run in lesson.runs))


LESSONS = tuple(_measured(lesson) for lesson in LESSONS)
BY_KEY = {lesson.key: lesson for lesson in LESSONS}
MEASURED_ON = f"measured on {measured.MACHINE}, {measured.seeds_text([lesson.key for lesson in LESSONS])}"


def lesson(key: str) -> Lesson:
    return BY_KEY[key]


# ------------------------------------------------------------------ "Teach it your handwriting": your drawings
def handwriting_base(records) -> Any | None:
    """The model the lesson fine-tunes: a finished MNIST run of the LSTM 64 recipe's model (the one measured), its
    checkpoint on disk; the best by test accuracy, None when there is none."""
    from pathlib import Path

    from .errors import RunStatus

    want = recipe("lstm64")
    fits = [r for r in records if r.status == RunStatus.FINISHED and r.config.data.dataset == "mnist"
            and r.config.model == want.model and r.config.data.normalize == want.data.normalize
            and r.checkpoint and Path(r.checkpoint).is_file()]
    return max(fits, key=lambda r: (r.result.get("test_acc") or 0.0, r.id), default=None)


def handwriting_missing(labels: list[int]) -> str | None:
    """What the kept drawings (their digit labels) lack for the lesson, in words; None when they are enough."""
    need = _FT.per_digit + 1  # to train on, and at least one held out
    counts = [labels.count(d) for d in range(10)]
    short = [f"{d}: {n}" for d, n in enumerate(counts) if n < need]
    if not short:
        return None
    return (f"This lesson needs at least {need} kept drawings of every digit ({_FT.per_digit} to train on, the "
            f"others held out); you have {len(labels)}, too few of {', '.join(short)}.")


def handwriting_sizes(labels: list[int]) -> tuple[int, int]:
    """(drawings trained on, drawings held out) of kept digit `labels`: as many of each digit as of the rarest."""
    n = min(labels.count(d) for d in range(10))
    return 10 * min(n, _FT.per_digit), 10 * max(n - _FT.per_digit, 0)


def handwriting_configs(lesson: Lesson, base, drawings, scale: str) -> list[tuple[LessonRun, RunConfig]]:
    """The lesson's fine-tunes of `base` on the kept `drawings`: the same number n of each digit (the first kept),
    per_digit of each trained on, the other n - per_digit held out, frozen into a snapshot (OwnDataError if short)."""
    from . import own

    missing = handwriting_missing([d.label for d in drawings])
    if missing:
        raise own.OwnDataError(missing)
    by_digit = {k: sorted((d for d in drawings if d.label == k), key=lambda d: d.id) for k in range(10)}
    n = min(len(v) for v in by_digit.values())
    chosen = [d for k in range(10) for d in by_digit[k][:n]]
    snap = own.write_snapshot([d.id for d in chosen], [d.label for d in chosen], [d.pixels for d in chosen],
                              name="handwriting", held_out=(n - _FT.per_digit) / n)
    return [(run, run.scaled(run.full.override(dataset=snap.dataset, init_from=str(base.checkpoint)), scale))
            for run in lesson.runs]
