"""E-mail, sent by a worker after the transaction commits, never inside a request.

``mail_on_commit`` is the one way the services send mail: once the current transaction
commits it hands the message to the broker (``prm.send_mail``) with one quick attempt, so
a slow or unreachable SMTP server never holds a request, and a broker outage neither fails
nor stalls one. If the broker cannot be reached the mail is not sent: the error is logged
with its recipients and subject, and the request carries on (a notice that went with the
mail is in the portal regardless).

The worker sends it with ``EMAIL_TIMEOUT``, and retries with a growing wait while the
server is unreachable or answers "try later" (``prm.tasks.send_mail``).
"""

import functools
import logging
import smtplib
from collections.abc import Iterable

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction

logger = logging.getLogger(__name__)

# One connection attempt, a short wait: a request must not hang on a dead broker.
CONNECT_TIMEOUT_SECONDS = 2
# A process set to send nothing (seed_demo, whose people are made up) queues nothing:
# the worker, with the site's real mail settings, would otherwise send it.
DISCARD_BACKEND = "django.core.mail.backends.dummy.EmailBackend"


class MailRefused(Exception):
    """The mail server refused the message for good (a 5xx answer): sending it again would
    be refused again."""


def mail_on_commit(
    subject: str,
    body: str,
    to: str | Iterable[str],
    *,
    html: str | None = None,
    from_email: str | None = None,
    fail_silently: bool = True,
) -> None:
    """Send a mail once the current transaction commits (at once outside one), through the
    worker. ``fail_silently=False``: a mail the server never took ends as a failed task
    (logged as an error) rather than a warning."""
    recipients = [to] if isinstance(to, str) else [address for address in to if address]
    if not recipients or settings.EMAIL_BACKEND == DISCARD_BACKEND:
        return
    message = {
        "subject": str(subject),  # lazy translations are rendered in the caller's language
        "body": str(body),
        "to": recipients,
        "html": None if html is None else str(html),
        "from_email": from_email,
        "fail_silently": fail_silently,
    }
    transaction.on_commit(functools.partial(_enqueue, message), robust=True)


def _enqueue(message: dict) -> bool:
    from .tasks import send_mail

    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=CONNECT_TIMEOUT_SECONDS)
            send_mail.apply_async(kwargs=message, connection=connection, retry=False)
    except Exception as exc:  # any failure to publish: log it, the request carries on
        logger.error(
            "Broker unavailable; mail not sent to %s (subject %r): %s",
            ", ".join(message["to"]),
            message["subject"],
            exc,
        )
        return False
    return True


def mail_deliver(
    *,
    subject: str,
    body: str,
    to: list[str],
    html: str | None = None,
    from_email: str | None = None,
) -> int:
    """Hand one message to the mail server (``EMAIL_TIMEOUT`` bounds each wait). Raises
    ``MailRefused`` when the server refuses it for good; ``OSError`` (``smtplib``'s errors
    among them) when it may take it later."""
    message = EmailMultiAlternatives(
        subject,
        body,
        from_email or settings.DEFAULT_FROM_EMAIL,
        to,
        connection=get_connection(fail_silently=False),
    )
    if html:
        message.attach_alternative(html, "text/html")
    try:
        return message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailRefused(f"every recipient was refused: {exc.recipients}") from exc
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            raise MailRefused(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        raise
