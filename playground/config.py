"""Run configuration: one frozen dataclass per concern, validated, saved as JSON."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .errors import PlaygroundError

DATASETS = ("mnist", "cifar2")
ARCHITECTURES = ("rnn", "lstm", "gru", "cnn", "lenet")
RECURRENT = ("rnn", "lstm", "gru")
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adamw")
NORMALIZATIONS = ("half", "unit", "standard")  # (x-0.5)/0.5, x in [0,1], dataset mean/std
ACTIVATIONS = ("tanh", "relu")
DEVICES = ("auto", "cpu", "cuda")
# How the learning rate moves over a run's optimizer steps (torch.optim.lr_scheduler; engine/schedules.py).
SCHEDULES = ("constant", "step", "cosine", "onecycle")
TRAIN_LAYERS = ("all", "last")  # which weights a run trains: all, or only the output layer (a fine-tune)
OWN_PREFIX = "own:"  # data.dataset of your own data: "own:<snapshot>" (own.py)
MAX_REPLAY = 60_000


class ConfigError(PlaygroundError, ValueError):
    """A configuration the engine cannot run; the message says which value and why."""


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "mnist"
    normalize: str = "half"
    val_fraction: float = 0.1  # held out of the training set, never trained on
    limit: int = 0  # first N train (and test) samples; 0 = all
    label_noise: float = 0.0  # share of the training labels replaced by a random class (never validation or test)
    augment: bool = False  # random shifts (MNIST: and turns; CIFAR: and flips) of each training image (augment.py)
    # Own data (dataset "own:<snapshot>", own.py): MNIST training images mixed into its training set each run,
    # so a fine-tune keeps rehearsing what it knew (replay, against forgetting). 0 = none.
    replay: int = 0


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "lstm"
    hidden: int = 64  # recurrent hidden size
    layers: int = 1  # recurrent layers
    width: int = 16  # CNN n_channel: conv1 has width outputs, conv2 width/2
    activation: str = "tanh"  # CNN activation
    delay: int = 0  # recurrent: blank rows read after the image before the answer (a memory task)
    # A fine-tune: the checkpoint whose weights the model starts from instead of its seeded ones ("" = none),
    # read with torch.load(weights_only=True) through inference.load_checkpoint.
    init_from: str = ""


@dataclass(frozen=True)
class OptimConfig:
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0  # SGD only
    clip: float = 0.0  # max gradient norm per step; 0 = no clipping (RNNs learn more steadily with it)
    batch_size: int = 64
    epochs: int = 1
    schedule: str = "constant"  # the learning rate over the run's steps: one of SCHEDULES, `lr` its peak
    # Evaluate (validation + the train probe) after epoch 1, every N-th epoch and the last. On a small training
    # set a pass over the probe and validation costs more than the epoch itself: a study of long runs
    # evaluates every few epochs (engine/study.py). It changes which epochs get a row, never the training.
    eval_every: int = 1
    # Early stopping, on validation accuracy: after `patience` evaluations in a row (evaluated epochs, so
    # eval_every apart) without a gain of more than `min_delta`, training stops; a run with patience keeps the
    # weights of its best evaluated epoch, not its last (publish.EarlyStop). 0 = off: every epoch is trained.
    patience: int = 0
    min_delta: float = 0.0  # in accuracy (0.01 = one point): a smaller gain does not count as a new best
    train_layers: str = "all"  # one of TRAIN_LAYERS: "last" freezes every weight but the output layer's


@dataclass(frozen=True)
class RegConfig:
    l2: float = 0.0  # lambda of the penalty lambda * sum(w^2) added to the loss
    weight_decay: float = 0.0  # the optimizer's own decay
    dropout: float = 0.0  # between recurrent layers / Dropout2d after each conv block
    batchnorm: bool = False  # BatchNorm2d after each conv (CNNs)


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    reg: RegConfig = field(default_factory=RegConfig)
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        """Build from a (possibly partial) dict; unknown keys are an error, not ignored."""
        sections = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig, "reg": RegConfig}
        top = {f.name for f in fields(cls)}
        unknown = set(d) - top
        if unknown:
            raise ConfigError(f"unknown config keys: {sorted(unknown)}; valid: {sorted(top)}")
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            if key in sections:
                kwargs[key] = _section(sections[key], key, value)
            else:
                kwargs[key] = value
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    def override(self, **flat: Any) -> RunConfig:
        """Replace fields by their flat name (lr=..., arch=..., l2=...); None values are skipped."""
        cfg = self
        for key, value in flat.items():
            if value is None:
                continue
            section = FLAT_FIELDS.get(key)
            if section is None:
                raise ConfigError(f"unknown setting '{key}'; valid: {sorted(FLAT_FIELDS)}")
            if section == "":
                cfg = replace(cfg, **{key: value})
            else:
                cfg = replace(cfg, **{section: replace(getattr(cfg, section), **{key: value})})
        return cfg

    def flat(self) -> dict[str, Any]:
        """All settings under their flat names (for tables and diffs)."""
        out: dict[str, Any] = {}
        for key, section in FLAT_FIELDS.items():
            out[key] = getattr(self, key) if section == "" else getattr(getattr(self, section), key)
        return out


def _section(cls, name: str, value: Any):
    if not isinstance(value, dict):
        raise ConfigError(f"config section '{name}' must be an object")
    valid = {f.name for f in fields(cls)}
    value = {_RENAMED.get((name, k), k): v for k, v in value.items()}
    unknown = set(value) - valid
    if unknown:
        raise ConfigError(f"unknown keys in '{name}': {sorted(unknown)}; valid: {sorted(valid)}")
    return cls(**value)


# Keys stored by earlier versions, read under their new names: (section, old) -> new.
_RENAMED = {("optim", "name"): "optimizer"}

FLAT_FIELDS: dict[str, str] = {
    **{f.name: "data" for f in fields(DataConfig)},
    **{f.name: "model" for f in fields(ModelConfig)},
    **{f.name: "optim" for f in fields(OptimConfig)},
    **{f.name: "reg" for f in fields(RegConfig)},
    "seed": "",
    "device": "",
}


def is_recurrent(cfg: RunConfig) -> bool:
    return cfg.model.arch in RECURRENT


TRAIN_PROBE_MIN, TRAIN_PROBE_MAX = 2000, 5000  # training samples re-evaluated at each evaluation


def train_probe_size(n_train: int, n_val: int) -> int:
    """Training samples re-evaluated at each evaluation (the train side of the gap): as many as validation,
    at least TRAIN_PROBE_MIN and at most TRAIN_PROBE_MAX, never more than were trained on."""
    return min(n_train, max(TRAIN_PROBE_MIN, n_val), TRAIN_PROBE_MAX)


def evaluates(cfg: RunConfig, epoch: int) -> bool:
    """Whether epoch `epoch` (from 1) ends with an evaluation and a row: the first, every eval_every-th, the last."""
    return epoch == 1 or epoch % cfg.optim.eval_every == 0 or epoch == cfg.optim.epochs


# The settings that are shares of something: (lowest, highest, whether the highest itself is allowed). validate()
# checks these and the Train form's sliders span them, so a valid value can never be out of a slider's range.
FRACTIONS: dict[str, tuple[float, float, bool]] = {
    "val_fraction": (0.0, 0.5, False),
    "label_noise": (0.0, 0.95, True),
    "dropout": (0.0, 1.0, False),
}


def fraction_ok(name: str, value: Any) -> bool:
    """Whether `value` is a number in FRACTIONS[name]'s range."""
    low, high, closed = FRACTIONS[name]
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return False
    return low <= value <= high if closed else low <= value < high


def fraction_rule(name: str) -> str:
    """'dropout must be in [0, 1)': the range of FRACTIONS[name] in words."""
    low, high, closed = FRACTIONS[name]
    return f"{name} must be in [{low:g}, {high:g}{']' if closed else ')'}"


def is_valid(cfg: RunConfig) -> bool:
    """Whether validate() accepts `cfg` (for probing candidate settings without handling the error)."""
    try:
        validate(cfg)
    except ConfigError:
        return False
    return True


def validate(cfg: RunConfig) -> RunConfig:
    """Raise ConfigError with the reason if the engine cannot run `cfg`; return it otherwise."""
    d, m, o, r = cfg.data, cfg.model, cfg.optim, cfg.reg

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ConfigError(message)

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_num(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")

    need(d.dataset in DATASETS or _own_name(d.dataset),
         f"unknown dataset '{d.dataset}'; valid: {', '.join(DATASETS)} or own:<snapshot>")
    need(d.normalize in NORMALIZATIONS, f"unknown normalize '{d.normalize}'; valid: {', '.join(NORMALIZATIONS)}")
    need(fraction_ok("val_fraction", d.val_fraction), fraction_rule("val_fraction"))
    need(fraction_ok("label_noise", d.label_noise), fraction_rule("label_noise"))
    need(isinstance(d.augment, bool), "augment must be true or false")
    need(is_int(d.limit) and d.limit >= 0, "limit must be an integer >= 0 (0 = all samples)")
    need(d.limit == 0 or d.limit >= 10, "limit must be 0 (all) or at least 10 samples")
    need(m.arch in ARCHITECTURES, f"unknown architecture '{m.arch}'; valid: {', '.join(ARCHITECTURES)}")
    need(is_int(m.hidden) and 1 <= m.hidden <= 4096, "hidden size must be an integer in [1, 4096]")
    need(is_int(m.layers) and 1 <= m.layers <= 8, "layers must be an integer in [1, 8]")
    need(is_int(m.width) and 2 <= m.width <= 512 and m.width % 2 == 0,
         "width must be an even integer in [2, 512] (conv2 has width/2 channels)")
    need(m.activation in ACTIVATIONS, f"unknown activation '{m.activation}'; valid: {', '.join(ACTIVATIONS)}")
    need(o.optimizer in OPTIMIZERS, f"unknown optimizer '{o.optimizer}'; valid: {', '.join(OPTIMIZERS)}")
    # A fine-tune at rate 0 is the model it starts from, trained on nothing: the "before" of a comparison.
    need(is_num(o.lr) and (o.lr > 0 or (o.lr == 0 and bool(m.init_from))) and o.lr <= 1e4,
         "learning rate must be > 0 and <= 10000 (0 only for a fine-tune: model.init_from set)")
    need(o.schedule in SCHEDULES, f"unknown learning-rate schedule '{o.schedule}'; valid: {', '.join(SCHEDULES)}")
    need(is_num(o.momentum) and 0 <= o.momentum < 1, "momentum must be in [0, 1)")
    need(is_num(o.clip) and o.clip >= 0, "gradient clip must be >= 0 (0 = off)")
    need(is_int(o.batch_size) and 1 <= o.batch_size <= 65536, "batch size must be an integer in [1, 65536]")
    need(is_int(o.epochs) and 1 <= o.epochs <= 1000, "epochs must be an integer in [1, 1000]")
    need(is_int(o.eval_every) and 1 <= o.eval_every <= 1000, "eval_every must be an integer in [1, 1000] epochs")
    need(is_num(r.l2) and r.l2 >= 0, "L2 penalty must be >= 0")
    need(is_num(r.weight_decay) and r.weight_decay >= 0, "weight decay must be >= 0")
    need(fraction_ok("dropout", r.dropout), fraction_rule("dropout"))
    need(isinstance(r.batchnorm, bool), "batchnorm must be true or false")
    if is_recurrent(cfg):
        need(r.dropout == 0 or m.layers > 1,
             "dropout in a recurrent model acts between layers: use layers >= 2 or dropout 0")
        need(not r.batchnorm, "batch-norm applies to CNNs only")
    need(is_int(m.delay) and 0 <= m.delay <= 500, "delay must be an integer in [0, 500] blank rows")
    need(m.delay == 0 or is_recurrent(cfg), "delay (blank rows after the image) applies to recurrent models only")
    need(is_int(cfg.seed) and 0 <= cfg.seed < 2**63, "seed must be a non-negative integer")
    need(cfg.device in DEVICES, f"unknown device '{cfg.device}'; valid: {', '.join(DEVICES)}")
    _validate_early_stopping(cfg, need)
    _validate_fine_tune(cfg, need)
    return cfg


def _own_name(dataset: Any) -> bool:
    name = dataset.removeprefix(OWN_PREFIX) if isinstance(dataset, str) and dataset.startswith(OWN_PREFIX) else ""
    return bool(name) and len(name) <= 80 and all(c.isalnum() or c in "-_" for c in name)


def _validate_fine_tune(cfg: RunConfig, need: Callable[[bool, str], None]) -> None:
    d, m, o = cfg.data, cfg.model, cfg.optim
    need(isinstance(m.init_from, str) and len(m.init_from) <= 4096, "init_from must be a checkpoint path or ''")
    need(o.train_layers in TRAIN_LAYERS, f"unknown train_layers '{o.train_layers}'; valid: {', '.join(TRAIN_LAYERS)}")
    need(o.train_layers == "all" or bool(m.init_from),
         "training only the last layer needs weights to start from: set init_from to a checkpoint")
    # Batch-norm's running statistics move with every training batch, frozen or not.
    need(o.train_layers == "all" or not cfg.reg.batchnorm, "train_layers 'last' needs a model without batch-norm")
    need(isinstance(d.replay, int) and not isinstance(d.replay, bool) and 0 <= d.replay <= MAX_REPLAY,
         f"replay must be an integer in [0, {MAX_REPLAY}] MNIST images")
    need(d.replay == 0 or _own_name(d.dataset), "replay mixes MNIST images into your own data: use an own dataset")


def _validate_early_stopping(cfg: RunConfig, need: Callable[[bool, str], None]) -> None:
    o = cfg.optim
    need(isinstance(o.patience, int) and not isinstance(o.patience, bool) and 0 <= o.patience <= 1000,
         "patience must be an integer in [0, 1000] evaluations (0 = no early stopping)")
    need(isinstance(o.min_delta, (int, float)) and not isinstance(o.min_delta, bool) and 0 <= o.min_delta < 1,
         "min_delta must be in [0, 1) (a gain in validation accuracy: 0.01 = one point)")
    need(o.patience == 0 or cfg.data.val_fraction > 0,
         "early stopping watches validation accuracy: set val_fraction above 0, or patience 0")


def _recipe(dataset: str, arch: str, opt: str, lr: float, batch: int, epochs: int, *,
            normalize: str = "half", momentum: float = 0.0, val_fraction: float = 0.1,
            **model_reg: Any) -> RunConfig:
    cfg = RunConfig(
        data=DataConfig(dataset=dataset, normalize=normalize, val_fraction=val_fraction),
        model=ModelConfig(arch=arch),
        optim=OptimConfig(optimizer=opt, lr=lr, momentum=momentum, batch_size=batch, epochs=epochs),
    )
    return cfg.override(**model_reg)


# Classic experiments, runnable out of the box. CIFAR recipes follow "Deep Learning with
# PyTorch" ch. 8 (plain SGD, per-channel normalization); the MNIST ones the usual RNN tutorials.
RECIPES: dict[str, RunConfig] = {
    "rnn128": _recipe("mnist", "rnn", "adam", 1e-3, 64, 10, hidden=128),
    # MorvanZhou's 402_RNN_classifier: [0,1] pixels, one epoch (>= 95% test). It trained on all 60,000 images;
    # here 10% are held out so that a learner's first run (the Train page's default) draws train vs validation.
    "lstm64": _recipe("mnist", "lstm", "adam", 1e-2, 64, 1, normalize="unit", hidden=64),
    "lstm100": _recipe("mnist", "lstm", "sgd", 1e-2, 32, 20, momentum=0.9, hidden=100),
    "gru3x200": _recipe("mnist", "gru", "rmsprop", 1e-3, 64, 3, hidden=200, layers=3, dropout=0.2),
    "cnn": _recipe("cifar2", "cnn", "sgd", 1e-2, 64, 100, normalize="standard"),
    "cnn-width": _recipe("cifar2", "cnn", "sgd", 1e-2, 64, 100, normalize="standard", width=32),
    "cnn-dropout": _recipe("cifar2", "cnn", "sgd", 1e-2, 64, 100, normalize="standard", dropout=0.4),
    "cnn-bn-l2": _recipe("cifar2", "cnn", "sgd", 1e-2, 64, 100, normalize="standard",
                         batchnorm=True, l2=1e-3),
    "lenet": _recipe("mnist", "lenet", "adam", 1e-3, 64, 3, activation="relu"),
}


def recipe(name: str) -> RunConfig:
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"unknown recipe '{name}'; valid: {', '.join(RECIPES)}") from None
