"""A small "digit or not" CNN for Draw's warning, trained with outlier exposure on realistic non-digits.

    .venv/bin/python -m bench.not_a_digit [--checkpoint A.pt ...]

Positives: MNIST's training digits, as they are and re-drawn with a pen (below). Negatives: letters and
symbols typed in every DejaVu and Liberation font here, made to look drawn: warped (slant, rotation, aspect,
elastic), then either thinned to a skeleton and re-drawn with a round pen of a random width, or kept as print
thickened or thinned; and random scribbles (smooth random curves). Letters a person reads as digits are left
out (bench/strokes.py's rule: O D Q I l Z S G b B g q, and o s z i). Then (wide_pens) more digits, a third of
them 0s and a fifth 1s, and more letters, all re-drawn with pens up to a third of the glyph's height, as a mouse
draws. Every image goes through mnist_style as Draw reads a canvas. bench/strokes.py's two writers are never
trained on (they are the test, measured once); every choice is made on bench/strokes_val.py's third writer
(`--validate-only W.pt`: train, save, measure on it and on the calibration digits only; then `--weights W.pt`
ships those weights and measures them on the test sets).

Writes playground/weights/not_a_digit.pt (its threshold: the score only novelty.SHAPE_FALSE_ALARM of the first
novelty.CALIBRATION test digits exceed) and the row "not_a_digit" of bench/results/novelty.json: the CNN alone,
with pixels (the flag Draw and `predict` show), and with pixels and each model's features.
Seeded, one thread: the same weights every run.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from playground import novelty
from playground.data import load_dataset
from playground.preprocess import NoInk, NotADigit, mnist_style

RESULTS = Path(__file__).resolve().parent / "results"
FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation")]
NOT_DIGITS = set("ODQIlZSGbBgqoszi")  # read as 0 1 2 5 6 8 9 by a person too
GLYPHS = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in NOT_DIGITS) + \
    "&#@%$?!*+=<>{}~^€£¥§¶∞πΣΩαβδλμψωΦΨΓΛΞЖЯФДЙ"
SIDE = 96  # px: glyphs are made on a SIDE x SIDE canvas (mnist_style rescales them anyway)
NEGATIVES, PEN_DIGITS = 24_000, 12_000
# A mouse's pens (bench/strokes_val.py's validation writer: 5-34 px on glyphs 100-270 px tall) are wider for their
# glyph than the first pens: more digits and letters re-drawn with pens up to a third of the glyph's height, and
# more drawn 0s and 1s, the digits the first CNN flagged most.
WIDE_DIGITS, WIDE_LETTERS = 8_000, 8_000
NARROW_PEN, WIDE_PEN = (0.04, 0.2), (0.03, 0.35)  # a pen's width as a share of the glyph's height
LETTER_GLYPHS = "".join(c for c in GLYPHS if c.isascii() and c.isalpha())
SEED = 0


def fonts() -> list[Path]:
    return sorted(p for d in FONT_DIRS if d.is_dir() for p in d.glob("*.ttf") if "Math" not in p.name)


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning: a binary mask -> its one-pixel skeleton."""
    img = np.pad(mask.astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p = img
            n = [p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:], p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2]]
            b = sum(x.astype(np.int32) for x in n)
            a = sum(((n[i] == 0) & (n[(i + 1) % 8] == 1)).astype(np.int32) for i in range(8))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            cond = ((p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)) if step == 0 else \
                ((p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0))
            remove = (p[1:-1, 1:-1] == 1) & (b >= 2) & (b <= 6) & (a == 1) & cond
            if remove.any():
                img[1:-1, 1:-1][remove] = 0
                changed = True
    return img[1:-1, 1:-1]


def warp(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A hand's variation: rotation, slant, aspect and scale, then a smooth elastic wobble."""
    angle = rng.uniform(-15, 15) * strength
    slant, aspect = rng.uniform(-0.35, 0.35) * strength, np.exp(rng.uniform(-0.4, 0.25) * strength)
    m = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), angle, rng.uniform(0.7, 1.0))
    m = np.vstack([m, [0, 0, 1]]) @ np.array([[aspect, slant, 0], [0, 1, 0], [0, 0, 1]], np.float64)
    m[:2, 2] += (SIDE / 2) - m[:2, :2] @ [SIDE / 2, SIDE / 2]
    out = cv2.warpAffine(image, m[:2], (SIDE, SIDE), flags=cv2.INTER_LINEAR)
    field = [cv2.GaussianBlur(rng.uniform(-1, 1, (SIDE, SIDE)).astype(np.float32), (0, 0), 9) for _ in range(2)]
    alpha = rng.uniform(0, 120) * strength  # the smoothed noise is ~0.03 wide: a wobble of up to ~4 px
    gx, gy = np.meshgrid(np.arange(SIDE, dtype=np.float32), np.arange(SIDE, dtype=np.float32))
    return cv2.remap(out, gx + alpha * field[0], gy + alpha * field[1], cv2.INTER_LINEAR)


def pen(mask: np.ndarray, rng: np.random.Generator, widths: tuple[float, float] = NARROW_PEN) -> np.ndarray:
    """A shape's skeleton re-drawn with a round pen of a random width (a share of its height), anti-aliased."""
    height = max(np.ptp(np.flatnonzero(mask.any(1))), 8)
    width = max(int(round(height * rng.uniform(*widths))), 3) | 1
    skeleton = thin(mask).astype(np.uint8) * 255
    out = cv2.dilate(skeleton, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width)))
    return cv2.GaussianBlur(out, (3, 3), 0)


def print_like(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Print kept as print, its strokes thickened or thinned by a few px."""
    k = int(rng.integers(-3, 5))
    if k == 0:
        return image
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(k) + 1,) * 2)
    out = cv2.dilate(image, kernel) if k > 0 else cv2.erode(image, kernel)
    return out if out.max() > 0 else image


def typed(ch: str, font: ImageFont.FreeTypeFont) -> np.ndarray:
    im = Image.new("L", (SIDE, SIDE), 0)
    ImageDraw.Draw(im).text((SIDE / 2, SIDE / 2), ch, fill=255, font=font, anchor="mm")
    return np.asarray(im)


def scribble(rng: np.random.Generator) -> np.ndarray:
    """A smooth random curve through 4-8 random points (a person's scrawl, not any glyph)."""
    points = rng.uniform(0.15, 0.85, (int(rng.integers(4, 9)), 2)) * SIDE
    t = np.linspace(0, 1, len(points))
    fine = np.linspace(0, 1, 120)
    curve = np.stack([np.interp(fine, t, points[:, i]) for i in range(2)], 1)
    curve = cv2.GaussianBlur(curve.reshape(-1, 1, 2).astype(np.float32), (1, 0), 6).reshape(-1, 2)
    image = np.zeros((SIDE, SIDE), np.uint8)
    cv2.polylines(image, [np.round(curve).astype(np.int32).reshape(-1, 1, 2)], False, 255,
                  thickness=int(rng.integers(2, 9)), lineType=cv2.LINE_AA)
    return image


def drawn_like(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0,
               widths: tuple[float, float] | None = None) -> np.ndarray:
    """Any shape made to look drawn: warped, then a pen's skeleton (2 of 3) or thickened/thinned print;
    with `widths`, always a pen of those widths."""
    shape = warp(image, rng, strength)
    if widths is not None:
        return pen(shape > 100, rng, widths)
    if rng.random() < 2 / 3:
        return pen(shape > 100, rng)
    return print_like(shape, rng)


def _styled(image: np.ndarray) -> np.ndarray | None:
    try:
        return mnist_style(image)
    except (NoInk, NotADigit):
        return None


def negatives(n: int, rng: np.random.Generator, glyphs: str = GLYPHS, scribbles: float = 0.1,
              widths: tuple[float, float] | None = None) -> np.ndarray:
    """n non-digits: letters and symbols from the fonts, `scribbles` of them scribbles; (n, 28, 28) floats."""
    loaded = [ImageFont.truetype(str(p), int(SIDE * 0.6)) for p in fonts()]
    out = []
    while len(out) < n:
        if rng.random() < scribbles:
            image = scribble(rng)
        else:
            font = loaded[int(rng.integers(len(loaded)))]
            image = typed(glyphs[int(rng.integers(len(glyphs)))], font)
            if image.max() == 0:  # a glyph this font lacks
                continue
            image = drawn_like(image, rng, widths=widths)
        if (x := _styled(image)) is not None:
            out.append(x)
    return np.array(out, np.float32)


def pen_digits(digits: np.ndarray, rng: np.random.Generator, widths: tuple[float, float] | None = None,
               strength: float = 0.7) -> np.ndarray:
    """Training digits re-drawn the way the negatives are, so the pen itself is no sign of a non-digit."""
    out = []
    for d in digits:
        big = np.zeros((SIDE, SIDE), np.uint8)
        big[8:88, 8:88] = cv2.resize(d, (80, 80), interpolation=cv2.INTER_LINEAR)
        if (x := _styled(drawn_like(big, rng, strength, widths))) is not None:
            out.append(x)
    return np.array(out, np.float32)


def train(x: np.ndarray, y: np.ndarray, epochs: int = 4, seed: int = SEED) -> torch.nn.Module:
    """The CNN on (N, 28, 28) images, y = 1 for a non-digit; Adam, batches of 128, one thread."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    model = novelty.NotADigitNet()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xt, yt = torch.as_tensor(x).unsqueeze(1), torch.as_tensor(y, dtype=torch.float32)
    weight = float((y == 0).sum() / max((y == 1).sum(), 1))  # classes count equally
    g = torch.Generator().manual_seed(seed)
    steps = epochs * (len(x) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(len(x) // 128):
            idx = order[i * 128:(i + 1) * 128]
            logit = model(xt[idx])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logit, yt[idx], pos_weight=torch.tensor(weight))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}", flush=True)
    return model.eval()


def dataset(seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """The first CNN's images (unchanged), then wide_pens(seed + 1)'s."""
    rng = np.random.default_rng(seed)
    digits = load_dataset("mnist").train_x[:, 0].numpy()
    pos = np.concatenate([digits / 255.0, pen_digits(digits[rng.permutation(len(digits))[:PEN_DIGITS]], rng)])
    neg = negatives(NEGATIVES, rng)
    x, y = np.concatenate([pos, neg]).astype(np.float32), np.r_[np.zeros(len(pos)), np.ones(len(neg))]
    wide_x, wide_y = wide_pens(seed + 1)
    return np.concatenate([x, wide_x]), np.r_[y, wide_y]


def wide_pens(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """WIDE_DIGITS training digits (a third 0s, a fifth 1s) and WIDE_LETTERS letters, all re-drawn with a pen
    of WIDE_PEN widths and warped at full strength."""
    rng = np.random.default_rng(seed)
    ds = load_dataset("mnist")
    digits, labels = ds.train_x[:, 0].numpy(), ds.train_y.numpy()
    share = np.where(labels == 0, 1 / 3, np.where(labels == 1, 1 / 5, 7 / 15 / 8)) / np.bincount(labels)[labels]
    pick = rng.choice(len(digits), WIDE_DIGITS, replace=False, p=share / share.sum())
    pos = pen_digits(digits[pick], rng, WIDE_PEN, strength=1.0)
    neg = negatives(WIDE_LETTERS, rng, LETTER_GLYPHS, scribbles=0.0, widths=WIDE_PEN)
    return np.concatenate([pos, neg]).astype(np.float32), np.r_[np.zeros(len(pos)), np.ones(len(neg))]


def measure(sets: dict[str, np.ndarray], checkpoints: list[str]) -> dict:
    """The CNN alone, with pixels (Draw's flag), and with pixels and each model's features, on every set."""
    from bench.novelty import TARGET, rate
    from playground.inference import load_checkpoint

    def met(flagged: dict) -> bool:
        return all(flagged[k] >= v if k == "drawn_letters" else flagged[k] <= v for k, v in TARGET.items())

    cnn = {name: novelty.not_a_digit().unlike(images) for name, images in sets.items()}
    pixel = {name: novelty.digit_space().unlike(images) for name, images in sets.items()}
    out = {"threshold": round(novelty.not_a_digit().threshold, 4), "params": novelty.not_a_digit().params,
           "alone": {k: rate(v) for k, v in cnn.items()},
           "with_pixels": {k: rate(cnn[k] | pixel[k]) for k in sets}, "models": {}}
    out["target_met"] = met(out["with_pixels"])
    for path in checkpoints:
        loaded = load_checkpoint(path)
        space = novelty.feature_space(loaded.model, loaded.config)
        flagged = {k: rate(cnn[k] | pixel[k] | space.unlike(v)) for k, v in sets.items()}
        out["models"][Path(path).name] = {"arch": loaded.config.model.arch, "flagged": flagged,
                                          "target_met": met(flagged)}
    out["target_met_alone"] = met(out["alone"])
    return out


def validate(check: novelty.ShapeCheck) -> dict:
    """The CNN alone and pixels or shape (Draw's flag) on the validation writer (bench/strokes_val.py) and on the
    novelty.CALIBRATION test digits that set the threshold: where every training choice is made."""
    from bench import strokes_val
    from bench.novelty import rate

    test = load_dataset("mnist").test_x[:novelty.CALIBRATION, 0].numpy() / 255.0
    (letters, _), (digits, _) = strokes_val.val_letters(), strokes_val.val_digits()
    sets = {"calibration_digits": test, "drawn_digits": digits, "drawn_letters": letters}
    shape = {k: check.unlike(v) for k, v in sets.items()}
    return {"seed": strokes_val.VAL_SEED, "alone": {k: rate(v) for k, v in shape.items()},
            "with_pixels": {k: rate(v | novelty.digit_space().unlike(sets[k])) for k, v in shape.items()}}


def main() -> None:
    from bench import novelty as bench_novelty

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", action="append", default=[], help="a model's checkpoint (repeatable)")
    parser.add_argument("--epochs", type=int, default=3)  # chosen on the validation writer (bench/README.md)
    parser.add_argument("--data", help="an .npz to keep the generated images in and read them back from")
    parser.add_argument("--validate-only", metavar="WEIGHTS",
                        help="save the weights there and measure on the validation writer only (no test set)")
    parser.add_argument("--weights", help="ship these weights (from --validate-only, same data and epochs) "
                                          "instead of training again, and measure them")
    args = parser.parse_args()
    start = time.time()
    if args.data and Path(args.data).is_file():  # generated before (the same seed gives the same images)
        saved = np.load(args.data)
        x, y = saved["x"], saved["y"]
    else:
        x, y = dataset()
        if args.data:
            np.savez(args.data, x=x, y=y)
    print(f"{len(x)} images ({int(y.sum())} non-digits) in {time.time() - start:.0f} s", flush=True)
    if args.weights:  # trained before: the same seed, data and epochs give the same weights
        saved = torch.load(args.weights, map_location="cpu", weights_only=True)
        model = novelty.NotADigitNet()
        model.load_state_dict(saved["state_dict"])
        model.eval()
    else:
        model = train(x, y, args.epochs)
    test = load_dataset("mnist").test_x[:, 0].numpy() / 255.0
    threshold = float(np.quantile(novelty.score(model, test[:novelty.CALIBRATION]), 1 - novelty.SHAPE_FALSE_ALARM))
    if args.validate_only:
        torch.save({"state_dict": model.state_dict(), "threshold": threshold}, args.validate_only)
        print(json.dumps(validate(novelty.ShapeCheck(model, threshold))))
        return
    novelty.WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "threshold": threshold}, novelty.WEIGHTS)
    novelty.not_a_digit.cache_clear()
    sets = bench_novelty.measured_sets()
    row = measure(sets, args.checkpoint)
    row.update(trained_on={"digits": int((y == 0).sum()), "non_digits": int(y.sum()), "epochs": args.epochs,
                           "glyphs": GLYPHS, "fonts": len(fonts())}, seconds=round(time.time() - start),
               validation=validate(novelty.not_a_digit()))
    path = RESULTS / novelty.MEASURED_FILE
    results = json.loads(path.read_text()) if path.is_file() else {}
    results["not_a_digit"] = row
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(row, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
