"""Comparing runs: the table of differing settings and results, regularization-study variants and seeds,
variants over seeds (mean, min–max band, noise), and which runs started from the same weights."""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .config import ConfigError, RunConfig, is_recurrent
from .errors import RunStatus
from .estimate import TRAIN_SIZE, eval_every_for
from .store import RunRecord
from .words import counted

# Settings that never explain a difference between runs.
IGNORED = {"device"}
# Bookkeeping, not settings: how often a run is measured, its seed (noise) and where it trains never change what
# it learns, so "which settings matter" never ranks them (the seeds' spread is drawn as the noise floor instead).
BOOKKEEPING = ("seed", "eval_every", "device")
TRIAL_TAG = re.compile(r" · trial \d+")  # a sweep's trial: `lenet · trial 3: lr=0.001 · study 2`
KEPT = "epoch kept (early stopping)"
RESULTS = ("final val acc", "best val acc", "best epoch", "gap (train-val)", "test acc", "final train acc",
           "last measured epoch")


def applies(key: str, cfg: RunConfig) -> bool:
    """Whether a flat setting means anything for this run (hidden for an LSTM, not for a CNN)."""
    if key in ("hidden", "layers"):
        return is_recurrent(cfg)
    if key == "width":
        return cfg.model.arch == "cnn"
    if key in ("activation", "batchnorm"):
        return not is_recurrent(cfg)
    if key == "momentum":
        return cfg.optim.optimizer == "sgd"
    return key not in IGNORED


def differing_settings(configs: Sequence[RunConfig]) -> list[str]:
    """Flat settings whose values differ among the runs they apply to."""
    flats = [c.flat() for c in configs]
    keys = flats[0] if flats else {}
    return [k for k in keys
            if len({repr(f[k]) for f, c in zip(flats, configs, strict=True) if applies(k, c)}) > 1]


def best_epoch(epoch_rows: Sequence[dict]) -> dict | None:
    scored = [r for r in epoch_rows if r.get("val_acc") is not None]
    return max(scored, key=lambda r: r["val_acc"]) if scored else None


def _results(rec: RunRecord, epochs: Sequence[dict]) -> dict[str, Any]:
    last = epochs[-1] if epochs else {}
    best = best_epoch(epochs)
    return {
        "final val acc": last.get("val_acc"),
        "best val acc": best["val_acc"] if best else None,
        "best epoch": best["epoch"] if best else None,
        "gap (train-val)": (last["train_acc"] - last["val_acc"]) if last.get("val_acc") is not None else None,
        "test acc": rec.result.get("test_acc"),
        "final train acc": last.get("train_acc"),
        "last measured epoch": int(last["epoch"]) if epochs else 0,  # rows may skip epochs (eval_every)
    }


def comparison_table(runs: Sequence[tuple[RunRecord, Sequence[dict]]]) -> list[dict[str, Any]]:
    """One row per run: the settings that differ (None where one does not apply), then its results: what was
    changed is read before what it did (settings after eight result columns were off-screen)."""
    differing = differing_settings([rec.config for rec, _ in runs])
    stopped = any("kept_epoch" in (rec.result or {}) for rec, _ in runs)  # a column only where early stopping ran
    table = []
    for rec, epochs in runs:
        flat = rec.config.flat()
        row: dict[str, Any] = {"run": f"#{rec.id} {rec.name}", "status": str(rec.status)}
        row.update({k: flat[k] if applies(k, rec.config) else None for k in differing})
        row.update(_results(rec, epochs))
        if stopped:  # the weights it was tested with: early stopping's best validation epoch
            row[KEPT] = (rec.result or {}).get("kept_epoch")
        row.update({"params": rec.params, "seconds": round(rec.result.get("train_seconds") or 0.0, 1) or None})
        table.append(row)
    return table


def compatible_runs(runs: Sequence[RunRecord], like: RunConfig) -> list[RunRecord]:
    """Runs whose model reads the same inputs as `like`'s and is of the same family (recurrent or CNN)."""
    return [r for r in runs if r.config.data.dataset == like.data.dataset
            and is_recurrent(r.config) == is_recurrent(like)]


@dataclass(frozen=True)
class StudyChoice:
    """What the user ticked for a regularization study."""
    baseline: bool = True
    l2: float | None = None
    dropout: float | None = None
    batchnorm: bool = False
    wider: bool = False
    augment: bool = False  # the baseline trained on augmented images (augment.py)
    early_stopping: int | None = None  # the baseline with early stopping, this patience (in evaluations)
    sizes: tuple[int, ...] = ()  # training-set sizes (first N samples) crossed with every variant; () = the base's
    noises: tuple[float, ...] = ()  # label-noise shares crossed with every variant; () = the base's


def data_variants(base: RunConfig, choice: StudyChoice) -> list[tuple[str, RunConfig]]:
    """The base at each chosen training-set size and label noise (the data as a study axis); one unlabelled
    entry, the base itself, when neither is chosen. Each evaluates as often as its size affords (eval_every_for).
    A size beyond the dataset is capped to the images there are and labelled with that size (sizes that cap to
    the same one give one entry)."""
    out = []
    for size in _sizes_used(base, choice.sizes) or (None,):
        for noise in choice.noises or (None,):
            parts = ([size[1]] if size is not None else []) + ([f"label noise {noise:g}"] if noise is not None else [])
            cfg = base.override(limit=size[0] if size is not None else None, label_noise=noise)
            out.append((" · ".join(parts), cfg.override(eval_every=eval_every_for(cfg))))
    return out


def _sizes_used(base: RunConfig, sizes: Sequence[int]) -> list[tuple[int, str]]:
    """(limit, label) per distinct training-set size actually used: at most the images the dataset has."""
    there = TRAIN_SIZE[base.data.dataset]
    out: dict[int, str] = {}
    for size in sizes:
        used = min(size, there) if size else 0
        label = f"{used:,} images" if used else "all images"
        if size > there:
            label = f"{there:,} images (all there are; {size:,} asked)"
        out.setdefault(used, label)
    return list(out.items())


def study_variants(base: RunConfig, choice: StudyChoice) -> list[tuple[str, RunConfig]]:
    """(name, config) per ticked variant; every variant keeps the base's seed and data."""
    plain = base.override(l2=0.0, dropout=0.0, batchnorm=False, augment=False, patience=0)
    out: list[tuple[str, RunConfig]] = []
    if choice.baseline:
        out.append(("baseline", plain))
    if choice.l2:
        out.append((f"L2 λ={choice.l2:g}", plain.override(l2=choice.l2)))
    if choice.dropout:
        if is_recurrent(base) and base.model.layers < 2:
            out.append((f"dropout {choice.dropout:g} (2 layers)", plain.override(dropout=choice.dropout, layers=2)))
        else:
            out.append((f"dropout {choice.dropout:g}", plain.override(dropout=choice.dropout)))
    if choice.batchnorm and base.model.arch in ("cnn", "lenet"):
        out.append(("batch-norm", plain.override(batchnorm=True)))
    if choice.augment:
        out.append(("augmented", plain.override(augment=True)))
    if choice.early_stopping:
        out.append((f"early stopping (patience {choice.early_stopping})",
                    plain.override(patience=choice.early_stopping)))
    if choice.wider:
        if is_recurrent(base):
            out.append((f"wider (hidden {base.model.hidden * 2})", plain.override(hidden=base.model.hidden * 2)))
        else:
            out.append((f"wider (width {base.model.width * 2})", plain.override(width=base.model.width * 2)))
    return out


# ------------------------------------------------------------------ studies: seeds, tags, repeats
STUDY_TAG = re.compile(r" · study (\d+)$")
SEED_TAG = re.compile(r" · seed \d+$")
KEPT_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.DIVERGED)


def study_plan(base: RunConfig, choice: StudyChoice, seeds: int = 1) -> list[tuple[str, RunConfig]]:
    """(label, config) per ticked variant and seed, seed-major: base.seed, base.seed + 1, ...

    Variants of one seed start from the same initial weights wherever their architecture is the
    same (models are initialized from the seed alone), so what differs between them is the setting.
    """
    if not 1 <= int(seeds) <= 20:
        raise ConfigError("seeds must be in 1..20")
    out = []
    for seed in range(base.seed, base.seed + int(seeds)):
        for data_label, data_base in data_variants(base.override(seed=seed), choice):
            out += [(" · ".join(filter(None, (label, data_label, f"seed {seed}"))), cfg)
                    for label, cfg in study_variants(data_base, choice)]
    return out


def study_of(name: str) -> int | None:
    """The study number a run's name is tagged with (`... · study 3`), else None."""
    found = STUDY_TAG.search(name or "")
    return int(found.group(1)) if found else None


def next_study(names: Iterable[str]) -> int:
    return 1 + max((n for n in map(study_of, names) if n is not None), default=0)


def new_study(store, at_least: int = 1) -> int:
    """The number a new study takes, handed out by the store: two sessions or processes launching at once get
    different ones (each once took one past the runs' names), and it is past every number those names carry."""
    names = (r.name for r in store.list_runs(include_unreadable=True))
    return store.new_study(max(at_least, next_study(names)))


def study_run_name(recipe: str, label: str, study: int) -> str:
    return f"{recipe} · {label} · study {study}"


def studies(runs: Sequence[RunRecord]) -> dict[int, list[int]]:
    """Study number -> its run ids (oldest first), newest study first."""
    out: dict[int, list[int]] = {}
    for rec in sorted(runs, key=lambda r: r.id):
        number = study_of(rec.name)
        if number is not None:
            out.setdefault(number, []).append(rec.id)
    return dict(sorted(out.items(), reverse=True))


def one_study(runs: Sequence[RunRecord]) -> int | None:
    """The study all these runs belong to (by their names' tag), else None (untagged runs, or several studies)."""
    found = {study_of(r.name) for r in runs}
    return found.pop() if len(found) == 1 and None not in found else None


def default_selection(runs: Sequence[RunRecord], count: int = 2) -> list[int]:
    """What Compare shows first: the newest study's runs when that study is the latest thing trained, else the
    `count` newest finished runs like the newest one: its dataset and model family (an LSTM beside a
    noisy-label LeNet had nothing in common), so the runs just trained side by side."""
    found = studies(runs)
    newest_study = next(iter(found.values()), [])
    done = sorted((r for r in runs if r.status == RunStatus.FINISHED and r.config is not None),
                  key=lambda r: r.id, reverse=True)
    if not done or (newest_study and max(newest_study) >= done[0].id):
        return newest_study
    like = done[0].config
    return [r.id for r in done if r.config.data.dataset == like.data.dataset
            and is_recurrent(r.config) == is_recurrent(like)][:count]


def already_run(configs: Iterable[RunConfig], runs: Sequence[RunRecord]) -> list[RunRecord]:
    """Stored runs (queued, training, finished or diverged) with exactly one of these configs."""
    wanted = {cfg.to_json() for cfg in configs}
    return [r for r in runs if r.config is not None and r.status in KEPT_STATUSES and r.config.to_json() in wanted]


# ------------------------------------------------------------------ live status
def status_counts(statuses: Iterable[RunStatus | str]) -> dict[RunStatus, int]:
    """How many runs are in each status, in RunStatus order, zeros left out."""
    counted = Counter(RunStatus(s) for s in statuses)
    return {s: counted[s] for s in RunStatus if counted[s]}


# ------------------------------------------------------------------ variants over seeds
def variant_key(cfg: RunConfig | None) -> str:
    """What makes runs the same variant: every setting but the seed."""
    if cfg is None:
        return ""
    d = cfg.to_dict()
    d.pop("seed", None)
    return json.dumps(d, sort_keys=True)


@dataclass
class Variant:
    """Runs of one config that differ only by seed. `color_id`: its oldest run's id (a stable colour)."""

    name: str
    runs: list[tuple[RunRecord, Sequence[dict]]]

    @property
    def color_id(self) -> int:
        return min(rec.id for rec, _ in self.runs)

    @property
    def seeds(self) -> list[int]:
        return sorted({rec.config.seed for rec, _ in self.runs if rec.config is not None})


def variant_name(name: str) -> str:
    """A study run's name without its seed and study tags: `cnn · baseline · seed 1 · study 3` -> `cnn · baseline`."""
    return SEED_TAG.sub("", STUDY_TAG.sub("", name))


def group_variants(runs: Sequence[tuple[RunRecord, Sequence[dict]]]) -> list[Variant]:
    """Runs grouped by variant (config without the seed), in order of each variant's first run."""
    groups: dict[str, list] = {}
    for rec, epochs in runs:
        key = variant_key(rec.config) if rec.config is not None else f"#{rec.id}"
        groups.setdefault(key, []).append((rec, epochs))
    out = []
    for members in groups.values():
        first = min(members, key=lambda m: m[0].id)[0]
        name = f"#{first.id} {first.name}" if len(members) == 1 else \
            f"{variant_name(first.name)} ({len(members)} runs: #{', #'.join(str(r.id) for r, _ in members)})"
        out.append(Variant(name, members))
    return out


def band(runs: Sequence[Sequence[dict]], key: str) -> tuple[list[int], list[float], list[float], list[float]]:
    """Per epoch over several runs' epoch rows: (epochs, mean, min, max) of `key`, where any run has it."""
    values: dict[int, list[float]] = {}
    for rows in runs:
        for r in rows:
            v = r.get(key) if key != "gap" else (
                r["train_acc"] - r["val_acc"] if r.get("val_acc") is not None and r.get("train_acc") is not None
                else None)
            if v is not None:
                values.setdefault(int(r["epoch"]), []).append(float(v))
    x = sorted(values)
    return (x, [sum(values[e]) / len(values[e]) for e in x], [min(values[e]) for e in x],
            [max(values[e]) for e in x])


def variant_series(variants: Sequence[Variant]) -> list[dict[str, Any]]:
    """Plain data for the charts: per variant its name, colour id, run count and (x, mean, lo, hi) per metric."""
    metrics = ("train_loss", "val_loss", "train_acc", "val_acc", "gap")
    return [{"name": v.name, "color_id": v.color_id, "n": len(v.runs),
             "curves": {m: band([e for _, e in v.runs], m) for m in metrics}} for v in variants]


def noise_metric(runs: Sequence[tuple[RunRecord, Sequence[dict]]]) -> str | None:
    """The result the noise check compares: test accuracy when every run has one, else final validation."""
    rows = [_results(rec, epochs) for rec, epochs in runs]
    for key in ("test acc", "final val acc"):
        if rows and all(r[key] is not None for r in rows):
            return key
    return None


def spread_text(values: Sequence[float]) -> str:
    """`85.2% ± 1.3%` (mean ± half the min–max range), or one value."""
    if not values:
        return "–"
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.1%}"
    return f"{mean:.1%} ± {(max(values) - min(values)) / 2:.1%}"


def per_seed(v: Variant, key: str) -> list[float]:
    """`key`'s value for each distinct seed of `v` (runs repeated with one seed averaged into one value):
    repeats of a seed are not a spread over seeds."""
    by_seed: dict[int | None, list[float]] = {}
    for rec, epochs in v.runs:
        value = _results(rec, epochs)[key]
        if value is not None:
            by_seed.setdefault(rec.config.seed if rec.config is not None else None, []).append(value)
    return [sum(xs) / len(xs) for xs in by_seed.values()]


def seed_spread(variants: Sequence[Variant], metric: str) -> float | None:
    """The widest min–max range of `metric` over seeds within any variant that has several distinct seeds."""
    ranges = [max(values) - min(values) for v in variants if len(values := per_seed(v, metric)) >= 2]
    return max(ranges) if ranges else None


@dataclass(frozen=True)
class Difference:
    """A variant's mean result against a reference's, and how far seeds alone spread that result."""
    metric: str
    reference: float  # the reference variant's mean
    value: float  # this variant's mean
    spread: float | None  # the widest min–max range over seeds within any variant; None: no variant has 2 seeds

    @property
    def change(self) -> float:
        return self.value - self.reference

    @property
    def noise(self) -> bool | None:
        """True: smaller than the seeds' spread; False: larger; None: no spread to tell the two apart."""
        return None if self.spread is None else abs(self.change) < self.spread


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def differences_to_first(variants: Sequence[Variant], metric: str) -> list[Difference | None]:
    """Each variant's `metric` (mean over its seeds) against the first variant's, with the seeds' spread;
    None for the first and for a variant without the metric."""
    spread = seed_spread(variants, metric)
    means = [_mean(per_seed(v, metric)) for v in variants]
    if not means or means[0] is None:
        return [None] * len(variants)
    return [None if i == 0 or mean is None else Difference(metric, means[0], mean, spread)
            for i, mean in enumerate(means)]


def variant_table(variants: Sequence[Variant]) -> list[dict[str, Any]]:
    """One row per variant: seeds and mean ± spread of each result (ui/ adds the differences to the first)."""
    table = []
    for v in variants:
        repeats = len(v.runs) - len(v.seeds)
        seeds = ", ".join(map(str, v.seeds)) or "–"
        row: dict[str, Any] = {"variant": v.name, "seeds": seeds + (f" (+{repeats} repeated)" if repeats > 0 else "")}
        for key in ("final val acc", "best val acc", "gap (train-val)", "test acc", "final train acc"):
            row[key] = spread_text(per_seed(v, key))
        table.append(row)
    return table


@dataclass(frozen=True)
class Effect:
    """What a variant did against the first (reference) variant: to the generalization gap and to the result."""
    variant: str
    reference: str
    gap: Difference | None  # None without a validation set
    result: Difference | None  # test accuracy (final validation accuracy without a test set)


def effects(variants: Sequence[Variant]) -> list[Effect]:
    """One Effect per variant after the first: the answer to "did it help, or is it noise?" as values. Only for
    variants of one model on one dataset: an LSTM on digits is no variant of a CNN on birds and airplanes."""
    kinds = {(rec.config.data.dataset, rec.config.model.arch) for v in variants for rec, _ in v.runs}
    if len(variants) < 2 or len(kinds) > 1:
        return []
    metric = noise_metric([run for v in variants for run in v.runs])
    gaps = differences_to_first(variants, "gap (train-val)")
    results = differences_to_first(variants, metric) if metric else [None] * len(variants)
    return [Effect(v.name, variants[0].name, gap, result)
            for v, gap, result in zip(variants[1:], gaps[1:], results[1:], strict=True) if gap or result]


def one_seed_noise(variants: Sequence[Variant]) -> list[tuple[str, str, Difference]]:
    """Per single-seed variant whose difference to the first single-seed one is smaller than the spread seeds
    alone gave elsewhere (other variants' seeds): (variant, reference, the difference)."""
    every = [run for v in variants for run in v.runs]
    metric = noise_metric(every)
    spread = seed_spread(variants, metric) if metric else None
    singles = [v for v in variants if len(v.runs) == 1]
    if spread is None or len(singles) < 2:
        return []
    value = {v.name: _results(*v.runs[0])[metric] for v in singles}
    base = singles[0]
    found = [(v.name, base.name, Difference(metric, value[base.name], value[v.name], spread)) for v in singles[1:]]
    return [item for item in found if item[2].noise]


# ------------------------------------------------------------------ shared initial weights
@lru_cache(maxsize=256)
def _init_fingerprint(config_json: str) -> str:
    """A hash of the weights a run starts from (batch-norm's constant ones and zeros left out)."""
    import torch

    from .models import build_model

    cfg = RunConfig.from_json(config_json)
    model = build_model(cfg, seed=cfg.seed)
    digest = hashlib.sha256()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            continue
        for p in module.parameters(recurse=False):
            digest.update(str(tuple(p.shape)).encode())
            digest.update(p.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def shared_starts(runs: Sequence[RunRecord]) -> list[str]:
    """Per seed with several variants: which variants started from the same initial weights, and which could not."""
    by_seed: dict[int, list[RunRecord]] = {}
    for rec in runs:
        if rec.config is not None:
            by_seed.setdefault(rec.config.seed, []).append(rec)
    said: dict[str, list[int]] = {}  # the same sentence for several seeds is said once
    for seed, recs in sorted(by_seed.items()):
        if len(recs) < 2:
            continue
        groups: dict[str, list[str]] = {}
        for rec in sorted(recs, key=lambda r: r.id):
            try:
                key = _init_fingerprint(rec.config.to_json())
            except (ConfigError, ValueError, RuntimeError):
                key = f"#{rec.id}"
            groups.setdefault(key, []).append(variant_name(rec.name))
        shared = [g for g in groups.values() if len(g) > 1]
        alone = [g[0] for g in groups.values() if len(g) == 1]
        text = "; ".join(f"{', '.join(g)} started from the same initial weights" for g in shared)
        if alone:
            own = "its" if len(alone) == 1 else "their"
            text += ("; " if shared else "") + f"{', '.join(alone)} started from {own} own (another architecture)"
        said.setdefault(text, []).append(seed)
    return [f"{'Seed' if len(seeds) == 1 else 'Seeds'} {', '.join(map(str, seeds))}: {text}."
            for text, seeds in said.items()]


# ------------------------------------------------------------------ which settings matter
def settings_and_results(runs: Sequence[tuple[RunRecord, Sequence[dict]]]) -> tuple[list[str], list[dict]]:
    """The settings that differ across finished runs (never BOOKKEEPING: seed, eval_every, device) and one row
    per run: those settings, its seed (the noise floor), the final validation accuracy and the gap: what the
    parallel coordinates and the importance read."""
    done = [(rec, epochs) for rec, epochs in runs if rec.status == "finished" and rec.config is not None]
    varying = [k for k in differing_settings([rec.config for rec, _ in done]) if k not in BOOKKEEPING]
    rows = []
    for rec, epochs in done:
        r = _results(rec, epochs)
        metric = r["final val acc"] if r["final val acc"] is not None else r["test acc"]
        rows.append({"run": rec.id, **{k: rec.config.flat()[k] for k in varying}, "seed": rec.config.seed,
                     "metric": metric, "gap": r["gap (train-val)"]})
    return varying, rows


def importance_trust(runs: int, settings: int) -> str:
    """How far to trust an importance estimate from `runs` runs over `settings` settings, in words."""
    if runs < 3:
        return "not at all: fewer than 3 runs"
    per = runs / max(settings, 1)
    if per < 5:
        return f"little: {runs} runs for {counted(settings, 'setting')}; each share moves a lot with one more run"
    if per < 15:
        return f"somewhat: {runs} runs; large shares are real, small differences between them are not"
    return f"fairly: {runs} runs for {counted(settings, 'setting')}"
