"""What a browser posts back for an admin change form as rendered, to change a field or two."""

from django.forms import MultiWidget


def _posted(form) -> dict:
    data = {}
    for bound in form:
        value = bound.value()
        widget = bound.field.widget
        if isinstance(widget, MultiWidget) and not isinstance(value, list):
            # A date and a time (say) in inputs of their own: ``created_at_0``, ``_1``.
            for suffix, part in zip(widget.widgets_names, widget.decompress(value), strict=True):
                if part is not None:
                    data[f"{bound.html_name}{suffix}"] = part
        elif isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
        elif value is not None:
            data[bound.html_name] = value
    return data


def change_form_data(response) -> dict:
    """The admin change page ``response``'s form and inline formsets, each field's value
    under its name (with the formsets' management forms)."""
    data = _posted(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data.update(_posted(inline.formset.management_form))
        for form in inline.formset.forms:
            data.update(_posted(form))
    return data
