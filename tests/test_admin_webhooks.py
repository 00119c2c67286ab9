"""Webhooks in the admin: chiefs and administrators hold the vendor's own subscription,
managers their partners'; the delivery log is read-only, with redelivery as an action."""

import pytest
from django.urls import reverse

from integrations import services
from integrations.models import DeliveryStatus, EventKind, WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/prm"


def failed_delivery(subscription) -> WebhookDelivery:
    event = services.event_publish(
        partner_id=subscription.partner_id, kind=EventKind.DEAL_WON, data={}
    )
    return WebhookDelivery.objects.create(
        subscription=subscription, event=event, status=DeliveryStatus.FAILED, attempts=6
    )


def test_a_chief_adds_the_vendors_subscription(client, chief):
    client.force_login(chief)
    response = client.post(
        reverse("admin:integrations_webhooksubscription_add"),
        {
            "url": URL,
            "description": "Data warehouse",
            "event_kinds": ["deal.won"],
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    subscription = WebhookSubscription.objects.get()
    assert subscription.partner is None and subscription.event_kinds == ["deal.won"]
    assert subscription.secret.startswith("whsec_") and subscription.created_by == chief
    page = client.get(
        reverse("admin:integrations_webhooksubscription_change", args=[subscription.pk])
    )
    assert subscription.secret in page.content.decode()


def test_a_manager_cannot_add_the_vendors_subscription(client, manager, partner_a):
    client.force_login(manager)
    response = client.post(
        reverse("admin:integrations_webhooksubscription_add"), {"url": URL, "is_active": "on"}
    )
    assert response.status_code == 403
    response = client.post(
        reverse("admin:integrations_webhooksubscription_add"),
        {"url": URL, "partner": partner_a.pk, "is_active": "on"},
    )
    assert response.status_code == 302
    assert WebhookSubscription.objects.get().partner == partner_a


def test_an_executive_reads_without_the_secret(client, executive, partner_a):
    subscription = services.webhook_subscription_create(partner=partner_a, url=URL, by=None)
    client.force_login(executive)
    page = client.get(
        reverse("admin:integrations_webhooksubscription_change", args=[subscription.pk])
    )
    assert page.status_code == 200
    assert subscription.secret not in page.content.decode()


def test_a_manager_redelivers_their_partners_delivery_from_the_log(
    client, manager, partner_a, partner_b, django_assert_max_num_queries
):
    mine = services.webhook_subscription_create(partner=partner_a, url=URL, by=None)
    theirs = services.webhook_subscription_create(partner=partner_b, url=URL, by=None)
    for _ in range(10):
        failed_delivery(mine)
    delivery, other = failed_delivery(mine), failed_delivery(theirs)
    client.force_login(manager)
    changelist = reverse("admin:integrations_webhookdelivery_changelist")
    with django_assert_max_num_queries(15):
        response = client.get(changelist)
    listed = set(response.context_data["cl"].queryset.values_list("pk", flat=True))
    assert delivery.pk in listed and other.pk not in listed
    client.post(changelist, {"action": "redeliver", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and not delivery.auto_retry
    assert (
        client.get(
            reverse("admin:integrations_webhookdelivery_change", args=[other.pk])
        ).status_code
        == 404
    )
