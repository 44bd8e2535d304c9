"""The Learn page under AppTest: every lesson renders; guess, Run, live runs, verdict; progress survives a reload."""
import json
import re
import time

import pytest

from playground import lessons
from playground.errors import RunStatus
from playground.store import RunStore
from ui.lesson_view import LESSON

from conftest import app_page as page
from conftest import poll_until


@pytest.fixture(autouse=True)
def tiny_lessons(monkeypatch):
    """Lesson runs at the tiny scale (300 samples, 1 epoch, CPU): about a second each."""
    monkeypatch.setenv(lessons.SCALE_ENV, "tiny")




def run_button(at):
    return next(b for b in at.button if b.key and b.key.startswith("run-"))


def text(at) -> str:
    parts = [m.value for m in at.markdown] + [s.value for s in at.success] + [i.value for i in at.info]
    return " ".join(parts + [e.value for e in at.error] + [w.value for w in at.warning])


def test_every_lesson_renders_with_its_question_and_a_disabled_run_button(home):
    at = page("pages/learn.py").run()
    assert not at.exception
    for lesson in lessons.LESSONS:
        at.radio(key=LESSON).set_value(lesson.key).run()
        assert not at.exception, lesson.key
        assert at.header[0].value == lesson.title
        assert at.radio(key=f"guess-{lesson.key}").options == list(lesson.choices)
        assert run_button(at).disabled, "no guess yet: Run stays disabled"
        assert at.query_params["lesson"] in (lesson.key, [lesson.key])
        assert "Tiny scale" in text(at)


def test_lessons_data_is_complete():
    for scale in ("cpu", "gpu", "tiny"):
        for lesson in lessons.LESSONS:
            for run, cfg in lesson.configs(scale):
                assert cfg.data.limit == {"gpu": run.full.data.limit, "cpu": run.cpu.get("limit", 0),
                                          "tiny": 300}[scale]
    for lesson in lessons.LESSONS:
        assert lesson.judge({}) is None or lesson.key == "conv"  # no results: no verdict
        assert all(link.page in ("train", "compare", "draw", "inside") for link in lesson.next)
        assert all(k in {r.key for r in lesson.runs} for link in lesson.next for k in link.runs)
        assert all(run.measured is not None for run in lesson.runs), f"{lesson.key}: measure with bench/lessons.py"


def test_guess_then_run_shows_the_verdict_and_progress_survives_a_new_session(home):
    at = page("pages/learn.py").run()
    lesson = lessons.BY_KEY["rnn-rows"]
    guess = lesson.choices[0]
    at.radio(key="guess-rnn-rows").set_value(guess).run()
    assert RunStore(home).lessons()["rnn-rows"]["guess"] == guess  # saved before anything runs
    assert not run_button(at).disabled
    run_button(at).click().run()
    assert not at.exception and not at.error
    ids = RunStore(home).lessons()["rnn-rows"]["run_ids"]
    assert len(ids) == 1
    rec = RunStore(home).get_run(ids[0])
    assert rec.config.data.limit == 300 and rec.config.optim.epochs == 1 and rec.config.model.arch == "rnn"
    poll_until(at, lambda a: any(s.value == "What happened" for s in a.subheader))
    assert RunStore(home).get_run(ids[0]).status == RunStatus.FINISHED
    assert "Your guess" in text(at) and "97.4%" in text(at)
    links = at.get("page_link")
    assert len(links) >= len(lesson.next)
    assert RunStore(home).lessons()["rnn-rows"]["done"]
    # A reload: a new session on the same home shows the lesson done, the guess and the result.
    again = page("pages/learn.py").run()
    assert not again.exception
    assert again.radio(key="guess-rnn-rows").value == guess
    assert again.radio(key=LESSON).value == "rnn-rows"  # still picked; its labels never change
    assert any(c.value.startswith("✓ 1.") for c in again.sidebar.caption)
    assert any(s.value == "What happened" for s in again.subheader)
    assert f"1 of {len(lessons.LESSONS)} lessons done" in again.sidebar.get("progress")[0].proto.text


def test_a_failing_run_shows_its_message_not_a_traceback(home, monkeypatch):
    from playground.engine.training import Trainer

    def broken(self):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(Trainer, "prepare", broken)
    at = page("pages/learn.py").run()
    at.radio(key="guess-rnn-rows").set_value(lessons.BY_KEY["rnn-rows"].choices[1]).run()
    run_button(at).click().run()
    poll_until(at, lambda a: any("disk is on fire" in e.value for e in a.error))
    assert any("no verdict" in w.value for w in at.warning)
    assert not RunStore(home).lessons()["rnn-rows"]["done"]


def test_a_run_that_cannot_start_says_why(home, monkeypatch):
    monkeypatch.setattr(lessons.LessonRun, "config", lambda self, scale: lessons.RunConfig().override(epochs=0))
    at = page("pages/learn.py").run()
    at.radio(key="guess-rnn-rows").set_value(lessons.BY_KEY["rnn-rows"].choices[1]).run()
    run_button(at).click().run()
    assert not at.exception
    assert any("Cannot start" in e.value and "epochs" in e.value for e in at.error)
    assert RunStore(home).list_runs() == []


def test_a_lesson_link_opens_that_lesson(home):
    at = page("pages/learn.py")
    at.query_params["lesson"] = "memory"
    at.run()
    assert not at.exception
    assert at.header[0].value == lessons.BY_KEY["memory"].title


# ------------------------------------------------------------------ try next: Train links at the lesson's scale
def train_link(lesson, label_start: str):
    return next(link for link in lesson.next if link.page == "train" and link.label.startswith(label_start))


def test_train_links_carry_the_lessons_scale():
    from playground.links import config_from_params

    lesson = lessons.BY_KEY["rnn-rows"]
    lstm = train_link(lesson, "🏋️ The same with an LSTM")
    cpu = lessons.link_params(lstm, {}, lesson, "cpu")
    assert cpu == {"recipe": "rnn128", "arch": "lstm", "limit": "12000", "epochs": "3"}  # as the lesson ran it
    assert lessons.link_params(lstm, {}, lesson, "gpu") == {"recipe": "rnn128", "arch": "lstm"}  # the full recipe
    tiny = config_from_params(lessons.link_params(lstm, {}, lesson, "tiny"))
    assert (tiny.data.limit, tiny.optim.epochs, tiny.device, tiny.model.arch) == (300, 1, "cpu", "lstm")
    # The memory lesson's GRU: 12,000 images on a CPU as its runs, all of them on a GPU (no baked-in limit).
    memory = lessons.BY_KEY["memory"]
    gru = train_link(memory, "🏋️ A GRU")
    assert config_from_params(lessons.link_params(gru, {}, memory, "cpu")).data.limit == 12000
    assert config_from_params(lessons.link_params(gru, {}, memory, "gpu")).data.limit == 0
    for lesson in lessons.LESSONS:
        for link in (x for x in lesson.next if x.page == "train"):
            assert link.config is not None, link.label
            for scale in ("cpu", "gpu", "tiny"):
                cfg = config_from_params(lessons.link_params(link, {}, lesson, scale))
                if link.scaled_like is None:  # only a link that says it opens the full recipe
                    assert "full recipe" in link.label or "all images" in link.label, link.label
                    assert cfg == link.config
                else:
                    run = next(r for r in lesson.runs if r.key == link.scaled_like)
                    ran = run.config(scale)
                    assert (cfg.data.limit, cfg.optim.epochs) == (ran.data.limit, ran.optim.epochs), link.label


def page_links(at) -> dict[str, str]:
    """Label (without the time estimate after " · ⏱") -> query string."""
    return {e.proto.label.split(" · ⏱")[0]: e.proto.query_string for e in at.get("page_link")}


# ------------------------------------------------------------------ the evidence: curves, live and after
def test_a_live_lesson_run_shows_its_curves_before_it_ends(home):
    """A lesson run still training (here in "another process") already shows its per-epoch curves."""
    import os

    from playground.store import HOST

    store = RunStore(home)
    lesson = lessons.BY_KEY["rnn-rows"]
    [(run, cfg)] = lesson.configs("tiny")
    run_id = store.create_run(cfg, "Learn · live")
    store.update_run(run_id, status="running", started=time.time(), pid=os.getpid(), host=HOST,
                     heartbeat=time.time())
    store.add_epoch(run_id, {"epoch": 1, "train_loss": 1.2, "train_acc": 0.55, "val_loss": 1.0, "val_acc": 0.61,
                             "l2": None, "seconds": 1.0, "samples_per_s": 100.0})
    store.add_steps(run_id, [{"step": s, "epoch": 0, "loss": 2.3 - s / 10, "l2": None} for s in range(1, 9)])
    store.save_lesson(lesson.key, guess=lesson.choices[1], run_ids=[run_id])
    at = page("pages/learn.py").run()
    assert not at.exception
    assert not any(s.value == "What happened" for s in at.subheader)  # still running
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Accuracy per epoch" in specs and "0.61" in specs  # the epoch that ended
    assert "Training loss per step" in specs  # one run: its steps too, where the jumps show
    store.update_run(run_id, status="stopped", ended=time.time())
    store.close()


def test_a_finished_lesson_keeps_its_curves_and_links_at_its_scale(home, monkeypatch):
    at = page("pages/learn.py").run()
    lesson = lessons.BY_KEY["rnn-rows"]
    at.radio(key="guess-rnn-rows").set_value(lesson.choices[0]).run()
    run_button(at).click().run()
    poll_until(at, lambda a: any(s.value == "What happened" for s in a.subheader))
    [run_id] = RunStore(home).lessons()["rnn-rows"]["run_ids"]
    epochs = RunStore(home).epochs(run_id)
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Accuracy per epoch" in specs and f"{epochs[-1]['val_acc']}"[:6] in specs
    query = page_links(at)["🏋️ The same with an LSTM"]
    label = next(e.proto.label for e in at.get("page_link") if e.proto.label.startswith("🏋️ The same"))
    assert "⏱" in label and "here" in label  # how long that run takes on this machine
    assert "limit=300" in query and "epochs=1" in query and "arch=lstm" in query  # the tiny scale of the tests
    again = page("pages/learn.py").run()  # a revisit: the curves are still there
    assert any("Accuracy per epoch" in c.proto.spec for c in again.get("plotly_chart"))
    import os  # a busy machine: said once above the links, not in each one-line label (it was cut there)

    monkeypatch.setattr(os, "getloadavg", lambda: (16.2, 16.0, 15.0))
    busy = page("pages/learn.py").run()
    assert any(c.value.startswith("⏱ The times below: this machine is busy") for c in busy.caption)
    assert not any("busy" in e.proto.label for e in busy.get("page_link"))


def test_the_conv_lesson_shows_the_first_layer_feature_maps(home):
    from playground.engine.training import Trainer

    from conftest import tiny

    store = RunStore(home)
    cfg = tiny(arch="lenet", epochs=1, limit=300)
    cnn = store.create_run(cfg, "my lenet")
    assert Trainer(cfg, store, cnn).run().status == "finished"
    store.close()
    at = page("pages/learn.py").run()
    at.radio(key=LESSON).set_value("conv").run()
    at.radio(key="guess-conv").set_value(lessons.BY_KEY["conv"].choices[0]).run()
    next(b for b in at.button if b.key == "reuse-conv").click().run()
    assert not at.exception and not at.warning
    assert any(s.value == "What its first layer sees" for s in at.subheader)
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]
    assert f"Run #{cnn}: block 1 after conv (6×28×28)" in titles and "Test digit 0: 7" in titles, titles
    assert any("filters of the trained model's first conv layer" in c.value for c in at.caption)


def test_the_overfitting_verdict_is_the_variant_with_the_smallest_gap():
    judge = lessons.BY_KEY["overfitting"].judge
    measured = {"cnn": (0.98, 0.82), "width": (0.996, 0.83), "dropout": (0.91, 0.82), "bn_l2": (0.99, 0.82)}
    results = {k: {"train_acc": tr, "test_acc": te} for k, (tr, te) in measured.items()}
    assert lessons.BY_KEY["overfitting"].choices[judge(results)] == "dropout 0.4"
    results["width"] = {"train_acc": 0.85, "test_acc": 0.84}
    assert judge(results) == 1


def test_the_noise_verdict_follows_the_measured_runs():
    judge, choices = lessons.BY_KEY["noise"].judge, lessons.BY_KEY["noise"].choices
    measured = {"clean": {"train_acc": 1.0, "test_acc": 0.933}, "noisy": {"train_acc": 0.98, "test_acc": 0.54}}
    assert choices[judge(measured)].startswith("memorizes")
    ignored = {"clean": {"train_acc": 1.0, "test_acc": 0.93}, "noisy": {"train_acc": 0.55, "test_acc": 0.9}}
    assert choices[judge(ignored)].startswith("ignores")


def test_the_look_verdict_follows_the_deletion_test():
    judge, choices = lessons.BY_KEY["look"].judge, lessons.BY_KEY["look"].choices
    assert judge({"lenet": {"test_acc": 0.92}}) is None  # the test did not run: no verdict
    assert choices[judge({"lenet": {"salient_drop": 0.67, "random_drop": 0.14}})].startswith("for the squares")
    assert choices[judge({"lenet": {"salient_drop": 0.2, "random_drop": 0.15}})].startswith("about the same")
    assert choices[judge({"lenet": {"salient_drop": 0.1, "random_drop": 0.3}})].startswith("for the random")


def test_the_look_lesson_runs_the_deletion_test_on_its_model_and_the_untrained_copy(home):
    at = page("pages/learn.py").run()
    at.radio(key=LESSON).set_value("look").run()
    at.radio(key="guess-look").set_value(lessons.BY_KEY["look"].choices[0]).run()
    run_button(at).click().run()
    poll_until(at, lambda a: any(s.value == "What happened" for s in a.subheader))
    [rec] = RunStore(home).list_runs()
    table = [df.value for df in at.dataframe if "the map's 4 squares blacked out" in df.value.columns]
    assert len(table) == 1 and list(table[0]["model"]) == ["trained", "untrained copy"]
    assert "The runs say" in text(at) or "The runs agree" in text(at), text(at)
    assert rec.checkpoint


def test_the_deletion_test_finds_what_a_trained_model_uses(trained):
    """Issue 22's check: blacking out the squares IG credits most lowers the true class's probability more
    than as many random inked squares (lstm64, 200 test digits; bench/README.md has LeNet over 5 seeds)."""
    from playground import explain
    from playground.inference import load_checkpoint

    loaded = load_checkpoint(trained.checkpoint)
    got = explain.deletion_scores(loaded.model, loaded.config)
    assert got["salient_drop"] > got["random_drop"] + 0.2, got
    assert abs(got["untrained_salient_drop"]) < 0.05 and abs(got["untrained_random_drop"]) < 0.05, got


def test_the_data_verdict_follows_the_measured_runs():
    judge, choices = lessons.BY_KEY["data"].judge, lessons.BY_KEY["data"].choices
    assert choices[judge({"l2": {"test_acc": 0.835}, "more": {"test_acc": 0.852}})] == "four times the data"
    assert choices[judge({"l2": {"test_acc": 0.84}, "more": {"test_acc": 0.845}})].startswith("about the same")
    assert choices[judge({"l2": {"test_acc": 0.86}, "more": {"test_acc": 0.84}})].startswith("L2")
    assert judge({"l2": {"test_acc": 0.86}}) is None


# ------------------------------------------------------------------ claims vs data
NUMBER = re.compile(r"(\d+(?:\.\d+)?)(?:–(\d+(?:\.\d+)?))?\s*(%|points?\b)")


def test_measured_equals_the_bench_results_it_cites():
    from pathlib import Path

    from playground.measured import MEASURED, SHORT

    results = Path(__file__).resolve().parents[1] / "bench" / "results"
    for key, source in MEASURED.items():
        data = json.loads((results / source.file).read_text())
        table = data["lessons"][key] if "lessons" in data else data["configs"]
        for run, metrics in source.runs.items():
            entry = table[(source.entries or {}).get(run, run)]
            assert entry.get("seeds", entry.get("runs")) == source.seeds, (key, run)
            recorded = {m: (v["min"], v["max"], v["mean"]) for m, v in entry.items() if m in SHORT and v}
            assert metrics == recorded, (key, run, source.file)


def test_lesson_texts_type_no_measured_number():
    """Every percentage or point count in a lesson's text is a field filled from the measured table."""
    for lesson in lessons.LESSONS:
        for field in ("asks", "explanation"):
            template = lessons.TEMPLATES.get((lesson.key, field))
            if template is None:  # settings ("drop 20% of the signal") may be typed where no measurement is
                assert field == "asks" or not NUMBER.search(lesson.explanation), lesson.key
                continue
            typed = NUMBER.search(re.sub(r"\{[^}]*\}", "", template))
            assert typed is None, (lesson.key, field, typed and typed.group(0))


def _derivable(key: str) -> set[str]:
    """Every number a text about lesson `key` may state: each measured low, high, mean, span and the
    differences between two runs' spreads, in % or points, at 0 or 1 decimal."""
    from playground import measured

    spreads = [getattr(run, m) for k in (key, *measured.ALSO.get(key, ()))
               for run in measured.runs(k).values() for m in vars(run)]
    values = [v for s in spreads for v in (s.low, s.high, s.mean, s.high - s.low)]
    values += [v for a in spreads for b in spreads for v in (a.low - b.high, a.high - b.low, a.mean - b.mean)]
    values += [measured.CHANCE]
    return {f"{v * 100:.{d}f}" for v in values for d in (0, 1)}


def test_every_number_in_a_lesson_text_is_a_measured_one():
    for lesson in lessons.LESSONS:
        if lesson.key not in lessons.MEASURED:
            continue
        allowed = _derivable(lesson.key)
        for field in ("asks", "explanation"):
            if field == "asks" and (lesson.key, field) not in lessons.TEMPLATES:
                continue  # settings only
            for low, high, _ in NUMBER.findall(getattr(lesson, field)):
                assert {low, high or low} <= allowed, (lesson.key, field, low, high)


def test_the_qualitative_words_match_the_measured_data():
    from playground.lessons import HOLDS
    from playground.measured import CHANCE, runs

    over = runs("overfitting")
    text = lessons.BY_KEY["overfitting"].explanation
    # "the smallest in every seed": dropout's highest gap under every other variant's lowest
    assert ("the smallest in every seed" in text) == all(over["dropout"].gap.high < r.gap.low
                                                          for k, r in over.items() if k != "dropout")
    assert over["width"].gap.mean >= over["cnn"].gap.mean and over["bn_l2"].gap.mean >= over["cnn"].gap.mean
    tests = [r.test.mean for r in over.values()]
    assert max(tests) - min(tests) < over["cnn"].gap.mean - over["dropout"].gap.mean  # "barely moves"
    memory, slow = runs("memory"), runs("memory-lr")
    assert memory["rnn_delay"].test.mean < 2 * CHANCE  # "near chance"
    assert min(memory["lstm_delay"].test.low, slow["lstm_delay"].test.low) >= HOLDS  # "the LSTM holds at both"
    assert slow["rnn_delay"].test.mean < slow["rnn_plain"].test.mean  # "on average still below"
    sgd = runs("optimizer")["sgd"]
    assert sgd.test.high < 2 * CHANCE  # plain SGD "sits near chance"
    noisy = runs("noise")["noisy"]
    assert noisy.val.high < noisy.best_val.low  # "at its best ..., then falling to ..."
    data = runs("data")
    text = lessons.BY_KEY["data"].explanation
    assert ("more data won in every seed" in text) == (data["l2"].test.high < data["more"].test.low)
    assert abs(data["l2"].test.mean - data["plain"].test.mean) < data["plain"].test.high - data["plain"].test.low
    assert data["l2"].train.mean - data["l2"].test.mean < data["plain"].train.mean - data["plain"].test.mean


def test_lesson_7_quotes_early_stopping_as_measured():
    """Issue 29: the noisy run with early stopping, from the bench file, and "keeps much" only where every seed did."""
    from playground.measured import runs

    es = runs("noise-es")
    text = lessons.BY_KEY["noise"].explanation
    assert es["noisy_es"].test.pct in text and es["noisy"].test.pct in text and es["noisy_es"].kept.whole in text
    assert es["clean_es"].test.pct in text and es["clean"].test.pct in text
    assert "keeps much of what the true labels teach" in text and es["noisy_es"].test.low > es["noisy"].test.high
    link = next(link for link in lessons.BY_KEY["noise"].next if "early stopping" in link.label)
    assert link.config.optim.patience == lessons.NOISE_PATIENCE
    from pathlib import Path

    recorded = json.loads((Path(__file__).resolve().parents[1] / "bench" / "results"
                           / "settings-early-stopping.json").read_text())["configs"]["noisy+patience=5"]["config"]
    assert recorded["patience"] == lessons.NOISE_PATIENCE and recorded["label_noise"] == 0.5


def test_the_curve_story_is_this_runs_own_history():
    rows = [{"epoch": 0, "val_acc": 0.58}, {"epoch": 1, "val_acc": 0.74}, {"epoch": 2, "val_acc": 0.799}]
    assert lessons.curve_story(rows) == "58.0% → 74.0% → 79.9%"
    long = [{"epoch": e, "val_acc": v} for e, v in enumerate([0.5, 0.7, 0.9, 0.8, 0.7, 0.6, 0.6, 0.58])]
    assert lessons.curve_story(long) == "best 90.0% at epoch 3 → 58.0% at the last (8)"
    assert lessons.curve_story([]) == "–"


def test_the_gap_lessons_chart_the_gap_and_list_it(home):
    at = page("pages/learn.py").run()
    at.radio(key=LESSON).set_value("data").run()
    at.radio(key="guess-data").set_value(lessons.BY_KEY["data"].choices[0]).run()
    run_button(at).click().run()
    poll_until(at, lambda a: any(s.value == "What happened" for s in a.subheader), seconds=120)
    assert not at.exception
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]
    assert titles[0] == "Generalization gap", titles
    table = at.table[0].value  # a table that wraps (Chromium: test_browser_fit.py), not a grid cut at the right
    assert "gap (train − val)" in table.columns and table["gap (train − val)"].str.endswith("points").all()
    assert "this run's validation accuracy" in table.columns and "%" in table["this run's validation accuracy"][0]
    assert any("how we measured" in c.value for c in at.caption)
    assert any(s.value.startswith("📏 How we measured") for s in at.subheader)


def test_the_why_numbers_equal_their_bench_file():
    from pathlib import Path

    from playground.measured import WHY

    data = json.loads((Path(__file__).resolve().parents[1] / "bench" / "results" / WHY.file).read_text())
    assert (list(WHY.test_acc), WHY.a_only, WHY.b_only, WHY.test_images, WHY.map_images) == (
        data["test_acc"], data["a_only"], data["b_only"], data["test_images"], data["map_images"])
    assert (WHY.trained, WHY.untrained) == (data["pca_separation"]["trained"], data["pca_separation"]["untrained"])
    assert data["lesson"] == "look" and WHY.recipe.lower() == data["recipe"]


def test_learner_captions_cite_no_bench_file():
    """Issue 29: text shown to learners links to How we measured, never to a bench file (docstrings and comments
    may: they are for developers); How we measured itself names the result files its numbers come from."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cited = []
    for path in [*root.glob("pages/*.py"), *(p for p in root.glob("ui/*.py") if p.name != "measured_view.py")]:
        tree = ast.parse(path.read_text())
        docs = {id(node.body[0].value) for node in ast.walk(tree)
                if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                and node.body and isinstance(node.body[0], ast.Expr)}
        cited += [f"{path.name}: {node.value[:60]}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                  and "bench/" in node.value]
    assert cited == []


def test_how_we_measured_shows_early_stopping_and_the_why_numbers(home):
    from playground.measured import WHY, runs

    at = page("pages/learn.py").run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "Lesson 7 with and without early stopping" in text and WHY.disagreement() in text
    assert WHY.separation() in text
    tables = [d.value for d in at.table]
    kept = [t for t in tables if "epoch kept (early stopping)" in t.columns]
    column = kept[0]["epoch kept (early stopping)"] if kept else []
    assert any(str(cell).startswith(runs("noise-es")["noisy_es"].kept.whole) for cell in column)


def test_a_busy_machine_is_said_beside_the_lessons_estimate(home, monkeypatch):
    """Issue 29: on a loaded machine the estimate says it assumes the speed measured stays."""
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (16.2, 16.0, 15.0))
    busy = [c.value for c in page("pages/learn.py").run().caption if c.value.startswith("⏱")]
    assert busy and all("this machine is busy now (load 16 on 2 cores)" in c for c in busy), busy
    monkeypatch.setattr(os, "getloadavg", lambda: (0.4, 0.5, 0.5))
    quiet = [c.value for c in page("pages/learn.py").run().caption if c.value.startswith("⏱")]
    assert quiet and not any("busy" in c for c in quiet), quiet
