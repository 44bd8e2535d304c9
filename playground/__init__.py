"""Playground: train small networks and look inside them. The library never imports streamlit."""
