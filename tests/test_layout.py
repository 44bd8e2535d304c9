"""The library's module graph has no import circle (lazy imports inside functions count too)."""
import ast

import pytest

from conftest import ROOT

PACKAGE = ROOT / "playground"


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path):
    """Every playground module `path` imports, at any depth of its code."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("playground")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            if base.startswith("playground"):
                found.add(base)
                found |= {f"{base}.{a.name}" for a in node.names}
    return found


def import_graph():
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: sorted(m for m in imports_of(path) if m in modules and m != name) for name, path in modules.items()}


def find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in graph:
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_library_has_no_import_circle():
    assert find_cycle(import_graph()) is None


def test_the_check_sees_a_circle():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]


def test_the_engine_is_one_package():
    graph = import_graph()
    assert "playground.engine.capacity" in graph["playground.engine.remote"]
    assert "playground.engine.capacity" in graph["playground.engine.executors"]


def test_shared_session_keys_are_spelled_once_in_ui_state():
    """Keys more than one module uses live in ui/state.py; no page or component writes them as literals."""
    from ui import state

    shared = {v for k, v in vars(state).items() if k.isupper()}
    files = [p for folder in ("ui", "pages") for p in (ROOT / folder).rglob("*.py") if p.name != "state.py"]
    literals = {(str(p.relative_to(ROOT)), node.value) for p in files for node in ast.walk(ast.parse(p.read_text()))
                if isinstance(node, ast.Constant) and node.value in shared}
    assert literals == set()


SPELLED_ONCE = ("ui/study_form.py", "ui/sweep_form.py", "ui/train_form.py")  # files whose keys are constants


def test_a_components_widget_keys_are_spelled_once():
    """Issue 34: the study form spelled each key twice, to create the widget and to read it; a typo in one
    read a missing key. A key-like literal ("study_seeds") may stand once in these files: its constant."""
    import re
    from collections import Counter

    for name in SPELLED_ONCE:
        tree = ast.parse((ROOT / name).read_text())
        counts = Counter(node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                         and isinstance(node.value, str) and re.fullmatch(r"[a-z]+_[a-z0-9_]+", node.value))
        assert {k: n for k, n in counts.items() if n > 1} == {}, name


@pytest.mark.parametrize("form", ["study", "sweep"])
def test_a_forms_keys_carry_its_prefix(form):
    import importlib

    key = importlib.import_module(f"ui.{form}_form").Key
    keys = [v for k, v in vars(key).items() if k.isupper()]
    assert len(set(keys)) == len(keys) and all(k.startswith(f"{form}_") for k in keys)


def test_the_readmes_layout_names_every_library_module_and_only_files_that_exist():
    import re

    text = (ROOT / "README.md").read_text()
    start = text.index("## Layout")
    block = text[start:text.index("```", text.index("```", start) + 3)]
    named = set(re.findall(r"\b([a-z_]+\.py)\b", block))
    modules = {p.name for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    assert modules - named == set()  # a module the layout does not mention
    folders = [ROOT, PACKAGE, PACKAGE / "engine", PACKAGE / "store", ROOT / "ui"]
    assert {n for n in named if not any((f / n).exists() for f in folders)} == set()
