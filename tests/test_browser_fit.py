"""In real Chromium at 1,280 px: what a canvas table or a narrow input cuts off, which only a browser shows
(issue 31: Compare's variant table was cut on the right, the learning rate unreadable in the Train form)."""
import pytest

from browser import ARTIFACTS, browser_page, require_chromium, streamlit_server, wait_idle
from conftest import tiny

pytestmark = pytest.mark.browser
WIDTH = 1280

# Each table's scrolling box (glide-data-grid draws on a canvas: its scroller's width is what the cells need).
TABLES_JS = """() => [...document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller')]
    .map(s => ({need: s.scrollWidth, have: s.clientWidth}))"""
INPUT_JS = """(label) => { const i = document.querySelector(`input[aria-label="${label}"]`);
                          return i && {need: i.scrollWidth, have: i.clientWidth, value: i.value}; }"""


@pytest.fixture(scope="module")
def study_home(tmp_path_factory):
    """A two-seed study of two variants, trained for real (the variant table reads their epochs)."""
    from playground.engine.training import Trainer
    from playground.store import RunStore

    home = tmp_path_factory.mktemp("fit")
    store = RunStore(home)
    for l2 in (0.0, 0.01):
        for seed in (0, 1):
            cfg = tiny(epochs=1, limit=200, hidden=8, l2=l2, seed=seed)
            name = f"lstm · {'none' if l2 == 0 else f'L2 λ {l2}'} · seed {seed} · study 1"
            assert Trainer(cfg, store, store.create_run(cfg, name)).run().status == "finished"
    lesson = []  # lesson 4's four runs, done (tiny stand-ins: the table's shape is the lesson's)
    for width in (4, 8, 12, 16):
        cfg = tiny(epochs=2, limit=200, hidden=width)
        lesson.append(store.create_run(cfg, f"lesson stand-in {width}"))
        assert Trainer(cfg, store, lesson[-1]).run().status == "finished"
    store.save_lesson("overfitting", run_ids=lesson)
    store.close()
    return home


def test_compares_variant_table_and_trains_learning_rate_fit_at_1280_px(study_home, tmp_path):
    require_chromium()
    with streamlit_server(study_home, tmp_path / "server.log") as (url, _), \
            browser_page("fit", width=WIDTH) as page:
        page.goto(f"{url}/compare?ids=1,2,3,4")
        page.locator('[data-testid="stDataFrame"] .dvn-scroller').first.wait_for(timeout=90_000)
        wait_idle(page)
        tables = page.evaluate(TABLES_JS)
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator('[data-testid="stDataFrame"]').first.screenshot(path=str(ARTIFACTS / "fit-compare-table.png"))
        assert tables and tables[0]["need"] <= tables[0]["have"], tables  # the variant table: nothing off the right
        # The learning rate in half the sidebar, beside its +/- buttons: its value whole (issue 31 said unreadable).
        page.goto(f"{url}/train")
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        wait_idle(page)
        page.get_by_label("Learning rate", exact=True).fill("0.00025")
        page.get_by_label("Learning rate", exact=True).press("Enter")
        wait_idle(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.get_by_label("Learning rate", exact=True).screenshot(path=str(ARTIFACTS / "fit-train-lr.png"))
        lr = page.evaluate(INPUT_JS, "Learning rate")
        assert lr and lr["value"] == "0.00025" and lr["need"] <= lr["have"], lr
        # Lesson 4's "What happened": eight columns, as a table that wraps (a grid needed ~1,400 px of 818).
        page.goto(f"{url}/learn?lesson=overfitting")
        page.get_by_text("What happened").wait_for(timeout=90_000)
        wait_idle(page)
        table = page.locator('[data-testid="stTable"]').first
        table.screenshot(path=str(ARTIFACTS / "fit-lesson-table.png"))
        fit = table.evaluate("t => ({need: t.scrollWidth, have: t.clientWidth, text: t.innerText})")
        assert fit["need"] <= fit["have"] and "our spread, gap" in fit["text"], fit


STTABLES_JS = """() => [...document.querySelectorAll('[data-testid="stTable"]')]
    .map(t => ({need: t.scrollWidth, have: t.clientWidth, text: t.innerText.slice(0, 60)}))"""


def test_lesson_tens_tables_fit_at_1280_px(tmp_path):
    """Issue 31: lesson 10 ("Teach it your handwriting"), its numbers scrolled sideways: "What happened" (three
    fine-tunes, stand-ins with their results) and its table under "How we measured", as every lesson's there."""
    from playground.lessons import LESSONS
    from playground.store import RunStore

    require_chromium()
    lesson = next(lesson for lesson in LESSONS if lesson.key == "handwriting")
    store = RunStore(tmp_path / "home")
    ids = []
    for run, after in zip(lesson.runs, (0.878, 0.946, 0.931), strict=True):
        ids.append(store.create_run(tiny(), f"Learn · {run.label}", status="finished"))
        store.update_run(ids[-1], result={"test_acc": after, "fine_tune": {
            "own_before": 0.7, "own_after": 0.9, "mnist_before": 0.953, "mnist_after": after, "held_out": 30}})
    store.save_lesson(lesson.key, guess=lesson.choices[0], run_ids=ids)
    store.close()
    with streamlit_server(tmp_path / "home", tmp_path / "server.log") as (url, _), \
            browser_page("fit-lesson-10", width=WIDTH) as page:
        page.goto(f"{url}/learn?lesson={lesson.key}")
        page.get_by_text("What happened").wait_for(timeout=90_000)
        page.get_by_text("The numbers, lesson by lesson").click()
        page.locator('[data-testid="stTable"]').filter(has_text="held-out drawings, before").first.wait_for(
            timeout=30_000)
        wait_idle(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator('[data-testid="stTable"]').first.screenshot(path=str(ARTIFACTS / "fit-lesson-10.png"))
        measured = page.locator('[data-testid="stTable"]').filter(has_text="held-out drawings, before").first
        measured.scroll_into_view_if_needed()
        measured.screenshot(path=str(ARTIFACTS / "fit-lesson-10-measured.png"))
        tables = page.evaluate(STTABLES_JS)
        assert any("your held-out drawings" in t["text"] for t in tables), tables
        assert len(tables) > 10 and not page.locator('[data-testid="stDataFrame"]').count()
        assert all(t["need"] <= t["have"] for t in tables), [t for t in tables if t["need"] > t["have"]]
