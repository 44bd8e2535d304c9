"""Issue 31: Back returns to the previous view (page), not the previous edit. Streamlit pushes a browser history
entry for every st.query_params write; the pages' settings go to the URL in place (ui.navigation.show_in_url),
so a reload still shows them. AppTest checks that no edit sends such a write; Chromium checks Back itself."""
import pytest
from streamlit.runtime.state.query_params import QueryParams

from playground.engine.training import Trainer
from playground.lessons import LESSONS
from playground.store import RunStore
from ui.inside_pick import GRADIENT
from ui.lesson_view import LESSON

from browser import ARTIFACTS, browser_page, require_chromium, streamlit_server, wait_idle
from conftest import app_page, inside_view, tiny


@pytest.fixture
def pushes(monkeypatch):
    """The query strings runs send the browser through st.query_params (each a new history entry there)."""
    sent = []
    send = QueryParams._send_query_param_msg

    def record(self):
        sent.append(str(self))
        send(self)

    monkeypatch.setattr(QueryParams, "_send_query_param_msg", record)
    return sent


def url_scripts(at) -> list[str]:
    return [e.proto.body for e in at.get("html") if "replaceState" in e.proto.body]


def test_train_form_edits_go_to_the_url_in_place(home, pushes):
    at = app_page("pages/train.py").run()
    at.sidebar.selectbox(key="f_arch").set_value("cnn").run()
    at.sidebar.number_input(key="f_epochs").set_value(4).run()
    at.sidebar.number_input(key="f_lr").set_value(0.003).run()
    assert not at.exception and pushes == []
    edited = {k: at.query_params.get(k) for k in ("arch", "epochs", "lr")}
    assert edited == {"arch": "cnn", "epochs": "4", "lr": "0.003"}
    [script] = url_scripts(at)
    assert "arch=cnn" in script and "epochs=4" in script and '"train"' in script


def test_picking_a_lesson_goes_to_the_url_in_place(home, pushes):
    at = app_page("pages/learn.py").run()
    at.radio(key=LESSON).set_value(LESSONS[2].key).run()
    assert not at.exception and pushes == [] and at.query_params["lesson"] == LESSONS[2].key


def test_insides_picks_go_to_the_url_in_place(home, pushes):
    store = RunStore(home)
    ids = []
    for arch in ("gru", "rnn"):
        cfg = tiny(arch=arch, epochs=1, limit=300)
        ids.append(store.create_run(cfg, arch))
        assert Trainer(cfg, store, ids[-1]).run().status == "finished"
    at = app_page("pages/inside.py")
    at.query_params.update({"model": str(ids[0]), "input": "drawing"})  # Draw's link, without a drawing here
    at.run()
    at.selectbox(key="inside_other").set_value("nothing").run()
    inside_view(at, GRADIENT)  # a click on a tab
    assert not at.exception and pushes == []
    assert dict(at.query_params) == {"model": str(ids[0]), "vs": "nothing", "view": "gradient"}


SIDEBAR_VALUES_JS = """() => Object.fromEntries([...document.querySelectorAll('[data-testid=stSidebar] input')]
                                .map(i => [i.getAttribute('aria-label'), i.value]))"""
EDITED = {"Architecture": "cnn", "Epochs": "4", "Learning rate": "0.00300"}
URL_SAYS_JS = """(want) => { const q = new URLSearchParams(location.search);
                             return Object.entries(want).every(([k, v]) => q.get(k) === v); }"""


def form(page) -> dict[str, str]:
    values = page.evaluate(SIDEBAR_VALUES_JS)
    return {k: values.get(k) for k in EDITED}


def sidebar_to(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    wait_idle(page, 60)


def on_train(page) -> None:
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    wait_idle(page, 60)


def type_in(page, label: str, value: str) -> None:
    page.get_by_label(label, exact=True).fill(value)
    page.get_by_label(label, exact=True).press("Enter")
    wait_idle(page, 60)


@pytest.mark.browser
def test_back_after_three_edits_returns_to_the_page_before(tmp_path):
    """Home, Train by the sidebar, three settings changed: one Back is Home again (it took four: one per edit, one
    for the bare URL). A reload keeps the edits (the URL has them), Forward shows Train as it was left, and a lesson
    picked on Learn is no history entry either."""
    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(tmp_path / "home", ARTIFACTS / "history-back-server.log") as (url, _), \
            browser_page("history-back") as page:
        page.goto(url)
        page.get_by_role("heading", name="Playground").wait_for(timeout=60_000)
        wait_idle(page, 60)
        sidebar_to(page, "Train")
        on_train(page)
        page.get_by_label("Architecture", exact=True).click()
        page.get_by_role("option", name="cnn", exact=True).click()
        wait_idle(page, 60)
        type_in(page, "Epochs", "4")
        type_in(page, "Learning rate", "0.003")
        page.wait_for_function(URL_SAYS_JS, arg={"arch": "cnn", "epochs": "4", "lr": "0.003"}, timeout=30_000)
        assert form(page) == EDITED
        page.screenshot(path=str(ARTIFACTS / "history-train-edited.png"))  # the URL's script shows nothing

        page.reload()  # nothing lost on refresh: a new session reads the form back from the URL
        on_train(page)
        assert form(page) == EDITED

        page.go_back()
        page.wait_for_url(lambda u: u.rstrip("/") == url, timeout=30_000)
        page.get_by_role("heading", name="Playground").wait_for(timeout=30_000)
        page.go_forward()
        page.wait_for_url("**/train?**", timeout=30_000)
        on_train(page)
        assert form(page) == EDITED

        sidebar_to(page, "Learn")
        picker = page.get_by_test_id("stRadio").filter(has_text=f"1. {LESSONS[0].title}")  # a lesson text names one too
        picker.get_by_text(f"3. {LESSONS[2].title}", exact=True).click()
        page.wait_for_function(URL_SAYS_JS, arg={"lesson": LESSONS[2].key}, timeout=30_000)
        wait_idle(page, 60)
        page.go_back()
        page.wait_for_url("**/train?**", timeout=30_000)
        on_train(page)
        assert form(page) == EDITED


@pytest.mark.browser
def test_back_after_three_compare_selections_returns_home_and_a_reload_keeps_them(tmp_path):
    """Issue 31: each change of Compare's run selection pushed a history entry, so Back stepped through the
    selections. Home, Compare by the sidebar, three runs added: one Back is Home; a reload keeps the selection."""
    import re

    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    store = RunStore(tmp_path / "home")
    ids = [store.create_run(tiny(l2=l2), f"l2 {l2}", status="finished") for l2 in (0.0, 0.01, 0.02, 0.05, 0.1)]
    store.close()
    with streamlit_server(tmp_path / "home", ARTIFACTS / "history-compare-server.log") as (url, _), \
            browser_page("history-compare") as page:
        page.goto(url)
        page.get_by_role("heading", name="Playground").wait_for(timeout=60_000)
        wait_idle(page, 60)
        sidebar_to(page, "Compare")
        picker = page.get_by_test_id("stMultiSelect").filter(has_text="Runs to compare")
        picker.wait_for(timeout=60_000)
        tags = picker.locator("[data-tag]")
        assert tags.count() == 2  # the two newest runs, by default
        for run_id in ids[:3]:
            picker.locator("input").click()
            page.get_by_role("option", name=re.compile(rf"#{run_id}\b")).click()
            page.keyboard.press("Escape")
            wait_idle(page, 60)
        chosen = ",".join(map(str, [ids[4], ids[3], *ids[:3]]))
        page.wait_for_function(URL_SAYS_JS, arg={"ids": chosen}, timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "history-compare-selected.png"))

        page.reload()  # a new session reads the selection back from the URL
        picker.wait_for(timeout=60_000)
        wait_idle(page, 60)
        assert tags.count() == 5 and page.evaluate("() => location.search") == f"?ids={chosen.replace(',', '%2C')}"

        page.go_back()
        page.wait_for_url(lambda u: u.rstrip("/") == url, timeout=30_000)
        page.get_by_role("heading", name="Playground").wait_for(timeout=30_000)
