"""Links that reproduce a setup: a RunConfig <-> URL query parameters, and a Compare selection <-> run ids.

A link names a recipe and only the settings that differ from it (or from RunConfig() without a
recipe), under their flat names: `/train?recipe=rnn128&epochs=2`. Reading one back validates
every value; a bad one raises ConfigError naming it. Keys a page keeps for itself (`run`,
`ids`, ...) are not settings and are left alone. Every run id in a URL goes through `run_id`.
Each page owns its keys (`PAGE_PARAMS`): what it writes to the URL is its keys and nothing else.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from .config import FLAT_FIELDS, RECIPES, ConfigError, RunConfig, is_valid, validate
from .config import recipe as get_recipe

RECIPE_KEY = "recipe"
IDS_KEY = "ids"  # Compare: the selected run ids, comma-separated
# Query parameters that belong to a page, not to a config: reading a link skips them.
PAGE_KEYS = frozenset({"run", IDS_KEY, "lesson", "embed", "embed_options"})
RUN_KEY, LESSON_KEY = "run", "lesson"
# The model a link opens Inside or Draw on (ui/inside_pick.MODEL_PARAM, ui/draw_classes.linked_model); neither
# reads `run`: a lesson's link with `run` opened the newest run on Inside and the last pick on Draw
MODEL_KEY = "model"
MODELS_KEY = "models"  # Draw: the picked models' run ids, comma-separated
# The query parameters each page owns (by url path): a page's URL carries these and nothing else, so
# another page's keys never leak into it (Compare's `ids` once ended up in a Train URL).
PAGE_PARAMS: dict[str, frozenset[str]] = {
    "train": frozenset({RECIPE_KEY, RUN_KEY, *FLAT_FIELDS}),
    "compare": frozenset({IDS_KEY}),
    "learn": frozenset({LESSON_KEY}),
    # Inside's picks (ui/inside_pick.py: MODEL_PARAM, BESIDE_PARAM, INPUT_PARAM, VIEW_PARAM, INDEX_PARAM): unlisted, it
    # wrote back any key a link brought, 10 KB of it too, on every rerun.
    "inside": frozenset({MODEL_KEY, "vs", "input", "view", "index"}),
    "draw": frozenset({MODEL_KEY, MODELS_KEY}),
}
MAX_VALUE = 100  # characters: no setting needs more
MAX_ID_DIGITS = 18  # a run id fits SQLite's signed 64-bit integer
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
_DEFAULTS = RunConfig().flat()


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    return str(value)


def config_params(cfg: RunConfig, recipe: str | None = None) -> dict[str, str]:
    """The query parameters of `cfg`: the recipe's name and the settings that differ from it."""
    base = get_recipe(recipe).flat() if recipe is not None else _DEFAULTS
    out = {RECIPE_KEY: recipe} if recipe is not None else {}
    for key, value in cfg.flat().items():
        if value != base[key]:
            out[key] = _text(value)
    return out


def _parse(key: str, text: str):
    kind = type(_DEFAULTS[key])
    text = text.strip()
    if len(text) > MAX_VALUE:
        raise ConfigError(f"{key}: the value is too long")
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{key}: '{text}' is not true or false")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{key}: '{text}' is not a whole number") from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{key}: '{text}' is not a number") from None
        if not math.isfinite(value):
            raise ConfigError(f"{key}: '{text}' is not a finite number")
        return value
    return text


def config_from_params(params: Mapping[str, str], ignore: Iterable[str] = PAGE_KEYS) -> RunConfig:
    """The validated RunConfig a link describes; ConfigError naming the first bad or unknown setting."""
    skip = set(ignore)
    name = params.get(RECIPE_KEY)
    if name is not None and name not in RECIPES:
        raise ConfigError(f"recipe: unknown recipe '{name}'; valid: {', '.join(RECIPES)}")
    base = get_recipe(name) if name is not None else RunConfig()
    values = {}
    for key, text in params.items():
        if key == RECIPE_KEY or key in skip:
            continue
        if key not in FLAT_FIELDS:
            shown = key[:40] + ("…" if len(key) > 40 else "")  # a 10 KB key is not echoed whole
            raise ConfigError(f"unknown setting '{shown}' in the link; valid: {RECIPE_KEY}, {', '.join(FLAT_FIELDS)}")
        values[key] = _parse(key, str(text))
    cfg = base.override(**values)
    try:
        return validate(cfg)
    except ConfigError as exc:
        # Name the setting to blame: the one that is wrong on its own, else all the link changed.
        alone = [k for k, v in values.items() if not is_valid(base.override(**{k: v}))]
        blame = alone or list(values) or [RECIPE_KEY]
        given = ", ".join(f"{k}={params.get(k)}" for k in blame)
        raise ConfigError(f"{given}: {exc}") from None


def compare_params(ids: Iterable[int]) -> dict[str, str]:
    """Compare's query parameters for a selection of runs: {"ids": "3,5,8"} (order kept, duplicates dropped)."""
    return {IDS_KEY: ",".join(str(i) for i in dict.fromkeys(int(i) for i in ids))}


def run_id(text: str) -> int:
    """The run id `text` names: ASCII digits only, ConfigError otherwise. `str.isdigit` and `int` accept
    '²' and '𝟏' (int('𝟏') == 1, so a link would silently name run 1); no other reader of ids is used."""
    value = str(text).strip()
    if not value or not (value.isascii() and value.isdigit()) or len(value) > MAX_ID_DIGITS:
        shown = value[:20] + ("…" if len(value) > 20 else "")
        raise ConfigError(f"'{shown}' is not a run id")
    return int(value)


def whole_number(text: str | None) -> int | None:
    """`text` as a run id or index when it is one (run_id's rule: ASCII digits, at most 18), None otherwise: for
    a URL's optional keys, where a bad value means the default, not an error."""
    try:
        return run_id(text) if text is not None else None
    except ConfigError:
        return None


def ids_from_params(params: Mapping[str, str]) -> list[int]:
    """The run ids of a Compare link ([] when it has none); ConfigError naming a bad one."""
    text = (params.get(IDS_KEY) or "").strip()
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            out.append(run_id(part))
        except ConfigError as exc:
            raise ConfigError(f"{IDS_KEY}: {exc}") from None
    return list(dict.fromkeys(out))


# Pages that also get the keys no page owns, so that their reader names them: `/train?recipe=cnn&epoch=5` (a typo,
# or a setting of another version) was dropped unseen and the form said it held "the link's settings", 100 epochs.
NAMES_STRAYS = frozenset({"train"})


def own_params(page: str, params: Mapping[str, str]) -> dict[str, str]:
    """The query parameters of `params` that belong to `page` (all of them for a page not listed; for a page in
    NAMES_STRAYS, the keys no page owns too)."""
    keys = PAGE_PARAMS.get(page)
    if keys is None:
        return dict(params)
    owned = frozenset().union(*PAGE_PARAMS.values(), PAGE_KEYS)
    return {k: v for k, v in params.items() if k in keys or (page in NAMES_STRAYS and k not in owned)}
