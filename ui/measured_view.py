"""The Learn page's "How we measured": the numbers the lessons and the study form quote, and how they were got."""
from __future__ import annotations

import streamlit as st

from playground.engine.study import STUDY_DROPOUT, STUDY_EPOCHS, STUDY_L2, STUDY_LIMIT, STUDY_LR, STUDY_VAL_FRACTION
from playground.lessons import LESSONS, NOISE_PATIENCE
from playground.measured import MACHINE, MEASURED, WHY, spread

ANCHOR = "how-we-measured"  # captions elsewhere link to /learn#how-we-measured
LINK = f"[how we measured](/learn#{ANCHOR})"  # from another page
METRICS = {"train_acc": "train accuracy", "val_acc": "validation accuracy", "gap": "gap (train − val)",
           "test_acc": "test accuracy", "best_val_acc": "best validation accuracy",
           "salient_drop": "drop, map's squares", "random_drop": "drop, random squares",
           "kept_epoch": "epoch kept (early stopping)",
           "own_before": "held-out drawings, before", "own_after": "held-out drawings, after",
           "mnist_before": "MNIST test, before", "mnist_after": "MNIST test, after"}
def _fine_tune_title(key: str) -> str:
    """Draw's 'Teach it your handwriting', as bench/finetune.py measured it: its settings from its result file."""
    import json
    from pathlib import Path

    got = json.loads((Path(__file__).resolve().parents[1] / "bench" / "results" / MEASURED[key].file).read_text())
    n = got["configs"]["all"]["trained_on"]["mean"]
    return (f"Teach it your handwriting (Draw): LSTM 64 taught {n:.0f} digits drawn from strokes, lr {got['lr']:g}, "
            f"{got['epochs']} epochs ({got['replay']} MNIST images where mixed in); held-out drawings of the same "
            "hand and MNIST's test set")


EXTRA = {"memory-lr": ("Lesson 2's runs at learning rate 0.001", {"rnn_plain": "RNN 64, no delay",
                                                                   "rnn_delay": "RNN 64, 10 blank rows",
                                                                   "lstm_delay": "LSTM 64, 10 blank rows"}),
         "noise-es": (f"Lesson 7 with and without early stopping (patience {NOISE_PATIENCE})",
                      {"clean": "LeNet, clean labels", "noisy": "LeNet, half the labels random",
                       "clean_es": "clean labels, early stopping", "noisy_es": "half random, early stopping"}),
         "study": (f"Compare's default study (cnn, first {STUDY_LIMIT:,} images, {STUDY_VAL_FRACTION:.0%} held out, "
                   f"lr {STUDY_LR:g}, {STUDY_EPOCHS} epochs)",
                   {"none": "no regularization", "l2": f"L2 λ {STUDY_L2:g}", "dropout": f"dropout {STUDY_DROPOUT:g}"}),
         **{key: (_fine_tune_title(key), {"all": "all layers", "last": "the last layer only",
                                          "replay": "all layers, MNIST images mixed in"})
            for key in ("finetune-lr0.01", "finetune")}}


def _cell(key: str, run: str, metric: str) -> str:
    got = spread(key, run, metric)
    if got is None:
        return "–"
    if metric == "kept_epoch":
        return f"{got.whole} (mean {got.mean:.1f})"
    return f"{got.pts} (mean {got.mean_pts})" if metric in ("gap", "salient_drop", "random_drop") else got.text()


def _table(key: str, labels: dict[str, str]) -> None:
    source = MEASURED[key]
    shown = [m for m in METRICS if any(m in metrics for metrics in source.runs.values())]
    rows = [{"run": labels.get(run, run), **{METRICS[m]: _cell(key, run, m) for m in shown}} for run in source.runs]
    st.table(rows, hide_index=True)  # wraps its cells: as a grid, 4 spreads and a run needed ~1,100 px of 784
    st.caption(f"{source.seeds} seeds (0–{source.seeds - 1}); file `bench/results/{source.file}`.")


def how_we_measured() -> None:
    """Every lesson's measured spread over seeds, and the default study's, with the method and the files."""
    st.subheader("📏 How we measured", anchor=ANCHOR)
    st.markdown(
        "Every number the lessons and Compare's study form state about *our* runs comes from the tables below. "
        f"Each run was trained at its CPU scale once per seed, two at a time with one CPU thread each, on {MACHINE}, "
        "by the project's benchmarks (`python -m bench.lessons`, `python -m bench.settings_over_seeds`). "
        "A cell gives the lowest and highest value over the seeds and their mean, all at the last epoch: "
        "training accuracy on the training images, validation accuracy on the held-out ones, the gap between "
        "those two in points, and test accuracy on the test set, which no run trains or chooses on. A run of yours "
        "with the same settings lands in or near that range; one outside it is not wrong, only unlucky or lucky.")
    with st.expander("The numbers, lesson by lesson"):
        for i, lesson in enumerate(LESSONS, 1):
            if lesson.key not in MEASURED:
                continue
            st.markdown(f"**{i}. {lesson.title}**")
            _table(lesson.key, {run.key: run.label for run in lesson.runs})
        for key, (title, labels) in EXTRA.items():
            st.markdown(f"**{title}**")
            _table(key, labels)
    st.markdown(
        f"**Where two runs differ** (Compare) **and the model's own map** (Inside): lesson 8's {WHY.recipe} at its "
        f"CPU scale, trained with seeds 0 and 1 as above: {WHY.disagreement()}, {WHY.a_only:,} one way and "
        f"{WHY.b_only:,} the other. On the PCA map of its last layer over the first {WHY.map_images:,} test images, "
        f"{WHY.separation()} (between-class over total variance). File `bench/results/{WHY.file}` "
        "(`python -m bench.why_numbers`).")
