"""Draw's fine-tune and lesson 10 tell the same learner how they split the kept drawings (issue 31): one sentence
(own.split_note), each stating the split its code then writes into the snapshot."""
import re
from dataclasses import dataclass

import numpy as np
import pytest

import ui.draw_own
from playground import lessons, own
from tests.conftest import tiny
from ui.lesson_teach import split_words as lesson_words

# Digit counts: uneven (Draw holds out a rounded share of each), the rarest 3 (the lesson takes 3 of each)
COUNTS = (5, 3, 4, 3, 7, 3, 3, 3, 3, 6)


@dataclass(frozen=True)
class Drawing:
    id: int
    label: int
    pixels: np.ndarray


def drawings(counts=COUNTS) -> list[Drawing]:
    rng = np.random.default_rng(0)
    labels = [d for d, n in enumerate(counts) for _ in range(n)]
    return [Drawing(i + 1, y, rng.random((28, 28))) for i, y in enumerate(labels)]


def stated(text: str) -> tuple[int, int, int]:
    """(kept, trained on, held out) as a split sentence states them."""
    m = re.search(r"Of your (\d+) kept drawings it trains on (\d+) and holds out (\d+)", text)
    assert m, text
    return int(m[1]), int(m[2]), int(m[3])


def test_draws_fine_tune_states_the_split_it_writes(home, monkeypatch):
    kept = drawings()
    submitted = []
    monkeypatch.setattr(ui.draw_own, "jobs", lambda: type("Jobs", (), {"submit": lambda self, cfg, name:
                                                                       submitted.append(cfg) or 1})())
    record = type("Run", (), {"id": 1, "config": tiny(), "checkpoint": "/nowhere/base.pt"})()
    ui.draw_own.start_fine_tune(record, kept, "all", 0.01, 1, 0)
    snap = own.read_snapshot(submitted[0].data.dataset)
    text = ui.draw_own.split_words([d.label for d in kept])
    assert stated(text) == (len(kept), len(snap.train_ids), len(snap.test_ids)) == (40, 28, 12)
    assert own.split_rule() in text and "25%" in text and "leaves" not in text  # nothing left out


def test_lesson_10_states_the_split_its_fine_tunes_write(home):
    kept = drawings()
    base = type("Run", (), {"checkpoint": "/nowhere/base.pt"})()
    runs = lessons.handwriting_configs(lessons.BY_KEY["handwriting"], base, kept, "cpu")
    snap = own.read_snapshot(runs[0][1].data.dataset)
    text = lesson_words([d.label for d in kept])
    assert stated(text) == (len(kept), len(snap.train_ids), len(snap.test_ids)) == (40, 20, 10)
    per_digit = len(snap.train_ids) // 10
    assert own.split_rule(per_digit) in text and f"leaves {40 - 30} out" in text  # the rarest has 3: 10 unused
    assert f"by {1 / len(snap.test_ids):.0%}" in text


@pytest.mark.parametrize("words", [ui.draw_own.split_words, lesson_words])
def test_both_say_it_in_one_sentence(words):
    """The same words around the numbers and the rule: a learner reads one statement, not two."""
    text = words([d.label for d in drawings()])
    first = text[:text.index("%.") + 2]
    shape = re.sub(r"\(.*?\)", "(rule)", re.sub(r"\d+", "N", first))
    assert shape.startswith("Of your N kept drawings it trains on N and holds out N")
    assert shape.endswith("(rule): it never trains on the held-out ones, and one of them read differently moves "
                          "their accuracy by N%.")


def test_too_few_drawings_say_what_is_missing_not_a_split():
    text = ui.draw_own.split_words([0, 0, 1])
    assert "not enough yet" in text and "'1' has 1" in text and "trains on" not in text
