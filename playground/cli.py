"""Command line: python -m playground train | study | runs | summary | predict | fetch."""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from rich.text import Text
from tqdm import tqdm

from . import codegen, novelty
from .compare import new_study
from .config import (
    ACTIVATIONS,
    ARCHITECTURES,
    DATASETS,
    DEVICES,
    NORMALIZATIONS,
    OPTIMIZERS,
    RECIPES,
    SCHEDULES,
    TRAIN_LAYERS,
    ConfigError,
    RunConfig,
    is_recurrent,
    recipe,
    validate,
)
from .data import SPECS, load_dataset
from .engine.executors import executor_from_env
from .engine.jobs import JobRegistry
from .engine.metrics import NO_STEP_ROWS, Snapshot
from .engine.study import VARIANTS, run_study, study_runs
from .engine.sweep import (
    GRID_POINTS_MAX,
    check_storage,
    check_sweep,
    conclusion,
    earlier_results,
    importances,
    parse_param,
    run_sweep,
    sweep_key,
)
from .errors import PlaygroundError, RunStatus
from .explain import METHODS, blank_input, saliency
from .inference import load_checkpoint, predict_image, require_digits, to_input
from .models import build_model, count_parameters, summary
from .preprocess import load_image, read_image_file
from .settings import Settings
from .store import RunStore
from .terminal import Column, error, render, show, status

EXIT_CODES = {RunStatus.FINISHED: 0, RunStatus.FAILED: 1, RunStatus.DIVERGED: 3, RunStatus.STOPPED: 130,
              RunStatus.INTERRUPTED: 130}
DEFAULTS = RunConfig().flat()  # what an option left out means when no recipe is named


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, not a usage dump
        self.exit(2, f"{self.prog}: {error(message, sys.stderr)}\n")


def _default(key: str) -> str:
    return f"(default: the recipe's, else {DEFAULTS[key]})"


def _dataset(value: str) -> str:
    if value in DATASETS or value.startswith("own:"):
        return value
    raise argparse.ArgumentTypeError(f"invalid choice: '{value}' (choose from {', '.join(DATASETS)}, own:<snapshot>)")


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", choices=list(RECIPES), help="start from a named recipe; other options override it")
    p.add_argument("--dataset", type=_dataset, metavar="{" + ",".join(DATASETS) + ",own:<snapshot>}",
                   help="dataset (default: the recipe's, else cifar2 for --arch cnn, else mnist); own:<snapshot> is "
                        "your own data, a folder under <home>/own")
    p.add_argument("--arch", choices=ARCHITECTURES, help=f"architecture {_default('arch')}")
    p.add_argument("--hidden", type=int, help=f"recurrent hidden size {_default('hidden')}")
    p.add_argument("--layers", type=int, help=f"recurrent layers {_default('layers')}")
    p.add_argument("--width", type=int, help=f"CNN channels of conv1; conv2 has half {_default('width')}")
    p.add_argument("--activation", choices=ACTIVATIONS, help=f"CNN activation {_default('activation')}")
    p.add_argument("--dropout", type=float,
                   help=f"dropout p: between recurrent layers, after each CNN conv block {_default('dropout')}")
    p.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=None,
                   help=f"BatchNorm2d after each CNN conv {_default('batchnorm')}")


def _train_options(t: argparse.ArgumentParser) -> None:
    t.add_argument("--epochs", type=int, help=f"passes over the training set {_default('epochs')}")
    t.add_argument("--lr", type=float, help=f"learning rate {_default('lr')}")
    t.add_argument("--batch-size", dest="batch_size", type=int, help=f"samples per step {_default('batch_size')}")
    t.add_argument("--optimizer", choices=OPTIMIZERS, help=f"optimizer {_default('optimizer')}")
    t.add_argument("--momentum", type=float, help=f"SGD momentum {_default('momentum')}")
    t.add_argument("--clip", type=float, help=f"max gradient norm per step, 0 = off {_default('clip')}")
    t.add_argument("--l2", type=float, help=f"lambda of the L2 penalty added to the loss {_default('l2')}")
    t.add_argument("--weight-decay", dest="weight_decay", type=float,
                   help=f"the optimizer's own weight decay {_default('weight_decay')}")
    t.add_argument("--normalize", choices=NORMALIZATIONS,
                   help="pixel scaling: half (x-0.5)/0.5, unit [0,1], standard (dataset mean/std) "
                        + _default("normalize"))
    t.add_argument("--val-fraction", dest="val_fraction", type=float,
                   help=f"share of the training set held out for validation {_default('val_fraction')}")
    t.add_argument("--limit", type=int, help="use only the first N train and test samples (default: all)")
    t.add_argument("--schedule", choices=SCHEDULES, help=f"how the learning rate moves {_default('schedule')}")
    t.add_argument("--eval-every", dest="eval_every", type=int,
                   help=f"evaluate after epoch 1, every N-th and the last {_default('eval_every')}")
    t.add_argument("--patience", type=int,
                   help="early stopping: stop after N evaluations without a gain in validation accuracy and keep the "
                        f"best evaluated epoch's weights; 0 = off {_default('patience')}")
    t.add_argument("--min-delta", dest="min_delta", type=float,
                   help=f"early stopping: the least gain in validation accuracy that counts (0.01 = one point) "
                        f"{_default('min_delta')}")
    t.add_argument("--label-noise", dest="label_noise", type=float,
                   help=f"share of training labels replaced by a random class {_default('label_noise')}")
    t.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help=f"random shifts (MNIST turns, CIFAR flips) of training images {_default('augment')}")
    t.add_argument("--delay", type=int, help=f"recurrent: blank rows read after the image {_default('delay')}")
    t.add_argument("--init-from", dest="init_from",
                   help="fine-tune: start from this checkpoint's weights (same model settings), not seeded ones")
    t.add_argument("--train-layers", dest="train_layers", choices=TRAIN_LAYERS,
                   help=f"fine-tune: train all weights, or only the output layer's {_default('train_layers')}")
    t.add_argument("--replay", type=int,
                   help=f"own data: MNIST training images mixed in against forgetting {_default('replay')}")
    t.add_argument("--seed", type=int, help=f"seed for weights, split and batch order {_default('seed')}")
    t.add_argument("--device", choices=DEVICES, help=f"where to train; auto = CUDA if present {_default('device')}")
    t.add_argument("--name", dest="run_name", help="a name for the run (default: the recipe, else one from the config)")


def build_parser() -> Parser:
    parser = Parser(prog="python -m playground", description="Train and inspect small networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    t = sub.add_parser("train", help="train a recipe or an explicit config; ends with one JSON line")
    _model_options(t)
    _train_options(t)
    _ray_option(t)

    _study_parser(sub)
    _sweep_parser(sub)

    sub.add_parser("runs", help="list stored runs")

    s = sub.add_parser("summary", help="layers, output shapes and parameter counts")
    _model_options(s)

    p = sub.add_parser("predict", help="predict digit images with a checkpoint; one JSON line per image")
    p.add_argument("--checkpoint", required=True, help="a .pt file written by a run (loaded weights_only)")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...) holding one digit each")

    e = sub.add_parser("explain", help="a saliency map (PNG) of which pixels made a model answer for an image")
    e.add_argument("--checkpoint", required=True, help="a .pt file written by a run (loaded weights_only)")
    e.add_argument("image", help="an image file holding one digit")
    e.add_argument("--method", choices=list(METHODS), default="ig", help="ig, occlusion or gradcam (CNNs)")
    e.add_argument("--target", type=int, help="the class to explain (default: the model's answer)")
    e.add_argument("--out", required=True, type=_png_out,
                   help="where to write the map, a .png file (red for, blue against)")

    c = sub.add_parser("code", help="print a standalone PyTorch script (torch + torchvision) that trains this config")
    _model_options(c)
    _train_options(c)

    f = sub.add_parser("fetch", help="make a dataset available (download if needed) and say from where")
    f.add_argument("dataset", choices=[*DATASETS, "all"], help="the dataset to fetch, or all of them")
    return parser


def _study_parser(sub) -> None:
    st = sub.add_parser("study", help="a regularization study: variants x seeds of a recipe; one JSON line per run")
    st.add_argument("--recipe", choices=list(RECIPES), default="cnn", help="the base recipe (default: cnn)")
    st.add_argument("--variants", default="none,l2,dropout",
                    help=f"comma-separated, from {','.join(VARIANTS)} (default: none,l2,dropout)")
    st.add_argument("--seeds", type=int, default=1, help="seeds per variant, 0..N-1 (default: 1)")
    st.add_argument("--epochs", type=int, help="epochs per run (default: the recipe's)")
    st.add_argument("--limit", type=int, help="use only the first N train and test samples (default: all)")
    st.add_argument("--sizes", type=_numbers(int), default=(),
                    help="training-set sizes as a study axis, e.g. 500,1500,6000 (first N samples; 0 = all)")
    st.add_argument("--noise", type=_numbers(float), default=(),
                    help="label-noise shares as a study axis, e.g. 0,0.2,0.5 (training labels only)")
    st.add_argument("--at-once", dest="at_once", type=_at_least_one,
                    help="runs training at once (default: 2 on a CPU, 5 on a GPU, a Ray cluster's slots)")
    _ray_option(st)


def _sweep_parser(sub) -> None:
    sw = sub.add_parser("sweep", help="an Optuna search over settings: one JSON line per trial, then importances")
    sw.add_argument("--recipe", choices=list(RECIPES), default="lstm64", help="the base recipe (default: lstm64)")
    sw.add_argument("--param", action="append", required=True, metavar="NAME=RANGE",
                    help="lr=1e-4:1e-1:log, hidden=16:128 or optimizer=adam,sgd (repeat for several)")
    sw.add_argument("--trials", type=_trials, default=8, help="runs to train (default: 8)")
    sw.add_argument("--minutes", type=_minutes, help="start no new trial after this long; 0 = no limit "
                    "(default: no limit)")
    sw.add_argument("--grid", type=_grid_points, default=0, metavar="N",
                    help=f"try combinations of N values per range (2..{GRID_POINTS_MAX}) and every choice, each "
                         "once, instead of sampling (at most --trials of them)")
    sw.add_argument("--epochs", type=int, help="epochs per run (default: the recipe's)")
    sw.add_argument("--limit", type=int, help="use only the first N train and test samples (default: all)")
    sw.add_argument("--at-once", dest="at_once", type=_at_least_one, help="runs training at once (default: 2 on a CPU)")
    sw.add_argument("--no-prune", dest="prune", action="store_false",
                    help="train every trial to the end (default: stop those below the median early)")
    sw.add_argument("--storage", help="an Optuna storage URL (sqlite:///sweep.db) to keep the study; the same "
                    "command again resumes it (finished trials count towards --trials)")
    _ray_option(sw)


def _ray_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray", metavar="ADDRESS",
                   help="train on a Ray cluster: local (start one here), auto (join a running one) or "
                        "ray://host:10001 (default: $PLAYGROUND_RAY_ADDRESS, else this process)")


def _whole_from_one(text: str, refusal: str) -> int:
    """A whole number from 1; below 1, `refusal` with the value in it."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(refusal.format(value))
    return value


def _at_least_one(text: str) -> int:
    """--at-once (0 once meant "the default" silently, -1 gave a traceback)."""
    return _whole_from_one(text, "{} runs at once: use 1 or more (leave it out for the default)")


def _trials(text: str) -> int:
    """--trials (0 was refused with --at-once's words)."""
    return _whole_from_one(text, "{} trials: a sweep trains at least 1")


def _minutes(text: str) -> float:
    """--minutes: 0 (no limit) or more; -1 and nan once ran nothing, silently."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r}: give minutes as a number >= 0 (0 = no limit)")
    return value


def _png_out(text: str) -> str:
    """explain --out, checked before any work (PIL refused `map`, a missing folder or a folder after it)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder: name a .png file (e.g. {path / 'map.png'})")
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text}: the map is a PNG image, name a file ending in .png")
    if path.exists() and not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a regular file")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text}: the folder {folder} is not writable")
    return text


def _grid_points(text: str) -> int:
    """--grid: 2..GRID_POINTS_MAX values per range (-1 was a numpy traceback, 10**9 filled 20 GB)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 2 <= value <= GRID_POINTS_MAX:
        raise argparse.ArgumentTypeError(f"{value} values per range: a grid takes 2 to {GRID_POINTS_MAX}")
    return value


def _registry(args: argparse.Namespace, max_concurrent: int | None) -> JobRegistry:
    executor = executor_from_env(getattr(args, "ray", None), max_concurrent)
    # The app's thread policy (settings.py), so `train` and `study` run as fast, and give the same
    # numbers, as the same run in the app and its exported script.
    threads = Settings.from_env().threads_per_run
    return JobRegistry(RunStore(), max_concurrent=max_concurrent, threads_per_run=threads, executor=executor)


CONFIG_KEYS = ("dataset", "arch", "hidden", "layers", "width", "activation", "dropout", "batchnorm", "epochs",
               "lr", "batch_size", "momentum", "clip", "l2", "weight_decay", "normalize", "val_fraction", "limit",
               "seed", "device", "optimizer", "schedule", "label_noise", "augment", "delay", "eval_every", "patience",
               "min_delta", "init_from", "train_layers", "replay")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    base = recipe(args.recipe) if args.recipe else RunConfig()
    if not args.recipe and args.arch == "cnn" and args.dataset is None:
        base = base.override(dataset="cifar2", normalize="standard")
    values = {k: getattr(args, k, None) for k in CONFIG_KEYS}
    return validate(base.override(**values))


def _meter(prefix: str, fraction: float, tail: str) -> str:
    """A progress line, tqdm's meter in ASCII ('#' done, '-' to go): a pipe or a log gets plain text."""
    return tqdm.format_meter(fraction, 1, 0, bar_format=f"{prefix} [{{bar:30}}] {tail}", ascii="-#")


def _live_bar(desc: str, total: float, tail: str) -> tqdm:
    """The progress line a terminal redraws in place (tqdm); on a pipe there is none (see _meter)."""
    return tqdm(total=total, desc=desc, file=sys.stderr, ascii="-#", leave=False, dynamic_ncols=True,
                bar_format="{desc} [{bar:30}] " + tail)


class Interrupts:
    """Ctrl-C during a run: the first press asks the run to stop, later ones only say it is winding down.

    The handler neither takes the registry's lock (the main thread may hold it) nor prints through
    sys.stderr (it may interrupt a write to it): it counts, and says so with os.write. The polling
    loop makes the stop request.
    """

    def __init__(self) -> None:
        self.count = 0  # presses so far
        self.handled = 0  # presses the loop has acted on
        self._previous = None
        self._newline = "\n" if sys.stderr.isatty() else ""  # off the progress bar's line

    def __call__(self, _signum: int, _frame: object) -> None:
        self.count += 1
        text = ("stopping: training ends at the next batch and keeps a checkpoint" if self.count == 1
                else "already stopping, waiting for training to end (kill the process to abandon it)")
        os.write(sys.stderr.fileno(), f"{self._newline}{text}\n".encode())

    def __enter__(self) -> Interrupts:
        # signal.signal only works in the main thread; main() called from another thread keeps Ctrl-C as is.
        # SIGTERM (a plain `kill`, a service manager) ends the run the same way: stopped, with its checkpoint.
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *_exc: object) -> None:
        # Once pressed, the process is on its way out: a late press must not turn the stop into a traceback.
        if self._previous is not None and not self.count:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)

    def act(self, jobs: JobRegistry, run_id: int) -> None:
        """Ask the run to stop once, after the first press."""
        if self.count and not self.handled:
            jobs.stop(run_id)
        self.handled = self.count


def _note(text: str) -> None:
    print(f"\n{text}" if sys.stderr.isatty() else text, file=sys.stderr, flush=True)


def _epoch_line(row: dict, epochs: int) -> str:
    val = (f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f}" if row["val_loss"] is not None
           else "no validation set")
    return (f"epoch {row['epoch']:>3}/{epochs}  train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.4f}  {val}  {row['seconds']:.1f}s")


def bar_line(snap: Snapshot, epochs: int) -> str | None:
    """The progress bar of the epoch in progress; None after the last (the test pass is no epoch)."""
    if not snap.steps_per_epoch or snap.epoch >= epochs:
        return None
    in_epoch = snap.step - snap.epoch * snap.steps_per_epoch
    return _meter(f"epoch {snap.epoch + 1}", in_epoch / snap.steps_per_epoch, f"{in_epoch}/{snap.steps_per_epoch}")


def _follow(jobs: JobRegistry, run_id: int, epochs: int, interrupts: Interrupts):
    """Print epoch lines and a progress bar until the run ends; return its last snapshot.

    On a terminal the bar is tqdm's, redrawn in place (epoch lines print above it); piped, a plain bar line
    every 10 s, with no control characters."""
    epochs_printed = 0
    live = _live_bar("epoch 1", 1, "{n_fmt}/{total_fmt} [{elapsed}<{remaining}]") if sys.stderr.isatty() else None
    last_bar = 0.0
    try:
        while True:
            interrupts.act(jobs, run_id)
            snap = jobs.snapshot(run_id, steps_from=NO_STEP_ROWS)  # the bar needs counts, not rows
            for row in snap.epoch_rows[epochs_printed:]:
                tqdm.write(_epoch_line(row, epochs), file=sys.stdout)  # clears the bar, prints, redraws it
                epochs_printed += 1
            if snap.done:
                return snap
            if live is not None:
                _show_epoch(live, snap, epochs)
            elif (line := bar_line(snap, epochs)) and time.time() - last_bar > 10:
                print(line, file=sys.stderr, flush=True)
                last_bar = time.time()
            time.sleep(0.2)
    finally:
        if live is not None:
            live.close()


def _show_epoch(live: tqdm, snap: Snapshot, epochs: int) -> None:
    """The terminal's bar at the epoch in progress (as bar_line counts it): a new epoch restarts it."""
    if not snap.steps_per_epoch or snap.epoch >= epochs:
        return
    desc = f"epoch {snap.epoch + 1}"
    if live.desc != desc or live.total != snap.steps_per_epoch:
        live.reset(total=snap.steps_per_epoch)
        live.set_description_str(desc, refresh=False)
    live.n = snap.step - snap.epoch * snap.steps_per_epoch
    live.refresh()


def cmd_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    with Interrupts() as interrupts:
        jobs = _registry(args, max_concurrent=1)
        run_id = jobs.submit(config, name=args.run_name or args.recipe)
        print(f"run {run_id}: {config.model.arch} on {config.data.dataset}, {config.optim.epochs} epoch(s), "
              f"store {jobs.store.home}, on {jobs.executor.name}", file=sys.stderr, flush=True)
        snap = _follow(jobs, run_id, config.optim.epochs, interrupts)
    result = snap.result
    rec = jobs.store.get_run(run_id)
    if rec is None:  # another process deleted it while it trained: it stopped, with nothing left to keep
        print(f"run {run_id} was deleted from the store {jobs.store.db_path} while it trained; it was stopped and "
              "nothing of it is kept", file=sys.stderr)
        jobs.executor.shutdown()
        return 1
    if snap.message:
        print(f"run {run_id} {snap.status}: {snap.message}", file=sys.stderr)
    print(json.dumps({"run_id": run_id, "status": str(snap.status), "checkpoint": result.get("checkpoint"),
                      "test_acc": result.get("test_acc"), "test_loss": result.get("test_loss"),
                      **({"kept_epoch": result["kept_epoch"]} if "kept_epoch" in result else {}),
                      "train_seconds": round(result.get("train_seconds", 0.0), 3),
                      "samples_per_s": round(result.get("samples_per_s", 0.0), 1),
                      "executor": rec.executor or "local", "node": rec.node or "this machine"}), flush=True)
    jobs.executor.shutdown()
    return EXIT_CODES.get(snap.status, 1)


def _numbers(kind: type) -> Callable[[str], tuple]:
    """An argparse type: a comma-separated list of `kind` (int or float), with a one-line error otherwise."""
    def parse(text: str) -> tuple:
        try:
            return tuple(kind(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s, got {text!r}") from None
    return parse


def cmd_study(args: argparse.Namespace) -> int:
    runs = study_runs(args.recipe, [v.strip() for v in args.variants.split(",") if v.strip()], args.seeds,
                      epochs=args.epochs, limit=args.limit, sizes=args.sizes, noises=args.noise)
    with Interrupts() as interrupts:
        jobs = _registry(args, max_concurrent=args.at_once)
        # Tagged as the page tags a study ("... · study 3"): Compare's study picker then lists these runs too.
        number = new_study(jobs.store)  # from the store: another CLI or page launching now gets another
        runs = [dataclasses.replace(r, label=f"{r.label} · study {number}") for r in runs]
        where = "this machine" if jobs.executor.name == "local" else jobs.executor.name
        print(f"study: {len(runs)} runs of {args.recipe} on {where}, {jobs.max_concurrent} at once, "
              f"store {jobs.store.home}", file=sys.stderr, flush=True)
        started, last = time.time(), [0.0]
        live = _live_bar("study", 1, "") if sys.stderr.isatty() else None

        def progress(snaps) -> None:
            if interrupts.count > interrupts.handled:
                for snap_id in jobs.active():
                    jobs.stop(snap_id)
                interrupts.handled = interrupts.count
            done = sum(s.done for s in snaps)
            share = sum(s.fraction for s in snaps) / len(snaps)
            tail = f"{done}/{len(snaps)} runs done, {time.time() - started:.0f} s"
            if live is not None:  # tqdm redraws the line in place
                live.n, live.bar_format = share, f"{{desc}} [{{bar:30}}] {tail}"
                live.refresh()
            elif done == len(snaps) or time.time() - last[0] >= 10:  # and always the last state
                print(_meter("study", share, tail), file=sys.stderr, flush=True)
                last[0] = time.time()

        try:
            rows = run_study(jobs, runs, progress)
        finally:
            if live is not None:
                live.leave = True  # the last state stays on screen, as a finished line
                live.close()
    for row in rows:
        print(json.dumps(row), flush=True)
    print(study_summary(runs, rows, sys.stderr), file=sys.stderr, flush=True)
    jobs.executor.shutdown()
    return 0 if all(r["status"] == RunStatus.FINISHED for r in rows) else 1


STUDY_COLUMNS = (Column("run", right=True), Column("test acc", right=True), Column("best val", right=True),
                 Column("gap", right=True), Column("train s", right=True), Column("name"))


def study_summary(runs, rows: list[dict], stream) -> str:
    """The study's results for a person (stdout keeps the JSON lines): each run's accuracies and gap, and where
    to compare them."""
    pct = lambda v: f"{v:.1%}" if v is not None else "–"  # noqa: E731
    table = []
    for run, row in zip(runs, rows, strict=True):
        seconds = f"{row['train_seconds']:.1f}" if row.get("train_seconds") is not None else "–"
        name = Text(run.label)
        if row["status"] != "finished":
            name.append(" (").append_text(status(str(row["status"]))).append(")")
        table.append((f"#{row['run_id']}", pct(row["test_acc"]), pct(row["best_val_acc"]), pct(row["final_gap"]),
                      seconds, name))
    ids = ",".join(str(r["run_id"]) for r in rows)
    return (render(STUDY_COLUMNS, table, stream) + "\ngap: train minus validation accuracy at the last epoch. "
            f"Compare them: streamlit run app.py, then /compare?ids={ids}")


def cmd_sweep(args: argparse.Namespace) -> int:
    base = recipe(args.recipe).override(**{k: v for k, v in (("epochs", args.epochs), ("limit", args.limit))
                                           if v is not None})
    params = [parse_param(text, base) for text in args.param]
    check_sweep(base, params)  # refused before anything is created: exit 2, one line
    check_storage(args.storage)
    # A kept study is named by what it searches, so the same command resumes it; otherwise by the time.
    name = f"{args.recipe} sweep " + (sweep_key(base, params, args.grid, args.prune) if args.storage
                                      else time.strftime("%Y%m%d-%H%M%S"))
    results: list = []
    with Interrupts() as interrupts:
        jobs = _registry(args, max_concurrent=args.at_once)
        print(f"sweep: {args.trials} trials of {args.recipe} over {', '.join(p.name for p in params)}, "
              f"{jobs.max_concurrent} at once, store {jobs.store.home}", file=sys.stderr, flush=True)

        def report(t) -> None:
            results.append(t)
            print(strict_json({"trial": t.number, "run_id": t.run_id, "params": t.params, "state": t.state,
                               "value": t.value, **({"message": t.message} if t.message else {})}), flush=True)

        study = run_sweep(jobs, base, params, args.trials, jobs.max_concurrent, name, args.storage, args.prune,
                          report, minutes=args.minutes, grid=args.grid, stop=lambda: interrupts.count > 0)
    done = [t for t in study.trials if t.value is not None]
    rows = [(t.params, t.value) for t in done]
    print(strict_json({"best": study.best_trial.params if done else None,
                       "best_value": study.best_value if done else None,
                       "importance": importances(rows, {p.name: p for p in params}), "completed": len(done)}),
          flush=True)
    metric = "validation accuracy" if base.data.val_fraction > 0 else "test accuracy"
    earlier = earlier_results(study, results)  # a resumed study's earlier trials count too
    if earlier:
        print(f"resumed study {name!r}: {len(earlier)} trial(s) from earlier sessions, {len(results)} now",
              file=sys.stderr, flush=True)
    results = earlier + results
    lines, flagged = conclusion(results, metric, 1 / len(SPECS[base.data.dataset].classes))
    print("\n".join([*lines, *flagged]), file=sys.stderr, flush=True)
    jobs.executor.shutdown()
    if interrupts.count:
        return 130
    return 0 if done else 1


def strict_json(obj) -> str:
    """One JSON line that strict parsers read: NaN and infinities become null."""
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    return json.dumps(clean(obj), allow_nan=False)


RUNS_COLUMNS = (Column("id", right=True), Column("status"), Column("dataset"), Column("arch"),
                Column("test acc", right=True), Column("seconds", right=True), Column("name"))


def cmd_runs(_args: argparse.Namespace) -> int:
    runs = RunStore().list_runs(include_unreadable=True)
    if not runs:
        print("no runs yet: try `python -m playground train --recipe lstm64`")
        return 0
    rows = []
    for r in runs:
        if not r.readable:
            rows.append((str(r.id), status("unreadable"), "", "", "", "", f"{r.name}: {r.problem}"))
            continue
        acc, secs = r.result.get("test_acc"), r.result.get("train_seconds")
        rows.append((str(r.id), status(r.status), r.config.data.dataset, r.config.model.arch,
                     "" if acc is None else f"{acc:.4f}", "" if secs is None else f"{secs:.1f}", r.name))
    show(RUNS_COLUMNS, rows, sys.stdout)
    return 0


SUMMARY_COLUMNS = (Column("layer"), Column("type"), Column("output shape"), Column("params", right=True))


def cmd_summary(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    model = build_model(config)
    shape = SPECS[config.data.dataset].shape
    print(f"{config.model.arch} on {config.data.dataset} (input {list(shape)})")
    rows = [(r.name, r.kind, str(list(r.output_shape)), f"{r.params:,}") for r in summary(model, shape)]
    show(SUMMARY_COLUMNS, rows, sys.stdout, footer=("total", "", "", f"{count_parameters(model):,}"))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    loaded = load_checkpoint(args.checkpoint)  # a directory or /dev/zero: "... is not a checkpoint file"
    require_digits(loaded)  # the model, not an image, is wrong: one refusal for the whole command
    failures = 0
    for name in args.images:
        try:
            digit, probs = predict_image(loaded, load_image(read_image_file(name)))
            print(json.dumps({"image": name, "label": int(probs.argmax()), "prob": round(float(probs.max()), 4),
                              "probs": [round(float(p), 4) for p in probs],
                              "unlike_digits": bool(novelty.unlike_digits(digit[None])[0])}))
        except PlaygroundError as exc:  # this image is refused (a FIFO too, without blocking); the others are read
            failures += 1
            print(json.dumps({"image": name, "error": str(exc)}))
    return 1 if failures else 0


def cmd_explain(args: argparse.Namespace) -> int:
    loaded = load_checkpoint(args.checkpoint)
    require_digits(loaded)
    digit, probs = predict_image(loaded, load_image(read_image_file(args.image)))
    target = int(probs.argmax()) if args.target is None else args.target
    if not 0 <= target < len(probs):
        raise ConfigError(f"--target must be a class in 0..{len(probs) - 1}")
    if args.method == "gradcam" and is_recurrent(loaded.config):
        raise ConfigError("Grad-CAM needs a convolutional model; use --method ig or occlusion")
    x = to_input(digit[None], loaded.config)
    pixel_map = saliency(loaded.model, x, target, args.method, blank_input(loaded.config, tuple(x.shape)))
    top = float(np.abs(pixel_map).max()) or 1.0
    red, blue = np.clip(pixel_map / top, 0, 1), np.clip(-pixel_map / top, 0, 1)
    rgb = np.stack([1 - blue, 1 - red - blue, 1 - red], -1).clip(0, 1)  # white 0, red for, blue against
    try:
        Image.fromarray((rgb * 255).astype(np.uint8)).resize((280, 280), Image.Resampling.NEAREST).save(
            args.out, format="PNG")
    except OSError as exc:  # checked up front; the disk may still be full, or the folder gone since
        raise PlaygroundError(f"could not write {args.out}: {exc.strerror or exc}") from None
    print(json.dumps({"image": args.image, "label": int(probs.argmax()), "prob": round(float(probs.max()), 4),
                      "target": target, "method": args.method, "out": args.out}))
    return 0


def cmd_code(args: argparse.Namespace) -> int:
    sys.stdout.write(codegen.script(config_from_args(args)))  # python -m playground code --recipe cnn > train.py
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    names = DATASETS if args.dataset == "all" else [args.dataset]
    for name in names:
        ds = load_dataset(name)
        print(f"{name}: {len(ds.train_y):,} train / {len(ds.test_y):,} test from {ds.source}")
    return 0


COMMANDS = {"train": cmd_train, "study": cmd_study, "runs": cmd_runs, "summary": cmd_summary, "predict": cmd_predict,
            "sweep": cmd_sweep, "explain": cmd_explain, "code": cmd_code, "fetch": cmd_fetch}


def main(argv: list[str] | None = None) -> int:
    # Run names and messages are Unicode; an ASCII-only stdout (LANG=C, a pipe on an old system) must not
    # turn `runs` into a UnicodeEncodeError: characters it cannot show are escaped instead.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PlaygroundError as exc:  # the user can act on it; anything else is a bug and keeps its traceback
        print(f"{parser.prog}: {error(str(exc), sys.stderr)}", file=sys.stderr)
        return 2
