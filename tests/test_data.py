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


def test_user_image_folder_is_used_first(monkeypatch, tmp_path):
    from PIL import Image
    for split in ("train", "test"):
        for cls in ("airplane", "bird"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(3):
                red = 200 if cls == "bird" else 10
                Image.new("RGB", (32, 32), (red, 0, 0)).save(tmp_path / split / cls / f"{i}.png")
    monkeypatch.setenv("PLAYGROUND_CIFAR2_DIR", str(tmp_path))
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
