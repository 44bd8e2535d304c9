"""What the pages share: Streamlit helpers, forms and views (no library logic; that is playground/)."""
