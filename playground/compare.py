"""Comparing runs: the table of differing settings and results, and regularization-study variants."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .config import RunConfig, is_recurrent
from .store import RunRecord

# Settings that never explain a difference between runs.
IGNORED = {"device"}
RESULTS = ("final val acc", "best val acc", "best epoch", "gap (train-val)", "test acc", "final train acc", "epochs")


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
        "epochs": len(epochs),
    }


def comparison_table(runs: Sequence[tuple[RunRecord, Sequence[dict]]]) -> list[dict[str, Any]]:
    """One row per run: its results first, then the settings that differ (None where one does not apply)."""
    differing = differing_settings([rec.config for rec, _ in runs])
    table = []
    for rec, epochs in runs:
        flat = rec.config.flat()
        row: dict[str, Any] = {"run": f"#{rec.id} {rec.name}", "status": str(rec.status)}
        row.update(_results(rec, epochs))
        row.update({k: flat[k] if applies(k, rec.config) else None for k in differing})
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


def study_variants(base: RunConfig, choice: StudyChoice) -> list[tuple[str, RunConfig]]:
    """(name, config) per ticked variant; every variant keeps the base's seed and data."""
    plain = base.override(l2=0.0, dropout=0.0, batchnorm=False)
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
    if choice.wider:
        if is_recurrent(base):
            out.append((f"wider (hidden {base.model.hidden * 2})", plain.override(hidden=base.model.hidden * 2)))
        else:
            out.append((f"wider (width {base.model.width * 2})", plain.override(width=base.model.width * 2)))
    return out
