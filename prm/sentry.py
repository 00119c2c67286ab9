"""Errors to Sentry (sentry-sdk), when ``SENTRY_DSN`` is set; nothing at all otherwise.

Called from the settings, so that the web processes, the Celery worker and beat, and the
management commands report alike. No personal data is sent (``send_default_pii=False``:
no user names, e-mail addresses, cookies or client addresses); each event is tagged with
the request id that the logs carry (``prm.logs``), to find its log lines.
"""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from . import logs


def _request_id_tag(event: dict, hint: dict) -> dict:
    context = logs.current()
    if context is not None and context.request_id:
        event.setdefault("tags", {})["request_id"] = context.request_id
    return event


def sentry_init(
    *, dsn: str, environment: str, release: str | None, traces_sample_rate: float
) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=_request_id_tag,
    )
