"""Outbound webhooks, the parts with no database: the Standard Webhooks secret, payload and
signature (https://www.standardwebhooks.com/), which addresses may receive them, and the
retry schedule. The services (``integrations.services``) decide what is sent and record it.
"""

import base64
import ipaddress
import json
import secrets
import socket
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _
from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32

# After the first attempt fails, the next ones come this long after the one before: six
# attempts over about eight and a half hours. A delivery whose last attempt fails has
# failed for good (a person may still redeliver it).
RETRY_SCHEDULE = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
# A subscription whose deliveries failed for good this many times in a row, without one
# succeeding in between, is disabled and its owner told.
DISABLE_AFTER_FAILED_DELIVERIES = 10
# After a rotation the previous secret signs beside the new one this long.
PREVIOUS_SECRET_GRACE = timedelta(hours=24)

# Seconds to connect, and to wait for each read of the answer; the task's own time limit
# bounds the whole attempt.
CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10
# How much of an answer's body is kept in the delivery log.
EXCERPT_CHARS = 1000
USER_AGENT = "PRM-Webhooks/1.0"


def secret_generate() -> str:
    """A new signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def payload(*, kind: str, occurred_at: datetime, data: dict) -> bytes:
    """The body sent: ``{"type", "timestamp", "data"}`` as compact JSON (UTF-8); signed as
    these exact bytes."""
    document = {"type": kind, "timestamp": occurred_at, "data": data}
    return json.dumps(
        document, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False
    ).encode()


def signed_headers(
    *, message_id: str, body: bytes, at: datetime, secrets_in_use: list[str]
) -> dict[str, str]:
    """The Standard Webhooks headers for ``body``: one ``v1`` signature per secret in use
    (two while a rotation's previous secret is still honoured), separated by spaces."""
    signatures = [Webhook(secret).sign(message_id, at, body) for secret in secrets_in_use]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


# ---------------------------------------------------------------- where they may go


class AddressRefused(ValueError):
    """The address may not receive webhooks here (the message says why)."""


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is not an address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".localdomain")


def url_check(url: str) -> None:
    """Refuse an address that may never receive webhooks here, without looking its name up:
    not https (where ``WEBHOOKS_REQUIRE_HTTPS``), or naming a private, loopback or
    link-local address or a local name (unless ``WEBHOOKS_ALLOW_PRIVATE_ADDRESSES``). The
    addresses a name resolves to are checked at each attempt (``addresses_check``)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError as exc:
        raise AddressRefused(_("This is not a valid address.")) from exc
    allowed = ("https",) if settings.WEBHOOKS_REQUIRE_HTTPS else ("https", "http")
    if parts.scheme not in allowed:
        raise AddressRefused(_("The address must start with https://."))
    if not host:
        raise AddressRefused(_("The address has no host name."))
    if settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        return
    if host == "localhost" or host.endswith(LOCAL_NAMES):
        raise AddressRefused(_("Webhooks cannot be sent to a local host name."))
    try:
        private = _is_private(host)
    except ValueError:
        return  # a name, checked when it is resolved
    if private:
        raise AddressRefused(_("Webhooks cannot be sent to a private or loopback address."))


def addresses_check(url: str) -> None:
    """At an attempt: the address again, and every address its host name resolves to.
    (The request resolves the name once more; a name whose answer changes between the two
    looks-up could still reach a private address. Egress rules in front of the workers are
    the stronger guard: docs/webhooks.md.)"""
    url_check(url)
    if settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        return
    parts = urlsplit(url)
    try:
        found = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(_("The host name could not be resolved.")) from exc
    if any(_is_private(info[4][0]) for info in found):
        raise AddressRefused(_("The host name resolves to a private or loopback address."))
