"""Handing a task to the broker from a request (or after its commit) without letting a
broker outage turn the answer into an error: one quick try, and on failure a log line.
What is sent this way has a sweep that sends it again (the events' resend, the queued
closes' sweep), or is not worth failing a request for."""

import logging

from celery import current_app

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 2


def send_task(task, *args, **kwargs) -> bool:
    """``task.apply_async(args, kwargs)`` on a fresh broker connection tried once for at
    most ``CONNECT_TIMEOUT_SECONDS``; returns whether the broker took it."""
    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=CONNECT_TIMEOUT_SECONDS)
            task.apply_async(args, kwargs, connection=connection, retry=False)
    except Exception as exc:  # any failure to publish: log it, the caller carries on
        logger.error("Broker unavailable; %s not sent: %s", task.name, exc)
        return False
    return True
