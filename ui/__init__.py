"""What the pages share: Streamlit helpers, forms and views (no library logic; that is playground/).

Light on purpose: app.py imports ui.navigation before any page, and a fresh server's Home shows its text
before pandas, plotly and torch are imported (ui.preload, imported by the frame before any other page)."""
