"""Test images in a grid as plain HTML, each titled "prediction (true)" with mistakes marked ❌ in red.

Same content as the plotly grid it replaced (a subplot per image): the exact pixels as PNGs, one cell size for
every image whatever its title, the title over its own image. That grid was a page's heaviest chart: Train's
24 images were ~13,000 DOM changes and ~120 ms of plotly drawing on every visit (issue 36); these are 24
<figure>s the browser lays out at once."""
from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import numpy as np

MISTAKE_RED = "#d62728"
CELL_PX = 80  # an image's largest side: a wide page never makes it taller than its row


def png_uri(image: np.ndarray) -> str:
    """A uint8 image (H, W) grey or (H, W, 3) as a PNG data URI of exactly its pixels (grey as RGB)."""
    from PIL import Image

    img = np.asarray(image)
    rgb = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def titles(predicted: Sequence[str], true: Sequence[str], probability: Sequence[float] | None = None) -> list[str]:
    """Each image's title, plain text: "✅ 7 (7)", or "❌ airplane 60%\\n(bird)" on two lines when it is long."""
    pairs = list(zip(predicted, true, strict=True))
    sure = [f" {q:.0%}" for q in probability] if probability is not None else [""] * len(pairs)
    two_lines = probability is not None or any(len(p) + len(t) > 6 for p, t in pairs)
    sep = "\n" if two_lines else " "
    return [f"{'✅' if p == t else '❌'} {p}{q}{sep}({t})" for (p, t), q in zip(pairs, sure, strict=True)]


def image_tiles(images: Sequence[np.ndarray], predicted: Sequence[str], true: Sequence[str],
                probability: Sequence[float] | None = None, cols: int = 8) -> str:
    """An HTML grid of `cols` columns: each image under its title (the answer, its probability where given, the
    true class in brackets), a mistake's title red; hovering an image shows its title on one line."""
    names = titles(predicted, true, probability)
    lines = max((t.count("\n") + 1 for t in names), default=1)
    cells = []
    for img, name, p, t in zip(images, names, predicted, true, strict=True):
        colour = f";color:{MISTAKE_RED}" if p != t else ""
        caption = "<br>".join(html.escape(line) for line in name.split("\n"))
        whole = html.escape(name.replace("\n", " "))
        cells.append(
            f'<figure title="{whole}" style="margin:0;min-width:0;text-align:center">'
            f'<figcaption style="font-size:10px;line-height:13px;height:{13 * lines}px;overflow:hidden;'
            f'white-space:nowrap;text-overflow:ellipsis{colour}">{caption}</figcaption>'
            f'<img src="{png_uri(img)}" alt="{whole}" style="display:block;margin:2px auto 0;width:100%;'
            f'max-width:{CELL_PX}px;aspect-ratio:1;image-rendering:pixelated"></figure>')
    grid = f"display:grid;grid-template-columns:repeat({max(1, cols)},minmax(0,1fr));gap:6px 4px"
    return f'<div class="pg-tiles" style="{grid};margin-bottom:8px">{"".join(cells)}</div>'


def picture(image: np.ndarray, title: str, px: int = 150) -> str:
    """One image as the model gets it, `px` wide at most, pixels kept square and sharp, under its title: grey
    (H, W) floats in [0, 1] or uint8, or (H, W, 3) uint8 (a plotly chart for it was one more chart to draw)."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0.0, 1.0) * 255).round().astype(np.uint8)
    name = html.escape(title)
    return (f'<figure class="pg-picture" style="margin:0"><figcaption style="font-size:14px;font-weight:600;'
            f'margin-bottom:6px">{name}</figcaption><img src="{png_uri(img)}" alt="{name}" style="display:block;'
            f'width:100%;max-width:{px}px;aspect-ratio:{img.shape[1]}/{img.shape[0]};image-rendering:pixelated">'
            f'</figure>')
