"""Plotly figure builders. Plain data in (lists of metric rows, arrays), figures out; no streamlit."""
from __future__ import annotations

import html
import itertools
import re
import zlib
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

PALETTE = qualitative.Plotly
# st.plotly_chart's `config` for a chart a learner only reads or clicks: Plotly's toolbar, shown on hover at the
# top right, covered titles and legends (a confusion matrix, weights, a gradient legend, "Model input, 28×28").
STATIC = {"displayModeBar": False}
# The confusion matrix's cells, white to a mid blue, under dark counts: on "Blues" plotly's automatic text colour
# left counts on the middle blues unreadable (issue 31). Every cell's contrast with the text is >= 4.5 (WCAG AA).
CONFUSION_SCALE = [[0.0, "#f7fbff"], [1.0, "#5a9fd4"]]
CONFUSION_TEXT = "#1f2937"
MAX_RAW_POINTS = 600  # redrawn every second in the live view: the browser shares our CPU. Smoothing uses all.


def ema(values: Sequence[float], alpha: float) -> np.ndarray:
    """Exponential moving average with bias correction (so the start is not pulled to 0)."""
    out = np.empty(len(values))
    avg, weight = 0.0, 0.0
    for i, v in enumerate(values):
        avg = alpha * avg + (1 - alpha) * v
        weight = alpha * weight + (1 - alpha)
        out[i] = avg / weight
    return out


TITLE_LINE_PX = 20  # the top margin one more title line needs (bold 16 px)


def title_lines(title: str, chars: int | None) -> list[str]:
    """`title` as lines of at most `chars` characters: plotly never wraps a title, it cuts it at the figure's edge.
    A long title breaks after each ": " (the name, then what is shown), a part still too long after its " · " or
    ", " (a line-ending " ·" dropped), and at spaces where nothing else will do."""
    if not chars or len(title) <= chars:
        return [title]
    lines = []
    for part in re.split(r"(?<=: )", title):
        pieces = [w for p in re.split(r"(?<= · )|(?<=, )", part) for w in
                  ([p] if len(p) <= chars else re.split(r"(?<= )", p))]
        line = ""
        for piece in pieces:
            if line and len(line + piece.rstrip()) > chars:
                lines.append(line)
                line = ""
            line += piece
        lines.append(line)
    return [line.rstrip().removesuffix(" ·") for line in lines if line.strip()]


def escape(text: str) -> str:
    """User text (a run or class name) for plotly's HTML-like text: its tags shown, not applied. Quotes stay as
    they are: plotly decodes &lt; &gt; &amp; but shows &quot; literally."""
    return html.escape(text, quote=False)


# The right margin a colour bar and its tick labels take. Plotly widens a margin too narrow for its colour bar by
# drawing the whole chart a second time (issue 36: every feature-map grid on Inside was drawn twice).
COLOUR_BAR_PX = 115
LEGEND_NAME_CHARS = 30  # the longest name a side legend makes room for (a longer one: plotly widens it)
LEGEND_SIDE_PX = 80  # a legend at the right of the plot: its symbols, padding and offset, besides its names


LEGEND_ABOVE_PX = 46  # the top margin one row of legend above the plot takes (a second row is still made room for)


def _shows_legend(fig: go.Figure, showlegend: bool | None) -> bool:
    if showlegend is not None:
        return showlegend
    # plotly's rule: two or more traces for the legend, or one whose showlegend is set to True
    # (an image trace has no showlegend: it never enters the legend)
    shown = [getattr(t, "showlegend", False) for t in fig.data]
    return sum(s is not False for s in shown) > 1 or any(s is True for s in shown)


def _shows_colour_bar(fig: go.Figure) -> bool:
    for trace in fig.data:
        if trace.type in ("heatmap", "contour", "histogram2d") and trace.showscale is not False:
            return True
        for part in ("marker", "line"):
            if getattr(getattr(trace, part, None), "showscale", None):
                return True
    return False


def _layout(fig: go.Figure, height: int = 320, hovermode: str = "x unified", title_chars: int | None = None,
            escape_title: bool = False, **kw) -> go.Figure:
    """The common layout; a `title` longer than `title_chars` broken into lines (the top margin grows to fit),
    each line HTML-escaped where `escape_title` (a run or class name may hold "<")."""
    above = "legend" not in kw  # the legend above the plot, right-aligned
    kw.setdefault("legend", dict(orientation="h", yanchor="bottom", y=1.02, x=1, xanchor="right"))
    kw.setdefault("margin", dict(l=10, r=10, t=40, b=10))
    if above and _shows_legend(fig, kw.get("showlegend")):  # one row of legend over the plot: 44 px
        kw["margin"] = {**kw["margin"], "t": max(kw["margin"].get("t", 40), LEGEND_ABOVE_PX)}
    if _shows_colour_bar(fig):
        kw["margin"] = {**kw["margin"], "r": max(kw["margin"].get("r", 10), COLOUR_BAR_PX)}
    if isinstance(kw.get("title"), str):
        lines = title_lines(kw["title"], title_chars)
        kw["title"] = "<br>".join(escape(line) if escape_title else line for line in lines)
        kw["margin"] = {**kw["margin"], "t": kw["margin"].get("t", 40) + TITLE_LINE_PX * (len(lines) - 1)}
    kw.setdefault("hoverlabel", dict(namelength=-1))  # whole run names: cut at 15 characters, "#1 cnn · bas…"
    fig.update_layout(height=height, hovermode=hovermode, **kw)
    return fig


def _percent_ticks(values: Sequence[float | None]) -> str:
    """A percent tick format with as many decimals as the values' spread needs: whole percents over a
    spread of a point or two repeat their labels ("83%, 82%, 82%")."""
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return ".1%" if finite and max(finite) - min(finite) < 0.1 else ".0%"


def _least_span(values: Sequence[float], least: float = 0.01) -> dict:
    """Axis settings that show at least `least` around `values` (fractions): over one point, or points a hair
    apart, plotly's autorange spans ~0.001 and ".1%" labels all its ticks "95.4%"."""
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not finite or max(finite) - min(finite) >= least:
        return {}
    mid = (max(finite) + min(finite)) / 2
    return dict(range=[mid - least / 2, mid + least / 2], autorange=False)


def _whole_ticks(values: Sequence[float]) -> dict:
    """Axis settings for counts (steps, epochs): on short spans one tick per unit, where plotly would put ticks
    at 0.5 or 1.2, and half a unit either side of the points (one epoch's point got an axis from 0 to 2); on
    longer ones plotly's own ticks are whole numbers already (at most ~10) and its range fits."""
    xs = [float(v) for v in values if v is not None]
    if xs and max(xs) - min(xs) > 10:
        return {}
    return dict(dtick=1, tick0=0, **(dict(range=[min(xs) - 0.5, max(xs) + 0.5]) if xs else {}))


def _epoch_axis(fig: go.Figure) -> go.Figure:
    """An "epoch" x axis with whole-number ticks, whatever the traces span."""
    fig.update_xaxes(title_text="epoch", **_whole_ticks([v for trace in fig.data if trace.x is not None
                                                         for v in trace.x]))
    return fig


def step_loss(step_rows: Sequence[dict], smoothing: float = 0.9, title: str = "Training loss per step",
              show_lr: bool | None = None) -> go.Figure:
    """Raw per-step loss faint behind its smoothed curve; the L2 term on its own axis when present; the
    learning rate in a short panel below when `show_lr` (default: when the rows' rate moves, a schedule).

    Both loss axes start at 0: the L2 term drifts by tenths of a percent, which a tight autorange
    (ticks like 0.0123412) would draw as a steep climb. One step is drawn as points."""
    steps = np.array([r["step"] for r in step_rows], dtype=float)
    loss = np.array([r["loss"] for r in step_rows], dtype=float)
    l2 = np.array([r.get("l2") or 0.0 for r in step_rows], dtype=float)
    has_l2 = bool(len(l2) and l2.max() > 0)
    lr_rows = [r for r in step_rows if r.get("lr") is not None]  # rows stored before schedules have none
    if show_lr is None:
        show_lr = len({r["lr"] for r in lr_rows}) > 1
    mode = "lines" if len(steps) > 1 else "markers"  # a single point: "lines" alone draws nothing
    specs = [[{"secondary_y": has_l2}]] + ([[{}]] if show_lr else [])
    # The rate in a row of its own under the loss, sharing its steps: the loss's two axes are taken already.
    fig = make_subplots(rows=len(specs), cols=1, specs=specs, shared_xaxes=True, vertical_spacing=0.08,
                        row_heights=[0.74, 0.26] if show_lr else None)
    stride = max(1, len(steps) // MAX_RAW_POINTS)
    fig.add_trace(go.Scatter(x=steps[::stride], y=loss[::stride], mode=mode, name="loss (raw)",
                               line=dict(color="rgba(99,110,250,0.25)", width=1)), row=1, col=1)
    if len(loss):
        fig.add_trace(go.Scatter(x=steps[::stride], y=ema(loss, smoothing)[::stride], mode=mode,
                                 name="loss (smoothed)", line=dict(color=PALETTE[0], width=2.5)), row=1, col=1)
    if has_l2:
        fig.add_trace(go.Scatter(x=steps[::stride], y=l2[::stride], mode=mode, name="L2 term (λ·Σw²)",
                                 line=dict(color=PALETTE[1], width=1.5, dash="dot")), row=1, col=1, secondary_y=True)
        # Above the rate's panel the loss's row starts part-way up in pixels, where plotly's "sync" ticks (the
        # default for an overlaying axis) put the bottom one at -2.5e-7, not 0: its own round ticks there.
        fig.update_yaxes(title_text="L2 term", rangemode="tozero", tickformat=".2~g", showgrid=False,
                         row=1, col=1, secondary_y=True, **({"tickmode": "auto"} if show_lr else {}))
    if show_lr:
        _lr_panel(fig, lr_rows, mode)
    fig.update_xaxes(**_whole_ticks(steps))
    fig.update_xaxes(title_text="step", row=len(specs), col=1)  # under the bottom panel only
    fig.update_yaxes(title_text="data loss", rangemode="tozero", row=1, col=1, secondary_y=False)
    return _layout(fig, height=420 if show_lr else 320, title=title)


def _lr_panel(fig: go.Figure, lr_rows: Sequence[dict], mode: str) -> None:
    """The learning rate of each step in the figure's second row, held until the next step (a schedule's
    drops are steps, not slopes)."""
    stride = max(1, len(lr_rows) // MAX_RAW_POINTS)
    kept = list(lr_rows[::stride])
    if lr_rows and kept[-1] is not lr_rows[-1]:
        kept.append(lr_rows[-1])  # the rate where the run is now, whatever the stride
    fig.add_trace(go.Scatter(x=[r["step"] for r in kept], y=[r["lr"] for r in kept], mode=mode,
                             name="learning rate", line=dict(color=PALETTE[2], width=1.5, shape="hv")),
                  row=2, col=1)
    fig.update_yaxes(title_text="learning rate", rangemode="tozero", tickformat=".2~g", row=2, col=1)


def curve_titles(epochs: Sequence[int]) -> tuple[str, str]:
    """The loss and accuracy charts' titles: "per epoch", or which epochs were evaluated when rows skip some
    (a run with eval_every > 1: its lines join measured points only)."""
    xs = sorted(set(epochs))
    gaps = [b - a for a, b in itertools.pairwise(xs)]
    if set(gaps) <= {1}:
        return "Loss per epoch", "Accuracy per epoch"
    every = max(set(gaps), key=gaps.count)  # the usual spacing
    when = f" (measured every {every} epochs)" if every > 1 else " (measured epochs only)"
    return "Loss" + when, "Accuracy" + when


def epoch_curves(epoch_rows: Sequence[dict], kept_epoch: int | None = None) -> go.Figure:
    """Train vs validation loss and accuracy per epoch, side by side; `kept_epoch` (early stopping: the epoch
    whose weights the run kept) marked on both."""
    x = [r["epoch"] for r in epoch_rows]
    fig = make_subplots(rows=1, cols=2, subplot_titles=curve_titles(x))
    for col, metric in ((1, "loss"), (2, "acc")):
        for split, color, dash in (("train", PALETTE[0], "dash"), ("val", PALETTE[2], "solid")):
            y = [r[f"{split}_{metric}"] for r in epoch_rows]
            if all(v is None for v in y):
                continue
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=split, legendgroup=split,
                                     showlegend=col == 1, line=dict(color=color, dash=dash)), row=1, col=col)
    kept = [r for r in epoch_rows if r["epoch"] == kept_epoch]
    for col, metric in ((1, "loss"), (2, "acc")) if kept else ():
        fig.add_vline(x=kept_epoch, line=dict(color="gray", dash="dot", width=1), row=1, col=col)
        fig.add_trace(go.Scatter(x=[kept_epoch], y=[kept[0][f"val_{metric}"]], mode="markers",
                                 name=f"kept: epoch {kept_epoch}", legendgroup="kept", showlegend=col == 1,
                                 marker=dict(symbol="star", size=14, color=PALETTE[2],
                                             line=dict(color="black", width=1))), row=1, col=col)
    fig.update_xaxes(title_text="epoch", **_whole_ticks(x))
    fig.update_yaxes(rangemode="tozero", row=1, col=1)  # one epoch is one point: autorange would pad below 0
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    # The legend under the charts: above them it covered the end of a long title ("...every 6 epochs)").
    # b: the room one row of legend there takes (plotly otherwise widens the margin by drawing the chart again)
    return _layout(fig, height=350, legend=dict(orientation="h", yanchor="top", y=-0.22, x=0, xanchor="left"),
                   margin=dict(l=10, r=10, t=40, b=90))


def compare_curves(runs: Sequence[tuple[str, Sequence[dict]]], ids: Sequence[int] | None = None) -> go.Figure:
    """Many runs on one chart, one colour per run (from its id in `ids`, as on every page), train dashed,
    validation solid: variant_curves with one run per variant."""
    def curve(rows: Sequence[dict], key: str) -> tuple[list, list, list, list]:
        pts = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
        x, y = [p[0] for p in pts], [p[1] for p in pts]
        return x, y, y, y

    keys = ("train_loss", "val_loss", "train_acc", "val_acc")
    ids = list(ids) if ids is not None else list(range(len(runs)))
    return variant_curves([{"name": name, "color_id": run_id, "n": 1, "curves": {k: curve(rows, k) for k in keys}}
                           for run_id, (name, rows) in zip(ids, runs, strict=True)])


RUN_PALETTE = qualitative.D3  # ten clearly distinct hues (Plotly's own has two close pinks, #FF6692 and #FF97FF)


def run_color(run_id: int, taken: Sequence[str] = ()) -> str:
    """A run's colour from its id: the same whatever else is on the chart, unless an earlier variant on
    this chart (`taken`) already has it; then the next free one in the palette, so no two variants share one."""
    start = int(run_id) % len(RUN_PALETTE)
    for step in range(len(RUN_PALETTE)):
        color = RUN_PALETTE[(start + step) % len(RUN_PALETTE)]
        if color not in taken:
            return color
    return RUN_PALETTE[start]


def variant_colors(series: Sequence[dict]) -> list[str]:
    """One colour per variant, in chart order: its oldest run's colour, or the next free one."""
    colors: list[str] = []
    for s in series:
        colors.append(run_color(s["color_id"], colors))
    return colors


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _band_traces(name: str, color: str, curve, dash: str, group: str, legend: bool, n: int) -> list:
    """A mean line (markers too: one epoch is one point) and, over several runs, its min–max band behind it."""
    x, mean, lo, hi = curve
    traces = []
    if n > 1:
        # mode "lines": plotly's default draws markers on a short trace, which here were the band's corners
        # in colours of no variant (the trace has no marker colour of its own).
        traces.append(go.Scatter(x=list(x) + list(x)[::-1], y=list(hi) + list(lo)[::-1], fill="toself",
                                 mode="lines", fillcolor=_rgba(color, 0.18), line=dict(width=0, color=color),
                                 hoverinfo="skip",
                                 legendgroup=group, showlegend=False, name=escape(f"{name} min–max")))
    traces.append(go.Scatter(x=x, y=mean, mode="lines+markers", name=escape(name), legendgroup=group,
                             showlegend=legend, line=dict(color=color, dash=dash)))
    return traces


def variant_curves(series: Sequence[dict]) -> go.Figure:
    """Variants on one chart, coloured by `color_id`: train dashed, validation solid; a variant of
    several runs (seeds) as its mean with a min–max band. `series` items: name, color_id, n, curves
    {metric: (epochs, mean, min, max)} as playground.compare.variant_series makes them."""
    epochs = [e for s in series for curve in s["curves"].values() for e in curve[0]]
    fig = make_subplots(rows=1, cols=2, subplot_titles=curve_titles(epochs))
    for s, color in zip(series, variant_colors(series), strict=True):
        for col, metric in ((1, "loss"), (2, "acc")):
            for split, dash in (("train", "dash"), ("val", "solid")):
                curve = s["curves"][f"{split}_{metric}"]
                if not curve[0]:
                    continue
                label = f"{s['name']} ({split}{', mean' if s['n'] > 1 else ''})"
                for trace in _band_traces(label, color, curve, dash, s["name"], col == 1, s["n"]):
                    fig.add_trace(trace, row=1, col=col)
    _epoch_axis(fig)
    accs = [v for s in series for split in ("train", "val") for part in s["curves"][f"{split}_acc"][1:] for v in part]
    fig.update_yaxes(tickformat=".1%", row=1, col=2, **_least_span(accs))  # ".0%" repeats labels over a few points
    # b: the room one row of legend below takes (more variants wrap it: plotly then makes room for the rest)
    return _layout(fig, height=440, legend=dict(orientation="h", yanchor="top", y=-0.2, x=0, xanchor="left"),
                   margin=dict(l=10, r=10, t=40, b=115))


def variant_gap(series: Sequence[dict]) -> go.Figure:
    """Train minus validation accuracy per epoch per variant (mean and min–max band over its seeds)."""
    fig = go.Figure()
    for s, color in zip(series, variant_colors(series), strict=True):
        if s["curves"]["gap"][0]:
            name = s["name"] + (" (mean)" if s["n"] > 1 else "")
            for trace in _band_traces(name, color, s["curves"]["gap"], "solid", s["name"], True, s["n"]):
                fig.add_trace(trace)
    fig.add_hline(y=0, line=dict(color="grey", width=1))
    _epoch_axis(fig)
    gaps = [v for s in series for part in s["curves"]["gap"][1:] for v in part]
    fig.update_yaxes(title_text="train acc − val acc", tickformat=".1%", **_least_span([0.0, *gaps]))
    return _layout(fig, title="Generalization gap")


def confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str], title: str = "Confusion matrix (test set)",
              clickable: bool = False, bar: bool = True, outlined: tuple[int, int] | None = None) -> go.Figure:
    """Rows true, columns predicted; `clickable` lays an invisible marker on each cell (a heatmap sends no
    click to Streamlit, a scatter point does): a click selects the point at (predicted, true). `bar`: a colour
    bar (each cell has its count written in it: a narrow column gives the bar's room to the cells). `outlined`:
    the cell (true, predicted) whose images are shown, framed; a click's own highlight is not kept (it stayed on
    a cell after another was picked in the list beside it)."""
    m = np.asarray(matrix)
    hover = "true %{y}, predicted %{x}: %{z}<extra></extra>"
    # Whole counts on the colour bar (over a few drawings plotly ticked 0.5, 1.5, 2.5): about 5 ticks, a whole step.
    top = max(1, int(m.max(initial=0)))
    step = max(1, int(np.ceil(top / 5)))
    fig = go.Figure(go.Heatmap(z=m, x=list(classes), y=list(classes), colorscale=CONFUSION_SCALE, zmin=0, zmax=top,
                               text=m, colorbar=dict(tick0=0, dtick=step, tickformat="d", title="count", thickness=12),
                               showscale=bar,
                               texttemplate="%{text}", textfont=dict(color=CONFUSION_TEXT), hovertemplate=hover,
                               hoverinfo="skip" if clickable else None))
    if clickable:
        t, p = np.indices(m.shape).reshape(2, -1)
        fig.add_trace(go.Scatter(
            x=[classes[i] for i in p], y=[classes[i] for i in t], mode="markers",
            marker=dict(symbol="square", size=24, opacity=0), selected=dict(marker=dict(opacity=0)),
            unselected=dict(marker=dict(opacity=0)),
            text=m.reshape(-1), showlegend=False,
            hovertemplate="true %{y}, predicted %{x}: %{text} (click for its images)<extra></extra>"))
        fig.update_layout(clickmode="event+select", dragmode=False)
    if outlined is not None and outlined[0] is not None:
        t, p = outlined  # a category axis places category i at i
        fig.add_shape(type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5, line=dict(color="orange", width=3))
    # Every class named, also in a narrow column (plotly thinned the names to 0, 2, 4, ... there).
    fig.update_xaxes(title_text="predicted", type="category", tickmode="array", tickvals=list(classes))
    fig.update_yaxes(title_text="true", type="category", autorange="reversed", tickmode="array", tickvals=list(classes))
    return _layout(fig, height=360 if len(classes) > 2 else 260, title=title, hovermode="closest")


def probabilities(probs: Sequence[float], classes: Sequence[str], title: str = "Class probabilities") -> go.Figure:
    p = np.asarray(probs, dtype=float)
    colors = [PALETTE[1] if i == int(p.argmax()) else PALETTE[0] for i in range(len(p))]
    fig = go.Figure(go.Bar(x=list(classes), y=p, marker_color=colors, text=[f"{v:.0%}" for v in p],
                           textposition="outside"))
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%")
    return _layout(fig, height=260, title=title)


def _image_trace(pixels: np.ndarray, first_row: int = 0, colorscale: str = "gray") -> go.BaseTraceType:
    """An (H, W) grey or (H, W, 3) uint8 image, pixel by pixel; its rows sit at y = first_row, first_row + 1, ..."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 3:
        return go.Image(z=pixels, x0=first_row, y0=first_row, hovertemplate="row %{y}, col %{x}<extra></extra>")
    return go.Heatmap(z=pixels, y=np.arange(first_row, first_row + len(pixels)),
                      x=np.arange(first_row, first_row + pixels.shape[1]), colorscale=colorscale,
                      showscale=False, hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>")


def image(pixels: np.ndarray, title: str = "", height: int = 260, colorscale: str = "gray") -> go.Figure:
    """A small image, (H, W) grey or (H, W, 3) uint8 RGB, shown pixel by pixel as the model sees it.
    Rows and columns count from 1, as "row t" and "step t" do everywhere."""
    fig = go.Figure(_image_trace(pixels, first_row=1, colorscale=colorscale))
    if np.ndim(pixels) == 2:
        fig.update_yaxes(autorange="reversed")  # a heatmap's row 0 would sit at the bottom
    fig.update_yaxes(scaleanchor="x")
    _bare_tiles(fig)
    return _layout(fig, height=height, title=title)


def row_predictions(probs: np.ndarray, classes: Sequence[str], row: int | None = None,
                    title: str = "How the prediction forms, row by row", title_chars: int | None = None) -> go.Figure:
    """How a recurrent model's answer forms: class probabilities after each row, (T, classes), plus
    the probability of the final answer as a line. `row` (1-based) is marked."""
    p = np.asarray(probs)
    final = int(p[-1].argmax())
    steps = np.arange(1, len(p) + 1)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.06)
    fig.add_trace(go.Heatmap(z=p.T, x=steps, y=list(classes), colorscale="Viridis", zmin=0, zmax=1,
                             colorbar=dict(title="p", len=0.7, y=0.65),
                             hovertemplate="after row %{x}: p(%{y}) = %{z:.2f}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=steps, y=p[:, final], mode="lines+markers", name=f"p({classes[final]})",
                             line=dict(color=PALETTE[1])), row=2, col=1)
    if row:
        fig.add_vline(x=row, line=dict(color="white", width=2, dash="dot"), row=1, col=1)
        fig.add_vline(x=row, line=dict(color="grey", width=1, dash="dot"), row=2, col=1)
    fig.update_yaxes(type="category", title_text="class", row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title_text=f"p({classes[final]})", row=2, col=1)
    fig.update_xaxes(title_text="rows read", row=2, col=1)
    return _layout(fig, height=380, title=title, hovermode="closest", title_chars=title_chars)


def image_rows(pixels: np.ndarray, row: int | None = None, title: str = "", height: int = 260) -> go.Figure:
    """An image with rows already read bright and the rest dimmed: what a recurrent model has seen so far."""
    fig = image(pixels, title=title, height=height)
    if row:  # 1-based, like the image's own rows
        rows, cols = np.asarray(pixels).shape[:2]
        if row < rows:
            fig.add_shape(type="rect", x0=0.5, x1=cols + 0.5, y0=row + 0.5, y1=rows + 0.5,
                          fillcolor="rgba(30,30,60,0.65)", line=dict(width=0))
        fig.add_shape(type="rect", x0=0.5, x1=cols + 0.5, y0=row - 0.5, y1=row + 0.5,
                      line=dict(color=PALETTE[1], width=2))
    return fig


def colour_range(arrays: Sequence[np.ndarray], robust: bool = False) -> tuple[float, float]:
    """One colour scale for several panels compared: symmetric about 0 (white = 0) when any value is
    negative, else 0..max. `robust` stops at the 99th percentile of |value| (larger values saturate), so a
    few large values (an LSTM's cell state) do not wash everything else out to white."""
    values = np.concatenate([np.abs(np.ravel(a)) for a in arrays]) if len(arrays) else np.zeros(1)
    top = float(np.percentile(values, 99) if robust else values.max()) or 1.0
    negative = any(np.min(a) < 0 for a in arrays)
    return (-top, top) if negative else (0.0, top)


# A map cell's hover: the value from z, or (maps each stretched to their own scale) the true one kept beside it
MAP_HOVER = "map %{{customdata[0]}}<br>row %{{customdata[1]}}, col %{{customdata[2]}}: %{{{value}:.3f}}<extra></extra>"
MAPS_PX = 700  # the width of the tiles of a map grid across Inside's main column at 1,280 px


def map_grid(maps: np.ndarray, shared_scale: bool = True, title: str = "", max_maps: int = 32,
             cols: int = 8, zrange: tuple[float, float] | None = None, title_chars: int | None = None,
             noun: str = "maps") -> go.Figure:
    """Feature maps (C, H, W) as a grid of small heatmaps, with a colour bar either way: one colour scale for
    all (`zrange`; by default these maps' own), or one per map, each map then scaled to its own largest |value|
    (the colour bar says so; hovering shows the true value). map_grids, for one model."""
    return map_grids({"": maps}, "shared" if shared_scale else "per map", title, max_maps, cols, zrange,
                     title_chars, noun=noun)


class Stage(NamedTuple):
    """One row of a stage_grids figure: each model's maps of one stage (name -> (C, H, W), None where a model
    has no such stage), its title, a note per model (e.g. its own layer, where the models' differ), its colour
    scale ("shared", "per model" or "per map", as map_grids) and the noun its maps are counted in."""
    title: str
    blocks: dict[str, np.ndarray | None]
    notes: dict[str, str] | None = None
    scale: str = "shared"
    zrange: tuple[float, float] | None = None
    noun: str = "maps"


def map_grids(blocks: dict[str, np.ndarray | None], scale: str = "shared", title: str = "", max_maps: int = 32,
              cols: int = 8, zrange: tuple[float, float] | None = None, title_chars: int | None = None,
              notes: dict[str, str] | None = None, noun: str = "maps") -> go.Figure:
    """Feature maps of one stage for each model side by side (name -> (C, H, W), or None where a model has no
    such stage), each model's grid labelled with its name, shape and its `notes` (e.g. its own layer, where the
    models' differ). `scale`: "shared" (one colour scale for all: `zrange`, by default the maps' own; one colour
    bar), "per model" (a colour bar each) or "per map" (each map stretched to its own largest |value|; hovering
    shows the true value). Only the first `max_maps` of a model are drawn (of its `noun`), and its label then
    says so. Cells are square (CIFAR's 32×32 maps were drawn as tall rectangles): the grids keep their aspect
    and the figure's height follows them."""
    return stage_grids([Stage("", blocks, notes, scale, zrange, noun)], title, max_maps, cols, title_chars)


STAGE_HEAD_PX = 40  # a stage's own title over its grids and a gap above it, when one figure holds several
LABEL_PX = 20  # the line of model labels over a stage's grids


def stage_grids(stages: Sequence[Stage], title: str = "", max_maps: int = 32, cols: int = 8,
                title_chars: int | None = None) -> go.Figure:
    """Stages stacked in one figure, each a row of map_grids (its own axes, title, labels and colour bars):
    a chart per stage took the browser about as long each as this takes for all (Inside, issue 36).

    The tiles are one heatmap per model on one pair of axes, narrow empty bands between them: a subplot per tile
    looked the same and took the browser about ten times as long to draw."""
    if not stages:
        raise ValueError("stage_grids needs a stage")
    fig, one = go.Figure(), len(stages) == 1
    rows = [_stage_row(fig, stage, "" if i == 0 else str(i + 1), max_maps, cols) for i, stage in enumerate(stages)]
    if one and not stages[0].title:  # one stage: the figure's title is the stage's
        title += rows[0]["more"]
    # One stage: its model labels in the top margin; several: each row's title and labels over it, in the plot
    heads = [0] if one else [STAGE_HEAD_PX + LABEL_PX * r["lines"] for r in rows]
    top = 40 + (LABEL_PX * rows[0]["lines"] if one else 0)
    plot = sum(r["px"] + h for r, h in zip(rows, heads, strict=True))
    at = 0.0
    for i, (row, head) in enumerate(zip(rows, heads, strict=True)):  # each row's band of the plot, top down
        at += head
        domain = [1 - (at + row["px"]) / plot, 1 - at / plot]
        at += row["px"]
        _place_row(fig, stages[i], row, "" if i == 0 else str(i + 1), domain, not one)
    _bare_tiles(fig)
    return _layout(fig, height=round(plot) + top + 10, title=title, hovermode="closest",
                   plot_bgcolor="rgba(0,0,0,0)", title_chars=title_chars,
                   margin=dict(l=10, r=10, t=top, b=10))


def _stage_row(fig: go.Figure, stage: Stage, axis: str, max_maps: int, cols: int) -> dict:
    """One stage's heatmaps added to `fig` on axes x<axis>/y<axis>, side by side; what placing it needs."""
    blocks, scale, notes = stage.blocks, stage.scale, stage.notes
    shown = {name: np.asarray(m, dtype=float)[:max_maps] for name, m in blocks.items() if m is not None}
    common = stage.zrange or colour_range(list(shown.values()) or [np.zeros(1)])
    signed = any(colour_range([g])[0] < 0 for g in shown.values())  # "per map": one colour scale for all grids
    laid = {name: (_tiles(g, min(cols, len(g)), scale == "per map"), g.shape) for name, g in shown.items()}
    widest = max((float(wide) for (_, _, wide, _), _ in laid.values()), default=6.0)
    x0, tall, band, labels, more, first = 0.0, 0.0, 0.0, [], "", len(fig.data)
    short = _short_names(list(shown))
    for name in blocks:
        # A model's own layer on a line of its own: beside its name and shape it ran into the next model's label
        note = [notes[name]] if notes and notes.get(name) else []
        if name not in laid:  # an empty place as wide as a grid, so each model stays where the others' put it
            labels.append((x0 + widest / 2, [f"{name}: no such stage", *note]))
            band = 0.1 * widest
            x0 += widest + band
            continue
        (z, about, wide, high), (n, h, w) = laid[name]
        lo, hi = common if scale == "shared" else colour_range([shown[name]])
        diverging = signed if scale == "per map" else lo < 0
        fig.add_trace(go.Heatmap(
            z=z, x0=x0 + 0.5, dx=1, y0=0.5, dy=1, customdata=about, hoverongaps=False,  # cell edges: whole numbers
            xaxis=f"x{axis}", yaxis=f"y{axis}",
            **(dict(zmin=-1.0 if signed else 0.0, zmax=1.0) if scale == "per map" else dict(zmin=lo, zmax=hi)),
            colorscale="RdBu_r" if diverging else "Viridis", showscale=scale == "per model" or len(fig.data) == first,
            colorbar=_map_bar(scale, diverging, short[name], len(shown)),
            hovertemplate=(escape(name) + "<br>" if name else "") + MAP_HOVER.format(
                value="customdata[3]" if scale == "per map" else "z")))
        total = len(blocks[name])
        if name:
            labels.append((x0 + wide / 2, [f"{name} · {total}×{h}×{w}" + (f", first {n}" if n < total else ""),
                                           *note]))
        elif n < total:
            more = f" · first {n} of {total} {stage.noun}"
        band = 0.6 * w  # between two models' grids
        x0 += wide + band
        tall = max(tall, float(high))
    # As tall as the tiles are at MAPS_PX wide (a wider figure's tiles are as tall, a narrower one's room below);
    # a colour bar per model, stacked, needs ~125 px each (its title included) to show its ticks apart (two rows
    # of tiles gave ~30; 150 left ~100 px empty under a stage of two rows)
    bars = len(shown) if scale == "per model" and len(shown) > 1 else 1
    px = max(MAPS_PX * tall / max(x0 - band, 1.0), 125 * bars if bars > 1 else 100)
    lines = max((len(text) for _, text in labels), default=0)  # of the model labels over the tiles
    return dict(px=px, labels=labels, lines=lines, more=more, traces=range(first, len(fig.data)))


def _place_row(fig: go.Figure, stage: Stage, row: dict, axis: str, domain: list[float], headed: bool) -> None:
    """A stage's axes in its band of the plot (square cells, any room left below the tiles), its title and model
    labels over it, its colour bars beside it (stacked in the band, one per model, for "per model")."""
    fig.update_layout({f"xaxis{axis}": dict(anchor=f"y{axis}", constrain="domain"),
                       f"yaxis{axis}": dict(domain=domain, anchor=f"x{axis}", scaleanchor=f"x{axis}", scaleratio=1,
                                            constrain="domain", constraintoward="top", autorange="reversed")})
    bars = [fig.data[i] for i in row["traces"] if fig.data[i].showscale]
    for k, trace in enumerate(bars):
        share = (domain[1] - domain[0]) / len(bars)  # of the plot's height: a gap between two stacked bars
        trace.colorbar.update(y=domain[1] - (k + 0.5) * share, yanchor="middle",
                              len=share * (0.9 if len(bars) > 1 else 1))
    ref = dict(xref=f"x{axis}", yref=f"y{axis} domain", y=1, yanchor="bottom", showarrow=False)
    for at, lines in row["labels"]:  # each model's grid labelled over it (a single unnamed grid has none)
        fig.add_annotation(x=at, text="<br>".join(map(escape, lines)), font=dict(size=12), **ref)
    if headed:  # the stage's title over its labels
        fig.add_annotation(**{**ref, "xref": "paper"}, x=0, xanchor="left",
                           text=f"<b>{escape(stage.title + row['more'])}</b>",
                           yshift=LABEL_PX * row["lines"], font=dict(size=13))


def _map_bar(scale: str, diverging: bool, name: str, models: int) -> dict:
    """The colour bar of a model's maps: one for all ("shared", "per map"), or one per model, titled with its
    model's name (stage_grids stacks them beside the stage)."""
    if scale == "per map":
        return dict(thickness=12, title="each map", tickvals=[-1, 0, 1] if diverging else [0, 1],
                    ticktext=["−its max", "0", "+its max"] if diverging else ["0", "its max"])
    if scale == "shared" or models == 1:
        return dict(thickness=12, title="value")
    return dict(thickness=12, title=escape(name))


def _short_names(names: list[str]) -> dict[str, str]:
    """Names that tell models apart in a colour bar's title: "trained"/"untrained" for one model and its start,
    "#3 CNN"/"#5 CNN" for two checkpoints; the whole name where neither part does."""
    for part in (lambda n: n.rpartition(", ")[2], lambda n: n.rpartition(", ")[0]):
        short = {n: part(n) for n in names}
        if all(short.values()) and len(set(short.values())) == len(names):
            return short
    return {n: n for n in names}


def _tiles(maps: np.ndarray, cols: int, own_scale: bool) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(n, H, W) maps laid out `cols` to a row, a cell's width of NaN between tiles: z, the per-cell (map, row,
    column) for hover (and the true value where `own_scale` divides each map by its own largest |value|), and
    the grid's width and height in cells.

    The gaps are whole cells so the grid is evenly spaced: plotly then draws a heatmap as one pixelated image
    (a pixel per cell) instead of painting every cell on the plot's pixels, half the time (issue 36)."""
    n, h, w = maps.shape
    rows = int(np.ceil(n / cols))
    shown = maps
    if own_scale:
        top = np.abs(maps).reshape(n, -1).max(1)
        shown = np.where(top[:, None, None] > 0, maps / np.maximum(top, 1e-30)[:, None, None], 0.0)
    z = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan, dtype=np.float32)
    # Where each map's value is its colour, hover reads it from z; whole numbers fit 2 bytes (the spec's size)
    about = np.zeros(z.shape + (4 if own_scale else 3,), dtype=np.float32 if own_scale else np.int16)
    rr, cc = np.mgrid[1:h + 1, 1:w + 1]
    for i, m in enumerate(shown):
        r, c = divmod(i, cols)
        tile = np.s_[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w]
        z[tile] = m
        about[tile] = np.stack([np.full((h, w), i + 1), rr, cc] + ([maps[i]] if own_scale else []), -1)
    return z, about, z.shape[1], z.shape[0]


def _square(fig: go.Figure, subplots: int = 1) -> None:
    """Square cells on each of `subplots` subplots: its y axis scaled to its x axis, the plot area shrunk to fit
    (not the axis range widened)."""
    for i in range(1, subplots + 1):
        n = "" if i == 1 else str(i)
        fig.layout[f"xaxis{n}"].update(constrain="domain")
        fig.layout[f"yaxis{n}"].update(scaleanchor=f"x{n}", scaleratio=1, constrain="domain",
                                         constraintoward="top")  # any room left below, not between title and tiles


def _bare_tiles(fig: go.Figure) -> None:
    """Tiles without tick labels, tick dashes, grid or zero lines: nothing a learner reads on a map."""
    for update in (fig.update_xaxes, fig.update_yaxes):
        update(showticklabels=False, ticks="", showgrid=False, zeroline=False)


def filter_grid(weights: np.ndarray, title: str = "First-layer filters",
                zrange: tuple[float, float] | None = None, title_chars: int | None = None) -> go.Figure:
    """Kernels (out, in, k, k): RGB images when in=3 (each scaled to [0, 255]), heatmaps otherwise
    (on `zrange`, e.g. shared with another model's filters)."""
    w = np.asarray(weights)
    if w.shape[1] == 3:
        n, cols = len(w), min(8, len(w))
        rows = int(np.ceil(n / cols))
        fig = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.01, vertical_spacing=0.03)
        for i, k in enumerate(w):
            k = (k - k.min()) / max(1e-8, float(k.max() - k.min())) * 255
            fig.add_trace(go.Image(z=np.transpose(k, (1, 2, 0)), hovertemplate=f"filter {i}<extra></extra>"),
                          row=i // cols + 1, col=i % cols + 1)
        _bare_tiles(fig)
        _square(fig, n)
        return _layout(fig, height=max(160, 110 * rows + 40), title=title, hovermode="closest",
                       title_chars=title_chars)
    return map_grid(w[:, 0], shared_scale=True, title=title, zrange=zrange, title_chars=title_chars, noun="filters")


def hidden_states(hidden: np.ndarray, image: np.ndarray | None = None, sort_units: bool = False,
                  title: str = "Hidden state h_t, one row per step",
                  zrange: tuple[float, float] | None = None) -> go.Figure:
    """Time steps x hidden units, beside the input image on a shared y axis so that image row t
    lines up with h_t, the state after reading it; optionally units sorted by mean activation.
    `zrange` is the colour scale (e.g. shared with another model's states), by default symmetric about 0."""
    h = np.asarray(hidden)  # (T, units)
    order = np.argsort(h.mean(0))[::-1] if sort_units else np.arange(h.shape[1])
    steps = np.arange(1, len(h) + 1)
    panels = 2 if image is not None else 1
    fig = make_subplots(rows=1, cols=panels, shared_yaxes=True, horizontal_spacing=0.02,
                        column_widths=[0.3, 0.7] if panels == 2 else None)
    if image is not None:
        fig.add_trace(_image_trace(image, first_row=1), row=1, col=1)
        # Pixels a little taller than wide: square ones would squeeze the heatmap to the image's width.
        fig.update_xaxes(showticklabels=False, title_text="input", row=1, col=1)
    lo, hi = zrange or colour_range([h, -h])  # white is 0 either way
    fig.add_trace(go.Heatmap(z=h[:, order], y=steps, x=[str(u) for u in order], colorscale="RdBu_r", zmin=lo,
                             zmax=hi, colorbar=dict(title="h", thickness=12),
                             hovertemplate="step %{y}, unit %{x}: %{z:.3f}<extra></extra>"), row=1, col=panels)
    fig.update_xaxes(title_text="unit" + (" (sorted by mean)" if sort_units else ""), type="category",
                     showticklabels=len(order) <= 64, row=1, col=panels)
    # Step 1 (the top image row) at the top; both panels share this axis.
    fig.update_yaxes(autorange="reversed", title_text="step = image row", row=1, col=1)
    return _layout(fig, height=460, title=title, hovermode="closest")


def gates(gate_maps: dict[str, np.ndarray], title: str = "Gates over time",
          cell_range: tuple[float, float] | None = None) -> go.Figure:
    """Each gate (T, units) as steps x units, step 1 on top like the image; a shared 0..1 scale
    for the gates, the cell state on its own diverging scale with its own colour bar: `cell_range`
    (e.g. shared with another model's), by default its own 99th percentile of |c| (larger values saturate)."""
    names = list(gate_maps)
    short = [n.removesuffix(" gate") for n in names]  # "input", "forget", ...: full names collide side by side
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=short, horizontal_spacing=0.03, shared_yaxes=True)
    for i, name in enumerate(names):
        z = np.asarray(gate_maps[name])
        bounded = name != "cell state"
        lo, hi = (0, 1) if bounded else cell_range or colour_range([z, -z], robust=True)
        fig.add_trace(go.Heatmap(z=z, y=np.arange(1, len(z) + 1), colorscale="Viridis" if bounded else "RdBu_r",
                                 zmin=lo, zmax=hi, showscale=i == 0 or not bounded,
                                 # One above the other: side by side they overlap in a narrow column.
                                 colorbar=dict(title="gate", y=0.77, len=0.46) if bounded
                                 else dict(title="cell", y=0.23, len=0.46),
                                 hovertemplate=f"{name}<br>step %{{y}}, unit %{{x}}: %{{z:.3f}}<extra></extra>"),
                      row=1, col=i + 1)
    fig.update_xaxes(title_text="unit", showticklabels=False)
    fig.update_yaxes(autorange="reversed", title_text="step", row=1, col=1)
    _layout(fig, height=410, hovermode="closest", title=title)
    # The title above the panel titles (input, forget, ...), which sit on the plot's top edge: room for both.
    fig.update_layout(margin_t=80, title=dict(y=0.985, yanchor="top"))
    return fig


def line_colors(ids: dict[str, int]) -> dict[str, str]:
    """Each line's colour from what it is (name -> run id), not from its place on the chart: its run's colour,
    shared by the lines of one run (trained, untrained); two runs on one colour: the higher id takes the next
    free one, whatever order the lines come in."""
    by_run: dict[int, str] = {}
    for run_id in sorted(set(ids.values())):
        by_run[run_id] = run_color(run_id, list(by_run.values()))
    return {name: by_run[run_id] for name, run_id in ids.items()}


def gradient_norms(series: dict[str, np.ndarray], relative: bool = True, ids: dict[str, int] | None = None,
                   untrained: Sequence[str] = ()) -> go.Figure:
    """||dL/dh_t|| per step for several models on a log scale: the vanishing gradient made visible.

    `relative` divides each curve by its last step, so a confident model (small loss, small
    gradients everywhere) and an unsure one compare by how the signal decays back in time.
    `ids` (name -> run id) colours each curve as its run; the `untrained` curves are dashed in their run's colour."""
    colors = line_colors({name: (ids or {}).get(name, zlib.crc32(name.encode())) for name in series})
    fig = go.Figure()
    for name, norms in series.items():
        y = np.asarray(norms, dtype=float)
        if relative:
            y = y / max(y[-1], 1e-30)
        fig.add_trace(go.Scatter(x=np.arange(1, len(y) + 1), y=np.maximum(y, 1e-30), mode="lines+markers",
                                 name=escape(name), line=dict(color=colors[name],
                                                              dash="dash" if name in untrained else "solid")))
    label = "‖∂loss/∂h_t‖ / ‖∂loss/∂h_T‖ (log)" if relative else "‖∂loss/∂h_t‖ (log)"
    fig.update_yaxes(type="log", title_text=label, exponentformat="power")
    fig.update_xaxes(title_text="step t (image row)")
    return _layout(fig, height=360, title="Gradient through time")


def weight_change(series: dict[str, Sequence], ids: dict[str, int] | None = None) -> go.Figure:
    """How far each layer moved from its initial weights, ||w - w0|| / ||w0||, one bar group per model.
    `series` maps a model's name to its probes.LayerChange rows (same layers for every model); `ids` (name -> run
    id) colours each model's bars as its run, as on every other page."""
    colors = line_colors({name: (ids or {}).get(name, zlib.crc32(name.encode())) for name in series})
    fig = go.Figure()
    for name, rows in series.items():
        fig.add_trace(go.Bar(y=[r.layer for r in rows], x=[r.change for r in rows], orientation="h",
                             name=escape(name), marker_color=colors[name],
                             text=[f"{r.change:.0%}" for r in rows], textposition="outside",
                             customdata=[r.params for r in rows],
                             hovertemplate="%{y}: moved %{x:.1%} (%{customdata:,} parameters)<extra></extra>"))
    layers = max((len(rows) for rows in series.values()), default=1)
    fig.update_xaxes(title_text="‖w − w₀‖ / ‖w₀‖", tickformat=".0%", rangemode="tozero")
    fig.update_yaxes(type="category", autorange="reversed")
    return _layout(fig, height=max(220, 60 + 28 * layers * max(1, len(series))), hovermode="closest",
                   title="How far each layer moved from its initial weights", barmode="group")


def attribution(pixel_map: np.ndarray, title: str = "", zmax: float | None = None, height: int = 260,
                outline: np.ndarray | None = None, title_chars: int | None = None) -> go.Figure:
    """A saliency map over the input's pixels: red pushed the answer up, blue down, white nothing;
    `zmax` shares one scale between maps compared (default: this map's own largest |value|); `outline`,
    the input (H, W) in [0, 1], draws its ink's edge over the map (a grey line at half its brightest)."""
    a = np.asarray(pixel_map, dtype=float)
    top = zmax or float(np.abs(a).max()) or 1.0
    x, y = np.arange(1, a.shape[1] + 1), np.arange(1, a.shape[0] + 1)
    fig = go.Figure(go.Heatmap(z=a, x=x, y=y, colorscale="RdBu_r", zmin=-top, zmax=top, colorbar=dict(thickness=10),
                               hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>"))
    if outline is not None:
        ink = np.asarray(outline, dtype=float)
        level = 0.5 * float(ink.max() or 1.0)
        fig.add_trace(go.Contour(z=ink, x=x, y=y, contours=dict(start=level, end=level, size=1, coloring="none"),
                                 line=dict(color="rgba(60,60,60,0.8)", width=1.5), showscale=False,
                                 hoverinfo="skip", name="outline of the ink"))
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    _bare_tiles(fig)
    return _layout(fig, height=height, title=title, hovermode="closest", title_chars=title_chars, escape_title=True)


def row_attribution(rows: np.ndarray, title: str = "Per row", height: int = 260,
                    xmax: float | None = None, title_chars: int | None = None) -> go.Figure:
    """What a recurrent model's answer owes to each image row it read (row 1 on top, as in the image);
    `xmax` shares one axis between the bars compared (default: these bars' own largest |value|)."""
    r = np.asarray(rows, dtype=float)
    top = xmax or float(np.abs(r).max()) or 1.0
    fig = go.Figure(go.Bar(x=r, y=np.arange(1, len(r) + 1), orientation="h",
                           marker_color=[PALETTE[1] if v > 0 else PALETTE[0] for v in r],
                           hovertemplate="row %{y}: %{x:.3g}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="row")
    fig.update_xaxes(range=[-1.05 * top, 1.05 * top])
    return _layout(fig, height=height, title=title, hovermode="closest", title_chars=title_chars, escape_title=True)


def projection(points: np.ndarray, labels: np.ndarray, classes: Sequence[str], predicted: np.ndarray,
               title: str = "", extra: np.ndarray | None = None, height: int = 420,
               axis: str = "component") -> go.Figure:
    """Inputs placed on a 2-D map of what the last layer sees, one colour per true class; hover shows the
    test image's index, class and answer; `extra` (a learner's drawing) as a black star.
    All dots are one SVG trace coloured by class, the legend a key of empty traces: a WebGL trace per class took
    ~250 ms to draw in Chromium, one SVG trace ~90 (bench/README.md, issue 36). A legend click hides nothing."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    names = [escape(str(name)) for name in classes]
    fig = go.Figure([go.Scatter(x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                                marker=dict(size=7, color=qualitative.D3[c % 10]))
                     for c, name in enumerate(names) if (labels == c).any()])
    fig.add_trace(go.Scatter(
        x=points[:, 0], y=points[:, 1], mode="markers", showlegend=False, name="test images",
        marker=dict(size=4, color=[qualitative.D3[int(c) % 10] for c in labels], opacity=0.7),
        customdata=np.stack([np.arange(len(points)), [names[int(p)] for p in predicted],
                             [names[int(c)] for c in labels]], -1),
        hovertemplate="test image %{customdata[0]}: %{customdata[2]}, read as %{customdata[1]}<extra></extra>"))
    if extra is not None:
        fig.add_trace(go.Scatter(x=extra[:, 0], y=extra[:, 1], mode="markers", name="your drawing",
                                 marker=dict(symbol="star", size=16, color="black")))
    fig.update_xaxes(showticklabels=False, title_text=f"{axis} 1")
    fig.update_yaxes(showticklabels=False, title_text=f"{axis} 2")
    # The legend at the right, not over the title: ten classes in a row reach across it. The right margin holds it
    # (its longest name), or plotly widens it by drawing the chart twice.
    shown = [str(c) for i, c in enumerate(classes) if (labels == i).any()] + (["your drawing"] if extra is not None
                                                                                  else [])
    longest = min(max(map(len, shown)), LEGEND_NAME_CHARS)  # characters shown, not their escapes; a long one cut
    return _layout(fig, height=height, title=escape(title), hovermode="closest",
                   legend=dict(orientation="v", yanchor="top", y=1, x=1.02, xanchor="left", itemclick=False,
                               itemdoubleclick=False), margin=dict(l=10, r=LEGEND_SIDE_PX + 7 * longest, t=40, b=10))


def lr_range(lrs: np.ndarray, losses: np.ndarray, smoothed: np.ndarray, suggestion: float | None,
             height: int = 300) -> go.Figure:
    """A learning-rate range test: the training loss against a rising learning rate (log axis); the suggestion
    dashed (none when the curve gave none)."""
    fig = go.Figure([go.Scatter(x=lrs, y=losses, mode="lines", name="loss", line=dict(color="#bbb", width=1)),
                     go.Scatter(x=lrs, y=smoothed, mode="lines", name="smoothed", line=dict(color=PALETTE[0]))])
    if suggestion is not None:
        fig.add_vline(x=suggestion, line=dict(color=PALETTE[1], dash="dash"))
    fig.update_xaxes(type="log", title_text="learning rate", exponentformat="power")
    fig.update_yaxes(title_text="training loss")
    return _layout(fig, height=height, hovermode="x unified")


def parallel_settings(rows: Sequence[dict], settings: Sequence[str], metric_label: str = "val acc",
                      height: int = 380) -> go.Figure:
    """Each run a line across its settings to its result (colour = the result): which settings the best
    runs share. Text settings get one tick per value."""
    dims = []
    for k in settings:
        values = [r[k] for r in rows]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            lo, hi = min(values), max(values)
            log = lo > 0 and hi / lo > 10
            dims.append(dict(label=escape(k + (" (log10)" if log else "")), tickformat=".3~g",
                             values=[float(np.log10(v)) if log else float(v) for v in values]))
        else:
            names = sorted({str(v) for v in values})
            dims.append(dict(label=escape(k), values=[names.index(str(v)) for v in values],
                             tickvals=list(range(len(names))), ticktext=[escape(n) for n in names]))
    metric = [r["metric"] if r["metric"] is not None else np.nan for r in rows]
    dims.append(dict(label=metric_label, values=metric, tickformat=_percent_ticks(metric)))
    if any(r.get("gap") is not None for r in rows):
        dims.append(dict(label="gap (train-val)", values=[r["gap"] if r["gap"] is not None else np.nan for r in rows],
                         tickformat=".1%"))
    fig = go.Figure(go.Parcoords(line=dict(color=metric, colorscale="Viridis", showscale=True,
                                           colorbar=dict(tickformat=_percent_ticks(metric))),
                                 dimensions=dims, labelangle=0))
    # Room left and right: the outer axes' tick labels were cut ("0064312" for 0.0064312).
    return _layout(fig, height=height, margin=dict(l=70, r=70, t=60, b=20))


def setting_scatters(rows: Sequence[dict], settings: Sequence[str], metric_label: str = "val acc",
                     height: int = 260) -> go.Figure:
    """The result against each setting on its own, one small chart per setting (log axis for a wide range;
    text settings as categories); hover gives the run."""
    shown = list(settings)[:6]
    fig = make_subplots(rows=1, cols=max(1, len(shown)), shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[escape(k) for k in shown])
    metric = [r["metric"] for r in rows]
    for i, k in enumerate(shown, 1):
        values = [r[k] for r in rows]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        fig.add_trace(go.Scatter(x=values if numeric else [str(v) for v in values], y=metric, mode="markers",
                                 marker=dict(color=PALETTE[0], size=8), customdata=[r["run"] for r in rows],
                                 hovertemplate=f"run #%{{customdata}}: {escape(k)} %{{x}}, {metric_label} "
                                               "%{y:.1%}<extra></extra>"), row=1, col=i)
        if numeric and min(values) > 0 and max(values) / min(values) > 10:
            fig.update_xaxes(type="log", row=1, col=i)
    fig.update_yaxes(tickformat=_percent_ticks(metric), title_text=metric_label, row=1, col=1)
    return _layout(fig, height=height, hovermode="closest", showlegend=False)


def importance_bars(shares: dict[str, float], height: int = 260, floor: float | None = None) -> go.Figure:
    """Each setting's share as a bar; `floor` (the seed's own share: what noise alone earns) as a dashed line,
    with the bars that do not pass it in grey."""
    names = list(shares)[::-1]
    colours = [PALETTE[0] if floor is None or shares[n] > floor else "lightgrey" for n in names]
    fig = go.Figure(go.Bar(x=[shares[n] for n in names], y=[escape(n) for n in names], orientation="h",
                           marker_color=colours, text=[f"{shares[n]:.0%}" for n in names], textposition="auto"))
    if floor is not None:
        fig.add_vline(x=floor, line=dict(color="black", width=1.5, dash="dash"),
                      annotation_text=f"seed noise {floor:.0%}", annotation_position="top right")
    fig.update_xaxes(tickformat=".0%", title_text="share of the result's variance it explains")
    return _layout(fig, height=height, hovermode="closest")
