"""Issue 31's leftovers on Train, Compare and the study/sweep forms: each a fix with the test that shows it."""
import json

from test_compare import trained_runs

from conftest import app_page as page
from conftest import tiny


def _toolbars(at) -> list[str]:
    """The keys (or specs' starts) of the page's Plotly charts that would show Plotly's toolbar on hover."""
    return [c.proto.id or c.proto.spec[:80] for c in at.get("plotly_chart")
            if json.loads(c.proto.config or "{}").get("displayModeBar") is not False]


def test_train_shows_no_plotly_toolbar_over_its_charts(trained):
    """The step-loss chart's toolbar covered its title and legend on hover (the other charts hid it already)."""
    at = page("pages/train.py")
    at.query_params["run"] = str(trained.id)
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) >= 3  # steps, epochs, confusion at least
    assert _toolbars(at) == []


def test_compare_shows_no_plotly_toolbar_over_its_charts(home, store):
    """Compare's accuracy, gap and "which settings matter" charts showed Plotly's toolbar over their titles."""
    ids = trained_runs(store, [(tiny(epochs=1, limit=200, l2=l2), f"l2 {l2}") for l2 in (0.0, 0.01, 0.03)])
    at = page("pages/compare.py").run()
    at.multiselect(key="compare_ids").set_value(ids).run()
    assert not at.exception
    keys = [c.proto.id for c in at.get("plotly_chart")]
    assert len(keys) >= 5 and any("parallel-settings" in k for k in keys), keys  # curves, gap, the three below
    assert _toolbars(at) == []


TRAIN_COMPARE_LEARN = ("pages/train.py", "pages/compare.py", "pages/learn.py", "ui/run_view.py", "ui/compare_view.py",
                       "ui/lesson_view.py", "ui/run_report.py", "ui/lr_finder_view.py")


def plotly_calls_without_static(source: str) -> list[int]:
    """Lines of the st.plotly_chart calls in `source` that do not pass config=charts.STATIC."""
    import ast

    return [n.lineno for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "plotly_chart"
            and not any(k.arg == "config" and ast.unparse(k.value) == "charts.STATIC" for k in n.keywords)]


def test_every_chart_on_train_compare_and_learn_passes_the_one_toolbar_setting():
    """One helper (charts.STATIC) everywhere, including charts the AppTests above do not reach (a live lesson)."""
    from conftest import ROOT

    missing = {f: lines for f in TRAIN_COMPARE_LEARN if (lines := plotly_calls_without_static((ROOT / f).read_text()))}
    assert missing == {}
    assert plotly_calls_without_static('st.plotly_chart(fig, width="stretch")') == [1]  # the check can fail
