"""Every number a client can send has bounds, so none reaches the database out of its
column's range (a 400 or a form error, never a 500): every integer and decimal input field
of every serializer and form of the project, and of every admin form.

A new field without bounds fails here: give it ``prm.bounds.column_bounds(Model, "field")``
or a rule's own ``min_value``/``max_value``.
"""

import contextlib
import importlib

import pytest
from django import forms
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.core.validators import MaxValueValidator, MinValueValidator
from django.test import RequestFactory
from rest_framework import serializers

PROJECT_APPS = ("prm", "partners", "enablement", "incentives", "deals", "scoring")
MODULES = ("api", "forms", "admin", "views", "mfa")

for _app in PROJECT_APPS:
    for _module in MODULES:
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(f"{_app}.{_module}")


def project_subclasses(base: type) -> list[type]:
    found, stack = set(), [base]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return sorted(
        (cls for cls in found if cls.__module__.split(".")[0] in PROJECT_APPS),
        key=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
    )


SERIALIZERS = project_subclasses(serializers.Serializer)
FORMS = project_subclasses(forms.BaseForm)


def unbounded_serializer_fields(serializer: serializers.Serializer, prefix: str = "") -> list:
    missing = []
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        label = f"{prefix}{name}"
        for inner in _inner_fields(field):
            if isinstance(inner, serializers.Serializer):
                missing += unbounded_serializer_fields(inner, f"{label}.")
            elif isinstance(inner, serializers.FloatField):
                missing.append(f"{label}: a float (money and counts are Decimal or int)")
            elif isinstance(inner, serializers.IntegerField) and (
                inner.min_value is None or inner.max_value is None
            ):
                missing.append(f"{label}: integer without min_value and max_value")
            elif isinstance(inner, serializers.DecimalField) and inner.max_digits is None:
                missing.append(f"{label}: decimal without max_digits")
    return missing


def _inner_fields(field) -> list:
    """The field, or what a list of it holds."""
    if isinstance(field, serializers.ListSerializer):
        return [field.child]
    if isinstance(field, serializers.ListField | serializers.DictField):
        return [field.child]
    return [field]


def _model_column_bounded(form_class, name: str) -> bool:
    """A ModelForm's field left to the model: its column's validators bound it (Django
    runs them in the form's model validation)."""
    model = getattr(getattr(form_class, "_meta", None), "model", None)
    if model is None:
        return False
    try:
        column = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return {MinValueValidator, MaxValueValidator} <= {type(v) for v in column.validators}


def unbounded_form_fields(form_class) -> list:
    missing = []
    for name, field in form_class.base_fields.items():
        if field.disabled:
            continue
        if isinstance(field, forms.FloatField) and not isinstance(field, forms.DecimalField):
            missing.append(f"{name}: a float")
        elif isinstance(field, forms.DecimalField) and field.max_digits is None:
            missing.append(f"{name}: decimal without max_digits")
        elif (
            isinstance(field, forms.IntegerField)
            and not isinstance(field, forms.DecimalField)  # a DecimalField is an IntegerField
            and (field.min_value is None or field.max_value is None)
            and not _model_column_bounded(form_class, name)
        ):
            missing.append(f"{name}: integer without min_value and max_value")
    return missing


def test_the_walk_finds_the_projects_serializers_and_forms():
    names = {cls.__name__ for cls in SERIALIZERS}
    assert {"DealCreateSerializer", "WinSerializer", "MdfClaimCreateSerializer"} <= names
    assert {"RegistrationForm", "MdfRequestForm", "WinForm"} <= {cls.__name__ for cls in FORMS}


@pytest.mark.parametrize("serializer_class", SERIALIZERS, ids=lambda cls: cls.__name__)
def test_every_numeric_serializer_field_is_bounded(serializer_class):
    assert unbounded_serializer_fields(serializer_class()) == []


@pytest.mark.parametrize("form_class", FORMS, ids=lambda cls: cls.__name__)
def test_every_numeric_form_field_is_bounded(form_class):
    assert unbounded_form_fields(form_class) == []


def test_the_check_fails_for_a_field_without_bounds():
    class Careless(serializers.Serializer):
        seats = serializers.IntegerField(min_value=0)
        price = serializers.DecimalField(max_digits=None, decimal_places=2)
        ids = serializers.ListField(child=serializers.IntegerField())

    assert len(unbounded_serializer_fields(Careless())) == 3

    class CarelessForm(forms.Form):
        seats = forms.IntegerField(min_value=0)

    assert unbounded_form_fields(CarelessForm) == ["seats: integer without min_value and max_value"]


@pytest.mark.django_db
def test_every_admin_form_is_bounded(vendor_admin):
    request = RequestFactory().get("/admin/")
    request.user = vendor_admin
    missing = {}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        form_class = model_admin.get_form(request)
        problems = unbounded_form_fields(form_class)
        if problems:
            missing[model.__name__] = problems
    assert missing == {}
