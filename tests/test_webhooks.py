"""Outbound webhooks (docs/webhooks.md): each event goes, signed per Standard Webhooks, to
the subscriptions that want it and may see it: a partner's only its own partner's events,
the vendor's every partner's. A real HTTP receiver on 127.0.0.1 takes the requests and
checks their signatures; failures are retried on a schedule, a run of failed deliveries
switches the subscription off and tells its owner, a redelivery keeps the webhook-id."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.exceptions import Retry
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from integrations import services, tasks, webhooks
from integrations.models import (
    DeliveryStatus,
    Event,
    EventKind,
    WebhookDelivery,
    WebhookSubscription,
)
from partners.models import Notice, TierChangeCause
from partners.services import partner_set_tier
from prm.roles import Role
from tests.factories import PartnerUserFactory, StaffFactory, default_tier

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- a real receiver


class Receiver:
    """An HTTP server on 127.0.0.1, in a thread of this process. Each POST is kept (path,
    headers, body) and answered with the next of ``answers``: ``(status, delay seconds)``,
    then 200 once they run out."""

    def __init__(self):
        self.requests: list[tuple[str, dict, bytes]] = []
        self.answers: list[tuple[int, float]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.requests.append((self.path, dict(self.headers.items()), body))
                status, delay = receiver.answers.pop(0) if receiver.answers else (200, 0)
                time.sleep(delay)
                answer = json.dumps({"received": status < 300}).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def verified(self, secret: str, index: int = -1) -> dict:
        """The body of request ``index`` once its signature checks out with ``secret``."""
        _, headers, body = self.requests[index]
        return Webhook(secret).verify(body, headers)


@pytest.fixture
def receiver():
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def subscribe(partner, url: str, **kwargs) -> WebhookSubscription:
    return services.webhook_subscription_create(partner=partner, url=url, by=None, **kwargs)


def publish(partner, kind=EventKind.DEAL_WON, **data) -> Event:
    """An event, handed to the deliverers as the task would after the commit."""
    event = services.event_publish(
        partner_id=partner.pk, kind=kind, data={"partner_id": partner.pk, **data}
    )
    services.events_deliver(event_ids=[event.pk])
    return event


def attempt(delivery: WebhookDelivery) -> services.Attempt | None:
    return services.webhook_delivery_attempt(delivery_id=delivery.pk)


def due_now(delivery: WebhookDelivery) -> None:
    """The wait before the next attempt is over (rather than waiting it out)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


# ---------------------------------------------------------------- delivery


def test_an_event_reaches_its_partners_subscription_signed(partner_a, receiver):
    subscription = subscribe(partner_a, receiver.url())
    assert subscription.secret.startswith("whsec_")
    event = publish(partner_a, deal_id=7, amount="125000.00")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.subscription, delivery.event, delivery.status) == (
        subscription,
        event,
        DeliveryStatus.PENDING,
    )

    outcome = attempt(delivery)

    assert outcome.retry_in is None
    body = receiver.verified(subscription.secret)
    assert body["type"] == "deal.won"
    assert body["data"] == {"partner_id": partner_a.pk, "deal_id": 7, "amount": "125000.00"}
    assert body["timestamp"].startswith(event.occurred_at.strftime("%Y-%m-%dT%H:%M:%S"))
    _, headers, _ = receiver.requests[0]
    assert headers["webhook-id"] == str(event.public_id)
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.response_status, delivery.next_attempt_at) == (1, 200, None)
    assert delivery.response_excerpt == '{"received": true}'
    assert delivery.duration_ms is not None and delivery.error == ""
    assert attempt(delivery) is None  # a second copy of the message does nothing
    assert len(receiver.requests) == 1


def test_a_500_is_retried_on_the_schedule_and_then_delivered(partner_a, receiver):
    subscription = subscribe(partner_a, receiver.url())
    event = publish(partner_a)
    delivery = WebhookDelivery.objects.get()
    receiver.answers = [(500, 0)]

    with pytest.raises(Retry):  # the task asks Celery for a retry
        tasks.webhook_deliver(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_status, delivery.attempts) == (
        DeliveryStatus.PENDING,
        500,
        1,
    )
    assert delivery.error == "The receiver answered 500."
    wait = delivery.next_attempt_at - delivery.last_attempt_at
    assert timedelta(seconds=59) < wait <= timedelta(minutes=1, seconds=1)
    assert attempt(delivery) is None  # not due yet: an early copy of the message
    due_now(delivery)
    assert tasks.webhook_deliver(delivery.pk) == DeliveryStatus.SUCCEEDED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == (
        DeliveryStatus.SUCCEEDED,
        2,
        200,
    )
    assert [h["webhook-id"] for _, h, _ in receiver.requests] == [str(event.public_id)] * 2
    receiver.verified(subscription.secret, 0)
    receiver.verified(subscription.secret, 1)


def test_the_retry_schedule_ends_in_failure_after_six_attempts(partner_a, receiver):
    subscription = subscribe(partner_a, receiver.url())
    publish(partner_a)
    delivery = WebhookDelivery.objects.get()
    receiver.answers = [(503, 0)] * 10
    waits = []
    for _ in range(len(webhooks.RETRY_SCHEDULE) + 1):
        outcome = attempt(delivery)
        waits.append(outcome.retry_in)
        if outcome.retry_in:
            due_now(delivery)
    assert waits == [*webhooks.RETRY_SCHEDULE, None]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryStatus.FAILED,
        6,
        None,
    )
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 1 and subscription.is_active
    assert attempt(delivery) is None


def test_long_waits_are_left_to_the_sweep_not_held_by_the_broker(settings):
    assert max(webhooks.RETRY_SCHEDULE) > timedelta(seconds=tasks.broker_held_wait_max())
    assert timedelta(minutes=30) <= timedelta(seconds=tasks.broker_held_wait_max())


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(
    partner_a, receiver, monkeypatch
):
    monkeypatch.setattr(webhooks, "READ_TIMEOUT", 0.3)
    subscribe(partner_a, receiver.url())
    publish(partner_a)
    delivery = WebhookDelivery.objects.get()
    receiver.answers = [(200, 1.5)]
    outcome = attempt(delivery)
    assert outcome.retry_in == webhooks.RETRY_SCHEDULE[0]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.response_status is None
    assert delivery.error == "No answer within 0.3 seconds."
    assert delivery.duration_ms >= 250


def test_a_receiver_that_is_down_is_a_failed_attempt(partner_a, receiver):
    url = receiver.url()
    receiver.server.shutdown()
    receiver.server.server_close()
    subscribe(partner_a, url)
    publish(partner_a)
    delivery = WebhookDelivery.objects.get()
    assert attempt(delivery).retry_in is not None
    delivery.refresh_from_db()
    assert delivery.error == "Could not connect to the receiver."


def test_ten_failed_deliveries_in_a_row_switch_a_partner_subscription_off_and_tell_them(
    partner_a, a_admin, receiver, queued_mail, django_capture_on_commit_callbacks, mailoutbox
):
    subscription = subscribe(partner_a, receiver.url())
    WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=9)
    publish(partner_a)
    delivery = WebhookDelivery.objects.get()
    # The delivery is at its last attempt.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=len(webhooks.RETRY_SCHEDULE))
    receiver.answers = [(500, 0)]

    with django_capture_on_commit_callbacks(execute=True):
        assert attempt(delivery).retry_in is None

    subscription.refresh_from_db()
    assert not subscription.is_active and subscription.consecutive_failures == 10
    assert "10 deliveries in a row failed" in subscription.disabled_reason
    notice = Notice.objects.get(partner=partner_a)
    assert subscription.url in notice.text
    assert notice.link == reverse("portal-webhook", args=[subscription.pk])
    assert queued_mail() == 1
    assert mailoutbox[-1].to == [a_admin.email]
    # Nothing more is sent to it, and what was still due ends.
    publish(partner_a, kind=EventKind.DEAL_APPROVED)
    assert WebhookDelivery.objects.count() == 1


def test_a_success_starts_the_count_afresh(partner_a, receiver):
    subscription = subscribe(partner_a, receiver.url())
    WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=9)
    publish(partner_a)
    attempt(WebhookDelivery.objects.get())
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0 and subscription.is_active


def test_the_vendors_subscription_switched_off_mails_the_chiefs_and_admins(
    partner_a,
    chief,
    vendor_admin,
    receiver,
    queued_mail,
    django_capture_on_commit_callbacks,
    mailoutbox,
):
    subscription = subscribe(None, receiver.url())
    WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=9)
    publish(partner_a)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=len(webhooks.RETRY_SCHEDULE))
    receiver.answers = [(500, 0)]
    with django_capture_on_commit_callbacks(execute=True):
        attempt(delivery)
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert not Notice.objects.exists()
    assert queued_mail() == 1
    assert sorted(mailoutbox[-1].to) == sorted([chief.email, vendor_admin.email])
    assert subscription.url in mailoutbox[-1].body


def test_a_redelivery_keeps_the_webhook_id_and_is_one_attempt(partner_a, manager, receiver):
    subscription = subscribe(partner_a, receiver.url())
    event = publish(partner_a)
    delivery = WebhookDelivery.objects.get()
    attempt(delivery)
    delivery.refresh_from_db()

    services.webhook_redeliver(delivery=delivery, by=manager)
    receiver.answers = [(500, 0)]
    outcome = attempt(delivery)

    assert outcome.retry_in is None  # a person asked: no automatic retries
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    ids = [headers["webhook-id"] for _, headers, _ in receiver.requests]
    assert ids == [str(event.public_id)] * 2
    assert receiver.verified(subscription.secret, 1)["type"] == "deal.won"
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0  # a test by a person counts for nothing

    services.webhook_redeliver(delivery=delivery, by=manager)
    with pytest.raises(ValidationError, match="still under way"):
        services.webhook_redeliver(delivery=delivery, by=manager)
    services.webhook_subscription_update(subscription=subscription, by=manager, is_active=False)
    assert attempt(delivery).delivery.error == "The subscription is disabled."
    with pytest.raises(ValidationError, match="switched off"):
        services.webhook_redeliver(delivery=delivery, by=manager)


def test_after_a_rotation_both_secrets_sign_for_a_day(partner_a, manager, receiver):
    subscription = subscribe(partner_a, receiver.url())
    old = subscription.secret
    new = services.webhook_secret_rotate(subscription=subscription, by=manager)
    assert new != old and new.startswith("whsec_")
    publish(partner_a)
    attempt(WebhookDelivery.objects.get())
    receiver.verified(old)
    receiver.verified(new)
    _, headers, _ = receiver.requests[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    subscription.refresh_from_db()
    later = timezone.now() + webhooks.PREVIOUS_SECRET_GRACE + timedelta(seconds=1)
    assert services.webhook_secrets_in_use(subscription, at=later) == [new]


# ---------------------------------------------------------------- who receives what


def test_a_partners_subscription_never_receives_another_partners_events(
    partner_a, partner_b, receiver
):
    mine = subscribe(partner_a, receiver.url("/alpha"))
    theirs = subscribe(partner_b, receiver.url("/bravo"))
    vendor = subscribe(None, receiver.url("/vendor"))
    for_a = publish(partner_a)
    for_b = publish(partner_b)

    for delivery in WebhookDelivery.objects.all():
        attempt(delivery)

    received = {}
    for path, headers, body in receiver.requests:
        received.setdefault(path, set()).add(headers["webhook-id"])
        secret = {"/alpha": mine, "/bravo": theirs, "/vendor": vendor}[path].secret
        Webhook(secret).verify(body, headers)
    assert received == {
        "/alpha": {str(for_a.public_id)},
        "/bravo": {str(for_b.public_id)},
        "/vendor": {str(for_a.public_id), str(for_b.public_id)},
    }


def test_a_subscription_receives_only_the_kinds_it_chose_and_nothing_switched_off(
    partner_a, manager, receiver
):
    tiers = subscribe(partner_a, receiver.url(), event_kinds=["tier.changed"])
    everything = subscribe(partner_a, receiver.url())
    off = subscribe(partner_a, receiver.url())
    services.webhook_subscription_update(subscription=off, by=manager, is_active=False)
    publish(partner_a, kind=EventKind.DEAL_WON)
    partner_set_tier(
        partner=partner_a,
        tier=default_tier("gold"),
        cause=TierChangeCause.OVERRIDE,
        reason="Strategic account",
        changed_by=manager,
    )
    services.events_deliver(event_ids=list(Event.objects.values_list("pk", flat=True)))
    got = set(WebhookDelivery.objects.values_list("subscription_id", "event__kind"))
    assert got == {
        (tiers.pk, "tier.changed"),
        (everything.pk, "tier.changed"),
        (everything.pk, "deal.won"),
    }
    delivery = WebhookDelivery.objects.get(subscription=tiers)
    attempt(delivery)
    data = receiver.verified(tiers.secret)["data"]
    assert (data["from_tier"], data["to_tier"]) == ("silver", "gold")


# ---------------------------------------------------------------- addresses


def test_production_defaults_require_https_and_refuse_private_addresses():
    from prm.settings import base, test

    assert base.WEBHOOKS_REQUIRE_HTTPS is True
    assert base.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES is False
    # The suite's receiver listens on 127.0.0.1 over plain HTTP: allowed on purpose.
    assert test.WEBHOOKS_REQUIRE_HTTPS is False
    assert test.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES is True


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/", "must start with https://"),
        ("https://127.0.0.1/hooks", "private or loopback"),
        ("https://10.1.2.3/hooks", "private or loopback"),
        ("https://169.254.169.254/latest", "private or loopback"),
        ("https://[::1]/hooks", "private or loopback"),
        ("https://[::ffff:192.168.0.1]/", "private or loopback"),
        ("https://localhost:8000/hooks", "local host name"),
        ("https://metadata.internal/", "local host name"),
        ("ftp://hooks.example.com/", "must start with https://"),
    ],
)
def test_production_settings_refuse_unsafe_addresses(settings, partner_a, url, message):
    settings.WEBHOOKS_REQUIRE_HTTPS = True
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(ValidationError, match=message) as refused:
        subscribe(partner_a, url)
    assert set(refused.value.message_dict) == {"url"}


def test_production_settings_accept_a_public_https_address(settings, partner_a):
    settings.WEBHOOKS_REQUIRE_HTTPS = True
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    assert subscribe(partner_a, "https://hooks.example.com/prm").pk


def test_an_attempt_to_a_private_address_is_refused_without_a_request(
    settings, partner_a, receiver
):
    subscription = subscribe(partner_a, receiver.url())  # allowed when it was made
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    publish(partner_a)
    attempt(WebhookDelivery.objects.get())
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get(subscription=subscription)
    assert "private or loopback" in delivery.error


def test_an_unknown_event_kind_is_refused(partner_a):
    with pytest.raises(ValidationError, match="Unknown event kind: deal.invented"):
        subscribe(partner_a, "https://hooks.example.com/", event_kinds=["deal.invented"])


# ---------------------------------------------------------------- the sweep and retention


def test_the_sweep_sends_what_is_due_and_nothing_twice(partner_a, receiver):
    from prm.celery import app

    app.control.purge()
    subscribe(partner_a, receiver.url())
    publish(partner_a)
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_deliveries_due() == 0  # its own message may still come
    later = timezone.now() + services.DUE_GRACE + timedelta(seconds=5)
    assert services.webhook_deliveries_due(now=later) == 1
    attempt(delivery)
    assert services.webhook_deliveries_due(now=later) == 0
    # An attempt left "sending" by a worker that died is taken again once stuck.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SENDING)
    assert attempt(delivery) is None
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        last_attempt_at=timezone.now() - services.STUCK_AFTER - timedelta(seconds=1)
    )
    assert services.webhook_deliveries_due() == 1
    assert attempt(delivery).delivery.status == DeliveryStatus.SUCCEEDED
    app.control.purge()


def test_ended_deliveries_leave_the_log_after_the_retention(partner_a, settings):
    subscription = subscribe(partner_a, "https://hooks.example.com/")
    old_event = services.event_publish(partner_id=partner_a.pk, kind=EventKind.DEAL_WON, data={})
    new_event = services.event_publish(partner_id=partner_a.pk, kind=EventKind.DEAL_WON, data={})
    now = timezone.now()
    long_ago = now - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS + 1)
    ended = WebhookDelivery.objects.create(
        subscription=subscription, event=old_event, status="succeeded", created_at=long_ago
    )
    WebhookDelivery.objects.create(
        subscription=subscription, event=new_event, status="failed", created_at=now
    )
    assert services.webhook_deliveries_prune(now=now, dry_run=True) == 1
    assert services.webhook_deliveries_prune(now=now) == 1
    assert not WebhookDelivery.objects.filter(pk=ended.pk).exists()
    assert WebhookDelivery.objects.count() == 1
    assert services.webhook_deliveries_prune(now=now) == 0


# ---------------------------------------------------------------- a real worker


@pytest.mark.usefixtures("program_data")
def test_a_worker_delivers_a_published_event_end_to_end(celery_worker_process, receiver):
    from tests.factories import PartnerFactory
    from tests.workers import wait_for

    partner = PartnerFactory()
    subscription = subscribe(partner, receiver.url())
    event = services.event_publish(
        partner_id=partner.pk, kind=EventKind.LEAD_ASSIGNED, data={"partner_id": partner.pk}
    )
    # Committed (a transactional test): the worker takes the event, then the delivery.
    from integrations.tasks import events_deliver

    events_deliver.delay([event.pk])
    assert wait_for(lambda: receiver.requests, timeout=60)
    assert receiver.verified(subscription.secret)["type"] == "lead.assigned"
    assert wait_for(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists()
    )


# ---------------------------------------------------------------- roles


def test_only_a_partners_admin_and_its_managers_manage_its_subscriptions(
    partner_a, partner_b, a_admin, a_rep, b_admin, manager, chief, executive, finance
):
    from integrations.permissions import can_manage_webhook

    assert can_manage_webhook(a_admin, partner_a) and not can_manage_webhook(a_admin, partner_b)
    assert not can_manage_webhook(a_rep, partner_a)
    assert can_manage_webhook(manager, partner_a) and not can_manage_webhook(manager, partner_b)
    assert can_manage_webhook(chief, partner_b) and can_manage_webhook(chief, None)
    for user in (a_admin, manager, executive, finance, b_admin):
        assert not can_manage_webhook(user, None)
    assert not can_manage_webhook(executive, partner_a)
    admin = StaffFactory(role=Role.ADMIN)
    assert can_manage_webhook(admin, None)
    rep = PartnerUserFactory(partner=partner_a).user
    assert not can_manage_webhook(rep, partner_a)
