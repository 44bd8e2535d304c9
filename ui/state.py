"""Session-state keys that more than one module reads or writes, each named once here.

A component's own widget keys carry its prefix and live beside it (Train's form `f_*`, the study form
`study_*`, Draw `draw_*`, Inside `inside_*`, the run manager `manage_*` and `bulk_*`), the way
spacy-streamlit's components take a key: no two modules share a bare name like "name" or "error".
"""
COMPARE_IDS = "compare_ids"  # Compare's selected run ids; the study form and the run manager set them too
LAST_DIGIT = "last_digit"  # Draw's last 28x28 input (floats in [0, 1]), which Inside can look at
LAST_SOURCE = "last_source"  # where it came from (ui.draw_input.CANVAS or UPLOAD): Inside names a photo "this image"
KEPT_SEEN = "draw_kept_seen"  # the kept drawings (ids, labels) Draw's last whole run counted
WATCH = "watch"  # the run the Train page shows; the unreadable-run view resets it
