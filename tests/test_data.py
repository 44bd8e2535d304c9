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


@pytest.mark.skipif(not data.CIFAR_SHARED.is_dir(), reason="shared CIFAR JPEGs not present")
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
