"""What a learner keeps besides runs: drawings (their own test set) and the Learn page's progress."""
from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .database import Database
from .schema import Refused


@dataclass(frozen=True)
class Drawing:
    """A kept drawing: pixels are (28, 28) floats in [0, 1]."""

    id: int
    created: float
    label: int
    pixels: np.ndarray


class KeptTables(Database):
    """The drawings and lessons tables."""

    def add_drawing(self, digit: np.ndarray | bytes, label: int) -> int:
        """Keep a drawing: (28, 28) floats in [0, 1] or uint8, or 784 raw bytes; returns its id."""
        return self._execute("INSERT INTO drawings (created, label, pixels) VALUES (?, ?, ?)",
                             (time.time(), _label(label), encode_drawing(digit)))

    def read_drawings(self) -> tuple[list[Drawing], list[int]]:
        """The kept drawings, and the ids of rows that cannot be read (a damaged row is left out, not fatal)."""
        kept, unreadable = [], []
        for r in self._rows("SELECT id, created, label, pixels FROM drawings WHERE collection IS NULL ORDER BY id"):
            try:
                kept.append(Drawing(r["id"], float(r["created"]), _stored_label(r["label"]),
                                    _decode_pixels(r["pixels"])))
            except (TypeError, ValueError):
                unreadable.append(r["id"])
        return kept, unreadable

    def list_drawings(self) -> list[Drawing]:
        """The drawings that can be read (see read_drawings)."""
        return self.read_drawings()[0]

    def relabel_drawing(self, drawing_id: int, label: int) -> bool:
        """Give a drawing a new label; False when it is no longer kept (deleted in another tab)."""
        return self._changed("UPDATE drawings SET label = ? WHERE id = ?", (_label(label), drawing_id)) > 0

    def delete_drawing(self, drawing_id: int) -> bool:
        """Delete a drawing; True only for the call that deleted it (two tabs may press Delete on one)."""
        return self._changed("DELETE FROM drawings WHERE id = ?", (drawing_id,)) > 0

    def restore_drawing(self, drawing: Drawing) -> bool:
        """Undo a delete: the drawing back under its own id. Ids are never reused (AUTOINCREMENT), so a second
        restore of the same drawing finds it there and adds nothing; returns whether it was re-added."""
        return self._changed("INSERT OR IGNORE INTO drawings (id, created, label, pixels) VALUES (?, ?, ?, ?)",
                             (drawing.id, drawing.created, _label(drawing.label),
                              encode_drawing(drawing.pixels))) > 0

    def _changed(self, sql: str, args: tuple) -> int:
        """One write statement in its own transaction; returns how many rows it changed."""
        with self._transaction() as db:
            return db.execute(sql, args).rowcount

    def drawings(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept drawings as (N, 28, 28) floats in [0, 1] and their (N,) labels."""
        kept = self.list_drawings()
        digits = np.stack([d.pixels for d in kept]) if kept else np.zeros((0, 28, 28), np.float32)
        return digits, np.array([d.label for d in kept], dtype=np.int64)

    # ------------------------------------------------------------ classes of your own (issue 33)
    def add_collection(self, name: str, classes: Sequence[str]) -> None:
        """A named set of classes of your own (letters, shapes, ✓/✗) to keep drawings in."""
        from ..own import OwnDataError, check_class_names, check_name

        try:
            name, classes = check_name(name), check_class_names(classes)
        except OwnDataError as exc:
            raise Refused(str(exc)) from None
        if name in self.collections():
            raise Refused(f"a collection named '{name}' exists already")
        self._execute("INSERT INTO collections (name, classes, created) VALUES (?, ?, ?)",
                      (name, json.dumps(list(classes)), time.time()))

    def collections(self) -> dict[str, tuple[str, ...]]:
        """Each collection's class names, by name (oldest first)."""
        return {r["name"]: tuple(_json_list(r["classes"]))
                for r in self._rows("SELECT name, classes FROM collections ORDER BY created")}

    def add_example(self, collection: str, digit: np.ndarray | bytes, label: int) -> int:
        """Keep a drawing in `collection` as its class number `label`; returns its id."""
        classes = self.collections().get(collection)
        if classes is None:
            raise Refused(f"no collection named '{collection}'")
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(classes):
            raise Refused(f"a drawing in '{collection}' is one of its {len(classes)} classes, not {label!r}")
        return self._execute("INSERT INTO drawings (created, label, pixels, collection) VALUES (?, ?, ?, ?)",
                             (time.time(), label, encode_drawing(digit), collection))

    def examples(self, collection: str) -> list[Drawing]:
        """The readable drawings kept in `collection` (a damaged row is left out, as in read_drawings)."""
        n = len(self.collections().get(collection, ()))
        out = []
        for r in self._rows("SELECT id, created, label, pixels FROM drawings WHERE collection = ? ORDER BY id",
                            (collection,)):
            try:
                if not (isinstance(r["label"], int) and 0 <= r["label"] < n):
                    raise ValueError("label out of range")
                out.append(Drawing(r["id"], float(r["created"]), r["label"], _decode_pixels(r["pixels"])))
            except (TypeError, ValueError):
                continue
        return out

    # ------------------------------------------------------------ lessons (the Learn page's progress)
    def save_lesson(self, lesson: str, guess: str | None = None, run_ids: Iterable[int] | None = None,
                    done: float | bool | None = None) -> None:
        """Create or update a lesson's progress; only the fields given change. done=True means now."""
        values: dict[str, Any] = {}
        if guess is not None:
            values["guess"] = str(guess)
        if run_ids is not None:
            values["run_ids"] = json.dumps([int(i) for i in run_ids])
        if done is not None:
            values["done"] = time.time() if done is True else float(done)
        cols = ", ".join(["lesson", *values])
        marks = ", ".join("?" * (1 + len(values)))
        action = "UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in values) if values else "NOTHING"
        self._execute(f"INSERT INTO lessons ({cols}) VALUES ({marks}) ON CONFLICT (lesson) DO {action}",
                      (str(lesson), *values.values()))

    def lessons(self) -> dict[str, dict[str, Any]]:
        """Every lesson's progress: {lesson: {"guess", "run_ids", "done"}}."""
        return {r["lesson"]: {"guess": r["guess"], "run_ids": _json_list(r["run_ids"]), "done": r["done"]}
                for r in self._rows("SELECT lesson, guess, run_ids, done FROM lessons ORDER BY lesson")}



def _json_list(text: str | None) -> list[Any]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def encode_drawing(digit: np.ndarray | bytes | bytearray | memoryview) -> bytes:
    """784 uint8 bytes from raw bytes, a uint8/integer array or floats in [0, 1] (as the Draw page makes)."""
    if isinstance(digit, (bytes, bytearray, memoryview)):
        data = bytes(digit)
        if len(data) != 28 * 28:
            raise Refused(f"a drawing is 28x28 = 784 bytes, not {len(data)}")
        return data
    a = np.asarray(digit)
    if a.shape not in ((28, 28), (784,)):
        raise Refused(f"a drawing is 28x28 pixels, not {a.shape}")
    if np.issubdtype(a.dtype, np.floating):
        # A small overshoot comes from resampling; a 0-255 float image is a caller's mistake.
        if not np.isfinite(a).all() or a.min() < -1e-3 or a.max() > 1 + 1e-3:
            raise Refused("a drawing's float pixels must be finite and in [0, 1]")
        a = (np.clip(a, 0.0, 1.0) * 255).round()
    elif not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() > 255:
        raise Refused("a drawing's pixels must be floats in [0, 1] or integers in 0-255")
    return a.astype(np.uint8).tobytes()


def _decode_pixels(blob: bytes) -> np.ndarray:
    if not isinstance(blob, bytes) or len(blob) != 28 * 28:
        raise ValueError("a drawing is 784 bytes")
    return np.frombuffer(blob, np.uint8).reshape(28, 28).astype(np.float32) / 255.0


def _stored_label(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise ValueError("a drawing's label is a digit 0-9")
    return value


def _label(label: int) -> int:
    try:
        value = int(label)
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value <= 9:
        raise Refused(f"a drawing's label is a digit 0-9, not {label!r}")
    return value
