"""What a browser posts back for an admin change form as rendered, to change a field or two."""


def _posted(form) -> dict:
    data = {}
    for bound in form:
        value = bound.value()
        if isinstance(value, bool):
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
