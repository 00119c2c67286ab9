"""Publishing events (the higher apps call ``event_publish`` in their transaction) and
handing them to what delivers them once the transaction commits; outbound webhooks: their
subscriptions, and each delivery's attempts (docs/webhooks.md)."""

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import Notice, Partner, User
from partners.services import notice_send
from prm.audit import audited
from prm.mail import mail_on_commit
from prm.retention import delete_in_batches
from prm.roles import Role

from . import webhooks
from .models import (
    DeliveryStatus,
    Event,
    EventKind,
    WebhookDelivery,
    WebhookSubscription,
)

logger = logging.getLogger(__name__)

# What receives each committed event: webhooks, the CRM's outbound sync. Each registers a
# function ``(events: list[Event]) -> None`` from its module; they run in a Celery task.
Deliverer = Callable[[list[Event]], None]
_deliverers: dict[str, Deliverer] = {}


def deliverer_register(name: str, deliver: Deliverer) -> None:
    _deliverers[name] = deliver


def deliverers() -> dict[str, Deliverer]:
    return dict(_deliverers)


def events_publish(events: Iterable[tuple[int, str, dict]]) -> list[Event]:
    """Record events ``(partner_id, kind, data)`` in the caller's transaction, and have
    them delivered after it commits (nothing is delivered for a change rolled back)."""
    rows = []
    for partner_id, kind, data in events:
        if kind not in EventKind.values:
            raise ValueError(f"Unknown event kind {kind!r}.")
        rows.append(Event(partner_id=partner_id, kind=kind, data=data))
    if not rows:
        return []
    rows = Event.objects.bulk_create(rows)
    _pending.__dict__.setdefault("ids", []).extend(row.pk for row in rows)
    transaction.on_commit(_send_pending)
    return rows


# The events published in this thread's transaction, sent in one task when it commits
# (a transaction that records a thousand wins sends one task, not a thousand).
_pending = threading.local()
SEND_BATCH = 1000


def _send_pending() -> None:
    """After a commit: send what this thread published. The first callback of the
    transaction sends everything, the others find nothing left; ids of events rolled back
    with a savepoint are skipped by ``events_deliver``."""
    from .tasks import events_deliver

    ids, _pending.ids = _pending.__dict__.get("ids", []), []
    for start in range(0, len(ids), SEND_BATCH):
        events_deliver.delay(ids[start : start + SEND_BATCH])


def event_publish(*, partner_id: int, kind: str, data: dict) -> Event:
    """One event; see ``events_publish``."""
    return events_publish([(partner_id, kind, data)])[0]


def events_deliver(*, event_ids: list[int]) -> int:
    """Hand the events not yet handed over to every deliverer, oldest first, in one
    transaction with marking them handed (so a second run of the task hands nothing
    twice). Returns how many events were handed."""
    with transaction.atomic():
        events = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(pk__in=event_ids, handed_at__isnull=True)
            .order_by("occurred_at", "pk")
        )
        if not events:
            return 0
        for deliver in deliverers().values():
            deliver(events)
        Event.objects.filter(pk__in=[e.pk for e in events]).update(handed_at=timezone.now())
    return len(events)


HAND_OVER_AFTER = timedelta(minutes=5)


def events_resend_stale(*, now: datetime | None = None) -> int:
    """Events committed more than ``HAND_OVER_AFTER`` ago and still not handed over (the
    broker was down, or lost the task): send them again. Returns how many."""
    now = now or timezone.now()
    ids = list(
        Event.objects.filter(handed_at__isnull=True, occurred_at__lt=now - HAND_OVER_AFTER)
        .order_by("occurred_at", "pk")
        .values_list("pk", flat=True)[:5000]
    )
    if ids:
        from .tasks import events_deliver

        events_deliver.delay(ids)
    return len(ids)


def events_prune(*, now: datetime, dry_run: bool = False) -> int:
    """Handed-over events older than ``EVENT_RETENTION_DAYS`` go, with what was logged of
    their deliveries."""
    cutoff = now - timedelta(days=settings.EVENT_RETENTION_DAYS)
    old = Event.objects.filter(occurred_at__lt=cutoff, handed_at__isnull=False)
    return delete_in_batches(old, dry_run=dry_run)


# ---------------------------------------------------------------- webhook subscriptions


def _kinds_checked(event_kinds: Iterable[str]) -> list[str]:
    """The kinds asked for, each once, in ``EventKind`` order; an unknown one is refused."""
    wanted = list(event_kinds)
    unknown = sorted({kind for kind in wanted if kind not in EventKind.values}, key=str)
    if unknown:
        raise ValidationError(
            {
                "event_kinds": _("Unknown event kind: %(kinds)s. Known kinds: %(known)s.")
                % {"kinds": ", ".join(map(str, unknown)), "known": ", ".join(EventKind.values)}
            }
        )
    return [kind for kind in EventKind.values if kind in wanted]


def _url_checked(url: str) -> str:
    url = url.strip()
    try:
        webhooks.url_check(url)
    except webhooks.AddressRefused as refused:
        raise ValidationError({"url": str(refused)}) from refused
    return url


@audited
@transaction.atomic
def webhook_subscription_create(
    *,
    partner: Partner | None,
    url: str,
    event_kinds: Iterable[str] = (),
    description: str = "",
    by: User | None,
) -> WebhookSubscription:
    """A subscription for ``partner``'s events (None: every partner's, the vendor's own),
    with a new secret. The caller has checked that ``by`` may manage it
    (``integrations.permissions.can_manage_webhook``)."""
    subscription = WebhookSubscription.objects.create(
        partner=partner,
        url=_url_checked(url),
        event_kinds=_kinds_checked(event_kinds),
        description=description.strip(),
        secret=webhooks.secret_generate(),
        created_by=by,
    )
    logger.info("Webhook subscription %s created for %s", subscription.pk, partner or "the vendor")
    return subscription


@audited
@transaction.atomic
def webhook_subscription_update(
    *,
    subscription: WebhookSubscription,
    by: User | None,
    url: str | None = None,
    event_kinds: Iterable[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> WebhookSubscription:
    """Change what is given; switching a disabled subscription on again starts its count
    of failed deliveries afresh."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    if url is not None:
        subscription.url = _url_checked(url)
    if event_kinds is not None:
        subscription.event_kinds = _kinds_checked(event_kinds)
    if description is not None:
        subscription.description = description.strip()
    if is_active is not None and is_active != subscription.is_active:
        subscription.is_active = is_active
        subscription.disabled_reason = (
            ""
            if is_active
            else _("Switched off by %(user)s.")
            % {"user": by.get_username() if by else _("the system")}
        )
        subscription.consecutive_failures = 0
    subscription.save()
    return subscription


@audited
@transaction.atomic
def webhook_subscription_delete(*, subscription: WebhookSubscription, by: User | None) -> None:
    """The subscription goes, with its delivery log; retries still queued find nothing."""
    logger.info(
        "Webhook subscription %s deleted by %s",
        subscription.pk,
        by.get_username() if by else "the system",
    )
    subscription.delete()


@audited
@transaction.atomic
def webhook_secret_rotate(*, subscription: WebhookSubscription, by: User | None) -> str:
    """A new secret; the one it replaces still signs beside it for
    ``PREVIOUS_SECRET_GRACE``, so a receiver can switch without losing a delivery.
    Returns the new secret."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_until = timezone.now() + webhooks.PREVIOUS_SECRET_GRACE
    subscription.secret = webhooks.secret_generate()
    subscription.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    logger.info("Webhook subscription %s: secret rotated", subscription.pk)
    return subscription.secret


def webhook_secrets_in_use(subscription: WebhookSubscription, *, at: datetime) -> list[str]:
    """The secrets that sign a message sent at ``at``: the current one, and the previous
    one during its grace period after a rotation."""
    in_use = [subscription.secret]
    if (
        subscription.previous_secret
        and subscription.previous_secret_until
        and at < subscription.previous_secret_until
    ):
        in_use.append(subscription.previous_secret)
    return in_use


# ---------------------------------------------------------------- webhook deliveries


def webhooks_deliver(events: list[Event]) -> int:
    """The deliverer of webhooks (``deliverer_register``): one delivery for each event and
    each active subscription that wants it (its partner's own, and the vendor's), sent once
    the transaction that records them commits. Returns how many."""
    partner_ids = {event.partner_id for event in events}
    subscriptions = list(
        WebhookSubscription.objects.filter(is_active=True).filter(
            Q(partner_id__in=partner_ids) | Q(partner__isnull=True)
        )
    )
    now = timezone.now()
    rows = [
        WebhookDelivery(subscription=subscription, event=event, next_attempt_at=now)
        for event in events
        for subscription in subscriptions
        if subscription.partner_id in (None, event.partner_id) and subscription.wants(event.kind)
    ]
    if not rows:
        return 0
    ids = [row.pk for row in WebhookDelivery.objects.bulk_create(rows)]
    transaction.on_commit(lambda: webhook_deliveries_send(ids), robust=True)
    return len(ids)


# One quick attempt to reach the broker: what it does not take, the sweep sends later.
BROKER_CONNECT_TIMEOUT = 2


def webhook_deliveries_send(ids: list[int]) -> bool:
    """Queue an attempt of each delivery. If the broker does not answer, they stay due and
    ``webhook_deliveries_due`` sends them."""
    from celery import current_app

    from .tasks import webhook_deliver

    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=BROKER_CONNECT_TIMEOUT)
            for delivery_id in ids:
                webhook_deliver.apply_async((delivery_id,), connection=connection, retry=False)
    except Exception as exc:  # any failure to publish: the sweep sends them later
        logger.warning("Broker unavailable; %d webhook deliveries wait: %s", len(ids), exc)
        return False
    return True


# A due attempt is left to its own queued message this long before the sweep sends it
# again; an attempt under way this long (past the task's hard time limit) was lost with
# its worker.
DUE_GRACE = timedelta(minutes=2)
STUCK_AFTER = timedelta(minutes=2)
# A message's countdown may bring it a moment before the row says.
EARLY = timedelta(seconds=5)


def webhook_deliveries_due(*, now: datetime | None = None) -> int:
    """Send the deliveries whose attempt is due and that no queued message will bring: a
    retry waiting longer than the broker holds a message (``BROKER_HELD_WAIT_MAX``), a
    message the broker lost, an attempt whose worker died. Returns how many."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(
            Q(status=DeliveryStatus.PENDING, next_attempt_at__lt=now - DUE_GRACE)
            | Q(status=DeliveryStatus.SENDING, last_attempt_at__lt=now - STUCK_AFTER)
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:5000]
    )
    if ids:
        webhook_deliveries_send(ids)
    return len(ids)


@dataclass(frozen=True)
class Attempt:
    delivery: WebhookDelivery
    # When the next attempt comes, if another is due (None: the delivery has ended).
    retry_in: timedelta | None


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for one attempt (exactly one worker does, however many copies of
    its message arrive): a conditional update of its row."""
    claimable = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now + EARLY) | Q(
        status=DeliveryStatus.SENDING, last_attempt_at__lt=now - STUCK_AFTER
    )
    return bool(
        WebhookDelivery.objects.filter(claimable, pk=delivery_id).update(
            status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, last_attempt_at=now
        )
    )


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """One POST: the status code (None if no answer), the start of the answer, the error."""
    try:
        webhooks.addresses_check(url)
        with requests.post(
            url,
            data=body,
            headers=headers,
            timeout=(webhooks.CONNECT_TIMEOUT, webhooks.READ_TIMEOUT),
            allow_redirects=False,  # a redirect could lead anywhere: it is a failure
            stream=True,
        ) as response:
            raw = next(response.iter_content(webhooks.EXCERPT_CHARS * 4), b"")
            excerpt = raw.decode(response.encoding or "utf-8", errors="replace")
            return response.status_code, excerpt[: webhooks.EXCERPT_CHARS], ""
    except webhooks.AddressRefused as refused:
        return None, "", str(refused)
    except requests.Timeout:
        return (
            None,
            "",
            _("No answer within %(seconds)s seconds.") % {"seconds": webhooks.READ_TIMEOUT},
        )
    except requests.ConnectionError:
        return None, "", _("Could not connect to the receiver.")
    except requests.RequestException as exc:
        return None, "", _("The request failed: %(error)s") % {"error": type(exc).__name__}


def webhook_delivery_attempt(*, delivery_id: int) -> Attempt | None:
    """One attempt of the delivery, if it is due and no other worker has it: the signed
    POST, then its outcome recorded. None if there was nothing to do.

    A 2xx answer delivers it. Otherwise the next attempt follows ``RETRY_SCHEDULE`` (a
    redelivery asked for by a person gets none); after the last, the delivery has failed,
    and a subscription with ``DISABLE_AFTER_FAILED_DELIVERIES`` of those in a row is
    disabled and its owner told. No transaction is open while the request runs."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("subscription", "event").get(pk=delivery_id)
    subscription, event = delivery.subscription, delivery.event
    if not subscription.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED,
            attempts=F("attempts") - 1,
            next_attempt_at=None,
            error=_("The subscription is disabled."),
        )
        delivery.refresh_from_db()
        return Attempt(delivery, None)
    body = webhooks.payload(kind=event.kind, occurred_at=event.occurred_at, data=event.data)
    headers = webhooks.signed_headers(
        message_id=str(event.public_id),
        body=body,
        at=now,
        secrets_in_use=webhook_secrets_in_use(subscription, at=now),
    )
    started = time.monotonic()
    try:
        status, excerpt, error = _post(subscription.url, body, headers)
    except SoftTimeLimitExceeded:
        status, excerpt, error = None, "", _("The attempt ran out of time.")
    duration_ms = int((time.monotonic() - started) * 1000)
    return _attempt_record(
        delivery.pk,
        status=status,
        excerpt=excerpt.replace("\x00", ""),
        error=error,
        duration_ms=duration_ms,
    )


@transaction.atomic
def _attempt_record(
    delivery_id: int, *, status: int | None, excerpt: str, error: str, duration_ms: int
) -> Attempt:
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("subscription", "event")
        .get(pk=delivery_id)
    )
    subscription = WebhookSubscription.objects.select_for_update().get(pk=delivery.subscription_id)
    now = timezone.now()
    delivered = status is not None and 200 <= status < 300
    if status is not None and not delivered and not error:
        error = _("The receiver answered %(status)s.") % {"status": status}
    delivery.response_status = status
    delivery.response_excerpt = excerpt
    delivery.error = error[:300]
    delivery.duration_ms = duration_ms
    retry_in = None
    if delivered:
        delivery.status = DeliveryStatus.SUCCEEDED
        if subscription.consecutive_failures:
            subscription.consecutive_failures = 0
            subscription.save(update_fields=["consecutive_failures"])
    elif delivery.auto_retry and delivery.attempts <= len(webhooks.RETRY_SCHEDULE):
        retry_in = webhooks.RETRY_SCHEDULE[delivery.attempts - 1]
        delivery.status = DeliveryStatus.PENDING
    else:
        delivery.status = DeliveryStatus.FAILED
        if delivery.auto_retry:
            _failed_delivery_count(subscription)
    delivery.next_attempt_at = now + retry_in if retry_in else None
    delivery.save(
        update_fields=[
            "status",
            "next_attempt_at",
            "response_status",
            "response_excerpt",
            "error",
            "duration_ms",
        ]
    )
    return Attempt(delivery, retry_in)


def _failed_delivery_count(subscription: WebhookSubscription) -> None:
    """One more delivery failed for good (the subscription's row is locked)."""
    subscription.consecutive_failures += 1
    subscription.save(update_fields=["consecutive_failures"])
    limit = webhooks.DISABLE_AFTER_FAILED_DELIVERIES
    if subscription.is_active and subscription.consecutive_failures >= limit:
        _subscription_disable(subscription, failures=subscription.consecutive_failures)


def _subscription_disable(subscription: WebhookSubscription, *, failures: int) -> None:
    subscription.is_active = False
    subscription.disabled_reason = _("Switched off after %(count)s deliveries in a row failed.") % {
        "count": failures
    }
    subscription.save(update_fields=["is_active", "disabled_reason"])
    logger.warning("Webhook subscription %s disabled: %s", subscription.pk, subscription.url)
    text = (
        f"Webhooks to {subscription.url} are switched off: {failures} deliveries in a row "
        "failed. Fix the receiver, then switch the subscription on again and redeliver "
        "what it missed."
    )
    if subscription.partner_id is not None:
        notice_send(
            partner=subscription.partner,
            level=Notice.Level.WARNING,
            text=text,
            link=reverse("portal-webhook", args=[subscription.pk]),
            email_subject="Webhook subscription switched off",
        )
        return
    recipients = list(
        User.objects.filter(is_active=True)
        .filter(Q(role__in=[Role.CHANNEL_CHIEF, Role.ADMIN]) | Q(is_superuser=True))
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if recipients:
        admin_url = reverse("admin:integrations_webhooksubscription_change", args=[subscription.pk])
        mail_on_commit(
            "The vendor's webhook subscription was switched off",
            f"{text}\n\nThe subscription in the admin: {admin_url}\n",
            recipients,
        )


@audited
@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery, by: User | None) -> WebhookDelivery:
    """Another attempt of an ended delivery, now, with the same ``webhook-id`` (the
    event's): one attempt, no automatic retries. Sent once the transaction commits."""
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("subscription", "event")
        .get(pk=delivery.pk)
    )
    if delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
        raise ValidationError(
            _("This delivery is still under way; its next attempt is already planned."),
            code="delivery_under_way",
        )
    if not delivery.subscription.is_active:
        raise ValidationError(
            _("The subscription is switched off: switch it on before redelivering."),
            code="subscription_disabled",
        )
    delivery.status = DeliveryStatus.PENDING
    delivery.auto_retry = False
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "auto_retry", "next_attempt_at"])
    logger.info(
        "Webhook delivery %s redelivered by %s",
        delivery.pk,
        by.get_username() if by else "the system",
    )
    transaction.on_commit(lambda: webhook_deliveries_send([delivery.pk]), robust=True)
    return delivery


def webhook_deliveries_prune(*, now: datetime, dry_run: bool = False) -> int:
    """Ended deliveries older than ``WEBHOOK_DELIVERY_RETENTION_DAYS`` leave the log (their
    events go after ``EVENT_RETENTION_DAYS``, with any delivery left)."""
    cutoff = now - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    old = WebhookDelivery.objects.filter(
        created_at__lt=cutoff, status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED]
    )
    return delete_in_batches(old, dry_run=dry_run)
