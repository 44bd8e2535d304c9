"""The code behind a run: every recipe's generated script compiles, builds the engine's model with the engine's
initial weights, imports only torch/torchvision, and a few of them train alone in a fresh interpreter to the
engine's own numbers on the same data."""
import ast
import os
import re
import runpy
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from playground import codegen, data
from playground.config import RECIPES, RunConfig, recipe
from playground.engine.training import Trainer
from playground.models import build_model, count_parameters

from conftest import run_cli

ALLOWED_IMPORTS = {"argparse", "os", "torch", "torchvision", "PIL"}
N_TRAIN, N_TEST, LIMIT = 300, 200, 200
SCRIPT_TIMEOUT = 90  # ~15 s on 2 busy cores, most of it importing torch

# Runs a script as __main__ with `import playground` refused: the project is installed editable in the venv,
# so a clean cwd and no PYTHONPATH alone would still let the script reach it.
RUNNER = """
import importlib.abc, runpy, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "playground" or name.startswith("playground."):
            raise ModuleNotFoundError(f"No module named {name!r} (the generated script must not need it)")
sys.meta_path.insert(0, Refuse())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def load_script(tmp_path: Path, cfg: RunConfig) -> tuple[Path, dict]:
    """Write the config's script and import it as a module (its main() does not run)."""
    path = tmp_path / "train.py"
    path.write_text(codegen.script(cfg))
    return path, runpy.run_path(str(path), run_name="generated")


def run_alone(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PLAYGROUND_")}
    return subprocess.run([sys.executable, "-I", "-c", RUNNER, str(script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=SCRIPT_TIMEOUT)


@pytest.mark.parametrize("name", list(RECIPES))
def test_each_recipe_builds_the_engines_model_with_its_initial_weights(name, tmp_path):
    cfg = recipe(name)
    path, module = load_script(tmp_path, cfg)
    compile(path.read_text(), str(path), "exec")
    torch.manual_seed(cfg.seed)
    net = module["Net"]()
    engine = build_model(cfg, seed=cfg.seed)
    assert count_parameters(net) == count_parameters(build_model(cfg))
    ours, theirs = list(net.parameters()), list(engine.parameters())
    assert [p.shape for p in ours] == [p.shape for p in theirs]
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True)), "seed + Net() != engine init"


@pytest.mark.parametrize("name", list(RECIPES))
def test_each_script_imports_only_torch_and_torchvision(name):
    tree = ast.parse(codegen.script(recipe(name)))
    roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    roots |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert roots <= ALLOWED_IMPORTS, roots - ALLOWED_IMPORTS  # PIL comes with torchvision


def test_only_what_the_config_uses_is_written():
    plain = codegen.script(recipe("lstm64"))  # no validation, L2, clipping, batch-norm or dropout
    for absent in ("BatchNorm", "Dropout", "dropout=", "l2_norm", "clip_grad", "def split", "momentum",
                   "weight_decay", "normalize("):
        assert absent not in plain, absent
    assert "x.float() / 255  # pixels in [0, 1]" in plain and "def shuffle" in plain
    bn_l2 = codegen.script(recipe("cnn-bn-l2"))
    assert "nn.BatchNorm2d(16)" in bn_l2 and "loss = loss + 0.001 * l2_norm" in bn_l2 and "def split" in bn_l2
    assert "transforms.Normalize((0.4915, 0.4823, 0.4468), (0.247, 0.2435, 0.2616))" in bn_l2
    assert "nn.Dropout2d(p=0.4)" in codegen.script(recipe("cnn-dropout"))
    assert "num_layers=3, dropout=0.2" in codegen.script(recipe("gru3x200"))
    assert "optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)" in codegen.script(recipe("lstm100"))
    tuned = recipe("rnn128").override(clip=1.5, optimizer="adamw", weight_decay=0.0, device="cpu", dataset="cifar2")
    text = codegen.script(tuned)
    assert "clip_grad_norm_(model.parameters(), max_norm=1.5)" in text
    assert "optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)" in text  # AdamW's default is 0.01
    assert 'default="cpu"' in text and "reshape(-1, 32, 96)" in text


def test_the_cli_prints_the_script_with_options_applied(tmp_path):
    out = run_cli("code", "--recipe", "cnn", "--width", "32", "--epochs", "7", home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == codegen.script(recipe("cnn").override(width=32, epochs=7))
    assert "nn.Conv2d(3, 32, kernel_size=3, padding=1)" in out.stdout and "default=7" in out.stdout
    bad = run_cli("code", "--recipe", "lstm64", "--batchnorm", home=tmp_path)
    assert bad.returncode == 2 and "batch-norm applies to CNNs only" in bad.stderr


# ---------------------------------------------------------------- running the scripts

@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """An ImageFolder copy (train/<class>/*.png, test/<class>/*.png) of the first images of each dataset."""
    roots = {}
    for name in ("mnist", "cifar2"):
        ds, root = data.load_dataset(name), tmp_path_factory.mktemp(name)
        for split, x, y, n in (("train", ds.train_x, ds.train_y, N_TRAIN), ("test", ds.test_x, ds.test_y, N_TEST)):
            for cls in ds.classes:
                (root / split / cls).mkdir(parents=True)
            for i in range(n):
                image = data.display_images(x[i:i + 1])[0]
                Image.fromarray(image).save(root / split / ds.classes[int(y[i])] / f"{i:05d}.png")
        roots[name] = root
    return roots


@pytest.fixture(scope="module")
def mnist_torchvision(tmp_path_factory) -> Path:
    """torchvision's MNIST files (MNIST/raw/*-idx?-ubyte) holding the first images: what --data may name."""
    ds, root = data.load_dataset("mnist"), tmp_path_factory.mktemp("torchvision")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, x, y, n in (("train", ds.train_x, ds.train_y, N_TRAIN), ("t10k", ds.test_x, ds.test_y, N_TEST)):
        # idx format: big-endian magic (0x0803 images, 0x0801 labels), the sizes, then the bytes.
        images = struct.pack(">4i", 0x0803, n, 28, 28) + x[:n].numpy().tobytes()
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(images)
        labels = struct.pack(">2i", 0x0801, n) + y[:n].byte().numpy().tobytes()
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(labels)
    return root


def engine_result(cfg: RunConfig, folder: Path, monkeypatch) -> dict:
    """The engine's run of `cfg` on the same folder (its ImageFolder source, not the cached dataset)."""
    monkeypatch.setenv(data.spec(cfg.data.dataset).env_var, str(folder))
    monkeypatch.setattr(data, "_cache", {})
    snap = Trainer(cfg).run()
    assert snap.status == "finished", snap.message
    return snap.result


def test_the_runner_refuses_playground(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import playground\n")
    out = run_alone(probe, cwd=tmp_path)
    assert out.returncode != 0 and "must not need it" in out.stderr


@pytest.mark.parametrize("name, source", [("lstm64", "folder"), ("cnn-bn-l2", "folder"), ("lenet", "folder"),
                                          ("rnn128", "torchvision")])
def test_the_script_trains_alone_to_the_engines_numbers(name, source, request, tmp_path, monkeypatch):
    cfg = recipe(name).override(epochs=1, limit=LIMIT, device="cpu")
    folder = (request.getfixturevalue("folders")[cfg.data.dataset] if source == "folder"
              else request.getfixturevalue("mnist_torchvision"))
    script = tmp_path / "train.py"
    script.write_text(codegen.script(recipe(name)))  # the recipe as is: --epochs, --limit, --device override it
    out = run_alone(script, "--epochs", "1", "--limit", str(LIMIT), "--data", str(folder), "--device", "cpu",
                    cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    params = [int(m[1]) for line in lines if (m := re.fullmatch(r"parameters: (\d+)", line))]
    acc = [float(m[1]) for line in lines if (m := re.fullmatch(r"test accuracy: ([0-9.]+)", line))]
    loss = [float(m[1]) for line in lines if (m := re.fullmatch(r"test loss: ([0-9.]+)", line))]
    assert params == [count_parameters(build_model(cfg))], out.stdout
    assert len(acc) == 1 and 0 <= acc[0] <= 1, out.stdout
    # Same data, split, init, batches and steps as the engine: the same numbers up to float rounding
    # (the engine trains CNNs channels-last on CPU). A wrong split or batch order moves them by far more.
    engine = engine_result(cfg, folder, monkeypatch)
    assert abs(acc[0] - engine["test_acc"]) <= 1 / N_TEST + 1e-9, (out.stdout, engine)
    assert abs(loss[0] - engine["test_loss"]) < 1e-3, (out.stdout, engine)
