"""The portal's webhook pages, for a partner's admin: their subscriptions, each with its
secret, delivery log and redelivery; nobody else's, and nothing for a rep."""

import pytest
from django.urls import reverse

from integrations import services
from integrations.models import DeliveryStatus, EventKind, WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/prm"


def subscribe(partner, url=URL, **kwargs) -> WebhookSubscription:
    return services.webhook_subscription_create(partner=partner, url=url, by=None, **kwargs)


def failed_delivery(subscription) -> WebhookDelivery:
    event = services.event_publish(
        partner_id=subscription.partner_id, kind=EventKind.DEAL_WON, data={}
    )
    return WebhookDelivery.objects.create(
        subscription=subscription,
        event=event,
        status=DeliveryStatus.FAILED,
        attempts=6,
        response_status=500,
        response_excerpt="Internal error at the receiver",
    )


def test_the_partners_admin_finds_the_page_in_the_account_menu(client, a_admin, a_rep):
    client.force_login(a_admin)
    page = client.get(reverse("portal-home")).content.decode()
    assert reverse("portal-webhooks") in page
    client.force_login(a_rep)
    assert reverse("portal-webhooks") not in client.get(reverse("portal-home")).content.decode()
    assert client.get(reverse("portal-webhooks")).status_code == 403


def test_a_partners_admin_subscribes_and_sees_the_secret(client, a_admin, partner_a):
    client.force_login(a_admin)
    response = client.post(
        reverse("portal-webhooks"),
        {"url": URL, "description": "Our CRM", "event_kinds": ["deal.won", "lead.assigned"]},
    )
    subscription = WebhookSubscription.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal-webhook", args=[subscription.pk])
    assert subscription.partner == partner_a and subscription.created_by == a_admin
    assert subscription.event_kinds == ["deal.won", "lead.assigned"]
    page = client.get(response["Location"]).content.decode()
    assert subscription.secret in page
    listing = client.get(reverse("portal-webhooks")).content.decode()
    assert URL in listing and "deal.won, lead.assigned" in listing


def test_a_bad_address_is_shown_again_with_the_reason(client, a_admin, partner_a, settings):
    settings.WEBHOOKS_REQUIRE_HTTPS = True
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    client.force_login(a_admin)
    response = client.post(reverse("portal-webhooks"), {"url": "http://hooks.example.com/"})
    assert response.status_code == 400
    assert "The address must start with https://." in response.content.decode()
    response = client.post(reverse("portal-webhooks"), {"url": "https://192.168.1.10/"})
    assert response.status_code == 400 and "private or loopback" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_edit_switch_off_rotate_redeliver_and_delete(client, a_admin, partner_a):
    subscription = subscribe(partner_a)
    delivery = failed_delivery(subscription)
    client.force_login(a_admin)
    url = reverse("portal-webhook", args=[subscription.pk])
    page = client.get(url).content.decode()
    assert "Internal error at the receiver" in page and "deal.won" in page

    response = client.post(url, {"url": URL + "/v2", "event_kinds": ["tier.changed"]})
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.url == URL + "/v2" and subscription.event_kinds == ["tier.changed"]
    assert not subscription.is_active  # the box was not ticked: switched off
    assert "Switched off by alice" in subscription.disabled_reason

    refused = client.post(reverse("portal-webhook-redeliver", args=[delivery.pk]), follow=True)
    assert "switch it on before redelivering" in refused.content.decode()
    client.post(url, {"url": URL, "is_active": "on"})
    subscription.refresh_from_db()
    assert subscription.is_active and subscription.disabled_reason == ""
    client.post(reverse("portal-webhook-redeliver", args=[delivery.pk]))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and not delivery.auto_retry

    old = subscription.secret
    client.post(reverse("portal-webhook-rotate", args=[subscription.pk]))
    subscription.refresh_from_db()
    assert subscription.secret != old and subscription.previous_secret == old
    assert client.get(reverse("portal-webhook-rotate", args=[subscription.pk])).status_code == 405

    response = client.post(reverse("portal-webhook-delete", args=[subscription.pk]))
    assert response["Location"] == reverse("portal-webhooks")
    assert not WebhookSubscription.objects.exists()


def test_another_partners_subscription_is_a_404_and_a_rep_may_not_manage(
    client, a_admin, a_rep, partner_a, partner_b
):
    theirs = subscribe(partner_b)
    delivery = failed_delivery(theirs)
    client.force_login(a_admin)
    for name, pk in [
        ("portal-webhook", theirs.pk),
        ("portal-webhook-rotate", theirs.pk),
        ("portal-webhook-delete", theirs.pk),
        ("portal-webhook-redeliver", delivery.pk),
    ]:
        for method in ("get", "post"):
            response = getattr(client, method)(reverse(name, args=[pk]))
            assert response.status_code == 404, (name, method, response.status_code)
    mine = subscribe(partner_a)
    client.force_login(a_rep)
    assert client.get(reverse("portal-webhook", args=[mine.pk])).status_code == 404
    assert WebhookSubscription.objects.count() == 2


@pytest.mark.parametrize("rows", [2, 20])
def test_page_query_counts_do_not_grow_with_deliveries(
    rows, client, a_admin, partner_a, django_assert_max_num_queries
):
    subscription = subscribe(partner_a)
    for _ in range(rows):
        failed_delivery(subscription)
        subscribe(partner_a)
    client.force_login(a_admin)
    with django_assert_max_num_queries(14):
        assert client.get(reverse("portal-webhook", args=[subscription.pk])).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("portal-webhooks")).status_code == 200
