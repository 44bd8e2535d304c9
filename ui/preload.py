"""The modules that plotly and Streamlit import lazily on first use, imported whole before a page draws.

plotly looks pandas up with sys.modules.get (no import lock): a session drawing a chart while another session's
first table was importing pandas got the half-made module ("partially initialized module 'pandas' has no
attribute 'Series'"). An `import` waits for another thread's import of the same module to finish, so every page
but Home imports this module first (ui.navigation.frame); Home draws no chart or table and imports it after its
text, for the next page (pandas alone is ~0.3 s of a fresh server's first page, issue 36)."""
import pandas  # noqa: F401  plotly (charts) and Streamlit (tables)
import PIL.Image  # noqa: F401  plotly (images)
import plotly.graph_objects  # noqa: F401
import pyarrow  # noqa: F401  Streamlit (tables)
