"""Executives read everything and change nothing: every write endpoint, every portal form,
every admin page and every admin action is swept for them (RULEBOOK roles; the dashboard
issue). Partner people never reach the admin."""

import pytest
from django.contrib import admin
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.urls import get_resolver, reverse

from tests.test_scope_sweep import (
    ADMIN_ACTION_DATA,
    _partner_rows,
    _rows_now,
    admin_object_urls,
    admin_objects_of,
    admin_swept_models,
    objects_of,
    walk,
)

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


@pytest.mark.parametrize("model", admin_swept_models(), ids=lambda m: m._meta.label)
def test_an_executive_changes_nothing_through_any_admin_page_or_action(
    model, executive, partner_a, client
):
    """Over HTTP: every page of the model's admin (add, change, delete, the admin's own
    views) and every action, posted by an executive on a real row, changes nothing."""
    model_admin = admin.site._registry[model]
    rows = admin_objects_of(partner_a)
    before = _partner_rows(rows)
    counts = {m: m._default_manager.count() for m in rows}
    client.force_login(executive)
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    urls, _ = admin_object_urls(model_admin, rows[model])
    for url in [reverse(f"{name}_add"), *urls]:
        data = {
            key: (value.pk if hasattr(value, "pk") else value)
            for key, value in model_to_dict(rows[model]).items()
            if value is not None and not isinstance(value, list)
        }
        response = client.post(url, {**data, **ADMIN_ACTION_DATA, "post": "yes"})
        # The history list is a page to read (a POST shows it again); everything else refuses.
        refusals = (400, 403, 404, 405) + ((200,) if url.endswith("/history/") else ())
        assert response.status_code in refusals, f"POST {url} → {response.status_code}"
    for action in model_admin.actions or []:
        action = action if isinstance(action, str) else action.__name__
        client.post(
            reverse(f"{name}_changelist"),
            {
                "action": action,
                "_selected_action": [rows[model].pk],
                "index": 0,
                **ADMIN_ACTION_DATA,
            },
        )
    assert _rows_now(rows, before) == before
    assert {m: m._default_manager.count() for m in rows} == counts


def test_a_partner_user_reaches_no_admin_page(client, a_admin, partner_a):
    """Every admin URL of every registered model, and the site's own pages, send a partner
    person to the admin's login page (they are not staff)."""
    rows = admin_objects_of(partner_a)
    client.force_login(a_admin)
    urls = [reverse("admin:index"), reverse("admin:password_change")]
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{name}_changelist"), reverse(f"{name}_add")]
        urls.append(reverse("admin:app_list", args=[model._meta.app_label]))
        if model in rows:
            urls += admin_object_urls(model_admin, rows[model])[0]
    for url in urls:
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, f"{method.upper()} {url} → {response.status_code}"
            assert response["Location"].startswith(reverse("admin:login")), url


def test_no_admin_history_page_restores_a_past_version():
    """django-simple-history's version page saves on POST for anyone who may view it: every
    admin with history pages uses ``prm.admin_history.HistoryAdmin``, which refuses that."""
    from simple_history.admin import SimpleHistoryAdmin

    from prm.admin_history import HistoryAdmin

    plain = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, SimpleHistoryAdmin) and not isinstance(model_admin, HistoryAdmin)
    ]
    assert not plain, f"use prm.admin_history.HistoryAdmin for {plain}"


def test_a_manager_cannot_restore_a_past_version_of_their_own_deal(manager, partner_a, client):
    from deals.models import Deal, DealStatus
    from deals.services import deal_approve
    from tests.factories import DealFactory

    deal = DealFactory(partner=partner_a)
    pending = deal.history.latest("history_id")
    deal_approve(deal=deal, by=manager)
    client.force_login(manager)
    url = reverse("admin:deals_deal_simple_history", args=[deal.pk, pending.history_id])
    assert client.get(url).status_code == 200  # shown
    assert client.post(url, {}).status_code == 403  # never restored
    assert Deal.objects.get(pk=deal.pk).status == DealStatus.APPROVED
