"""Compare's sweep form: which settings matter, searched by Optuna over a recipe. The sweep runs in a
background thread of this process (playground.engine.sweep.start_sweep); its trials are ordinary runs,
tagged `· study N`, which Compare follows: each new trial joins the selection as it starts."""
from __future__ import annotations

import math

import streamlit as st

from playground.compare import applies, new_study, studies, study_run_name
from playground.config import RECIPES, ConfigError, recipe
from playground.data import known_spec, missing_offline
from playground.engine.sweep import (
    DEFAULT_RANGES,
    check_sweep,
    conclusion,
    parse_param,
    ranges_note,
    settings_text,
    start_sweep,
)
from ui.common import POLL_SECONDS, dataset_here, jobs, values_kept
from ui.estimate_view import how_long
from ui.state import COMPARE_IDS

GRID_POINTS = 3  # values per range in a grid search
SEARCHES = {"tpe": "sampled (Optuna's TPE: learns where good settings are)",
            "grid": f"grid ({GRID_POINTS} values per range, every combination)"}
class Key:
    """The form's widget keys, each spelled once: sweep_form() creates the widgets, _launch and _estimate read them."""
    RECIPE = "sweep_recipe"
    EPOCHS = "sweep_epochs"
    LIMIT = "sweep_limit"
    TRIALS = "sweep_trials"
    MINUTES = "sweep_minutes"
    PARAMS = "sweep_params"
    SEARCH = "sweep_search"
    PRUNE = "sweep_prune"

    @staticmethod
    def range(setting: str) -> str:
        """The range box of one searched setting."""
        return f"sweep_range_{setting}"


# Every widget key of the form, the range boxes of every setting it can search included
WIDGETS = tuple(v for k, v in vars(Key).items() if k.isupper()) + tuple(Key.range(n) for n in DEFAULT_RANGES)
FOLLOW, SWEEP_ERROR = "sweep_follow", "sweep_error"  # the study number Compare follows; the form's error
FOLLOWED_LAST = "sweep_followed_last"  # the study whose trials were added once more after its sweep ended


@st.cache_resource
def _threads() -> dict[int, object]:
    """Study number -> its sweep (a SweepHandle), for the whole app process (a sweep outlives the page that
    began it)."""
    return {}


def sweep_alive(study: int | None) -> bool:
    handle = _threads().get(study)
    return handle is not None and handle.alive()


def _stop() -> None:
    handle = _threads().get(st.session_state.get(FOLLOW))
    if handle is not None:
        handle.stop()


def _base():
    s = st.session_state
    return recipe(s[Key.RECIPE]).override(epochs=int(s[Key.EPOCHS]), limit=int(s[Key.LIMIT]))


def _launch() -> None:
    s = st.session_state
    s[SWEEP_ERROR] = None
    try:
        base = _base()
        params = [parse_param(f"{name}={s[Key.range(name)]}", base) for name in s[Key.PARAMS]]
        if params:
            check_sweep(base, params)  # refused here, not trial by trial in a thread nobody watches
    except ConfigError as exc:
        s[SWEEP_ERROR] = f"Cannot run this sweep: {exc}"
        return
    if not params:
        s[SWEEP_ERROR] = "Pick at least one setting to search."
        return
    if missing := dataset_here(base.data.dataset):
        s[SWEEP_ERROR] = f"Cannot run this sweep here: {missing}"
        return
    registry = jobs()
    # Handed out by the store (another session launching now gets another), past this session's sweeps whose
    # first trial is not stored yet.
    number = new_study(registry.store, at_least=max(_threads(), default=0) + 1)
    name = s[Key.RECIPE]
    _threads()[number] = start_sweep(
        registry, base, params, int(s[Key.TRIALS]), at_once=registry.max_concurrent, name=f"{name} sweep {number}",
        prune=bool(s[Key.PRUNE]), minutes=float(s[Key.MINUTES]) or None,
        grid=GRID_POINTS if s.get(Key.SEARCH) == "grid" else 0,
        run_name=lambda trial, values: study_run_name(name, f"trial {trial}: {settings_text(values)}", number))
    s[FOLLOW], s[COMPARE_IDS] = number, []


def _following() -> bool:
    s = st.session_state
    return s.get(FOLLOW) is not None and (sweep_alive(s[FOLLOW]) or s.get(FOLLOWED_LAST) != s[FOLLOW])


def follow(runs: list) -> None:
    """While the followed sweep runs, and once after it ends (its last trials may start and end between two
    polls), add its new trials to Compare's selection (before the page reads it)."""
    s = st.session_state
    if not _following():
        return
    if not sweep_alive(s.get(FOLLOW)):
        s[FOLLOWED_LAST] = s.get(FOLLOW)
    ids = studies(runs).get(s.get(FOLLOW), [])
    if ids:
        s[COMPARE_IDS] = sorted(set(s.get(COMPARE_IDS) or []) | set(ids))


def _has_new_trials(shown: list[int]) -> bool:
    """Whether the followed, running sweep started a trial that `shown` lacks (the page then redraws)."""
    s = st.session_state
    if not _following():
        return False
    ids = studies(jobs().store.list_runs()).get(s.get(FOLLOW), [])
    return bool(set(ids) - set(shown))


def sweep_form() -> None:
    """The form, drawn only while its panel is open: its values outlive a shut panel (values_kept)."""
    with values_kept(WIDGETS):
        _sweep_form()


def _sweep_form() -> None:
    s = st.session_state
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.selectbox("Base recipe", list(RECIPES), index=list(RECIPES).index("lenet"), key=Key.RECIPE)
    c2.number_input("Epochs", 1, 200, value=2, key=Key.EPOCHS)
    c3.number_input("First N samples (0 = all)", 0, 60000, value=6000, step=1000, key=Key.LIMIT)
    c4.number_input("Trials (runs)", 2, 100, value=8, key=Key.TRIALS)
    c5.number_input("Minutes (0 = no limit)", 0.0, 600.0, value=0.0, step=5.0, key=Key.MINUTES,
                    help="No new trial starts after this long; those training then finish.")
    base = recipe(s[Key.RECIPE])  # only settings that do something for it (momentum: with optimizer=sgd)
    offered = [n for n in DEFAULT_RANGES if applies(n, base) or n == "momentum"]
    st.multiselect("Settings to search", offered, default=["lr", "batch_size"], key=Key.PARAMS)
    cols = st.columns(3)
    for i, name in enumerate(s[Key.PARAMS]):
        cols[i % 3].text_input(f"{name}", value=DEFAULT_RANGES[name], key=Key.range(name),
                               help="low:high, low:high:log (a log scale), or choices a,b,c")
    st.caption(ranges_note())
    st.radio("Search", list(SEARCHES), format_func=SEARCHES.get, horizontal=True, key=Key.SEARCH)
    st.checkbox("Stop hopeless trials early (median pruner)", value=True, key=Key.PRUNE,
                help="After its first epochs, a trial whose validation accuracy is below the median of earlier "
                     "trials at the same epoch is stopped, so the budget goes to promising settings.")
    running = sweep_alive(s.get(FOLLOW))
    if not running:  # while one runs, Launch is off: an estimate would be of a sweep that cannot start
        _estimate()
    missing = missing_offline(base.data.dataset)
    if missing:  # said before Launch: Launch downloads it once, or says why it cannot (offline)
        st.warning(f"{missing} Launch downloads it first.", icon="📦")
    st.button("🎛 Launch sweep", type="primary", on_click=_launch, disabled=running)


def sweep_status() -> None:
    """A launched sweep's Stop, its error or its end, and the watcher that adds its trials to the comparison:
    drawn whether or not the form's panel is open (the watcher must run either way)."""
    s = st.session_state
    running = sweep_alive(s.get(FOLLOW))
    if running:  # one Stop for the whole sweep: its running trials stop and no other starts
        st.button("⏹ Stop sweep", on_click=_stop)
    if s.get(SWEEP_ERROR):
        st.error(s[SWEEP_ERROR])
    elif running:
        st.caption(f"Sweep (study {s[FOLLOW]}) running: its trials join the comparison below as they start; the "
                   "parallel coordinates and importances appear once three have finished.")
    else:
        _conclusion(_threads().get(s.get(FOLLOW)))
    if _following():  # the one watcher of a sweep: redraw the page when a trial starts (Compare's own poll
        st.fragment(_watch, run_every=POLL_SECONDS)()  # stops between trials, and before any run is selected)


def _trials() -> tuple[int, int | None]:
    """(the trials the form's sweep would train, its grid's combinations when a grid has fewer than asked)."""
    s = st.session_state
    asked = int(s[Key.TRIALS])
    if s.get(Key.SEARCH) != "grid" or not s[Key.PARAMS]:
        return asked, None
    base = _base()
    params = [parse_param(f"{name}={s[Key.range(name)]}", base) for name in s[Key.PARAMS]]
    combinations = math.prod(len(p.grid(GRID_POINTS)) for p in params)
    return min(asked, combinations), combinations if combinations < asked else None


def _estimate() -> None:
    """How long the sweep as set takes here: only the trials it would train, each at the base settings' speed."""
    s = st.session_state
    try:
        trials, combinations = _trials()
        took = how_long([_base()] * trials)
    except ConfigError:  # a range that does not parse: the Launch says why
        return
    if not took:
        return
    grid = f" (all the grid's {combinations})" if combinations is not None else ""
    pruned = "; the pruner may stop some sooner" if s[Key.PRUNE] and int(s[Key.EPOCHS]) > 1 else ""
    limit = f"; no new trial starts after {float(s[Key.MINUTES]):g} min" if s[Key.MINUTES] else ""
    st.caption(f"⏱ {trials} trials{grid}, {jobs().max_concurrent} at a time, each timed at the base settings: "
               f"{took}{pruned}{limit}.")


def _watch() -> None:
    if _has_new_trials(st.session_state.get(COMPARE_IDS) or []):
        st.rerun()


def _conclusion(handle) -> None:
    """A finished sweep's verdict: what won and by how much over the median trial, and what each trial that
    failed, was pruned, diverged, stopped or did not learn hit."""
    if handle is None:
        return
    if handle.error:
        st.error(f"The sweep stopped: {handle.error}")
        return
    base = handle.base
    metric = "validation accuracy" if base.data.val_fraction > 0 else "test accuracy"
    data = known_spec(base.data.dataset)  # None: its own data deleted since; no chance level to flag against
    lines, flagged = conclusion(handle.results, metric, 1 / len(data.classes) if data else None)
    (st.success if any(r.state == "complete" for r in handle.results) else st.error)(" ".join(lines), icon="🏁")
    if flagged:
        st.warning("\n".join(f"- {line}" for line in flagged), icon="⚠️")
