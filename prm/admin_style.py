"""Colours of the admin's status badges as CSS classes (static/css/admin.css).

The Content-Security-Policy refuses ``style`` attributes, so the admin's list columns name
a class instead of writing ``style="color:…"``.
"""

COLOUR_CLASSES = {
    "#1a7f37": "c-ok",
    "#b58105": "c-warn",
    "#a40e26": "c-bad",
    "#0b5394": "c-done",
    "#6e7781": "c-muted",
}


def colour_class(colour: str | None) -> str:
    return COLOUR_CLASSES.get(colour or "", "c-plain")
