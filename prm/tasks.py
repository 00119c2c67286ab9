"""Background jobs of the shared layer: sending mail, and the nightly prune."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from . import retention
from .mail import MailRefused, mail_deliver

logger = logging.getLogger(__name__)

MAIL_RETRIES = 6  # waits of about 30 s, 1, 2, 4, 8 and 10 minutes: some 25 minutes in all


@shared_task(
    bind=True,
    name="prm.send_mail",
    acks_late=True,
    # A server that does not answer, drops the connection or says "try later" (4xx): try
    # again, waiting longer each time. The longest wait stays under the broker's
    # visibility timeout (a waiting retry is held unacknowledged meanwhile).
    autoretry_for=(OSError,),  # smtplib's errors and socket timeouts are OSErrors
    retry_backoff=30,
    retry_backoff_max=10 * 60,
    retry_jitter=True,
    max_retries=MAIL_RETRIES,
)
def send_mail(
    self,
    *,
    subject: str,
    body: str,
    to: list[str],
    html: str | None = None,
    from_email: str | None = None,
    fail_silently: bool = True,
) -> int:
    """Send one mail queued by ``prm.mail.mail_on_commit``. Returns the number sent (1)."""
    try:
        return mail_deliver(subject=subject, body=body, to=to, html=html, from_email=from_email)
    except MailRefused as exc:
        if not fail_silently:
            raise
        logger.warning("Mail to %s (subject %r) refused: %s", ", ".join(to), subject, exc)
        return 0
    except OSError as exc:
        if fail_silently and self.request.retries >= self.max_retries:
            logger.warning(
                "Mail to %s (subject %r) not sent after %d tries: %s",
                ", ".join(to),
                subject,
                self.request.retries + 1,
                exc,
            )
            return 0
        raise


@shared_task(acks_late=True, name="prm.prune", soft_time_limit=20 * 60, time_limit=21 * 60)
def prune() -> dict[str, int]:
    """Nightly (03:30): delete (or roll up) what is past its retention, kind by kind, in
    batches (``prm.retention``). Stopped at its time limit — a first run on years of
    records — it keeps the batches it committed and goes on the next night."""
    try:
        counts = retention.prune_all()
    except SoftTimeLimitExceeded:
        logger.warning("The prune stopped at its time limit; it goes on tomorrow night.")
        return {}
    logger.info("Pruned: %s", ", ".join(f"{kind} {n}" for kind, n in counts.items()))
    return counts
