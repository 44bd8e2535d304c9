"""The Train sidebar: widgets <-> RunConfig <-> the URL, and the Train button's submit.

The form lives in the URL (`?recipe=lstm64&hidden=32`, see playground.links): a reload or a new
tab shows the same settings, and a link from elsewhere (Learn's "try next") fills the form. The
URL is read only when the page is arrived at (ui.navigation.arrived: a reload, a link, Back); a bad
link is a message. The page writes the URL (pages/train.py, with `form_params`).

Number boxes have no bounds of their own: a value out of a widget's range stays red in the browser
and never reaches the server, so Train would start with the last accepted value, a config the user
did not see (issue 13). Every typed value reaches the config instead: the form says at once, under the
settings, why Train will refuse it (`validate`'s reason), and Train refuses it.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from playground.config import (
    ACTIVATIONS,
    ARCHITECTURES,
    DEVICES,
    FLAT_FIELDS,
    FRACTIONS,
    NORMALIZATIONS,
    OPTIMIZERS,
    RECIPES,
    RECURRENT,
    SCHEDULES,
    RunConfig,
    validate,
)
from playground.data import SPECS
from playground.engine.schedules import SCHEDULE_HELP
from playground.engine.study import STUDY_PATIENCE
from playground.errors import PlaygroundError
from playground.links import PAGE_KEYS, RECIPE_KEY, config_from_params, config_params
from ui.augment_view import batch_preview
from ui.common import jobs, open_panel, plain
from ui.estimate_view import how_long
from ui.lr_finder_view import lr_finder, lr_result
from ui.navigation import arrived, url_params
from ui.run_code import show_code

PREFIX = "f_"  # each config field's widget: f_lr, f_hidden, ... (form_config reads them back)
RECIPE = PREFIX + "recipe"  # the recipe box: kept across pages with the fields (navigation's "f_"), no field
# The "Early stopping" box, no field either: patience 0 is off. Unticked, the patience box keeps its number
# (disabled) for the next tick, and the config says 0.
EARLY = PREFIX + "early_stopping"
PATIENCE = PREFIX + "patience"
CUSTOM = "(custom)"
RUN_NAME, OUTCOME = "run_name", "train_outcome"
KEPT_PATIENCE = "form_patience"  # the last patience typed: a tick of "Early stopping" brings it back
LINKED = "form_from_link"  # a link filled the form and named no run: the page says "press Train", shows no old run
BASE = "form_base"  # the recipe the form's link names (the settings that differ follow it)
NOTICE = "form_notice"  # ("warning" | "success", text) to show once above the form
NORMALIZE_LABELS = {"half": "(x-0.5)/0.5", "unit": "[0, 1]", "standard": "dataset mean/std"}
SCHEDULE_LABELS = {"constant": "constant", "step": "step", "cosine": "cosine", "onecycle": "one-cycle"}


def _fill(cfg: RunConfig) -> None:
    s = st.session_state
    for key, value in cfg.flat().items():
        s[PREFIX + key] = value
    s[EARLY] = cfg.optim.patience > 0
    if s[EARLY]:
        s[KEPT_PATIENCE] = cfg.optim.patience
    else:  # the number a tick brings back: the last one used, or the studies' own
        s[PATIENCE] = s.get(KEPT_PATIENCE) or STUDY_PATIENCE


def _closest_recipe(cfg: RunConfig) -> str:
    """The recipe `cfg` differs from in the fewest settings: the shortest link."""
    return min(RECIPES, key=lambda name: len(config_params(cfg, name)))


def _load(cfg: RunConfig, base: str | None = None) -> None:
    """Put `cfg` in the form; the recipe box names its recipe only when nothing was changed."""
    base = base or _closest_recipe(cfg)
    _fill(cfg)
    st.session_state[BASE] = base
    st.session_state[RECIPE] = base if RECIPES[base] == cfg else CUSTOM


def use_config(cfg: RunConfig, run_id: int) -> None:
    """"Train again with one change": the run's settings into the form (a button callback)."""
    _load(cfg)
    st.session_state[NOTICE] = ("success", f"The form now holds run #{run_id}'s settings: change one and press "
                                           "**Train**.")


def _on_recipe() -> None:
    name = st.session_state[RECIPE]
    if name in RECIPES:
        _fill(RECIPES[name])
        st.session_state[BASE] = name


def _custom() -> None:
    st.session_state[RECIPE] = CUSTOM  # edited: no longer the named recipe


def _from_link() -> None:
    """On arriving at the page (a reload, a new tab, a link from another page, Back/Forward), fill the form
    from the URL's settings. Any other run is this session's own rerun, whose URL may lag behind the one
    last written (the browser had not taken it yet): reading it would undo the user's last edit, so the
    form is the truth then; no clock decides. A URL without settings (a click in the sidebar) keeps the form."""
    if not arrived():
        return
    params = url_params()
    link = {k: v for k, v in params.items() if k not in PAGE_KEYS}
    st.session_state.pop(LINKED, None)
    if not link:
        return
    try:
        cfg = config_from_params(link)
    except PlaygroundError as exc:
        kept = "kept as it was" if PREFIX + "arch" in st.session_state else "filled with the lstm64 recipe"
        st.session_state[NOTICE] = ("warning", f"The link's settings were not used ({plain(str(exc))}); "
                                               f"the form is {kept}.")
        return
    _load(cfg, link.get(RECIPE_KEY))
    if "run" not in params:
        st.session_state[LINKED] = True


def from_link() -> bool:
    """Whether the form holds a link's settings that nobody has trained yet (see LINKED)."""
    return bool(st.session_state.get(LINKED))


def link_done() -> None:
    st.session_state.pop(LINKED, None)


def _keep_state() -> None:
    """Streamlit forgets a widget's value when its page is left; re-assigning keeps it."""
    _from_link()
    st.session_state.setdefault(EARLY, st.session_state.get(PATIENCE, 0) > 0)
    if PREFIX + "arch" not in st.session_state:
        st.session_state.setdefault(RECIPE, "lstm64")
        st.session_state[BASE] = "lstm64"
        _fill(RECIPES["lstm64"])
    for key in list(st.session_state):
        if key.startswith(PREFIX):
            st.session_state[key] = st.session_state[key]


def form_params() -> dict[str, str]:
    """The form's settings as a link's query parameters: its recipe and the settings that differ from it."""
    s = st.session_state
    base = s[RECIPE] if s[RECIPE] in RECIPES else s.get(BASE) or _closest_recipe(form_config())
    return config_params(form_config(), base)


def form_config() -> RunConfig:
    """The config exactly as the form shows it (not validated)."""
    s = st.session_state
    values = {name: s[PREFIX + name] for name in FLAT_FIELDS if PREFIX + name in s}
    if not s.get(EARLY, True) and "patience" in values:  # unticked: the disabled box's number is not used
        values["patience"] = 0
    return RunConfig().override(**values)


def _submit() -> None:
    """Train pressed: start the run shown in the form, or say why not; the name is for one run only."""
    s = st.session_state
    try:
        run_id = jobs().submit(form_config(), name=s.get(RUN_NAME, "").strip() or None)
    except PlaygroundError as exc:
        s[OUTCOME] = ("refused", str(exc))
        return
    s[OUTCOME] = ("started", run_id)
    s[RUN_NAME] = ""
    s.pop(LINKED, None)


def take_outcome() -> tuple[str, object] | tuple[None, None]:
    """What the last Train press did, once: ("started", run id), ("refused", reason) or (None, None)."""
    return st.session_state.pop(OUTCOME, (None, None))


def _number(label: str, name: str, **kwargs) -> None:
    st.number_input(label, on_change=_custom, key=PREFIX + name, **kwargs)


def _fraction(label: str, name: str, **kwargs) -> None:
    """A slider over the whole range validate() accepts for `name` (an excluded end is refused at Train, with why)."""
    low, high, _ = FRACTIONS[name]
    st.slider(label, low, high, step=0.05, on_change=_custom, key=PREFIX + name, **kwargs)


def _model_fields(arch: str) -> None:
    c1, c2 = st.columns(2)
    with c1:
        if arch in RECURRENT:
            _number("Hidden size", "hidden", step=1)
        else:
            # LeNet-5's channels are fixed (models.LeNet ignores width): an editable 16 there changed nothing.
            _number("Width (conv1 channels)", "width", step=2, disabled=arch == "lenet",
                    help="LeNet-5 has fixed channels: 6 filters, then 16." if arch == "lenet" else None)
    with c2:
        if arch in RECURRENT:
            _number("Layers", "layers", step=1)
        else:
            st.selectbox("Activation", ACTIVATIONS, on_change=_custom, key=PREFIX + "activation")
    _fraction("Dropout", "dropout",
              help="Between recurrent layers (needs 2+ layers), or Dropout2d after each conv block.")
    st.checkbox("Batch-norm after each conv", on_change=_custom, key=PREFIX + "batchnorm", disabled=arch in RECURRENT)
    st.checkbox("Augment training images", on_change=_custom, key=PREFIX + "augment",
                help="Each training image shifted a few pixels at random every time it is used (MNIST: and turned "
                     "up to 10°; CIFAR: and mirrored half the time), so the model cannot learn the exact pixels. "
                     "Validation and test images stay as they are. See the batch below the Train button.")


def _optimizer_fields() -> None:
    c1, c2 = st.columns(2)
    c1.selectbox("Optimizer", OPTIMIZERS, on_change=_custom, key=PREFIX + "optimizer")
    with c2:
        _number("Learning rate", "lr", format="%.5f", step=1e-4)
    st.selectbox("Learning-rate schedule", SCHEDULES, on_change=_custom, key=PREFIX + "schedule",
                 format_func=SCHEDULE_LABELS.get,
                 help="How the rate moves over the run's steps (drawn under the loss per step):\n\n"
                      + "\n".join(f"- **{SCHEDULE_LABELS[k]}**: {SCHEDULE_HELP[k]}" for k in SCHEDULES))
    c1, c2 = st.columns(2)
    with c1:
        _number("Batch size", "batch_size", step=1)
    with c2:
        _number("Epochs", "epochs", step=1)


def _more_fields() -> None:
    with st.expander("Regularization and more"):
        _number("L2 penalty λ (added to the loss)", "l2", format="%.5f", step=1e-4)
        _number("Weight decay (optimizer)", "weight_decay", format="%.5f", step=1e-4)
        _number("Momentum (SGD)", "momentum", step=0.1)
        _number("Gradient clip (0 = off)", "clip", step=0.5)
        st.selectbox("Input normalization", NORMALIZATIONS, on_change=_custom, key=PREFIX + "normalize",
                     format_func=NORMALIZE_LABELS.get)
        _fraction("Validation fraction", "val_fraction")
        _fraction("Label noise (training labels replaced at random)", "label_noise",
                  help="The same labels in every run; validation and test stay clean. "
                       "Watch training accuracy climb on labels it can only memorize.")
        _number("Use only the first N samples (0 = all)", "limit", step=500,
                help="The first N training images and the first N test images: a quicker run, whose test accuracy "
                     "is then on N test images, not the whole test set.")
        _number("Evaluate every N epochs", "eval_every", step=1,
                help="Validation and training accuracy after epoch 1, every N-th epoch and the last; training is "
                     "the same. On a few hundred images an evaluation costs more than an epoch: studies thin it.")
        _early_stopping_fields()
        _number("Seed", "seed", step=1)
        st.selectbox("Device", DEVICES, on_change=_custom, key=PREFIX + "device")


def _on_early() -> None:
    s = st.session_state
    if s[EARLY] and not s.get(PATIENCE):
        s[PATIENCE] = s.get(KEPT_PATIENCE) or STUDY_PATIENCE
    _custom()


def _on_patience() -> None:
    s = st.session_state
    if s[PATIENCE] == 0:  # 0 is "off", as in the config
        s[EARLY] = False
        s[PATIENCE] = s.get(KEPT_PATIENCE) or STUDY_PATIENCE
    elif isinstance(s[PATIENCE], int) and s[PATIENCE] > 0:
        s[KEPT_PATIENCE] = s[PATIENCE]
    _custom()


def _early_stopping_fields() -> None:
    on = st.checkbox("Early stopping", key=EARLY, on_change=_on_early,
                     help="Stop when validation accuracy stops rising, and keep the weights of the best evaluated "
                          "epoch: the test accuracy, the checkpoint, Draw and Inside use those, not the last "
                          "epoch's. Off: every epoch is trained and the last one kept.")
    c1, c2 = st.columns(2)
    with c1:
        st.number_input("Patience (evaluations)", key=PATIENCE, step=1, disabled=not on,
                        on_change=_on_patience,
                        help="Stop after this many evaluations in a row without a gain in **validation accuracy** "
                             "(an evaluation comes every 'Evaluate every N epochs'). 0 turns early stopping off.")
    with c2:
        _number("Minimum gain", "min_delta", format="%.3f", step=0.005, disabled=not on,
                help="A rise in validation accuracy at most this large does not count as better "
                     "(0.01 = one point).")


def dataset_choices() -> list[str]:
    """The built-in datasets, then your own (own.py snapshots in this home), and the form's value if it is neither
    (a run's own data deleted since): shown, so the form never breaks, and refused with the reason on Train."""
    from playground.own import list_snapshots

    choices = [*SPECS, *(snap.dataset for snap in list_snapshots())]
    current = st.session_state.get(PREFIX + "dataset")
    return choices + [current] if isinstance(current, str) and current not in choices else choices


def _dataset_title(name: str) -> str:
    try:
        return SPECS[name].title
    except KeyError:
        return f"{name} (not in this home)"


def sidebar_form() -> None:
    """Render the form; the Train button submits it (see take_outcome)."""
    _keep_state()
    with st.sidebar:
        if NOTICE in st.session_state:
            kind, text = st.session_state.pop(NOTICE)
            getattr(st, kind)(text)
        st.selectbox("Recipe", [CUSTOM, *RECIPES], key=RECIPE, on_change=_on_recipe,
                     help="Fills the whole form with a classic experiment, the advanced settings too (a sample "
                          "limit or a seed set before is replaced); edit anything after.")
        st.selectbox("Dataset", dataset_choices(), on_change=_custom, key=PREFIX + "dataset",
                     format_func=_dataset_title,
                     help="MNIST, CIFAR's birds and planes, or your own data (a snapshot made on the Draw page or "
                          "imported from an image folder: 28×28 grey, its own class names).")
        arch = st.selectbox("Architecture", ARCHITECTURES, on_change=_custom, key=PREFIX + "arch")
        _model_fields(arch)
        st.divider()
        _optimizer_fields()
        _more_fields()
        st.text_input("Run name (optional)", max_chars=120, key=RUN_NAME)
        _before_train()
        st.button("Train", type="primary", width="stretch", on_click=_submit)
        with st.expander("📈 Find a learning rate"):
            lr_finder(form_config())
        # Built only while open: 64 images and a highlighted script of ~300 lines were sent and drawn on every
        # visit to Train, shut (issue 36)
        batch = open_panel("🖼 A batch as the model sees it", "panel-batch")
        if batch.open:
            with batch:
                batch_preview(form_config())
        code = open_panel("</> Show the code", "panel-form-code")
        if code.open:
            with code:
                show_code(form_config(), "the form's settings", key="form")


def range_test_result() -> None:
    """The form's last learning-rate range test in the main area (its button is in the sidebar)."""
    lr_result(form_config(), on_use=_use_lr)


def _use_lr(value: float) -> None:
    st.session_state[PREFIX + "lr"] = float(f"{value:.3g}")
    _custom()


def _before_train() -> None:
    """Next to the button: how long the form's run takes here, and "press Train" after a link filled it."""
    try:
        validate(form_config())
    except PlaygroundError as exc:  # said at once, next to the settings: not only after a press of Train
        st.error(f"Train will refuse these settings: {exc}.")
    start = form_config().model.init_from
    if start:  # a fine-tune (a lesson's, or a link's): no widget shows it, so the form says it
        st.caption(f"🔁 Starts from the weights in {plain(Path(start).name)} (a fine-tune of that checkpoint), "
                   "not from random ones.", help=plain(f"init_from = {start[:300]}"))
    took = how_long([form_config()], at_once=1)
    if from_link():
        st.info("👇 The form holds the settings of the link you followed" + (f" ({took})" if took else "")
                + ". Check them, then press **Train**.")
    elif took:
        st.caption(f"⏱ One run: {took}.")
