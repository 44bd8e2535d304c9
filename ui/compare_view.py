"""Compare's live body: status chips counted at each poll, curves per variant (mean and band over
seeds), the gap, the tables, and which runs started from the same weights."""
from __future__ import annotations

import streamlit as st

from playground.compare import (
    TRIAL_TAG,
    Difference,
    Effect,
    comparison_table,
    differences_to_first,
    effects,
    group_variants,
    importance_trust,
    noise_metric,
    one_seed_noise,
    one_study,
    settings_and_results,
    shared_starts,
    status_counts,
    variant_series,
    variant_table,
)
from playground.data import SPECS, known_spec
from playground.engine.metrics import NO_STEP_ROWS, Snapshot
from playground.engine.sweep import setting_shares
from playground.errors import RunStatus
from ui.common import POLL_SECONDS, STATUS_ICON, jobs, open_panel
from ui.figures import charts
from ui.why_views import where_they_differ

PERCENT = ("final train acc", "final val acc", "best val acc", "gap (train-val)", "test acc")
# Beside a variant's name, its difference and seeds, three mean ± spread columns fill Compare at 1,280 px with the
# sidebar open: the per-run-only columns went off its right edge, and long headers widened the rest.
PER_RUN_ONLY = ("best val acc", "final train acc")
SHORT = {"final val acc": ("val acc", "Final validation accuracy: the seeds' mean ± half their range."),
         "gap (train-val)": ("gap", "Generalization gap, final train minus validation accuracy: mean ± half the "
                                    "seeds' range.")}


def text_px(text: str) -> int:
    """A column wide enough for `text`: ~7.5 px a character at the table's font, and its padding."""
    return round(7.5 * len(text) + 16)


def variant_view(table: list[dict]) -> tuple[list[dict], dict]:
    """The variant table as shown (short headers, no per-run-only columns) and its widths: each mean ± spread
    column as wide as its longest text (a column sized to its header cut "69.0% ± 3.2%" to "69.0% ± 3.") or its
    header and sort arrow, the seeds narrow."""
    rows = [{SHORT.get(k, (k,))[0]: v for k, v in row.items() if k not in PER_RUN_ONLY} for row in table]
    config = {"seeds": st.column_config.TextColumn(width="small")}
    for key in PERCENT:
        name, explained = SHORT.get(key, (key, None))
        if rows and name in rows[0]:
            width = max([text_px(name) + 16, *(text_px(str(r[name])) for r in rows)])
            config[name] = st.column_config.TextColumn(width=width, help=explained)
    return rows, config
STATUS_WORD = {RunStatus.RUNNING: "training"}


def header_px(name: str) -> int:
    """A column wide enough for its whole header (~8 px a character and the sort arrow's room): Streamlit sizes
    a column by its values, and a header wider than them was cut ("last meas…", "test a…")."""
    return 8 * len(name) + 32


def run_columns(rows: list[dict]) -> dict:
    """The runs table's columns: each as wide as its header, results as percents, the link to the run's page."""
    config = {}
    for name in rows[0] if rows else ():
        if name == "details":
            config[name] = st.column_config.LinkColumn(display_text="Train ↗", width="small",
                                                       help="The run's page: its curves, report and mistakes")
        elif name in PERCENT:
            config[name] = st.column_config.NumberColumn(format="percent", width=header_px(name))
        elif name != "run":
            config[name] = st.column_config.Column(width=header_px(name))
    return config
METRIC_WORDS = {"test acc": "test accuracy", "final val acc": "final validation accuracy",
                "gap (train-val)": "gap (train − val)"}


def difference_text(d: Difference) -> str:
    """`+2.0% · noise (seeds spread 4.0%)`, or `+6.0%` when the seeds spread less (or no spread is known)."""
    return f"{d.change:+.1%}" + (f" · noise (seeds spread {d.spread:.1%})" if d.noise else "")


def with_differences(table: list[dict], variants) -> list[dict]:
    """The variant table with each variant's difference to the first beside its name, where the eye lands
    (a last column is off-screen at 1,400 px)."""
    metric = noise_metric([run for v in variants for run in v.runs])
    if not metric or len(variants) < 2:
        return table
    diffs = differences_to_first(variants, metric)
    if all(d is None for d in diffs[1:]):
        return table
    column = f"{metric} vs first"
    said = ["reference"] + [difference_text(d) if d else "–" for d in diffs[1:]]
    return [{"variant": row["variant"], column: text, **{k: v for k, v in row.items() if k != "variant"}}
            for row, text in zip(table, said, strict=True)]


def _judged(d: Difference, points: bool) -> str:
    if d.noise is None:
        return ""
    spread = f"{d.spread * 100:.1f} points" if points else f"{d.spread:.1%}"
    return f", within the seeds' spread ({spread}): noise" if d.noise else f", beyond the seeds' spread ({spread})"


def effect_line(e: Effect) -> str:
    """`L2 vs none: gap 15.6 → 4.1 points, beyond the seeds' spread (2.8 points); test accuracy 83.0% → 83.5%,
    within the seeds' spread (2.5%): noise.`, or, with one seed each, that nothing tells an effect from noise."""
    parts = []
    if e.gap is not None:
        parts.append(f"gap {round(e.gap.reference * 100, 1) + 0:.1f} → {round(e.gap.value * 100, 1) + 0:.1f} points"
                     f"{_judged(e.gap, True)}")  # + 0: a gap of -0.0004 reads "0.0", not "-0.0"
    if e.result is not None:
        parts.append(f"{METRIC_WORDS.get(e.result.metric, e.result.metric)} {e.result.reference:.1%} → "
                     f"{e.result.value:.1%}{_judged(e.result, False)}")
    unjudged = all(d is None or d.noise is None for d in (e.gap, e.result))
    return (f"**{e.variant}** vs {e.reference}: {'; '.join(parts)}."
            + (" One seed each: no spread, so this cannot tell an effect from seed noise." if unjudged else ""))


def live_snapshots(run_ids: list[int]) -> dict[int, Snapshot]:
    """The snapshots of the runs this process trains or trained, without step rows (read once per poll)."""
    registry = jobs()
    snaps = {run_id: registry.snapshot(run_id, steps_from=NO_STEP_ROWS) for run_id in run_ids}
    return {run_id: snap for run_id, snap in snaps.items() if snap is not None}


def statuses(run_ids: list[int], live: dict[int, Snapshot] | None = None) -> dict[int, RunStatus]:
    """Each run's status now: the live snapshot when this process trains it, else the store's row."""
    live = live_snapshots(run_ids) if live is None else live
    store = jobs().store
    out = {}
    for run_id in run_ids:
        if run_id in live:
            out[run_id] = RunStatus(live[run_id].status)
        elif (rec := store.get_run(run_id)) is not None:
            out[run_id] = RunStatus(rec.status)
    return out


def chips(counts: dict[RunStatus, int]) -> str:
    return " · ".join(f"{STATUS_ICON[s]} {n} {STATUS_WORD.get(s, str(s))}" for s, n in counts.items())


def _where(live: dict[int, Snapshot]) -> str:
    """Which epoch each training run is in (this process's runs): curves move only at evaluated epochs."""
    parts = [f"#{run_id} epoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs}" for run_id, snap in live.items()
             if snap.status == RunStatus.RUNNING and snap.total_steps]
    return f" ({', '.join(parts)})" if parts else ""


def _with_links(rows: list[dict], run_ids: list[int]) -> list[dict]:
    """Each row with a link to its run's Train page, next to its name."""
    return [{"run": row["run"], "details": f"/train?run={run_id}", **row} for row, run_id in zip(rows, run_ids,
                                                                                                 strict=True)]


def show_comparison(run_ids: list[int]) -> None:
    """The comparison, polling every second while any of these runs is queued or training."""
    now = statuses(run_ids)
    live = any(s.active for s in now.values())
    st.fragment(_body, run_every=POLL_SECONDS if live else None)(run_ids, now)


def _body(run_ids: list[int], drawn: dict[int, RunStatus]) -> None:
    store = jobs().store
    live = live_snapshots(run_ids)
    now = statuses(run_ids, live)
    if now != drawn:
        st.rerun()  # a run started, ended or vanished: redraw the page (labels, pickers), not only this part
    pairs = [(rec, store.epochs(rec.id)) for rec in (store.get_run(i) for i in run_ids) if rec is not None]
    counts = status_counts(now.values())
    polling = any(s.active for s in now.values())
    st.caption(chips(counts) + _where(live) + (" — the charts update every second." if polling else ""))
    if not any(epochs for _, epochs in pairs):
        st.info("No finished epochs yet; curves appear after each run's first epoch.")
    variants = group_variants(pairs)
    series = variant_series(variants)
    st.plotly_chart(charts.variant_curves(series), width="stretch", config=charts.STATIC)
    if any(s["curves"]["gap"][0] for s in series):
        st.plotly_chart(charts.variant_gap(series), width="stretch", config=charts.STATIC)
    elif any(epochs for _, epochs in pairs):
        st.caption("No generalization gap to show: these runs hold out no validation set "
                   "(validation fraction 0).")
    per_run = _with_links(comparison_table(pairs), [rec.id for rec, _ in pairs])
    percent = run_columns(per_run)
    if any(len(v.runs) > 1 for v in variants):
        st.caption("Variants trained with several seeds: each line is their mean, the band their min–max; "
                   "the table gives mean ± half the range.")
        shown, widths = variant_view(with_differences(variant_table(variants), variants))
        st.dataframe(shown, hide_index=True, width="stretch", placeholder="–", column_config=widths)
        with st.expander("Each run"):
            st.dataframe(per_run, hide_index=True, width="stretch", placeholder="–", column_config=percent)
    else:
        st.dataframe(per_run, hide_index=True, width="stretch", placeholder="–", column_config=percent)
        if (len(variants) > 1 and one_study([rec for rec, _ in pairs]) is not None  # a study's variants only,
                and not any(TRIAL_TAG.search(rec.name or "") for rec, _ in pairs)):  # not a sweep's trials
            st.caption("One seed per variant: there is no spread, so no difference here can be told from seed "
                       "noise. Launch the study with Seeds ≥ 2 to see how far seeds alone move the result.")
    if not polling:  # a verdict on finished runs only: a live epoch's numbers move at every poll
        _did_it_help(variants)
    for name, reference, d in one_seed_noise(variants):
        st.warning(f"{name} vs {reference}: {d.change:+.1%} {d.metric}, less than the "
                   f"{d.spread:.1%} that seeds alone spread: noise.", icon="🎲")
    for sentence in shared_starts([rec for rec, _ in pairs]):
        st.caption(sentence)
    _which_settings_matter(pairs)
    finished = [rec for rec, _ in pairs if rec.status == RunStatus.FINISHED and rec.checkpoint]
    if (len(pairs) == 2 and len(finished) == 2 and len({r.config.data.dataset for r in finished}) == 1
            and known_spec(finished[0].config.data.dataset) is not None):  # its test images are here
        differ = open_panel(f"🔍 Where #{finished[0].id} and #{finished[1].id} differ: test images one gets right",
                            "panel-differ")
        if differ.open:  # built only while open: two models over the test set, image grids (issue 36)
            with differ:
                where_they_differ(*finished, SPECS[finished[0].config.data.dataset].classes)


def _did_it_help(variants) -> None:
    """One line per variant against the first, on the gap and on the result: helped, or noise?"""
    done = effects(variants)
    if done:
        st.markdown("**Helped, or noise?** Each variant against the first:  \n"
                    + "  \n".join(effect_line(e) for e in done))


def _which_settings_matter(pairs) -> None:
    """Parallel coordinates over the finished runs' differing settings, and each setting's importance."""
    settings, rows = settings_and_results(pairs)
    if len(rows) < 3 or not settings:
        return
    panel = open_panel(f"🧭 Which settings matter: {len(rows)} finished runs over {', '.join(settings)}",
                       "panel-settings-matter")
    if not panel.open:  # built only while open: two charts over every run (issue 36)
        return
    with panel:
        st.plotly_chart(charts.parallel_settings(rows, settings), width="stretch", key="parallel-settings",
                        config=charts.STATIC)
        st.caption("One line per run, from its settings to its final validation accuracy (test accuracy without "
                   "a validation set) and its generalization gap; drag along an axis to pick runs.")
        st.plotly_chart(charts.setting_scatters(rows, settings), width="stretch", key="setting-scatters",
                        config=charts.STATIC)
        st.caption("The same result against each setting alone: a trend here is that setting's own effect only "
                   "when the other settings did not move with it.")
        shares, floor = setting_shares(rows, settings)
        if shares:
            st.plotly_chart(charts.importance_bars(shares, floor=floor), width="stretch", key="importance",
                            config=charts.STATIC)
            noise = (f"The dashed line is the seed's own share ({floor:.0%}): what noise alone earns here; a grey "
                     "bar does not beat it." if floor is not None else
                     "These runs share one seed, so there is no noise floor to beat: a small share may be noise "
                     "(runs over several seeds draw one).")
            st.caption("Each setting's share of the variance in the result across these runs (Optuna's importance "
                       f"evaluator). {noise} Trust it {importance_trust(len(rows), len(settings))}. It says what "
                       "moved the result *within these ranges*, not what would matter elsewhere.")
