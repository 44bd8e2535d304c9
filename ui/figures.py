"""playground.charts with each figure built once per distinct arguments, for every session of this server.

Building a plotly figure is most of a page's rerun (bench/page_profile.py: a run's 24-image test grid ~1 s of CPU,
Inside's feature maps ~3 s), and a rerun or a second visit draws the same figures again. `charts` here is a
drop-in for `playground.charts`: same functions, same figures, the same object returned for the same arguments
(keyed by their pickled bytes, every element counted; arguments that cannot be pickled are built each time).
Callers pass the figure to st.plotly_chart, which only reads it: never modify one taken from here. Its
serialization is kept too: st.plotly_chart calls the figure's to_dict() (a deep copy, every array to base64: on
Inside most of a rerun's CPU) each time it is drawn, and a figure that never changes needs that only once.
"""
from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from playground import charts as _charts
from playground import tiles as _tiles

MAX_FIGURES = 128
_cache: OrderedDict[bytes, Any] = OrderedDict()
_lock = threading.Lock()


def _key(name: str, args: tuple, kwargs: dict) -> bytes | None:
    try:
        data = pickle.dumps((name, args, sorted(kwargs.items())), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001  an argument pickle refuses: no caching for this call
        return None
    return hashlib.blake2b(data, digest_size=20).digest()


def _sealed(figure: Any) -> Any:
    """`figure` whose to_dict() is computed on its first call and the same dict returned after (st.plotly_chart
    only reads it); anything that is not a plotly figure as it is."""
    if not hasattr(figure, "to_dict") or not hasattr(figure, "layout"):
        return figure
    build = figure.to_dict
    spec: list[dict] = []

    def to_dict() -> dict:
        if not spec:
            spec.append(build())
        return spec[0]

    figure.to_dict = to_dict  # an instance attribute: plotly allows it for a name the class has
    return figure


def _memo(name: str, build: Callable) -> Callable:
    def cached(*args, **kwargs):
        key = _key(name, args, kwargs)
        if key is None:
            return build(*args, **kwargs)
        with _lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        figure = _sealed(build(*args, **kwargs))
        with _lock:
            _cache[key] = figure
            while len(_cache) > MAX_FIGURES:
                _cache.popitem(last=False)
        return figure

    cached.__name__, cached.__doc__ = build.__name__, build.__doc__
    return cached


class _Charts:
    """Attribute access as on playground.charts; the functions that build a figure memoized, the rest as they are."""

    def __getattr__(self, name: str):
        value = getattr(_charts, name)
        if "Figure" in str(getattr(value, "__annotations__", {}).get("return", "")):  # builders only
            value = _memo(name, value)
        setattr(self, name, value)  # once per name
        return value


charts = _Charts()

# The test-image grids (HTML, playground/tiles.py): 24 PNGs encoded once per distinct grid, as a figure is built once
image_tiles = _memo("image_tiles", _tiles.image_tiles)
