"""Why a model answered what it did: its worst test mistakes (Train's report) and a saliency map of one
input beside the same model untrained (Draw). The work is playground.explain; results are cached."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
import torch

from playground import explain
from playground.config import RunConfig, is_recurrent
from playground.measured import WHY
from playground.probes import confusion_matrix
from playground.words import counted
from ui.common import loaded_model, open_panel
from ui.figures import charts, image_tiles
from ui.measured_view import LINK

SALIENCY_CAPTION = (
    "Red pixels pushed the answer towards this class, blue ones away from it, white did nothing{scale}. "
    "{method}.{outline} Saliency shows what the model *used*, not that it is right or that it sees a digit as you "
    "do: {compare}")
COMPARE = {
    "untrained": "compare with the untrained copy's map before reading meaning into one.",
    "models": "where the models' maps differ, they rest their answers on different strokes.",
    "one": "pick *untrained* under *Side by side with* to compare with the weights it started from.",
}
ROWS_CAPTION = (" Beside each map, its rows summed: what the answer owes to each image row the model read "
                "(row 1 first, as it read them), on one axis for the models side by side.")
OUTLINE = " The grey line is the outline of the input's ink."
HOW = {"ig": "Integrated Gradients: the gradient averaged on the way from a black image to this one, times "
             "the pixel's change. The parts add up to how far the class's score moved from the black image's "
             "(Σ in each title, in logits: the score before softmax, where +1 multiplies the odds by e ≈ 2.7)"
             "{untrained}. Black pixels get nothing, so only the ink can count",
       "occlusion": "Occlusion: how much the class's score (logit) drops when a 4×4 patch is blacked out "
                    "(covering black background changes nothing, so only the ink can count)",
       "gradcam": "Grad-CAM: the last conv layer's maps weighted by their gradient, scaled up to the image; only "
                  "the regions that raise the score are kept (negative evidence is cut to 0)"}
GRADCAM_BLANK = ("{name}: all white, because no region of its last conv layer raises the score of '{cls}' "
                 "(Grad-CAM keeps only what raises it; an untrained model's maps often do not).")


def mtime(checkpoint: str) -> float:
    """Part of the cache keys below: a checkpoint rewritten (a run trained on) is scored again."""
    return Path(checkpoint).stat().st_mtime


@st.cache_data(max_entries=32, show_spinner="Scoring every test image…")
def _test_outputs(checkpoint: str, mtime: float) -> tuple[np.ndarray, np.ndarray]:
    loaded = loaded_model(checkpoint)
    return explain.test_outputs(loaded.model, loaded.config)


def _picked_cell(chart_key: str, picker_key: str, cells: list, classes) -> None:
    """A click on the confusion matrix picks that cell in the picker (an off-diagonal cell with images)."""
    points = st.session_state[chart_key].selection.points
    if points:  # the clicked cell by its class names: y is the true class, x the predicted one
        names = [str(c) for c in classes]
        cell = (names.index(str(points[0]["y"])), names.index(str(points[0]["x"])))
        if cell in cells:
            st.session_state[picker_key] = cell


def mistakes(rec, classes, key: str) -> None:
    """The test images this run got most wrong, the classes it confuses, and any one confusion cell."""
    probs, labels = _test_outputs(rec.checkpoint, mtime(rec.checkpoint))
    matrix = confusion_matrix(labels, probs.argmax(1), len(classes))
    pairs = explain.confused_pairs(matrix, top=len(classes) ** 2)
    if not pairs:
        st.caption("No test image was misread.")
        return
    st.markdown("**Most confused:** " + " · ".join(f"{classes[t]} read as {classes[p]} ({n}×)"
                                                    for t, p, n in pairs[:5]))
    cells = [(None, None)] + [(t, p) for t, p, _ in pairs]
    picker, chart = f"mistake-cell-{key}", f"mistake-matrix-{key}"
    left, right = st.columns([2, 3])
    # No colour bar: each cell says its count, and in this column the bar took a third of the cells' width
    shown = st.session_state.get(picker)  # the cell whose images show: framed in the matrix
    shown = shown if shown in cells else None
    left.plotly_chart(charts.confusion(matrix, classes, f"On its {len(labels):,} test images", clickable=True,
                                       bar=False, outlined=shown),
                      width="stretch", key=chart, on_select=lambda: _picked_cell(chart, picker, cells, classes),
                      selection_mode="points", config=charts.STATIC)
    left.caption("Click a cell off the diagonal to see its images.")
    cell = right.selectbox("Show", cells, key=picker,
                           format_func=lambda c: "the worst mistakes (highest loss)" if c[0] is None
                           else f"{classes[c[0]]} read as {classes[c[1]]} ({int(matrix[c])}×)")
    worst = explain.worst_mistakes(probs, labels, rec.config, 16, *cell)
    right.html(image_tiles([m.image for m in worst], [classes[m.predicted] for m in worst],
                           [classes[m.true] for m in worst], [m.p_predicted for m in worst], cols=4))
    total = int(matrix[cell]) if cell[0] is not None else int((probs.argmax(1) != labels).sum())
    right.caption(f"{len(worst)} of {total:,} mistakes. Each tile: the model's answer, the probability it gave that "
                  "answer, and the true class in brackets. Ordered by loss: the images whose true class got the "
                  "least probability come first (the answer's own probability can still be modest, when the model "
                  "spread its doubt over several classes). Some are the model's fault, some are images a person "
                  "would misread too.")


def kept_expander(label: str, key: str):
    """Why?'s expander: it stays as the learner left it, open or shut, across new drawings, answers and pages."""
    return open_panel(label, f"why-open-{key}")


ANSWER = "answer"  # Explain's first option: whatever the model answers


def why_class_key(key: str, answer: int) -> str:
    """Explain's widget key: one per answer, so a new answer draws a new widget with labels of its own (a keyed
    selectbox kept its first labels in the browser: "its answer, 1" over maps of '8', issue 31)."""
    return f"why-class-{key}-{answer}"


def why_target(answer: int, classes, key: str) -> int:
    """The class to explain: the model's answer (the default, following it as it changes) or one the learner
    picks ("why not 2?"), kept as a class across drawings, answers and pages."""
    picked = f"why-pick-{key}"  # the pick as a class (or ANSWER): it outlives the per-answer widget
    widget = why_class_key(key, answer)
    # set before the widget is drawn (allowed): a widget of an earlier answer, or one Streamlit forgot, shows the pick
    st.session_state[widget] = st.session_state.get(picked, ANSWER)
    # "answer", not None: a selectbox whose value is None shows "Choose an option" instead of the choice
    choice = st.selectbox("Explain", [ANSWER, *range(len(classes))], key=widget,
                          on_change=lambda: st.session_state.update({picked: st.session_state[widget]}),
                          format_func=lambda c: f"its answer, {classes[answer]}" if c == ANSWER
                          else f"why {classes[c]}?" if c == answer else f"why not {classes[c]}?",
                          help="Which class's score the map explains: red pixels raised it, blue ones lowered it.")
    return answer if choice == ANSWER else choice


def _compare_words(names: list[str]) -> str:
    if len(names) == 1:
        return COMPARE["one"]
    return COMPARE["untrained"] if any(n.endswith("untrained") for n in names) else COMPARE["models"]


def untrained_words(totals: dict[str, float]) -> str:
    """What Integrated Gradients' totals (name -> Σ, logits) say of an untrained copy beside its trained model,
    from these numbers: its map is fainter only where its score moved less (an untrained GRU's moved more)."""
    mine = {n: abs(v) for n, v in totals.items() if n.endswith(", untrained")}
    trained = {n: abs(v) for n, v in totals.items() if n.endswith(", trained")}
    if not mine or not trained:
        return ""
    moved, top = next(iter(mine.values())), max(trained.values())
    if moved < 0.5 * top:
        return (f"; the untrained copy's score moved less here (|Σ| {moved:.2g} against {top:.2g}), so its map is "
                "fainter on the shared scale")
    return (f"; here the untrained copy's score moved as much or more (|Σ| {moved:.2g} against {top:.2g}): its map "
            "is as strong, and it rests on random weights, not on anything learned")


def saliency(models: dict[str, tuple[torch.nn.Module, RunConfig, torch.Tensor]], target: int, classes, key: str,
             outline: np.ndarray | None = None, title_chars: int | None = None) -> None:
    """Which pixels pushed each model (name -> (model, config, its input)) towards `target`: the maps side by
    side on one colour scale, for a method every model allows; `outline` (H, W) in [0, 1] draws the ink's edge;
    a title longer than `title_chars` breaks into lines (Inside's four narrow columns cut "· Σ +1 logit")."""
    methods = [m for m in explain.METHODS if all(m in explain.methods_for(cfg) for _, cfg, _ in models.values())]
    method = st.radio("Method", methods, format_func=explain.METHODS.get, horizontal=True, key=f"why-method-{key}")
    maps = {name: explain.saliency(m, x, target, method, explain.blank_input(cfg, tuple(x.shape)))
            for name, (m, cfg, x) in models.items()}
    top = max(float(np.abs(m).max()) for m in maps.values()) or 1.0
    recurrent = {name for name, (_, cfg, _) in models.items() if is_recurrent(cfg)}
    rows = {name: explain.row_attribution(maps[name]) for name in recurrent}
    row_top = max((float(np.abs(r).max()) for r in rows.values()), default=0.0) or 1.0
    cols = iter(st.columns(len(maps) + len(rows)))
    for name, m in maps.items():
        col = next(cols)
        total = f" · Σ {m.sum():+.2g} logit" if method == "ig" else ""
        col.plotly_chart(charts.attribution(m, f"{name}: '{classes[target]}'{total}", zmax=top, outline=outline,
                                            title_chars=title_chars),
                         width="stretch", key=f"why-{key}-{name}", config=charts.STATIC)
        if method == "gradcam" and not np.abs(m).any():
            col.caption(GRADCAM_BLANK.format(name=name, cls=classes[target]))
        if name in rows:  # which rows decided it, lined up with the rows read, on one scale as the maps are
            next(cols).plotly_chart(charts.row_attribution(rows[name], f"{name}: per row", xmax=row_top,
                                                           title_chars=title_chars),
                                    width="stretch", key=f"why-rows-{key}-{name}",
                                    config=charts.STATIC)
    scale = "; one colour scale for the maps side by side" if len(maps) > 1 else ""
    how = HOW[method].format(untrained=untrained_words({n: float(m.sum()) for n, m in maps.items()}))
    st.caption(SALIENCY_CAPTION.format(scale=scale, method=how, outline=OUTLINE if outline is not None
                                       else "", compare=_compare_words(list(maps)))
               + (ROWS_CAPTION if rows else ""))


def where_they_differ(rec_a, rec_b, classes) -> None:
    """Test images one of two runs gets right and the other wrong, each way (e.g. none vs dropout)."""
    from playground.data import display_images, load_dataset

    probs = [_test_outputs(r.checkpoint, mtime(r.checkpoint)) for r in (rec_a, rec_b)]
    (pa, labels), (pb, labels_b) = probs
    shared = min(len(pa), len(pb))
    if len(pa) != len(pb):
        labels = labels if len(labels) <= len(labels_b) else labels_b
        st.caption(f"The two runs were tested on different numbers of images (their 'first N samples'): compared "
                   f"on the first {shared:,}, which both were tested on.")
    diff = explain.disagreements(pa, pb, labels)
    ds = load_dataset(rec_a.config.data.dataset)
    cols = st.columns(2)
    for col, (key, mine, other, theirs) in zip(cols, (("a_only", rec_a, rec_b, pb), ("b_only", rec_b, rec_a, pa)),
                                                strict=True):
        idx = diff[key]
        col.markdown(f"**#{mine.id} right, #{other.id} wrong: {counted(len(idx), 'image')}**"
                     + (f" (the first {min(len(idx), 16)} shown)" if len(idx) > 16 else ""))
        if len(idx):
            shown = idx[:16]
            images = display_images(ds.test_x[torch.as_tensor(shown)])
            col.html(image_tiles(images, [classes[int(p)] for p in theirs[shown].argmax(1)],
                                 [classes[int(t)] for t in labels[shown]], cols=4))
    st.caption("Each tile shows the answer of the run that got it *wrong* (the true class in brackets). Runs of "
               f"similar accuracy still disagree: {WHY.disagreement()} here ({LINK}), so compare two seeds of one "
               "setting before crediting a setting with the difference.")
