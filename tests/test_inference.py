"""Checkpoint loading that cannot mislead, and predictions from images as people make them."""
import io
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from playground import data, inference
from playground.config import RunConfig
from playground.engine.publish import checkpoint_payload
from playground.inference import (
    MAX_PARAMETERS,
    CheckpointError,
    estimate_parameters,
    load_checkpoint,
    predict_image,
    to_input,
)
from playground.models import build_model, count_parameters
from playground.preprocess import NotADigit, load_image

from conftest import ROOT, refused_without_blocking, tiny


def save(tmp_path, payload, name="model.pt"):
    path = tmp_path / name
    torch.save(payload, path)
    return path


def good_payload(**overrides):
    cfg = tiny(**overrides)
    return checkpoint_payload(cfg, build_model(cfg, seed=0), {"test_acc": 0.5})


def test_a_good_checkpoint_loads(tmp_path):
    loaded = load_checkpoint(save(tmp_path, good_payload()))
    assert loaded.metrics == {"test_acc": 0.5} and not loaded.model.training


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_weights_are_refused_naming_the_file(tmp_path, bad):
    payload = good_payload()
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name].view(-1)[3] = bad
    path = save(tmp_path, payload, "diverged.pt")
    with pytest.raises(CheckpointError, match="NaN or infinite") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and name in str(info.value)


@pytest.mark.parametrize("metrics", [[1, 2], "0.97", 3.5, [("test_acc", 0.9)]])
def test_metrics_that_are_not_a_table_are_refused_naming_the_file(tmp_path, metrics):
    path = save(tmp_path, {**good_payload(), "metrics": metrics})
    with pytest.raises(CheckpointError, match="metrics are a") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_missing_metrics_are_an_empty_table(tmp_path):
    assert load_checkpoint(save(tmp_path, {**good_payload(), "metrics": None})).metrics == {}


@pytest.mark.parametrize("config, words", [([1, 2], "config is a list"), ({"model": {"arch": "nope"}}, "invalid")])
def test_configs_that_are_not_configs_are_refused(tmp_path, config, words):
    with pytest.raises(CheckpointError, match=words):
        load_checkpoint(save(tmp_path, {**good_payload(), "config": config}))


def test_weights_that_are_not_tensors_are_refused(tmp_path):
    payload = good_payload()
    payload["state_dict"]["head.bias"] = [0.0] * 10
    with pytest.raises(CheckpointError, match="'head.bias' is a list"):
        load_checkpoint(save(tmp_path, payload))


def test_a_directory_is_not_a_checkpoint_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"is not a checkpoint file \(a directory\)") as info:
        load_checkpoint(tmp_path)
    assert "no such file" not in str(info.value)


def test_dev_zero_is_not_a_checkpoint_file():
    with pytest.raises(CheckpointError, match=r"/dev/zero is not a checkpoint file \(a character device\)"):
        load_checkpoint("/dev/zero")


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nope.pt")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)
    message = refused_without_blocking(lambda: load_checkpoint(fifo), CheckpointError)
    assert "is not a checkpoint file (a FIFO" in message


@pytest.mark.parametrize("overrides", [dict(arch="lstm", hidden=64), dict(arch="gru", hidden=200, layers=3),
                                       dict(arch="rnn", hidden=128), dict(arch="cnn", width=32),
                                       dict(arch="lenet", batchnorm=True)])
def test_the_meta_device_estimate_is_the_real_count(overrides):
    cfg = RunConfig().override(dataset="mnist", **overrides)
    assert estimate_parameters(cfg) == count_parameters(build_model(cfg))


def test_a_checkpoint_naming_a_huge_model_is_refused_before_building_it(tmp_path, monkeypatch):
    huge = RunConfig().override(dataset="mnist", arch="lstm", hidden=4096, layers=8)
    path = save(tmp_path, {"config": huge.to_dict(), "state_dict": {}, "metrics": {}})
    real = inference.build_model

    def only_on_meta(cfg, *args, **kwargs):
        assert torch.empty(0).device.type == "meta", "built for real before the size check"
        return real(cfg, *args, **kwargs)
    monkeypatch.setattr(inference, "build_model", only_on_meta)
    with pytest.raises(CheckpointError, match="1,007,394,826 parameters") as info:
        load_checkpoint(path)  # only_on_meta fails the test if anything is built for real
    assert f"{MAX_PARAMETERS:,}" in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("normalize", ["unit", "half", "standard"])
def test_to_input_normalizes_as_training_does(normalize):
    cfg = tiny(normalize=normalize)
    images = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
    mean, std = data.normalization("mnist", normalize)
    by_hand = (torch.as_tensor(images).unsqueeze(1) - mean[0]) / std[0]
    assert torch.allclose(to_input(images, cfg), by_hand, atol=1e-5)
    u8 = (images * 255).round().astype(np.uint8)  # what training feeds: stored uint8 batches
    trained_on = data.Normalizer.of("mnist", normalize)(torch.as_tensor(u8).unsqueeze(1))
    assert torch.allclose(to_input(u8 / 255.0, cfg), trained_on, atol=1e-5)


def test_nan_checkpoint_through_predict_exits_with_a_message_not_nan_json(tmp_path):
    payload = good_payload()
    for v in payload["state_dict"].values():
        v.fill_(math.nan)
    path = save(tmp_path, payload)
    img = tmp_path / "d.png"
    Image.fromarray(np.pad(np.full((10, 4), 255, np.uint8), 9)).save(img)
    proc = subprocess.run([sys.executable, "-m", "playground", "predict", "--checkpoint", str(path), str(img)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "NaN" not in proc.stdout and "NaN or infinite" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------ with the trained model
def test_test_predictions_of_a_trained_model(trained):
    preds = inference.test_predictions(load_checkpoint(trained.checkpoint), count=24)
    assert len(preds) == 24 and sum(p.correct for p in preds) >= 20


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def test_the_model_reads_uploads_as_people_make_them(trained):
    """A phone photo (EXIF-rotated JPEG, uneven light, noise) and a transparent-margin card, end to end."""
    model = load_checkpoint(trained.checkpoint)
    ds = data.load_dataset("mnist")
    rng = np.random.default_rng(0)
    right = {"photo": 0, "card": 0}
    for i in range(12):
        d = ds.test_x[i, 0].numpy()
        h, w = 480, 640
        yy, xx = np.mgrid[0:h, 0:w]
        big = np.asarray(Image.fromarray(d).resize((200, 200), Image.Resampling.BILINEAR), np.float32) / 255
        paper = np.full((h, w), 0.9, np.float32)
        top, left = int(rng.integers(0, h - 200)), int(rng.integers(0, w - 200))
        paper[top:top + 200, left:left + 200] *= 1 - 0.85 * big
        shot = np.clip(paper * (0.4 + 0.55 * xx / w) + rng.normal(0, 0.05, (h, w)), 0, 1)
        exif = Image.Exif()
        exif[0x0112] = 6  # the phone was held sideways
        jpeg = encoded(Image.fromarray((shot * 255).astype(np.uint8)).transpose(Image.Transpose.ROTATE_90),
                       "JPEG", quality=85, exif=exif.tobytes())
        card = np.zeros((188, 188, 4), np.uint8)
        card[40:148, 40:148, :3] = (255 - np.pad(d, 40))[..., None]
        card[40:148, 40:148, 3] = 255
        for kind, data_ in (("photo", jpeg), ("card", encoded(Image.fromarray(card, "RGBA"), "PNG"))):
            _, probs = predict_image(model, load_image(data_))
            right[kind] += int(probs.argmax()) == int(ds.test_y[i])
    assert right["photo"] >= 10 and right["card"] >= 10, right  # the model's own accuracy is ~95%


def test_a_click_gets_no_digit_from_the_model(trained):
    model = load_checkpoint(trained.checkpoint)
    canvas = np.zeros((280, 280), np.uint8)
    yy, xx = np.mgrid[0:280, 0:280]
    canvas[(yy - 140) ** 2 + (xx - 140) ** 2 <= 81] = 255
    with pytest.raises(NotADigit, match="too little ink"):
        predict_image(model, canvas)


def test_predict_json_is_valid(trained, tmp_path):
    img = tmp_path / "seven.png"
    Image.fromarray(255 - np.pad(data.load_dataset("mnist").test_x[0, 0].numpy(), 30)).save(img)
    proc = subprocess.run([sys.executable, "-m", "playground", "predict", "--checkpoint", trained.checkpoint,
                           str(img)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0 and line["label"] == 7, (proc.stdout, proc.stderr)


# ------------------------------------------------------------------ hostile checkpoints (issue 19)
def test_a_symbolic_link_is_never_loaded_nor_read_for_a_download(tmp_path):
    target = save(tmp_path, good_payload(), "elsewhere.pt")
    link = tmp_path / "run-1.pt"
    link.symlink_to(target)
    for call in (load_checkpoint, inference.read_checkpoint_bytes):
        with pytest.raises(CheckpointError, match="symbolic link"):
            call(link)
    assert inference.read_checkpoint_bytes(target) == target.read_bytes()


def test_a_compressed_checkpoint_is_refused_from_its_directory_before_anything_inflates(tmp_path, monkeypatch):
    import zipfile
    plain = save(tmp_path, good_payload(), "plain.pt")
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, src.read(item))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load ran on a compressed archive"))
    with pytest.raises(CheckpointError, match="compressed"):
        load_checkpoint(bomb)


def test_an_archive_declaring_more_than_the_largest_model_is_refused_unread(tmp_path, monkeypatch):
    path = save(tmp_path, good_payload(), "big.pt")
    monkeypatch.setattr(inference, "MAX_FILE_BYTES", 100)  # the directory's sizes decide, not torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load ran on an oversized archive"))
    with pytest.raises(CheckpointError, match="GB"):
        load_checkpoint(path)


@pytest.mark.parametrize("make", [lambda w: w.to_sparse(), lambda w: torch.empty_like(w, device="meta"),
                                  lambda w: w.to(torch.complex64), lambda w: w.to(torch.int64),
                                  lambda w: w > 0])
def test_sparse_meta_complex_or_integer_weights_are_refused_clearly(tmp_path, make):
    payload = good_payload()
    name = next(k for k, v in payload["state_dict"].items() if v.is_floating_point())
    payload["state_dict"][name] = make(payload["state_dict"][name])
    with pytest.raises(CheckpointError, match="refused") as info:
        load_checkpoint(save(tmp_path, payload))
    assert name in str(info.value)


def test_a_checkpoint_of_other_settings_does_not_stand_in_for_a_run(tmp_path):
    loaded = load_checkpoint(save(tmp_path, good_payload(hidden=8)))
    assert inference.belongs_to(loaded, loaded.config) is loaded
    with pytest.raises(CheckpointError, match="belongs to another run"):
        inference.belongs_to(loaded, tiny(hidden=16))
