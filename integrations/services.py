"""Publishing events (the higher apps call ``event_publish`` in their transaction) and
handing them to what delivers them once the transaction commits; outbound webhooks: their
subscriptions, and each delivery's attempts (docs/webhooks.md)."""

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext as _

from partners.models import Notice, NoticeKind, Partner, User
from partners.services import notice_send, partner_user_create, staff_user_create
from prm.audit import audited
from prm.mail import mail_on_commit
from prm.queue import send_task
from prm.retention import delete_in_batches
from prm.roles import Role

from . import webhooks
from .models import (
    PARTNER_SSO_ROLES,
    SSO_PROVIDERS,
    STAFF_SSO_ROLES,
    DeliveryStatus,
    Event,
    EventKind,
    SsoDomain,
    SsoProtocol,
    SsoSetup,
    WebhookDelivery,
    WebhookSubscription,
)
from .queries import organisation_of
from .rules import (
    PARTNER_ROLE_RANK,
    STAFF_ROLE_RANK,
    NotAnEmailDomain,
    claim_values,
    domain_key,
    email_domain,
    role_from_claims,
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
    transaction.on_commit(_send_pending, robust=True)
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
        # With the broker down the change still stands: the sweep sends these later.
        send_task(events_deliver, ids[start : start + SEND_BATCH])


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
            kind=NoticeKind.INTEGRATIONS,
            message=gettext_noop(
                "Webhooks to %(url)s are switched off: %(count)s deliveries in a row failed. "
                "Fix the receiver, then switch the subscription on again and redeliver what "
                "it missed."
            ),
            params={"url": subscription.url, "count": failures},
            link=reverse("portal-webhook", args=[subscription.pk]),
            email_subject=gettext_noop("Webhook subscription switched off"),
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


# ---------------------------------------------------------------- single sign-on
#
# A set-up (``SsoSetup``) names an organisation — a partner, or the vendor's own staff —
# and its identity provider, which is allauth's ``SocialApp``: the OpenID Connect issuer
# and client, or the SAML IdP's metadata. The sign-in through it is allauth's; who it
# signs in, and as what, is decided here (``sso_sign_in_user``).

SECRET_FROM_ENVIRONMENT = "env:"
# Where the SAML provider finds the person's e-mail and name: the common names of Entra
# ID, Okta, Google and LDAP-style IdPs (a NameID in e-mail format is read too).
SAML_ATTRIBUTES = {
    "email": [
        "urn:oid:0.9.2342.19200300.100.1.3",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "email",
        "mail",
        "Email",
    ],
    "first_name": [
        "urn:oid:2.5.4.42",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
        "givenName",
        "firstName",
        "first_name",
    ],
    "last_name": [
        "urn:oid:2.5.4.4",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
        "sn",
        "surname",
        "lastName",
        "last_name",
    ],
}


class SsoRefused(Exception):
    """A single sign-on refused: ``message`` says why, for the person signing in."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _sso_slug(partner, *, exclude_app_id: int | None = None) -> str:
    """The name of the set-up in its addresses (/auth/oidc/<slug>/…, /auth/saml/<slug>/…):
    from the partner's domain, ``staff`` for the vendor; kept when the partner changes."""
    from allauth.socialaccount.models import SocialApp

    base = slugify(partner.domain or partner.name)[:40] if partner else "staff"
    base = base or f"partner-{partner.pk}"
    taken = SocialApp.objects.exclude(pk=exclude_app_id).values_list("provider_id", flat=True)
    taken = set(taken) | set(
        SocialApp.objects.exclude(pk=exclude_app_id).values_list("client_id", flat=True)
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _check_url(url: str, field: str, errors: dict) -> str:
    url = (url or "").strip()
    if not url:
        errors[field] = gettext("This field is required.")
        return url
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        errors[field] = gettext("Give the full address, starting with https://.")
    elif parts.scheme == "http" and not local:
        errors[field] = gettext("The address must start with https://.")
    return url


def _secret_check(secret: str, errors: dict) -> None:
    if not secret.startswith(SECRET_FROM_ENVIRONMENT):
        return
    name = secret.removeprefix(SECRET_FROM_ENVIRONMENT)
    if not name.isidentifier():
        errors["client_secret"] = gettext("After env: comes the name of a variable.")
    elif name not in os.environ:
        errors["client_secret"] = gettext(
            "The environment variable %(name)s is not set on this server."
        ) % {"name": name}


def secret_from_environment(secret: str) -> str:
    """A client secret as stored, or, written ``env:NAME``, the environment's ``NAME``
    (``""`` when unset: the identity provider then refuses the client)."""
    if secret.startswith(SECRET_FROM_ENVIRONMENT):
        return os.environ.get(secret.removeprefix(SECRET_FROM_ENVIRONMENT), "")
    return secret


def _saml_idp(metadata_url: str, metadata_xml: str, errors: dict) -> dict:
    """The IdP part of allauth's SAML settings, read from the metadata now, so that a wrong
    address or document is refused when it is entered rather than at the first sign-in."""
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    metadata_url, metadata_xml = metadata_url.strip(), metadata_xml.strip()
    if not metadata_url and not metadata_xml:
        errors["metadata_url"] = gettext(
            "Give the address of the identity provider's metadata, or paste the metadata."
        )
        return {}
    try:
        if metadata_url:
            _check_url(metadata_url, "metadata_url", errors)
            if errors:
                return {}
            parsed = OneLogin_Saml2_IdPMetadataParser.parse_remote(metadata_url, timeout=10)
        else:
            parsed = OneLogin_Saml2_IdPMetadataParser.parse(metadata_xml)
    except Exception as exc:  # the parser raises whatever urllib and lxml raise
        field = "metadata_url" if metadata_url else "metadata_xml"
        errors[field] = gettext("The metadata could not be read: %(why)s") % {
            "why": str(exc)[:200] or exc.__class__.__name__
        }
        return {}
    idp = parsed.get("idp") or {}
    entity_id = idp.get("entityId")
    sso_url = (idp.get("singleSignOnService") or {}).get("url")
    certs = idp.get("x509certMulti", {}).get("signing") or [idp.get("x509cert")]
    certs = [cert for cert in certs if cert]
    field = "metadata_url" if metadata_url else "metadata_xml"
    if not entity_id or not sso_url or not certs:
        errors[field] = gettext(
            "The metadata names no identity provider with a sign-in address and a "
            "signing certificate."
        )
        return {}
    if metadata_url:
        # allauth reads the metadata again (cached), so a renewed certificate is picked up.
        return {"entity_id": entity_id, "metadata_url": metadata_url}
    return {"entity_id": entity_id, "sso_url": sso_url, "x509cert": certs[0]}


def sso_roles_for(partner) -> tuple[str, ...]:
    return PARTNER_SSO_ROLES if partner is not None else STAFF_SSO_ROLES


@transaction.atomic
def sso_setup_save(
    *,
    setup: SsoSetup | None,
    partner,
    protocol: str,
    name: str,
    domains: list[str],
    default_role: str,
    role_claim: str = "",
    role_map: dict | None = None,
    password_sign_in: bool = True,
    idp_enforces_mfa: bool = False,
    is_active: bool = True,
    server_url: str = "",
    client_id: str = "",
    client_secret: str = "",
    metadata_url: str = "",
    metadata_xml: str = "",
    saved_by=None,
) -> SsoSetup:
    """Create or change an organisation's set-up and its identity provider (allauth's
    ``SocialApp``). ``partner`` ``None`` is the vendor's staff. A blank ``client_secret``
    keeps the stored one; ``env:NAME`` reads it from the environment at each sign-in.
    Raises ``ValidationError`` keyed by field."""
    from allauth.socialaccount.models import SocialApp

    errors: dict[str, str] = {}
    role_map = role_map or {}
    if protocol not in SsoProtocol.values:
        errors["protocol"] = gettext("Choose OpenID Connect or SAML 2.0.")
    roles = sso_roles_for(partner)
    if default_role not in roles:
        errors["default_role"] = gettext("Choose one of: %(roles)s.") % {"roles": ", ".join(roles)}
    if not isinstance(role_map, dict) or not all(
        isinstance(k, str) and k.strip() and v in roles for k, v in role_map.items()
    ):
        errors["role_map"] = gettext(
            "Write each value of the claim with the role it gives, as in "
            '{"PRM admins": "%(role)s"}; the roles are: %(roles)s.'
        ) % {"role": roles[0], "roles": ", ".join(roles)}
    if role_map and not role_claim.strip():
        errors["role_claim"] = gettext("Name the claim or attribute the mapping reads.")
    if idp_enforces_mfa and partner is not None:
        errors["idp_enforces_mfa"] = gettext(
            "Only the vendor's own set-up may vouch for two-factor sign-in."
        )
    clash = SsoSetup.objects.filter(partner=partner).exclude(pk=setup.pk if setup else None)
    if clash.exists():
        errors["partner"] = gettext("%(organisation)s already has a set-up.") % {
            "organisation": partner.name if partner else gettext("The vendor's staff")
        }
    keys = []
    for raw in domains:
        try:
            keys.append(domain_key(raw))
        except NotAnEmailDomain:
            errors["domains"] = gettext("%(domain)s is not an e-mail domain.") % {
                "domain": repr(raw)
            }
    keys = sorted(set(keys))
    taken = SsoDomain.objects.filter(domain__in=keys).exclude(setup_id=setup.pk if setup else None)
    if taken.exists():
        errors["domains"] = gettext("Already routed to another organisation: %(domains)s.") % {
            "domains": ", ".join(sorted(taken.values_list("domain", flat=True)))
        }
    if not keys and not errors.get("domains"):
        errors["domains"] = gettext("Give at least one e-mail domain.")

    app = setup.app if setup else SocialApp()
    if protocol == SsoProtocol.OIDC:
        server_url = _check_url(server_url, "server_url", errors)
        if not client_id.strip():
            errors["client_id"] = gettext("This field is required.")
        if not client_secret and not app.secret:
            errors["client_secret"] = gettext("This field is required.")
        _secret_check(client_secret, errors)
        idp = {}
    elif protocol == SsoProtocol.SAML:
        previous = (app.settings or {}).get("idp", {}) if app.pk else {}
        if not metadata_url.strip() and not metadata_xml.strip() and previous:
            idp = previous  # unchanged
        else:
            idp = _saml_idp(metadata_url, metadata_xml, errors)
    if errors:
        raise ValidationError(errors)

    app.provider = SSO_PROVIDERS[protocol]
    app.provider_id = app.provider_id or _sso_slug(partner, exclude_app_id=app.pk)
    app.name = name.strip() or (partner.name if partner else gettext("Vendor staff"))
    if protocol == SsoProtocol.OIDC:
        app.client_id = client_id.strip()
        app.secret = client_secret or app.secret
        app.settings = {
            "server_url": server_url.rstrip("/"),
            # PKCE on: Okta, Entra ID and Google accept it, and it binds the code to us.
            "oauth_pkce_enabled": True,
        }
    else:
        # allauth's SAML addresses are named by client_id: /auth/saml/<client_id>/acs/.
        app.client_id = app.provider_id
        app.secret = ""
        app.settings = {
            "idp": idp,
            "attribute_mapping": SAML_ATTRIBUTES,
            "advanced": {
                "strict": True,
                # A response is taken only with a signed assertion, and only in answer to
                # a request of ours (no IdP-initiated sign-in).
                "want_assertion_signed": True,
                "reject_idp_initiated_sso": True,
            },
        }
    app.save()

    if setup is None:
        setup = SsoSetup(app=app)
    setup.partner = partner
    setup.protocol = protocol
    setup.default_role = default_role
    setup.role_claim = role_claim.strip()
    setup.role_map = {k.strip(): v for k, v in role_map.items()}
    setup.password_sign_in = password_sign_in
    setup.idp_enforces_mfa = idp_enforces_mfa
    setup.is_active = is_active
    setup.save()
    setup.domains.exclude(domain__in=keys).delete()
    SsoDomain.objects.bulk_create(
        [SsoDomain(setup=setup, domain=key) for key in keys], ignore_conflicts=True
    )
    logger.info(
        "SSO set-up %s for %s saved by %s",
        setup.pk,
        setup.organisation_name,
        getattr(saved_by, "username", None),
    )
    return setup


@transaction.atomic
def sso_setup_delete(*, setup: SsoSetup) -> None:
    """The set-up, its domains, its identity provider and the links of logins to it (the
    logins stay, and sign in with a password again)."""
    from allauth.socialaccount.models import SocialAccount

    app = setup.app
    setup.delete()
    # A login's link names its provider by the app's provider_id (no foreign key).
    SocialAccount.objects.filter(provider=app.provider_id or app.provider).delete()
    app.delete()


def _belongs(user: User, setup: SsoSetup) -> bool:
    organisation = organisation_of(user)
    return organisation == ("vendor" if setup.for_staff else setup.partner_id)


@transaction.atomic
def sso_sign_in_user(
    *,
    setup: SsoSetup,
    linked_user: User | None,
    email: str,
    first_name: str = "",
    last_name: str = "",
    claims: dict | None = None,
) -> tuple[User, bool]:
    """The login an identity provider's sign-in stands for, and whether it was made now.

    ``linked_user`` is the login this IdP's account is already linked to. Otherwise the
    login with the same e-mail is taken, but only within the set-up's organisation; with
    none, one is made (just in time) when the e-mail is in one of the set-up's domains,
    with the role its claims map to. A login of another organisation — another partner's
    person, or staff for a partner's IdP — is never signed in: ``SsoRefused``."""
    claims = claims or {}
    organisation = setup.organisation_name
    if linked_user is not None:
        user = linked_user
    else:
        email = (email or "").strip()
        if not email or "@" not in email:
            raise SsoRefused(
                gettext(
                    "%(organisation)s's identity provider did not send an e-mail address: "
                    "ask its administrator to release it to this application."
                )
                % {"organisation": organisation}
            )
        user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        if not _belongs(user, setup):
            logger.warning(
                "SSO of %s refused: login %s belongs to another organisation",
                organisation,
                user.pk,
            )
            raise SsoRefused(
                gettext(
                    "%(email)s has a login that does not belong to %(organisation)s: it "
                    "cannot sign in through this identity provider."
                )
                % {"email": user.email or email, "organisation": organisation}
            )
        if not user.is_active:
            raise SsoRefused(gettext("This login is switched off: ask your administrator."))
        return user, False

    domain = email_domain(email)
    if not setup.domains.filter(domain=domain).exists():
        raise SsoRefused(
            gettext(
                "%(email)s is not in an e-mail domain of %(organisation)s, so no login is "
                "made for it: ask the vendor's channel team to add the domain."
            )
            % {"email": email, "organisation": organisation}
        )
    ranking = PARTNER_ROLE_RANK if setup.partner_id else STAFF_ROLE_RANK
    role = role_from_claims(
        claim_values(claims, setup.role_claim),
        setup.role_map,
        default=setup.default_role,
        ranking=ranking,
    )
    try:
        if setup.partner_id:
            user = partner_user_create(
                partner=setup.partner,
                username=email.lower(),
                email=email.lower(),
                password=None,
                role=role,
                first_name=first_name[:150],
                last_name=last_name[:150],
            ).user
        else:
            user = staff_user_create(
                username=email.lower(),
                email=email.lower(),
                password=None,
                role=role,
                first_name=first_name[:150],
                last_name=last_name[:150],
            )
    except ValidationError as exc:
        raise SsoRefused(" ".join(exc.messages)) from exc
    logger.info("SSO of %s made login %s as %s", organisation, user.pk, role)
    return user, True
