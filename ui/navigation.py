"""The app's frame (page config, navigation) and the guard every page starts with.

`require_app()`: a deep link to a fresh server (/draw) runs the page without app.py (Streamlit's legacy
`pages/` mode, until a session calls `st.navigation`); the guard draws the frame around it instead.

The URL: each page owns its query parameters (playground.links.PAGE_PARAMS) and reads them only when it
is *arrived at* (first run, from another page, Back/Forward: a rerun's URL may lag). `show_in_url` rewrites
the browser's current history entry in place, so a history entry is a page the user went to, not an edit.
"""
from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.state.session_state_proxy import get_session_state

from playground.links import own_params

_run = threading.local()  # each script run has its own thread
LAST_PAGE = "nav_last_page"  # the url path of the page this session ran last
# Widget keys whose values outlive their page: Train's form ("f_*", its recipe box too), Draw's models and pen,
# Compare's filters, Inside's picks (Learn's lesson follows its link instead). Widgets whose call passes a
# default `value=` stay out: assigning their key warns on the page.
KEPT_ACROSS_PAGES = ("f_", "draw_models", "draw_detail", "draw_brush", "filter_", "inside_model",
                     "inside_other", "inside_source", "inside_index", "inside_view")
# Pages whose URL is cleared as they open: a link's own keys are read once then (link_params), any other query
# parameter there is another page's. Draw writes its models back after (a reload reads them as a link).
PARAMLESS = ("", "draw")
KEPT = "nav_kept"  # a plain dict, no widget's: the last value of each key above, restored when Streamlit drops it


HOME_PATH = ""  # the default page's url_path


def pages() -> list:
    """The app's pages (new objects each run: st.Page objects can run once)."""
    return [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/learn.py", title="Learn", icon="🎓", url_path="learn"),
        st.Page("pages/train.py", title="Train", icon="🏋️", url_path="train"),
        st.Page("pages/compare.py", title="Compare", icon="📊", url_path="compare"),
        st.Page("pages/draw.py", title="Draw", icon="✏️", url_path="draw"),
        st.Page("pages/inside.py", title="Inside", icon="🔬", url_path="inside"),
    ]


@contextlib.contextmanager
def through_app() -> Iterator[None]:
    """Marks the pages run inside this block as started by app.py."""
    _run.in_app = True
    try:
        yield
    finally:
        _run.in_app = False


def _history_navigation() -> bool:
    """This run was started by the browser's Back or Forward. Streamlit (pinned in requirements.txt) marks
    such a rerun on its run context; no public API says so, and a missing attribute reads as False."""
    return bool(getattr(get_script_run_ctx(), "is_history_navigation", False))


def frame():
    """What app.py draws around every page; returns the page to run."""
    st.set_page_config(page_title="Playground", page_icon="🧪", layout="wide")
    page = st.navigation(pages())
    if page.url_path != HOME_PATH:  # Home draws text only; every other page may draw a chart or a table
        import ui.preload  # noqa: F401
    _run.url_slot = st.empty()  # where this run's show_in_url puts its script: one element, the last call's
    s = st.session_state
    keep_widget_values(s, rerun=s.get(LAST_PAGE) == page.url_path)
    _run.page = page.url_path
    history = _history_navigation()
    _run.arrived = s.get(LAST_PAGE) != page.url_path or history
    # A link's keys (a lesson's "Draw …" names its model), read before the URL is cleared; not on Back/Forward
    _run.link = own_params(page.url_path, st.query_params.to_dict()) \
        if _run.arrived and not history and page.url_path in PARAMLESS else {}
    if page.url_path in PARAMLESS and st.query_params:  # e.g. Inside's ?model=3&input=drawing after Back to Draw
        show_in_url({})
    s[LAST_PAGE] = page.url_path
    return page


def keep_widget_values(s, rerun: bool) -> None:
    """Each kept widget value survives pages that do not draw it. Streamlit forgets a widget's value at the end
    of a run that does not draw it unless that run assigns it, and assigning was not enough: the first run of
    another page reads some of the page left behind at their widget's default (Train's activation, set by a
    recipe and never touched, read 'tanh' again), and a sidebar click lost the whole form (lstm64 again).
    So a rerun of one page copies its values into a dict of Streamlit's no widget owns, and every run puts
    them back from there."""
    kept = s.setdefault(KEPT, {})
    for key in [k for k in s if isinstance(k, str) and k.startswith(KEPT_ACROSS_PAGES)]:
        with contextlib.suppress(KeyError, AttributeError):  # listed, but no value yet
            if rerun:  # the values the page just drew, with the user's edit of this run
                kept[key] = s[key]
            else:  # the page left after one run (a link): what it drew, unless a rerun already kept a value
                kept.setdefault(key, s[key])
    for key, value in kept.items():
        s[key] = value  # assigned in this run, so kept though this page does not draw it


def arrived() -> bool:
    """Whether this run opens the page (see the module's note): the only runs that read the URL. A fragment's
    rerun (a stroke on Draw) never does: it runs in a thread of its own, without the frame, and read as an
    arrival it gave the canvas the previous run's strokes back as its start, so a second stroke was undone and
    the canvas flipped between the two drawings, rerun after rerun (found in Chromium)."""
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.fragment_ids_this_run:
        return False
    return getattr(_run, "arrived", True)


def link_params() -> dict[str, str]:
    """The keys of a link that opened a page which keeps nothing in the URL (PARAMLESS), as it opened it."""
    return getattr(_run, "link", {})


def url_params() -> dict[str, str]:
    """This page's own query parameters in the URL (another page's keys left out)."""
    return own_params(getattr(_run, "page", ""), st.query_params.to_dict())


# Rewrites the address bar in place (history.replaceState) when it says something else. Only while the browser
# is still on the page that wrote it (an old run's script must not rewrite the page the user went to since);
# the app's embed parameters are kept. The style hides the element: it shows nothing, and takes no gap.
_REPLACE_URL = """<style>[data-testid="stElementContainer"]:has(script[data-url]) {{ display: none; }}</style>
<script data-url>(() => {{
  const path = {path}, here = window.location;
  if (here.pathname.replace(/^\\/+|\\/+$/g, "") !== path) return;
  const embed = [...new URLSearchParams(here.search)].filter(([k]) => /^embed(_options)?$/i.test(k));
  const query = [{query}, new URLSearchParams(embed).toString()].filter(Boolean).join("&");
  const search = query ? "?" + query : "";
  if (here.search === search) return;
  window.history.replaceState(window.history.state, "", here.pathname + search + here.hash);
}})();</script>"""


def _js(text: str) -> str:
    """A JS string literal that cannot end the script element it is in."""
    return json.dumps(text).replace("</", "<\\/")


def show_in_url(params: dict[str, str]) -> None:
    """Make the URL say `params` (this page's view) and nothing else, in the browser's current history entry.
    Streamlit pushes a history entry for each st.query_params write, so each edit of a form was one more Back
    (issue 31); here the address bar is rewritten in place by a script, and the session's copy of the URL
    (st.query_params) set without telling the browser. Back then leaves the page, while a reload, a copied
    link or Back/Forward to this page still carries its settings."""
    with get_session_state().query_params() as qp:
        qp.clear_with_no_forward_msg(preserve_embed=True)
        for key, value in params.items():
            qp.set_with_no_forward_msg(key, value)
    query = urlencode(params)
    ctx = get_script_run_ctx()
    if ctx is not None:
        ctx.query_string = query  # the URL this run leaves the browser at (as a write through st.query_params)
    slot = getattr(_run, "url_slot", None) or st.empty()  # called from a page's own run, not from a fragment's
    base = st.get_option("server.baseUrlPath") or ""
    path = "/".join(part for part in (base.strip("/"), getattr(_run, "page", "")) if part)
    slot.html(_REPLACE_URL.format(path=_js(path), query=_js(query)), unsafe_allow_javascript=True)


def put_in_url(key: str, value: str | None) -> None:
    """One query parameter of this page set (removed for None), its others kept; in place, as show_in_url."""
    params = url_params()
    if value is None:
        params.pop(key, None)
    else:
        params[key] = value
    show_in_url(params)


def require_app() -> None:
    """The app's frame around this page if Streamlit ran it on its own (legacy pages/ mode)."""
    if not getattr(_run, "in_app", False):
        # In app.py's place for its "Loading…" line: without it every element of this first run sat one place
        # before where app.py's runs put it, so the first rerun remounted them all and Draw's canvas came back
        # blank (issue 31).
        st.empty()
        with through_app():
            frame().run()  # st.navigation: from now on every session ignores pages/
        st.stop()  # the page ran inside the frame just now
