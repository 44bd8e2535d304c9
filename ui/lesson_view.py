"""One lesson on the Learn page: text, the question, one Run button, the runs live, the verdict, try next."""
from __future__ import annotations

import streamlit as st

from playground import charts
from playground.compare import band
from playground.errors import ACTIVE, PlaygroundError, RunStatus
from playground.estimate import busy_note
from playground.lessons import MEASURED_ON, Lesson, curve_story, link_config, link_params, run_result
from ui.common import POLL_SECONDS, STATUS_ICON, jobs, open_panel
from ui.estimate_view import how_long
from ui.lesson_probes import deletion_results, deletion_table, filter_by_hand, first_layer
from ui.lesson_teach import teach_note, teach_ready, teach_row
from ui.measured_view import ANCHOR

LESSON = "lesson_pick"  # the Learn page's lesson picker (its URL parameter stays ?lesson=)
SCALE_TEXT = {"gpu": "🚀 **Full recipe** on the GPU.", "cpu": "🐢 **Scaled down** {note}.",
              "tiny": "🧪 **Tiny scale** (tests): 300 samples, 1 epoch.",
              "same": "⚖️ **The same on a CPU and a GPU**: {note}."}


def show_lesson(lesson: Lesson, progress: dict, scale: str) -> None:
    registry = jobs()
    st.header(lesson.title, anchor=False)
    st.caption(f"From {lesson.source}.")
    st.markdown(lesson.asks)

    saved = progress.get("guess")
    guess = st.radio(f"**Your guess, before running:** {lesson.question}", lesson.choices,
                     index=lesson.choices.index(saved) if saved in lesson.choices else None,
                     key=f"guess-{lesson.key}")
    if guess is not None and guess != saved:
        registry.store.save_lesson(lesson.key, guess=guess)
        saved = guess

    shown = scale if lesson.scaled or scale == "tiny" else "same"
    st.markdown(SCALE_TEXT[shown].format(note=lesson.scale_note))
    build = teach_ready(lesson) if lesson.own_data else None  # your drawings and a base model, or what is missing
    took = None if lesson.own_data else how_long([cfg for _, cfg in lesson.configs(scale)])
    if took:
        st.caption(f"⏱ {len(lesson.runs)} run{'s' if len(lesson.runs) > 1 else ''}: {took}.")
    run_ids = list(progress.get("run_ids") or [])
    c1, c2 = st.columns(2)
    label = "▶ Run it again" if run_ids else "▶ Run the experiment"
    if c1.button(label, type="primary", disabled=saved is None or (lesson.own_data and build is None),
                 width="stretch", key=f"run-{lesson.key}",
                 help=None if saved else "Answer the question first: a guess made after the result teaches less."):
        run_ids = _submit(lesson, scale, build)
    reuse = _existing_cnn(registry) if lesson.reuse_cnn else None
    if reuse is not None and saved is not None and c2.button(
            f"Use my CNN run #{reuse.id} (no training)", width="stretch", key=f"reuse-{lesson.key}"):
        run_ids = [reuse.id]
        registry.store.save_lesson(lesson.key, run_ids=run_ids)
    if saved is None:
        st.caption("Pick an answer to enable the button.")
    if run_ids:
        live = any(i in registry.active() for i in run_ids) or any(
            (rec := registry.store.get_run(i)) is not None and rec.status in ACTIVE for i in run_ids)
        st.fragment(_runs_body, run_every=POLL_SECONDS if live else None)(lesson, run_ids, live, saved, scale)


def _submit(lesson: Lesson, scale: str, build=None) -> list[int]:
    registry = jobs()
    ids = []
    try:
        for run, cfg in (build(scale) if build is not None else lesson.configs(scale)):
            ids.append(registry.submit(cfg, name=f"Learn · {run.label}"))
    except PlaygroundError as exc:
        st.error(f"Cannot start this lesson's runs: {exc}")
        for run_id in ids:
            registry.stop(run_id, "the lesson could not start all its runs")
        return []
    registry.store.save_lesson(lesson.key, run_ids=ids)
    return ids


def _existing_cnn(registry):
    """A finished CNN trained on MNIST, with a checkpoint, that a lesson can look inside without training."""
    for rec in registry.store.list_runs(dataset="mnist", status=RunStatus.FINISHED):
        if rec.checkpoint and rec.config.model.arch in ("cnn", "lenet"):
            return rec
    return None


def _runs_body(lesson: Lesson, run_ids: list[int], was_live: bool, guess: str | None, scale: str) -> None:
    registry = jobs()
    labels = {i: run.label for i, run in zip(run_ids, lesson.runs, strict=False)}
    keys = {i: run.key for i, run in zip(run_ids, lesson.runs, strict=False)}
    snaps = {i: registry.view(i) for i in run_ids}
    if was_live and all(s is None or s.done for s in snaps.values()):
        st.rerun()  # whole page: stop polling, draw the verdict
    results, stories = {}, {}
    cols = st.columns(len(run_ids))
    for col, run_id in zip(cols, run_ids, strict=True):
        snap = snaps[run_id]
        with col:
            if snap is None:
                st.info(f"Run #{run_id} no longer exists.")
                continue
            st.markdown(f"{STATUS_ICON.get(snap.status, '')} **{labels.get(run_id, f'run #{run_id}')}** · #{run_id}")
            text = f"epoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs} · {snap.status}"
            st.progress(1.0 if snap.status == RunStatus.FINISHED else snap.fraction, text=text)
            last = snap.epoch_rows[-1] if snap.epoch_rows else {}
            acc = snap.result.get("test_acc")
            if acc is not None:
                st.metric("Test accuracy", f"{acc:.1%}")
            else:
                st.metric("Validation accuracy", f"{last['val_acc']:.1%}" if last.get("val_acc") is not None else "–")
            if snap.message and snap.status != RunStatus.FINISHED:
                {RunStatus.DIVERGED: st.warning, RunStatus.FAILED: st.error}.get(snap.status, st.info)(snap.message)
            if snap.done and snap.status == RunStatus.FINISHED:
                key = keys.get(run_id, str(run_id))
                results[key] = run_result(snap.result, snap.epoch_rows)
                stories[key] = curve_story(snap.epoch_rows)
                if lesson.deletion == key:
                    results[key].update(deletion_results(run_id))
    _curves(lesson, {labels.get(i, f"run #{i}"): s for i, s in snaps.items() if s is not None},
            {labels.get(i, f"run #{i}"): i for i in snaps})
    if all(s is not None and s.done for s in snaps.values()):
        _verdict(lesson, results, guess, {k: i for i, k in keys.items()}, scale, stories)


def _curves(lesson: Lesson, snaps: dict, ids: dict) -> None:
    """The evidence, live and after: each run's loss and accuracy per epoch (train dashed, validation solid);
    a lesson of one run also shows its loss per step, where an uneven learner's jumps are. Each run in the colour
    of its id (`ids`: label -> run id), as Compare draws it."""
    rows = [(label, s.epoch_rows) for label, s in snaps.items() if s.epoch_rows]
    run_ids = [ids[label] for label, _ in rows]
    if rows and lesson.gap and len(snaps) > 1:
        _gap_chart(lesson, rows, run_ids)
        curves = open_panel("Every curve: loss and accuracy, train and validation", f"panel-curves-{lesson.key}")
        if curves.open:  # built only while open (issue 36)
            with curves:
                st.plotly_chart(charts.compare_curves(rows, run_ids), width="stretch",
                                key=f"lesson-epochs-{lesson.key}", config=charts.STATIC)
    elif rows:
        fig = charts.epoch_curves(rows[0][1]) if len(snaps) == 1 else charts.compare_curves(rows, run_ids)
        st.plotly_chart(fig, width="stretch", key=f"lesson-epochs-{lesson.key}", config=charts.STATIC)
        st.caption("Per epoch: train (dashed) and validation (solid) loss and accuracy; a point is added as each "
                   "epoch ends.")
    else:
        st.caption("The loss and accuracy curves appear here as the first epoch ends.")
    if len(snaps) == 1:
        [snap] = snaps.values()
        if snap.step_rows:
            st.plotly_chart(charts.step_loss(snap.step_rows), width="stretch", key=f"lesson-steps-{lesson.key}",
                            config=charts.STATIC)


def _gap_chart(lesson: Lesson, rows: list[tuple[str, list]], run_ids: list[int]) -> None:
    """What the lesson asks about, one line per run: training minus validation accuracy per epoch."""
    series = [{"name": label, "color_id": run_id, "n": 1, "curves": {"gap": band([epochs], "gap")}}
              for run_id, (label, epochs) in zip(run_ids, rows, strict=True)]
    if not any(s["curves"]["gap"][0] for s in series):
        return
    st.plotly_chart(charts.variant_gap(series), width="stretch", key=f"lesson-gap-{lesson.key}", config=charts.STATIC)
    st.caption("The generalization gap per epoch: training accuracy minus validation accuracy, one line per run "
               "(0 = no overfitting). The loss and accuracy curves themselves are below.")


def _pct(got: dict, key: str) -> str:
    return f"{got[key]:.1%}" if key in got else "–"


def _row(lesson: Lesson, run, got: dict, story: str) -> dict:
    """One run's line in "What happened": this run's numbers beside our spread over seeds."""
    if lesson.own_data:  # a fine-tune: its test set is your held-out drawings, and it says what MNIST lost
        return teach_row(run, got)
    row = {"run": run.label, "test accuracy": _pct(got, "test_acc"), "train accuracy": _pct(got, "train_acc")}
    if lesson.gap:
        row["gap (train − val)"] = f"{got['gap'] * 100:.1f} points" if "gap" in got else "–"
    row["this run's validation accuracy"] = story
    row["our spread, test"] = run.measured.text() if run.measured else "not measured"
    row["our spread, train"] = run.measured_train.text() if run.measured_train else "–"
    if lesson.gap:
        row["our spread, gap"] = run.measured_gap.pts if run.measured_gap else "not measured"
    return row


def _verdict(lesson: Lesson, results: dict[str, dict[str, float]], guess: str | None, ids: dict[str, int],
             scale: str, stories: dict[str, str] | None = None) -> None:
    """The result next to the guess, the original's number and our spread; why; where to go next."""
    registry = jobs()
    st.subheader("What happened", anchor=False)
    rows = [_row(lesson, run, results.get(run.key, {}), (stories or {}).get(run.key, "–")) for run in lesson.runs]
    # A table that wraps its cells: as a canvas grid, lesson 4's eight columns needed ~1,400 px of the 818 that
    # Learn has at 1,280 px with the sidebar open, and its spreads went off the right edge.
    st.table(rows, hide_index=True)
    st.caption(teach_note() if lesson.own_data else
               f"This run's validation accuracy: by epoch, from its own curve. Our spread: the CPU-scale runs, "
               f"{MEASURED_ON}; a single run can land outside it ([how we measured](#{ANCHOR})).")
    if lesson.feature_maps is not None:
        first_layer(lesson, ids.get(lesson.feature_maps))
    if lesson.one_filter is not None:
        filter_by_hand(lesson, ids.get(lesson.one_filter))
    if lesson.deletion is not None:
        deletion_table(results.get(lesson.deletion, {}))
    right = lesson.judge(results) if len(results) == len(lesson.runs) else None
    if right is None:
        st.warning("Not every run finished, so there is no verdict on your guess. Run it again to see one.")
    else:
        answer = lesson.choices[right]
        if guess == answer:
            st.success(f"Your guess: **{guess}**. The runs agree. ✓")
        else:
            st.info(f"Your guess: **{guess or '–'}**. The runs say: **{answer}**.")
        if not registry.store.lessons().get(lesson.key, {}).get("done"):
            registry.store.save_lesson(lesson.key, done=True)
            st.rerun()  # the picker and the sidebar show it done
    st.markdown(f"**The original:** {lesson.reference}")
    st.markdown(f"**Why.** {lesson.explanation}")
    if lesson.next:
        st.markdown("**Try next**")
        if note := busy_note():  # once, not in every link's label: a one-line label was cut after it
            st.caption(f"⏱ The times below: {note}.")
        for link in lesson.next:
            cfg = link_config(lesson, link, scale)
            took = how_long([cfg], at_once=1, busy=False) if cfg is not None else None
            st.page_link(f"pages/{link.page}.py", label=link.label + (f" · ⏱ {took}" if took else ""),
                         query_params=link_params(link, ids, lesson, scale) or None)
