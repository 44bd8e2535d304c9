"""A model's class probabilities as plain HTML bars: the browser lays them out in about a millisecond, where a
plotly bar chart took tens of milliseconds to draw on every stroke, once per model (issue 36). Same content
as charts.probabilities: a bar per class, its percentage above it, the answer in the second colour."""
from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from .charts import PALETTE

BAR_AREA_PX = 170  # the tallest bar (100%) plus its label


def probability_bars(probs: Sequence[float], classes: Sequence[str], title: str = "Class probabilities") -> str:
    """(C,) probabilities and their C class names -> an HTML figure: a title, then C labelled bars."""
    p = np.clip(np.asarray(probs, dtype=float), 0.0, 1.0)
    answer = int(p.argmax())
    cells = []
    for i, (v, name) in enumerate(zip(p, classes, strict=True)):
        color = PALETTE[1] if i == answer else PALETTE[0]
        cells.append(
            f'<div data-class="{html.escape(str(name))}" data-p="{v:.4f}" style="display:flex;flex-direction:column;'
            f'justify-content:flex-end;align-items:center;min-width:0;height:{BAR_AREA_PX}px">'
            f'<span style="font-size:11px;line-height:14px">{v:.0%}</span>'
            f'<div style="width:80%;height:{v * (BAR_AREA_PX - 16):.1f}px;background:{color};'
            f'border-radius:2px 2px 0 0"></div></div>')
    names = "".join(f'<div style="text-align:center;font-size:12px;overflow:hidden;text-overflow:ellipsis;'
                    f'white-space:nowrap" title="{html.escape(str(n))}">{html.escape(str(n))}</div>'
                    for n in classes)
    columns = f"display:grid;grid-template-columns:repeat({len(p)},minmax(0,1fr));gap:2px"
    return (f'<figure class="pg-bars" role="img" aria-label="{html.escape(title)}" style="margin:0 0 8px 0">'
            f'<figcaption style="font-size:14px;font-weight:600;margin-bottom:6px">{html.escape(title)}</figcaption>'
            f'<div style="{columns};border-bottom:1px solid rgba(128,128,128,.5)">{"".join(cells)}</div>'
            f'<div style="{columns};margin-top:2px">{names}</div></figure>')
