"""What the pages share: Streamlit helpers, forms and views (no library logic; that is playground/).

Imported first by app.py and by every page, so the modules that plotly and Streamlit import lazily on first
use are imported here, whole, before any session draws. plotly looks pandas up with sys.modules.get (no import
lock): a session drawing a chart while another session's first table was importing pandas got the half-made
module ("partially initialized module 'pandas' has no attribute 'Series'"). A finished import is never half made.
"""
import pandas  # noqa: F401  plotly (charts) and Streamlit (tables)
import PIL.Image  # noqa: F401  plotly (images)
import plotly.graph_objects  # noqa: F401
import pyarrow  # noqa: F401  Streamlit (tables)
