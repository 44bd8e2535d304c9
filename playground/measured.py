"""What our own runs measured over seeds, as the lessons and the study form quote it: one table, one source.

Every number a lesson or the study form states about our runs is formatted from `MEASURED`, which holds
the min, max and mean over seeds of each metric exactly as the bench result file it names recorded it
(tests/test_learn.py checks the two are equal). `python -m bench.lessons` (or `bench.settings_over_seeds`)
writes the file; copy its numbers here when it changes, and the texts follow.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

MACHINE = "a shared 2-core x86_64 CPU, no GPU, torch 2.14.1"
CHANCE = 0.1  # ten classes: MNIST's digits


@dataclass(frozen=True)
class Spread:
    """One metric over seeds: lowest, highest, mean (accuracies as fractions in [0, 1])."""
    low: float
    high: float
    mean: float

    def text(self) -> str:
        """`81.6–84.1% (mean 82.6%)`; one value where every seed gave it (not "95.3%–95.3% (mean 95.3%)")."""
        lo, hi = f"{self.low:.1%}", f"{self.high:.1%}"
        return f"{lo} (every seed)" if lo == hi else f"{lo}–{hi} (mean {self.mean:.1%})"

    def _range(self, scale: float, digits: int, unit: str) -> str:
        lo, hi = f"{self.low * scale:.{digits}f}", f"{self.high * scale:.{digits}f}"
        dash = " to " if self.low < 0 else "–"  # "-30.7–-26.1 points" read as a typo on Learn
        return f"{lo}{unit}" if lo == hi else f"{lo}{dash}{hi}{unit}"

    @property
    def pct(self) -> str:
        """`81.6–84.1%`"""
        return self._range(100, 1, "%")

    @property
    def pct0(self) -> str:
        """`82–84%`"""
        return self._range(100, 0, "%")

    @property
    def pts(self) -> str:
        """`13.2–16.1 points` (of accuracy)"""
        return self._range(100, 1, " points")

    @property
    def pts0(self) -> str:
        return self._range(100, 0, " points")

    @property
    def span(self) -> str:
        """`6.6 points`: how far apart the lowest and the highest seed lie"""
        return f"{(self.high - self.low) * 100:.1f} points"

    @property
    def whole(self) -> str:
        """`8–13`: a count (epochs), not a share"""
        return self._range(1, 0, "")

    @property
    def mean_pct(self) -> str:
        return f"{self.mean:.1%}"

    @property
    def mean_pct0(self) -> str:
        return f"{self.mean:.0%}"

    @property
    def mean_pts(self) -> str:
        return f"{self.mean * 100:.1f} points"

    def minus(self, other: Spread) -> Spread:
        """How far this lies above `other` over any pairing of their seeds: (least, most, mean difference)."""
        return Spread(self.low - other.high, self.high - other.low, self.mean - other.mean)

    def below(self, other: Spread) -> bool:
        """Every seed's value under every seed's value of `other`."""
        return self.high < other.low


@dataclass(frozen=True)
class Source:
    file: str  # in bench/results/
    seeds: int
    runs: dict[str, dict[str, tuple[float, float, float]]]  # run key -> metric -> (min, max, mean)
    entries: dict[str, str] | None = None  # run key -> the file's name for it, where they differ


# Copied from the files (min, max, mean over seeds): lessons by their key; "memory-lr" is lesson 2 at lr 0.001,
# "study" Compare's default study.
MEASURED: dict[str, Source] = {
    "rnn-rows": Source("lessons-cpu.json", 3, {
        "rnn": {"test_acc": (0.7332, 0.7991, 0.7663), "train_acc": (0.745, 0.8255, 0.785)},
    }),
    "memory": Source("settings-memory.json", 5, {
        "rnn_plain": {"test_acc": (0.5715, 0.6519, 0.6304), "train_acc": (0.5765, 0.672, 0.6485),
                      "val_acc": (0.5533, 0.6533, 0.6227), "gap": (0.0117, 0.0503, 0.0258)},
        "rnn_delay": {"test_acc": (0.0958, 0.1995, 0.1246), "train_acc": (0.1025, 0.209, 0.128),
                      "val_acc": (0.0917, 0.1883, 0.1227), "gap": (-0.0027, 0.0207, 0.0053)},
        "lstm_delay": {"test_acc": (0.8832, 0.9078, 0.898), "train_acc": (0.892, 0.9215, 0.9113),
                       "val_acc": (0.8725, 0.91, 0.8928), "gap": (0.011, 0.0285, 0.0185)},
    }),
    "memory-lr": Source("settings-memory-lr.json", 5, {
        "rnn_plain": {"test_acc": (0.5829, 0.7825, 0.7058), "train_acc": (0.604, 0.8, 0.7261),
                      "val_acc": (0.5908, 0.7692, 0.7047), "gap": (0.0132, 0.0333, 0.0214)},
        "rnn_delay": {"test_acc": (0.3031, 0.6303, 0.4517), "train_acc": (0.3215, 0.6525, 0.4596),
                      "val_acc": (0.3125, 0.6492, 0.457), "gap": (-0.014, 0.0158, 0.0026)},
        "lstm_delay": {"test_acc": (0.8043, 0.8591, 0.8261), "train_acc": (0.821, 0.872, 0.8398),
                       "val_acc": (0.8008, 0.86, 0.8207), "gap": (0.0107, 0.03, 0.0191)},
    }, entries={"rnn_plain": "rnn_plain@0.001", "rnn_delay": "rnn_delay@0.001", "lstm_delay": "lstm_delay@0.001"}),
    "deeper": Source("lessons-cpu.json", 3, {
        "gru": {"test_acc": (0.558, 0.798, 0.6983), "train_acc": (0.609, 0.823, 0.7335)},
    }),
    "overfitting": Source("settings-overfitting.json", 5, {
        "cnn": {"test_acc": (0.816, 0.8407, 0.8264), "train_acc": (0.9756, 0.9833, 0.9798),
                "val_acc": (0.8183, 0.8433, 0.828), "gap": (0.1322, 0.1606, 0.1518)},
        "width": {"test_acc": (0.8247, 0.8373, 0.8316), "train_acc": (0.9944, 1.0, 0.9969),
                  "val_acc": (0.8267, 0.8367, 0.8333), "gap": (0.1578, 0.1689, 0.1636)},
        "dropout": {"test_acc": (0.8187, 0.83, 0.8263), "train_acc": (0.9122, 0.9267, 0.9164),
                    "val_acc": (0.815, 0.8217, 0.8187), "gap": (0.0922, 0.105, 0.0978)},
        "bn_l2": {"test_acc": (0.7953, 0.8253, 0.8124), "train_acc": (0.9744, 0.9989, 0.9898),
                  "val_acc": (0.7983, 0.8217, 0.812), "gap": (0.1739, 0.1806, 0.1778)},
    }),
    "conv": Source("lessons-cpu.json", 3, {
        "lenet": {"test_acc": (0.9226, 0.9381, 0.9322), "train_acc": (0.9285, 0.945, 0.9368)},
    }),
    "optimizer": Source("lessons-cpu.json", 3, {
        "sgd": {"test_acc": (0.1153, 0.1313, 0.1252), "train_acc": (0.1185, 0.1485, 0.1373)},
        "momentum": {"test_acc": (0.8002, 0.8435, 0.8221), "train_acc": (0.8445, 0.8755, 0.862)},
        "adam": {"test_acc": (0.75, 0.7762, 0.7633), "train_acc": (0.789, 0.8195, 0.802)},
    }),
    "noise": Source("settings-noise.json", 5, {
        "clean": {"test_acc": (0.927, 0.9365, 0.9332), "train_acc": (1.0, 1.0, 1.0), "val_acc": (0.926, 0.946, 0.9392),
                  "best_val_acc": (0.93, 0.95, 0.9436), "gap": (0.054, 0.074, 0.0608)},
        "noisy": {"test_acc": (0.52, 0.5705, 0.5373), "train_acc": (0.968, 0.99, 0.9823),
                  "val_acc": (0.57, 0.622, 0.588),
                  "best_val_acc": (0.884, 0.9, 0.8912), "gap": (0.3633, 0.4153, 0.3943)},
    }, entries={"noisy": "noise=0.5"}),
    "look": Source("lessons-cpu.json", 5, {
        "lenet": {"test_acc": (0.9062, 0.9381, 0.924), "train_acc": (0.9095, 0.945, 0.928),
                  "salient_drop": (0.6056, 0.7026, 0.6668), "random_drop": (0.0942, 0.162, 0.1383),
                  "untrained_salient_drop": (0.0005, 0.001, 0.0008), "untrained_random_drop": (-0.0, 0.0001, 0.0)},
    }),
    "data": Source("lessons-cpu.json", 5, {
        "plain": {"test_acc": (0.8167, 0.8413, 0.8271), "train_acc": (0.9756, 0.9833, 0.98),
                  "val_acc": (0.8183, 0.8417, 0.8283), "gap": (0.1339, 0.1606, 0.1517)},
        "l2": {"test_acc": (0.8167, 0.8353, 0.8259), "train_acc": (0.8356, 0.8789, 0.8596),
               "val_acc": (0.7833, 0.8333, 0.8123), "gap": (0.0411, 0.0522, 0.0472)},
        "more": {"test_acc": (0.852, 0.8645, 0.8584), "train_acc": (0.9454, 0.9983, 0.9761),
                 "val_acc": (0.8404, 0.8725, 0.862), "gap": (0.1, 0.13, 0.1141)},
    }),
    # Lesson 7 with and without early stopping (patience 5, the lesson's link), all four in one file.
    "noise-es": Source("settings-early-stopping.json", 5, {
        "clean": {"test_acc": (0.925, 0.935, 0.9324), "train_acc": (1.0, 1.0, 1.0), "val_acc": (0.928, 0.946, 0.9396),
                  "best_val_acc": (0.93, 0.95, 0.9432), "gap": (0.054, 0.072, 0.0604)},
        "noisy": {"test_acc": (0.505, 0.5735, 0.546), "train_acc": (0.9673, 0.9947, 0.9856),
                  "val_acc": (0.582, 0.638, 0.6088), "best_val_acc": (0.886, 0.896, 0.8888),
                  "gap": (0.3293, 0.41, 0.3768)},
        "clean_es": {"test_acc": (0.917, 0.9315, 0.9243), "train_acc": (0.9953, 1.0, 0.9981),
                     "val_acc": (0.93, 0.948, 0.9392), "best_val_acc": (0.93, 0.948, 0.942),
                     "gap": (0.0493, 0.0653, 0.0589), "kept_epoch": (17, 26, 20.2)},
        "noisy_es": {"test_acc": (0.8335, 0.8585, 0.8438), "train_acc": (0.5627, 0.592, 0.5764),
                     "val_acc": (0.836, 0.874, 0.8544), "best_val_acc": (0.886, 0.896, 0.8888),
                     "gap": (-0.3073, -0.2613, -0.278), "kept_epoch": (8, 13, 10.8)},
    }, entries={"clean_es": "clean+patience=5", "noisy_es": "noisy+patience=5"}),
    # Teach it your handwriting (bench/finetune.py): lstm64 fine-tuned on 20 digits drawn from strokes, held-out
    # drawings and MNIST before and after; at lr 0.001 for 5 epochs, and at lstm64's own lr 0.01 for 10.
    "finetune": Source("finetune.json", 3, {
        "all": {"own_before": (0.95, 0.9833, 0.9667), "own_after": (0.95, 1.0, 0.9722),
                "mnist_before": (0.9533, 0.9533, 0.9533), "mnist_after": (0.9532, 0.9551, 0.9539),
                "own_gain": (0.0, 0.0167, 0.0056), "mnist_loss": (-0.0018, 0.0001, -0.0006)},
        "last": {"own_before": (0.95, 0.9833, 0.9667), "own_after": (0.95, 0.9833, 0.9667),
                   "mnist_before": (0.9533, 0.9533, 0.9533), "mnist_after": (0.9528, 0.9529, 0.9528),
                   "own_gain": (0.0, 0.0, 0.0), "mnist_loss": (0.0004, 0.0005, 0.0005)},
        "replay": {"own_before": (0.95, 0.9833, 0.9667), "own_after": (0.95, 0.9667, 0.9556),
                   "mnist_before": (0.9533, 0.9533, 0.9533), "mnist_after": (0.9659, 0.9665, 0.9662),
                   "own_gain": (-0.0167, 0.0, -0.0111), "mnist_loss": (-0.0132, -0.0126, -0.0129)},
    }),
    "finetune-lr0.01": Source("finetune-lr0.01.json", 3, {
        "all": {"own_before": (0.95, 0.9833, 0.9667), "own_after": (0.9167, 0.9833, 0.9556),
                "mnist_before": (0.9533, 0.9533, 0.9533), "mnist_after": (0.8692, 0.894, 0.8782),
                "own_gain": (-0.0333, 0.0, -0.0111), "mnist_loss": (0.0593, 0.0841, 0.0751)},
        "last": {"own_before": (0.95, 0.9833, 0.9667), "own_after": (0.95, 0.9833, 0.9667),
                   "mnist_before": (0.9533, 0.9533, 0.9533), "mnist_after": (0.943, 0.9486, 0.9462),
                   "own_gain": (0.0, 0.0, 0.0), "mnist_loss": (0.0047, 0.0103, 0.0071)},
        "replay": {"own_before": (0.95, 0.9833, 0.9667), "own_after": (0.9667, 0.9833, 0.9778),
                   "mnist_before": (0.9533, 0.9533, 0.9533), "mnist_after": (0.9051, 0.9443, 0.9308),
                   "own_gain": (0.0, 0.0333, 0.0111), "mnist_loss": (0.009, 0.0482, 0.0225)},
    }),
    "study": Source("settings-study.json", 5, {
        "none": {"test_acc": (0.816, 0.8407, 0.8264), "train_acc": (0.9756, 0.9833, 0.9798),
                 "val_acc": (0.8183, 0.8433, 0.828), "gap": (0.1322, 0.1606, 0.1518)},
        "l2": {"test_acc": (0.8173, 0.8353, 0.826), "train_acc": (0.8356, 0.8789, 0.8596),
               "val_acc": (0.7833, 0.8333, 0.8123), "gap": (0.0411, 0.0522, 0.0472)},
        "dropout": {"test_acc": (0.8133, 0.8287, 0.8248), "train_acc": (0.8856, 0.9022, 0.8973),
                    "val_acc": (0.8033, 0.825, 0.8137), "gap": (0.0756, 0.0989, 0.0837)},
    }),
}
MEASURED["handwriting"] = MEASURED["finetune-lr0.01"]  # the lesson "Teach it your handwriting" runs these
# The default study's wall time in seconds, 3 runs two at a time on this machine; and a study that evaluated
# every epoch: seconds of evaluation, seconds of training (bench/results/, "wall" and "phases").
STUDY_WALL = ("study_wall-cnn-default-study.json", 30.924263101001998)
STUDY_EVAL = ("study_wall-cnn-every-epoch.json", 71.25179949402082, 109.02668892599468)

SHORT = {"test_acc": "test", "train_acc": "train", "val_acc": "val", "best_val_acc": "best_val", "gap": "gap",
         "salient_drop": "salient", "random_drop": "random", "untrained_salient_drop": "untrained_salient",
         "untrained_random_drop": "untrained_random", "kept_epoch": "kept"}
# Tables a lesson's text also quotes, beside its own (lesson key -> keys of MEASURED).
ALSO = {"memory": ("memory-lr",), "noise": ("noise-es",), "handwriting": ("finetune",)}

# Your own data's measures (bench/finetune.py): accuracy on held-out own drawings and on MNIST, before and after.
SHORT.update({"own_before": "own_before", "own_after": "own_after", "mnist_before": "mnist_before",
              "mnist_after": "mnist_after", "own_gain": "own_gain", "mnist_loss": "mnist_loss"})


@dataclass(frozen=True)
class FineTune:
    """How bench/finetune.py fine-tuned (tests/test_learn.py checks these equal to its file): the lesson
    "Teach it your handwriting" runs exactly this and quotes it."""
    file: str
    lr: float
    epochs: int
    batch_size: int
    replay: int  # MNIST training images mixed in by the "replay" variant
    trained_on: int  # drawings fine-tuned on: TRAIN_PER_DIGIT of each digit
    held_out: int  # drawings of the same hand it is measured on
    base_test_acc: float  # the lstm64 base (1 epoch on MNIST) before any fine-tune

    @property
    def per_digit(self) -> int:
        return self.trained_on // 10


FINETUNE = {"finetune-lr0.01": FineTune("finetune-lr0.01.json", 0.01, 10, 16, 500, 20, 60, 0.9533),
            "finetune": FineTune("finetune.json", 0.001, 5, 16, 500, 20, 60, 0.9533)}


def spread(key: str, run: str, metric: str) -> Spread | None:
    got = MEASURED.get(key)
    values = got.runs.get(run, {}).get(metric) if got else None
    return Spread(*values) if values else None


def runs(key: str) -> dict[str, SimpleNamespace]:
    """Each run of `key` as an object whose attributes (test, train, val, best_val, gap, ...) are Spreads:
    what lesson texts name in their `{run.metric.pct}` fields."""
    return {run: SimpleNamespace(**{SHORT[m]: Spread(*v) for m, v in metrics.items()})
            for run, metrics in MEASURED[key].runs.items()}


def seeds_text(keys: list[str]) -> str:
    """`over 3 seeds (lessons 2, 4: 5)`: the seeds most of `keys` were measured over, and the exceptions."""
    counts = {k: MEASURED[k].seeds for k in keys if k in MEASURED}
    if not counts:
        return "not measured"
    usual = max(set(counts.values()), key=list(counts.values()).count)
    other = {n: [i + 1 for i, k in enumerate(keys) if counts.get(k) == n] for n in set(counts.values()) - {usual}}
    extra = "; ".join(f"lesson{'s' if len(i) > 1 else ''} {', '.join(map(str, i))}: {n}" for n, i in other.items())
    return f"over {usual} seeds" + (f" ({extra})" if extra else "")


# Compare's "where two runs differ" and Inside's map quote these (bench/why_numbers.py; tests/test_learn.py checks
# them equal to the file): two seeds of lesson 8's LeNet at its CPU scale, and its PCA map, trained vs untrained.
@dataclass(frozen=True)
class Why:
    file: str
    recipe: str
    test_acc: tuple[float, float]  # the two seeds'
    a_only: int  # test images seed A got right and B wrong
    b_only: int
    test_images: int
    map_images: int
    trained: float  # between-class share of the PCA map's spread (explain.separation)
    untrained: float

    def disagreement(self) -> str:
        """`two seeds of LeNet (92.1% and 93.8% test accuracy) split 623 of the 10,000 test images`"""
        a, b = sorted(self.test_acc)
        return (f"two seeds of {self.recipe} ({a:.1%} and {b:.1%} test accuracy) split {self.a_only + self.b_only:,} "
                f"of the {self.test_images:,} test images")

    def separation(self) -> str:
        """`75% of the spread lies between classes trained, 37% untrained`"""
        return f"{self.trained:.0%} of the spread lies between classes trained, {self.untrained:.0%} untrained"


WHY = Why("why.json", "LeNet", (0.9208, 0.9381), a_only=225, b_only=398, test_images=10_000, map_images=2000,
          trained=0.7507, untrained=0.3713)
