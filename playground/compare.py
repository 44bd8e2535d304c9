"""Comparing runs: the table of differing settings and results, and regularization-study variants."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .config import RunConfig, is_recurrent
from .store import RunRecord

# Settings that never explain a difference between runs.
IGNORED = {"device"}


def best_epoch(epoch_rows: Sequence[dict]) -> dict | None:
    scored = [r for r in epoch_rows if r.get("val_acc") is not None]
    return max(scored, key=lambda r: r["val_acc"]) if scored else None


def comparison_table(runs: Sequence[tuple[RunRecord, Sequence[dict]]]) -> list[dict[str, Any]]:
    """One row per run: the settings that differ between the runs, then final and best numbers."""
    flats = [rec.config.flat() for rec, _ in runs]
    differing = [k for k in flats[0] if k not in IGNORED and len({repr(f[k]) for f in flats}) > 1] if flats else []
    table = []
    for (rec, epochs), flat in zip(runs, flats):
        last = epochs[-1] if epochs else {}
        best = best_epoch(epochs)
        row: dict[str, Any] = {"run": f"#{rec.id} {rec.name}", "status": rec.status}
        row.update({k: flat[k] for k in differing})
        row.update({
            "epochs": len(epochs),
            "final train acc": last.get("train_acc"),
            "final val acc": last.get("val_acc"),
            "best val acc": best["val_acc"] if best else None,
            "best epoch": best["epoch"] if best else None,
            "gap (train-val)": (last["train_acc"] - last["val_acc"]) if last.get("val_acc") is not None else None,
            "test acc": rec.result.get("test_acc"),
            "params": rec.params,
            "seconds": round(rec.result.get("train_seconds") or 0.0, 1) or None,
        })
        table.append(row)
    return table


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
