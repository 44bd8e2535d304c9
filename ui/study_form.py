"""The regularization-study form: one base recipe, ticked variants, one or several seeds, launched together.

Each launch is tagged `· study N` in its runs' names (Compare's "select this study's runs"). Launching
runs that already exist (same recipe, variants, seeds, epochs: the same configs) asks first."""
from __future__ import annotations

import streamlit as st

from playground.compare import StudyChoice, already_run, new_study, study_plan, study_run_name
from playground.config import RECIPES, ConfigError, RunConfig
from playground.data import missing_offline
from playground.engine.study import (
    STUDY_DROPOUT,
    STUDY_EPOCHS,
    STUDY_L2,
    STUDY_LIMIT,
    STUDY_LR,
    STUDY_PATIENCE,
    STUDY_VAL_FRACTION,
    submit_all,
)
from playground.errors import PlaygroundError
from playground.estimate import split
from playground.measured import MEASURED, STUDY_EVAL, STUDY_WALL, runs
from ui.common import dataset_here, jobs, values_kept
from ui.estimate_view import how_long
from ui.measured_view import LINK
from ui.state import COMPARE_IDS

STUDY_ERROR, REPEAT = "study_error", "study_repeat"


class Key:
    """The form's widget keys, each spelled once: study_form() creates the widgets, _plan reads them."""
    RECIPE = "study_recipe"
    EPOCHS = "study_epochs"
    SEEDS = "study_seeds"
    SEED = "study_seed"
    LIMIT = "study_limit"
    LR = "study_lr"
    VAL = "study_val"
    BASE = "study_base"
    USE_L2 = "study_use_l2"
    L2 = "study_l2"
    USE_P = "study_use_p"
    P = "study_p"
    BN = "study_bn"
    WIDE = "study_wide"
    AUG = "study_aug"
    ES = "study_es"
    PATIENCE = "study_patience"
    SIZES = "study_sizes"
    NOISES = "study_noises"


WIDGETS = tuple(v for k, v in vars(Key).items() if k.isupper())  # every widget key of the form


SIZES = (300, 750, 1500, 3000, 6000, 12000)  # the data-size axis's choices (first N samples)
NOISES = (0.0, 0.1, 0.2, 0.5)  # ... and the label-noise axis's


def _epochs_note(these: bool = True) -> str:
    """What the defaults showed over seeds, formatted from the measured table (playground/measured.py)."""
    got, held = runs("study"), round(STUDY_LIMIT * STUDY_VAL_FRACTION)
    every = max(got["l2"].gap.high, got["dropout"].gap.high) < got["none"].gap.low
    defaults = ("these defaults" if these else
                f"the defaults, the first {STUDY_LIMIT:,} samples with {STUDY_VAL_FRACTION:.0%} held out")
    return (f"Measured here over {MEASURED['study'].seeds} seeds with {defaults} ({LINK}): the plain CNN ends "
            f"at {got['none'].train.pct} on its {STUDY_LIMIT - held:,} training images and {got['none'].val.pct} "
            f"on the {held:,} held out, a generalization gap of {got['none'].gap.pts} (mean "
            f"{got['none'].gap.mean_pts}); L2 λ {STUDY_L2:g} cuts it to {got['l2'].gap.pts} and dropout "
            f"{STUDY_DROPOUT:g} to {got['dropout'].gap.pts}"
            + (", below the plain run's in every seed" if every else "") + ". A single run can land outside "
            "these ranges (dropout runs most: runs training at once share one random stream for their masks). "
            "Fewer epochs show less: the gap opens as training accuracy nears 100%. On a 2-core CPU the default "
            f"study of 3 runs, two at a time, took {STUDY_WALL[1]:.0f} s; minutes more on a busy machine.")


EPOCHS_NOTE, AT_DEFAULTS = _epochs_note(), _epochs_note(these=False)


def epochs_note(recipe_name: str, limit: int = STUDY_LIMIT, val: float = STUDY_VAL_FRACTION,
                sizes: tuple[int, ...] = ()) -> str:
    """What the form says about epochs for this base recipe: the CNN measurements only for a CNN recipe, and
    the images the form's own N and held-out share train on where they are not the measured defaults."""
    cfg = RECIPES[recipe_name]
    if cfg.model.arch == "cnn":
        if not sizes and (limit, val) == (STUDY_LIMIT, STUDY_VAL_FRACTION):
            return EPOCHS_NOTE
        cuts = [split(cfg.override(limit=n, val_fraction=val)) for n in (sizes or (limit,))]
        return (f"These settings train on {' / '.join(f'{c[0]:,}' for c in cuts)} images and hold out "
                f"{' / '.join(f'{c[1]:,}' for c in cuts)}. " + AT_DEFAULTS)
    return (f"No overfitting timings were measured for {recipe_name} ({cfg.model.arch} on {cfg.data.dataset}): "
            "launch a short study first (a few epochs) to see how long one run takes here, then raise Epochs "
            "until train and validation accuracy part (the generalization gap chart).")


def _plan() -> tuple[str, list[tuple[str, RunConfig]]]:
    s = st.session_state
    base = RECIPES[s[Key.RECIPE]].override(epochs=int(s[Key.EPOCHS]), seed=int(s[Key.SEED]),
                                           limit=int(s[Key.LIMIT]), val_fraction=float(s[Key.VAL]),
                                           lr=float(s[Key.LR]))
    choice = StudyChoice(baseline=s[Key.BASE], l2=s[Key.L2] if s[Key.USE_L2] else None,
                         dropout=s[Key.P] if s[Key.USE_P] else None,
                         batchnorm=s[Key.BN], wider=s[Key.WIDE], augment=s.get(Key.AUG, False),
                         early_stopping=int(s[Key.PATIENCE]) if s.get(Key.ES) else None,
                         sizes=tuple(sorted(s.get(Key.SIZES) or ())),
                         noises=tuple(sorted(s.get(Key.NOISES) or ())))
    return s[Key.RECIPE], study_plan(base, choice, int(s[Key.SEEDS]))


def _submit(recipe: str, plan: list[tuple[str, RunConfig]]) -> None:
    s = st.session_state
    registry = jobs()
    study = new_study(registry.store)  # handed out by the store: another session launching now gets another
    try:  # the longest runs first; same-shape runs batched on a GPU (study.submit_all)
        names = [study_run_name(recipe, label, study) for label, _ in plan]
        ids = submit_all(registry, [cfg for _, cfg in plan], names)
    except PlaygroundError as exc:  # ConfigError included: nothing half-launched stays queued
        s[STUDY_ERROR] = f"Cannot run this study: {exc}"
        return
    s[COMPARE_IDS] = ids  # show the study's runs in the comparison right away (and in the URL)


def _launch(again: bool = False, only_new: bool = False) -> None:
    s = st.session_state
    s[STUDY_ERROR], s[REPEAT] = None, None
    if missing := dataset_here(RECIPES[s[Key.RECIPE]].data.dataset):  # its other buttons (_ask_again) call this too
        s[STUDY_ERROR] = f"Cannot run this study here: {missing}"
        return
    try:
        recipe, plan = _plan()
    except ConfigError as exc:
        s[STUDY_ERROR] = f"Cannot run this study: {exc}"
        return
    if not plan:
        s[STUDY_ERROR] = "Tick at least one variant."
        return
    existing = already_run([cfg for _, cfg in plan], jobs().store.list_runs())
    if only_new:
        done = {r.config.to_json() for r in existing}
        plan = [(label, cfg) for label, cfg in plan if cfg.to_json() not in done]
    elif existing and not again:
        s[REPEAT] = ([r.id for r in existing], len(plan))
        return
    if plan:
        _submit(recipe, plan)


def _show_existing() -> None:
    s = st.session_state
    ids, _ = s.get(REPEAT) or ([], 0)
    s[COMPARE_IDS], s[REPEAT] = list(ids), None


def _ask_again() -> None:
    ids, planned = st.session_state[REPEAT]
    runs = ", ".join(f"#{i}" for i in sorted(ids))
    whole = len(ids) >= planned
    store = jobs().store
    dropout = any(rec.config is not None and rec.config.reg.dropout > 0 for rec in map(store.get_run, ids) if rec)
    st.warning(f"{'These' if whole else f'{len(ids)} of these'} {len(ids) if whole else planned} runs already exist "
               f"({runs}) with the same settings and seeds: launch again?"
               + (" The dropout runs will not repeat their numbers exactly: runs training at the same time draw "
                  "their dropout masks from one shared random stream." if dropout else ""), icon="🔁")
    c = st.columns(3)
    c[0].button("Launch again anyway", on_click=_launch, kwargs={"again": True}, width="stretch")
    if not whole:
        c[1].button(f"Launch only the {planned - len(ids)} new", on_click=_launch, kwargs={"only_new": True},
                    width="stretch")
    c[2].button("Show the existing runs", on_click=_show_existing, width="stretch")


def _on_recipe() -> None:
    """A new base recipe: its own learning rate, except a CNN's, which the study raises (see STUDY_LR)."""
    s = st.session_state
    cfg = RECIPES[s[Key.RECIPE]]
    s[Key.LR] = STUDY_LR if cfg.model.arch == "cnn" else cfg.optim.lr


def _estimate() -> None:
    """How long the study as set takes here, from this machine's measured speed."""
    try:
        _, plan = _plan()
    except ConfigError:
        return
    took = how_long([cfg for _, cfg in plan]) if plan else None
    if took:
        st.caption(f"⏱ {len(plan)} runs, {jobs().max_concurrent} at a time: {took}.{_evaluated(plan)}"
                   + (ONE_SEED if int(st.session_state[Key.SEEDS]) == 1 else ""))


ONE_SEED = (" With one seed the study has no spread: it shows each variant's gap and accuracy, but cannot tell "
            "an effect from seed noise. Seeds 3 triples the runs and gives each variant a min–max band.")


def _evaluated(plan: list[tuple[str, RunConfig]]) -> str:
    """Which epochs get a point on the curves, when a study thins them (estimate.eval_every_for)."""
    every = sorted({cfg.optim.eval_every for _, cfg in plan})
    if every == [1]:
        return ""
    def ordinal(k: int) -> str:
        return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"

    when = " or ".join("every epoch" if k == 1 else f"every {ordinal(k)} epoch" for k in every)
    _, evaluating, training = STUDY_EVAL
    return (f" Curves get a point after epoch 1, {when} and the last: on a few hundred images, measuring "
            f"validation and training accuracy after every epoch took {evaluating / training:.0%} as long as the "
            f"training itself ({LINK}). Training is the same either way.")


def study_form() -> None:
    """The form, drawn only while its panel is open: its values outlive a shut panel (values_kept)."""
    with values_kept(WIDGETS):
        _study_form()


def _study_form() -> None:
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.selectbox("Base recipe", list(RECIPES), index=list(RECIPES).index("cnn"), key=Key.RECIPE,
                 on_change=_on_recipe)
    c2.number_input("Epochs", 1, 200, value=STUDY_EPOCHS, key=Key.EPOCHS)
    c3.number_input("Seeds", 1, 10, value=1, key=Key.SEEDS,
                    help="Train each variant with this many seeds: Compare then draws each variant's mean "
                         "with its min–max band, and flags differences smaller than the seeds' spread.")
    c4.number_input("First seed", 0, 2**31 - 1, value=0, key=Key.SEED,
                    help="Variants of one seed start from the same initial weights where their architecture "
                         "is the same; Compare says which did.")
    c5.number_input("First N samples (0 = all)", 0, 60000, value=STUDY_LIMIT, step=500, key=Key.LIMIT,
                    disabled=bool(st.session_state.get(Key.SIZES)),
                    help="Greyed out while training-set sizes below are ticked: each size replaces it.")
    c1, c2, _ = st.columns([1, 1, 3])
    st.session_state.setdefault(Key.LR, STUDY_LR)
    c1.number_input("Learning rate", 1e-5, 1.0, format="%.4f", step=0.005, key=Key.LR,
                    help="For every variant. A CNN's recipe has 0.01, too slow to overfit in a CPU study; other "
                         "recipes start at their own.")
    c2.slider("Held out for validation", 0.1, 0.5, value=STUDY_VAL_FRACTION, step=0.05, key=Key.VAL,
              help="A share of the N samples; hundreds of validation images keep the gap out of their noise.")
    s = st.session_state
    st.caption(epochs_note(s[Key.RECIPE], int(s[Key.LIMIT]), float(s[Key.VAL]), tuple(sorted(s.get(Key.SIZES) or ()))))
    row = st.container(horizontal=True)  # wraps in a narrow window, where five columns cut their labels
    c = [row.container(width=170) for _ in range(7)]
    c[0].checkbox("No regularization", value=True, key=Key.BASE)
    c[1].checkbox("L2 penalty", value=True, key=Key.USE_L2)
    c[1].number_input("λ", 0.0, 1.0, value=STUDY_L2, format="%.4f", step=0.005, key=Key.L2)
    c[2].checkbox("Dropout", value=True, key=Key.USE_P)
    c[2].slider("p", 0.05, 0.8, value=STUDY_DROPOUT, step=0.05, key=Key.P)
    c[3].checkbox("Batch-norm (CNNs)", key=Key.BN)
    c[4].checkbox("Wider (×2)", key=Key.WIDE)
    c[5].checkbox("Augmented data", key=Key.AUG,
                  help="The plain model trained on randomly shifted images (MNIST: turned; CIFAR: flipped too).")
    c[6].checkbox("Early stopping", key=Key.ES,
                  help="The plain model, stopped after this many evaluations without a gain in validation accuracy "
                       "and tested on its best evaluated epoch's weights. A study evaluates every few epochs (the "
                       "note below the form), so this counts evaluations, not epochs.")
    c[6].number_input("patience", 1, 1000, value=STUDY_PATIENCE, step=1, key=Key.PATIENCE)
    d1, d2 = st.columns(2)
    d1.multiselect("The data as an axis: training-set sizes", SIZES, key=Key.SIZES,
                   format_func=lambda n: f"first {n:,} samples",
                   help="Each ticked variant at each size, instead of the N above (the held-out share and the "
                        "test set are cut from the same N). More data or more regularization: tick both.")
    d2.multiselect("…and label noise", NOISES, key=Key.NOISES, format_func=lambda q: f"{q:.0%} of labels random",
                   help="Each ticked variant at each share of training labels replaced by a random class (the same "
                        "images for every seed; validation and test labels stay true).")
    _estimate()
    missing = missing_offline(RECIPES[st.session_state[Key.RECIPE]].data.dataset)
    if missing:  # said before Launch: Launch downloads it once, or says why it cannot (offline)
        st.warning(f"{missing} Launch downloads it first.", icon="📦")
    st.button("🚀 Launch study", type="primary", on_click=_launch)
    if st.session_state.get(REPEAT):
        _ask_again()
    if st.session_state.get(STUDY_ERROR):
        st.error(st.session_state[STUDY_ERROR])
