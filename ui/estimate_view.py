"""Time estimates on the pages (Train's form, the study form, lessons, try-next links): playground.estimate
with this store's runs, and a probe measured once per model shape and cached, so a page stays quick."""
from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from playground.config import ConfigError, RunConfig, validate
from ui.common import jobs


@st.cache_data(show_spinner="Measuring this machine's speed…", ttl=600, max_entries=64)
def _probe(shape_json: str, threads: int, device: str, copies: int) -> tuple[float, str, float]:
    from playground import estimate

    rate = estimate.probe_rate(RunConfig.from_json(shape_json), threads=threads, device=device, copies=copies)
    return rate.seconds_per_unit, rate.source, rate.eval_cost  # all of the Rate: its measured eval cost too


def _device(cfg: RunConfig) -> str:
    import torch

    return "cuda" if cfg.device != "cpu" and torch.cuda.is_available() else "cpu"


def _ahead(registry, configs: Sequence[RunConfig]) -> list[tuple[RunConfig, float]]:
    """(config, share done) of each run this server is training or has queued, but those with the settings
    estimated (a lesson's or study's own runs, once launched, are these runs: they wait for nothing)."""
    mine = [cfg.to_json() for cfg in configs]
    out = []
    for run_id in registry.active():
        snap, rec = registry.view(run_id), registry.store.get_run(run_id)
        if snap is None or rec is None or rec.config is None:
            continue
        if rec.config.to_json() in mine:
            mine.remove(rec.config.to_json())
        else:
            out.append((rec.config, snap.fraction))
    return out


def how_long(configs: Sequence[RunConfig], at_once: int | None = None, runs: Sequence | None = None,
             busy: bool = True) -> str | None:
    """"about 3 min here (speed from run #4 on this machine)", or None for settings that cannot run; `busy`:
    with the busy-machine note where it applies (a link's label leaves it to one caption above its links)."""
    from playground import estimate

    registry = jobs()
    try:
        for cfg in configs:
            validate(cfg)
            estimate.TRAIN_SIZE[cfg.data.dataset]  # KeyError: own data not in this home (deleted; a link)
    except (ConfigError, KeyError):
        return None
    runs = registry.store.list_runs() if runs is None else runs
    threads = registry.threads_per_run or 1

    def probe(cfg: RunConfig, copies: int) -> estimate.Rate:
        return estimate.Rate(*_probe(estimate.probe_shape(cfg).to_json(), threads, _device(cfg), copies))

    ahead = _ahead(registry, configs)  # runs training or queued now: new runs wait for their slots
    slots = registry.max_concurrent if ahead else (at_once or registry.max_concurrent)
    got = estimate.estimate(list(configs), runs, slots, _device(configs[0]) if configs else "cpu", probe=probe,
                            ahead=ahead, loaded=estimate.dataset_loaded)  # the runs train in this process
    text = got.text()
    if text and any(cfg.optim.patience for cfg in configs):  # the estimate counts every epoch
        text += "; less if early stopping ends it sooner"
    if text and ahead:
        text += f"; this counts waiting for the {len(ahead)} run{'s' if len(ahead) > 1 else ''} training or queued now"
    note = estimate.busy_note() if busy else None
    if text and note:
        text += f"; {note}"
    return text
