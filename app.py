"""Playground: the frame (page config, navigation) around the pages in pages/; what they share is in ui/."""
from ui.navigation import frame, through_app

with through_app():
    frame().run()
