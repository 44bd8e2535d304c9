"""Your own data (issue 33): snapshots of kept drawings, their held-out split, export/import, and fine-tunes."""
import io
import zipfile

import numpy as np
import pytest
import torch

from playground import own
from playground.config import ConfigError, RunConfig, validate
from playground.data import load_dataset, spec
from playground.engine import finetune
from playground.engine.finetune import output_layer
from playground.engine.training import Trainer
from tests.conftest import tiny


def _examples(n_per_class=4, classes=own.DIGITS, start=0):
    """Distinct MNIST test images as 'drawings': (ids, labels, (28, 28) uint8 pixels)."""
    ds = load_dataset("mnist")
    ids, labels, pixels = [], [], []
    for c in classes:
        idx = (ds.test_y == int(c)).nonzero().flatten()[start:start + n_per_class]
        for i in idx.tolist():
            ids.append(i)
            labels.append(int(c))
            pixels.append(ds.test_x[i, 0].numpy())
    return ids, labels, pixels


def test_split_holds_out_a_quarter_of_each_class_by_drawing_and_is_seeded():
    ids, labels = list(range(40)), [i % 4 for i in range(40)]
    train, test = own.split_ids(ids, labels)
    assert sorted(train + test) == ids and not set(train) & set(test)
    assert [sum(1 for i in test if labels[i] == c) for c in range(4)] == [2, 2, 2, 2]  # round(0.25 x 10)
    assert own.split_ids(ids, labels) == (train, test)
    assert own.split_ids(ids, labels, seed=1) != (train, test)
    train, test = own.split_ids([1, 2, 3], [0, 0, 1])  # a class of one is trained on, never all held out
    assert len(test) == 1 and test[0] in (1, 2) and 3 in train


def test_a_snapshot_is_an_imagefolder_named_by_its_content(home):
    ids, labels, pixels = _examples()
    snap = own.write_snapshot(ids, labels, pixels)
    assert snap.path.parent == home / "own" and snap.name.startswith("digits-")
    assert own.write_snapshot(ids, labels, pixels) == snap  # same content, same snapshot
    other = own.write_snapshot(ids[:-1], labels[:-1], pixels[:-1])
    assert other.name != snap.name and snap.path.is_dir()  # the first is never changed under its runs
    ds = load_dataset(snap.dataset)
    assert ds.classes == own.DIGITS and spec(snap.dataset).shape == (1, 28, 28)
    assert (len(ds.train_y), len(ds.test_y)) == (len(snap.train_ids), len(snap.test_ids)) == (30, 10)
    held = {pixels[ids.index(i)].tobytes() for i in snap.test_ids}
    assert held == {x[0].numpy().tobytes() for x in ds.test_x}
    assert not held & {x[0].numpy().tobytes() for x in ds.train_x}
    assert validate(RunConfig().override(dataset=snap.dataset)).data.dataset == snap.dataset


@pytest.mark.parametrize("labels, pixels, match", [
    ([3] * 12, None, "at least 2 classes; there are examples of class '3' only"),
    ([3] * 11 + [4], None, "'4' has 1"),
    ([3] * 11 + [None], None, "needs a label"),
    ([3] * 6 + [4] * 6, np.zeros((12, 280, 280)), "28x28 pixels"),
])
def test_too_little_or_bad_data_is_refused_and_nothing_is_written(home, labels, pixels, match):
    pixels = list(np.zeros((len(labels), 28, 28), np.uint8) if pixels is None else pixels)
    labels = [-1 if y is None else y for y in labels]
    with pytest.raises(own.OwnDataError, match=match):
        own.write_snapshot(list(range(len(labels))), labels, pixels)
    assert not (home / "own").exists() or not any((home / "own").iterdir())


def test_own_classes_are_numbered_as_torchvision_numbers_their_folders(home):
    px = [np.full((28, 28), i, np.uint8) for i in range(4)]
    snap = own.write_snapshot([1, 2, 3, 4], [0, 0, 1, 1], px, classes=["star", "check"], name="marks")
    assert snap.classes == ("check", "star")  # sorted, as torchvision.datasets.ImageFolder sorts them
    assert {p.parent.name for p in (snap.path / "train").rglob("*.png")} | \
        {p.parent.name for p in (snap.path / "test").rglob("*.png")} == {"check", "star"}
    ds = load_dataset(snap.dataset)
    star = {int(x.max()) for x, y in zip([*ds.train_x, *ds.test_x], [*ds.train_y, *ds.test_y], strict=True)
            if int(y) == 1}
    assert star == {0, 1}  # the images kept as "star" (class 0 of the call) are class 1, "star", now


def test_own_classes_need_ten_examples_and_folder_names():
    with pytest.raises(own.OwnDataError, match="cannot name a folder"):
        own.check_class_names(["a", "../b"])
    with pytest.raises(own.OwnDataError, match="must differ"):
        own.check_class_names(["x", "x"])
    with pytest.raises(own.OwnDataError, match="'B' has 9"):
        own.check_enough([0] * 10 + [1] * 9, ["A", "B"], own.MIN_PER_OWN_CLASS)


def test_export_then_import_gives_the_same_examples(home, tmp_path):
    ids, labels, pixels = _examples(3, classes=("1", "7"))
    snap = own.write_snapshot(ids, labels, pixels, name="ones-sevens")
    with zipfile.ZipFile(io.BytesIO(own.export_zip(snap))) as z:
        z.extractall(tmp_path)
    classes, got_labels, got = own.read_folder(tmp_path / snap.name)
    assert classes == own.DIGITS
    assert sorted((y, p.tobytes()) for y, p in zip(got_labels, got, strict=True)) == \
        sorted((y, p.tobytes()) for y, p in zip(labels, pixels, strict=True))


def test_import_refuses_a_huge_or_foreign_image_by_name(tmp_path):
    from PIL import Image

    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        Image.new("L", (28, 28)).save(tmp_path / c / "0.png")
    Image.new("L", (2800, 2800)).save(tmp_path / "b" / "big.png")
    with pytest.raises(own.OwnDataError, match="big.png: 2800x2800 pixels, not 28x28"):
        own.read_folder(tmp_path)
    (tmp_path / "b" / "big.png").write_bytes(b"not a png")
    with pytest.raises(own.OwnDataError, match="big.png: not a readable image"):
        own.read_folder(tmp_path)


# ------------------------------------------------------------------ fine-tunes
@pytest.fixture
def base(store, monkeypatch):
    """A tiny MNIST model in the test's home: its checkpoint path. Forgetting is measured on 500 MNIST test images."""
    monkeypatch.setattr(finetune, "MNIST_CHECK", 500)
    cfg = tiny(hidden=16, epochs=1, limit=300)
    snap = Trainer(cfg, store, store.create_run(cfg, "base")).run()
    assert snap.status == "finished", snap.message
    return cfg, snap.result["checkpoint"]


def _fine_tune(base, snap, **over):
    cfg, path = base
    return cfg.override(**{"dataset": snap.dataset, "init_from": path, "limit": 0, "val_fraction": 0.0,
                           "batch_size": 8, "epochs": 2, **over})


def test_a_fine_tune_at_rate_zero_changes_nothing(base, home):
    snap = own.write_snapshot(*_examples())
    result = _save(_fine_tune(base, snap, lr=0.0))
    moved = result.result["fine_tune"]
    assert moved["own_before"] == moved["own_after"] and moved["mnist_before"] == moved["mnist_after"]
    start = torch.load(base[1], weights_only=True)["state_dict"]
    end = torch.load(result.result["checkpoint"], weights_only=True)["state_dict"]
    assert all(torch.equal(start[k], end[k]) for k in start)


def _save(cfg):
    """Run `cfg` in the test's store: its final snapshot (the result names the checkpoint it wrote)."""
    from playground import settings
    from playground.store import RunStore

    store = RunStore(settings.current().home)
    snap = Trainer(cfg, store, store.create_run(cfg, "fine-tune")).run()
    store.close()
    assert snap.status == "finished", snap.message
    return snap


def test_last_layer_only_leaves_every_other_weight_bit_identical(base, home):
    snap = own.write_snapshot(*_examples())
    cfg = _fine_tune(base, snap, lr=0.05, train_layers="last")
    start = torch.load(base[1], weights_only=True)["state_dict"]
    end = torch.load(_save(cfg).result["checkpoint"], weights_only=True)["state_dict"]
    changed = {k for k in start if not torch.equal(start[k], end[k])}
    assert changed == {"head.weight", "head.bias"}
    assert output_layer(Trainer(cfg).prepare().model).weight.requires_grad


def test_the_held_out_drawings_never_reach_training(base, home):
    ids, labels, pixels = _examples()
    snap = own.write_snapshot(ids, labels, pixels)
    run = Trainer(_fine_tune(base, snap, replay=50)).prepare()
    trained = {x[0].numpy().tobytes() for x in run.data.train_x.cpu()}
    held = {pixels[ids.index(i)].tobytes() for i in snap.test_ids}
    assert len(run.data.train_y) == len(snap.train_ids) + 50  # your drawings and the replayed MNIST images
    assert not held & trained
    assert {pixels[ids.index(i)].tobytes() for i in snap.train_ids} <= trained


def test_a_fine_tune_learns_the_drawings_and_says_before_and_after(base, home):
    snap = own.write_snapshot(*_examples(8))
    result = Trainer(_fine_tune(base, snap, lr=0.01, epochs=3)).run()
    moved = result.result["fine_tune"]
    assert moved["held_out"] == len(snap.test_ids) == 20 and moved["mnist_test"] == 500
    assert result.result["test_acc"] == moved["own_after"]
    assert 0 <= moved["own_before"] <= 1 and 0 <= moved["mnist_after"] <= 1


def test_a_bad_start_or_setting_is_refused_with_the_reason(base, home, tmp_path):
    snap = own.write_snapshot(*_examples())
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"junk")
    result = Trainer(_fine_tune(base, snap, init_from=str(bad))).run()
    assert result.status == "failed" and "init_from" in result.message and "bad.pt" in result.message
    result = Trainer(_fine_tune(base, snap, hidden=8)).run()
    assert result.status == "failed" and "a fine-tune keeps the model it starts from" in result.message
    with pytest.raises(ConfigError, match="needs weights to start from"):
        validate(tiny(train_layers="last"))
    with pytest.raises(ConfigError, match="use an own dataset"):
        validate(tiny(replay=10))
    with pytest.raises(ConfigError, match="learning rate"):
        validate(tiny(lr=0.0))


@pytest.mark.slow
def test_the_exported_script_reproduces_the_fine_tune_from_the_exported_folder(base, home, tmp_path, monkeypatch,
                                                                                 capsys):
    """The script of a fine-tune (init_from, last layer only, 50 MNIST images replayed), run on the snapshot as
    exported, gives the engine's test numbers exactly (on a CPU, one thread as the app trains)."""
    import sys

    from playground import codegen
    from playground.settings import Settings
    from tests.test_codegen import load_script, printed

    snap = own.write_snapshot(*_examples())
    cfg = _fine_tune(base, snap, lr=0.01, train_layers="last", replay=50)
    engine = Trainer(cfg, threads=Settings.from_env().threads_per_run).run()
    assert engine.status == "finished", engine.message
    assert codegen.script(cfg) != codegen.script(cfg.override(train_layers="all", replay=0))
    with zipfile.ZipFile(io.BytesIO(own.export_zip(snap))) as z:
        z.extractall(tmp_path / "export")
    path, module = load_script(tmp_path, cfg)
    monkeypatch.setattr(sys, "argv", [str(path), "--data", str(tmp_path / "export" / snap.name)])
    module["main"]()
    got = printed(capsys.readouterr().out)
    assert (got["test_acc"], got["test_loss"]) == (round(engine.result["test_acc"], 4),
                                                   round(engine.result["test_loss"], 4))


def test_a_fine_tune_is_never_batched_with_fresh_runs():
    from playground.engine.batched import can_batch

    cfg = tiny(arch="lenet", activation="relu", init_from="base.pt")
    assert "fine-tune" in can_batch([cfg, cfg.override(seed=2)])


def _bars(n: int = 12) -> tuple[list[int], list[int], list[np.ndarray]]:
    """Classes of your own: n upright bars and n flat dashes, each somewhere else on the 28x28."""
    rng = np.random.default_rng(0)
    pixels = []
    for i in range(2 * n):
        a = np.zeros((28, 28), np.uint8)
        r, c = rng.integers(4, 10, 2)
        if i % 2:
            a[r:r + 14, c + 5:c + 9] = 255
        else:
            a[r + 5:r + 9, c:c + 14] = 255
        pixels.append(a)
    return list(range(2 * n)), [i % 2 for i in range(2 * n)], pixels


def test_own_classes_train_from_the_train_page_and_keep_their_names(home):
    """Issue 33: a dataset of your own classes is a choice in Train's form; any architecture trains on it and its
    run speaks its class names."""
    import time

    from playground.store import RunStore
    from tests.conftest import app_page

    snap = own.write_snapshot(*_bars(), classes=["dash", "bar"], name="bars", per_class=own.MIN_PER_OWN_CLASS)
    at = app_page("pages/train.py")
    at.query_params.update({"recipe": "lenet", "dataset": snap.dataset, "epochs": "20", "batch_size": "8",
                            "lr": "0.005", "device": "cpu", "val_fraction": "0.2"})
    at.run()
    assert at.sidebar.selectbox(key="f_dataset").value == snap.dataset and not at.exception
    assert f"your own data '{snap.name}'" in at.sidebar.selectbox(key="f_dataset").options
    at.sidebar.button[0].click().run()
    store = RunStore(home)
    run = store.list_runs()[0]
    deadline = time.monotonic() + 300
    while store.get_run(run.id).status.active and time.monotonic() < deadline:
        time.sleep(0.2)
    run = store.get_run(run.id)
    assert run.status == "finished" and run.config.data.dataset == snap.dataset, run.message
    assert spec(run.config.data.dataset).classes == ("bar", "dash") and len(run.result["confusion"]) == 2
    assert run.result["test_acc"] == 1.0  # bars and dashes: a LeNet tells them apart


def test_too_few_examples_of_an_own_class_are_refused():
    ids, labels, pixels = _bars(9)
    with pytest.raises(own.OwnDataError, match="at least 10 examples"):
        own.write_snapshot(ids, labels, pixels, classes=["dash", "bar"], name="bars", per_class=own.MIN_PER_OWN_CLASS)


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _png(a: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def test_a_zipped_folder_of_own_classes_imports_as_a_dataset(home):
    ids, labels, pixels = _bars()
    files = {f"marks/{['dash', 'bar'][y]}/{i}.png": _png(p) for i, y, p in zip(ids, labels, pixels, strict=True)}
    snap = own.import_examples(*own.read_zip(_zip({**files, "__MACOSX/._x.png": b"junk", "marks/README": b"hi"})),
                               name="marks")
    assert snap.classes == ("bar", "dash") and len(snap.train_ids) + len(snap.test_ids) == 24
    again = own.read_zip(own.export_zip(snap))  # what Playground exports, it imports
    assert again[0] == snap.classes and sorted(again[1]) == sorted(load_dataset(snap.dataset).train_y.tolist()
                                                                    + load_dataset(snap.dataset).test_y.tolist())


def test_a_bad_zip_is_refused_with_the_reason_and_writes_nothing(home):
    with pytest.raises(own.OwnDataError, match="not a readable zip"):
        own.read_zip(b"PK not really")
    bomb = _zip({"a/0.png": b"\0" * (2 << 20)})  # 2 MB of zeros packs into a few KB
    with pytest.raises(own.OwnDataError, match="larger than 1 MB unpacked"):
        own.read_zip(bomb)
    with pytest.raises(own.OwnDataError, match="needs 2 to 32 classes, not 1"):
        own.import_examples(*own.read_zip(_zip({f"a/{i}.png": _png(np.zeros((28, 28), np.uint8))
                                                for i in range(12)})), name="one")
    assert not (home / "own").exists() or not any((home / "own").iterdir())


def test_the_teach_note_is_formatted_from_the_bench_files():
    """Every number the Draw page's measured note states comes from bench/results/finetune*.json via measured.py
    (tests/test_learn.py checks MEASURED equals those files)."""
    import json
    import re
    from pathlib import Path

    from playground import measured
    from ui.draw_own import measured_note

    note = measured_note()
    ft, sl = measured.runs("finetune-lr0.01"), measured.runs("finetune")
    said = [ft["all"].own_gain.pts, ft["all"].mnist_loss.pts, ft["last"].mnist_loss.pts, ft["replay"].mnist_loss.pts,
            sl["all"].own_gain.pts, sl["all"].mnist_loss.pts, ft["all"].own_before.pct0]
    assert all(s in note for s in said), note
    fast = json.loads((Path(__file__).resolve().parents[1] / "bench/results/finetune-lr0.01.json").read_text())
    assert f"lr {fast['lr']:g} for {fast['epochs']} epochs" in note
    rest = note
    slow = json.loads((Path(__file__).resolve().parents[1] / "bench/results/finetune.json").read_text())
    for s in said + [f"lr {fast['lr']:g}", f"{fast['epochs']} epochs", f"{fast['replay']} MNIST", "LSTM 64",
                     f"over {measured.MEASURED['finetune-lr0.01'].seeds} seeds", "(/learn#how-we-measured)",
                     f"{fast['configs']['all']['trained_on']['mean']:.0f} digits",
                     f"lr {slow['lr']:g} for {slow['epochs']} epochs"]:
        rest = rest.replace(s, "")
    assert not re.findall(r"\d", rest), rest  # no number typed by hand


def test_inside_shows_a_model_of_your_own_classes_with_their_names(store, home):
    """Issue 33: Inside takes a model of own classes like an MNIST one: its test images, its class names."""
    from tests.conftest import app_page, probability_bars

    snap = own.write_snapshot(*_bars(), classes=["dash", "bar"], name="bars", per_class=own.MIN_PER_OWN_CLASS)
    cfg = tiny(arch="lenet", activation="relu", dataset=snap.dataset, limit=0, epochs=3, batch_size=8)
    assert Trainer(cfg, store, store.create_run(cfg, "bars")).run().status == "finished"
    at = app_page("pages/inside.py").run()
    assert not at.exception, at.exception
    bars = probability_bars(at)
    assert bars and all(b["classes"] == ["bar", "dash"] for b in bars), bars  # a bar per class, in their order
    assert {m.value for m in at.metric} <= {"bar", "dash"}  # each model's answer: a class's name


def test_the_run_view_says_what_a_fine_tune_gained_and_forgot(base, home):
    """Issue 33: Train's view of a finished fine-tune: held-out drawings and MNIST, before and after."""
    from tests.conftest import app_page

    snap = own.write_snapshot(*_examples())
    run = _save(_fine_tune(base, snap, lr=0.01, train_layers="last", replay=20))
    moved = run.result["fine_tune"]
    from playground.store import RunStore

    run_id = RunStore(home).list_runs()[0].id
    at = app_page("pages/train.py")
    at.query_params["run"] = str(run_id)
    at.run()
    said = " ".join(c.value for c in at.caption)
    assert not at.exception and "Fine-tuned from run-1.pt (the last layer only, 20 MNIST images mixed in)" in said
    assert f"its 10 held-out drawings {moved['own_before']:.0%} → {moved['own_after']:.0%}" in said
    assert f"MNIST's 500 test images {moved['mnist_before']:.1%} → {moved['mnist_after']:.1%}" in said
