"""Executives read everything and change nothing: every write endpoint, every portal form
and every admin action is swept for them (RULEBOOK roles; the dashboard issue)."""

import pytest
from django.contrib import admin
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.urls import get_resolver, reverse

from tests.test_scope_sweep import objects_of, walk

pytestmark = pytest.mark.django_db

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def write_routes():
    routes = []
    for route in walk(get_resolver().url_patterns):
        methods = set(route.methods()) & WRITES
        if route.viewset is None and not route.name.startswith("portal-"):
            continue  # allauth, health checks, the schema: not program data
        if methods:
            routes.append((route, sorted(methods)))
    return sorted(routes, key=lambda item: item[0].name)


def test_an_executive_changes_nothing_through_the_api_or_the_portal(
    executive, partner_a, api, client
):
    from enablement.models import CampaignLead, OnboardingTask
    from incentives.models import MdfProof
    from partners.models import Notice

    theirs = objects_of(partner_a)
    snapshots = {model: model_to_dict(obj) for model, obj in theirs.items()}
    counted = [*theirs, CampaignLead, OnboardingTask, MdfProof, Notice]
    before = {model: model._default_manager.count() for model in counted}
    client.force_login(executive)
    swept = 0
    for route, methods in write_routes():
        kwargs = {}
        for argument in route.arguments:
            model = route.model_for(argument)
            if model is None or model not in theirs:
                break
            kwargs[argument] = theirs[model].pk
        else:
            url = reverse(route.name, kwargs=kwargs)
            for method in methods:
                caller = api(executive) if route.viewset is not None else client
                response = caller.generic(method, url, data="{}", content_type="application/json")
                # A portal page may answer a form post by showing itself again (200); the
                # API never accepts a write from an executive.
                refusals = (302, 400, 403, 404, 405) + (() if route.viewset else (200,))
                assert response.status_code in refusals, f"{method} {url} → {response.status_code}"
                assert response.status_code != 302 or "/auth/login" not in response.get(
                    "Location", ""
                )
                swept += 1
    assert swept > 40
    for model, obj in theirs.items():
        obj.refresh_from_db()
        assert model_to_dict(obj) == snapshots[model], f"{model.__name__} changed"
    after = {model: model._default_manager.count() for model in counted}
    assert after == before


def test_an_executive_has_no_admin_write_or_action(executive):
    request = RequestFactory().get("/admin/")
    request.user = executive
    for model, model_admin in admin.site._registry.items():
        name = model._meta.label
        if not model_admin.has_module_permission(request):
            continue  # the admin does not show it to them at all
        assert not model_admin.has_add_permission(request), f"add {name}"
        assert not model_admin.has_change_permission(request), f"change {name}"
        assert not model_admin.has_delete_permission(request), f"delete {name}"
        assert not model_admin.get_actions(request), f"actions on {name}"


def test_a_partner_user_cannot_reach_the_admin(client, a_admin):
    client.force_login(a_admin)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
