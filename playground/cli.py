"""Command line: python -m playground train | runs | summary | predict | fetch."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .config import RECIPES, ConfigError, RunConfig, recipe, validate
from .data import SPECS, DataUnavailable, load_dataset
from .inference import CheckpointError, load_checkpoint, predict_image
from .jobs import JobRegistry
from .models import build_model, count_parameters, format_summary, summary
from .preprocess import BadImage, NoInk, load_image
from .store import RunStore, StoreError

EXIT_CODES = {"finished": 0, "failed": 1, "diverged": 3, "stopped": 130, "interrupted": 130}


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, not a usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", choices=sorted(RECIPES), help="start from a named recipe; other options override it")
    p.add_argument("--dataset", choices=sorted(SPECS))
    p.add_argument("--arch", help="rnn, lstm, gru, cnn or lenet")
    p.add_argument("--hidden", type=int, help="recurrent hidden size")
    p.add_argument("--layers", type=int, help="recurrent layers")
    p.add_argument("--width", type=int, help="CNN channels of conv1 (conv2 has half)")
    p.add_argument("--activation", choices=["tanh", "relu"])
    p.add_argument("--dropout", type=float)
    p.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=None)


def build_parser() -> Parser:
    parser = Parser(prog="python -m playground", description="Train and inspect small networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    t = sub.add_parser("train", help="train a recipe or an explicit config; ends with one JSON line")
    _model_options(t)
    t.add_argument("--epochs", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--batch-size", dest="batch_size", type=int)
    t.add_argument("--optimizer", choices=["sgd", "adam", "rmsprop", "adamw"])
    t.add_argument("--momentum", type=float)
    t.add_argument("--clip", type=float, help="max gradient norm per step (0 = off)")
    t.add_argument("--l2", type=float, help="lambda of the L2 penalty added to the loss")
    t.add_argument("--weight-decay", dest="weight_decay", type=float)
    t.add_argument("--normalize", choices=["half", "unit", "standard"])
    t.add_argument("--val-fraction", dest="val_fraction", type=float)
    t.add_argument("--limit", type=int, help="use only the first N train and test samples")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", choices=["auto", "cpu", "cuda"])
    t.add_argument("--name", dest="run_name", help="a name for the run")

    sub.add_parser("runs", help="list stored runs")

    s = sub.add_parser("summary", help="layers, output shapes and parameter counts")
    _model_options(s)

    p = sub.add_parser("predict", help="predict digit images with a checkpoint; one JSON line per image")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("images", nargs="+")

    f = sub.add_parser("fetch", help="make a dataset available (download if needed) and say from where")
    f.add_argument("dataset", choices=sorted(SPECS) + ["all"])
    return parser


CONFIG_KEYS = ("dataset", "arch", "hidden", "layers", "width", "activation", "dropout", "batchnorm", "epochs",
               "lr", "batch_size", "momentum", "clip", "l2", "weight_decay", "normalize", "val_fraction", "limit",
               "seed", "device", "optimizer")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    base = recipe(args.recipe) if args.recipe else RunConfig()
    if not args.recipe and args.arch in ("cnn",) and args.dataset is None:
        base = base.override(dataset="cifar2", normalize="standard")
    values = {k: getattr(args, k, None) for k in CONFIG_KEYS}
    return validate(base.override(**values))


def _bar(fraction: float, width: int = 30) -> str:
    filled = int(round(fraction * width))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def cmd_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    store = RunStore()
    jobs = JobRegistry(store, max_concurrent=1)
    run_id = jobs.submit(config, name=args.run_name or args.recipe)
    print(f"run {run_id}: {config.model.arch} on {config.data.dataset}, {config.optim.epochs} epoch(s), "
          f"store {store.home}", file=sys.stderr)
    epochs_printed = 0
    tty = sys.stderr.isatty()
    clear = "\r\033[K" if tty else ""  # wipe the progress bar line before an epoch line
    last_bar = 0.0
    try:
        while True:
            snap = jobs.snapshot(run_id)
            for row in snap.epoch_rows[epochs_printed:]:
                val = (f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f}" if row["val_loss"] is not None
                       else "no validation set")
                print(f"{clear}epoch {row['epoch']:>3}/{config.optim.epochs}  train loss {row['train_loss']:.4f} "
                      f"acc {row['train_acc']:.4f}  {val}  {row['seconds']:.1f}s", flush=True)
                epochs_printed += 1
            if snap.done:
                break
            if snap.steps_per_epoch and (tty or time.time() - last_bar > 10):
                in_epoch = snap.step - snap.epoch * snap.steps_per_epoch
                line = f"epoch {snap.epoch + 1} {_bar(in_epoch / snap.steps_per_epoch)} {in_epoch}/{snap.steps_per_epoch}"
                print("\r" + line if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
                last_bar = time.time()
            time.sleep(0.2)
    except KeyboardInterrupt:
        jobs.stop(run_id)
        snap = jobs.wait(run_id)
    if tty:
        print(file=sys.stderr)
    result = snap.result
    if snap.message:
        print(f"run {run_id} {snap.status}: {snap.message}", file=sys.stderr)
    print(json.dumps({"run_id": run_id, "status": snap.status, "checkpoint": result.get("checkpoint"),
                      "test_acc": result.get("test_acc"), "test_loss": result.get("test_loss"),
                      "train_seconds": round(result.get("train_seconds", 0.0), 3),
                      "samples_per_s": round(result.get("samples_per_s", 0.0), 1)}))
    return EXIT_CODES.get(snap.status, 1)


def cmd_runs(_args: argparse.Namespace) -> int:
    runs = RunStore().list_runs()
    if not runs:
        print("no runs yet: try `python -m playground train --recipe lstm64`")
        return 0
    print(f"{'id':>4}  {'status':<11} {'dataset':<7} {'arch':<6} {'test acc':>8} {'seconds':>8}  name")
    for r in runs:
        acc = r.result.get("test_acc")
        secs = r.result.get("train_seconds")
        print(f"{r.id:>4}  {r.status:<11} {r.config.data.dataset:<7} {r.config.model.arch:<6} "
              f"{'' if acc is None else f'{acc:.4f}':>8} {'' if secs is None else f'{secs:.1f}':>8}  {r.name}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    model = build_model(config)
    shape = SPECS[config.data.dataset].shape
    print(f"{config.model.arch} on {config.data.dataset} (input {list(shape)})")
    print(format_summary(summary(model, shape), count_parameters(model)))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    loaded = load_checkpoint(args.checkpoint)
    failures = 0
    for name in args.images:
        try:
            digit, probs = predict_image(loaded, load_image(Path(name).read_bytes()))
            print(json.dumps({"image": name, "label": int(probs.argmax()), "prob": round(float(probs.max()), 4),
                              "probs": [round(float(p), 4) for p in probs]}))
        except (NoInk, BadImage, OSError) as exc:
            failures += 1
            print(json.dumps({"image": name, "error": str(exc)}))
    return 1 if failures else 0


def cmd_fetch(args: argparse.Namespace) -> int:
    names = sorted(SPECS) if args.dataset == "all" else [args.dataset]
    for name in names:
        ds = load_dataset(name)
        print(f"{name}: {len(ds.train_y):,} train / {len(ds.test_y):,} test from {ds.source}")
    return 0


COMMANDS = {"train": cmd_train, "runs": cmd_runs, "summary": cmd_summary, "predict": cmd_predict,
            "fetch": cmd_fetch}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, CheckpointError, DataUnavailable, StoreError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
