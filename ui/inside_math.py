"""Inside's "show the math": click a feature-map cell and see the patch, the kernel, their products, sum + bias,
the activation and the pooling; pick a row t of a recurrent model and see its gates with this step's numbers;
one training step by hand. Every number comes from playground.by_hand (checked there against PyTorch)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.subplots import make_subplots

from playground import by_hand, charts, probes
from ui.common import restore_kept

CONV, POOL = "after conv", "after max-pool"
PICKS = ("block", "stage", "channel", "row", "col")  # the cell shown: kept across pages (issue 31)


def _grid(z: np.ndarray, title: str, zmax: float, grey: bool = False) -> go.Heatmap:
    """A small matrix with its numbers written in, on one colour scale (0..zmax grey, or −zmax..zmax)."""
    scale = dict(zmin=-zmax, zmax=zmax, colorscale="RdBu_r") if not grey else dict(zmin=-zmax, zmax=zmax,
                                                                                   colorscale="gray")
    return go.Heatmap(z=z, text=np.vectorize(lambda v: f"{v:.2f}")(z), texttemplate="%{text}", showscale=False,
                      textfont=dict(size=10), hovertemplate=f"{title}: %{{z:.4f}}<extra></extra>", **scale)


def patch_figure(cell: by_hand.ConvCell, channel: int) -> go.Figure:
    """Input patch, kernel and products of one input channel; each on the scale of all the cell's channels."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.04, subplot_titles=[
        "input patch" if len(cell.patch) == 1 else f"patch, channel {channel + 1}", "kernel", "products"])
    for i, (z, name) in enumerate(((cell.patch, "input"), (cell.kernel, "weight"), (cell.products, "product"))):
        top = float(np.abs(z).max()) or 1.0
        fig.add_trace(_grid(z[channel], name, top, grey=i == 0), row=1, col=i + 1)
    fig.update_yaxes(autorange="reversed", showticklabels=False, ticks="", showgrid=False, zeroline=False)
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False)  # no stray tick dashes
    for i in ("", "2", "3"):  # square cells, as in every map (a 3×3 kernel was drawn as tall bricks)
        fig.layout[f"xaxis{i}"].update(constrain="domain")
        fig.layout[f"yaxis{i}"].update(scaleanchor=f"x{i}", constrain="domain", constraintoward="top")
    fig.update_layout(height=210, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def clickable_map(m: np.ndarray, title: str, picked: tuple[int, int]) -> go.Figure:
    """A feature map (H, W) whose cells can be clicked: a transparent marker sits on each (heatmaps cannot be
    selected in Streamlit), rows and columns counted from 1; the picked cell is outlined."""
    h, w = m.shape
    lo, hi = charts.colour_range([m])
    fig = go.Figure(go.Heatmap(z=m, x=np.arange(1, w + 1), y=np.arange(1, h + 1), zmin=lo, zmax=hi,
                               colorscale="RdBu_r" if lo < 0 else "Viridis", colorbar=dict(thickness=10),
                               hoverinfo="skip"))
    yy, xx = np.mgrid[1:h + 1, 1:w + 1]
    fig.add_trace(go.Scatter(x=xx.ravel(), y=yy.ravel(), mode="markers", customdata=m.ravel(),
                             marker=dict(size=max(4, 240 // max(h, w)), opacity=0.01, symbol="square"),
                             hovertemplate="row %{y}, col %{x}: %{customdata:.3f}<extra>click</extra>"))
    r, c = picked
    fig.add_shape(type="rect", x0=c + 0.5, x1=c + 1.5, y0=r + 0.5, y1=r + 1.5, line=dict(color="black", width=3))
    # The cells and nothing around them: the axes ran 0 to 30 beside row and column inputs of 1 to 28
    fig.update_xaxes(range=[0.5, w + 0.5])
    fig.update_yaxes(range=[h + 0.5, 0.5], scaleanchor="x")
    fig.update_layout(title=title, height=320, margin=dict(l=10, r=charts.COLOUR_BAR_PX, t=40, b=10), showlegend=False,
                      clickmode="event+select", dragmode=False)
    return fig


def _clicked(event, key: str, size: tuple[int, int]) -> None:
    """A new click on the map moves the row/column inputs (before they are drawn); an old one is left alone."""
    s = st.session_state
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    where = (int(points[0]["y"]), int(points[0]["x"])) if points else None
    if where and where != s.get(f"{key}-last") and 1 <= where[0] <= size[0] and 1 <= where[1] <= size[1]:
        s[f"{key}-last"] = where
        s[f"{key}-row"], s[f"{key}-col"] = where
    for axis, n in (("row", size[0]), ("col", size[1])):
        if not 1 <= s.get(f"{key}-{axis}", 1) <= n:
            s[f"{key}-{axis}"] = 1


def _conv_label(model, block: int) -> str:
    return probes.layer_names(model)[f"features.{block - 1}.0"]


def conv_math(model: torch.nn.Module, x: torch.Tensor, image: np.ndarray, key: str) -> None:
    """Pick a conv layer, a map and a cell (a click or the inputs): how that one number was computed."""
    s = st.session_state
    k = f"math-{key}"
    kept = {f"{k}-{pick}": restore_kept(f"{k}-{pick}") for pick in PICKS}  # back from another page: as left
    st.subheader("Show the math: one cell, by hand", anchor=False)
    c1, c2, c3 = st.columns(3)
    blocks = list(range(1, len(by_hand.conv_blocks(model)) + 1))
    block = c1.selectbox("Layer", blocks, format_func=lambda b: _conv_label(model, b), key=f"{k}-block")
    maps = by_hand.stage_maps(model, x, block)
    stage = c2.radio("Map", (CONV, POOL), horizontal=True, key=f"{k}-stage")
    n = maps["conv"].shape[0]
    if not 1 <= s.get(f"{k}-channel", 1) <= n:  # another layer had more filters
        s[f"{k}-channel"] = 1
    channel = c3.number_input(f"Filter (1 to {n})", 1, n, key=f"{k}-channel") - 1
    m = (maps["conv"] if stage == CONV else maps["pool"])[channel].numpy()
    _clicked(s.get(f"{k}-map"), k, m.shape)  # a click's selection is in the state before the map is drawn again
    picked = (s.get(f"{k}-row", 1) - 1, s.get(f"{k}-col", 1) - 1)
    left, right = st.columns([3, 2])
    right.plotly_chart(clickable_map(m, f"filter {channel + 1} {stage} · click a cell", picked),
                       on_select="rerun", selection_mode="points", key=f"{k}-map",
                       config=charts.STATIC)  # its buttons covered the title
    r1, r2 = right.columns(2)
    row = r1.number_input(f"Row (1 to {m.shape[0]})", 1, m.shape[0], key=f"{k}-row") - 1
    col = r2.number_input(f"Column (1 to {m.shape[1]})", 1, m.shape[1], key=f"{k}-col") - 1
    for widget, copy in kept.items():
        s[copy] = s[widget]
    pool = None
    if stage == POOL:
        pool = by_hand.pool_cell(model, x, block, channel, row, col, maps)
        row, col = pool.source  # the conv cell whose activation the pool kept
    cell = by_hand.ConvReader(model, x, block).cell(channel, row, col)
    with left:
        _cell_view(cell, pool, image, key, (block, stage, channel, row, col))


def _outlined(image: np.ndarray, cell: by_hand.ConvCell) -> go.Figure:
    fig = charts.image(image, "What this cell sees", height=260)
    (r0, r1), (c0, c1) = cell.field_rows, cell.field_cols
    fig.add_shape(type="rect", x0=c0 + 0.5, x1=c1 + 1.5, y0=r0 + 0.5, y1=r1 + 1.5, line=dict(color="red", width=2))
    return fig


def channel_sums(cell: by_hand.ConvCell) -> np.ndarray:
    """What each input channel's products add up to, for this cell."""
    return cell.products.reshape(cell.patch.shape[0], -1).sum(1)


def _pick_channel(cell: by_hand.ConvCell, at: tuple, container, key: str) -> int:
    """The input channel shown: on each new cell, the one whose products weigh most. Its options are fixed words
    and the sums a caption, drawn each run: a selectbox's option text that changes with the cell stayed stale in
    the browser ("sums to +0.221" of the cell picked before)."""
    s, k = st.session_state, f"math-{key}-in"
    sums = channel_sums(cell)
    if s.get(f"{k}-at") != at or k not in s:  # a new cell, or back from another page
        s[f"{k}-at"], s[k] = at, int(np.abs(sums).argmax())
    ch = container.selectbox("Input channel", range(len(sums)), key=k, format_func=lambda i: f"input channel {i + 1}")
    container.caption("Each input channel's products add up to: " + ", ".join(
        f"{'**' * (i == ch)}{i + 1}: {v:+.3f}{'**' * (i == ch)}" for i, v in enumerate(sums))
                      + f". With the bias they make this cell's {cell.total:+.4f}.")
    return ch


def _cell_view(cell: by_hand.ConvCell, pool, image: np.ndarray, key: str, at: tuple) -> None:
    """The cell's receptive field, its patch × kernel = products, and the sum written out; `at` names the cell."""
    c_in = cell.patch.shape[0]
    # Side by side in halves: as a quarter of the column "What this cell sees" was ~110 px wide at 1,280 px.
    a, b = st.columns(2)
    a.plotly_chart(_outlined(image, cell), width="stretch", key=f"math-{key}-field",
                   config=charts.STATIC)  # its toolbar covered the title "What this cell sees"
    ch = _pick_channel(cell, at, b, key) if c_in > 1 else 0
    b.caption(f"The red box: the {_field_words(cell)} image pixels this number depends on (its receptive field).")
    st.plotly_chart(patch_figure(cell, ch), width="stretch", key=f"math-{key}-patch", config=charts.STATIC)
    st.markdown("\n".join(math_lines(cell, pool)))
    st.caption(f"Where the {cell.patch.shape[1]}×{cell.patch.shape[2]} patch runs past the edge of its input, the "
               "padding reads zeros. Patch, kernel and "
               "products each have one colour scale for all input channels (red +, blue −).")


def _field_words(cell: by_hand.ConvCell) -> str:
    """The receptive field's size, and why it is smaller there where it is cut at the image's edge."""
    (r0, r1), (c0, c1) = cell.field_rows, cell.field_cols
    return f"{r1 - r0 + 1}×{c1 - c0 + 1}" + (" (cut at the image's edge: past it the window reads padding zeros)"
                                             if cell.field_cut else "")


def math_lines(cell: by_hand.ConvCell, pool) -> list[str]:
    """The computation of one cell as markdown lines, from the numbers by_hand computed."""
    c_in = cell.patch.shape[0]
    sums = cell.products.reshape(c_in, -1).sum(1)
    terms = cell.products[0].size
    lines = [f"- **Output size**: {cell.formula} (input size, padding, kernel, stride of this layer)",
             f"- **Sum of the {c_in * terms} products** ({c_in} input channel{'s' * (c_in > 1)} × {terms}): "
             f"{sums.sum():+.4f}",
             f"- **+ bias** {cell.bias:+.4f} = **{cell.total:+.4f}** (PyTorch's conv gives {cell.conv:+.4f})"]
    if cell.normalized is not None:
        b = cell.batchnorm
        lines.append(f"- **batch-norm**: ({cell.total:+.4f} − {b['mean']:+.4f}) / √({b['var']:.4f} + ε) × "
                     f"{b['gamma']:.4f} + {b['beta']:+.4f} = {cell.normalized:+.4f}")
    before = cell.total if cell.normalized is None else cell.normalized
    lines.append(f"- **{cell.activation}**({before:+.4f}) = **{cell.activated:+.4f}**")
    if pool is not None:
        window = ", ".join(f"{v:+.3f}" for v in pool.window.ravel())
        lines.append(f"- **max-pool** of the window [{window}] keeps **{pool.kept:+.4f}** (conv map row "
                     f"{pool.source[0] + 1}, column {pool.source[1] + 1}, worked out above); "
                     f"output size {pool.formula}")
    return lines
