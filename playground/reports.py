"""Run reports: metrics as CSV. (The test-prediction grid lives in inference.)"""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from .store import EPOCH_FIELDS


def metrics_csv(epoch_rows: Sequence[dict], step_rows: Sequence[dict]) -> str:
    """Epoch rows then step rows, one table with a `kind` column. An epoch row's `seconds`, `samples_per_s` and
    `l2` cover the epochs since the previous row: one epoch, or eval_every of them."""
    buf = io.StringIO()
    fields = ["kind", *EPOCH_FIELDS, "step", "loss", "lr"]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for r in epoch_rows:
        writer.writerow({"kind": "epoch", **r})
    for r in step_rows:
        writer.writerow({"kind": "step", **r})
    return buf.getvalue()
